"""Minimal protobuf wire-format writer (and a generic reader for re-masking) for the simulator.

Only what the simulator needs to produce the ``*_V2``/``_V3`` payloads of protocol.md §14:
varints, length-delimited fields (strings, bytes, nested messages) and packed repeated varints.
Field numbers follow the notes in protocol.md; they are not a complete schema.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Iterable
from typing import Any

WT_VARINT = 0
WT_I64 = 1
WT_LEN = 2
WT_I32 = 5


_ONE_BYTE = [bytes((i,)) for i in range(128)]


def varint(n: int) -> bytes:
    """Encode ``n`` as a protobuf varint (negative ints use the 64-bit two's complement)."""
    if 0 <= n < 128:
        return _ONE_BYTE[n]
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field: int, wire_type: int) -> bytes:
    """A field key."""
    return varint((field << 3) | wire_type)


def f_int(field: int, value: int | bool) -> bytes:
    """A varint field; zero values are omitted as proto3 does."""
    value = int(value)
    return key(field, WT_VARINT) + varint(value) if value else b""


def f_bytes(field: int, value: bytes) -> bytes:
    """A length-delimited field (bytes or an encoded nested message); empty values are omitted."""
    return key(field, WT_LEN) + varint(len(value)) + value if value else b""


def f_str(field: int, value: str) -> bytes:
    """A string field; empty strings are omitted."""
    return f_bytes(field, value.encode())


def f_msg(field: int, body: bytes) -> bytes:
    """A nested message field (always written, even when empty)."""
    return key(field, WT_LEN) + varint(len(body)) + body


def f_packed(field: int, values: Iterable[int]) -> bytes:
    """A packed repeated varint field."""
    body = b"".join(varint(v) for v in values)
    return f_bytes(field, body)


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = 0
    out = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        out |= (b & 0x7F) << shift
        if not b & 0x80:
            return out, i
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")


def read_fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """Split ``buf`` into ``(field, wire_type, value)``: ints for varint/fixed, bytes for length-delimited."""
    out: list[tuple[int, int, Any]] = []
    i = 0
    while i < len(buf):
        k, i = _read_varint(buf, i)
        field, wt = k >> 3, k & 7
        if wt == WT_VARINT:
            v, i = _read_varint(buf, i)
        elif wt == WT_LEN:
            n, i = _read_varint(buf, i)
            v = buf[i : i + n]
            if len(v) != n:
                raise ValueError("truncated length-delimited field")
            i += n
        elif wt == WT_I64:
            v, i = int.from_bytes(buf[i : i + 8], "little"), i + 8
        elif wt == WT_I32:
            v, i = int.from_bytes(buf[i : i + 4], "little"), i + 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        out.append((field, wt, v))
    return out


def write_fields(fields: Iterable[tuple[int, int, Any]]) -> bytes:
    """Inverse of :func:`read_fields`."""
    out = bytearray()
    for field, wt, v in fields:
        out += key(field, wt)
        if wt == WT_VARINT:
            out += varint(v)
        elif wt == WT_LEN:
            out += varint(len(v)) + v
        elif wt == WT_I64:
            out += int(v).to_bytes(8, "little")
        else:
            out += int(v).to_bytes(4, "little")
    return bytes(out)


def b64(data: bytes) -> str:
    """Standard base64 text, as ``data.pb`` carries it."""
    return base64.b64encode(data).decode()


# --- payload encoders --------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def fans_medal(target_id: int, level: int, name: str, guard_level: int = 0, anchor_roomid: int = 0) -> bytes:
    """The fans_medal sub-message of INTERACT_WORD_V2 (field 9). Cached: it is the same for every enter."""
    if not level:
        return b""
    return b"".join(
        [
            f_int(1, target_id),
            f_int(2, level),
            f_str(3, name),
            f_int(4, 6067854),
            f_int(5, 6067854),
            f_int(6, 6067854),
            f_int(7, 6067854),
            f_int(8, 1),
            f_int(9, guard_level),
            f_int(12, anchor_roomid),
        ]
    )


@functools.lru_cache(maxsize=65536)
def uinfo(uid: int, name: str, face: str, wealth_level: int = 0) -> bytes:
    """A ``uinfo`` sub-message: 1 uid, 2 base{1 name, 2 face}, 4 wealth{1 level}. Cached per user."""
    base = f_str(1, name) + f_str(2, face)
    out = f_int(1, uid) + f_msg(2, base)
    if wealth_level:
        out += f_msg(4, f_int(1, wealth_level))
    return out


def interact_word_v2(
    *,
    uid: int,
    uname: str,
    msg_type: int,
    roomid: int,
    timestamp: int,
    face: str = "",
    medal: bytes = b"",
    guard_level: int = 0,
    wealth_level: int = 0,
    identities: Iterable[int] = (1,),
) -> bytes:
    """Encode an ``InteractWord`` (protocol.md §14) for INTERACT_WORD_V2's ``data.pb``."""
    return b"".join(
        [
            f_int(1, uid),
            f_str(2, uname),
            f_packed(4, identities),
            f_int(5, msg_type),
            f_int(6, roomid),
            f_int(7, timestamp),
            f_int(8, timestamp * 1000),
            f_bytes(9, medal),
            f_int(15, timestamp * 1_000_000_000),
            f_int(16, guard_level),
            f_msg(22, uinfo(uid, uname, face, wealth_level)),
        ]
    )


def online_rank_v3(items: Iterable[dict[str, Any]], rank_type: str = "online_rank") -> bytes:
    """Encode ONLINE_RANK_V3's payload: 1 rank_type, 3 repeated {uid, face, score, uname, rank, guard_level}."""
    out = bytearray(f_str(1, rank_type))
    for it in items:
        body = b"".join(
            [
                f_int(1, it["uid"]),
                f_str(2, it.get("face", "")),
                f_str(3, str(it.get("score", "0"))),
                f_str(4, it["uname"]),
                f_int(5, it["rank"]),
                f_int(6, it.get("guard_level", 0)),
            ]
        )
        out += f_msg(3, body)
    return bytes(out)


def send_gift_v2(
    *,
    uid: int,
    uname: str,
    face: str,
    guard_level: int,
    medal: tuple[int, int, int, str] | None,
    gifts: Iterable[dict[str, Any]],
) -> bytes:
    """Encode ``SendGiftBroadcast`` for SEND_GIFT_V2.

    ``medal`` is ``(target_id, anchor_roomid, level, name)``; each gift dict has gift_id, gift_name,
    num, price, total_coin, coin_type, tid, timestamp, rnd, action, img.
    """
    out = bytearray(f_int(1, uid) + f_str(2, uname) + f_str(3, face) + f_int(5, guard_level))
    if medal:
        t, r, lv, name = medal
        out += f_msg(8, f_int(1, t) + f_int(4, r) + f_int(5, lv) + f_str(6, name))
    for g in gifts:
        body = b"".join(
            [
                f_int(1, g["gift_id"]),
                f_str(2, g["gift_name"]),
                f_int(3, g["num"]),
                f_int(5, g["price"]),
                f_int(6, g["price"]),
                f_int(7, g["total_coin"]),
                f_str(8, g["coin_type"]),
                f_str(9, str(g["tid"])),
                f_int(10, g["timestamp"]),
                f_str(12, str(g["rnd"])),
                f_str(18, g["action"]),
                f_msg(35, f_str(1, g.get("img", ""))),
            ]
        )
        out += f_msg(10, body)
    out += f_msg(15, uinfo(uid, uname, face))
    return bytes(out)
