"""Users in the room: entries, likes, counters, online rankings and fan-medal changes."""

from __future__ import annotations

from typing import Any

from livepipe.sim import pbwrite
from livepipe.sim.messages.common import (
    GUARD_NAMES,
    MEDAL_COLOR,
    _medal_dict,
    mask_name,
)
from livepipe.sim.state import Room, SimUser


def interact_word_v2(user: SimUser, room: Room, ts: float, msg_type: int = 1, masked: bool = False) -> dict[str, Any]:
    """An INTERACT_WORD_V2 (1 enter, 2 follow, 3 share, ...) with the protobuf in ``data.pb``."""
    uid = 0 if masked else user.uid
    name = mask_name(user.uname) if masked else user.uname
    medal = b"" if masked else pbwrite.fans_medal(room.owner_uid, user.medal_level, user.medal_name,
                                                   user.guard_level, room.room_id)  # fmt: skip
    pb = pbwrite.interact_word_v2(
        uid=uid,
        uname=name,
        msg_type=msg_type,
        roomid=room.room_id,
        timestamp=int(ts),
        face="" if masked else user.face,
        medal=medal,
        guard_level=0 if masked else user.guard_level,
    )
    return {"cmd": "INTERACT_WORD_V2", "data": {"dmscore": 3, "pb": pbwrite.b64(pb)}}


def like_click(user: SimUser, room: Room, ts: float, masked: bool = False) -> dict[str, Any]:
    """A LIKE_INFO_V3_CLICK (someone liked the stream)."""
    return {
        "cmd": "LIKE_INFO_V3_CLICK",
        "data": {
            "show_area": 0,
            "msg_type": 6,
            "like_icon": "",
            "uid": 0 if masked else user.uid,
            "like_text": "为主播点赞了",
            "uname": mask_name(user.uname) if masked else user.uname,
            "uname_color": "",
            "identities": [1],
            "fans_medal": _medal_dict(user, room) if not masked else _medal_dict(SimUser(0, ""), room),
            "contribution_info": {"grade": 0},
            "dmscore": 20,
        },
    }


def like_update(click_count: int) -> dict[str, Any]:
    """A LIKE_INFO_V3_UPDATE (total like count)."""
    return {"cmd": "LIKE_INFO_V3_UPDATE", "data": {"click_count": click_count}}


def online_rank_count(count: int) -> dict[str, Any]:
    """An ONLINE_RANK_COUNT."""
    return {
        "cmd": "ONLINE_RANK_COUNT",
        "data": {"count": count, "count_text": str(count), "online_count": count, "online_count_text": str(count)},
    }


def _wan(n: int) -> str:
    return f"{n / 10000:.1f}万" if n >= 10000 else str(n)


def watched_change(num: int) -> dict[str, Any]:
    """A WATCHED_CHANGE ("N people watched")."""
    return {"cmd": "WATCHED_CHANGE", "data": {"num": num, "text_small": _wan(num), "text_large": f"{_wan(num)}人看过"}}


def online_rank_v3(users: list[SimUser]) -> dict[str, Any]:
    """An ONLINE_RANK_V3 (protobuf ranking of the given users, best first)."""
    items = [
        {"uid": u.uid, "face": u.face, "score": str(1000 * (len(users) - i)), "uname": u.uname, "rank": i + 1,
         "guard_level": u.guard_level}
        for i, u in enumerate(users)
    ]  # fmt: skip
    return {"cmd": "ONLINE_RANK_V3", "data": {"pb": pbwrite.b64(pbwrite.online_rank_v3(items))}}


def entry_effect(user: SimUser, room: Room, ts: float) -> dict[str, Any]:
    """An ENTRY_EFFECT: the banner of a guard (or a high-wealth user) entering the room."""
    role = GUARD_NAMES.get(user.guard_level, "")
    text = f"欢迎{role} <%{user.uname}%> 进入直播间" if role else f"<%{user.uname}%> 来了"
    return {
        "cmd": "ENTRY_EFFECT",
        "data": {
            "id": 4 - user.guard_level if user.guard_level else 380, "uid": user.uid, "target_id": room.owner_uid,
            "mock_effect": 0, "face": user.face, "privilege_type": user.guard_level, "copy_writing": text,
            "copy_color": "#F7F7F7", "highlight_color": "#FFFFFF", "priority": 1, "basemap_url": "",
            "show_avatar": 1 if user.guard_level else 0, "effective_time": 2, "web_basemap_url": "",
            "web_effective_time": 4, "web_effect_close": 1, "web_close_time": 900, "business": 1 if role else 6,
            "copy_writing_v2": text, "icon_list": [], "max_delay_time": 7, "trigger_time": int(ts * 1e9),
            "identities": 6 if role else 1, "effect_silent_time": 0, "effective_time_new": 0,
            "web_dynamic_url_webp": "", "web_dynamic_url_apng": "", "mobile_dynamic_url_webp": "",
            "new_style": 1, "is_mystery": False,
            "uinfo": {
                "uid": user.uid,
                "base": {"name": user.uname, "face": user.face, "name_color": 0, "is_mystery": False,
                         "risk_ctrl_info": None, "origin_info": None, "official_info": None, "name_color_str": ""},
                "medal": None, "wealth": {"level": user.level, "dm_icon_key": ""}, "title": None,
                "guard": {"level": user.guard_level, "expired_str": ""}, "uhead_frame": None, "guard_leader": None,
            },
            "full_cartoon_id": 0, "priority_level": 0,
        },
    }  # fmt: skip


def medal_change(uid: int, room: Room, level: int, medal_name: str, guard_level: int = 0) -> dict[str, Any]:
    """MESSAGEBOX_USER_MEDAL_CHANGE: a private note to ``uid`` that its fan medal of ``room`` changed.

    Only that user's own connections receive it (see :data:`PRIVATE_PREFIX`).
    """
    return {
        "cmd": "MESSAGEBOX_USER_MEDAL_CHANGE",
        "data": {
            "guard_level": guard_level, "is_lighted": 1, "medal_color_border": MEDAL_COLOR,
            "medal_color_end": MEDAL_COLOR, "medal_color_start": MEDAL_COLOR, "medal_level": level,
            "medal_name": medal_name, "multi_unlock_level": "", "normal_color": 0,
            "sub_title": f"恭喜你的<%{medal_name}%>粉丝勋章升到{level}级", "target_id": room.owner_uid, "type": 1,
            "uid": uid, "unlock": 0, "unlock_level": 0, "upper_bound_content": "",
        },
    }  # fmt: skip
