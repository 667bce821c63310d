"""Room state: live / preparing, room changes, admins, blocks, warnings, cut-offs, silent mode, login notice."""

from __future__ import annotations

import hashlib
import zlib
from typing import Any

from livepipe.sim.state import Room


def log_in_notice() -> dict[str, Any]:
    """LOG_IN_NOTICE: sent to anonymous connections, whose views are masked."""
    return {
        "cmd": "LOG_IN_NOTICE",
        "data": {
            "notice_msg": "为保护用户隐私，未登录无法查看他人昵称",
            "image_web": "http://i0.hdslb.com/bfs/dm/log-in-notice-web.png",
            "image_app": "http://i0.hdslb.com/bfs/dm/log-in-notice-app.png",
        },
    }


def room_admins(room: Room) -> dict[str, Any]:
    """ROOM_ADMINS with the room's admin uids."""
    return {"cmd": "ROOM_ADMINS", "uids": sorted(room.admins)}


def room_admin_entrance(uid: int) -> dict[str, Any]:
    """room_admin_entrance (lower-case cmd): ``uid`` became an admin."""
    return {"cmd": "room_admin_entrance", "dmscore": 45, "level": 1, "msg": "系统提示：你已被主播设为房管", "uid": uid}


def ban_period_text(hour: int) -> str:
    """ROOM_BLOCK_MSG ``vaild_period`` for a ban of ``hour`` hours (-1 permanent, 0 this stream only)."""
    if hour == -1:
        return "永久"
    if hour == 0:
        return "仅本场直播有效"
    return f"{hour}小时有效"


def room_block_msg(
    uid: int, uname: str, operator: int = 2, block_expired: int = -1, period: str = "", *, dmscore: int = 30
) -> dict[str, Any]:
    """ROOM_BLOCK_MSG: a user was banned (``operator`` 1 admin, 2 streamer).

    The root ``uid`` is a string, ``data.uid`` an int; keys are sorted, as in the real message.
    ``block_expired`` is the ban's end in unix seconds, -1 for a permanent ban, 0 for "this stream
    only". ``period`` is ``data.vaild_period`` (spelled so): :func:`ban_period_text` of the ban's
    hours. It may be left out for -1 and 0; a timed ban must give it (ValueError otherwise).
    """
    if not period:
        if block_expired not in (-1, 0):
            raise ValueError("a timed ban needs its period text: ban_period_text(hours)")
        period = ban_period_text(block_expired)
    return {
        "cmd": "ROOM_BLOCK_MSG",
        "data": {
            "block_expired": block_expired,
            "dmscore": dmscore,
            "operator": operator,
            "uid": uid,
            "uname": uname,
            "vaild_period": period,
        },
        "uid": str(uid),
        "uname": uname,
    }


def live_key(room: Room) -> str:
    """The live_key of the room's current stream.

    ``room.live_key`` when set (startLive sets it), else an 18-digit stand-in that stays the same
    for the whole stream (made from the room id and ``room.live_time``).
    """
    if room.live_key:
        return room.live_key
    digest = hashlib.md5(f"live:{room.room_id}:{int(room.live_time)}".encode()).digest()
    return str(10**17 + int.from_bytes(digest[:8], "big") % (9 * 10**17))


def sub_session_key(room: Room, ts: float = 0.0) -> str:
    """The sub_session_key of the room's current stream: ``<live_key>sub_time:<start in unix s>``.

    ``room.sub_session_key`` when the room has its own keys (startLive sets both), else built from
    :func:`live_key` and the stream's start, ``room.live_time`` (``ts`` when that is 0).
    """
    if room.live_key and room.sub_session_key:
        return room.sub_session_key
    return f"{live_key(room)}sub_time:{int(room.live_time or ts)}"


def room_change(
    room: Room, area_name: str, parent_area_name: str, *, parent_area_id: int | None = None
) -> dict[str, Any]:
    """ROOM_CHANGE after a title or area change: the room's title and area, and its stream keys.

    ``area_name`` and ``parent_area_name`` name ``room.area_id`` and its parent (the builders read
    no area table); ``parent_area_id`` replaces ``room.parent_area_id`` when given. While the room
    is not live, ``live_key`` is ``"0"`` and ``sub_session_key`` is empty, as in the real message.
    """
    live = room.live_status == 1
    return {
        "cmd": "ROOM_CHANGE",
        "data": {
            "title": room.title,
            "area_id": room.area_id,
            "parent_area_id": room.parent_area_id if parent_area_id is None else parent_area_id,
            "area_name": area_name,
            "parent_area_name": parent_area_name,
            "live_key": live_key(room) if live else "0",
            "sub_session_key": sub_session_key(room, room.last_update) if live else "",
        },
    }


def live(room: Room, ts: float, with_time: bool = True, *, platform: str = "pc_link") -> dict[str, Any]:
    """LIVE: the room's stream started (sent twice: first with ``live_time``, then without).

    The keys are the stream's (:func:`live_key`, :func:`sub_session_key`); ``live_time`` is the
    stream's start, ``room.live_time`` (``ts`` when that is 0), the same instant as the
    ``sub_time`` of ``sub_session_key``. ``platform`` is the one startLive was called with. Keys
    are in the real message's order (``live_time`` before ``roomid``).
    """
    msg: dict[str, Any] = {
        "cmd": "LIVE",
        "live_key": live_key(room),
        "voice_background": "",
        "sub_session_key": sub_session_key(room, ts),
        "live_platform": platform,
        "live_model": 0,
    }
    if with_time:
        msg["live_time"] = int(room.live_time or ts)
    msg["roomid"] = room.room_id
    return msg


#: the ``msg_id`` of a message counts milliseconds from this instant (unix ms; see :func:`msg_id`)
MSG_ID_EPOCH_MS = 1_688_553_880_000


def msg_id(send_time_ms: int, room_id: int) -> str:
    """A root ``msg_id`` shaped like the real ones: ``<n>:1000:1000``.

    In the published PREPARING samples ``n >> 19`` is exactly ``send_time`` minus
    :data:`MSG_ID_EPOCH_MS`, bits 9..18 vary and bits 0..8 are 0; here those middle bits come from
    the room id, so the id is stable for the same inputs.
    """
    n = (max(0, send_time_ms - MSG_ID_EPOCH_MS) << 19) | ((zlib.crc32(str(room_id).encode()) & 0x3FF) << 9)
    return f"{n}:1000:1000"


def preparing(room: Room, ts: float, round_: bool = False) -> dict[str, Any]:
    """PREPARING: the stream ended at ``ts`` (``roomid`` is a string; ``round: 1`` when a replay loop takes over).

    ``send_time`` is ``ts`` in ms and ``msg_id`` is made from it (:func:`msg_id`); keys are in the
    real message's order (``round`` before ``send_time``).
    """
    send_ms = int(ts * 1000)
    msg: dict[str, Any] = {
        "cmd": "PREPARING",
        "msg_id": msg_id(send_ms, room.room_id),
        "p_is_ack": True,
        "p_msg_type": 1,
        "roomid": str(room.room_id),
    }
    if round_:
        msg["round"] = 1
    msg["send_time"] = send_ms
    return msg


def stop_live_room_list(room_ids: list[int]) -> dict[str, Any]:
    """STOP_LIVE_ROOM_LIST (sent uncompressed, as a plain ver-0 packet)."""
    return {"cmd": "STOP_LIVE_ROOM_LIST", "data": {"room_id_list": list(room_ids)}}


def warning(room: Room, msg: str) -> dict[str, Any]:
    """WARNING from the platform's moderators."""
    return {"cmd": "WARNING", "msg": msg, "roomid": room.room_id}


def cut_off(room: Room, msg: str) -> dict[str, Any]:
    """CUT_OFF: the stream was cut by the platform."""
    return {"cmd": "CUT_OFF", "msg": msg, "roomid": room.room_id}


def room_silent(on: bool, kind: str = "level", level: int = 1, second: int = -1) -> dict[str, Any]:
    """ROOM_SILENT_ON / ROOM_SILENT_OFF."""
    if not on:
        return {"cmd": "ROOM_SILENT_OFF", "data": {"type": "", "level": 0, "second": 0}}
    return {"cmd": "ROOM_SILENT_ON", "data": {"type": kind, "level": level, "second": second}}
