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
from livepipe.bilibili import DecodeStats, fast
from livepipe.bilibili.protocol import (
    OP_AUTH_REPLY,
    OP_COMMAND,
    ProtocolError,
    encode_compressed,
    encode_packet,
    heartbeat_reply,
)

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
        for x, y in zip(tuple.__iter__(a), tuple.__iter__(b), strict=True):
            assert type(x) is type(y), (x, y)
        assert tuple(a[:8]) == tuple(b[:8])
        assert list(a.data.items()) == list(b.data.items())  # same keys in the same order, same values
        for k in a.data:
            assert type(a.data[k]) is type(b.data[k]), k
        ra, rb = tuple.__getitem__(a, 9), tuple.__getitem__(b, 9)
        if ra is not None:
            assert ra.json == rb.json
        assert a.raw == b.raw
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
        for cut in range(0, len(base), 9):  # truncations
            bodies.append(base[:cut])
        for _ in range(300):  # byte flips
            b = bytearray(base)
            for _ in range(rng.randint(1, 3)):
                b[rng.randrange(len(b))] = rng.choice(b'{}[]",:0123456789aeE-+.nul \\/u\x00\x1f\x7f\x80\xc3\xed\xff')
            bodies.append(bytes(b))
    for i in range(0, len(bodies), 20):
        assert_identical(cdecode, frame_of(bodies[i : i + 20]))


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
    if draw(st.integers(0, 9)) == 0:  # damage: a byte changed
        b = bytearray(body)
        b[draw(st.integers(0, len(b) - 1))] = draw(st.integers(0, 255))
        body = bytes(b)
    return body


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.lists(danmaku_bodies(), min_size=1, max_size=4))
def test_generated_bodies_give_identical_events(cdecode, bodies):
    assert_identical(cdecode, frame_of(bodies))
