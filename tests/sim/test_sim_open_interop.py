"""Interop: blivedm's OpenLiveClient (unchanged) against the simulator's open platform.

The blivedm on PyPI (0.1.1, used by the web interop tests) predates the open platform; its
maintained code with ``OpenLiveClient`` is published as ``laplace-blivedm`` (a fork that keeps
``blivedm/clients/open_live.py`` as upstream has it). Both install as the package ``blivedm``, so
laplace-blivedm lives in its own directory (``.venv/interop/laplace-blivedm``, installed by
``.ci/run`` with ``pip install --no-deps --target``) and the client runs in a subprocess
(tests/sim/blivedm_open_client.py) with that directory first on ``PYTHONPATH``. Only its URL
constants are pointed at the simulator; its signing, start/heartbeat/end calls, WebSocket auth
with ``auth_body`` and message models are its own.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import anyio
import pytest
from anyio.streams.text import TextReceiveStream

from livepipe.sim import messages as M
from livepipe.sim.app import run_simulator

pytestmark = pytest.mark.anyio
INTEROP = Path(sys.prefix) / "interop" / "laplace-blivedm"
SCRIPT = Path(__file__).with_name("blivedm_open_client.py")
MARK = "@@livepipe "


@pytest.fixture
def laplace_blivedm() -> Path:
    if not (INTEROP / "blivedm" / "clients" / "open_live.py").is_file():
        pytest.fail(f"laplace-blivedm is not installed in {INTEROP}: run "
                    f"`.venv/bin/pip install -q --no-deps --target {INTEROP} laplace-blivedm==0.0.6` (as .ci/run does)")
    return INTEROP


async def test_blivedm_open_live_client_receives_danmaku_gifts_and_super_chats_and_ends_its_game(laplace_blivedm):
    async with run_simulator(rooms=[1000], seed=8) as sim:
        app = sim.open.register_app()
        code = sim.open.auth_code(sim.room(1000))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(laplace_blivedm), str(Path.cwd())])}
        args = [sys.executable, str(SCRIPT), sim.base_url, str(app.app_id), app.access_key_id, app.access_key_secret,
                code]  # fmt: skip
        seen: dict[str, list[dict]] = {}
        async with await anyio.open_process(args, env=env) as proc:
            assert proc.stdout is not None and proc.stdin is not None
            lines = TextReceiveStream(proc.stdout)
            buf = ""

            async def read_until(pred, timeout=15.0):
                """The first event, already read or still to come, that ``pred`` accepts."""
                nonlocal buf
                for ev in (e for evs in seen.values() for e in evs):
                    if pred(ev):
                        return ev
                with anyio.fail_after(timeout):
                    while True:
                        while "\n" in buf:
                            line, buf = buf.split("\n", 1)
                            if not line.startswith(MARK):
                                continue
                            ev = json.loads(line[len(MARK):])
                            seen.setdefault(ev["event"], []).append(ev)
                            if pred(ev):
                                return ev
                        buf += await lines.receive()

            started = await read_until(lambda e: e["event"] == "started")
            assert str(laplace_blivedm) in started["module"]
            with anyio.fail_after(15):
                while not sim.open.hub.clients.get(1000):
                    await anyio.sleep(0.05)
            users = sim.populations[1000].users
            room = sim.room(1000)
            now = time.time()
            sim.inject_danmaku(1000, "hello open blivedm", uid=users[0].uid)
            sim.inject(1000, [M.send_gift(users[1], room, now, gift_index=1, num=3, rnd=10**18),
                              M.super_chat(users[2], room, now, "sc to blivedm", 30, 777),
                              M.guard_buy(users[3], room, now, 3), M.like_click(users[4], room, now),
                              {"cmd": "SUPER_CHAT_MESSAGE_DELETE", "data": {"ids": [777]}}])  # fmt: skip
            dm = await read_until(lambda e: e["event"] == "danmaku" and e["msg"] == "hello open blivedm")
            await read_until(lambda e: e["event"] == "super_chat_delete")
            await read_until(lambda e: e["event"] == "heartbeat")  # its WebSocket heartbeat got the reply
            with anyio.fail_after(10):  # and its game heartbeats keep the game alive
                while not [c for c in sim.open.calls if c["path"] == "/v2/app/heartbeat" and c["code"] == 0]:
                    await anyio.sleep(0.05)
            await proc.stdin.send(b"stop\n")
            room_line = await read_until(lambda e: e["event"] == "room")
            await read_until(lambda e: e["event"] == "closed")
            await proc.wait()
        assert dm["uname"] == users[0].uname and dm["open_id"] == sim.open.open_id(users[0].uid)
        assert dm["room_id"] == 1000 and dm["msg_id"]
        [gift] = seen["gift"]
        assert (gift["gift_num"], gift["uname"], gift["anchor_info"]["open_id"]) == (3, users[1].uname,
                                                                                    sim.open.open_id(room.owner_uid))
        [sc] = seen["super_chat"]
        assert (sc["message"], sc["rmb"], sc["message_id"]) == ("sc to blivedm", 30, 777)
        assert seen["guard"][0]["guard_level"] == 3 and seen["like"][0]["uname"] == users[4].uname
        assert seen["super_chat_delete"][0]["message_ids"] == [777]
        assert room_line["room_id"] == 1000
        # its /v2/app/start and /v2/app/end were signed well enough for the simulator, which recorded both
        starts = [c for c in sim.open.calls if c["path"] == "/v2/app/start"]
        ends = [c for c in sim.open.calls if c["path"] == "/v2/app/end"]
        assert [c["code"] for c in starts] == [0] and [c["code"] for c in ends] == [0]
        assert ends[0]["game_id"] == room_line["game_id"] == starts[0]["game_id"]
        assert sim.open.games[room_line["game_id"]].ended == "end"
        assert not seen.get("log"), seen.get("log")  # blivedm logged no warning (unknown cmd, failed parse, ...)
