"""Durable action idempotency (issue 16, point 6), with real processes.

``livepipe run`` consumes actions from a JetStream stream (real nats-server) into a ``bilibili.ban``
or ``bilibili.send`` sink against the simulator. The simulator carries the action out and holds its
answer (``hold_responses``); once the effect is visible on the simulator's lists, the pipeline is
killed with SIGKILL, so it never learns the result and never acks the message. A second
``livepipe run`` with the same config gets the message again from JetStream: with the journal the
action happens once (the ban is found on the ban list; the danmaku is reported ``in_doubt`` and not
sent again); without it (``journal = ""``, the control) the request is sent twice: the ban happens
twice, and the danmaku only escapes a double because the service drops a repeated text (code 0,
``msg repeat``) for a short while.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import nats
import pytest

from livepipe.bilibili import actions as act
from livepipe.sim import run_simulator

pytestmark = pytest.mark.anyio

ROOM = 1000
BAN_PATH = "/xlive/web-ucenter/v1/banned/AddSilentUser"
LIST_PATH = "/xlive/web-ucenter/v1/banned/GetSilentUserList"
SEND_PATH = "/msg/send"


async def _until(cond: Any, what: str, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    """Poll ``cond()`` (observable state) until true; fail naming ``what`` (or the process's exit)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"livepipe run exited ({proc.returncode}) before {what}: {proc.stderr.read()}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await anyio.sleep(0.02)


def _results(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line)["data"] for line in path.read_text("utf-8").splitlines() if line.endswith("}")]


def _start(cfg: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "livepipe", "run", "-q", str(cfg)], cwd=cfg.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip


@pytest.mark.parametrize("journal", [True, False], ids=["journal", "no-journal-control"])
@pytest.mark.parametrize("kind", ["ban", "send"])
async def test_an_action_killed_between_acceptance_and_result_happens_once_after_redelivery(
    make_nats_server, tmp_path: Path, kind: str, journal: bool
) -> None:
    server = make_nats_server()
    async with run_simulator(rooms=[ROOM], rate=0, population_size=20, stop_list_every=0) as sim:
        streamer = sim.create_account(owner_of=ROOM)
        (tmp_path / "cookies.json").write_text(json.dumps(sim.cookies_for(streamer)))
        target = sim.populations[ROOM].users[0].uid
        requests: dict[str, int] = {}
        original = sim.faults.http_fault_for

        def counting(path: str) -> int | None:
            requests[path] = requests.get(path, 0) + 1
            return original(path)

        sim.faults.http_fault_for = counting
        action = (act.ban(target, 2, room_id=ROOM, id="act-1", ts=1_700_000_000.0) if kind == "ban"
                  else act.send("有人在吗 once only", room_id=ROOM, id="act-1", ts=1_700_000_000.0))  # fmt: skip
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name="ACTIONS", subjects=["actions.>"])
        await js.publish(f"actions.{kind}", action.to_json_bytes(), headers={"Nats-Msg-Id": action.id})
        await nc.close()

        sink_type = "bilibili.ban" if kind == "ban" else "bilibili.send"
        cfg = tmp_path / "pipeline.toml"
        cfg.write_text(f"""
[livepipe]
shutdown_timeout = 3
[credentials.mod]
cookie_file = "cookies.json"
[sources.bus]
type = "nats"
servers = ["{server.url}"]
jetstream = true
stream = "ACTIONS"
durable = "actions"
subject = "actions.>"
ack_wait = 1
[sinks.act]
type = "{sink_type}"
inputs = ["bus"]
credential = "mod"
base_url = "{sim.base_url}"
retry_backoff = 0.2
{'' if journal else 'journal = ""'}
[sinks.results]
type = "file"
inputs = ["act.results"]
path = "results.jsonl"
fsync = "always"
""")
        path = BAN_PATH if kind == "ban" else SEND_PATH

        def effects() -> int:
            room = sim.room(ROOM)
            if kind == "ban":
                return sum(1 for m in room.history if m.get("cmd") == "ROOM_BLOCK_MSG")
            return sum(1 for d in room.sent_danmaku if d["msg"] == action.data["text"])

        # 1. the service carries the action out and holds the answer; the pipeline dies meanwhile
        sim.faults.hold_responses = [path]
        first = _start(cfg)
        try:
            await _until(lambda: effects() == 1, "the action to take effect", first)
            assert not (tmp_path / "results.jsonl").exists() or not _results(tmp_path / "results.jsonl")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        sim.faults.hold_responses = []
        assert requests[path] == 1

        # 2. a restart: JetStream delivers the unacked action again
        second = _start(cfg)
        try:
            await _until(lambda: _results(tmp_path / "results.jsonl"), "the redelivered action's result", second)
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0, second.stderr.read()
        finally:
            if second.poll() is None:
                second.kill()
        (result,) = _results(tmp_path / "results.jsonl")
        if journal:
            assert effects() == 1, "the action happened twice"
            assert requests[path] == 1
            if kind == "ban":
                assert result["outcome"] == "deduplicated", result
                assert f"uid {target} is on the ban list of room {ROOM}" in result["message"]
                assert requests.get(LIST_PATH, 0) >= 1  # it looked, rather than guessed
                assert {r.tuid for r in sim.room(ROOM).silent} == {target}
            else:
                assert result["outcome"] == "in_doubt", result
                assert "cannot be looked up" in result["message"]
        else:  # the control: without the journal the restart repeats the request
            assert requests[path] == 2
            if kind == "ban":
                assert result["outcome"] == "success" and effects() == 2, result
            else:  # here the service's own "msg repeat" guard drops the copy (code 0); later it would not
                assert result["outcome"] == "rejected" and "repeat" in result["message"], result
