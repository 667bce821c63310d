"""Simulator.reset restores stream keys; the throughput pieces (MessageLog, DanmakuTemplates, /_sim/stats)."""

from __future__ import annotations

import aiohttp
import orjson
import pytest
from sim_helpers import connect

from livepipe.bilibili import protocol as P
from livepipe.sim import messages as M
from livepipe.sim.app import Simulator, run_simulator
from livepipe.sim.state import MessageLog

pytestmark = pytest.mark.anyio


def test_reset_restores_live_state_and_stream_keys() -> None:
    sim = Simulator([1000, (76, 22000076)], seed=3)
    room = sim.room(76)
    start = (room.live_status, room.live_time, room.live_key, room.sub_session_key)
    assert start[0] == 1 and start[1] > 0
    # a new stream (what startLive does) ...
    room.live_time, room.live_key, room.sub_session_key = start[1] + 7200, "424242", "424242sub_time:1"
    sim.reset()
    assert (room.live_status, room.live_time, room.live_key, room.sub_session_key) == start
    # ... and the end of one (what stopLive does)
    room.live_status, room.live_time, room.live_key, room.sub_session_key = 0, 0.0, "", ""
    sim.reset()
    assert (room.live_status, room.live_time, room.live_key, room.sub_session_key) == start


def test_message_log_keeps_json_and_stays_bounded() -> None:
    log = MessageLog(limit=10)
    msgs = [{"cmd": "WARNING", "msg": f"m{i}", "roomid": i, "big": 2**70} for i in range(25)]
    log.extend(msgs)
    assert len(log) <= 10 and log[-1] == msgs[-1] and log[len(log) - 1] == msgs[-1]
    assert list(log) == msgs[-len(log):] and log[-3:] == msgs[-3:]
    assert msgs[-1] in log and msgs[0] not in log
    assert log[-1] is not log[-1]  # every read is a fresh copy: the log cannot be changed through it
    assert all(isinstance(b, bytes) for b in log.raw())
    log.clear()
    assert len(log) == 0 and list(log) == []


def test_danmaku_templates_build_what_the_builder_builds() -> None:
    sim = Simulator([(76, 22000076)], seed=4, population_size=60)
    room = sim.room(76)
    tpl = M.DanmakuTemplates()
    tpl.prepare(sim.populations[room.room_id].users, room)
    for u in sim.populations[room.room_id].users:
        for masked in (False, True):
            got = tpl.build(u, "弹幕 \"x\"", room, 1_760_000_000.5, masked, rnd=99, cmd_suffix=":4:0:2:2:2:0")
            want = M.danmaku(u, "弹幕 \"x\"", room, 1_760_000_000.5, masked, rnd=99, cmd_suffix=":4:0:2:2:2:0")
            assert orjson.dumps(got) == orjson.dumps(want)
    # a user who becomes an admin gets a new template, not the stale one
    u = next(u for u in sim.populations[room.room_id].users if u.uid not in room.admins)
    assert tpl.build(u, "a", room, 1.0)["info"][2][2] == 0
    room.admins.add(u.uid)
    assert tpl.build(u, "a", room, 1.0)["info"][2][2] == 1


async def test_stats_count_generated_and_written_messages() -> None:
    async with run_simulator(rooms=[(76, 22000076)], rate=0, seed=2) as sim:
        async with aiohttp.ClientSession() as session:
            acct = sim.create_account(uname="stats")
            ws = await connect(session, sim, 22000076, cookies=sim.cookies_for(acct), uid=acct.uid)
            async with session.get(sim.base_url + "/_sim/stats") as r:
                s0 = await r.json()
            for i in range(5):
                sim.inject_danmaku(76, f"s{i}", uid=acct.uid)
            got = 0
            while got < 5:
                frame = (await ws.receive(timeout=5)).data
                got += sum(1 for p in P.decode_frame(frame) if p.op == P.OP_COMMAND)
            async with session.get(sim.base_url + "/_sim/stats") as r:
                s1 = await r.json()
            await ws.close()
    assert s1["generated"] - s0["generated"] == 5
    assert s1["messages_written"] - s0["messages_written"] == 5
    assert s1["clients"] == 1 and s1["clients_dropped"] == 0 and s1["flushes"] > s0["flushes"]
