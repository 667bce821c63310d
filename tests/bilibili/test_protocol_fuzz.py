"""Fuzzing the sans-I/O decoders: whatever the bytes, only ProtocolError escapes, and work is bounded."""

import json
import struct
import zlib

import brotli
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livepipe.bilibili import decode_events
from livepipe.bilibili.pb import INTERACT_WORD, ONLINE_RANK_V3, SEND_GIFT_V2, decode_message
from livepipe.bilibili.protocol import (
    OP_COMMAND,
    VER_BROTLI,
    VER_PLAIN_JSON,
    VER_ZLIB,
    ProtocolError,
    decode_frame,
    encode_compressed,
    encode_packet,
    heartbeat_reply,
)

# every test runs on the compiled decoder and on the pure-Python one (conftest.decoder_impl)
pytestmark = pytest.mark.usefixtures("decoder_impl")

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _valid_frames() -> list[bytes]:
    cmds = b"".join(
        encode_packet(OP_COMMAND, json.dumps({"cmd": "DANMU_MSG", "info": [[0, 1], f"t{i}", [i, "u"]]}), ver=0, seq=0)
        for i in range(5)
    )
    return [
        encode_compressed(cmds, ver=VER_BROTLI),
        encode_compressed(cmds, ver=VER_ZLIB),
        cmds,
        heartbeat_reply(7, b"[object Object]"),
        encode_packet(8, b'{"code":0}'),
    ]


VALID = _valid_frames()


def _check(frame: bytes) -> None:
    try:
        packets = decode_frame(frame)
    except ProtocolError:
        return
    for p in packets:
        assert len(p.body) <= 16 * 1024 * 1024


def _check_events(frame: bytes) -> None:
    try:
        decode_events(frame, 1)
    except ProtocolError:
        pass


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes(data):
    _check(data)
    _check_events(data)


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_bit_flips(frame, data):
    buf = bytearray(frame)
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] ^= 1 << data.draw(st.integers(0, 7))
    _check(bytes(buf))
    _check_events(bytes(buf))


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_truncations_and_extensions(frame, data):
    cut = data.draw(st.integers(0, len(frame)))
    tail = data.draw(st.binary(max_size=40))
    _check(frame[:cut])
    _check(frame[:cut] + tail)
    _check_events(frame[:cut] + tail)


@FUZZ
@given(
    st.sampled_from(VALID),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**16 - 1),
    st.integers(0, 2**16 - 1),
    st.integers(0, 2**32 - 1),
)
def test_header_field_edits(frame, pack_len, header_len, ver, op):
    _, _, _, _, seq = struct.unpack(">IHHII", frame[:16])
    edited = struct.pack(">IHHII", pack_len, header_len, ver, op, seq) + frame[16:]
    _check(edited)
    _check_events(edited)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.sampled_from([VER_ZLIB, VER_BROTLI]), st.binary(min_size=1, max_size=4))
def test_compressed_bombs_bounded(mb, ver, unit):
    raw = unit * (mb * 1024 * 1024 // len(unit))
    body = zlib.compress(raw, 9) if ver == VER_ZLIB else brotli.compress(raw, quality=1)
    frame = encode_packet(OP_COMMAND, body, ver=ver)
    try:
        packets = decode_frame(frame)
    except ProtocolError:
        return
    assert len(raw) <= 16 * 1024 * 1024
    assert sum(len(p.body) for p in packets) <= len(raw)


@FUZZ
@given(st.binary(max_size=300), st.sampled_from([INTERACT_WORD, ONLINE_RANK_V3, SEND_GIFT_V2]))
def test_pb_random_bytes_only_protocol_error(data, schema):
    try:
        out = decode_message(data, schema)
    except ProtocolError:
        return
    assert isinstance(out, dict)


@FUZZ
@given(st.binary(max_size=200))
def test_plain_command_bodies_never_escape(body):
    # Garbage JSON bodies inside good framing never raise: they are skipped and counted.
    frame = encode_packet(OP_COMMAND, body, ver=VER_PLAIN_JSON) + encode_packet(OP_COMMAND, b'{"cmd":"LIVE"}', ver=0)
    events = decode_events(frame, 1)
    assert events[-1].kind == "live"
