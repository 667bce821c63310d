"""Benchmark: can ``livepipe sim`` serve many rooms at a high rate without falling behind? (not a test)

    python bench/sim.py [--rooms 200] [--rate 50] [--clients 200] [--seconds 10] [--warmup 3]
                        [--anonymous 0.0] [--json PATH]

Three processes, so the measurement does not steal the server's CPU:

* the server: the real ``livepipe sim`` CLI (``python -m livepipe sim --rooms ... --rate ...``);
* the clients: one child process holding ``--clients`` raw WebSocket connections, spread over
  the rooms (logged in, or anonymous for the ``--anonymous`` share), each fetching a token from a
  WBI-signed getDanmuInfo, authenticating and heartbeating like the web client. Every frame is
  decoded with :func:`livepipe.bilibili.protocol.decode_frame` and every op-5 packet counts as
  one message *received*; DANMU_MSG bodies give the end-to-end latency (receive time minus the
  message's own ``info[0][4]`` timestamp, which the server stamps when it generates the message);
* this process, which starts both and prints the table.

Figures over the measuring window (after ``--warmup`` seconds):

* generated: messages the server's traffic generator broadcast into rooms (``/_sim/stats``);
* sent: messages x clients the server wrote to sockets (``/_sim/stats``);
* received: messages the clients decoded;
* expected: what the clients should receive at the target rate (target per room x clients);
* server CPU: share of one core the server process used (its own ``time.process_time``);
* flush lag: how late the server's batching loop ran, on average and at worst.

"Kept up" means generated and received are both at least 97 % of their targets, no client was
dropped and the p99 latency stays under one second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import queue
import subprocess
import sys
import time
from typing import Any

import aiohttp
import orjson

from livepipe.bilibili import parse_auth_reply, wbi
from livepipe.bilibili import protocol as P

_KEPT_UP_SHARE = 0.97
_KEPT_UP_P99 = 1.0


class _Counts:
    """What the client process saw."""

    def __init__(self) -> None:
        self.frames = 0
        self.messages = 0
        self.latencies: list[float] = []
        self.closed = 0
        self.errors: list[str] = []


async def _client(session: aiohttp.ClientSession, base: str, info: dict[str, Any], room_id: int,
                  cookies: dict[str, str], uid: int, counts: _Counts, ready: asyncio.Event,
                  n_ready: list[int], n_total: int) -> None:  # fmt: skip
    params = wbi.sign({"id": room_id, "type": 0}, info["wbi"]["img_key"], info["wbi"]["sub_key"])
    async with session.get(base + "/xlive/web-room/v1/index/getDanmuInfo", params=params, cookies=cookies) as r:
        token = (await r.json())["data"]["token"]
    loads, decode, now = orjson.loads, P.decode_frame, time.time
    async with session.ws_connect(info["ws_url"], max_msg_size=0) as ws:
        auth = {"uid": uid, "roomid": room_id, "protover": 3, "platform": "web", "type": 2, "key": token}
        await ws.send_bytes(P.encode_packet(P.OP_AUTH, json.dumps(auth)))
        reply = await ws.receive()
        if reply.type != aiohttp.WSMsgType.BINARY or parse_auth_reply(P.decode_frame(reply.data)[0]) != 0:
            counts.errors.append(f"auth failed for room {room_id}")
            return
        n_ready[0] += 1
        if n_ready[0] == n_total:
            ready.set()

        async def heartbeat() -> None:
            while True:
                await ws.send_bytes(P.heartbeat(b"[object Object]"))
                await asyncio.sleep(30)

        hb = asyncio.ensure_future(heartbeat())
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY:
                    break
                t = now()
                counts.frames += 1
                for p in decode(msg.data):
                    if p.op != P.OP_COMMAND:
                        continue
                    counts.messages += 1
                    if p.body.startswith(b'{"cmd":"DANMU_MSG'):
                        counts.latencies.append(t - loads(p.body)["info"][0][4] / 1000.0)
        finally:
            hb.cancel()
            counts.closed += 1


async def _clients_main(base: str, rooms: list[int], n_clients: int, anonymous: float, warmup: float,
                        seconds: float) -> dict[str, Any]:  # fmt: skip
    counts = _Counts()
    ready = asyncio.Event()
    n_ready = [0]
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as session:
        async with session.get(base + "/_sim") as r:
            info = await r.json()
        async with session.post(base + "/_sim/accounts", json={"uname": "bench"}) as r:
            acct = await r.json()
        n_anon = round(n_clients * anonymous)
        tasks = []
        for i in range(n_clients):
            anon = i < n_anon
            cookies = {"buvid3": acct["cookies"]["buvid3"]} if anon else acct["cookies"]
            tasks.append(asyncio.ensure_future(_client(
                session, base, info, rooms[i % len(rooms)], cookies, 0 if anon else acct["uid"], counts, ready,
                n_ready, n_clients)))  # fmt: skip
        try:
            await asyncio.wait_for(ready.wait(), 60)
        except asyncio.TimeoutError:
            counts.errors.append(f"only {n_ready[0]} of {n_clients} clients connected")
        await asyncio.sleep(warmup)

        async def server_stats() -> dict[str, Any]:
            async with session.get(base + "/_sim/stats", params={"reset_max": "1"}) as r:
                return await r.json()

        s0 = await server_stats()  # also starts a new flush-lag maximum for the window
        got0, frames0, lat0, t0 = counts.messages, counts.frames, len(counts.latencies), time.monotonic()
        await asyncio.sleep(seconds)
        s1, got1, frames1, t1 = await server_stats(), counts.messages, counts.frames, time.monotonic()
        lat = sorted(counts.latencies[lat0:])
        closed = counts.closed
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    dt = t1 - t0
    return {
        "window": dt,
        "server0": s0,
        "server1": s1,
        "received": (got1 - got0) / dt,
        "frames_received": (frames1 - frames0) / dt,
        "latency_p50": lat[len(lat) // 2] if lat else None,
        "latency_p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None,
        "latency_n": len(lat),
        "clients_closed_early": closed,
        "errors": counts.errors[:5],
    }


def _clients_process(base: str, rooms: list[int], n_clients: int, anonymous: float, warmup: float,
                     seconds: float, out: Any) -> None:  # fmt: skip
    out.put(asyncio.run(_clients_main(base, rooms, n_clients, anonymous, warmup, seconds)))


def run(rooms: int, rate: float, clients: int, seconds: float, warmup: float, anonymous: float) -> dict[str, Any]:
    """Start the server and the client process, measure, and return the figures."""
    room_ids = [100_000 + i for i in range(rooms)]
    cmd = [sys.executable, "-m", "livepipe", "sim", "--rooms", ",".join(map(str, room_ids)),
           "--rate", str(rate), "--seed", "1"]  # fmt: skip
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        first = server.stdout.readline().strip()
        if not first.startswith("livepipe sim serving "):
            raise SystemExit(f"the simulator did not start: {first!r}")
        base = first.rsplit(" ", 1)[1]
        q: Any = mp.get_context("spawn").Queue()
        proc = mp.get_context("spawn").Process(
            target=_clients_process, args=(base, room_ids, clients, anonymous, warmup, seconds, q)
        )
        proc.start()
        try:
            result = q.get(timeout=120 + warmup + seconds)
        except queue.Empty:
            raise SystemExit("the client process gave no result") from None
        proc.join(10)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    s0, s1, dt = result["server0"], result["server1"], result["window"]
    per_client = [sum(1 for i in range(clients) if i % rooms == r) for r in range(rooms)]
    expected = rate * sum(per_client)
    cpu = s1.get("cpu_seconds", 0) - s0.get("cpu_seconds", 0)
    out = {
        "rooms": rooms,
        "rate_per_room": rate,
        "clients": clients,
        "anonymous_share": anonymous,
        "window_s": round(dt, 2),
        "target_generated": rooms * rate,
        "generated": (s1["generated"] - s0["generated"]) / dt,
        "sent": (s1["messages_written"] - s0["messages_written"]) / dt,
        "expected_received": expected,
        "received": result["received"],
        "frames_received": result["frames_received"],
        "server_cpu_share": cpu / dt if cpu else None,
        "flush_lag_mean_ms": _lag_mean(s0, s1),
        "flush_lag_max_ms": s1.get("flush_lag_max_ms"),
        "latency_p50_s": result["latency_p50"],
        "latency_p99_s": result["latency_p99"],
        "clients_dropped": s1["clients_dropped"] - s0["clients_dropped"] + result["clients_closed_early"],
        "errors": result["errors"],
    }
    out["kept_up"] = bool(
        out["generated"] >= _KEPT_UP_SHARE * out["target_generated"]
        and out["received"] >= _KEPT_UP_SHARE * expected
        and out["clients_dropped"] == 0
        and not out["errors"]
        and out["latency_p99_s"] is not None
        and out["latency_p99_s"] < _KEPT_UP_P99
    )
    return out


def _lag_mean(s0: dict[str, Any], s1: dict[str, Any]) -> float | None:
    n = s1.get("flushes", 0) - s0.get("flushes", 0)
    if n <= 0:
        return None
    return (s1["flush_lag_total_ms"] - s0["flush_lag_total_ms"]) / n


def _table(r: dict[str, Any]) -> str:
    def f(v: Any, fmt: str = ",.0f") -> str:
        return "-" if v is None else format(v, fmt)

    rows = [
        ("setup", f"{r['rooms']} rooms x {r['rate_per_room']:g} msg/s, {r['clients']} clients "
                  f"({r['anonymous_share']:.0%} anonymous), window {r['window_s']} s"),
        ("generated (msg/s)", f"{f(r['generated'])}  (target {f(r['target_generated'])})"),
        ("sent (msg x client/s)", f(r["sent"])),
        ("received (msg/s)", f"{f(r['received'])}  (expected {f(r['expected_received'])}; "
                             f"{f(r['frames_received'])} frames/s)"),
        ("latency p50 / p99 (ms)", f"{f(_ms(r['latency_p50_s']))} / {f(_ms(r['latency_p99_s']))}"),
        ("server CPU (share of a core)", f(r["server_cpu_share"], ".0%")),
        ("flush lag mean / max (ms)", f"{f(r['flush_lag_mean_ms'], '.1f')} / {f(r['flush_lag_max_ms'], '.1f')}"),
        ("clients dropped", str(r["clients_dropped"])),
        ("kept up", "yes" if r["kept_up"] else "NO" + (f" ({'; '.join(r['errors'])})" if r["errors"] else "")),
    ]  # fmt: skip
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{w}}  {v}" for k, v in rows)


def _ms(v: float | None) -> float | None:
    return None if v is None else v * 1000


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rooms", type=int, default=200)
    ap.add_argument("--rate", type=float, default=50, help="messages per second per room")
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=10, help="measuring window")
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--anonymous", type=float, default=0.0, help="share of anonymous (masked) clients, 0..1")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    a = ap.parse_args()
    r = run(a.rooms, a.rate, a.clients, a.seconds, a.warmup, a.anonymous)
    print(_table(r))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(r, fh, indent=2)


if __name__ == "__main__":
    main()
