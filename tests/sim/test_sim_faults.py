"""Faults on demand: each one observable from outside, set by argument or by the control API."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest
from sim_helpers import auth_packet, connect, danmu_info, is_text, next_frame, wait_closed, wait_cmd

from livepipe.bilibili import protocol as P
from livepipe.sim.app import run_simulator
from livepipe.sim.faults import Faults

pytestmark = pytest.mark.anyio
ROOM = 1000


async def set_faults(s: aiohttp.ClientSession, sim, **changes):
    async with s.post(sim.base_url + "/_sim/faults", json=changes) as r:
        assert r.status == 200
        return await r.json()


async def test_http_352_and_412_by_path_prefix():
    async with run_simulator(seed=2) as sim, aiohttp.ClientSession() as s:
        got = await set_faults(s, sim, http_352=["/room/v1/Room/room_init"], http_412=["/x/frontend"])
        assert got["http_352"] == ["/room/v1/Room/room_init"]
        async with s.get(sim.base_url + "/room/v1/Room/room_init?id=1000") as r:
            assert r.status == 200 and await r.json() == {"code": -352, "message": "-352", "ttl": 1}
        async with s.get(sim.base_url + "/x/frontend/finger/spi") as r:
            assert r.status == 412
        async with s.get(sim.base_url + "/room/v1/Room/get_info?room_id=1000") as r:
            assert (await r.json())["code"] == 0  # other paths unaffected
        await set_faults(s, sim, reset=True)
        async with s.get(sim.base_url + "/x/frontend/finger/spi") as r:
            assert r.status == 200


async def test_http_delay():
    async with run_simulator(seed=2, faults=Faults(http_delay=0.4)) as sim, aiohttp.ClientSession() as s:
        t0 = time.monotonic()
        async with s.get(sim.base_url + "/room/v1/Room/room_init?id=1000") as r:
            assert (await r.json())["code"] == 0
        assert time.monotonic() - t0 >= 0.4
        t0 = time.monotonic()
        async with s.get(sim.base_url + "/_sim/faults") as r:  # the control API is never delayed
            assert r.status == 200
        assert time.monotonic() - t0 < 0.4


async def test_fail_auth():
    async with run_simulator(seed=2) as sim, aiohttp.ClientSession() as s:
        info = await danmu_info(s, sim, ROOM)
        await set_faults(s, sim, fail_auth=True)
        ws = await s.ws_connect(sim.ws_url)
        await ws.send_bytes(auth_packet(0, ROOM, info["data"]["token"]))
        [p] = P.decode_frame(await next_frame(ws))
        assert json.loads(p.body) == {"code": -101}
        await wait_closed(ws)


async def test_close_every():
    async with run_simulator(seed=2) as sim, aiohttp.ClientSession() as s:
        ws = await connect(s, sim, ROOM)
        await set_faults(s, sim, close_every=0.3)
        await wait_closed(ws, timeout=5)


async def test_no_heartbeat_reply():
    async with run_simulator(seed=2) as sim, aiohttp.ClientSession() as s:
        acct = sim.create_account()
        ws = await connect(s, sim, ROOM, cookies=sim.cookies_for(acct), uid=acct.uid)
        await sim.wait_for_clients(ROOM, 1)
        await set_faults(s, sim, no_heartbeat_reply=True)
        await ws.send_bytes(P.heartbeat())
        # the reply would be queued before the next batch; the first frame must be the danmaku
        sim.inject_danmaku(ROOM, "after heartbeat", uid=10_001)
        frame = await next_frame(ws)
        assert P.HEADER.unpack_from(frame)[3] == P.OP_COMMAND
        await set_faults(s, sim, no_heartbeat_reply=False)
        await ws.send_bytes(P.heartbeat())
        assert P.HEADER.unpack_from(await next_frame(ws))[3] == P.OP_HEARTBEAT_REPLY


async def test_malformed_frame():
    async with run_simulator(seed=2) as sim, aiohttp.ClientSession() as s:
        acct = sim.create_account()
        ws = await connect(s, sim, ROOM, cookies=sim.cookies_for(acct), uid=acct.uid)
        await sim.wait_for_clients(ROOM, 1)
        await set_faults(s, sim, malformed_once=True)
        frame = await next_frame(ws)
        with pytest.raises(P.ProtocolError):
            P.decode_frame(frame)
        # the connection survives: later traffic still arrives
        sim.inject_danmaku(ROOM, "still here", uid=10_001)
        await wait_cmd(ws, is_text("still here"))


async def test_unknown_fault_is_rejected():
    async with run_simulator(seed=2) as sim, aiohttp.ClientSession() as s:
        async with s.post(sim.base_url + "/_sim/faults", json={"nope": 1}) as r:
            assert r.status == 400
