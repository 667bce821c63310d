"""Round trip: whatever the simulator sends, ``decode_frame`` + ``parse_command`` gives back, field for field.

Real WebSocket clients (one logged in, one anonymous, one asking for zlib) connect to
``run_simulator``; traffic runs at a rate with a seed and more messages are injected. Every
builder call the simulator makes is recorded with its inputs (the SimUser, text, price, ...), and
every command the clients receive is decoded with our own ``decode_frame`` + ``parse_command``
and compared with what those inputs say the event must be. The expectations are written from
the builders' inputs, never from ``parse_command``'s output.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable
from typing import Any

import aiohttp
import brotli
import orjson
import pytest
from sim_helpers import connect

from livepipe.bilibili import decode_events, parse_command
from livepipe.bilibili import protocol as P
from livepipe.events import Event
from livepipe.sim import messages as M
from livepipe.sim.app import Simulator, run_simulator
from livepipe.sim.state import Room, SimUser

pytestmark = pytest.mark.anyio

ROOM = 22000076
SHORT = 76
END = "round-trip-end"
#: the builders the traffic generator calls (danmaku goes through DanmakuTemplates.build)
TRAFFIC_BUILDERS = [
    "interact_word_v2", "like_click", "like_update", "send_gift", "send_gift_v2", "online_rank_count",
    "watched_change", "online_rank_v3", "super_chat", "guard_buy", "user_toast_v2", "room_admins",
]  # fmt: skip
TRAFFIC_FAMILIES = {
    "DANMU_MSG", "DANMU_MSG:4:0:2:2:2:0", "enter", "follow", "LIKE_INFO_V3_CLICK", "LIKE_INFO_V3_UPDATE",
    "SEND_GIFT", "SEND_GIFT_V2", "ONLINE_RANK_COUNT", "WATCHED_CHANGE", "ONLINE_RANK_V3", "SUPER_CHAT_MESSAGE",
    "GUARD_BUY", "USER_TOAST_MSG_V2", "ROOM_ADMINS",
}  # fmt: skip


class Call:
    """One recorded builder call: its name, inputs and what it returned (as wire JSON)."""

    def __init__(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], result: dict[str, Any]) -> None:
        self.name, self.args, self.kwargs, self.result = name, args, kwargs, result
        self.wire = orjson.dumps(result)
        # ROOM_ADMINS reads the room's admin set at call time: keep that, not the live set
        self.admins = sorted(args[0].admins) if name == "room_admins" else None

    def family(self) -> str:
        """The cmd with suffix, or enter/follow for INTERACT_WORD_V2."""
        if self.name == "interact_word_v2":
            return {1: "enter", 2: "follow"}[self.kwargs["msg_type"]]
        return str(self.result["cmd"])


def _record(monkeypatch: pytest.MonkeyPatch, calls: list[Call]) -> None:
    """Record every traffic builder call (patching the module the traffic generator uses)."""
    for name in TRAFFIC_BUILDERS:
        real = getattr(M, name)

        def wrapper(*args: Any, _real: Callable[..., Any] = real, _name: str = name, **kwargs: Any) -> Any:
            out = _real(*args, **kwargs)
            calls.append(Call(_name, args, kwargs, out))
            return out

        monkeypatch.setattr(M, name, wrapper)

    class RecordingTemplates(M.DanmakuTemplates):
        def build(self, user: SimUser, text: str, room: Room, ts: float, masked: bool = False, *, rnd: int = 0,
                  cmd_suffix: str = "") -> dict[str, Any]:  # fmt: skip
            out = super().build(user, text, room, ts, masked, rnd=rnd, cmd_suffix=cmd_suffix)
            calls.append(Call("danmaku", (user, text, room, ts), {"rnd": rnd, "cmd_suffix": cmd_suffix}, out))
            return out

    monkeypatch.setattr(M, "DanmakuTemplates", RecordingTemplates)


class Reader:
    """Collects a client's frames until the END warning arrives."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[bytes] = []
        self.done = asyncio.Event()
        self.seen: set[str] = set()
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.BINARY:
                return
            self.frames.append(msg.data)
            for p in P.decode_frame(msg.data):
                if p.op == P.OP_COMMAND:
                    m = orjson.loads(p.body)
                    self.seen.add(m["cmd"])
                    if m["cmd"] == "WARNING" and m.get("msg") == END:
                        self.done.set()
                        return

    def messages(self) -> list[dict[str, Any]]:
        """Every command received, in order."""
        return [orjson.loads(p.body) for f in self.frames for p in P.decode_frame(f) if p.op == P.OP_COMMAND]

    def command_bodies(self) -> list[bytes]:
        """Every command body received, in order (exact bytes)."""
        return [p.body for f in self.frames for p in P.decode_frame(f) if p.op == P.OP_COMMAND]


# --- expectations from the builders' inputs ---------------------------------------------------------


def _json_medal(u: SimUser, room: Room) -> dict[str, Any] | None:
    """A JSON ``medal_info``/``fans_medal``/medal array as the builders write it, as a medal event value."""
    if not u.medal_level:
        return None
    return {"level": u.medal_level, "name": u.medal_name, "streamer_uid": room.owner_uid,
            "streamer_name": room.owner_name, "room_id": room.room_id, "guard_level": u.guard_level,
            "is_lighted": True}  # fmt: skip


def _pb_medal(u: SimUser, room: Room, guard: bool) -> dict[str, Any] | None:
    """A protobuf medal as the pb builders write it (no streamer name on the wire)."""
    if not u.medal_level:
        return None
    return {"level": u.medal_level, "name": u.medal_name, "streamer_uid": room.owner_uid, "streamer_name": None,
            "room_id": room.room_id, "guard_level": u.guard_level if guard else 0, "is_lighted": True}  # fmt: skip


def expected(call: Call, masked: bool) -> dict[str, Any]:
    """What the event for ``call`` must hold; ``masked`` for what an anonymous client gets.

    Keys: kind, cmd, uid, uname, text, ts (None: the message has no time, so receive time),
    id (optional) and data (a subset of the event's data, compared key by key).
    """
    n, a, kw = call.name, call.args, call.kwargs
    if n == "danmaku":
        u, text, room, ts = a
        ts_ms = int(ts * 1000)
        return {
            "kind": "danmaku", "cmd": "DANMU_MSG", "raw_cmd": "DANMU_MSG" + kw["cmd_suffix"],
            "uid": None if masked else u.uid, "uname": M.mask_name(u.uname) if masked else u.uname,
            "text": text, "ts": ts_ms / 1000, "id": M.id_str_for(room.room_id, u.uid, ts_ms, kw["rnd"]),
            "data": {
                "mode": 1, "font_size": 25, "color": 0xFFFFFF, "rnd": kw["rnd"], "uid_crc32": M.uid_hash(u.uid),
                "dm_type": 0, "emoticon": None, "face": None if masked else u.face,
                "is_admin": u.uid in room.admins and not masked, "user_level": 0 if masked else u.level,
                "guard_level": 0 if masked else u.guard_level,
                "wealth_level": 0 if masked else min(60, u.level // 2),
                "medal": None if masked else _json_medal(u, room), "reply_uid": None, "mirror": False,
                "masked": masked,
            },
        }  # fmt: skip
    if n == "interact_word_v2":
        u, room, ts = a
        mt = kw["msg_type"]
        return {
            "kind": {1: "enter", 2: "follow"}[mt], "cmd": "INTERACT_WORD_V2",
            "uid": None if masked else u.uid, "uname": M.mask_name(u.uname) if masked else u.uname, "text": None,
            "ts": float(int(ts)),
            "data": {"msg_type": mt, "medal": None if masked else _pb_medal(u, room, guard=True),
                     "guard_level": 0 if masked else u.guard_level, "face": None if masked else (u.face or None),
                     "effect": False, "masked": masked},
        }  # fmt: skip
    if n == "like_click":
        u, room, _ts = a
        return {
            "kind": "like", "cmd": "LIKE_INFO_V3_CLICK", "uid": None if masked else u.uid,
            "uname": M.mask_name(u.uname) if masked else u.uname, "text": "为主播点赞了", "ts": None,
            "data": {"msg_type": 6, "medal": None if masked else _json_medal(u, room),
                     "guard_level": 0 if masked or not u.medal_level else u.guard_level, "masked": masked},
        }  # fmt: skip
    if n in ("send_gift", "send_gift_v2"):
        u, room, ts = a
        gid, gname, price, coin = M.GIFTS[kw["gift_index"] % len(M.GIFTS)]
        num = kw["num"]
        medal = _json_medal(u, room) if n == "send_gift" else _pb_medal(u, room, guard=False)
        return {
            "kind": "gift", "cmd": "SEND_GIFT" if n == "send_gift" else "SEND_GIFT_V2", "uid": u.uid,
            "uname": u.uname, "text": None, "ts": float(int(ts)),
            "data": {"gift_id": gid, "gift_name": gname, "num": num, "price": price, "total_coin": price * num,
                     "coin_type": coin, "action": "投喂", "tid": str(kw["rnd"]), "face": u.face,
                     "guard_level": u.guard_level, "medal": medal, "blind_gift": None,
                     "gift_img": f"https://s1.hdslb.com/bfs/live/gift-{gid}.png", "masked": False},
        }  # fmt: skip
    if n == "super_chat":
        u, room, ts, text, price, sc_id = a
        duration = 60 if price < 50 else 120 if price < 100 else 300
        return {
            "kind": "super_chat", "cmd": "SUPER_CHAT_MESSAGE", "uid": u.uid, "uname": u.uname, "text": text,
            "ts": float(int(ts)),
            "data": {"sc_id": sc_id, "price": price, "duration": duration, "start_time": int(ts),
                     "end_time": int(ts) + duration, "face": u.face, "guard_level": u.guard_level,
                     "user_level": u.level, "medal": _json_medal(u, room), "message_trans": None, "masked": False},
        }  # fmt: skip
    if n in ("guard_buy", "user_toast_v2"):
        u, room, ts, level = a
        toast = n == "user_toast_v2"
        role = M.GUARD_NAMES[level]
        return {
            "kind": "guard", "cmd": "USER_TOAST_MSG_V2" if toast else "GUARD_BUY", "uid": u.uid, "uname": u.uname,
            "text": None, "ts": float(int(ts)),
            "data": {"guard_level": level, "num": 1, "price": M.GUARD_PRICES[level], "gift_id": 10000 + 4 - level,
                     "gift_name": role, "unit": "月" if toast else None, "face": u.face if toast else None,
                     "toast": toast, "start_time": int(ts), "masked": False,
                     "toast_msg": f"{u.uname} 在主播{room.owner_name}的直播间开通了{role}" if toast else None},
        }  # fmt: skip
    if n == "like_update":
        return _plain("like_count", "LIKE_INFO_V3_UPDATE", {"count": a[0]})
    if n == "online_rank_count":
        return _plain("online_count", "ONLINE_RANK_COUNT", {"count": a[0], "online_count": a[0]})
    if n == "watched_change":
        return _plain("watched", "WATCHED_CHANGE", {"num": a[0]})
    if n == "online_rank_v3":
        users = a[0]
        ranks = [{"uid": u.uid, "uname": u.uname, "face": u.face, "score": 1000 * (len(users) - i), "rank": i + 1,
                  "guard_level": u.guard_level, "masked": False} for i, u in enumerate(users)]  # fmt: skip
        return _plain("online_rank", "ONLINE_RANK_V3", {"list": ranks})
    if n == "room_admins":
        return _plain("admins", "ROOM_ADMINS", {"action": "list", "uids": call.admins, "level": None})
    raise AssertionError(f"no expectation for builder {n}")


def _plain(kind: str, cmd: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "cmd": cmd, "uid": None, "uname": None, "text": None, "ts": None, "data": data}


def check(ev: Event, exp: dict[str, Any], room_id: int, received_at: float, what: str) -> None:
    """Compare one event with its expectation, field for field."""
    assert ev.kind == exp["kind"], what
    assert ev.cmd == exp["cmd"], what
    assert ev.raw["cmd"] == exp.get("raw_cmd", exp["cmd"]), what
    assert ev.room_id == room_id, what
    assert (ev.uid, ev.uname, ev.text) == (exp["uid"], exp["uname"], exp["text"]), what
    if exp["ts"] is None:  # no time of its own: the receive time
        assert abs(ev.ts - received_at) < 30, what
    else:
        assert ev.ts == exp["ts"], what
    if "id" in exp:
        assert ev.id == exp["id"], what
    for k, v in exp["data"].items():
        assert ev.data[k] == v, f"{what}: data[{k!r}] is {ev.data[k]!r}, the builder meant {v!r}"


# --- the tests ------------------------------------------------------------------------------------------


async def _clients(session: aiohttp.ClientSession, sim: Simulator) -> tuple[Reader, Reader, Reader]:
    acct = sim.create_account(uname="roundtrip")
    cookies = sim.cookies_for(acct)
    logged = Reader(await connect(session, sim, ROOM, cookies=cookies, uid=acct.uid))
    anon = Reader(await connect(session, sim, ROOM))
    zl = Reader(await connect(session, sim, ROOM, cookies=cookies, uid=acct.uid, protover=2))
    await sim.wait_for_clients(ROOM, 3)
    return logged, anon, zl


async def _finish(sim: Simulator, readers: tuple[Reader, ...]) -> None:
    sim.inject(ROOM, M.warning(sim.room(ROOM), END))
    await asyncio.wait_for(asyncio.gather(*(r.done.wait() for r in readers)), 15)


async def test_traffic_round_trips_field_for_field(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Call] = []
    _record(monkeypatch, calls)
    async with run_simulator(rooms=[(SHORT, ROOM)], rate=0, seed=5, population_size=40) as sim:
        room = sim.room(ROOM)
        async with aiohttp.ClientSession() as session:
            logged, anon, zl = await _clients(session, sim)
            sim.rate = 400  # traffic starts once every client listens, so all see the same stream

            async def all_families() -> None:
                while not TRAFFIC_FAMILIES <= {c.family() for c in calls}:
                    await asyncio.sleep(0.05)  # polling the recorder, not synchronising with the server

            await asyncio.wait_for(all_families(), 30)
            sim.rate = 0
            await _finish(sim, (logged, anon, zl))
            received_at = time.time()

    by_wire = {c.wire: c for c in calls}
    logged_bodies = logged.command_bodies()
    traffic = [b for b in logged_bodies if b in by_wire]
    assert len(traffic) == len(logged_bodies) - 1  # everything but the END warning came from the builders
    assert {by_wire[b].family() for b in traffic} >= TRAFFIC_FAMILIES
    assert len(traffic) > 100

    # logged in: the wire bytes are the builder's message, and parse back to the builder's inputs
    for body in traffic:
        call = by_wire[body]
        ev = parse_command(orjson.loads(body), ROOM)
        check(ev, expected(call, masked=False), ROOM, received_at, f"{call.name}{call.args[:1]}")

    # anonymous: the same stream in the same order after LOG_IN_NOTICE, with masked senders
    anon_msgs = anon.messages()
    assert anon_msgs[0]["cmd"] == "LOG_IN_NOTICE"
    assert len(anon_msgs) == len(logged_bodies) + 1
    for body, msg in zip(logged_bodies[:-1], anon_msgs[1:-1], strict=True):
        call = by_wire[body]
        masked = call.name in ("danmaku", "interact_word_v2", "like_click")
        if not masked:
            assert orjson.dumps(msg) == body
        ev = parse_command(msg, ROOM)
        check(ev, expected(call, masked=masked), ROOM, received_at, f"masked {call.name}")
    # what mask() makes of a danmaku is exactly the builder's own masked variant
    for call in (c for c in calls if c.name == "danmaku"):
        u, text, _room, ts = call.args
        assert M.mask(call.result) == M.danmaku(u, text, room, ts, True, rnd=call.kwargs["rnd"],
                                                cmd_suffix=call.kwargs["cmd_suffix"])  # fmt: skip

    # zlib client: the same commands as the brotli one, byte for byte
    assert zl.command_bodies() == logged_bodies


async def test_injected_messages_and_frames_round_trip() -> None:
    async with run_simulator(rooms=[(SHORT, ROOM)], rate=0, seed=9, population_size=30) as sim:
        room = sim.room(ROOM)
        user = next(u for u in sim.populations[ROOM].users if u.medal_level and u.guard_level)
        ts = 1_760_000_000.25
        injected: list[tuple[dict[str, Any], dict[str, Any]]] = []

        def add(msg: dict[str, Any], exp: dict[str, Any]) -> None:
            injected.append((msg, exp))

        add(M.room_block_msg(user.uid, user.uname, operator=1, block_expired=0),
            {"kind": "block", "cmd": "ROOM_BLOCK_MSG", "uid": user.uid, "uname": user.uname, "text": None,
             "ts": None, "data": {"operator": 1, "block_expired": 0, "valid_period": "仅本场直播有效",
                                  "masked": False}})  # fmt: skip
        room.live_key, room.live_time = "123456789012345678", ts  # a stream started at ts
        add(M.room_change(room, "单机游戏", "网游"),
            {**_plain("room_change", "ROOM_CHANGE", {
                "title": room.title, "area_id": room.area_id, "parent_area_id": room.parent_area_id,
                "area_name": "单机游戏", "parent_area_name": "网游", "live_key": "123456789012345678",
                "sub_session_key": f"123456789012345678sub_time:{int(ts)}"})})  # fmt: skip
        live_data = {"live_key": "123456789012345678", "live_time": int(ts), "live_platform": "pc_link",
                     "sub_session_key": f"123456789012345678sub_time:{int(ts)}", "live_model": 0}  # fmt: skip
        add(M.live(room, ts), {**_plain("live", "LIVE", live_data), "ts": float(int(ts))})
        add(M.live(room, ts, with_time=False), _plain("live", "LIVE", {"live_time": None}))
        add(M.preparing(room, ts, round_=True),
            {**_plain("preparing", "PREPARING", {"round": True}), "ts": int(ts * 1000) / 1000})
        add(M.warning(room, "违规警告"), {**_plain("warning", "WARNING", {}), "text": "违规警告"})
        add(M.cut_off(room, "直播间被切断"), {**_plain("cut_off", "CUT_OFF", {"title": None}), "text": "直播间被切断"})
        add(M.room_silent(True, "medal", 5, 1_760_003_600),
            _plain("silent", "ROOM_SILENT_ON", {"on": True, "type": "medal", "level": 5, "until": 1_760_003_600}))
        add(M.room_silent(False), _plain("silent", "ROOM_SILENT_OFF", {"on": False, "type": None, "level": 0}))
        add(M.room_admin_entrance(user.uid),
            {**_plain("admins", "room_admin_entrance", {"action": "add", "uids": [user.uid], "level": 1}),
             "uid": user.uid, "text": "系统提示：你已被主播设为房管"})  # fmt: skip
        add(M.danmaku(user, "带后缀", room, ts, rnd=77, cmd_suffix=":4:0:2:2:2:0"),
            {"kind": "danmaku", "cmd": "DANMU_MSG", "raw_cmd": "DANMU_MSG:4:0:2:2:2:0", "uid": user.uid,
             "uname": user.uname, "text": "带后缀", "ts": int(ts * 1000) / 1000,
             "data": {"rnd": 77, "medal": _json_medal(user, room), "guard_level": user.guard_level}})  # fmt: skip

        async with aiohttp.ClientSession() as session:
            logged, anon, zl = await _clients(session, sim)
            sim.inject(ROOM, [m for m, _ in injected])
            # other wrappings, sent at once: plain ver 0 (how STOP_LIVE_ROOM_LIST travels) and zlib
            stop_list = M.stop_live_room_list([1, 2, 3])
            sim.inject(ROOM, stop_list, ver=P.VER_PLAIN_JSON)
            sim.inject(ROOM, M.like_update(4242), ver=P.VER_ZLIB)
            # heartbeat: op 3 reply whose pack_len (20) excludes the echoed body
            await logged.ws.send_bytes(P.heartbeat(b"[object Object]"))
            await _finish(sim, (logged, anon, zl))
            received_at = time.time()
            popularity = sim.popularity(room)

    events = [ev for f in logged.frames for ev in decode_events(f, ROOM)]
    by_cmd: dict[str, list[Event]] = {}
    for ev in events:
        by_cmd.setdefault(ev.raw["cmd"] if ev.raw else "<popularity>", []).append(ev)
    for msg, exp in injected:
        [ev] = [e for e in by_cmd[msg["cmd"]] if e.raw == msg]
        check(ev, exp, ROOM, received_at, msg["cmd"])
    [stop] = by_cmd["STOP_LIVE_ROOM_LIST"]
    assert (stop.kind, stop.data["category"]) == ("notice", "STOP_LIVE_ROOM_LIST")
    assert [e.data["count"] for e in by_cmd["LIKE_INFO_V3_UPDATE"]] == [4242]
    [pop] = by_cmd["<popularity>"]
    assert (pop.kind, pop.data["popularity"]) == ("popularity", popularity)

    # frame-level facts
    kinds = []
    for f in logged.frames:
        pack_len, header_len, ver, op, seq = P.HEADER.unpack_from(f)
        if op == P.OP_HEARTBEAT_REPLY:
            assert (pack_len, header_len, ver, seq, len(f)) == (20, 16, 1, 0, 35)
            assert f[16:20] == popularity.to_bytes(4, "big") and f[20:] == b"[object Object]"
            kinds.append("heartbeat")
            continue
        assert (op, header_len, seq, pack_len) == (P.OP_COMMAND, 16, 0, len(f))
        kinds.append(ver)
        if ver == P.VER_BROTLI:  # a bundle of plain ver-0 op-5 packets
            inner = P.decode_frame(brotli.decompress(f[16:]))
            assert inner and all((p.op, p.ver, p.seq) == (P.OP_COMMAND, 0, 0) for p in inner)
        elif ver == P.VER_ZLIB:
            inner = P.decode_frame(zlib.decompress(f[16:]))
            assert [orjson.loads(p.body)["cmd"] for p in inner] == ["LIKE_INFO_V3_UPDATE"]
        else:
            assert ver == P.VER_PLAIN_JSON and orjson.loads(f[16:]) == stop_list
    assert kinds.count("heartbeat") == 1 and kinds.count(P.VER_PLAIN_JSON) == 1 and kinds.count(P.VER_ZLIB) == 1
    # the injected batch went out as one brotli bundle holding many commands
    assert any(len(P.decode_frame(f)) >= len(injected) for f in logged.frames if f[6:8] == b"\x00\x03")

    # the protover-2 client gets zlib bundles instead; the anonymous one its LOG_IN_NOTICE first
    assert {f[6:8] for f in zl.frames} <= {b"\x00\x02", b"\x00\x00"}
    [notice] = [ev for f in anon.frames[:1] for ev in decode_events(f, ROOM)]
    exp_notice = M.log_in_notice()["data"]
    assert (notice.kind, notice.text, notice.data["image"]) == ("login_notice", exp_notice["notice_msg"],
                                                                exp_notice["image_web"])  # fmt: skip
    masked_dm = [ev for f in anon.frames for ev in decode_events(f, ROOM) if ev.kind == "danmaku"]
    assert [(e.uid, e.uname, e.data["masked"], e.data["medal"]) for e in masked_dm] == [
        (None, M.mask_name(user.uname), True, None)
    ]
