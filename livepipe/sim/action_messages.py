"""Parts of the msg/send reply: its ``mode_info.user`` object and ``mode_info.extra`` JSON.

Pure functions; all values are whatever the caller passes, nothing here reads the clock or the
state. The cmd messages the action endpoints broadcast (ROOM_BLOCK_MSG, ROOM_CHANGE, LIVE,
PREPARING, the DANMU_MSG echo) come from :mod:`livepipe.sim.messages`, the same builders the
simulated traffic uses.
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
