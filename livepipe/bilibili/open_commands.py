"""The open platform's ``LIVE_OPEN_PLATFORM_*`` cmds -> the same events as the web WebSocket (sans-I/O).

A pipeline written for the ``bilibili.danmaku`` source works unchanged on ``bilibili.open``: each
open-platform cmd becomes the kind the web cmd of the same meaning gives, with the same ``data``
keys (built by the same helpers of :mod:`livepipe.bilibili.commands`), plus the open platform's
identity keys. The differences, documented in ``docs/bilibili/events.md``:

* ``uid`` is ``None``: the open platform names users by ``open_id`` (per app) and ``union_id``
  (per developer, often empty) instead of a uid. Every kind that names a user has
  ``data.open_id`` and ``data.union_id``; ``data.masked`` is always ``False``.
* ``Event.id`` is the message's ``msg_id`` (a UUID the platform assigns), so two receivers of the
  same message agree on it; without one, the usual body hash.
* Fields the open platform does not send (a danmaku's colour, mode, user level, ...) are ``None``.

Importing this module registers the handlers with :func:`~livepipe.bilibili.commands.parse_command`
(``livepipe.bilibili`` does so), so ``decode_events``, ``replay`` and ``livepipe test`` read these
cmds too.
"""

from __future__ import annotations

from typing import Any

from livepipe.bilibili.commands import Handler, register_cmds
from livepipe.bilibili.commands.common import _d, _int, _mk, _ms, _now, _secs, _str
from livepipe.bilibili.commands.gifts import _gift_data, _gift_item, _guard
from livepipe.bilibili.commands.users import _interact_data
from livepipe.events import Event

__all__ = ["OPEN_CMD_KINDS", "OPEN_PREFIX", "INTERACTION_END", "identity"]

OPEN_PREFIX = "LIVE_OPEN_PLATFORM_"
#: the cmd by which the platform says it stopped pushing a game's messages (the source restarts it)
INTERACTION_END = "LIVE_OPEN_PLATFORM_INTERACTION_END"
#: guard level -> the name the web's GUARD_BUY gives as ``gift_name``
GUARD_NAMES = {1: "总督", 2: "提督", 3: "舰长"}


def identity(d: dict[str, Any]) -> dict[str, Any]:
    """The open-platform identity keys of a message's user part: ``open_id`` and ``union_id`` (``None`` if empty)."""
    return {"open_id": _str(d.get("open_id")) or None, "union_id": _str(d.get("union_id")) or None}


def _medal(d: dict[str, Any], room_id: int) -> dict[str, Any] | None:
    """The open platform's fans medal (always the medal of *this* room) in the web's medal shape."""
    level = _int(d.get("fans_medal_level"))
    if not level:
        return None
    return {
        "level": level,
        "name": _str(d.get("fans_medal_name")) or None,
        "streamer_uid": None,
        "streamer_name": None,
        "room_id": room_id,
        "guard_level": _int(d.get("guard_level")) or 0,
        "is_lighted": bool(d.get("fans_medal_wearing_status")),
    }


_new_event = tuple.__new__


def _event(message: dict[str, Any], d: dict[str, Any], kind: str, cmd: str, room_id: int, ts: float | None,
           uname: str | None, text: str | None, data: dict[str, Any]) -> Event:  # fmt: skip
    """The event, ``uid`` None; its id the message's ``msg_id`` (else the body hash, as for web cmds)."""
    msg_id = _str(d.get("msg_id"))
    if msg_id:
        if ts is None:
            ts = _ms(message.get("send_time")) or _now()
        return _new_event(Event, (msg_id, kind, cmd, room_id, ts, None, uname, text, data, message))
    return _mk(message, kind, cmd, room_id, ts, None, uname, text, data)


def _finish(ev: Event, d: dict[str, Any], user: dict[str, Any] | None, **extra: Any) -> Event:
    """Open-platform touches: no masking, identity keys, ``extra`` data keys; msg_id as id and no uid for
    an event a web helper built."""
    data = ev.data
    if user is not None:
        data["masked"] = False
        data.update(identity(user))
    data.update(extra)
    msg_id = _str(d.get("msg_id"))
    if msg_id and ev.id != msg_id:
        return ev._replace(id=msg_id, uid=None)
    return ev if ev.uid is None else ev._replace(uid=None)


def _uname(d: dict[str, Any]) -> str | None:
    return _str(d.get("uname")) or None


def _dm(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    dm_type = _int(d.get("dm_type")) or 0
    emoji = _str(d.get("emoji_img_url")) or None
    data = {
        "mode": None, "font_size": None, "color": None, "rnd": None, "uid_crc32": None,
        "dm_type": dm_type,
        "emoticon": {"url": emoji} if dm_type == 1 and emoji else None,
        "emots": None,
        "face": _str(d.get("uface")) or None,
        "is_admin": bool(_int(d.get("is_admin"))),
        "user_level": None,
        "guard_level": _int(d.get("guard_level")) or 0,
        "wealth_level": None,
        "medal": _medal(d, room_id),
        "reply_uid": None,
        "reply_uname": _str(d.get("reply_uname")) or None,
        "mirror": bool(d.get("is_mirror")) or cmd.endswith("_MIRROR"),
        "masked": False,
    }  # fmt: skip
    ev = _event(message, d, "danmaku", cmd, room_id, _secs(d.get("timestamp")), _uname(d), _str(d.get("msg")), data)
    return _finish(ev, d, d, reply_open_id=_str(d.get("reply_open_id")) or None, glory_level=_int(d.get("glory_level")))


def _send_gift(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    num = _int(d.get("gift_num")) or 0
    price = _int(d.get("price")) or 0
    paid = bool(d.get("paid"))
    item = _gift_item({"gift_id": d.get("gift_id"), "gift_name": d.get("gift_name"), "num": num, "price": price,
                       "total_coin": price * num, "coin_type": "gold" if paid else "silver", "action": "投喂"})
    combo = _d(d.get("combo_info"))
    data = _gift_data([item], face=d.get("uface"), guard_level=d.get("guard_level"), medal=_medal(d, room_id),
                      blind=None, batch_combo_id=combo.get("combo_id"), gift_img=d.get("gift_icon"), masked=False)
    ev = _event(message, d, "gift", cmd, room_id, _secs(d.get("timestamp")), _uname(d), None, data)
    blind = _d(d.get("blind_gift"))
    return _finish(ev, d, d, paid=paid, r_price=_int(d.get("r_price")),
                   blind_gift_id=_int(blind.get("blind_gift_id")) if blind.get("status") else None)


def _guard_cmd(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    user = _d(d.get("user_info"))
    level = _int(d.get("guard_level")) or 0
    ev = _guard(
        message, cmd, room_id, uid_v=None, uname_v=user.get("uname"), face=user.get("uface"), guard_level=level,
        num=d.get("guard_num"), price=d.get("price"), unit=d.get("guard_unit"), gift_id=None,
        gift_name=GUARD_NAMES.get(level), start=d.get("timestamp"), end=None, toast=False, toast_msg=None,
        source=None,
    )  # fmt: skip
    return _finish(ev, d, user, medal=_medal(d, room_id))


def _super_chat(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    start, end = _int(d.get("start_time")), _int(d.get("end_time"))
    data = {
        "sc_id": _int(d.get("message_id")),
        "price": _int(d.get("rmb")) or 0,
        "message_trans": None,
        "start_time": start,
        "end_time": end,
        "duration": end - start if start and end else None,
        "face": _str(d.get("uface")) or None,
        "guard_level": _int(d.get("guard_level")) or 0,
        "user_level": None,
        "medal": _medal(d, room_id),
        "masked": False,
    }
    ts = _secs(d.get("timestamp")) or _secs(start)
    ev = _event(message, d, "super_chat", cmd, room_id, ts, _uname(d), _str(d.get("message")), data)
    return _finish(ev, d, d)


def _super_chat_del(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    ids = d.get("message_ids")
    data = {"ids": [i for i in (_int(x) for x in ids) if i is not None] if type(ids) is list else []}
    return _finish(_event(message, d, "super_chat_delete", cmd, room_id, None, None, None, data), d, None)


def _like(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    data = _interact_data(6, _medal(d, room_id), d.get("guard_level"), d.get("uface"), False, False)
    ev = _event(message, d, "like", cmd, room_id, _secs(d.get("timestamp")), _uname(d), _str(d.get("like_text")), data)
    return _finish(ev, d, d, like_count=_int(d.get("like_count")))


def _enter(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    data = _interact_data(1, None, 0, d.get("uface"), False, False)
    ev = _event(message, d, "enter", cmd, room_id, _secs(d.get("timestamp")), _uname(d), None, data)
    return _finish(ev, d, d)


def _live_start(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    t = _int(d.get("timestamp"))
    data = {"live_key": None, "sub_session_key": None, "live_platform": None, "live_model": None,
            "live_time": t or None}
    ev = _event(message, d, "live", cmd, room_id, _secs(t), None, None, data)
    return _finish(ev, d, None, title=_str(d.get("title")), area_name=_str(d.get("area_name")), **identity(d))


def _live_end(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    ev = _event(message, d, "preparing", cmd, room_id, _secs(d.get("timestamp")), None, None, {"round": False})
    return _finish(ev, d, None, title=_str(d.get("title")), area_name=_str(d.get("area_name")), **identity(d))


def _interaction_end(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    ev = _event(message, d, "notice", cmd, room_id, _secs(d.get("timestamp")), None, None, {"category": cmd})
    return _finish(ev, d, None, game_id=_str(d.get("game_id")))


_OPEN_HANDLERS: dict[str, tuple[Handler, str]] = {
    "LIVE_OPEN_PLATFORM_DM": (_dm, "danmaku"),
    "LIVE_OPEN_PLATFORM_DM_MIRROR": (_dm, "danmaku"),
    "LIVE_OPEN_PLATFORM_SEND_GIFT": (_send_gift, "gift"),
    "LIVE_OPEN_PLATFORM_GUARD": (_guard_cmd, "guard"),
    "LIVE_OPEN_PLATFORM_SUPER_CHAT": (_super_chat, "super_chat"),
    "LIVE_OPEN_PLATFORM_SUPER_CHAT_DEL": (_super_chat_del, "super_chat_delete"),
    "LIVE_OPEN_PLATFORM_LIKE": (_like, "like"),
    "LIVE_OPEN_PLATFORM_LIVE_ROOM_ENTER": (_enter, "enter"),
    "LIVE_OPEN_PLATFORM_LIVE_START": (_live_start, "live"),
    "LIVE_OPEN_PLATFORM_LIVE_END": (_live_end, "preparing"),
    INTERACTION_END: (_interaction_end, "notice"),
}

#: Each open-platform cmd and the kind it maps to.
OPEN_CMD_KINDS: dict[str, str] = {cmd: kind for cmd, (_, kind) in _OPEN_HANDLERS.items()}

register_cmds({cmd: h for cmd, (h, _) in _OPEN_HANDLERS.items()}, OPEN_CMD_KINDS)
