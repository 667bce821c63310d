"""Benchmark: the simulator's achieved send rate with many rooms and clients (not a test).

    python bench/sim.py [--rooms 200] [--rate 50] [--clients 200] [--seconds 10]

Starts an in-process simulator with ``--rooms`` rooms producing ``--rate`` events/s each, connects
``--clients`` raw WebSocket clients (spread over the rooms, logged in), and reports messages
generated and delivered per second over the measuring window. Clients and server share one event
loop and one CPU core, so the figure is a lower bound for the server alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp

from livepipe.bilibili import protocol as P
from livepipe.bilibili import wbi
from livepipe.sim.app import run_simulator


async def _client(
    session: aiohttp.ClientSession, sim, room_id: int, cookies: dict, uid: int, counts: list[int]
) -> None:
    params = wbi.sign({"id": room_id, "type": 0}, sim.img_key, sim.sub_key)
    async with session.get(sim.base_url + "/xlive/web-room/v1/index/getDanmuInfo", params=params, cookies=cookies) as r:
        token = (await r.json())["data"]["token"]
    async with session.ws_connect(sim.ws_url, max_msg_size=0) as ws:
        auth = {"uid": uid, "roomid": room_id, "protover": 3, "platform": "web", "type": 2, "key": token}
        await ws.send_bytes(P.encode_packet(P.OP_AUTH, json.dumps(auth)))
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.BINARY:
                break
            counts[0] += sum(1 for p in P.decode_frame(msg.data) if p.op == P.OP_COMMAND)


async def main(rooms: int, rate: float, clients: int, seconds: float) -> None:
    """Run the benchmark and print the figures."""
    room_ids = [100_000 + i for i in range(rooms)]
    async with run_simulator(room_ids, rate=rate, seed=1, population_size=50) as sim:
        acct = sim.create_account(uname="bench")
        cookies = sim.cookies_for(acct)
        counts = [0]
        async with aiohttp.ClientSession() as session:
            tasks = [
                asyncio.ensure_future(_client(session, sim, room_ids[i % rooms], cookies, acct.uid, counts))
                for i in range(clients)
            ]
            await asyncio.sleep(2)  # warm-up: connections established, queues flowing
            gen0 = sum(len(r.history) for r in sim.state.rooms.values())
            got0, t0 = counts[0], time.monotonic()
            sent0 = sim.hub.messages_sent
            await asyncio.sleep(seconds)
            dt = time.monotonic() - t0
            sent = sim.hub.messages_sent - sent0
            got = counts[0] - got0
            generated = sum(len(r.history) for r in sim.state.rooms.values()) - gen0
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    print(f"rooms={rooms} rate={rate}/s/room clients={clients} window={dt:.1f}s")
    print(f"target generation rate : {rooms * rate:,.0f} msg/s")
    print(f"achieved generation    : {generated / dt:,.0f} msg/s")
    print(f"sent to clients        : {sent / dt:,.0f} msg/s (message x client)")
    print(f"received by clients    : {got / dt:,.0f} msg/s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rooms", type=int, default=200)
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=10)
    a = ap.parse_args()
    asyncio.run(main(a.rooms, a.rate, a.clients, a.seconds))
