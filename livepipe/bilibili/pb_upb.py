"""The ``*_V2`` protobuf payloads read with Google's ``protobuf`` package (its ``upb`` C parser).

The message types are built at import from the schemas of :mod:`livepipe.bilibili.pb` (a
``FileDescriptorProto`` made in code: no ``.proto`` file, no generated module, nothing to
regenerate; a schema change in ``pb.py`` is picked up as it is). :func:`decode_pb_field` has the
contract of :func:`livepipe.bilibili.pb.decode_pb_field`: the same dict for the same payload. Where
upb refuses a payload (invalid UTF-8, a truncated field, a wire type 6 or 7, ...) the payload is
handed to the hand-written reader, which raises the error it always raised. Two non-canonical
encodings that Bilibili does not send are read differently (see ``docs/bilibili/events.md``): a
sub-message sent twice is merged by upb (the hand-written reader keeps the last), and an unknown
group field (wire types 3/4) is skipped by upb (the hand-written reader refuses it).

When ``protobuf`` is missing or runs its pure-Python backend (slower than ``pb.py``),
:data:`AVAILABLE` is ``False`` and callers use :mod:`~livepipe.bilibili.pb` directly.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from livepipe.bilibili import pb

__all__ = ["AVAILABLE", "decode_pb_field"]

try:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf.internal import api_implementation

    AVAILABLE = api_implementation.Type() == "upb"
except ImportError:  # pragma: no cover - protobuf is a dependency; a broken install falls back
    AVAILABLE = False

_FD = {  # pb.py kind -> FieldDescriptorProto type
    "int": 3,  # TYPE_INT64
    "uint": 4,  # TYPE_UINT64
    "bool": 8,  # TYPE_BOOL
    "str": 9,  # TYPE_STRING
    "bytes": 12,  # TYPE_BYTES
    "msg": 11,  # TYPE_MESSAGE
    "rep_msg": 11,
    "rep_int": 3,
    "rep_str": 9,
}
_OPTIONAL, _REPEATED = 1, 3

#: Per schema (by id; the entry keeps the schema alive): (schema, message class).
_CLASSES: dict[int, tuple[pb.Schema, Any]] = {}


def _add_message(file: Any, name: str, schema: pb.Schema, names: dict[int, str]) -> str:
    """Add ``schema`` (and its sub-schemas) to ``file`` as message ``name``; returns its full name."""
    full = f".livepipe.bilibili.{name}"
    names[id(schema)] = full
    msg = file.message_type.add(name=name)
    for number, spec in sorted(schema.items()):
        field = msg.field.add(name=spec[0], number=number, type=_FD[spec[1]])
        field.label = _REPEATED if spec[1] in ("rep_msg", "rep_int", "rep_str") else _OPTIONAL
        if spec[1] in ("msg", "rep_msg"):
            sub = spec[2]
            field.type_name = names.get(id(sub)) or _add_message(file, f"{name}_{spec[0]}", sub, names)
    return full


def _build(schemas: dict[str, pb.Schema]) -> None:
    file = descriptor_pb2.FileDescriptorProto(name="livepipe_bilibili_v2.proto", package="livepipe.bilibili")
    file.syntax = "proto3"
    names: dict[int, str] = {}
    for name, schema in schemas.items():
        _add_message(file, name, schema, names)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    for name, schema in schemas.items():
        cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"livepipe.bilibili.{name}"))
        _CLASSES[id(schema)] = (schema, cls)


if AVAILABLE:
    _build({"InteractWordEvent": pb.INTERACT_WORD_EVENT})


def _to_dict(m: Any, schema: pb.Schema) -> dict[str, Any]:
    """The decoded-form dict of ``m`` (as :func:`livepipe.bilibili.pb.decode_message` builds it)."""
    out: dict[str, Any] = {}
    for spec in schema.values():
        name, kind = spec[0], spec[1]
        if kind == "msg":
            out[name] = _to_dict(getattr(m, name), spec[2]) if m.HasField(name) else None
        elif kind == "rep_msg":
            out[name] = [_to_dict(x, spec[2]) for x in getattr(m, name)]
        elif kind in ("rep_int", "rep_str"):
            out[name] = list(getattr(m, name))
        else:
            out[name] = getattr(m, name)
    return out


def _interact_word_event(m: Any) -> dict[str, Any]:
    """:func:`_to_dict` for :data:`~livepipe.bilibili.pb.INTERACT_WORD_EVENT`, written out (3x faster
    than the loop; ``tests/bilibili/test_pb_upb.py`` checks it against pb.py's reader)."""
    fm = m.fans_medal if m.HasField("fans_medal") else None
    uinfo = None
    if m.HasField("uinfo"):
        u = m.uinfo
        b = u.base if u.HasField("base") else None
        uinfo = {"base": None if b is None else {"name": b.name, "face": b.face}}
    return {
        "uid": m.uid,
        "uname": m.uname,
        "msg_type": m.msg_type,
        "timestamp": m.timestamp,
        "fans_medal": None if fm is None else {
            "target_id": fm.target_id,
            "medal_level": fm.medal_level,
            "medal_name": fm.medal_name,
            "is_lighted": fm.is_lighted,
            "guard_level": fm.guard_level,
            "anchor_roomid": fm.anchor_roomid,
        },
        "trigger_time": m.trigger_time,
        "privilege_type": m.privilege_type,
        "uinfo": uinfo,
    }  # fmt: skip


_CONVERT: dict[int, Any] = {id(pb.INTERACT_WORD_EVENT): _interact_word_event}


def decode_pb_field(b64: Any, schema: pb.Schema) -> dict[str, Any]:
    """:func:`livepipe.bilibili.pb.decode_pb_field`, parsed by upb (same dict, same errors)."""
    entry = _CLASSES.get(id(schema))
    if entry is None or entry[0] is not schema or not isinstance(b64, (str, bytes)):
        return pb.decode_pb_field(b64, schema)
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return pb.decode_pb_field(b64, schema)  # raises its ProtocolError
    m = entry[1]()
    try:
        m.ParseFromString(raw)
    except Exception:  # upb's DecodeError: the hand-written reader names the problem as it always did
        return pb.decode_message(raw, schema)
    convert = _CONVERT.get(id(schema))
    return convert(m) if convert is not None else _to_dict(m, schema)
