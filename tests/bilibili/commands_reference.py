"""The cmd handlers and helpers as they were before issue 20's pure-Python speed-up, frozen.

``test_commands_differential.py`` compares the optimized ones against these: the same events (ids,
kinds, fields, ``data`` with the same keys in the same order and the same types, ``raw``) and the
same ``raw`` + ``data["error"]`` for a shape the old code could not read. Copied verbatim from
``livepipe/bilibili/commands/`` (common.py, gifts.py, users.py, notices.py) at the commit before the
change; only ``body_id`` is written as the ``make_id`` it calls. Do not "fix" anything here: it is
the oracle.
"""

# ruff: noqa
from __future__ import annotations

import time
from typing import Any

from livepipe.bilibili import pb
from livepipe.bilibili.commands.users import INTERACT_KINDS, _decode_pb
from livepipe.events import Event, make_id

_new_event = tuple.__new__
_now = time.time
_EMPTY: dict[str, Any] = {}


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
        eid = make_id(room_id, cmd, 0.0, message)
        ts = _now()
    else:
        eid = make_id(room_id, cmd, ts, message)
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


def _interact_word_v2(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    w = _decode_pb(_d(message.get("data")).get("pb"), pb.INTERACT_WORD_EVENT)
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


def _like_click(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    uid, uname, masked = _user(d.get("uid"), d.get("uname"))
    face = _d(_d(d.get("uinfo")).get("base")).get("face")
    medal = _medal_from_dict(d.get("fans_medal"))
    guard = medal["guard_level"] if medal else 0
    data = _interact_data(_int(d.get("msg_type")) or 6, medal, guard, face, masked, False)
    return _mk(message, "like", cmd, room_id, None, uid, uname, _str(d.get("like_text")), data)


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


#: The handlers restructured for speed, by cmd (the reference side of the differential test).
HANDLERS = {
    "SEND_GIFT": _send_gift,
    "COMBO_SEND": _combo_send,
    "GUARD_BUY": _guard_buy,
    "SUPER_CHAT_MESSAGE": _super_chat,
    "SUPER_CHAT_MESSAGE_JPN": _super_chat,
    "INTERACT_WORD_V2": _interact_word_v2,
    "LIKE_INFO_V3_CLICK": _like_click,
    "WATCHED_CHANGE": _watched,
    "ONLINE_RANK_COUNT": _online_count,
    "ONLINE_RANK_V2": _online_rank_v2,
    "ONLINE_RANK_V3": _online_rank_v3,
    "NOTICE_MSG": _notice,
    "COMMON_NOTICE_DANMAKU": _notice,
    "SYS_MSG": _notice,
    "WIDGET_BANNER": _notice,
    "STOP_LIVE_ROOM_LIST": _notice,
    "POPULAR_RANK_CHANGED": _notice,
    "AREA_RANK_CHANGED": _notice,
}

#: The shared helpers that changed, by name (patched into every handler module for the other cmds).
HELPERS = {
    "_mk": _mk,
    "_user": _user,
    "_medal_from_dict": _medal_from_dict,
    "_secs": _secs,
    "_ms": _ms,
    "_ns": _ns,
}
