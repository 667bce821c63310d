"""WebSocket /sub: auth, heartbeat quirk, idle drop, masking, batching and frame versions."""

from __future__ import annotations

import asyncio
import json
import zlib

import aiohttp
import brotli
import pytest
from sim_helpers import auth_packet, connect, danmu_info, is_text, next_frame, wait_closed, wait_cmd

from livepipe.bilibili import protocol as P
from livepipe.sim.app import run_simulator
from livepipe.sim.faults import Faults

pytestmark = pytest.mark.anyio
ROOM = 22000076  # short id 76 in the default rooms


async def test_auth_ok_then_injected_danmaku_arrives():
    async with run_simulator(seed=1) as sim, aiohttp.ClientSession() as s:
        ws = await connect(s, sim, ROOM)
        await sim.wait_for_clients(ROOM, 1)
        sim.inject_danmaku(ROOM, "hello sim", uid=sim.populations[ROOM].users[0].uid)
        cmd = await wait_cmd(ws, is_text("hello sim"))
        assert cmd["cmd"] == "DANMU_MSG"
        await ws.close()


async def test_bad_token_gets_minus_101_and_close():
    async with run_simulator(seed=1) as sim, aiohttp.ClientSession() as s:
        ws = await s.ws_connect(sim.ws_url)
        await ws.send_bytes(auth_packet(0, ROOM, "not-a-token"))
        frame = await next_frame(ws)
        [p] = P.decode_frame(frame)
        assert (p.op, p.ver, p.seq, json.loads(p.body)) == (P.OP_AUTH_REPLY, 1, 1, {"code": -101})
        await wait_closed(ws)


async def test_token_is_tied_to_uid_and_room():
    async with run_simulator(seed=1) as sim, aiohttp.ClientSession() as s:
        info = await danmu_info(s, sim, ROOM)  # anonymous token
        for uid, room in [(12345, ROOM), (0, 1000)]:
            ws = await s.ws_connect(sim.ws_url)
            await ws.send_bytes(auth_packet(uid, room, info["data"]["token"]))
            [p] = P.decode_frame(await next_frame(ws))
            assert json.loads(p.body) == {"code": -101}
            await wait_closed(ws)


async def test_short_room_id_in_auth_is_refused():
    async with run_simulator(seed=1) as sim, aiohttp.ClientSession() as s:
        info = await danmu_info(s, sim, 76)
        assert info["code"] == 0
        ws = await s.ws_connect(sim.ws_url)
        await ws.send_bytes(auth_packet(0, 76, info["data"]["token"]))
        [p] = P.decode_frame(await next_frame(ws))
        assert json.loads(p.body) == {"code": -101}


async def test_late_auth_is_closed():
    async with run_simulator(seed=1, faults=Faults(auth_timeout=0.3)) as sim, aiohttp.ClientSession() as s:
        ws = await s.ws_connect(sim.ws_url)
        await wait_closed(ws, timeout=3)
        assert not sim.hub.all_clients()


async def test_first_packet_must_be_auth():
    async with run_simulator(seed=1) as sim, aiohttp.ClientSession() as s:
        ws = await s.ws_connect(sim.ws_url)
        await ws.send_bytes(P.heartbeat())
        await wait_closed(ws)


async def test_heartbeat_reply_bytes_have_the_pack_len_quirk():
    async with run_simulator(seed=1) as sim, aiohttp.ClientSession() as s:
        ws = await connect(s, sim, ROOM)
        await ws.send_bytes(P.heartbeat(b"[object Object]"))
        while True:
            frame = await next_frame(ws)
            if P.HEADER.unpack_from(frame)[3] == P.OP_HEARTBEAT_REPLY:
                break
        pop = sim.popularity(sim.room(ROOM))
        assert frame == P.HEADER.pack(20, 16, 1, 3, 0) + pop.to_bytes(4, "big") + b"[object Object]"
        assert len(frame) == 35
        [p] = P.decode_frame(frame)
        assert p.popularity == pop


async def test_idle_client_without_heartbeat_is_dropped():
    async with run_simulator(seed=1, faults=Faults(idle_timeout=0.5)) as sim, aiohttp.ClientSession() as s:
        ws = await connect(s, sim, ROOM)
        await wait_closed(ws, timeout=5)
        await sim.wait_for_no_clients(ROOM)


async def test_heartbeats_keep_a_client_alive_past_the_idle_timeout():
    async with run_simulator(seed=1, faults=Faults(idle_timeout=0.6)) as sim, aiohttp.ClientSession() as s:
        ws = await connect(s, sim, ROOM)
        replies = 0
        while replies < 8:  # 8 heartbeat round trips, each waiting for its reply, ~0.15 s apart
            await ws.send_bytes(P.heartbeat())
            while P.HEADER.unpack_from(await next_frame(ws))[3] != P.OP_HEARTBEAT_REPLY:
                pass
            replies += 1
            try:
                await ws.receive(timeout=0.15)
            except asyncio.TimeoutError:
                pass
        assert len(sim.hub.clients[ROOM]) == 1


async def test_anonymous_gets_log_in_notice_and_masked_users_logged_in_gets_real_uids():
    async with run_simulator(seed=1) as sim, aiohttp.ClientSession() as s:
        acct = sim.create_account(uname="viewer")
        anon = await connect(s, sim, ROOM)
        notice = await wait_cmd(anon, lambda c: True)
        assert notice["cmd"] == "LOG_IN_NOTICE"
        logged = await connect(s, sim, ROOM, cookies=sim.cookies_for(acct), uid=acct.uid)
        await sim.wait_for_clients(ROOM, 2)
        user = next(u for u in sim.populations[ROOM].users if u.medal_level)
        sim.inject_danmaku(ROOM, "who am i", uid=user.uid)
        masked = await wait_cmd(anon, is_text("who am i"))
        real = await wait_cmd(logged, is_text("who am i"))
        assert masked["info"][2][0] == 0
        assert masked["info"][2][1] == user.uname[0] + "***"
        assert "user" not in masked["info"][0][15]
        assert masked["info"][0][7] == real["info"][0][7] == f"{zlib.crc32(str(user.uid).encode()):08x}"
        assert real["info"][2][:2] == [user.uid, user.uname]
        assert real["info"][0][15]["user"]["base"]["face"] == user.face
        assert real["info"][3][0] == user.medal_level


async def test_logged_in_token_needs_matching_uid():
    async with run_simulator(seed=1) as sim, aiohttp.ClientSession() as s:
        acct = sim.create_account(uname="viewer")
        info = await danmu_info(s, sim, ROOM, cookies=sim.cookies_for(acct))
        ws = await s.ws_connect(sim.ws_url)
        await ws.send_bytes(auth_packet(0, ROOM, info["data"]["token"]))  # uid 0 with a logged-in token
        [p] = P.decode_frame(await next_frame(ws))
        assert json.loads(p.body) == {"code": -101}


async def test_messages_are_batched_in_one_brotli_frame():
    async with run_simulator(seed=1, batch_interval=0.2) as sim, aiohttp.ClientSession() as s:
        acct = sim.create_account()
        ws = await connect(s, sim, ROOM, cookies=sim.cookies_for(acct), uid=acct.uid)
        await sim.wait_for_clients(ROOM, 1)
        for i in range(10):
            sim.inject_danmaku(ROOM, f"batch {i}", uid=10_001)
        frame = await next_frame(ws)
        pack_len, _h, ver, op, seq = P.HEADER.unpack_from(frame)
        assert (ver, op, seq, pack_len) == (3, 5, 0, len(frame))
        inner = brotli.decompress(frame[16:])
        packets = P.decode_frame(inner)
        assert [p.ver for p in packets] == [0] * 10
        assert [json.loads(p.body)["info"][1] for p in packets] == [f"batch {i}" for i in range(10)]


async def test_plain_ver0_and_zlib_frames():
    async with run_simulator(seed=1) as sim, aiohttp.ClientSession() as s:
        acct = sim.create_account()
        ws = await connect(s, sim, ROOM, cookies=sim.cookies_for(acct), uid=acct.uid)
        await sim.wait_for_clients(ROOM, 1)
        sim.inject(ROOM, {"cmd": "STOP_LIVE_ROOM_LIST", "data": {"room_id_list": [1, 2]}}, ver=0)
        frame = await next_frame(ws)
        assert P.HEADER.unpack_from(frame)[2] == 0
        assert json.loads(frame[16:])["cmd"] == "STOP_LIVE_ROOM_LIST"
        sim.inject(ROOM, {"cmd": "WARNING", "msg": "z", "roomid": ROOM}, ver=2)
        frame = await next_frame(ws)
        assert P.HEADER.unpack_from(frame)[2] == 2
        assert json.loads(zlib.decompress(frame[16:])[16:])["cmd"] == "WARNING"


async def test_protover_2_client_gets_zlib_batches():
    async with run_simulator(seed=1) as sim, aiohttp.ClientSession() as s:
        acct = sim.create_account()
        ws = await connect(s, sim, ROOM, cookies=sim.cookies_for(acct), uid=acct.uid, protover=2)
        await sim.wait_for_clients(ROOM, 1)
        sim.inject_danmaku(ROOM, "old client", uid=10_001)
        frame = await next_frame(ws)
        assert P.HEADER.unpack_from(frame)[2] == 2
        [p] = P.decode_frame(frame)
        assert json.loads(p.body)["info"][1] == "old client"


async def test_text_frames_end_the_session():
    async with run_simulator(seed=1) as sim, aiohttp.ClientSession() as s:
        ws = await connect(s, sim, ROOM)
        await sim.wait_for_clients(ROOM, 1)
        await ws.send_str("hello")
        await wait_closed(ws)
