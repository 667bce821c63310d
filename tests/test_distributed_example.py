"""The distributed example (examples/distributed/) runs end to end and applies every decided ban once.

``run.py`` runs as a subprocess: one real nats-server, ``livepipe sim``, two ingest workers, two
moderation workers sharing a durable JetStream consumer, one action worker. Nothing here is skipped:
a missing nats-server binary, the automod plugin or a failing worker fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "examples" / "distributed" / "run.py"
SPAMMERS = {"1001": [31_001, 31_002, 31_003, 31_004], "1002": [32_001, 32_002, 32_003, 32_004]}


def _alive(pid: int) -> bool:
    """True if ``pid`` still runs one of the example's programs (a recycled pid running anything else is not)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"livepipe" in cmdline or b"nats-server" in cmdline


def test_every_decided_ban_is_applied_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, str(RUN), "--out", str(out), "--timeout", "90"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    report = proc.stdout + proc.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert proc.returncode == 0, report
    assert summary["ok"] and not summary["problems"], report

    # The simulator's ban lists hold exactly the spammers, once each.
    assert {room: sorted(uids) for room, uids in summary["banned"].items()} == SPAMMERS, report

    # Every action.ban a moderation worker decided got exactly one result from the action worker, and
    # each spammer was banned successfully exactly once (a repeat decision is "deduplicated").
    # (a worker that handled only ordinary chat decided no ban, and its file sink never opened a file)
    decided = [json.loads(line) for w in ("mod-1", "mod-2") if (out / f"decided-{w}.jsonl").exists()
               for line in (out / f"decided-{w}.jsonl").read_text(encoding="utf-8").splitlines()]  # fmt: skip
    assert decided, report
    results = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all(r["kind"] == "action.result" for r in results), results
    per_action = Counter(r["data"]["action_id"] for r in results)
    assert set(per_action) == {d["id"] for d in decided}
    assert max(per_action.values()) == 1
    successes = Counter((r["room_id"], r["data"]["action"]["uid"]) for r in results
                        if r["data"]["outcome"] == "success")  # fmt: skip
    assert successes == Counter({(int(room), uid): 1 for room, uids in SPAMMERS.items() for uid in uids})
    assert {r["data"]["outcome"] for r in results} <= {"success", "deduplicated"}

    # Both moderation workers did work. JetStream hands messages to waiting pull requests in arrival
    # order, and run.py injects only once both workers have a pull request waiting, with small fetch
    # batches (fetch_batch = 4): the first messages already go to different workers.
    assert all(n > 0 for n in summary["handled"].values()), summary["handled"]
    assert sum(summary["handled"].values()) >= summary["injected"]
    assert summary["jetstream"]["moderation"]["ack_pending"] == 0
    assert summary["jetstream"]["actions"]["ack_pending"] == 0

    # Clean shutdown: every process exited 0 on SIGTERM, and nothing is left running.
    assert summary["exit_codes"] and all(code == 0 for code in summary["exit_codes"].values()), summary
    assert len(summary["pids"]) == 7  # nats-server, sim, 2 ingest, 2 moderation, 1 action worker
    assert not [pid for pid in summary["pids"] if _alive(pid)]
