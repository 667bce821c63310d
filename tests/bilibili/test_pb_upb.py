"""pb_upb: upb reads INTERACT_WORD_V2 payloads into the dicts pb.py's reader makes, and fails as it fails."""

from __future__ import annotations

import random
from typing import Any

import pytest

from livepipe.bilibili import pb, pb_upb
from livepipe.bilibili.commands import users
from livepipe.bilibili.protocol import ProtocolError

S = pb.INTERACT_WORD_EVENT


def both(payload: bytes) -> tuple[Any, Any]:
    """(pb.py's result, upb's result) for a payload; an exception as ``(type, message)``."""
    b64 = pb.to_base64(payload)
    out = []
    for decode in (pb.decode_pb_field, pb_upb.decode_pb_field):
        try:
            out.append(decode(b64, S))
        except Exception as e:  # noqa: BLE001 - compared below
            out.append((type(e), str(e)))
    return out[0], out[1]


def test_upb_is_the_backend_and_the_parser_uses_it():
    assert pb_upb.AVAILABLE, "protobuf should run on upb (the default backend of protobuf >= 4.21 on CPython)"
    assert users._decode_pb is pb_upb.decode_pb_field


def test_generated_payloads_decode_to_the_same_dict():
    rng = random.Random(5)
    for _ in range(500):
        w: dict[str, Any] = {
            "uid": rng.choice([0, 1, 10_000_001, 2**63 - 1, -(2**63), -5]),
            "uname": rng.choice(["", "晴天小鱼", "x***", "a" * 200]),
            "uname_color": rng.choice(["", "#FF0000"]),
            "identities": rng.choice([[], [1], [1, 3, 2**40]]),
            "msg_type": rng.choice([0, 1, 2, 6, -1]),
            "roomid": rng.choice([0, 30000003]),
            "timestamp": rng.choice([0, 1767225600]),
            "score": rng.choice([0, 2**50]),
            "fans_medal": rng.choice([None, {}, {"target_id": 7, "medal_level": 21, "medal_name": "鱼", "is_lighted": 1,
                                                  "guard_level": 3, "anchor_roomid": 30000003}]),
            "trigger_time": rng.choice([0, 1767225600123456789]),
            "privilege_type": rng.choice([0, 1, 3]),
            "is_mystery": rng.choice([False, True]),
            "uinfo": rng.choice([None, {}, {"uid": 5, "base": {"name": "n", "face": "f", "name_color": 3},
                                            "wealth": {"level": 9}}, {"base": {}}]),
        }  # fmt: skip
        payload = pb.encode_interact_word(w)
        if rng.random() < 0.3:  # fields the schema does not know, in every wire type
            payload += rng.choice([b"\xa8\x06\x01", b"\xb2\x06\x02ab", b"\xb9\x06" + bytes(8), b"\xbd\x06" + bytes(4)])
        a, b = both(payload)
        assert a == b and list(a) == list(b)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x12\x02\xff\xfe",  # uname not UTF-8
        b"\x08",  # truncated varint
        b"\x08" + b"\xff" * 10 + b"\x01",  # varint too long
        b"\x12\x05ab",  # length past the end
        b"\x08\x05\x0f",  # wire type 7
        b"\x00\x01",  # field number 0
        b"\x4a\x03\x10",  # a truncated sub-message
    ],
)
def test_malformed_payloads_fail_with_the_same_error(payload):
    a, b = both(payload)
    assert a == b
    assert isinstance(a, tuple) and a[0] is ProtocolError


def test_bad_base64_and_other_schemas_go_to_the_hand_written_reader():
    for bad in ("not base64!", 5, None):
        with pytest.raises(ProtocolError) as e1:
            pb.decode_pb_field(bad, S)
        with pytest.raises(ProtocolError) as e2:
            pb_upb.decode_pb_field(bad, S)
        assert str(e1.value) == str(e2.value)
    payload = pb.to_base64(pb.encode_online_rank_v3({"rank_type": "x", "online_list": [{"uid": 1, "uname": "n"}]}))
    assert pb_upb.decode_pb_field(payload, pb.ONLINE_RANK_V3) == pb.decode_pb_field(payload, pb.ONLINE_RANK_V3)


def test_two_non_canonical_encodings_follow_the_protobuf_rules():
    """Documented in docs/bilibili/events.md: upb merges a sub-message sent twice and skips an unknown group."""
    first = pb.encode_message({"medal_level": 3}, pb._FANS_MEDAL)
    second = pb.encode_message({"medal_name": "x"}, pb._FANS_MEDAL)
    twice = b"\x4a" + bytes([len(first)]) + first + b"\x4a" + bytes([len(second)]) + second
    a, b = both(twice)
    assert a["fans_medal"]["medal_level"] == 0 and b["fans_medal"]["medal_level"] == 3  # pb.py: last one only
    assert a["fans_medal"]["medal_name"] == b["fans_medal"]["medal_name"] == "x"
    a, b = both(b"\x08\x05\x1b\x08\x01\x1c")  # uid 5, then a group (field 3, wire types 3/4)
    assert a[0] is ProtocolError and b["uid"] == 5
