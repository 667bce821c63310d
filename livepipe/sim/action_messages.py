"""Cmd messages the action endpoints broadcast: pure functions returning dicts.

The msg/send reply's mode_info extra, ROOM_BLOCK_MSG (a ban), ROOM_CHANGE (title/area),
LIVE (start) and PREPARING (stop). Shapes follow the real messages (see docs/simulator-actions.md);
all values are whatever the caller passes, nothing here reads the clock or the state.
"""

from __future__ import annotations

import json
from typing import Any

NOFACE = "https://i0.hdslb.com/bfs/face/member/noface.jpg"


def user_info(uid: int, uname: str, face: str = "") -> dict[str, Any]:
    """The ``mode_info.user`` object of a danmaku (no medal, wealth or guard)."""
    face = face or NOFACE
    return {
        "uid": uid,
        "base": {
            "name": uname,
            "face": face,
            "name_color": 0,
            "is_mystery": False,
            "risk_ctrl_info": None,
            "origin_info": {"name": uname, "face": face},
            "official_info": {"role": 0, "title": "", "desc": "", "type": -1},
            "name_color_str": "",
        },
        "medal": None,
        "wealth": None,
        "title": {"old_title_css_id": "", "title_css_id": ""},
        "guard": None,
        "uhead_frame": None,
        "guard_leader": {"is_guard_leader": False},
    }


def danmaku_extra(
    *,
    content: str,
    id_str: str,
    user_hash: int,
    send_from_me: bool,
    color: int = 16777215,
    font_size: int = 25,
    dm_type: int = 0,
    emoticon_unique: str = "",
    reply_mid: int = 0,
    reply_uname: str = "",
) -> str:
    """The JSON string in ``mode_info.extra`` (msg/send reply and DANMU_MSG ``info[0][15]``)."""
    extra = {
        "send_from_me": send_from_me,
        "master_player_hidden": False,
        "mode": 0,
        "color": color,
        "dm_type": dm_type,
        "font_size": font_size,
        "player_mode": 1,
        "show_player_type": 0,
        "content": content,
        "user_hash": str(user_hash),
        "emoticon_unique": emoticon_unique,
        "bulge_display": 0,
        "recommend_score": 0,
        "main_state_dm_color": "",
        "objective_state_dm_color": "",
        "direction": 0,
        "pk_direction": 0,
        "quartet_direction": 0,
        "anniversary_crowd": 0,
        "yeah_space_type": "",
        "yeah_space_url": "",
        "jump_to_url": "",
        "space_type": "",
        "space_url": "",
        "animation": {},
        "emots": None,
        "is_audited": False,
        "id_str": id_str,
        "icon": None,
        "show_reply": True,
        "reply_mid": reply_mid,
        "reply_uname": reply_uname,
        "reply_uname_color": "",
        "reply_is_mystery": False,
        "reply_type_enum": 0,
        "hit_combo": 0,
        "esports_jump_url": "",
    }
    return json.dumps(extra, ensure_ascii=False, separators=(",", ":"))


def room_block_msg(
    *, uid: int, uname: str, operator: int, block_expired: int, vaild_period: str, dmscore: int = 30
) -> dict[str, Any]:
    """ROOM_BLOCK_MSG: root ``uid`` is a string, ``data.uid`` an int; ``vaild_period`` is spelled so."""
    return {
        "cmd": "ROOM_BLOCK_MSG",
        "data": {
            "block_expired": block_expired,
            "dmscore": dmscore,
            "operator": operator,
            "uid": uid,
            "uname": uname,
            "vaild_period": vaild_period,
        },
        "uid": str(uid),
        "uname": uname,
    }


def room_change(
    *,
    title: str,
    area_id: int,
    parent_area_id: int,
    area_name: str,
    parent_area_name: str,
    live_key: str,
    sub_session_key: str,
) -> dict[str, Any]:
    """ROOM_CHANGE after a title or area change (``live_key`` "0" and empty sub key when offline)."""
    return {
        "cmd": "ROOM_CHANGE",
        "data": {
            "title": title,
            "area_id": area_id,
            "parent_area_id": parent_area_id,
            "area_name": area_name,
            "parent_area_name": parent_area_name,
            "live_key": live_key or "0",
            "sub_session_key": sub_session_key,
        },
    }


def live(
    *, roomid: int, live_key: str, sub_session_key: str, live_platform: str, live_time: int | None
) -> dict[str, Any]:
    """LIVE; the first of the pair startLive causes carries ``live_time``, the second does not."""
    msg: dict[str, Any] = {
        "cmd": "LIVE",
        "live_key": live_key,
        "voice_background": "",
        "sub_session_key": sub_session_key,
        "live_platform": live_platform,
        "live_model": 0,
        "roomid": roomid,
    }
    if live_time is not None:
        msg["live_time"] = live_time
    return msg


def preparing(*, roomid: int, send_time_ms: int, msg_id: str, round_: bool = False) -> dict[str, Any]:
    """PREPARING: ``roomid`` is a string; ``round: 1`` only when a replay loop takes over."""
    msg: dict[str, Any] = {
        "cmd": "PREPARING",
        "msg_id": msg_id,
        "p_is_ack": True,
        "p_msg_type": 1,
        "roomid": str(roomid),
        "send_time": send_time_ms,
    }
    if round_:
        msg["round"] = 1
    return msg
