"""ROOM_BLOCK_MSG, ROOM_CHANGE, LIVE and PREPARING keep the real shapes whichever path makes them.

Two paths produce these cmds in the simulator:

* the action endpoints (AddSilentUser, Room/update, startLive, stopLive) broadcast them;
* the builders of ``livepipe.sim.messages`` make them for tests and scenarios, which push them
  through the control API (``POST /_sim/rooms/{id}/inject``). The traffic generator makes none
  of these cmds.

Both tests read the messages off a logged-in ``/sub`` WebSocket client and check each one's key
structure (keys in the real order, nesting, value types; protocol.md §11 and the published
samples) and what ``parse_command`` makes of it. Expected values come from the requests, the HTTP replies and the
room's state, never from ``parse_command``'s output.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import aiohttp
import anyio
import httpx
import pytest
from sim_helpers import connect

from livepipe.bilibili import parse_command
from livepipe.bilibili import protocol as P
from livepipe.sim import messages as M
from livepipe.sim.app import Simulator, run_simulator
from livepipe.sim.http_read import AREA_NAMES
from livepipe.sim.state import Room

pytestmark = pytest.mark.anyio

ROOM = 22000076
SHORT = 76

# --- the real shapes: key -> value type, nested dicts for nested objects, keys in the samples' order ------
# (ROOM_BLOCK_MSG's sample has sorted keys and no block_expired / vaild_period: those two sorted in too)

ROOM_BLOCK_MSG = {
    "cmd": str,
    "data": {"block_expired": int, "dmscore": int, "operator": int, "uid": int, "uname": str, "vaild_period": str},
    "uid": str,
    "uname": str,
}
ROOM_CHANGE = {
    "cmd": str,
    "data": {"title": str, "area_id": int, "parent_area_id": int, "area_name": str, "parent_area_name": str,
             "live_key": str, "sub_session_key": str},
}  # fmt: skip
LIVE_FIRST = {"cmd": str, "live_key": str, "voice_background": str, "sub_session_key": str, "live_platform": str,
              "live_model": int, "live_time": int, "roomid": int}  # fmt: skip
LIVE_SECOND = {k: v for k, v in LIVE_FIRST.items() if k != "live_time"}
PREPARING = {"cmd": str, "msg_id": str, "p_is_ack": bool, "p_msg_type": int, "roomid": str, "send_time": int}
PREPARING_ROUND = {"cmd": str, "msg_id": str, "p_is_ack": bool, "p_msg_type": int, "roomid": str, "round": int,
                   "send_time": int}  # fmt: skip

LIVE_KEY = re.compile(r"[0-9]+")
MSG_ID = re.compile(r"[0-9]+:1000:1000")
#: in both published PREPARING samples, msg_id >> 19 == send_time - this (unix ms)
MSG_ID_EPOCH_MS = 1_688_553_880_000


def shape(value: Any) -> Any:
    """The key structure of a decoded JSON value: dicts map keys to the shape of their values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    return type(value)


def key_order(value: Any) -> Any:
    """The keys of a decoded JSON value (or of a shape above) in order, nested dicts included."""
    if isinstance(value, dict):
        return [(k, key_order(v)) for k, v in value.items()]
    return None


def assert_shape(msg: dict[str, Any], want: dict[str, Any]) -> None:
    """``msg`` has the shape ``want``: the same keys in the same order, nesting and value types."""
    assert shape(msg) == want
    assert key_order(msg) == key_order(want)


def sub_key_of(live_key: str) -> re.Pattern[str]:
    """A ``sub_session_key`` of the stream whose ``live_key`` is given: ``<live_key>sub_time:<unix s>``."""
    return re.compile(re.escape(live_key) + r"sub_time:[0-9]+")


class Listener:
    """A logged-in ``/sub`` client that keeps every cmd message it receives, in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.msgs: list[dict[str, Any]] = []
        self.taken: dict[str, int] = {}

    async def take(self, cmd: str, count: int = 1) -> list[dict[str, Any]]:
        """The next ``count`` messages of ``cmd`` not taken before, reading frames as needed (10 s at most)."""
        start = self.taken.get(cmd, 0)
        with anyio.fail_after(10):
            while True:
                found = [m for m in self.msgs if str(m.get("cmd", "")).split(":")[0] == cmd]
                if len(found) >= start + count:
                    self.taken[cmd] = start + count
                    return found[start : start + count]
                frame = await self.ws.receive()
                assert frame.type == aiohttp.WSMsgType.BINARY, frame
                self.msgs.extend(json.loads(p.body) for p in P.decode_frame(frame.data) if p.op == P.OP_COMMAND)


def cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    """An explicit ``Cookie`` header."""
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}


async def post(http: httpx.AsyncClient, sim: Simulator, path: str, who: Any, **form: Any) -> dict[str, Any]:
    """POST ``form`` as account ``who`` (csrf added); the JSON reply, which must be code 0."""
    cookies = sim.cookies_for(who)
    form.setdefault("csrf", cookies["bili_jct"])
    form.setdefault("csrf_token", cookies["bili_jct"])
    resp = await http.post(path, data=form, headers=cookie_header(cookies))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["code"] == 0, body
    return body


def check_block(msg: dict[str, Any], *, uid: int, uname: str, operator: int, block_expired: int, period: str) -> None:
    """A ROOM_BLOCK_MSG: its shape, its values and its event."""
    assert_shape(msg, ROOM_BLOCK_MSG)
    assert msg["cmd"] == "ROOM_BLOCK_MSG" and msg["uid"] == str(uid) and msg["uname"] == uname
    assert msg["data"] == {"block_expired": block_expired, "dmscore": 30, "operator": operator, "uid": uid,
                           "uname": uname, "vaild_period": period}  # fmt: skip
    ev = parse_command(msg, ROOM)
    assert (ev.kind, ev.cmd, ev.room_id, ev.uid, ev.uname, ev.text) == ("block", "ROOM_BLOCK_MSG", ROOM, uid, uname,
                                                                        None)  # fmt: skip
    assert ev.data == {"operator": operator, "block_expired": block_expired, "valid_period": period, "masked": False}


def check_room_change(msg: dict[str, Any], *, title: str, area_id: int, live_key: str, sub_session_key: str) -> None:
    """A ROOM_CHANGE of a room in ``area_id`` (names and parent from the area tree): shape, values, event."""
    name, parent_id, parent_name = AREA_NAMES[area_id]
    want = {"title": title, "area_id": area_id, "parent_area_id": parent_id, "area_name": name,
            "parent_area_name": parent_name, "live_key": live_key, "sub_session_key": sub_session_key}  # fmt: skip
    assert_shape(msg, ROOM_CHANGE)
    assert msg["cmd"] == "ROOM_CHANGE" and msg["data"] == want
    ev = parse_command(msg, ROOM)
    assert (ev.kind, ev.cmd, ev.room_id, ev.uid, ev.uname) == ("room_change", "ROOM_CHANGE", ROOM, None, None)
    assert ev.data == want


def check_live_pair(first: dict[str, Any], second: dict[str, Any], *, live_key: str, platform: str) -> int:
    """The two LIVE messages of a stream start: shapes, values, events. Returns the first one's ``live_time``."""
    assert_shape(first, LIVE_FIRST)
    assert_shape(second, LIVE_SECOND)
    assert {k: v for k, v in first.items() if k != "live_time"} == second
    assert first["cmd"] == "LIVE" and first["roomid"] == ROOM and first["live_key"] == live_key
    assert LIVE_KEY.fullmatch(live_key) and sub_key_of(live_key).fullmatch(first["sub_session_key"])
    assert (first["live_platform"], first["live_model"], first["voice_background"]) == (platform, 0, "")
    live_time = first["live_time"]
    assert first["sub_session_key"] == f"{live_key}sub_time:{live_time}"  # as in the real sample
    for msg, with_time in ((first, True), (second, False)):
        ev = parse_command(msg, ROOM)
        assert (ev.kind, ev.cmd, ev.room_id, ev.uid, ev.uname) == ("live", "LIVE", ROOM, None, None)
        assert ev.data == {"live_key": live_key, "sub_session_key": first["sub_session_key"],
                           "live_platform": platform, "live_model": 0,
                           "live_time": live_time if with_time else None}  # fmt: skip
    assert parse_command(first, ROOM).ts == float(live_time)
    return int(live_time)


def check_preparing(msg: dict[str, Any], *, round_: bool, send_time: int | None = None) -> int:
    """A PREPARING (``round: 1`` when a replay loop takes over): shape, values, event. Returns ``send_time``."""
    assert_shape(msg, PREPARING_ROUND if round_ else PREPARING)
    assert msg["cmd"] == "PREPARING" and msg["roomid"] == str(ROOM) and msg["p_is_ack"] is True
    assert msg["p_msg_type"] == 1 and MSG_ID.fullmatch(msg["msg_id"])
    assert int(msg["msg_id"].split(":")[0]) >> 19 == msg["send_time"] - MSG_ID_EPOCH_MS
    if round_:
        assert msg["round"] == 1
    if send_time is not None:
        assert msg["send_time"] == send_time
    ev = parse_command(msg, ROOM)
    assert (ev.kind, ev.cmd, ev.room_id, ev.uid, ev.uname) == ("preparing", "PREPARING", ROOM, None, None)
    assert ev.data == {"round": round_}
    assert ev.ts == msg["send_time"] / 1000
    return int(msg["send_time"])


async def test_action_endpoints_broadcast_the_real_shapes() -> None:
    async with run_simulator(rooms=[(SHORT, ROOM)], rate=0, population_size=30) as sim:
        room = sim.room(ROOM)
        streamer = sim.create_account(owner_of=ROOM)
        admin = sim.create_account(uname="shape_admin", admin_in=[ROOM])
        viewer = sim.create_account(uname="shape_viewer")
        timed, forever = [u for u in sim.populations[ROOM].users if u.uid not in room.admins][:2]
        async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as http, aiohttp.ClientSession() as s:
            ws = await connect(s, sim, ROOM, cookies=sim.cookies_for(viewer), uid=viewer.uid)
            listener = Listener(ws)
            (await http.post("/_sim/actions/settings", json={"room_update_interval": 0})).raise_for_status()

            # bans: a timed one by the streamer, a permanent one by an admin -> ROOM_BLOCK_MSG
            ban = "/xlive/web-ucenter/v1/banned/AddSilentUser"
            await post(http, sim, ban, streamer, room_id=ROOM, tuid=timed.uid, hour=2, mobile_app="web", visit_id="")
            await post(http, sim, ban, admin, room_id=ROOM, tuid=forever.uid, hour=-1, mobile_app="web", visit_id="")
            records = {r["tuid"]: r for r in (await http.get(f"/_sim/actions/rooms/{ROOM}")).json()["silent"]}
            first, second = await listener.take("ROOM_BLOCK_MSG", 2)
            check_block(first, uid=timed.uid, uname=timed.uname, operator=2,
                        block_expired=records[timed.uid]["block_expired"], period="2小时有效")  # fmt: skip
            assert first["data"]["block_expired"] > time.time() + 7000
            check_block(second, uid=forever.uid, uname=forever.uname, operator=1, block_expired=-1, period="永久")

            # a title change while live -> ROOM_CHANGE with the stream's keys
            upd = await post(http, sim, "/room/v1/Room/update", streamer, room_id=ROOM, title="形状测试")
            view = (await http.get(f"/_sim/actions/rooms/{ROOM}")).json()
            [live_change] = await listener.take("ROOM_CHANGE")
            assert LIVE_KEY.fullmatch(view["live_key"])
            assert sub_key_of(view["live_key"]).fullmatch(upd["data"]["sub_session_key"])
            check_room_change(live_change, title="形状测试", area_id=view["area_id"], live_key=view["live_key"],
                              sub_session_key=upd["data"]["sub_session_key"])  # fmt: skip

            # stopLive -> PREPARING (send_time in ms, taken during the call)
            before = int(time.time() * 1000)
            stop = await post(http, sim, "/room/v1/Room/stopLive", streamer, room_id=ROOM, platform="pc_link")
            after = int(time.time() * 1000)
            assert stop["data"] == {"change": 1, "status": "PREPARING"}
            [prep] = await listener.take("PREPARING")
            assert before <= check_preparing(prep, round_=False) <= after

            # an area change while offline -> ROOM_CHANGE with live_key "0" and no sub_session_key
            await post(http, sim, "/room/v1/Room/update", streamer, room_id=ROOM, area_id=216)
            [off_change] = await listener.take("ROOM_CHANGE")
            check_room_change(off_change, title="形状测试", area_id=216, live_key="0", sub_session_key="")

            # startLive -> LIVE twice, the first with live_time, both with the reply's stream keys
            before = int(time.time())
            start = await post(http, sim, "/room/v1/Room/startLive", streamer, room_id=ROOM, area_v2=371,
                               platform="pc")  # fmt: skip
            after = int(time.time())
            first_live, second_live = await listener.take("LIVE", 2)
            assert first_live["sub_session_key"] == start["data"]["sub_session_key"]
            live_time = check_live_pair(first_live, second_live, live_key=start["data"]["live_key"], platform="pc")
            assert before <= live_time <= after

            # stopLive with the replay loop on -> PREPARING with round: 1
            (await http.post(f"/_sim/actions/rooms/{ROOM}", json={"replay_loop": True})).raise_for_status()
            stop = await post(http, sim, "/room/v1/Room/stopLive", streamer, room_id=ROOM, platform="pc_link")
            assert stop["data"] == {"change": 1, "status": "ROUND"}
            [round_prep] = await listener.take("PREPARING")
            check_preparing(round_prep, round_=True)
            await ws.close()


async def test_injected_builders_have_the_real_shapes() -> None:
    async with run_simulator(rooms=[(SHORT, ROOM)], rate=0, population_size=30) as sim:
        room = sim.room(ROOM)
        viewer = sim.create_account(uname="shape_viewer")
        user = sim.populations[ROOM].users[0]
        # the room's stream, as startLive would have left it
        ts = 1_760_000_000.25
        room.title, room.area_id, room.parent_area_id = "注入标题", 371, AREA_NAMES[371][1]
        room.live_status, room.live_time = 1, ts - 60
        room.live_key = "123456789012345678"
        room.sub_session_key = f"{room.live_key}sub_time:{int(room.live_time)}"
        name, _parent_id, parent_name = AREA_NAMES[371]
        built = [
            M.room_block_msg(user.uid, user.uname, operator=1, block_expired=-1),
            M.room_block_msg(user.uid, user.uname, operator=2, block_expired=0),
            M.room_block_msg(user.uid, user.uname, 1, int(ts) + 3 * 3600, M.ban_period_text(3)),
            M.room_change(room, name, parent_name),
            M.live(room, ts),
            M.live(room, ts, with_time=False),
            M.preparing(room, ts),
            M.preparing(room, ts, round_=True),
        ]
        room.live_status = 0
        built.append(M.room_change(room, name, parent_name))
        async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as http, aiohttp.ClientSession() as s:
            ws = await connect(s, sim, ROOM, cookies=sim.cookies_for(viewer), uid=viewer.uid)
            listener = Listener(ws)
            resp = await http.post(f"/_sim/rooms/{ROOM}/inject", json={"messages": built})
            assert resp.status_code == 200 and resp.json()["injected"] == len(built)

            forever, this_stream, hours = await listener.take("ROOM_BLOCK_MSG", 3)
            check_block(forever, uid=user.uid, uname=user.uname, operator=1, block_expired=-1, period="永久")
            check_block(this_stream, uid=user.uid, uname=user.uname, operator=2, block_expired=0,
                        period="仅本场直播有效")  # fmt: skip
            check_block(hours, uid=user.uid, uname=user.uname, operator=1, block_expired=int(ts) + 3 * 3600,
                        period="3小时有效")  # fmt: skip

            live_change, off_change = await listener.take("ROOM_CHANGE", 2)
            check_room_change(live_change, title="注入标题", area_id=371, live_key=room.live_key,
                              sub_session_key=room.sub_session_key)  # fmt: skip
            check_room_change(off_change, title="注入标题", area_id=371, live_key="0", sub_session_key="")

            first, second = await listener.take("LIVE", 2)
            assert first["sub_session_key"] == room.sub_session_key
            assert check_live_pair(first, second, live_key=room.live_key, platform="pc_link") == int(room.live_time)

            plain, with_round = await listener.take("PREPARING", 2)
            check_preparing(plain, round_=False, send_time=int(ts * 1000))
            check_preparing(with_round, round_=True, send_time=int(ts * 1000))
            await ws.close()


def test_stream_keys_without_the_rooms_own_are_stable_stand_ins() -> None:
    room = Room(room_id=ROOM, short_id=SHORT, owner_uid=1, owner_name="owner", live_status=1,
                live_time=1_760_000_000.0)  # fmt: skip
    name, _parent_id, parent_name = AREA_NAMES[room.area_id]
    change = M.room_change(room, name, parent_name)["data"]
    first = M.live(room, 1_760_000_500.0)
    key = first["live_key"]
    assert re.fullmatch(r"[1-9][0-9]{17}", key)
    assert (change["live_key"], change["sub_session_key"]) == (key, first["sub_session_key"])
    assert first["sub_session_key"] == f"{key}sub_time:1760000000" and first["live_time"] == 1_760_000_000
    assert M.live(room, 1_760_000_900.0, with_time=False)["live_key"] == key  # the same stream, the same key
    room.live_time += 3600  # another stream
    assert M.live(room, 1_760_004_000.0)["live_key"] != key


def test_a_timed_ban_needs_its_period_text() -> None:
    with pytest.raises(ValueError, match="period"):
        M.room_block_msg(1, "someone", 2, 1_760_000_000)
    msg = M.room_block_msg(1, "someone", 2, 1_760_000_000, M.ban_period_text(24))
    assert msg["data"]["vaild_period"] == "24小时有效"
