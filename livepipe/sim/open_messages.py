"""The simulator's open-platform messages: a room's web traffic re-encoded as ``LIVE_OPEN_PLATFORM_*`` cmds.

The open-platform WebSocket carries the same happenings as the web one, in the open platform's
shapes: each web message is read with livepipe's own parser (:func:`parse_command`) and the
resulting event re-encoded (:func:`to_open`). Users are named by ``open_id`` (a stable UUID per
simulated user; the real platform's open_id is per app, the simulator's per user) and ``union_id``
(empty, as for apps without that grant); ``uid`` is 0, as the real platform now sends it.
``msg_id`` is derived from the web event's id, so every open client receives the same msg_id.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from livepipe.bilibili.commands import parse_command
from livepipe.events import Event

_NS = uuid.UUID("6f0b1c9e-3d57-4f7e-9a43-0d1c2b3a4e5f")

#: uid -> open_id
OpenIdFor = Callable[[int], str]


def open_id(seed: int, uid: int) -> str:
    """The simulator's open_id of ``uid`` (a UUID string, stable for a seed)."""
    return str(uuid.uuid5(_NS, f"open:{seed}:{uid}"))


def _msg_id(ev: Event) -> str:
    return str(uuid.uuid5(_NS, f"msg:{ev.id}"))


def _user(ev: Event, oid: OpenIdFor) -> dict[str, Any]:
    uid = ev.uid or 0
    return {"uid": 0, "open_id": oid(uid) if uid else "", "union_id": "", "uname": ev.uname or "",
            "uface": (ev.data.get("face") or "")}  # fmt: skip


def _medal(ev: Event) -> dict[str, Any]:
    m = ev.data.get("medal") or {}
    return {"fans_medal_level": m.get("level") or 0, "fans_medal_name": m.get("name") or "",
            "fans_medal_wearing_status": bool(m.get("is_lighted"))}  # fmt: skip


def _common(ev: Event, room_id: int) -> dict[str, Any]:
    return {"room_id": room_id, "timestamp": int(ev.ts), "msg_id": _msg_id(ev)}


def to_open(message: dict[str, Any], room_id: int, anchor: dict[str, Any], oid: OpenIdFor) -> dict[str, Any] | None:
    """The open-platform form of one web message, or ``None`` for cmds the open platform does not push.

    ``anchor`` is the streamer's ``{uid, open_id, union_id, uname, uface}`` (gifts name their receiver).
    """
    ev = parse_command(message, room_id)
    kind, d = ev.kind, ev.data
    if kind == "danmaku":
        emo = d.get("emoticon") or {}
        body = {**_user(ev, oid), **_common(ev, room_id), **_medal(ev), "msg": ev.text or "",
                "guard_level": d.get("guard_level") or 0, "emoji_img_url": emo.get("url") or "",
                "dm_type": 1 if emo else 0, "glory_level": 0, "reply_open_id": "",
                "reply_uname": d.get("reply_uname") or "", "is_admin": int(bool(d.get("is_admin"))),
                "is_mirror": bool(d.get("mirror"))}  # fmt: skip
        if d.get("reply_uid"):
            body["reply_open_id"] = oid(int(d["reply_uid"]))
        return {"cmd": "LIVE_OPEN_PLATFORM_DM", "data": body}
    if kind == "gift":
        paid = d.get("coin_type") == "gold"
        body = {**_user(ev, oid), **_common(ev, room_id), **_medal(ev), "gift_id": d.get("gift_id") or 0,
                "gift_name": d.get("gift_name") or "", "gift_num": d.get("num") or 0, "price": d.get("price") or 0,
                "r_price": d.get("price") or 0, "paid": paid, "guard_level": d.get("guard_level") or 0,
                "anchor_info": dict(anchor), "gift_icon": d.get("gift_img") or "", "combo_gift": False,
                "combo_info": {"combo_base_num": 0, "combo_count": 0, "combo_id": d.get("batch_combo_id") or "",
                               "combo_timeout": 0},
                "blind_gift": {"blind_gift_id": 0, "status": bool(d.get("blind_gift"))}}  # fmt: skip
        return {"cmd": "LIVE_OPEN_PLATFORM_SEND_GIFT", "data": body}
    if kind == "guard" and not d.get("toast"):  # GUARD_BUY only: the toast is a second notice of the same buy
        user = _user(ev, oid)
        user.pop("uid")
        body = {"user_info": user, **_common(ev, room_id), **_medal(ev), "guard_level": d.get("guard_level") or 0,
                "guard_num": d.get("num") or 0, "guard_unit": d.get("unit") or "月", "price": d.get("price") or 0}
        return {"cmd": "LIVE_OPEN_PLATFORM_GUARD", "data": body}
    if kind == "super_chat":
        body = {**_user(ev, oid), **_common(ev, room_id), **_medal(ev), "message_id": d.get("sc_id") or 0,
                "message": ev.text or "", "rmb": d.get("price") or 0, "start_time": d.get("start_time") or 0,
                "end_time": d.get("end_time") or 0, "guard_level": d.get("guard_level") or 0}  # fmt: skip
        return {"cmd": "LIVE_OPEN_PLATFORM_SUPER_CHAT", "data": body}
    if kind == "super_chat_delete":
        body = {"room_id": room_id, "message_ids": list(d.get("ids") or []), "msg_id": _msg_id(ev)}
        return {"cmd": "LIVE_OPEN_PLATFORM_SUPER_CHAT_DEL", "data": body}
    if kind == "like":
        body = {**_user(ev, oid), **_common(ev, room_id), **_medal(ev), "like_text": ev.text or "",
                "like_count": 1, "guard_level": d.get("guard_level") or 0}  # fmt: skip
        return {"cmd": "LIVE_OPEN_PLATFORM_LIKE", "data": body}
    if kind == "enter" and not d.get("effect"):
        return {"cmd": "LIVE_OPEN_PLATFORM_LIVE_ROOM_ENTER", "data": {**_user(ev, oid), **_common(ev, room_id)}}
    if kind in ("live", "preparing"):
        if kind == "live" and not d.get("live_time"):  # the web sends LIVE twice; the open platform once
            return None
        body = {"room_id": room_id, "open_id": anchor["open_id"], "union_id": anchor.get("union_id", ""),
                "timestamp": int(ev.ts or time.time()), "area_name": anchor.get("area_name", ""),
                "title": anchor.get("title", ""), "msg_id": _msg_id(ev)}  # fmt: skip
        cmd = "LIVE_OPEN_PLATFORM_LIVE_START" if kind == "live" else "LIVE_OPEN_PLATFORM_LIVE_END"
        return {"cmd": cmd, "data": body}
    return None


def interaction_end(game_id: str) -> dict[str, Any]:
    """The message by which the platform stops pushing a game's messages."""
    return {"cmd": "LIVE_OPEN_PLATFORM_INTERACTION_END", "data": {"game_id": game_id, "timestamp": int(time.time())}}
