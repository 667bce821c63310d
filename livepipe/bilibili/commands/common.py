"""The helpers every cmd parser shares: lenient field readers (``_int``, ``_str``, ...), the masked-user
rule, event construction (``_mk``, :func:`body_id`) and the ``raw`` fallback.

Every name here is used on the decode hot path: plain module-level functions, no indirection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from livepipe.errors import DecodeError
from livepipe.events import Event, make_id

_new_event = tuple.__new__
_loads = orjson.loads
_now = time.time


class MessageError(DecodeError, ValueError):
    """The message is not a JSON object, so it cannot be a Bilibili command."""


def _int(v: Any) -> int | None:
    """An int from an int, a numeric string or a float; ``None`` otherwise (bools are not ints here)."""
    t = type(v)
    if t is int:
        return v
    if t is str:
        try:
            return int(v)
        except ValueError:
            try:
                return int(float(v))
            except (ValueError, OverflowError):
                return None
    if t is float:
        try:
            return int(v)
        except (ValueError, OverflowError):
            return None
    return None


def _str(v: Any) -> str | None:
    """A string as is, a number as text, else ``None``."""
    t = type(v)
    if t is str:
        return v
    if t is int or t is float:
        return str(v)
    return None


def _d(v: Any) -> dict[str, Any]:
    """``v`` if it is a dict, else an empty dict (for chained lookups)."""
    return v if type(v) is dict else _EMPTY


_EMPTY: dict[str, Any] = {}


def _at(seq: Any, i: int) -> Any:
    """``seq[i]`` if ``seq`` is a list long enough, else ``None``."""
    if type(seq) is list and len(seq) > i:
        return seq[i]
    return None


def _is_masked(uid: int | None, uname: str | None) -> bool:
    """Anonymous-connection masking: uid 0, or a name ending in ``***`` (real names cannot hold ``*``)."""
    return uid == 0 or (uname is not None and uname.endswith("***"))


def _strip_marks(text: str) -> str:
    """Remove the ``<% %>`` highlight marks Bilibili puts around names in notices."""
    return text.replace("<%", "").replace("%>", "")


def _secs(v: Any) -> float | None:
    """A positive unix time in seconds, or ``None``."""
    if type(v) is not int:
        v = _int(v)
        if v is None:
            return None
    return float(v) if v > 0 else None


def _ms(v: Any) -> float | None:
    """A positive unix time in milliseconds, as seconds; or ``None``."""
    if type(v) is not int:
        v = _int(v)
        if v is None:
            return None
    return v / 1000.0 if v > 0 else None


def _ns(v: Any) -> float | None:
    """A positive unix time in nanoseconds, as seconds; or ``None``."""
    if type(v) is not int:
        v = _int(v)
        if v is None:
            return None
    return v / 1e9 if v > 0 else None


def body_id(room_id: int | None, cmd: str | None, ts: float, body: Any) -> str:
    """The stable id of a message without ``id_str``: :func:`livepipe.events.make_id`."""
    return make_id(room_id, cmd, ts, body)


def _mk(
    message: dict[str, Any],
    kind: str,
    cmd: str | None,
    room_id: int,
    ts: float | None,
    uid: int | None,
    uname: str | None,
    text: str | None,
    data: dict[str, Any],
) -> Event:
    """Build the event: message time (or root send_time) wins; the id never uses receive time."""
    if ts is None:
        st = message.get("send_time")
        if st is not None:  # (``_ms(None)`` is None: most messages have no send_time, skip the call)
            ts = _ms(st)
        if ts is None:
            return _new_event(Event, (make_id(room_id, cmd, 0.0, message), kind, cmd, room_id, _now(), uid, uname,
                                      text, data, message))  # fmt: skip
    return _new_event(Event, (make_id(room_id, cmd, ts, message), kind, cmd, room_id, ts, uid, uname, text, data,
                              message))  # fmt: skip


def _user(uid_v: Any, uname_v: Any) -> tuple[int | None, str | None, bool]:
    """Normalize a sender: ``(uid or None when masked, uname, masked)``."""
    uid = uid_v if type(uid_v) is int else _int(uid_v)
    uname = uname_v if type(uname_v) is str else _str(uname_v)
    if uid == 0 or (uname is not None and uname.endswith("***")):  # _is_masked, inlined
        return None, uname, True
    return uid, uname, False


def _medal_from_dict(m: Any) -> dict[str, Any] | None:
    """The ``medal`` data value from a JSON ``medal_info`` / ``fans_medal`` object (``None`` if absent/level 0)."""
    if type(m) is not dict:
        return None
    get = m.get
    level = get("medal_level")
    if type(level) is not int:
        level = _int(level)
    if not level:
        return None
    # each field as _int / _str would give it, with the call skipped when the JSON type is already right
    name, target, anchor, roomid, guard = (
        get("medal_name"), get("target_id"), get("anchor_uname"), get("anchor_roomid"), get("guard_level")
    )  # fmt: skip
    return {
        "level": level,
        "name": name if type(name) is str else _str(name),
        "streamer_uid": target if type(target) is int else _int(target),
        "streamer_name": anchor if type(anchor) is str else _str(anchor),
        "room_id": roomid if type(roomid) is int else _int(roomid),
        "guard_level": (guard if type(guard) is int else _int(guard)) or 0,
        "is_lighted": bool(get("is_lighted")),
    }


def _raw(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    return _mk(message, "raw", cmd, room_id, None, None, None, None, {})


Handler = Callable[[dict[str, Any], str, int], Event]
