"""A minimal protobuf wire-format reader and writer for the ``*_V2`` live commands (sans-I/O).

Some live commands carry their payload as base64 protobuf in ``data.pb`` instead of JSON
(``INTERACT_WORD_V2``, ``ONLINE_RANK_V3``, ``SEND_GIFT_V2``). We do not need a protobuf library
for three small messages: this module reads the wire format directly (varint, 64-bit,
length-delimited and 32-bit fields) and maps field numbers to names with small schema tables.

Guarantees of the readers:

* malformed input raises :class:`~livepipe.bilibili.protocol.ProtocolError` and nothing else;
* work is bounded by the input: every step consumes at least one byte, varints are at most
  10 bytes, lengths are checked against what remains, and nesting follows the fixed schema;
* unknown fields are skipped, and a known field arriving with an unexpected wire type is
  skipped too (Bilibili changes these messages without notice; we keep what we understand).

Decoded messages are plain dicts with *every* schema key present (proto3 defaults: ``0``,
``""``, ``False``, ``None`` for an absent sub-message, ``[]`` for repeated fields). The
encoders (``encode_*``) write the same dict shape back, skipping default values, so
``decode_x(encode_x(d)) == d`` for any dict in decoded form. The simulator uses them to build
synthetic payloads.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Any

from livepipe.bilibili.protocol import ProtocolError

# Wire types.
WT_VARINT = 0
WT_I64 = 1
WT_LEN = 2
WT_I32 = 5

_MAX_VARINT_BYTES = 10
_U64 = 1 << 64
_U64_MASK = _U64 - 1

__all__ = [
    "ProtocolError",
    "read_varint",
    "iter_fields",
    "encode_varint",
    "decode_message",
    "encode_message",
    "decode_interact_word",
    "encode_interact_word",
    "decode_online_rank_v3",
    "encode_online_rank_v3",
    "decode_send_gift_v2",
    "encode_send_gift_v2",
    "decode_pb_field",
    "to_base64",
    "INTERACT_WORD",
    "INTERACT_WORD_EVENT",
    "ONLINE_RANK_V3",
    "SEND_GIFT_V2",
]


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read an unsigned varint at ``pos``; return ``(value, new_pos)``. Raises :class:`ProtocolError`."""
    stop = min(len(buf), pos + _MAX_VARINT_BYTES)
    i = pos
    result = 0
    shift = 0
    while i < stop:
        b = buf[i]
        i += 1
        if b < 0x80:
            return (result | (b << shift)) & _U64_MASK, i
        result |= (b & 0x7F) << shift
        shift += 7
    if stop - pos == _MAX_VARINT_BYTES:
        raise ProtocolError(f"varint longer than {_MAX_VARINT_BYTES} bytes at offset {pos}")
    raise ProtocolError(f"truncated varint at offset {pos}")


def _skip_varint(buf: bytes, pos: int, end: int) -> int:
    """The position after the varint at ``pos`` (its value is not needed). Same errors as :func:`read_varint`."""
    stop = min(end, pos + _MAX_VARINT_BYTES)
    i = pos
    while i < stop:
        if buf[i] < 0x80:
            return i + 1
        i += 1
    return read_varint(buf, pos)[1]  # raises the matching error


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield ``(field_number, wire_type, value)`` for each field of one message.

    ``value`` is an ``int`` for varint, 64-bit and 32-bit fields (fixed-width values are read
    little-endian and unsigned) and ``bytes`` for length-delimited fields. Groups (wire types 3
    and 4) and the undefined wire types 6 and 7 raise :class:`ProtocolError`.
    """
    if not isinstance(buf, (bytes, bytearray)):
        raise ProtocolError(f"protobuf input must be bytes, not {type(buf).__name__}")
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos)
        field = key >> 3
        wt = key & 7
        if field == 0:
            raise ProtocolError(f"field number 0 before offset {pos}")
        if wt == WT_VARINT:
            value, pos = read_varint(buf, pos)
            yield field, wt, value
        elif wt == WT_LEN:
            n, pos = read_varint(buf, pos)
            if n > end - pos:
                raise ProtocolError(f"field {field} claims {n} bytes but only {end - pos} remain")
            yield field, wt, bytes(buf[pos : pos + n])
            pos += n
        elif wt == WT_I64:
            if end - pos < 8:
                raise ProtocolError(f"truncated 64-bit field {field}")
            yield field, wt, int.from_bytes(buf[pos : pos + 8], "little")
            pos += 8
        elif wt == WT_I32:
            if end - pos < 4:
                raise ProtocolError(f"truncated 32-bit field {field}")
            yield field, wt, int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        else:
            raise ProtocolError(f"unsupported wire type {wt} for field {field}")


def encode_varint(value: int) -> bytes:
    """Encode an integer as a varint; negative numbers use the 10-byte two's complement form."""
    if value < 0:
        value += _U64
    if value < 0 or value >= _U64:
        raise ValueError(f"varint out of 64-bit range: {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# --- schemas ----------------------------------------------------------------------------------
#
# A schema maps a field number to ``(name, kind)``, or ``(name, kind, sub_schema)`` for messages.
# Kinds: "int" (varint, read as signed 64-bit), "uint" (varint, unsigned), "bool", "str",
# "bytes", "msg" (nested message), "rep_msg" (repeated nested message), "rep_int" (repeated
# varint, packed or not), "rep_str" (repeated string).

Schema = dict[int, tuple[Any, ...]]

_DEFAULTS: dict[str, Any] = {"int": 0, "uint": 0, "bool": False, "str": "", "bytes": b"", "msg": None}
_REPEATED = ("rep_msg", "rep_int", "rep_str")


def _signed(v: int) -> int:
    return v - _U64 if v >= 1 << 63 else v


def _text(raw: bytes, field: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(f"field {field} is not valid UTF-8") from None


def _packed_varints(raw: bytes) -> list[int]:
    out = []
    pos = 0
    while pos < len(raw):
        v, pos = read_varint(raw, pos)
        out.append(_signed(v))
    return out


#: Per schema (by id; the entry keeps the schema alive so the id cannot be reused):
#: ``(schema, defaults of the non-repeated keys, names of the repeated keys)``.
_SHAPES: dict[int, tuple[Schema, dict[str, Any], tuple[str, ...]]] = {}


def _shape(schema: Schema) -> tuple[Schema, dict[str, Any], tuple[str, ...]]:
    """The default values of ``schema``'s keys, computed once per schema."""
    defaults = {spec[0]: None if spec[1] in _REPEATED else _DEFAULTS[spec[1]] for spec in schema.values()}
    repeated = tuple(spec[0] for spec in schema.values() if spec[1] in _REPEATED)
    if len(_SHAPES) >= 256:  # ad-hoc schemas (tests, tools): keep the cache small
        _SHAPES.clear()
    shape = _SHAPES[id(schema)] = (schema, defaults, repeated)
    return shape


def decode_message(buf: bytes, schema: Schema) -> dict[str, Any]:
    """Decode ``buf`` with ``schema`` into a dict holding every schema key (defaults for absent fields).

    Same wire rules as :func:`iter_fields` (which this inlines for speed).
    """
    if not isinstance(buf, (bytes, bytearray)):
        raise ProtocolError(f"protobuf input must be bytes, not {type(buf).__name__}")
    shape = _SHAPES.get(id(schema))
    if shape is None or shape[0] is not schema:
        shape = _shape(schema)
    out = shape[1].copy()
    for name in shape[2]:
        out[name] = []
    pos = 0
    end = len(buf)
    get = schema.get
    while pos < end:
        key = buf[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = read_varint(buf, pos)
        field = key >> 3
        wt = key & 7
        if field == 0:
            raise ProtocolError(f"field number 0 before offset {pos}")
        spec = get(field)
        if wt == WT_VARINT:
            if spec is None:
                if pos < end and buf[pos] < 0x80:
                    pos += 1
                else:
                    pos = _skip_varint(buf, pos, end)
                continue
            if pos < end and buf[pos] < 0x80:
                value = buf[pos]
                pos += 1
            else:
                value, pos = read_varint(buf, pos)
            kind = spec[1]
            if kind == "int":
                out[spec[0]] = value - _U64 if value >= 1 << 63 else value
            elif kind == "uint":
                out[spec[0]] = value
            elif kind == "bool":
                out[spec[0]] = value != 0
            elif kind == "rep_int":
                out[spec[0]].append(value - _U64 if value >= 1 << 63 else value)
            # a varint where we expected something else: schema drift, skip
        elif wt == WT_LEN:
            if pos < end and buf[pos] < 0x80:
                n = buf[pos]
                pos += 1
            else:
                n, pos = read_varint(buf, pos)
            if n > end - pos:
                raise ProtocolError(f"field {field} claims {n} bytes but only {end - pos} remain")
            start = pos
            pos += n
            if spec is None:
                continue
            kind = spec[1]
            if kind == "str":
                out[spec[0]] = _text(buf[start:pos], field)
            elif kind == "msg":
                out[spec[0]] = decode_message(buf[start:pos], spec[2])
            elif kind == "rep_msg":
                out[spec[0]].append(decode_message(buf[start:pos], spec[2]))
            elif kind == "bytes":
                out[spec[0]] = bytes(buf[start:pos])
            elif kind == "rep_str":
                out[spec[0]].append(_text(buf[start:pos], field))
            elif kind == "rep_int":
                out[spec[0]].extend(_packed_varints(buf[start:pos]))
        elif wt == WT_I64:
            if end - pos < 8:
                raise ProtocolError(f"truncated 64-bit field {field}")
            pos += 8  # none of our schemas use fixed-width fields: skipped
        elif wt == WT_I32:
            if end - pos < 4:
                raise ProtocolError(f"truncated 32-bit field {field}")
            pos += 4
        else:
            raise ProtocolError(f"unsupported wire type {wt} for field {field}")
    return out


def _encode_key(field: int, wt: int) -> bytes:
    return encode_varint((field << 3) | wt)


def _encode_len(field: int, payload: bytes) -> bytes:
    return _encode_key(field, WT_LEN) + encode_varint(len(payload)) + payload


def encode_message(msg: dict[str, Any], schema: Schema) -> bytes:
    """Encode a dict (decoded form; missing keys and default values are omitted) with ``schema``."""
    parts: list[bytes] = []
    for field in sorted(schema):
        spec = schema[field]
        name, kind = spec[0], spec[1]
        value = msg.get(name)
        if value is None:
            continue
        if kind in ("int", "uint"):
            if value:
                parts.append(_encode_key(field, WT_VARINT) + encode_varint(int(value)))
        elif kind == "bool":
            if value:
                parts.append(_encode_key(field, WT_VARINT) + b"\x01")
        elif kind == "str":
            if value:
                parts.append(_encode_len(field, str(value).encode()))
        elif kind == "bytes":
            if value:
                parts.append(_encode_len(field, bytes(value)))
        elif kind == "msg":
            parts.append(_encode_len(field, encode_message(value, spec[2])))
        elif kind == "rep_msg":
            for item in value:
                parts.append(_encode_len(field, encode_message(item, spec[2])))
        elif kind == "rep_str":
            for item in value:
                parts.append(_encode_len(field, str(item).encode()))
        elif kind == "rep_int":
            if value:
                parts.append(_encode_len(field, b"".join(encode_varint(int(v)) for v in value)))
    return b"".join(parts)


# Field numbers: docs/bilibili/events.md and the protocol notes, section 14.

_UINFO_BASE: Schema = {
    1: ("name", "str"),
    2: ("face", "str"),
    3: ("name_color", "int"),
    4: ("is_mystery", "bool"),
}
_UINFO: Schema = {
    1: ("uid", "int"),
    2: ("base", "msg", _UINFO_BASE),
    4: ("wealth", "msg", {1: ("level", "int")}),
}
_FANS_MEDAL: Schema = {
    1: ("target_id", "int"),
    2: ("medal_level", "int"),
    3: ("medal_name", "str"),
    8: ("is_lighted", "int"),
    9: ("guard_level", "int"),
    12: ("anchor_roomid", "int"),
}

#: ``INTERACT_WORD_V2`` (``live.xuserreward.v1.InteractWord``), the fields livepipe uses.
INTERACT_WORD: Schema = {
    1: ("uid", "int"),
    2: ("uname", "str"),
    3: ("uname_color", "str"),
    4: ("identities", "rep_int"),
    5: ("msg_type", "int"),
    6: ("roomid", "int"),
    7: ("timestamp", "int"),
    8: ("score", "int"),
    9: ("fans_medal", "msg", _FANS_MEDAL),
    15: ("trigger_time", "int"),
    16: ("privilege_type", "int"),
    21: ("is_mystery", "bool"),
    22: ("uinfo", "msg", _UINFO),
}

#: The part of :data:`INTERACT_WORD` that the ``enter``/``follow``/... events use: decoding
#: only these fields (the others are skipped unread) is what the parser does on the hot path.
INTERACT_WORD_EVENT: Schema = {
    1: ("uid", "int"),
    2: ("uname", "str"),
    5: ("msg_type", "int"),
    7: ("timestamp", "int"),
    9: ("fans_medal", "msg", _FANS_MEDAL),
    15: ("trigger_time", "int"),
    16: ("privilege_type", "int"),
    22: ("uinfo", "msg", {2: ("base", "msg", {1: ("name", "str"), 2: ("face", "str")})}),
}

_RANK_ITEM: Schema = {
    1: ("uid", "int"),
    2: ("face", "str"),
    3: ("score", "str"),
    4: ("uname", "str"),
    5: ("rank", "int"),
    6: ("guard_level", "int"),
    7: ("is_mystery", "bool"),
    8: ("uinfo", "msg", _UINFO),
}

#: ``ONLINE_RANK_V3``: rank type and the ranking items (field 3; field 2 is read the same way).
ONLINE_RANK_V3: Schema = {
    1: ("rank_type", "str"),
    2: ("list", "rep_msg", _RANK_ITEM),
    3: ("online_list", "rep_msg", _RANK_ITEM),
}

_GIFT_ITEM: Schema = {
    1: ("gift_id", "int"),
    2: ("gift_name", "str"),
    3: ("num", "int"),
    4: ("demarcation", "int"),
    5: ("price", "int"),
    6: ("discount_price", "int"),
    7: ("total_coin", "int"),
    8: ("coin_type", "str"),
    9: ("tid", "str"),
    10: ("timestamp", "int"),
    12: ("rnd", "str"),
    18: ("action", "str"),
    35: ("gift_info", "msg", {1: ("img_basic", "str")}),
}

#: ``SEND_GIFT_V2`` (``SendGiftBroadcast``); one message may carry several gifts in ``gift_list``.
SEND_GIFT_V2: Schema = {
    1: ("uid", "int"),
    2: ("uname", "str"),
    3: ("face", "str"),
    4: ("name_color", "str"),
    5: ("guard_level", "int"),
    8: (
        "medal_info",
        "msg",
        {1: ("target_id", "int"), 4: ("anchor_roomid", "int"), 5: ("medal_level", "int"), 6: ("medal_name", "str")},
    ),
    9: ("blind_gift", "msg", {3: ("original_gift_name", "str"), 6: ("original_gift_price", "int")}),
    10: ("gift_list", "rep_msg", _GIFT_ITEM),
    15: ("sender_uinfo", "msg", _UINFO),
}


def decode_interact_word(buf: bytes) -> dict[str, Any]:
    """Decode an ``INTERACT_WORD_V2`` payload (raw protobuf bytes)."""
    return decode_message(buf, INTERACT_WORD)


def encode_interact_word(msg: dict[str, Any]) -> bytes:
    """Encode an ``INTERACT_WORD_V2`` payload from a dict in the decoded form."""
    return encode_message(msg, INTERACT_WORD)


def decode_online_rank_v3(buf: bytes) -> dict[str, Any]:
    """Decode an ``ONLINE_RANK_V3`` payload (raw protobuf bytes)."""
    return decode_message(buf, ONLINE_RANK_V3)


def encode_online_rank_v3(msg: dict[str, Any]) -> bytes:
    """Encode an ``ONLINE_RANK_V3`` payload from a dict in the decoded form."""
    return encode_message(msg, ONLINE_RANK_V3)


def decode_send_gift_v2(buf: bytes) -> dict[str, Any]:
    """Decode a ``SEND_GIFT_V2`` payload (raw protobuf bytes)."""
    return decode_message(buf, SEND_GIFT_V2)


def encode_send_gift_v2(msg: dict[str, Any]) -> bytes:
    """Encode a ``SEND_GIFT_V2`` payload from a dict in the decoded form."""
    return encode_message(msg, SEND_GIFT_V2)


def decode_pb_field(b64: Any, schema: Schema) -> dict[str, Any]:
    """Decode the base64 text of a ``data.pb`` field with ``schema``; bad base64 raises :class:`ProtocolError`."""
    if not isinstance(b64, (str, bytes)):
        raise ProtocolError(f"data.pb must be a base64 string, not {type(b64).__name__}")
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ProtocolError(f"data.pb is not valid base64: {e}") from None
    return decode_message(raw, schema)


def to_base64(payload: bytes) -> str:
    """The ``data.pb`` text for a payload (standard base64 with padding, as Bilibili sends it)."""
    return base64.b64encode(payload).decode("ascii")
