"""Room state: live / preparing, room changes and real-time info, warnings and cut-offs, silent mode,
blocks and room admins.
"""

from __future__ import annotations

from typing import Any

from livepipe.bilibili.commands.common import (
    _d,
    _int,
    _mk,
    _secs,
    _str,
    _user,
)
from livepipe.events import Event


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
