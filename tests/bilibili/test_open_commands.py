"""LIVE_OPEN_PLATFORM_* -> events: the same kinds and data keys as the web cmds of the same meaning.

The corpus is generated: the simulator's traffic (thousands of web messages over several seeds
and rooms) re-encoded by the simulator's open platform (livepipe.sim.open_messages), plus the
room-state messages the traffic mix lacks. Each open event is compared with the web event of
the same message. Then hostile shapes: nothing raises, nothing is dropped.
"""

from __future__ import annotations

import copy
import random
import time
from collections import Counter

import pytest

from livepipe.bilibili.commands import parse_command
from livepipe.bilibili.open_commands import OPEN_CMD_KINDS
from livepipe.sim import messages as M
from livepipe.sim.app import Simulator
from livepipe.sim.open_messages import interaction_end, open_id, to_open

#: per kind, the data keys whose values must agree between the web and the open event
SAME_VALUES = {
    "danmaku": ("guard_level", "dm_type", "mirror"),
    "gift": ("gift_id", "gift_name", "num", "price", "total_coin", "coin_type", "guard_level"),
    "super_chat": ("sc_id", "price", "start_time", "end_time", "guard_level"),
    "guard": ("guard_level", "num", "price"),
    "like": ("msg_type",),
    "enter": ("msg_type",),
    "super_chat_delete": ("ids",),
    "live": ("live_time",),
    "preparing": ("round",),
}


def _corpus(seed: int, n: int) -> list[tuple[int, dict]]:
    sim = Simulator(rooms=[1000, (76, 22000076)], seed=seed, population_size=60)
    out = []
    ts = 1_790_000_000.0
    for rid, gen in sim.generators.items():
        for i in range(n):
            out += [(rid, m) for m in gen.next_messages(ts + i)]
        room = sim.state.rooms[rid]
        out += [(rid, M.live(room, ts)), (rid, M.live(room, ts, with_time=False)), (rid, M.preparing(room, ts)),
                (rid, {"cmd": "SUPER_CHAT_MESSAGE_DELETE", "data": {"ids": [1, 2]}})]  # fmt: skip
    return out


def _anchor(seed: int) -> dict:
    return {"uid": 0, "open_id": open_id(seed, 1), "union_id": "", "uname": "streamer", "uface": "",
            "title": "t", "area_name": "a"}  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_open_events_match_the_web_events_of_the_same_messages(seed):
    kinds: Counter[str] = Counter()
    cmds: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for rid, web in _corpus(seed, 1500):
        om = to_open(web, rid, _anchor(seed), lambda uid: open_id(seed, uid))
        w = parse_command(web, rid)
        if om is None:
            skipped[w.kind] += 1
            continue
        o = parse_command(om, rid)
        cmds[o.cmd] += 1
        assert o.kind == w.kind, (web, om)
        kinds[o.kind] += 1
        assert o.room_id == rid and o.uid is None
        assert o.uname == w.uname and o.text == w.text, (web, om)
        assert set(w.data) <= set(o.data), set(w.data) - set(o.data)
        for key in SAME_VALUES[o.kind]:
            assert o.data[key] == w.data[key], (o.kind, key, w.data[key], o.data[key])
        if "masked" in o.data:
            assert o.data["masked"] is False
            assert o.data["open_id"] == open_id(seed, w.uid), "the open_id names the same user"
        assert o.id == om["data"]["msg_id"]
        assert parse_command(copy.deepcopy(om), rid).id == o.id  # stable across receivers
    assert set(kinds) == {"danmaku", "gift", "super_chat", "super_chat_delete", "guard", "like", "enter", "live",
                          "preparing"}  # fmt: skip
    assert kinds["danmaku"] > 1000
    assert set(cmds) | {"LIVE_OPEN_PLATFORM_DM_MIRROR", "LIVE_OPEN_PLATFORM_INTERACTION_END"} == set(OPEN_CMD_KINDS)
    # what the open platform does not push: counters, rankings, follows, admin lists, the guard toast
    assert {"like_count", "online_count", "watched", "online_rank", "follow", "admins"} <= set(skipped)
    assert skipped["guard"] == kinds["guard"]  # one toast per purchase is left out


def test_fields_the_open_platform_adds_and_the_mirror_and_interaction_end_forms():
    now = int(time.time())
    dm = {"cmd": "LIVE_OPEN_PLATFORM_DM_MIRROR", "data": {
        "uname": "甲", "open_id": "o-1", "union_id": "U1", "uface": "http://f", "timestamp": now, "room_id": 9,
        "msg": "[dog]", "msg_id": "m-1", "guard_level": 3, "fans_medal_wearing_status": True,
        "fans_medal_name": "牌", "fans_medal_level": 21, "emoji_img_url": "http://e", "dm_type": 1,
        "glory_level": 4, "reply_open_id": "o-2", "reply_uname": "乙", "is_admin": 1}}  # fmt: skip
    e = parse_command(dm, 9)
    assert e.kind == "danmaku" and e.id == "m-1" and e.ts == now and e.text == "[dog]"
    d = e.data
    assert d["mirror"] and d["is_admin"] and d["emoticon"] == {"url": "http://e"} and d["face"] == "http://f"
    assert (d["open_id"], d["union_id"], d["reply_open_id"], d["reply_uname"], d["glory_level"]) == (
        "o-1", "U1", "o-2", "乙", 4)
    assert d["medal"] == {"level": 21, "name": "牌", "streamer_uid": None, "streamer_name": None, "room_id": 9,
                          "guard_level": 3, "is_lighted": True}  # fmt: skip
    end = parse_command(interaction_end("g-9"), 9)
    assert end.kind == "notice" and end.data == {"category": "LIVE_OPEN_PLATFORM_INTERACTION_END", "game_id": "g-9"}
    union = parse_command({"cmd": "LIVE_OPEN_PLATFORM_LIKE", "data": {"uname": "x", "open_id": "", "union_id": "",
                                                                      "like_count": "7"}}, 9)  # fmt: skip
    assert union.data["open_id"] is None and union.data["union_id"] is None and union.data["like_count"] == 7


def _mutations(value, rng):
    """Hostile variants of a JSON value: wrong types, nulls, huge numbers, deleted keys."""
    yield None
    yield "x"
    yield [value]
    yield 10**30
    yield -1
    if isinstance(value, dict) and value:
        k = rng.choice(list(value))
        yield {kk: vv for kk, vv in value.items() if kk != k}


def test_hostile_shapes_never_raise_and_never_drop_a_message():
    rng = random.Random(5)
    seed = 4
    samples = [to_open(web, rid, _anchor(seed), lambda uid: open_id(seed, uid)) for rid, web in _corpus(seed, 300)]
    samples = [s for s in samples if s is not None]
    samples.append(interaction_end("g"))
    n = 0
    for om in samples[:400]:
        for key in list(om["data"]):
            for bad in _mutations(om["data"][key], rng):
                msg = copy.deepcopy(om)
                msg["data"][key] = bad
                ev = parse_command(msg, 1)
                assert ev.kind in (OPEN_CMD_KINDS[om["cmd"]], "raw")
                assert ev.raw is msg
                n += 1
        for bad_data in (None, [], "x", 1):
            ev = parse_command({"cmd": om["cmd"], "data": bad_data}, 1)
            assert ev.kind in (OPEN_CMD_KINDS[om["cmd"]], "raw")
            n += 1
    assert n > 10_000
