"""The compiled decoder (``livepipe.bilibili._cdecode``) gives exactly the events of the pure-Python one.

Differential: every input goes through both ``decode_events`` (the C one and ``_decode_events_pure``)
and the outcomes must be identical: the events field by field (types included: ``True`` is not ``1``),
the keys of ``data`` in order, ``raw`` (its type in the tuple, its bytes, its parsed form), the JSON
form, the counters, and the ``ProtocolError`` message of a broken frame. Inputs: the fixtures, the
benchmark's traffic, generated shapes (hypothesis), damaged bytes and broken framing.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import livepipe.bilibili as bili
from livepipe.bilibili import DecodeStats, fast, pb
from livepipe.bilibili.protocol import (
    OP_AUTH_REPLY,
    OP_COMMAND,
    ProtocolError,
    encode_compressed,
    encode_packet,
    heartbeat_reply,
)
from livepipe.events import LazyRaw, RawMessage

from .conftest import FIXTURES, ROOM, _setup, compiled_module, load_fixture
from .test_fast_decode import NOW, compact, frame_of, generated_danmaku, load_bench

pytestmark = pytest.mark.usefixtures("pinned_clock")


@pytest.fixture
def pinned_clock(monkeypatch):
    """Events without a time of their own (popularity, some cmds) take the receive time: pinned."""
    import livepipe.bilibili.commands as commands
    import livepipe.bilibili.commands.chat as chat
    from livepipe.bilibili.commands import common

    for mod in (common, commands, chat):
        monkeypatch.setattr(mod, "_now", lambda: NOW)
    monkeypatch.setattr(bili.time, "time", lambda: NOW)


@pytest.fixture(scope="module")
def cdecode():
    module = compiled_module()
    _setup(module)
    return module


def outcome(decode, frame: bytes) -> tuple[Any, ...]:
    """What a decoder does with ``frame``: ("events", events, counters) or ("error", type, message)."""
    stats = DecodeStats()
    try:
        events = decode(frame, ROOM, stats)
    except ProtocolError as e:
        return ("error", type(e), str(e))
    return ("events", events, stats.as_dict())


def assert_identical(cdecode, frame: bytes) -> list[Any]:
    """Both decoders give the same outcome on ``frame``, down to types, key order and raw bytes."""
    c, p = outcome(cdecode.decode_events, frame), outcome(bili._decode_events_pure, frame)
    assert c[0] == p[0], (c, p)
    if c[0] == "error":
        assert c == p
        return []
    events_c, events_p = c[1], p[1]
    assert c[2] == p[2]  # the counters
    assert len(events_c) == len(events_p)
    for a, b in zip(events_c, events_p, strict=True):
        assert type(a) is type(b)
        for x, y in zip(tuple.__getitem__(a, slice(9)), tuple.__getitem__(b, slice(9)), strict=True):
            assert type(x) is type(y), (x, y)
        ra, rb = tuple.__getitem__(a, 9), tuple.__getitem__(b, 9)
        # raw: the same type, or a LazyRaw where the Python path holds the RawMessage (the compiled cmds other than
        # DANMU_MSG keep the body unparsed): equivalent, checked below (bytes, parsed form, JSON, equality)
        assert type(ra) is type(rb) or (type(ra) is LazyRaw and type(rb) is RawMessage), (ra, rb)
        assert tuple(a[:8]) == tuple(b[:8])
        assert list(a.data.items()) == list(b.data.items())  # same keys in the same order, same values
        for k in a.data:
            assert type(a.data[k]) is type(b.data[k]), k
        if ra is not None:
            assert ra.json == rb.json
        assert type(a.raw) is type(b.raw) and a.raw == b.raw
        if ra is not None:
            assert a.raw.json == b.raw.json
        assert a == b
        assert a.to_json_bytes() == b.to_json_bytes()
        assert a.to_json_bytes(include_raw=False) == b.to_json_bytes(include_raw=False)
    return events_c


def compiled_count(cdecode, body: bytes) -> bool:
    """Whether the C scanner itself took the body (rather than declining to the msgspec path)."""
    return cdecode.danmaku_event(body, ROOM) is not None


# --- which decoder, where a user looks --------------------------------------------------------------


def test_the_compiled_decoder_is_built_and_active_in_ci():
    """``LIVEPIPE_CI=1``: a build that lost the extension fails here instead of passing on the fallback."""
    if os.environ.get("LIVEPIPE_CI") != "1":
        pytest.skip("checked under LIVEPIPE_CI=1 (CI builds the extension)")
    compiled_module()
    if os.environ.get("LIVEPIPE_PURE_PYTHON") == "1":
        assert fast.COMPILED is False and bili._decode_events is bili._decode_events_pure
    else:
        assert fast.COMPILED is True
        assert bili._decode_events is fast._cdecode.decode_events
        assert fast.decoder_description().startswith("compiled")


def _version_output(**env: str) -> str:
    cli = [sys.executable, "-c", "from livepipe.cli import main; main()", "--version"]
    p = subprocess.run(cli, capture_output=True, text=True, timeout=60, env={**os.environ, **env})
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_version_says_which_decoder_is_active(cdecode):
    env = {k: v for k, v in os.environ.items() if k != "LIVEPIPE_PURE_PYTHON"}
    p = subprocess.run([sys.executable, "-c", "from livepipe.cli import main; main()", "--version"],
                       capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[1] == "danmaku decoder: compiled (C extension livepipe.bilibili._cdecode)"
    pure = _version_output(LIVEPIPE_PURE_PYTHON="1").splitlines()
    assert pure[0].startswith("livepipe, version ")
    assert pure[1] == "danmaku decoder: pure Python (LIVEPIPE_PURE_PYTHON=1; the C extension is built)"


def test_pure_python_env_is_read_at_import():
    code = (
        "import livepipe.bilibili as b, livepipe.bilibili.fast as f;"
        "print(f.COMPILED, b._decode_events is b._decode_events_pure)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "LIVEPIPE_PURE_PYTHON": "1"}, check=True).stdout  # fmt: skip
    assert out.split() == ["False", "True"]


# --- samples ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.json")))
def test_every_fixture(cdecode, name):
    msg = load_fixture(name)
    assert_identical(cdecode, frame_of([compact(msg), json.dumps(msg, ensure_ascii=True).encode()]))


def test_the_danmaku_fixtures_take_the_c_scanner(cdecode):
    for name in ("danmu_msg", "danmu_msg_suffix", "danmu_msg_reply", "danmu_msg_emoticon", "danmu_msg_mirror"):
        body = compact(load_fixture(name))
        assert compiled_count(cdecode, body), name
        assert fast.danmaku_event(body, ROOM) == cdecode.danmaku_event(body, ROOM)


def test_the_benchmark_traffic(cdecode):
    frames, total = load_bench().build_frames(60, seed=11)
    n = 0
    for f in frames:
        n += len(assert_identical(cdecode, f))
    assert n == total


def test_generated_danmaku_shapes(cdecode):
    bodies = generated_danmaku()
    taken = 0
    for i in range(0, len(bodies), 25):
        assert_identical(cdecode, frame_of(bodies[i : i + 25]))
    for body in bodies:
        taken += compiled_count(cdecode, body)
    assert 0 < taken < len(bodies)  # the scanner takes many and declines some


def test_the_c_scanner_declines_only_to_the_same_event(cdecode):
    """Where the scanner gives an event, the msgspec path gives the same one (it never takes a body alone)."""
    for body in generated_danmaku()[::3]:
        ev = cdecode.danmaku_event(body, ROOM)
        if ev is not None:
            ref = fast.danmaku_event(body, ROOM)
            assert ref is not None and ev == ref and ev.to_json_bytes() == ref.to_json_bytes()


# --- damaged bytes and broken framing -----------------------------------------------------------------


def test_damaged_danmaku_bodies(cdecode):
    rng = random.Random(11)
    bases = [compact(load_fixture(n)) for n in ("danmu_msg", "danmu_msg_reply", "danmu_msg_emoticon")]
    bodies = []
    for base in bases:
        bodies += damaged_copies(rng, base, every=9, flips=300, alphabet=_JSON_DAMAGE)
    assert_identical_in_frames(cdecode, bodies)


def test_escapes_surrogates_and_invalid_utf8_in_kept_strings(cdecode):
    base = compact(load_fixture("danmu_msg"))
    text = "大家好[dog]".encode()
    uname = "晴天小鱼".encode()
    variants = [
        b'"\\ud83d\\ude00 ok"', b'"\\ud83d"', b'"\\ude00"', b'"\\ud83dx"', b'"\\ud83d\\u0041"', b'"\\u00e9\\u4e2d"',
        b'"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t"', b'"\\x"', b'"\\u12"', b'"\xff"', b'"\xed\xa0\x80"', b'"\xc0\xaf"',
        b'"\xf4\x90\x80\x80"', b'"\xe4\xb8"', b'"\x01"', b'"\x7f"', b'"\xf0\x9f\x98\x80"', b'""', b'"***"',
        b'"x***"', b'"\\u002a\\u002a\\u002a"', b"null", b"1", b'"\\u0000"',
    ]  # fmt: skip
    bodies = []
    for v in variants:
        bodies.append(base.replace(b'"' + text + b'"', v, 1))  # info[1], the text
        bodies.append(base.replace(b'"' + uname + b'"', v, 1))  # info[2][1], the sender's name
        bodies.append(base.replace(b'"1a2b3c4d"', v, 1))  # info[0][7], the crc
        bodies.append(base.replace(b'"\xe5\xb0\x8f\xe9\xb1\xbc\xe5\xb9\xb2"', v, 1))  # the medal name
    for body in bodies:
        assert_identical(cdecode, frame_of([body]))


def test_broken_framing_raises_the_same_error(cdecode):
    good = frame_of([compact(load_fixture("danmu_msg"))])
    plain = encode_packet(OP_COMMAND, compact(load_fixture("send_gift")), ver=0, seq=0)
    frames = [
        b"", b"\x00" * 15, plain[:-1], plain + b"\x00" * 5, good[:-3], good[:20],
        b"\x00\x00\x00\x10\x00\x0f\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00",  # header_len 15
        b"\x00\x00\x00\x10\x00\x20\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00",  # header_len > pack_len
        b"\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00",  # pack_len 0
        encode_packet(OP_COMMAND, b"\x00garbage", ver=3), encode_packet(OP_COMMAND, b"x", ver=2),
        heartbeat_reply(1234, b"{}"), heartbeat_reply(0) + plain, encode_packet(3, b"\x01\x02"),
        encode_packet(OP_AUTH_REPLY, b'{"code":0}'), encode_packet(9, b"x"), encode_packet(OP_COMMAND, b""),
        encode_packet(OP_COMMAND, b"[1]"), encode_packet(OP_COMMAND, b"{bad"), plain * 3,
    ]  # fmt: skip
    nested = encode_packet(OP_COMMAND, b"{}", ver=0)
    for _ in range(5):
        nested = encode_compressed(nested)
    frames.append(nested)  # nested too deeply
    for f in frames:
        assert_identical(cdecode, f)
    with pytest.raises(ProtocolError, match="a frame must be bytes, not str"):
        cdecode.decode_events("x", ROOM)
    assert assert_identical(cdecode, good) and cdecode.decode_events(bytearray(good), ROOM) == bili._decode_events_pure(
        bytearray(good), ROOM
    )


# --- generated shapes (hypothesis) ----------------------------------------------------------------------

_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=12)
_INTS = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([0, 1, -1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1]))
_SCALARS = st.one_of(st.none(), st.booleans(), _INTS, st.floats(allow_nan=False, allow_infinity=False), _TEXT,
                     st.sampled_from(["", "{}", "x***", "***", '{"a":1}', "[1]", "not json"]))  # fmt: skip
_VALUES = st.recursive(_SCALARS, lambda c: st.lists(c, max_size=3) | st.dictionaries(_TEXT, c, max_size=3),
                       max_leaves=6)  # fmt: skip
_EMOTS = st.one_of(
    st.none(), _VALUES,
    st.dictionaries(_TEXT, st.dictionaries(_TEXT, _SCALARS, max_size=3), max_size=2),
)  # fmt: skip

_TEMPLATES = ["danmu_msg", "danmu_msg_emoticon", "danmu_msg_reply", "danmu_msg_masked_big", "danmu_msg_mirror",
              "danmu_msg_suffix"]  # fmt: skip


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*path, i))
    elif isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*path, k))
    return out


def _dumps(value: Any, ascii_only: bool) -> str:
    try:
        return json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":"))
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


#: The hypothesis settings of the generated-bodies tests.
_GENERATED = settings(max_examples=400, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _maybe_damaged(draw: st.DrawFn, body: bytes) -> bytes:
    """``body``, or one time in ten the body with one byte changed."""
    if draw(st.integers(0, 9)) == 0:
        b = bytearray(body)
        b[draw(st.integers(0, len(b) - 1))] = draw(st.integers(0, 255))
        return bytes(b)
    return body


@st.composite
def danmaku_bodies(draw: st.DrawFn) -> bytes:
    """A DANMU_MSG of a fixture's shape with a few positions changed, its medal cut, its extra varied."""
    msg = load_fixture(draw(st.sampled_from(_TEMPLATES)))
    info = msg["info"]
    extra = json.loads(info[0][15]["extra"])
    paths = _paths(info)[1:]
    for _ in range(draw(st.integers(0, 3))):  # any position of info: any JSON value
        path = draw(st.sampled_from(paths))
        target: Any = info
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = draw(_VALUES)
        except (KeyError, IndexError, TypeError):
            pass
    if draw(st.booleans()) and isinstance(info[3], list):  # a medal list of every length
        del info[3][draw(st.integers(0, 14)) :]
    if draw(st.booleans()) and isinstance(info, list):  # missing or extra positions of info
        del info[draw(st.integers(0, len(info))) :]
        info.extend(draw(st.lists(_VALUES, max_size=3)))
    if draw(st.booleans()):  # the sender: masked or not
        try:
            info[2][0] = draw(st.sampled_from([0, 10000001, 2**63]))
            info[2][1] = draw(st.sampled_from(["x***", "***", "晴天", "", "a\u0000b"]))
        except (IndexError, TypeError):
            pass
    keys = ["id_str", "emots", "reply_mid", "reply_uname", "content", "other"]
    for key in draw(st.lists(st.sampled_from(keys), max_size=3)):  # the parts of extra the event reads
        extra[key] = draw(_EMOTS if key == "emots" else _VALUES)
    if draw(st.booleans()):
        extra.pop(draw(st.sampled_from(keys)), None)
    ascii_only = draw(st.booleans())
    try:
        info[0][15]["extra"] = draw(st.sampled_from([_dumps(extra, ascii_only), _dumps(extra, ascii_only) + " "]))
    except (IndexError, TypeError, KeyError):
        pass
    msg["cmd"] = draw(st.sampled_from(["DANMU_MSG", "DANMU_MSG:4:0:2:2:2:0", "DANMU_MSG_MIRROR", "DANMU_MSGX"]))
    body = _dumps(msg, ascii_only).encode("utf-8", "surrogatepass")
    return _maybe_damaged(draw, body)


@_GENERATED
@given(st.lists(danmaku_bodies(), min_size=1, max_size=4))
def test_generated_bodies_give_identical_events(cdecode, bodies):
    assert_identical(cdecode, frame_of(bodies))


# --- the other compiled cmds: the most frequent after DANMU_MSG (CMD_TABLE in _cdecode.c) ---------------------

_CMD_FIXTURES = [
    "interact_word_v2", "interact_word_v2_masked_follow", "send_gift", "send_gift_blind", "send_gift_v2",
    "like_info_v3_click", "entry_effect", "online_rank_v3", "like_info_v3_update", "online_rank_count",
    "watched_change", "guard_buy", "user_toast_msg_v2",
]  # fmt: skip
_COMPILED_CMDS = ("INTERACT_WORD_V2", "SEND_GIFT", "SEND_GIFT_V2", "LIKE_INFO_V3_CLICK", "ENTRY_EFFECT",
                  "ONLINE_RANK_V3", "LIKE_INFO_V3_UPDATE", "ONLINE_RANK_COUNT", "WATCHED_CHANGE", "GUARD_BUY",
                  "USER_TOAST_MSG_V2")  # fmt: skip


def assert_identical_in_frames(cdecode, bodies: list[bytes]) -> None:
    """:func:`assert_identical` over ``bodies``, twenty to a frame."""
    for i in range(0, len(bodies), 20):
        assert_identical(cdecode, frame_of(bodies[i : i + 20]))


#: Bytes a damaged JSON body gets: structure, number and literal characters, escapes, control and non-ASCII bytes.
_JSON_DAMAGE = b'{}[]",:0123456789aeE-+.nul \\/u\x00\x1f\x7f\x80\xc3\xed\xff'


def damaged_copies(rng: random.Random, base: bytes, *, every: int, flips: int, alphabet: bytes) -> list[bytes]:
    """``base`` cut short every ``every`` bytes, then ``flips`` copies with 1-3 bytes set from ``alphabet``."""
    out = [base[:cut] for cut in range(0, len(base), every)]
    for _ in range(flips):
        b = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(len(b))] = rng.choice(alphabet)
        out.append(bytes(b))
    return out


def taken(cdecode, body: bytes) -> bool:
    """Whether the compiled path gave the event of ``body`` itself (rather than declining to Python)."""
    return cdecode.command_event(body, ROOM) is not None


def count_taken(cdecode, bodies: list[bytes]) -> int:
    """How many of ``bodies`` the compiled path gave the event of itself."""
    return sum(taken(cdecode, body) for body in bodies)


def test_the_cmd_fixtures_take_the_compiled_path(cdecode):
    for name in _CMD_FIXTURES:
        body = compact(load_fixture(name))
        compiled = name != "send_gift_blind"  # that one's uid is a numeric string: the Python path
        assert taken(cdecode, body) == compiled, name
        (ev,) = assert_identical(cdecode, frame_of([body]))
        assert (type(tuple.__getitem__(ev, 9)) is LazyRaw) == compiled
        assert type(ev.raw) is RawMessage and ev.raw.json == body


def test_the_simulator_traffic_of_the_compiled_cmds_takes_the_compiled_path(cdecode):
    """The end-to-end benchmark's traffic (bench/cpu.py: the simulator's message mix): identical events, and every
    body of a compiled cmd compiled."""
    from livepipe.sim.app import Simulator
    from livepipe.sim.ws import encode_batch

    gen = Simulator(rooms=[ROOM], seed=3).generators[ROOM]
    counts = {cmd: [0, 0] for cmd in _COMPILED_CMDS}
    for i in range(250):
        msgs = [m for _ in range(8) for m in gen.next_messages(1767225600 + i * 0.05)]
        assert_identical(cdecode, encode_batch(msgs, 3))
        for m in msgs:
            if m["cmd"] in counts:
                body = compact(m)
                counts[m["cmd"]][0] += 1
                counts[m["cmd"]][1] += taken(cdecode, body)
    for cmd, (n, c) in counts.items():
        assert n > 5 and c == n, (cmd, n, c)


def test_every_body_length_around_the_hash_blocks(cdecode):
    """BLAKE2b works in 128-byte blocks: bodies of every length over several blocks give the Python path's id."""
    msg = load_fixture("like_info_v3_click")
    bodies = []
    for n in range(0, 400):
        msg["data"]["like_text"] = "x" * n if n % 3 else "赞" * (n // 3)
        bodies.append(compact(msg))
    assert all(taken(cdecode, b) for b in bodies)
    for i in range(0, len(bodies), 40):
        assert_identical(cdecode, frame_of(bodies[i : i + 40]))


def _with_member(name: str, key: str, value_json: str, where: str = "data") -> bytes:
    """A fixture's body with one more member (written as given) at the end of ``where`` (``data`` or the top)."""
    body = compact(load_fixture(name))
    member = json.dumps(key, ensure_ascii=False).encode() + b":" + value_json.encode()
    if where == "top":
        return body[:-1] + b"," + member + b"}"
    return body[:-2] + b"," + member + b"}}"


def test_the_id_hashes_the_canonical_form(cdecode):
    """The id hashes orjson.dumps(message, option=OPT_SORT_KEYS): keys sorted by code point, strings re-escaped as
    orjson writes them, integers as they are; what the compiled path cannot write the same way, it declines."""
    strings = ['"\\u0000\\u0001\\u0008\\u0009\\u000a\\u000b\\u000c\\u000d\\u001f\\u007f"', '"a\\"b\\\\c\\/d"',
               '"\\b\\f\\n\\r\\t"', '"\\u00e9\\u4e2d\\ud83d\\ude00"', '"é中😀\u2028"', '""',
               '"\\u2028\\u2029"']  # fmt: skip
    keys = ["", "a", "ab", "a b", "B", "é", "中", "😀", "\uffff", "~", "zz", "a\x7f"]
    values = ["0", "-1", "9223372036854775807", "-9223372036854775808", "[]", "{}", "[1,[2,{}]]", "true",
              "false", "null", ' { "z" : 1 , "a" : [ 2 , 3 ] } ', '{"b":{"d":1,"c":2},"a":0}',
              '{"\uffff":1,"😀":2,"é":3,"\ue000":4,"z":5,"":0,"zz":6}']  # fmt: skip
    declined = ["1.5", "1e5", "-0", "9223372036854775808", "-9223372036854775809", "18446744073709551615",
                '{"a":1,"a":2}', '{"\\u0061":1}']  # fmt: skip
    bodies, expect = [], []
    for name in (
        "like_info_v3_click",
        "send_gift",
        "interact_word_v2",
        "send_gift_v2",
        "entry_effect",
        "online_rank_v3",
    ):
        for i, v in enumerate(strings + values):
            bodies.append(_with_member(name, keys[i % len(keys)], v))
            expect.append(True)
        for k in keys:
            bodies.append(_with_member(name, k, '"v"', where="top"))
            expect.append(True)
        for v in declined:
            bodies.append(_with_member(name, "extra", v))
            expect.append(False)
        bodies.append(_with_member(name, "data", "{}", where="top"))  # a duplicate key: orjson keeps the last
        expect.append(False)
    bodies.append(_with_member("send_gift", "x", '"' + "\\u0041" * 2000 + '"'))  # longer than the stack buffers
    expect.append(True)
    assert [taken(cdecode, b) for b in bodies] == expect
    for body in bodies:
        assert_identical(cdecode, frame_of([body]))


def test_field_types_and_the_decline_rules(cdecode):
    """Each field the handlers read, with every kind of value: the usual types are compiled, the others declined,
    and both give the Python path's event (masked users, missing times, numeric strings, ...)."""
    subs = ["null", "0", "7", "-3", '"7"', '"x***"', '""', '"晴天"', "1.5", "true", "false", "[]", "{}", '{"a":1}',
            "2305843009213693952", '"\\u002a\\u002a\\u002a"']  # fmt: skip
    bodies = []
    for name in _CMD_FIXTURES:
        msg = load_fixture(name)
        body = compact(msg)
        members = [(k, v, 0) for k, v in msg["data"].items()]
        while members:  # each member of data and of the objects in it (three levels), replaced and removed
            key, value, depth = members.pop()
            old = json.dumps(key, ensure_ascii=False).encode() + b":" + compact(value)
            assert old in body
            for sub in subs:
                bodies.append(body.replace(old, old.split(b":", 1)[0] + b":" + sub.encode(), 1))
            bodies.append(body.replace(old + b",", b"", 1) if old + b"," in body else body.replace(b"," + old, b"", 1))
            if isinstance(value, dict) and depth < 2:
                members += [(k, v, depth + 1) for k, v in value.items()]
        bodies.append(body.replace(b'"data":{', b'"send_time":1700000000123,"data":{', 1))
        for data in ("null", "[]", '"x"', "{}"):
            bodies.append(compact({"cmd": msg["cmd"], "data": None}).replace(b"null", data.encode()))
    for body in bodies:
        assert_identical(cdecode, frame_of([body]))
    assert 0.3 * len(bodies) < count_taken(cdecode, bodies) < len(bodies)  # many compiled, many declined


def test_times_of_every_magnitude(cdecode):
    """The id hashes repr(ts): whole seconds (written as digits and ".0" below 1e16), nanoseconds, the limits."""
    times = [1, 2, 9, 10, 1796681222, 10**15, 10**16 - 1, 10**16, 10**16 + 2, 2**53 + 1, 10**17, 2**63 - 1]
    bodies = []
    for t in times:
        gift = load_fixture("send_gift")
        gift["data"]["timestamp"] = t
        bodies.append(compact(gift))
        entry = load_fixture("entry_effect")
        entry["data"]["trigger_time"] = t
        bodies.append(compact(entry))
    assert all(taken(cdecode, b) for b in bodies)
    for body in bodies:
        assert_identical(cdecode, frame_of([body]))


def test_entry_effect_names_and_marks(cdecode):
    """ENTRY_EFFECT: the name from uinfo.base or from the <% %> marks of copy_writing(_v2), the marks stripped."""
    writings = ["<%晴天%> 来了", "no marks", "<%a", "%>a<%b%>", "<%%>", "<%x***%> 来了", "<%a%><%b%>", "", None,
                "\\u003c%esc%\\u003e 来了"]  # fmt: skip
    bodies = []
    for cw2 in writings:
        for cw in ("<%old%> 来了", None):
            for name in ("", "名字", None, "y***"):
                msg = load_fixture("entry_effect")
                d = msg["data"]
                d["copy_writing_v2"], d["copy_writing"] = cw2, cw
                d["uinfo"]["base"]["name"] = name
                body = compact(msg).replace(b"\\\\u003c%esc%\\\\u003e", b"\\u003c%esc%\\u003e")  # JSON escapes
                bodies.append(body)
                bodies.append(body.replace(b'"cmd":"ENTRY_EFFECT"', b'"cmd":"ENTRY_EFFECT_MUST_RECEIVE"', 1))
    for body in bodies:
        (ev,) = assert_identical(cdecode, frame_of([body]))
        assert ev.kind == "enter" and ev.data["effect"] is True
    assert count_taken(cdecode, bodies) == len(bodies)


def test_damaged_cmd_bodies(cdecode):
    rng = random.Random(5)
    bodies = []
    for name in _CMD_FIXTURES:
        base = compact(load_fixture(name))
        bodies += damaged_copies(rng, base, every=7, flips=200, alphabet=_JSON_DAMAGE + b"=A+")
    assert_identical_in_frames(cdecode, bodies)


# --- INTERACT_WORD_V2: the protobuf of data.pb --------------------------------------------------------


def _iw_body(payload: bytes | str, fixture: str = "interact_word_v2") -> bytes:
    msg = load_fixture(fixture)
    msg["data"]["pb"] = payload if isinstance(payload, str) else pb.to_base64(payload)
    return compact(msg)


def _key(field: int, wt: int) -> bytes:
    return pb.encode_varint(field << 3 | wt)


def _ld(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + pb.encode_varint(len(payload)) + payload


def test_interact_word_v2_protobuf_shapes(cdecode):
    rng = random.Random(7)
    bodies = []
    for _ in range(400):
        w: dict[str, Any] = {
            "uid": rng.choice([0, 1, 10_000_001, 2**63 - 1, -5, -(2**63)]),
            "uname": rng.choice(["", "晴天小鱼", "x***", "***", "a" * 300, "\u0000"]),
            "msg_type": rng.choice([0, 1, 2, 3, 4, 5, 6, 9, -1]),
            "timestamp": rng.choice([0, -1, 1767225600]),
            "trigger_time": rng.choice([0, -7, 1767225600123456789, 2**63 - 1]),
            "privilege_type": rng.choice([0, 1, 3]),
            "identities": rng.choice([[], [1, 3]]),
            "fans_medal": rng.choice([None, {}, {"medal_level": 12, "medal_name": "鱼", "target_id": 7, "is_lighted": 1,
                                                  "guard_level": 3, "anchor_roomid": 30000003},
                                      {"medal_level": 1, "guard_level": 0}, {"medal_name": "x", "guard_level": 2}]),
            "uinfo": rng.choice([None, {}, {"uid": 5, "base": {"name": "n", "face": "http://f"}}, {"base": {}},
                                 {"base": {"name": "名字***", "face": ""}}]),
        }  # fmt: skip
        bodies.append(_iw_body(pb.encode_interact_word(w)))
    good = pb.encode_interact_word({"uid": 5, "uname": "n", "msg_type": 1, "timestamp": 1767225600})
    medal = _ld(9, pb.encode_message({"medal_level": 3, "medal_name": "m"}, pb.INTERACT_WORD[9][2]))
    uinfo = _ld(22, _ld(2, _ld(1, b"name") + _ld(2, b"face")))
    odd = [
        good + _key(40, 0) + b"\x05", good + _key(41, 1) + b"\x00" * 8, good + _key(42, 5) + b"\x00" * 4,
        good + _ld(43, b"\xff\xfe"), good + _key(44, 3) + _key(44, 4), good + _key(45, 6), good + _key(46, 7) + b"\x00",
        good + _key(5, 2) + b"\x00", good + _ld(1, b"ab"), good + _key(2, 0) + b"\x01",  # known fields, other types
        good + medal + medal, good + uinfo + uinfo, good + _ld(22, _ld(2, b"") + _ld(2, b"")),  # a message twice
        good + _ld(2, b"second"), good + _key(5, 0) + b"\x02",  # a scalar twice: the last wins
        good + _key(0, 0) + b"\x01", good + pb.encode_varint(1 << 29 << 3) + b"\x01",  # field numbers 0, 2**29
        good + _key(1, 0) + b"\xff" * 9 + b"\x01", good + _key(1, 0) + b"\xff" * 9 + b"\x02",  # 10-byte varints
        good + _key(1, 0) + b"\x80" * 10 + b"\x00", good + _key(1, 0) + b"\xff",  # too long, truncated
        good + _ld(2, b"\xed\xa0\x80"), good + _ld(2, b"\xc0\xaf"), good + _ld(2, b"ok\xf4\x90\x80\x80"),
        good + _ld(22, _ld(2, _ld(2, b"\xff"))), good + _ld(9, _ld(3, b"\xe4\xb8") + _key(2, 0) + b"\x01"),
        good + _key(9, 2) + b"\x05\x08", good + _key(2, 2) + b"\x7f", good + _ld(9, _key(2, 0)),  # truncated lengths
        good + _ld(22, _key(2, 0) + b"\x01"), good + _ld(9, _ld(2, b"x")),  # sub-fields of another type
        b"", _key(7, 0) + b"\x00", _key(15, 0) + b"\x00",  # no time at all: _mk's fallbacks
    ]  # fmt: skip
    bodies += [_iw_body(p) for p in odd]
    b64 = pb.to_base64(good + b"\x00")  # one byte of padding... or two
    texts = [b64.rstrip("="), b64 + "=", "=" + b64[1:], b64[:4] + "=" + b64[5:], b64.replace("A", "-", 1),
             b64[:-2] + "R=", b64[:-3] + "R==" if b64.endswith("==") else b64[:-2] + "B=", " " + b64, b64 + "\n",
             "QQ==", "QR==", "QUI=", "QUJ=", "", "not base64!"]  # fmt: skip
    bodies += [_iw_body(t) for t in texts]
    bodies.append(_iw_body(pb.to_base64(good)).replace(b"/", b"\\/"))  # an escaped data.pb
    for body in [_iw_body(pb.to_base64(good))]:
        msg = json.loads(body)
        for pbv in (5, None, [], {}):
            msg["data"]["pb"] = pbv
            bodies.append(compact(msg))
    assert_identical_in_frames(cdecode, bodies)
    assert 0.5 * len(bodies) < count_taken(cdecode, bodies) < len(bodies)


def test_send_gift_v2_protobuf_shapes(cdecode):
    rng = random.Random(9)
    medal = {"target_id": 7, "anchor_roomid": 30000003, "medal_level": 12, "medal_name": "鱼"}
    item = {"gift_id": 31164, "gift_name": "粉丝团灯牌", "num": 1, "price": 1000, "total_coin": 1000,
            "coin_type": "gold", "tid": "1353297318621495156", "timestamp": 1796681223, "rnd": "1", "action": "投喂",
            "gift_info": {"img_basic": "https://s1.hdslb.com/g.png"}}  # fmt: skip
    bodies = []
    for _ in range(300):
        items = []
        for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
            it = dict(item)
            for k in rng.sample(sorted(it), rng.randint(0, 4)):
                it[k] = rng.choice([0, -1, 5, 2**62, "", "x", None, {}]) if k != "gift_info" else rng.choice([None, {}])
            it = {k: v for k, v in it.items() if v is not None and (type(v) is dict) == (k == "gift_info")}
            items.append({k: v for k, v in it.items() if type(v) is type(item[k]) or k == "gift_info"})
        g: dict[str, Any] = {
            "uid": rng.choice([0, 7, 2**63 - 1, -3]), "uname": rng.choice(["", "晴天", "x***"]),
            "face": rng.choice(["", "http://f"]), "name_color": rng.choice(["", "#fff"]),
            "guard_level": rng.choice([0, 3]), "medal_info": rng.choice([None, {}, medal, {**medal, "medal_level": 0}]),
            "blind_gift": rng.choice([None, {}, {"original_gift_name": "盒", "original_gift_price": 5000},
                                      {"original_gift_price": 1}, {"original_gift_name": "x"}]),
            "gift_list": items,
            "sender_uinfo": rng.choice([None, {}, {"uid": 7, "base": {"name": "n", "face": "http://g", "name_color": 1,
                                                                      "is_mystery": True}, "wealth": {"level": 3}},
                                        {"base": {}}, {"wealth": {}}]),
        }  # fmt: skip
        bodies.append(_iw_body(pb.encode_send_gift_v2(g), "send_gift_v2"))
    good = pb.encode_send_gift_v2({"uid": 5, "uname": "n", "gift_list": [item]})
    gl = _ld(10, pb.encode_message(item, pb.SEND_GIFT_V2[10][2]))
    odd = [
        good + _ld(4, b"\xff"), good + _ld(99, b"\xff"), good + _ld(15, _ld(2, _ld(1, b"\xc0\xaf"))),  # UTF-8
        good + _ld(15, _ld(4, _key(1, 0))), good + _ld(15, _ld(4, b"") + _ld(4, b"")),  # wealth: truncated, twice
        good + _ld(8, b"") + _ld(8, b""), good + _ld(9, b"") * 2, good + _ld(15, b"") * 2,  # a message twice
        good + gl, good + gl + gl, good + _ld(10, b""),  # more gifts; an empty one
        good + _ld(10, _ld(35, b"") * 2), good + _ld(10, _ld(12, b"\xff")), good + _ld(10, _key(3, 2) + b"\x00"),
        good + _key(44, 3), good + _key(1, 2) + b"\x00", good + _ld(10, _key(7, 0) + b"\xff" * 9 + b"\x01"),
        good + _ld(10, _key(3, 0) + pb.encode_varint(2**62) + _key(5, 0) + pb.encode_varint(8)),  # price * num > int64
        pb.encode_send_gift_v2({"uid": 5, "gift_list": [{**item, "timestamp": 0}]}),  # no time: _mk's fallbacks
        pb.encode_send_gift_v2({"uid": 5, "gift_list": []}),
    ]  # fmt: skip
    bodies += [_iw_body(p, "send_gift_v2") for p in odd]
    assert_identical_in_frames(cdecode, bodies)
    assert 0.5 * len(bodies) < count_taken(cdecode, bodies) < len(bodies)


def test_online_rank_v3_protobuf_shapes(cdecode):
    rng = random.Random(13)
    scores = ["", "12", "-3", "007", "-0", " 1", "1.5", "+2", "1_0", "\u0663", "9" * 18, "9" * 19, "abc", "1e3"]
    bodies = []
    for _ in range(250):

        def item() -> dict[str, Any]:
            return {
                "uid": rng.choice([0, 7, 2**63 - 1, -2]), "face": rng.choice(["", "http://f"]),
                "score": rng.choice(scores), "uname": rng.choice(["", "兔月酱", "x***"]), "rank": rng.randint(0, 3),
                "guard_level": rng.choice([0, 3]), "is_mystery": rng.choice([False, True]),
                "uinfo": rng.choice([None, {}, {"uid": 7, "base": {"name": "n", "face": "f", "is_mystery": True},
                                                "wealth": {"level": 2}}]),
            }  # fmt: skip

        r = {"rank_type": rng.choice(["", "online_rank", "gold_rank"]),
             "list": [item() for _ in range(rng.choice([0, 0, 1, 3]))],
             "online_list": [item() for _ in range(rng.choice([0, 1, 3]))]}  # fmt: skip
        bodies.append(_iw_body(pb.encode_online_rank_v3(r), "online_rank_v3"))
    good = pb.encode_online_rank_v3({"rank_type": "online_rank", "online_list": [{"uid": 5, "uname": "n"}]})
    odd = [
        good + _ld(1, b"\xff"), good + _ld(3, _ld(2, b"\xc0\xaf")), good + _ld(2, _ld(8, _ld(2, _ld(1, b"\xff")))),
        good + _ld(3, _ld(8, b"") + _ld(8, b"")), good + _ld(3, _ld(8, _ld(4, b"") * 2)), good + _ld(3, _key(7, 2)),
        good + _ld(3, _ld(8, _ld(4, _key(1, 2) + b"\x00"))), good + _key(2, 0) + b"\x01", good + _ld(1, b"second"),
        good + _ld(3, b""), good + _ld(9, b"\xff"), good + _ld(3, _ld(99, b"\xff")), b"",
    ]  # fmt: skip
    bodies += [_iw_body(p, "online_rank_v3") for p in odd]
    bodies.append(
        _iw_body(good, "online_rank_v3").replace(
            b'{"cmd":"ONLINE_RANK_V3",', b'{"cmd":"ONLINE_RANK_V3","send_time":1700000000123,'
        )
    )
    assert_identical_in_frames(cdecode, bodies)
    assert 0.3 * len(bodies) < count_taken(cdecode, bodies) < len(bodies)


# --- generated shapes of the compiled cmds (hypothesis) -------------------------------------------------


def _all_paths(value: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _all_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _all_paths(v, (*path, i))
    return out


#: Values of the types Bilibili sends (the compiled path takes them), and keys that need no escape.
_USUAL = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=8),
                   st.lists(st.integers(0, 9), max_size=3))  # fmt: skip
_PLAIN_KEYS = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x10FFFF, exclude_categories=("Cs",),
                                    exclude_characters='"\\'), max_size=6)  # fmt: skip


@st.composite
def cmd_bodies(draw: st.DrawFn) -> bytes:
    """A body of a compiled cmd's fixture with values replaced, members added, keys shuffled, bytes damaged."""
    msg = load_fixture(draw(st.sampled_from(_CMD_FIXTURES)))
    for _ in range(draw(st.integers(0, 3))):  # any value: any JSON value
        path = draw(st.sampled_from(_all_paths(msg)[1:]))
        if path == ("cmd",):
            continue
        target: Any = msg
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = draw(st.one_of(_USUAL, _VALUES))
    if draw(st.booleans()) and isinstance(msg.get("data"), dict):  # members added, the order shuffled
        data = msg["data"]
        added = draw(st.dictionaries(st.one_of(_PLAIN_KEYS, _TEXT), st.one_of(_USUAL, _VALUES), max_size=3))
        for k, v in added.items():
            data.setdefault(k, v)
        items = list(data.items())
        order = draw(st.permutations(range(len(items))))
        msg["data"] = {items[i][0]: items[i][1] for i in order}
    if msg["cmd"] == "INTERACT_WORD_V2" and draw(st.booleans()) and isinstance(msg.get("data"), dict):
        w = {
            "uid": draw(st.sampled_from([0, 7, 2**63 - 1, -1])),
            "uname": draw(_TEXT),
            "msg_type": draw(st.integers(-2, 8)),
            "timestamp": draw(st.sampled_from([0, 1767225600])),
            "trigger_time": draw(st.sampled_from([0, 1767225600123456789])),
            "privilege_type": draw(st.integers(0, 3)),
            "fans_medal": draw(st.one_of(st.none(), st.fixed_dictionaries(
                {"medal_level": st.integers(0, 40), "medal_name": _TEXT, "target_id": st.integers(0, 9),
                 "is_lighted": st.integers(0, 1), "guard_level": st.integers(0, 3),
                 "anchor_roomid": st.integers(0, 9)}))),
            "uinfo": draw(st.one_of(st.none(), st.fixed_dictionaries(
                {"base": st.one_of(st.none(), st.fixed_dictionaries({"name": _TEXT, "face": _TEXT}))}))),
        }  # fmt: skip
        try:
            payload = pb.encode_interact_word(w)
        except UnicodeEncodeError:  # a lone surrogate in a generated name
            payload = b""
        if draw(st.integers(0, 4)) == 0:
            payload = payload[: draw(st.integers(0, len(payload)))]
        msg["data"]["pb"] = pb.to_base64(payload)
    if msg["cmd"] == "SEND_GIFT_V2" and draw(st.booleans()) and isinstance(msg.get("data"), dict):
        ints = st.one_of(st.integers(-3, 3), st.integers(-(2**63), 2**63 - 1))
        item = st.fixed_dictionaries({}, optional={
            "gift_id": ints, "gift_name": _TEXT, "num": ints, "price": ints, "total_coin": ints, "coin_type": _TEXT,
            "tid": _TEXT, "timestamp": st.sampled_from([0, -1, 1796681223]), "action": _TEXT,
            "gift_info": st.fixed_dictionaries({}, optional={"img_basic": _TEXT})})  # fmt: skip
        g = draw(st.fixed_dictionaries({}, optional={
            "uid": ints, "uname": _TEXT, "face": _TEXT, "guard_level": ints, "gift_list": st.lists(item, max_size=3),
            "medal_info": st.fixed_dictionaries({}, optional={"target_id": ints, "anchor_roomid": ints,
                                                               "medal_level": ints, "medal_name": _TEXT}),
            "blind_gift": st.fixed_dictionaries({}, optional={"original_gift_name": _TEXT,
                                                               "original_gift_price": ints}),
            "sender_uinfo": st.fixed_dictionaries({}, optional={"base": st.fixed_dictionaries(
                {}, optional={"name": _TEXT, "face": _TEXT})})}))  # fmt: skip
        try:
            payload = pb.encode_send_gift_v2(g)
        except UnicodeEncodeError:  # a lone surrogate in a generated text
            payload = b""
        if draw(st.integers(0, 4)) == 0:
            payload = payload[: draw(st.integers(0, len(payload)))]
        msg["data"]["pb"] = pb.to_base64(payload)
    body = _dumps(msg, draw(st.integers(0, 3)) == 0).encode("utf-8", "surrogatepass")
    return _maybe_damaged(draw, body)


@_GENERATED
@given(st.lists(cmd_bodies(), min_size=1, max_size=4))
def test_generated_cmd_bodies_give_identical_events(cdecode, bodies):
    assert_identical(cdecode, frame_of(bodies))
