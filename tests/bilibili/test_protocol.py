"""Packet codec: golden vectors from the upstream hex dumps, quirks, nesting, malformed input."""

import json
import struct
import zlib

import brotli
import pytest

from livepipe.bilibili.protocol import (
    HEADER_LEN,
    MAX_DEPTH,
    OP_AUTH,
    OP_AUTH_REPLY,
    OP_COMMAND,
    OP_HEARTBEAT,
    OP_HEARTBEAT_REPLY,
    VER_BROTLI,
    VER_PLAIN,
    VER_PLAIN_JSON,
    VER_ZLIB,
    Packet,
    ProtocolError,
    decode_frame,
    encode_compressed,
    encode_packet,
    heartbeat,
    heartbeat_reply,
)

# Golden vectors: byte dumps from the upstream message_stream.md (re-typed as data).
AUTH_REPLY = bytes.fromhex("0000001a0010000100000008000000017b22636f6465223a307d")
HEARTBEAT_WEB = bytes.fromhex("0000001f0010000100000002000000015b6f626a656374204f626a6563745d")
HEARTBEAT_REPLY = bytes.fromhex("00000014001000010000000300000000000009a25b6f626a656374204f626a6563745d")
COMMAND_BROTLI = bytes.fromhex(
    "000000860010000300000005000000008b3880000000720010000000000005000000007b22636d64223a22574154434845445f4348"
    "414e4745222c2264617461223a7b226e756d223a32323039372c22746578745f736d616c6c223a22322e32e4b887222c2274657874"
    "5f6c61726765223a22322e32e4b887e4babae79c8be8bf87227d7d03"
)
WATCHED_BODY = {"cmd": "WATCHED_CHANGE", "data": {"num": 22097, "text_small": "2.2万", "text_large": "2.2万人看过"}}


def test_golden_auth_reply():
    assert decode_frame(AUTH_REPLY) == [Packet(OP_AUTH_REPLY, VER_PLAIN, 1, b'{"code":0}')]
    assert encode_packet(OP_AUTH_REPLY, b'{"code":0}') == AUTH_REPLY


def test_golden_client_heartbeat_encodes_byte_exact():
    assert encode_packet(OP_HEARTBEAT, "[object Object]") == HEARTBEAT_WEB
    assert heartbeat(b"[object Object]") == HEARTBEAT_WEB
    assert decode_frame(HEARTBEAT_WEB) == [Packet(OP_HEARTBEAT, VER_PLAIN, 1, b"[object Object]")]


def test_golden_heartbeat_reply_quirk():
    # pack_len says 20 but the frame is 35 bytes: the echo trails outside pack_len.
    assert struct.unpack(">I", HEARTBEAT_REPLY[:4])[0] == 20 and len(HEARTBEAT_REPLY) == 35
    (p,) = decode_frame(HEARTBEAT_REPLY)
    assert p.op == OP_HEARTBEAT_REPLY and p.popularity == 2466 and p.body == b"\x00\x00\x09\xa2"
    assert heartbeat_reply(2466, b"[object Object]") == HEARTBEAT_REPLY


def test_golden_brotli_command():
    (p,) = decode_frame(COMMAND_BROTLI)
    assert (p.op, p.ver, p.seq) == (OP_COMMAND, VER_PLAIN_JSON, 0)
    assert json.loads(p.body) == WATCHED_BODY


def test_popularity_only_on_heartbeat_reply():
    with pytest.raises(ProtocolError):
        _ = Packet(OP_COMMAND, 0, 0, b"1234").popularity
    with pytest.raises(ProtocolError):
        _ = Packet(OP_HEARTBEAT_REPLY, 1, 0, b"12").popularity


def _cmd(i: int) -> bytes:
    return encode_packet(OP_COMMAND, json.dumps({"cmd": "X", "i": i}), ver=VER_PLAIN_JSON, seq=0)


@pytest.mark.parametrize("ver", [VER_ZLIB, VER_BROTLI])
def test_compressed_bundle_of_many(ver):
    frame = encode_compressed(b"".join(_cmd(i) for i in range(50)), ver=ver)
    packets = decode_frame(frame)
    assert [json.loads(p.body)["i"] for p in packets] == list(range(50))
    assert all(p.ver == VER_PLAIN_JSON for p in packets)


def test_several_top_level_packets_and_plain_versions():
    frame = _cmd(1) + encode_packet(OP_COMMAND, b'{"cmd":"Y"}', ver=VER_PLAIN) + encode_compressed(_cmd(2)) + _cmd(3)
    packets = decode_frame(frame)
    assert [p.ver for p in packets] == [VER_PLAIN_JSON, VER_PLAIN, VER_PLAIN_JSON, VER_PLAIN_JSON]
    assert [p.body for p in packets][1] == b'{"cmd":"Y"}'


def test_nested_compression_within_limit_and_too_deep():
    inner = _cmd(7)
    for _ in range(MAX_DEPTH):
        inner = encode_compressed(inner, ver=VER_ZLIB)
    assert json.loads(decode_frame(inner)[0].body)["i"] == 7
    with pytest.raises(ProtocolError, match="nested"):
        decode_frame(encode_compressed(inner, ver=VER_BROTLI))


def test_heartbeat_reply_echo_is_not_parsed_as_packets():
    # The echo could look like anything, including garbage that is not a header.
    frame = heartbeat_reply(5, b"\xff" * 40)
    assert [p.popularity for p in decode_frame(frame)] == [5]


def test_auth_packet_encoding():
    body = {"uid": 0, "roomid": 30000003, "protover": 3, "platform": "web", "type": 2, "key": "k"}
    frame = encode_packet(OP_AUTH, json.dumps(body))
    pack_len, header_len, ver, op, seq = struct.unpack(">IHHII", frame[:16])
    assert (pack_len, header_len, ver, op, seq) == (len(frame), HEADER_LEN, VER_PLAIN, OP_AUTH, 1)


def test_empty_frame_is_no_packets():
    assert decode_frame(b"") == []


@pytest.mark.parametrize(
    "frame, match",
    [
        (b"\x00" * 10, "too short"),
        (AUTH_REPLY[:-1], "claims"),
        (AUTH_REPLY + b"\x00\x00", "too short"),
        (struct.pack(">IHHII", 16, 8, 1, 5, 0), "header_len"),
        (struct.pack(">IHHII", 16, 20, 1, 5, 0), "header_len"),
        (encode_packet(OP_COMMAND, b"not brotli at all", ver=VER_BROTLI), "brotli"),
        (encode_packet(OP_COMMAND, b"not zlib", ver=VER_ZLIB), "zlib"),
        (encode_packet(OP_COMMAND, zlib.compress(_cmd(1))[:-4], ver=VER_ZLIB), "zlib"),
        (encode_packet(OP_COMMAND, brotli.compress(_cmd(1) * 20)[:-3], ver=VER_BROTLI), "brotli"),
        (encode_compressed(b"\x00\x00\x00\x30" + b"\x00" * 8), "trailing|short|claims"),
    ],
)
def test_malformed_raises_protocol_error(frame, match):
    with pytest.raises(ProtocolError, match=match):
        decode_frame(frame)


def test_protocol_error_is_a_value_error_and_non_bytes_refused():
    assert issubclass(ProtocolError, ValueError)
    with pytest.raises(ProtocolError):
        decode_frame("text")  # type: ignore[arg-type]
    assert decode_frame(bytearray(AUTH_REPLY))[0].op == OP_AUTH_REPLY
    assert decode_frame(memoryview(AUTH_REPLY))[0].op == OP_AUTH_REPLY


def test_decompression_bomb_refused():
    bomb = encode_packet(OP_COMMAND, zlib.compress(b"\x00" * (17 * 1024 * 1024), 9), ver=VER_ZLIB)
    with pytest.raises(ProtocolError, match="allowed size"):
        decode_frame(bomb)
    bomb = encode_packet(OP_COMMAND, brotli.compress(b"\x00" * (17 * 1024 * 1024), quality=1), ver=VER_BROTLI)
    with pytest.raises(ProtocolError, match="allowed size"):
        decode_frame(bomb)


def test_encode_compressed_rejects_other_versions():
    with pytest.raises(ValueError):
        encode_compressed(_cmd(1), ver=VER_PLAIN)
