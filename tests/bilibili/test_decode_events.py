"""decode_events: the one-step hot path, frame bytes -> events."""

import json

import pytest

from livepipe.bilibili import (
    DecodeStats,
    MessageError,
    Packet,
    ProtocolError,
    decode_events,
    decode_frame,
    encode_packet,
    parse_auth_reply,
    parse_command,
)
from livepipe.bilibili.protocol import OP_AUTH_REPLY, OP_COMMAND, encode_compressed, heartbeat_reply
from livepipe.events import RawMessage

from .conftest import ROOM, load_fixture

# every test runs on the compiled decoder and on the pure-Python one (conftest.decoder_impl)
pytestmark = pytest.mark.usefixtures("decoder_impl")

NAMES = ["danmu_msg", "send_gift", "interact_word_v2", "watched_change", "danmu_msg_masked_big", "unknown_cmd"]


def _pkt(msg) -> bytes:
    body = msg if isinstance(msg, bytes) else json.dumps(msg, ensure_ascii=False)
    return encode_packet(OP_COMMAND, body, ver=0, seq=0)


@pytest.mark.parametrize("ver", [2, 3])
def test_bundle_gives_one_event_per_message_in_order(ver):
    msgs = [load_fixture(n) for n in NAMES]
    frame = encode_compressed(b"".join(_pkt(m) for m in msgs), ver=ver)
    events = decode_events(frame, ROOM)
    assert [e.kind for e in events] == ["danmaku", "gift", "enter", "watched", "danmaku", "raw"]
    assert [e.raw for e in events] == msgs
    # identical to parsing each message on its own (ids included)
    for e, m in zip(events, msgs, strict=True):
        single = parse_command(m, ROOM)
        assert (e.id, e.kind, e.uid, e.text, e.data) == (single.id, single.kind, single.uid, single.text, single.data)


def test_raw_keeps_the_received_bytes_and_sinks_write_them():
    """Each event's raw is a RawMessage holding its packet body: the JSON form copies those bytes."""
    msgs = [load_fixture(n) for n in NAMES]
    bodies = [json.dumps(m, ensure_ascii=True).encode() for m in msgs]  # \u escapes, unlike orjson's output
    frame = encode_compressed(b"".join(_pkt(b) for b in bodies), ver=3)
    for e, body in zip(decode_events(frame, ROOM), bodies, strict=True):
        assert type(e.raw) is RawMessage and e.raw.json == body
        assert e.to_json_bytes().endswith(b',"raw":' + body + b"}")


def test_heartbeat_reply_gives_popularity_event():
    (e,) = decode_events(heartbeat_reply(2466, b"[object Object]"), ROOM)
    assert (e.kind, e.cmd, e.room_id, e.data, e.raw) == ("popularity", None, ROOM, {"popularity": 2466}, None)


def test_auth_reply_is_not_an_event_but_counted():
    stats = DecodeStats()
    assert decode_events(encode_packet(OP_AUTH_REPLY, b'{"code":0}'), ROOM, stats) == []
    assert stats.auth_replies == 1 and stats.events == 0


def test_parse_auth_reply():
    frame = encode_packet(OP_AUTH_REPLY, b'{"code":0}')
    assert parse_auth_reply(decode_frame(frame)[0]) == 0
    assert parse_auth_reply(b'{"code":-101}') == -101
    for bad in (b"nope", b"[1]", b'{"code":"0"}', b"{}"):
        with pytest.raises(ProtocolError):
            parse_auth_reply(bad)
    with pytest.raises(ProtocolError):
        parse_auth_reply(Packet(OP_COMMAND, 0, 0, b'{"code":0}'))


def test_bad_json_is_skipped_and_counted_other_messages_survive():
    stats = DecodeStats()
    inner = (
        _pkt(load_fixture("danmu_msg"))
        + _pkt(b'{"cmd": "DANMU_MSG", broken')
        + _pkt(b"\xff\xfe not utf-8")
        + _pkt(b"[1, 2, 3]")
        + _pkt(b"")
        + _pkt(load_fixture("live"))
    )
    events = decode_events(encode_compressed(inner), ROOM, stats)
    assert [e.kind for e in events] == ["danmaku", "live"]
    assert (stats.bad_json, stats.bad_message, stats.events, stats.packets, stats.frames) == (2, 1, 2, 6, 1)
    assert stats.as_dict()["bad_json"] == 2 and "bad_json=2" in repr(stats)


def test_broken_framing_raises_protocol_error_only():
    good = encode_compressed(_pkt(load_fixture("live")))
    with pytest.raises(ProtocolError):
        decode_events(good[:-3], ROOM)
    with pytest.raises(ProtocolError):
        decode_events("not bytes", ROOM)  # type: ignore[arg-type]


def test_other_ops_ignored():
    stats = DecodeStats()
    assert decode_events(encode_packet(2, b"{}") + encode_packet(3, b"\x00"), ROOM, stats) == []
    assert stats.ignored == 2


def test_exports():
    import livepipe.bilibili as b

    for name in ("decode_events", "ProtocolError", "Packet", "encode_packet", "decode_frame", "parse_command"):
        assert hasattr(b, name)
    assert issubclass(MessageError, ValueError)


def test_a_message_with_a_lone_surrogate_in_its_cmd_becomes_a_raw_event():
    """Found by fuzz/run.py command (json.loads lets lone surrogates through; parse_command is public)."""
    e = parse_command({"cmd": "room_admi\uddf2n", "uid": 1}, ROOM)
    assert (e.kind, e.cmd) == ("raw", "room_admi\uddf2n") and len(e.id) == 24


@pytest.mark.parametrize("cmd", ["SEND_GIFT", "DANMU_MSG", "SOME_UNKNOWN_CMD"])
def test_a_message_nested_1000_deep_becomes_a_raw_event_not_a_recursion_error(cmd):
    # decode_events promises ProtocolError and nothing else; the id fallback called repr() on the message,
    # which raised RecursionError out of the decoder for one hostile message
    deep = "[" * 1000 + "1" + "]" * 1000
    body = f'{{"cmd": "{cmd}", "data": {{"uid": 1, "deep": {deep}}}, "info": {deep}}}'
    stats = DecodeStats()
    events = decode_events(_pkt(body.encode()), ROOM, stats)
    assert [e.kind for e in events] == ["raw"] and events[0].cmd == cmd and len(events[0].id) == 24
