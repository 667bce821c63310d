"""The typed decode path (msgspec ``DANMU_MSG``, lazy ``raw``, upb ``INTERACT_WORD_V2``) gives the events
the previous decoder gave, on the fixtures, the benchmark's traffic and generated shapes.

The oracle is the previous ``decode_events`` loop, kept here: every body through ``orjson.loads`` and
``parse_command``, the ``*_V2`` protobuf through the hand-written reader of ``pb.py``.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from livepipe.bilibili import DecodeStats, decode_events, decode_frame, pb, popularity_event
from livepipe.bilibili.commands import common, parse_command, users
from livepipe.bilibili.protocol import OP_AUTH_REPLY, OP_COMMAND, OP_HEARTBEAT_REPLY, encode_compressed, encode_packet
from livepipe.events import LazyRaw, RawMessage

from .conftest import FIXTURES, ROOM, load_fixture

ROOT = Path(__file__).resolve().parents[2]

# every test runs on the compiled decoder and on the pure-Python one (conftest.decoder_impl)
pytestmark = pytest.mark.usefixtures("decoder_impl")
NOW = 1_700_000_000.5  # receive time, pinned so that events without a time of their own compare equal


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch):
    import livepipe.bilibili as bili
    import livepipe.bilibili.commands as commands
    import livepipe.bilibili.commands.chat as chat

    for mod in (common, commands, chat):
        monkeypatch.setattr(mod, "_now", lambda: NOW)
    monkeypatch.setattr(bili.time, "time", lambda: NOW)


def old_decode_events(frame: bytes, room_id: int, stats: DecodeStats) -> list[Any]:
    """The decoder before the typed path (oracle): orjson + parse_command for every body, pb.py's reader."""
    out = []
    for p in decode_frame(frame):
        op = p[0]
        if op == OP_COMMAND:
            body = p[3]
            if not body:
                continue
            try:
                message = orjson.loads(body)
            except ValueError:
                stats.bad_json += 1
                continue
            if type(message) is not dict:
                stats.bad_message += 1
                continue
            raw = RawMessage(message)
            raw.json = body
            out.append(parse_command(raw, room_id))
        elif op == OP_HEARTBEAT_REPLY:
            out.append(popularity_event(int.from_bytes(p[3][:4], "big"), room_id))
        elif op == OP_AUTH_REPLY:
            stats.auth_replies += 1
        else:
            stats.ignored += 1
    return out


@pytest.fixture
def oracle(monkeypatch):
    """``frame -> (events, stats)`` of the previous decoder."""

    def run(frame: bytes) -> tuple[list[Any], DecodeStats]:
        with monkeypatch.context() as m:
            m.setattr(users, "_decode_pb", pb.decode_pb_field)
            stats = DecodeStats()
            return old_decode_events(frame, ROOM, stats), stats

    return run


def compact(msg: Any) -> bytes:
    """A body as Bilibili sends it: compact JSON, UTF-8, ``cmd`` first."""
    return json.dumps(msg, ensure_ascii=False, separators=(",", ":")).encode()


def frame_of(bodies: list[bytes]) -> bytes:
    return encode_compressed(b"".join(encode_packet(OP_COMMAND, b, ver=0, seq=0) for b in bodies))


def assert_same(frame: bytes, oracle) -> list[Any]:
    """New and old decoder agree on ``frame``: events (every field, raw, JSON form) and bad-body counts."""
    stats = DecodeStats()
    new = decode_events(frame, ROOM, stats)
    old, old_stats = oracle(frame)
    assert (stats.bad_json, stats.bad_message) == (old_stats.bad_json, old_stats.bad_message)
    assert len(new) == len(old)
    for a, b in zip(new, old, strict=True):
        assert tuple(a[:9]) == tuple(b[:9])
        assert type(a.raw) is type(b.raw)
        assert a.raw == b.raw and a.raw.json == b.raw.json  # type: ignore[union-attr]
        assert a == b
        assert a.to_json_bytes() == b.to_json_bytes()
        assert a.to_json_bytes(include_raw=False) == b.to_json_bytes(include_raw=False)
        assert a.to_dict() == b.to_dict()
    return new


def fast_count(events: list[Any]) -> int:
    """How many danmaku came through the typed path (their raw slot is still unparsed bytes; the compiled
    decoder keeps the bytes of a few other cmds too)."""
    return sum(type(tuple.__getitem__(e, 9)) is LazyRaw and e.kind == "danmaku" for e in events)


def load_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_decode", ROOT / "bench" / "decode.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --- samples --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.json")))
def test_every_fixture_gives_the_same_event(name, oracle):
    msg = load_fixture(name)
    bodies = [compact(msg), json.dumps(msg, ensure_ascii=True).encode()]
    assert_same(frame_of(bodies), oracle)


def test_the_benchmark_traffic_gives_the_same_events_and_mostly_takes_the_typed_path(oracle):
    bench = load_bench()
    frames, total = bench.build_frames(60, seed=11)
    n = fast = 0
    for f in frames:
        events = assert_same(f, oracle)
        n += len(events)
        fast += fast_count(events)
    assert n == total
    assert fast > 0.6 * total  # the danmaku (78 % of the mix) take the typed path


def test_typed_path_is_taken_for_the_danmaku_fixtures():
    for name in ("danmu_msg", "danmu_msg_suffix", "danmu_msg_reply", "danmu_msg_emoticon", "danmu_msg_mirror"):
        (ev,) = decode_events(frame_of([compact(load_fixture(name))]), ROOM)
        assert type(tuple.__getitem__(ev, 9)) is LazyRaw, name


# --- generated shapes -----------------------------------------------------------------------------

ODD_VALUES: list[Any] = [
    0, -1, 1, 7, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 1.5, 1.0, -0.0, "12", "1.5", "x***",
    "", "abc", None, True, False, [], [1], [[]], {}, {"a": 1}, {"a": {"b": 1}}, "{}", "not json", '{"id_str":"z"}',
]  # fmt: skip


def _leaf_paths(value: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(value, list):
        for i, v in enumerate(value):
            out += _leaf_paths(v, (*path, i))
    elif isinstance(value, dict):
        for k, v in value.items():
            out += _leaf_paths(v, (*path, k))
    return out


def _set(msg: Any, path: tuple, value: Any) -> Any:
    m = copy.deepcopy(msg)
    target = m
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return m


def _truncate(msg: Any, path: tuple, n: int) -> Any:
    m = copy.deepcopy(msg)
    target = m
    for key in path:
        target = target[key]
    del target[n:]
    return m


EXTRA_VARIANTS: list[Any] = [
    {"id_str": "abc"}, {"id_str": ""}, {"id_str": 5}, {"id_str": None}, {}, [], "x", 5,
    {"id_str": "abc", "reply_mid": "42", "reply_uname": "u"}, {"id_str": "abc", "reply_mid": 42, "reply_uname": 7},
    {"id_str": "abc", "reply_mid": 42, "reply_uname": ""}, {"id_str": "abc", "reply_mid": 2**64},
    {"id_str": "abc", "reply_mid": True}, {"id_str": "abc", "reply_mid": 1.0},
    {"id_str": "abc", "emots": {"[a]": {"x": 1, "y": [1]}}}, {"id_str": "abc", "emots": {"[a]": {"x": 2**64}}},
    {"id_str": "abc", "emots": {"[a]": 5}}, {"id_str": "abc", "emots": []}, {"id_str": "abc", "emots": {}},
    {"id_str": "abc", "emots": {"[a]": {"x": 1.5, "b": True, "n": None, "s": "t"}}},
    {"id_str": "abc", "id_str2": {"deep": [[[1]]]}}, {"id_str": "a", "id_str": "b"},  # noqa: F601
    {"id_str": 'a"b', "reply_mid": 5, "reply_uname": 'q"\\"'}, {"id_str": "a\\b", "content": "x\n\t/"},
    {"id_str": "abc", "content": "\"", "reply_mid": 5, "reply_uname": "\\"}, {"id_str": "é", "content": "晴天"},
]  # fmt: skip


def generated_danmaku() -> list[bytes]:
    """Danmaku bodies with each field of ``info`` (and ``extra``) replaced by odd values, lists cut short."""
    bodies = []
    rng = random.Random(20261207)
    for name in ("danmu_msg", "danmu_msg_emoticon", "danmu_msg_reply", "danmu_msg_masked_big", "danmu_msg_mirror"):
        msg = load_fixture(name)
        info = msg["info"]
        paths = [("info", *p) for p in _leaf_paths(info)[1:]]
        for path in paths:
            for value in rng.sample(ODD_VALUES, 8):
                bodies.append(compact(_set(msg, path, value)))
        for path in (("info",), ("info", 0), ("info", 2), ("info", 3), ("info", 4)):
            target: Any = msg
            for key in path:
                target = target[key] if isinstance(target, (list, dict)) else None
            for n in range(len(target) if isinstance(target, list) else 0):
                bodies.append(compact(_truncate(msg, path, n)))
        for extra in EXTRA_VARIANTS:
            for ascii_only in (True, False):  # \u escapes inside extra, or the characters themselves
                text = json.dumps(extra, ensure_ascii=ascii_only) if not isinstance(extra, str) else extra
                bodies.append(compact(_set(msg, ("info", 0, 15, "extra"), text)))
        bodies.append(compact(_set(msg, ("info", 0, 15, "extra"), "{bad json")))
        bodies.append(compact(_set(msg, ("info", 0, 15, "extra"), {"id_str": "abc"})))
        for cmd in ("DANMU_MSG:4:0:2:2:2:0", "DANMU_MSG_MIRROR", "DANMU_MSG_X", "DANMU_MSG:", "DANMU_MSGX"):
            bodies.append(compact({**msg, "cmd": cmd}))
        bodies.append(compact({k: v for k, v in msg.items() if k != "info"}))
        bodies.append(compact({**msg, "send_time": 1767225605000}))
    return bodies


def test_generated_danmaku_shapes_give_the_same_events(oracle):
    bodies = generated_danmaku()
    assert len(bodies) > 2000
    fast = 0
    for i in range(0, len(bodies), 25):
        fast += fast_count(assert_same(frame_of(bodies[i : i + 25]), oracle))
    assert 0 < fast < len(bodies)  # both paths are exercised


def test_broken_danmaku_bodies_are_refused_or_decoded_alike(oracle):
    """Byte-level damage (cut, flipped, invalid UTF-8, huge numbers, deep nesting): the same outcome."""
    rng = random.Random(7)
    base = compact(load_fixture("danmu_msg"))
    bodies = [
        base[:-1], base + b"x", base.replace(b'"cmd"', b"'cmd'"), base.replace("晴天".encode(), b"\xff\xfe"),
        base.replace("大家好".encode(), b"\xed\xa0\x80"), base.replace(b'"dm_v2":""', b'"dm_v2":"\\ud800"'),
        base.replace(b'"dm_v2":""', b'"dm_v2":' + b"[" * 2000 + b"]" * 2000),
        base.replace(b'"dm_v2":""', b'"dm_v2":' + b"[" * 600 + b"]" * 600),
        base.replace(b'"dm_v2":""', b'"dm_v2":99999999999999999999999'), base.replace(b'"dm_v2":""', b'"dm_v2":NaN'),
        base.replace(b'"dm_v2":""', b'"dm_v2":"\x01"'), b"[]", b"1", b"null", b'"DANMU_MSG"',
    ]  # fmt: skip
    for _ in range(400):
        b = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(b))
            b[i] = rng.choice(b'{}[]",:0123456789aeE-+ \\\x00\xff')
        bodies.append(bytes(b))
    for body in bodies:
        assert_same(frame_of([body]), oracle)


# --- INTERACT_WORD_V2 (upb) -----------------------------------------------------------------------


def test_interact_word_v2_shapes_give_the_same_events(oracle):
    rng = random.Random(3)
    msg = load_fixture("interact_word_v2")
    bodies = []
    for _ in range(300):
        w: dict[str, Any] = {
            "uid": rng.choice([0, 1, 10_000_001, 2**63 - 1, -5]),
            "uname": rng.choice(["", "晴天小鱼", "x***", "a" * 300]),
            "msg_type": rng.choice([0, 1, 2, 3, 4, 5, 6, 9]),
            "timestamp": rng.choice([0, 1767225600]),
            "trigger_time": rng.choice([0, 1767225600123456789]),
            "privilege_type": rng.choice([0, 1, 3]),
            "identities": rng.choice([[], [1, 3]]),
            "fans_medal": rng.choice([None, {}, {"medal_level": 12, "medal_name": "鱼", "target_id": 7, "is_lighted": 1,
                                                  "guard_level": 3, "anchor_roomid": 30000003}]),
            "uinfo": rng.choice([None, {}, {"uid": 5, "base": {"name": "n", "face": "http://f"}}, {"base": {}}]),
        }  # fmt: skip
        payload = pb.encode_interact_word(w)
        if rng.random() < 0.2:  # damage: cut, or an unknown field after
            payload = payload[: rng.randrange(len(payload) + 1)] if rng.random() < 0.5 else payload + b"\xa8\x06\x01"
        body = copy.deepcopy(msg)
        body["data"]["pb"] = pb.to_base64(payload)
        bodies.append(compact(body))
    for extra in ("not base64!", "", 5, None):
        body = copy.deepcopy(msg)
        body["data"]["pb"] = extra
        bodies.append(compact(body))
    bodies.append(compact(_set(msg, ("data", "pb"), pb.to_base64(b"\x12\x02\xff\xfe"))))  # uname not UTF-8
    for i in range(0, len(bodies), 20):
        assert_same(frame_of(bodies[i : i + 20]), oracle)


def test_a_number_beyond_the_double_range_where_the_event_does_not_look(oracle):
    """The one documented difference (docs/bilibili/events.md): orjson refuses such a number anywhere in a
    message, so the previous decoder dropped the danmaku (bad_json) or read its ``extra`` as empty; the typed
    path reads the fields it needs, and ``raw`` reads the number as the json module does (``inf``)."""
    msg = load_fixture("danmu_msg")
    body = compact({**msg, "dm_v2": 0}).replace(b'"dm_v2":0', b'"dm_v2":1e400')
    stats = DecodeStats()
    (ev,) = decode_events(frame_of([body]), ROOM, stats)
    assert oracle(frame_of([body]))[1].bad_json == 1 and stats.bad_json == 0
    assert ev.raw["dm_v2"] == float("inf") and ev.text == "大家好[dog]"
    assert ev.to_json_bytes().endswith(b',"raw":' + body + b"}")

    extra = json.loads(msg["info"][0][15]["extra"])
    text = json.dumps(extra, ensure_ascii=False).replace('"hit_combo": 0', '"hit_combo": 1e400')
    body = compact(_set(msg, ("info", 0, 15, "extra"), text))
    (new,), (old,) = decode_events(frame_of([body]), ROOM), oracle(frame_of([body]))[0]
    assert new.id == extra["id_str"] and old.id != extra["id_str"]  # old: extra unreadable, id from the hash
    assert new.data["emots"] == extra["emots"] and old.data["emots"] is None
