"""Protobuf wire reader and encoders."""

import base64

import pytest

from livepipe.bilibili import pb
from livepipe.bilibili.protocol import ProtocolError


def test_varint_round_trip_and_limits():
    for v in (0, 1, 127, 128, 300, 2**32, 2**63 - 1, 2**64 - 1):
        enc = pb.encode_varint(v)
        assert pb.read_varint(enc, 0) == (v, len(enc))
    assert pb.encode_varint(300) == b"\xac\x02"
    assert pb.encode_varint(-1) == b"\xff" * 9 + b"\x01"
    with pytest.raises(ProtocolError, match="truncated"):
        pb.read_varint(b"\x80\x80", 0)
    with pytest.raises(ProtocolError, match="longer"):
        pb.read_varint(b"\xff" * 11, 0)
    with pytest.raises(ValueError):
        pb.encode_varint(2**64)


def test_iter_fields_all_wire_types():
    buf = (
        b"\x08\x96\x01"  # field 1 varint 150
        + b"\x11" + (7).to_bytes(8, "little")  # field 2 fixed64
        + b"\x1a\x03abc"  # field 3 bytes
        + b"\x25" + (9).to_bytes(4, "little")  # field 4 fixed32
    )  # fmt: skip
    assert list(pb.iter_fields(buf)) == [(1, 0, 150), (2, 1, 7), (3, 2, b"abc"), (4, 5, 9)]


@pytest.mark.parametrize(
    "buf, match",
    [
        (b"\x1a\x05ab", "claims"),
        (b"\x11\x00", "64-bit"),
        (b"\x25\x00", "32-bit"),
        (b"\x0b", "wire type 3"),
        (b"\x0e", "wire type 6"),
        (b"\x00\x01", "field number 0"),
        (b"\x08", "truncated varint"),
    ],
)
def test_malformed_wire(buf, match):
    with pytest.raises(ProtocolError, match=match):
        list(pb.iter_fields(buf))
    with pytest.raises(ProtocolError):
        pb.decode_message(buf, pb.INTERACT_WORD)


def test_hand_built_interact_word_decodes_field_numbers():
    # Built by hand from protocol.md section 14, independent of our encoder.
    name = "测试".encode()
    medal = b"\x08\x82\x9a\x0c" + b"\x10\x05" + b"\x1a\x06" + "小鱼".encode() + b"\x40\x01" + b"\x60\x83\xd8\x27"
    uinfo = b"\x08\x01" + b"\x12\x04\x0a\x02ab"
    buf = (
        b"\x08\x81\xad\xe2\x04"  # 1 uid = 10000001
        + b"\x12" + bytes([len(name)]) + name  # 2 uname
        + b"\x22\x02\x03\x01"  # 4 identities, packed
        + b"\x28\x02"  # 5 msg_type = 2 (follow)
        + b"\x30\x83\xd8\x27"  # 6 roomid = 650243
        + b"\x38\x80\xe5\xb8\xca\x06"  # 7 timestamp = 1766732416
        + b"\x4a" + bytes([len(medal)]) + medal  # 9 fans_medal
        + b"\xb2\x01" + bytes([len(uinfo)]) + uinfo  # 22 uinfo
        + b"\xf8\x06\x01"  # unknown field 111: skipped
    )  # fmt: skip
    d = pb.decode_interact_word(buf)
    assert d["uid"] == 10000001
    assert d["uname"] == "测试"
    assert d["identities"] == [3, 1]
    assert d["msg_type"] == 2
    assert d["roomid"] == 650243
    assert d["timestamp"] == 1766732416
    assert d["fans_medal"] == {
        "target_id": 199938, "medal_level": 5, "medal_name": "小鱼", "is_lighted": 1, "guard_level": 0,
        "anchor_roomid": 650243,
    }  # fmt: skip
    assert d["uinfo"] == {
        "uid": 1,
        "base": {"name": "ab", "face": "", "name_color": 0, "is_mystery": False},
        "wealth": None,
    }
    assert d["score"] == 0 and d["uname_color"] == "" and d["is_mystery"] is False


def test_wrong_wire_type_for_known_field_is_skipped():
    # rank_type (field 1) as a varint, which is how one client misreads it: we skip it.
    d = pb.decode_online_rank_v3(b"\x08\x05" + b"\x1a\x02\x08\x07")
    assert d["rank_type"] == "" and d["online_list"][0]["uid"] == 7


def test_negative_int64_and_bad_utf8():
    assert pb.decode_message(b"\x08" + pb.encode_varint(-5), {1: ("x", "int")}) == {"x": -5}
    assert pb.decode_message(b"\x08" + pb.encode_varint(-5), {1: ("x", "uint")}) == {"x": 2**64 - 5}
    with pytest.raises(ProtocolError, match="UTF-8"):
        pb.decode_message(b"\x12\x01\xff", pb.INTERACT_WORD)


INTERACT = {
    "uid": 10000002, "uname": "test_alice", "uname_color": "#FF0000", "identities": [3, 1], "msg_type": 1,
    "roomid": 30000003, "timestamp": 1767225643, "score": 1767225643000,
    "fans_medal": {"target_id": 20000002, "medal_level": 5, "medal_name": "小鱼干", "is_lighted": 1, "guard_level": 3,
                   "anchor_roomid": 30000003},
    "trigger_time": 1767225643500000000, "privilege_type": 3, "is_mystery": True,
    "uinfo": {"uid": 10000002,
              "base": {"name": "test_alice", "face": "https://x/f.jpg", "name_color": 1, "is_mystery": True},
              "wealth": {"level": 9}},
}  # fmt: skip
RANK = {
    "rank_type": "online_rank",
    "list": [],
    "online_list": [
        {"uid": 1, "face": "f", "score": "520", "uname": "a", "rank": 1, "guard_level": 3, "is_mystery": False,
         "uinfo": None},
        {"uid": 0, "face": "", "score": "20", "uname": "b***", "rank": 2, "guard_level": 0, "is_mystery": True,
         "uinfo": {"uid": 0, "base": None, "wealth": {"level": 1}}},
    ],
}  # fmt: skip
GIFT = {
    "uid": 10000002, "uname": "test_alice", "face": "https://x/f.jpg", "name_color": "", "guard_level": 2,
    "medal_info": {"target_id": 20000002, "anchor_roomid": 30000003, "medal_level": 5, "medal_name": "小鱼干"},
    "blind_gift": {"original_gift_name": "心动盲盒", "original_gift_price": 15000},
    "gift_list": [
        {"gift_id": 31036, "gift_name": "小花花", "num": 2, "demarcation": 1, "price": 100, "discount_price": 100,
         "total_coin": 200, "coin_type": "gold", "tid": "1", "timestamp": 1767225612, "rnd": "9", "action": "投喂",
         "gift_info": {"img_basic": "https://x/g.png"}},
        {"gift_id": 1, "gift_name": "辣条", "num": 1, "demarcation": 0, "price": 0, "discount_price": 0,
         "total_coin": 0, "coin_type": "silver", "tid": "2", "timestamp": 1767225612, "rnd": "", "action": "投喂",
         "gift_info": None},
    ],
    "sender_uinfo": None,
}  # fmt: skip


@pytest.mark.parametrize(
    "msg, enc, dec",
    [
        (INTERACT, pb.encode_interact_word, pb.decode_interact_word),
        (RANK, pb.encode_online_rank_v3, pb.decode_online_rank_v3),
        (GIFT, pb.encode_send_gift_v2, pb.decode_send_gift_v2),
    ],
)
def test_round_trip(msg, enc, dec):
    assert dec(enc(msg)) == msg


def test_encoder_skips_defaults_and_partial_dicts():
    assert pb.encode_interact_word({}) == b""
    assert pb.encode_interact_word({"uid": 0, "uname": "", "is_mystery": False}) == b""
    d = pb.decode_interact_word(pb.encode_interact_word({"uid": 5}))
    assert d["uid"] == 5 and d["fans_medal"] is None and d["identities"] == []


def test_decode_pb_field_base64():
    text = pb.to_base64(pb.encode_interact_word({"uid": 5, "msg_type": 3}))
    assert base64.b64decode(text)
    d = pb.decode_pb_field(text, pb.INTERACT_WORD)
    assert (d["uid"], d["msg_type"]) == (5, 3)
    for bad in ("###", None, 5, "QQ="):
        with pytest.raises(ProtocolError):
            pb.decode_pb_field(bad, pb.INTERACT_WORD)
