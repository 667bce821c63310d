"""Bilibili live command dicts -> :class:`~livepipe.events.Event` (sans-I/O, lenient, fast).

:func:`parse_command` turns one decoded JSON message (``{"cmd": ..., ...}``) into one event.
The mapping from cmd to ``kind`` and the ``data`` keys of every kind are the public contract
documented in ``docs/bilibili/events.md``; keep the two in step.

Rules (all documented there):

* ``cmd`` suffixes are stripped (``DANMU_MSG:4:0:2:2:2:0`` -> ``DANMU_MSG``); ``Event.cmd`` holds
  the stripped form, ``raw["cmd"]`` the original.
* ``Event.room_id`` is always the ``room_id`` argument: the real id of the room whose connection
  carried the message. Room ids inside messages stay in ``raw``.
* ``Event.ts`` is the message's own time where it has one (converted to seconds); otherwise the
  root ``send_time`` (ms) where present; otherwise the receive time (``time.time()``).
* ``Event.id`` is the danmaku ``id_str`` where there is one; otherwise
  ``make_id(room_id, cmd, t, message)`` where ``t`` is the message's own time, or ``0.0`` when the
  message has none. Receive time never enters an id, so two workers that receive the same message
  compute the same id (JetStream de-duplication works across replicas).
* Masked senders (anonymous connections: uid 0, names like ``x***``) get ``uid=None`` and
  ``data["masked"] = True``. Every kind that names a user has a ``masked`` key.
* Unknown cmds give ``kind="raw"`` (``data == {}``); a known cmd whose shape we cannot read gives
  ``kind="raw"`` with ``data == {"error": "..."}``. Nothing is dropped.
* A message that is not a dict raises :class:`MessageError` (a ``ValueError``); a dict without a
  string ``cmd`` becomes a ``raw`` event with ``cmd=None``. Nothing else is ever raised.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import orjson

from livepipe.bilibili import pb
from livepipe.errors import DecodeError
from livepipe.events import Event, RawMessage, make_id

__all__ = ["MessageError", "parse_command", "body_id", "CMD_KINDS", "PREFIX_KINDS", "kind_for_cmd"]

_new_event = tuple.__new__
_loads = orjson.loads
_now = time.time
_dumps = orjson.dumps
_SORT = orjson.OPT_SORT_KEYS
_blake2b = hashlib.blake2b


class MessageError(DecodeError, ValueError):
    """The message is not a JSON object, so it cannot be a Bilibili command."""


# --- lenient field helpers ----------------------------------------------------------------------


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
    n = _int(v)
    return float(n) if n is not None and n > 0 else None


def _ms(v: Any) -> float | None:
    """A positive unix time in milliseconds, as seconds; or ``None``."""
    n = _int(v)
    return n / 1000.0 if n is not None and n > 0 else None


def _ns(v: Any) -> float | None:
    """A positive unix time in nanoseconds, as seconds; or ``None``."""
    n = _int(v)
    return n / 1e9 if n is not None and n > 0 else None


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
        ts = _ms(message.get("send_time"))
    if ts is None:
        eid = body_id(room_id, cmd, 0.0, message)
        ts = _now()
    else:
        eid = body_id(room_id, cmd, ts, message)
    return _new_event(Event, (eid, kind, cmd, room_id, ts, uid, uname, text, data, message))


def _user(uid_v: Any, uname_v: Any) -> tuple[int | None, str | None, bool]:
    """Normalize a sender: ``(uid or None when masked, uname, masked)``."""
    uid = _int(uid_v)
    uname = _str(uname_v)
    masked = _is_masked(uid, uname)
    return (None if masked else uid), uname, masked


def _medal_from_dict(m: Any) -> dict[str, Any] | None:
    """The ``medal`` data value from a JSON ``medal_info`` / ``fans_medal`` object (``None`` if absent/level 0)."""
    if type(m) is not dict:
        return None
    level = _int(m.get("medal_level"))
    if not level:
        return None
    return {
        "level": level,
        "name": _str(m.get("medal_name")),
        "streamer_uid": _int(m.get("target_id")),
        "streamer_name": _str(m.get("anchor_uname")),
        "room_id": _int(m.get("anchor_roomid")),
        "guard_level": _int(m.get("guard_level")) or 0,
        "is_lighted": bool(m.get("is_lighted")),
    }


# --- danmaku ------------------------------------------------------------------------------------


def _danmaku(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    info = message["info"]
    if type(info) is not list or not info:
        raise MessageError("DANMU_MSG without an info list")
    ninfo = len(info)
    p = info[0] if type(info[0]) is list else []
    np = len(p)
    text = info[1] if ninfo > 1 else None
    if type(text) is not str:
        text = _str(text)
    u = info[2] if ninfo > 2 else None
    uid = None
    uname = None
    is_admin = False
    if type(u) is list and u:
        uid = u[0] if type(u[0]) is int else _int(u[0])
        if len(u) > 1:
            uname = u[1] if type(u[1]) is str else _str(u[1])
        if len(u) > 2:
            is_admin = bool(u[2])
    masked = uid == 0 or (uname is not None and uname.endswith("***"))
    if masked:
        uid = None

    mode_info = p[15] if np > 15 else None
    extra: dict[str, Any] | None = None
    face = None
    if type(mode_info) is dict:
        x = mode_info.get("extra")
        if type(x) is str and x:
            try:
                extra = _loads(x)
            except ValueError:
                extra = None
            if type(extra) is not dict:
                extra = None
        elif type(x) is dict:
            extra = x
        user = mode_info.get("user")
        if type(user) is dict:
            base = user.get("base")
            if type(base) is dict:
                face = base.get("face") or None
    if extra is None:
        extra = _EMPTY

    dm_type = (p[12] if type(p[12]) is int else _int(p[12])) if np > 12 else 0
    emoticon = None
    if dm_type == 1 and np > 13:
        e = p[13]
        if type(e) is str and e and e != "{}":
            try:
                e = _loads(e)
            except ValueError:
                e = None
        if type(e) is dict and e:
            emoticon = e

    m = info[3] if ninfo > 3 else None
    medal = None
    if type(m) is list and m:
        if len(m) > 12 and type(m[0]) is int and type(m[1]) is str and type(m[2]) is str:
            # the usual shape, all fields present and typed: no per-field conversion
            g = m[10]
            medal = {
                "level": m[0],
                "name": m[1],
                "streamer_uid": m[12] if type(m[12]) is int else _int(m[12]),
                "streamer_name": m[2],
                "room_id": m[3] if type(m[3]) is int else _int(m[3]),
                "guard_level": (g if type(g) is int else _int(g)) or 0,
                "is_lighted": bool(m[11]),
            }
        else:
            n = len(m)
            medal = {
                "level": _int(m[0]),
                "name": _str(m[1]) if n > 1 else None,
                "streamer_uid": _int(m[12]) if n > 12 else None,
                "streamer_name": _str(m[2]) if n > 2 else None,
                "room_id": _int(m[3]) if n > 3 else None,
                "guard_level": (_int(m[10]) or 0) if n > 10 else 0,
                "is_lighted": bool(m[11]) if n > 11 else True,
            }

    ul = info[4] if ninfo > 4 else None
    guard = info[7] if ninfo > 7 else 0
    wealth = info[16] if ninfo > 16 else None
    emots = extra.get("emots")
    reply_uid = extra.get("reply_mid")
    if type(reply_uid) is not int:
        reply_uid = _int(reply_uid)
    reply_uid = reply_uid or None
    if np > 7:  # the usual case: read the mode fields with int fast paths
        mode, font_size, color, rnd, crc = p[1], p[2], p[3], p[5], p[7]
        if type(mode) is not int:
            mode = _int(mode)
        if type(font_size) is not int:
            font_size = _int(font_size)
        if type(color) is not int:
            color = _int(color)
        if type(rnd) is not int:
            rnd = _int(rnd)
        if type(crc) is not str:
            crc = _str(crc)
    else:
        mode = _int(p[1]) if np > 1 else None
        font_size = _int(p[2]) if np > 2 else None
        color = _int(p[3]) if np > 3 else None
        rnd = _int(p[5]) if np > 5 else None
        crc = None
    data = {
        "mode": mode,
        "font_size": font_size,
        "color": color,
        "rnd": rnd,
        "uid_crc32": crc,
        "dm_type": dm_type,
        "emoticon": emoticon,
        "emots": emots if type(emots) is dict and emots else None,
        "face": face,
        "is_admin": is_admin,
        "user_level": _int(ul[0]) if type(ul) is list and ul else None,
        "guard_level": (guard if type(guard) is int else _int(guard)) or 0,
        "wealth_level": _int(wealth[0]) if type(wealth) is list and wealth else None,
        "medal": medal,
        "reply_uid": reply_uid,
        "reply_uname": (extra.get("reply_uname") or None) if reply_uid else None,
        "mirror": cmd == "DANMU_MSG_MIRROR",
        "masked": masked,
    }

    ts = None
    if np > 4:
        t = p[4]
        if type(t) is int and t > 0:
            ts = t / 1000.0
        else:
            ts = _ms(t)
    if ts is None and ninfo > 9 and type(info[9]) is dict:
        ts = _secs(info[9].get("ts"))
    id_str = extra.get("id_str")
    if type(id_str) is str and id_str:
        if ts is None:
            ts = _ms(message.get("send_time")) or _now()
        return _new_event(Event, (id_str, "danmaku", cmd, room_id, ts, uid, uname, text, data, message))
    return _mk(message, "danmaku", cmd, room_id, ts, uid, uname, text, data)


# --- gifts and guards ---------------------------------------------------------------------------


def _gift_item(g: dict[str, Any]) -> dict[str, Any]:
    return {
        "gift_id": _int(g.get("gift_id")),
        "gift_name": _str(g.get("gift_name")),
        "num": _int(g.get("num")) or 0,
        "price": _int(g.get("price")) or 0,
        "total_coin": _int(g.get("total_coin")) or 0,
        "coin_type": _str(g.get("coin_type")),
        "action": _str(g.get("action")),
        "tid": _str(g.get("tid")),
    }


def _gift_data(
    gifts: list[dict[str, Any]],
    *,
    face: Any,
    guard_level: Any,
    medal: dict[str, Any] | None,
    blind: Any,
    batch_combo_id: Any,
    gift_img: Any,
    masked: bool,
) -> dict[str, Any]:
    first = gifts[0] if gifts else _gift_item(_EMPTY)
    blind_gift = None
    if type(blind) is dict and (blind.get("original_gift_name") or blind.get("original_gift_price")):
        blind_gift = {
            "original_gift_name": _str(blind.get("original_gift_name")),
            "original_gift_price": _int(blind.get("original_gift_price")),
        }
    return {
        "gift_id": first["gift_id"],
        "gift_name": first["gift_name"],
        "num": first["num"],
        "price": first["price"],
        "total_coin": sum(g["total_coin"] for g in gifts),
        "coin_type": first["coin_type"],
        "action": first["action"],
        "tid": first["tid"],
        "batch_combo_id": _str(batch_combo_id) or None,
        "gift_img": _str(gift_img) or None,
        "blind_gift": blind_gift,
        "face": _str(face) or None,
        "guard_level": _int(guard_level) or 0,
        "medal": medal,
        "gifts": gifts,
        "masked": masked,
    }


def _send_gift(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    uid, uname, masked = _user(d.get("uid"), d.get("uname"))
    item = _gift_item(
        {
            "gift_id": d.get("giftId", d.get("gift_id")),
            "gift_name": d.get("giftName", d.get("gift_name")),
            "num": d.get("num"),
            "price": d.get("price"),
            "total_coin": d.get("total_coin"),
            "coin_type": d.get("coin_type"),
            "action": d.get("action"),
            "tid": d.get("tid"),
        }
    )
    if not item["total_coin"]:
        item["total_coin"] = item["price"] * item["num"]
    data = _gift_data(
        [item],
        face=d.get("face"),
        guard_level=d.get("guard_level"),
        medal=_medal_from_dict(d.get("medal_info")),
        blind=d.get("blind_gift"),
        batch_combo_id=d.get("batch_combo_id"),
        gift_img=_d(d.get("gift_info")).get("img_basic"),
        masked=masked,
    )
    return _mk(message, "gift", cmd, room_id, _secs(d.get("timestamp")), uid, uname, None, data)


def _send_gift_v2(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    g = pb.decode_pb_field(_d(message.get("data")).get("pb"), pb.SEND_GIFT_V2)
    uid, uname, masked = _user(g["uid"], g["uname"])
    items = []
    for it in g["gift_list"]:
        item = _gift_item(it)
        if not item["total_coin"]:
            item["total_coin"] = item["price"] * item["num"]
        items.append(item)
    first = g["gift_list"][0] if g["gift_list"] else {}
    mi = g["medal_info"]
    medal = None
    if mi and mi["medal_level"]:
        medal = {
            "level": mi["medal_level"],
            "name": mi["medal_name"],
            "streamer_uid": mi["target_id"] or None,
            "streamer_name": None,
            "room_id": mi["anchor_roomid"] or None,
            "guard_level": 0,
            "is_lighted": True,
        }
    face = g["face"] or _d(_d(g["sender_uinfo"]).get("base")).get("face")
    data = _gift_data(
        items,
        face=face,
        guard_level=g["guard_level"],
        medal=medal,
        blind=g["blind_gift"],
        batch_combo_id=None,
        gift_img=_d(first.get("gift_info")).get("img_basic"),
        masked=masked,
    )
    return _mk(message, "gift", cmd, room_id, _secs(first.get("timestamp")), uid, uname, None, data)


def _combo_send(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    uid, uname, masked = _user(d.get("uid"), d.get("uname"))
    data = {
        "gift_id": _int(d.get("gift_id")),
        "gift_name": _str(d.get("gift_name")),
        "action": _str(d.get("action")),
        "combo_num": _int(d.get("combo_num")) or 0,
        "total_num": _int(d.get("total_num")) or 0,
        "combo_total_coin": _int(d.get("combo_total_coin")) or 0,
        "batch_combo_id": _str(d.get("batch_combo_id")) or None,
        "receiver_uid": _int(d.get("ruid")),
        "receiver_uname": _str(d.get("r_uname")),
        "medal": _medal_from_dict(d.get("medal_info")),
        "masked": masked,
    }
    return _mk(message, "gift_combo", cmd, room_id, None, uid, uname, None, data)


def _guard(
    message: dict[str, Any],
    cmd: str,
    room_id: int,
    *,
    uid_v: Any,
    uname_v: Any,
    face: Any,
    guard_level: Any,
    num: Any,
    price: Any,
    unit: Any,
    gift_id: Any,
    gift_name: Any,
    start: Any,
    end: Any,
    toast: bool,
    toast_msg: Any,
    source: Any,
) -> Event:
    uid, uname, masked = _user(uid_v, uname_v)
    data = {
        "guard_level": _int(guard_level) or 0,
        "num": _int(num) or 0,
        "price": _int(price) or 0,
        "unit": _str(unit) or None,
        "gift_id": _int(gift_id),
        "gift_name": _str(gift_name) or None,
        "start_time": _int(start),
        "end_time": _int(end),
        "face": _str(face) or None,
        "toast": toast,
        "toast_msg": _strip_marks(toast_msg) if type(toast_msg) is str and toast_msg else None,
        "source": _int(source),
        "masked": masked,
    }
    return _mk(message, "guard", cmd, room_id, _secs(start), uid, uname, None, data)


def _guard_buy(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    return _guard(
        message, cmd, room_id, uid_v=d.get("uid"), uname_v=d.get("username"), face=None,
        guard_level=d.get("guard_level"), num=d.get("num"), price=d.get("price"), unit=None,
        gift_id=d.get("gift_id"), gift_name=d.get("gift_name"), start=d.get("start_time"),
        end=d.get("end_time"), toast=False, toast_msg=None, source=None,
    )  # fmt: skip


def _user_toast(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    return _guard(
        message, cmd, room_id, uid_v=d.get("uid"), uname_v=d.get("username"), face=d.get("face"),
        guard_level=d.get("guard_level"), num=d.get("num"), price=d.get("price"), unit=d.get("unit"),
        gift_id=d.get("gift_id"), gift_name=d.get("role_name"), start=d.get("start_time"),
        end=d.get("end_time"), toast=True, toast_msg=d.get("toast_msg"), source=None,
    )  # fmt: skip


def _user_toast_v2(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    su = _d(d.get("sender_uinfo"))
    base = _d(su.get("base"))
    gi = _d(d.get("guard_info"))
    pay = _d(d.get("pay_info"))
    return _guard(
        message, cmd, room_id, uid_v=su.get("uid"), uname_v=base.get("name"), face=base.get("face"),
        guard_level=gi.get("guard_level"), num=pay.get("num"), price=pay.get("price"), unit=pay.get("unit"),
        gift_id=_d(d.get("gift_info")).get("gift_id"), gift_name=gi.get("role_name"),
        start=gi.get("start_time"), end=gi.get("end_time"), toast=True, toast_msg=d.get("toast_msg"),
        source=_d(d.get("option")).get("source"),
    )  # fmt: skip


# --- super chat ---------------------------------------------------------------------------------


def _super_chat(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    ui = _d(d.get("user_info"))
    uid, uname, masked = _user(d.get("uid"), ui.get("uname"))
    trans = d.get("message_trans") or d.get("message_jpn")
    data = {
        "sc_id": _int(d.get("id")),
        "price": _int(d.get("price")) or 0,
        "message_trans": _str(trans) or None,
        "start_time": _int(d.get("start_time")),
        "end_time": _int(d.get("end_time")),
        "duration": _int(d.get("time")),
        "face": _str(ui.get("face")) or None,
        "guard_level": _int(ui.get("guard_level")) or 0,
        "user_level": _int(ui.get("user_level")),
        "medal": _medal_from_dict(d.get("medal_info")),
        "masked": masked,
    }
    ts = _secs(d.get("start_time")) or _secs(d.get("ts"))
    return _mk(message, "super_chat", cmd, room_id, ts, uid, uname, _str(d.get("message")), data)


def _super_chat_delete(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    ids = _d(message.get("data")).get("ids")
    data = {"ids": [i for i in (_int(x) for x in ids) if i is not None] if type(ids) is list else []}
    return _mk(message, "super_chat_delete", cmd, room_id, None, None, None, None, data)


# --- interactions: enter / follow / share / like ------------------------------------------------

#: INTERACT_WORD ``msg_type`` -> kind. Other values give ``raw`` (with the same ``data``).
INTERACT_KINDS: dict[int, str] = {1: "enter", 2: "follow", 3: "share", 4: "follow", 5: "follow", 6: "like"}


def _interact_data(
    msg_type: int | None, medal: dict[str, Any] | None, guard_level: Any, face: Any, masked: bool, effect: bool
) -> dict[str, Any]:
    return {
        "msg_type": msg_type,
        "medal": medal,
        "guard_level": _int(guard_level) or 0,
        "face": _str(face) or None,
        "effect": effect,
        "masked": masked,
    }


def _interact_word(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    uid, uname, masked = _user(d.get("uid"), d.get("uname"))
    msg_type = _int(d.get("msg_type"))
    medal = _medal_from_dict(d.get("fans_medal"))
    face = _d(_d(d.get("uinfo")).get("base")).get("face")
    guard = d.get("privilege_type")
    if guard is None and medal is not None:
        guard = medal["guard_level"]
    data = _interact_data(msg_type, medal, guard, face, masked, False)
    ts = _ns(d.get("trigger_time")) or _secs(d.get("timestamp"))
    return _mk(message, INTERACT_KINDS.get(msg_type or 0, "raw"), cmd, room_id, ts, uid, uname, None, data)


def _interact_word_v2(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    w = pb.decode_pb_field(_d(message.get("data")).get("pb"), pb.INTERACT_WORD_EVENT)
    uinfo = w["uinfo"] or {}
    base = uinfo.get("base") or {}
    uname = w["uname"] or base.get("name") or None
    uid, uname, masked = _user(w["uid"], uname)
    fm = w["fans_medal"]
    medal = None
    if fm and fm["medal_level"]:
        medal = {
            "level": fm["medal_level"],
            "name": fm["medal_name"],
            "streamer_uid": fm["target_id"] or None,
            "streamer_name": None,
            "room_id": fm["anchor_roomid"] or None,
            "guard_level": fm["guard_level"],
            "is_lighted": bool(fm["is_lighted"]),
        }
    guard = w["privilege_type"] or (medal["guard_level"] if medal else 0)
    data = _interact_data(w["msg_type"], medal, guard, base.get("face"), masked, False)
    ts = _ns(w["trigger_time"]) or _secs(w["timestamp"])
    return _mk(message, INTERACT_KINDS.get(w["msg_type"], "raw"), cmd, room_id, ts, uid, uname, None, data)


def _name_from_marks(text: Any) -> str | None:
    """The name inside ``<%name%>`` in a copy-writing string."""
    if type(text) is not str:
        return None
    a = text.find("<%")
    b = text.find("%>", a + 2)
    if a < 0 or b < 0:
        return None
    return text[a + 2 : b]


def _entry_effect(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    uinfo = _d(d.get("uinfo"))
    base = _d(uinfo.get("base"))
    uname = base.get("name") or _name_from_marks(d.get("copy_writing_v2") or d.get("copy_writing"))
    uid, uname, masked = _user(d.get("uid"), uname)
    text = d.get("copy_writing_v2") or d.get("copy_writing")
    data = _interact_data(None, None, d.get("privilege_type"), d.get("face") or base.get("face"), masked, True)
    ts = _ns(d.get("trigger_time"))
    return _mk(message, "enter", cmd, room_id, ts, uid, uname, _strip_marks(text) if type(text) is str else None, data)


def _like_click(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    uid, uname, masked = _user(d.get("uid"), d.get("uname"))
    face = _d(_d(d.get("uinfo")).get("base")).get("face")
    medal = _medal_from_dict(d.get("fans_medal"))
    guard = medal["guard_level"] if medal else 0
    data = _interact_data(_int(d.get("msg_type")) or 6, medal, guard, face, masked, False)
    return _mk(message, "like", cmd, room_id, None, uid, uname, _str(d.get("like_text")), data)


# --- counters and rankings ----------------------------------------------------------------------


def _like_update(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    return _mk(message, "like_count", cmd, room_id, None, None, None, None, {"count": _int(d.get("click_count"))})


def _watched(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    data = {"num": _int(d.get("num")), "text_small": _str(d.get("text_small")), "text_large": _str(d.get("text_large"))}
    return _mk(message, "watched", cmd, room_id, None, None, None, None, data)


def _online_count(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    data = {"count": _int(d.get("count")), "online_count": _int(d.get("online_count"))}
    return _mk(message, "online_count", cmd, room_id, None, None, None, None, data)


def _rank_item(it: dict[str, Any]) -> dict[str, Any]:
    uid = _int(it.get("uid"))
    uname = _str(it.get("uname"))
    masked = _is_masked(uid, uname)
    return {
        "uid": None if masked else uid,
        "uname": uname,
        "face": _str(it.get("face")) or None,
        "score": _int(it.get("score")),
        "rank": _int(it.get("rank")),
        "guard_level": _int(it.get("guard_level")) or 0,
        "masked": masked,
    }


def _online_rank_v2(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    items = d.get("list") or d.get("online_list")
    ranks = [_rank_item(it) for it in items if type(it) is dict] if type(items) is list else []
    data = {"rank_type": _str(d.get("rank_type")), "list": ranks}
    return _mk(message, "online_rank", cmd, room_id, None, None, None, None, data)


def _online_rank_v3(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    r = pb.decode_pb_field(_d(message.get("data")).get("pb"), pb.ONLINE_RANK_V3)
    ranks = [_rank_item(it) for it in (r["online_list"] or r["list"])]
    data = {"rank_type": r["rank_type"] or None, "list": ranks}
    return _mk(message, "online_rank", cmd, room_id, None, None, None, None, data)


def _online_rank_top3(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    items = _d(message.get("data")).get("list")
    ranks = []
    if type(items) is list:
        for it in items:
            if type(it) is dict:
                uname = _name_from_marks(it.get("msg"))
                ranks.append(
                    {
                        "uid": None,
                        "uname": uname,
                        "face": None,
                        "score": None,
                        "rank": _int(it.get("rank")),
                        "guard_level": 0,
                        "masked": _is_masked(None, uname),
                    }
                )
    return _mk(message, "online_rank", cmd, room_id, None, None, None, None, {"rank_type": "top3", "list": ranks})


def _dm_interaction(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    payload = d.get("data")
    if type(payload) is str:
        try:
            payload = _loads(payload)
        except ValueError:
            payload = None
    data = {
        "type": _int(d.get("type")),
        "id": _int(d.get("id")),
        "status": _int(d.get("status")),
        "payload": payload if type(payload) is dict else None,
    }
    return _mk(message, "interaction", cmd, room_id, None, None, None, None, data)


# --- room state ---------------------------------------------------------------------------------


def _live(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    live_time = _int(message.get("live_time"))
    data = {
        "live_key": _str(message.get("live_key")),
        "sub_session_key": _str(message.get("sub_session_key")),
        "live_platform": _str(message.get("live_platform")),
        "live_model": _int(message.get("live_model")),
        "live_time": live_time or None,
    }
    return _mk(message, "live", cmd, room_id, _secs(live_time), None, None, None, data)


def _preparing(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    return _mk(message, "preparing", cmd, room_id, None, None, None, None, {"round": bool(message.get("round"))})


def _room_change(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    data = {
        "title": _str(d.get("title")),
        "area_id": _int(d.get("area_id")),
        "parent_area_id": _int(d.get("parent_area_id")),
        "area_name": _str(d.get("area_name")),
        "parent_area_name": _str(d.get("parent_area_name")),
        "live_key": _str(d.get("live_key")),
        "sub_session_key": _str(d.get("sub_session_key")),
    }
    return _mk(message, "room_change", cmd, room_id, None, None, None, None, data)


def _change_room_info(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    data = {"background": _str(message.get("background")), "fans": None, "fans_club": None, "red_notice": None}
    return _mk(message, "room_info", cmd, room_id, None, None, None, None, data)


def _room_real_time(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    data = {
        "background": None,
        "fans": _int(d.get("fans")),
        "fans_club": _int(d.get("fans_club")),
        "red_notice": _int(d.get("red_notice")),
    }
    return _mk(message, "room_info", cmd, room_id, None, None, None, None, data)


def _warning(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    return _mk(message, "warning", cmd, room_id, None, None, None, _str(message.get("msg")), {})


def _cut_off(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    text = _str(message.get("msg"))
    data = {"title": None, "messages": []}
    return _mk(message, "cut_off", cmd, room_id, None, None, None, text, data)


def _cut_off_v2(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    cod = _d(d.get("cut_off_data"))
    items = cod.get("cut_off_message_list")
    msgs = []
    if type(items) is list:
        for it in items:
            if type(it) is dict:
                msgs.append({"label": _str(it.get("label")), "content": _str(it.get("content"))})
    text = "; ".join(f"{m['label']}: {m['content']}" if m["label"] else (m["content"] or "") for m in msgs) or None
    data = {"title": _str(cod.get("cut_off_title")), "messages": msgs}
    return _mk(message, "cut_off", cmd, room_id, _secs(d.get("timestamp")), None, None, text, data)


def _silent(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    data = {
        "on": cmd == "ROOM_SILENT_ON",
        "type": _str(d.get("type")) or None,
        "level": _int(d.get("level")),
        "until": _int(d.get("second")),
    }
    return _mk(message, "silent", cmd, room_id, None, None, None, _str(d.get("msg")), data)


def _block(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    uid, uname, masked = _user(
        d.get("uid", message.get("uid")), d.get("uname", message.get("uname")) or message.get("uname")
    )
    period = d.get("vaild_period", d.get("valid_period"))
    data = {
        "operator": _int(d.get("operator")),
        "block_expired": _int(d.get("block_expired")),
        "valid_period": _str(period) or None,
        "masked": masked,
    }
    return _mk(message, "block", cmd, room_id, None, uid, uname, None, data)


def _room_admins(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    uids = message.get("uids")
    data = {
        "action": "list",
        "uids": [i for i in (_int(x) for x in uids) if i is not None] if type(uids) is list else [],
        "level": None,
    }
    return _mk(message, "admins", cmd, room_id, None, None, None, None, data)


def _admin_change(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    uid = _int(message.get("uid"))
    data = {
        "action": "revoke" if cmd == "ROOM_ADMIN_REVOKE" else "add",
        "uids": [uid] if uid is not None else [],
        "level": _int(message.get("level")),
    }
    return _mk(message, "admins", cmd, room_id, None, uid, None, _str(message.get("msg")), data)


def _recall(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    data = {"target_id": _int(d.get("target_id")), "recall_type": _int(d.get("recall_type"))}
    return _mk(message, "recall", cmd, room_id, None, None, None, None, data)


def _login_notice(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    data = {"image": _str(d.get("image_web")) or None}
    return _mk(message, "login_notice", cmd, room_id, None, None, None, _str(d.get("notice_msg")), data)


def _notice(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    text: Any = None
    if cmd == "NOTICE_MSG":
        text = message.get("msg_common") or message.get("msg_self")
    elif cmd == "COMMON_NOTICE_DANMAKU":
        segs = d.get("content_segments")
        if type(segs) is list:
            text = "".join(s.get("text") or "" for s in segs if type(s) is dict) or None
    elif cmd == "SYS_MSG":
        text = message.get("msg")
    text = _strip_marks(text) if type(text) is str and text else None
    return _mk(message, "notice", cmd, room_id, _secs(d.get("timestamp")), None, None, text, {"category": cmd})


def _raw(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    return _mk(message, "raw", cmd, room_id, None, None, None, None, {})


# --- dispatch -----------------------------------------------------------------------------------

Handler = Callable[[dict[str, Any], str, int], Event]

_HANDLERS: dict[str, Handler] = {
    "DANMU_MSG": _danmaku,
    "DANMU_MSG_MIRROR": _danmaku,
    "SEND_GIFT": _send_gift,
    "SEND_GIFT_V2": _send_gift_v2,
    "COMBO_SEND": _combo_send,
    "GUARD_BUY": _guard_buy,
    "USER_TOAST_MSG": _user_toast,
    "USER_TOAST_MSG_V2": _user_toast_v2,
    "SUPER_CHAT_MESSAGE": _super_chat,
    "SUPER_CHAT_MESSAGE_JPN": _super_chat,
    "SUPER_CHAT_MESSAGE_DELETE": _super_chat_delete,
    "INTERACT_WORD": _interact_word,
    "INTERACT_WORD_V2": _interact_word_v2,
    "ENTRY_EFFECT": _entry_effect,
    "ENTRY_EFFECT_MUST_RECEIVE": _entry_effect,
    "LIKE_INFO_V3_CLICK": _like_click,
    "LIKE_INFO_V3_UPDATE": _like_update,
    "WATCHED_CHANGE": _watched,
    "ONLINE_RANK_COUNT": _online_count,
    "ONLINE_RANK_V2": _online_rank_v2,
    "ONLINE_RANK_V3": _online_rank_v3,
    "ONLINE_RANK_TOP3": _online_rank_top3,
    "DM_INTERACTION": _dm_interaction,
    "LIVE": _live,
    "PREPARING": _preparing,
    "ROOM_CHANGE": _room_change,
    "CHANGE_ROOM_INFO": _change_room_info,
    "ROOM_REAL_TIME_MESSAGE_UPDATE": _room_real_time,
    "WARNING": _warning,
    "CUT_OFF": _cut_off,
    "CUT_OFF_V2": _cut_off_v2,
    "ROOM_SILENT_ON": _silent,
    "ROOM_SILENT_OFF": _silent,
    "ROOM_BLOCK_MSG": _block,
    "ROOM_ADMINS": _room_admins,
    "room_admin_entrance": _admin_change,
    "ROOM_ADMIN_REVOKE": _admin_change,
    "RECALL_DANMU_MSG": _recall,
    "LOG_IN_NOTICE": _login_notice,
    "NOTICE_MSG": _notice,
    "COMMON_NOTICE_DANMAKU": _notice,
    "SYS_MSG": _notice,
    "WIDGET_BANNER": _notice,
    "STOP_LIVE_ROOM_LIST": _notice,
    "POPULAR_RANK_CHANGED": _notice,
    "AREA_RANK_CHANGED": _notice,
}

#: cmd families matched by prefix (after exact names); all are broadcasts.
_PREFIX_HANDLERS: tuple[tuple[str, Handler], ...] = (
    ("HOT_RANK_", _notice),
    ("PK_", _notice),
    ("ANCHOR_LOT_", _notice),
    ("POPULARITY_RED_POCKET_", _notice),
)

#: The kind each known cmd maps to (INTERACT_WORD(_V2) depend on ``msg_type``: see INTERACT_KINDS).
CMD_KINDS: dict[str, str] = {
    "DANMU_MSG": "danmaku", "DANMU_MSG_MIRROR": "danmaku",
    "SEND_GIFT": "gift", "SEND_GIFT_V2": "gift", "COMBO_SEND": "gift_combo",
    "GUARD_BUY": "guard", "USER_TOAST_MSG": "guard", "USER_TOAST_MSG_V2": "guard",
    "SUPER_CHAT_MESSAGE": "super_chat", "SUPER_CHAT_MESSAGE_JPN": "super_chat",
    "SUPER_CHAT_MESSAGE_DELETE": "super_chat_delete",
    "INTERACT_WORD": "enter", "INTERACT_WORD_V2": "enter",
    "ENTRY_EFFECT": "enter", "ENTRY_EFFECT_MUST_RECEIVE": "enter",
    "LIKE_INFO_V3_CLICK": "like", "LIKE_INFO_V3_UPDATE": "like_count", "WATCHED_CHANGE": "watched",
    "ONLINE_RANK_COUNT": "online_count",
    "ONLINE_RANK_V2": "online_rank", "ONLINE_RANK_V3": "online_rank", "ONLINE_RANK_TOP3": "online_rank",
    "DM_INTERACTION": "interaction", "LIVE": "live", "PREPARING": "preparing", "ROOM_CHANGE": "room_change",
    "CHANGE_ROOM_INFO": "room_info", "ROOM_REAL_TIME_MESSAGE_UPDATE": "room_info",
    "WARNING": "warning", "CUT_OFF": "cut_off", "CUT_OFF_V2": "cut_off",
    "ROOM_SILENT_ON": "silent", "ROOM_SILENT_OFF": "silent", "ROOM_BLOCK_MSG": "block",
    "ROOM_ADMINS": "admins", "room_admin_entrance": "admins", "ROOM_ADMIN_REVOKE": "admins",
    "RECALL_DANMU_MSG": "recall", "LOG_IN_NOTICE": "login_notice",
    "NOTICE_MSG": "notice", "COMMON_NOTICE_DANMAKU": "notice", "SYS_MSG": "notice", "WIDGET_BANNER": "notice",
    "STOP_LIVE_ROOM_LIST": "notice", "POPULAR_RANK_CHANGED": "notice", "AREA_RANK_CHANGED": "notice",
}  # fmt: skip

#: Prefix families and their kind.
PREFIX_KINDS: dict[str, str] = {prefix: "notice" for prefix, _ in _PREFIX_HANDLERS}

# Full cmd string (suffix included) -> (handler, stripped cmd). Filled lazily, bounded.
_DISPATCH: dict[str, tuple[Handler, str]] = {name: (h, name) for name, h in _HANDLERS.items()}
_DISPATCH_LIMIT = 4096


def _resolve(cmd: str) -> tuple[Handler, str]:
    base = cmd.split(":", 1)[0] if ":" in cmd else cmd
    h = _HANDLERS.get(base)
    if h is None:
        h = _raw
        for prefix, ph in _PREFIX_HANDLERS:
            if base.startswith(prefix):
                h = ph
                break
    entry = (h, base)
    if len(_DISPATCH) < _DISPATCH_LIMIT:
        _DISPATCH[cmd] = entry
    return entry


def kind_for_cmd(cmd: str) -> str:
    """The kind a cmd maps to (suffix ignored); ``raw`` for unknown cmds. INTERACT_WORD varies by msg_type."""
    base = cmd.split(":", 1)[0]
    kind = CMD_KINDS.get(base)
    if kind is not None:
        return kind
    for prefix, k in PREFIX_KINDS.items():
        if base.startswith(prefix):
            return k
    return "raw"


def parse_command(message: dict[str, Any], room_id: int) -> Event:
    """Turn one decoded live message into an :class:`Event`.

    ``room_id`` is the real id of the room the message arrived for; it becomes ``Event.room_id``.
    Raises :class:`MessageError` if ``message`` is not a dict, and nothing else: a message whose
    shape cannot be read becomes a ``raw`` event with ``data["error"]`` set.
    """
    if type(message) is not dict and type(message) is not RawMessage:
        if not isinstance(message, dict):
            raise MessageError(f"a live message must be a JSON object, not {type(message).__name__}")
        message = dict(message)
    cmd = message.get("cmd")
    if type(cmd) is not str:
        return _safe_raw(message, None, room_id, None)
    entry = _DISPATCH.get(cmd)
    if entry is None:
        entry = _resolve(cmd)
    try:
        return entry[0](message, entry[1], room_id)
    except Exception as e:  # a shape we do not understand: keep the message as raw
        return _safe_raw(message, entry[1], room_id, e)


def _safe_raw(message: dict[str, Any], cmd: str | None, room_id: int, error: Exception | None) -> Event:
    data = {} if error is None else {"error": f"{type(error).__name__}: {error}"[:500]}
    ts = _now()
    try:
        eid = make_id(room_id, cmd, 0.0, message)
    except Exception:  # an unhashable, non-JSON-able oddity: fall back to a per-arrival id
        eid = make_id(room_id, cmd, ts, repr(message)[:10000])
    return _new_event(Event, (eid, "raw", cmd, room_id, ts, None, None, None, data, message))


def register_cmds(handlers: dict[str, Handler], kinds: dict[str, str]) -> None:
    """Add handlers for more exact cmd names (and the kind each maps to) to :func:`parse_command`.

    Used by :mod:`livepipe.bilibili.open_commands` for the open platform's ``LIVE_OPEN_PLATFORM_*``
    cmds, so every reader of raw messages (the sources, ``replay``, ``livepipe test``) knows them.
    """
    _HANDLERS.update(handlers)
    CMD_KINDS.update(kinds)
    for name, h in handlers.items():
        _DISPATCH[name] = (h, name)
