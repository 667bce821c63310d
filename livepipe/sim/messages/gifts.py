"""Gifts and money: ``SEND_GIFT(_V2)``, super chats, guard purchases and their toasts."""

from __future__ import annotations

import zlib
from typing import Any

from livepipe.sim import pbwrite
from livepipe.sim.messages.common import (
    GIFTS,
    GUARD_COLORS,
    GUARD_NAMES,
    GUARD_PRICES,
    _medal_dict,
)
from livepipe.sim.state import Room, SimUser


def send_gift(
    user: SimUser, room: Room, ts: float, *, gift_index: int = 0, num: int = 1, rnd: int = 0
) -> dict[str, Any]:
    """A SEND_GIFT (JSON form, with ``gift_info`` as current clients expect)."""
    gift_id, name, price, coin = GIFTS[gift_index % len(GIFTS)]
    t = int(ts)
    tid = str(rnd or int(ts * 1_000_000))
    combo = f"batch:gift:combo_id:{user.uid}:{room.owner_uid}:{gift_id}:{ts:.4f}"
    return {
        "cmd": "SEND_GIFT",
        "data": {
            "action": "投喂",
            "batch_combo_id": combo,
            "blind_gift": None,
            "coin_type": coin,
            "combo_total_coin": price * num,
            "discount_price": price,
            "dmscore": 8,
            "face": user.face,
            "giftId": gift_id,
            "giftName": name,
            "giftType": 0 if coin == "gold" else 5,
            "gift_info": {"img_basic": f"https://s1.hdslb.com/bfs/live/gift-{gift_id}.png", "webp": ""},
            "gold": 0,
            "guard_level": user.guard_level,
            "medal_info": _medal_dict(user, room),
            "name_color": "",
            "num": num,
            "original_gift_name": "",
            "price": price,
            "receive_user_info": {"uid": room.owner_uid, "uname": room.owner_name},
            "rnd": tid,
            "silver": 0,
            "super_gift_num": num,
            "tid": tid,
            "timestamp": t,
            "total_coin": price * num,
            "uid": user.uid,
            "uname": user.uname,
            "wealth_level": min(60, user.level // 2),
        },
    }


def send_gift_v2(
    user: SimUser, room: Room, ts: float, *, gift_index: int = 0, num: int = 1, rnd: int = 0
) -> dict[str, Any]:
    """A SEND_GIFT_V2: the same gift as :func:`send_gift`, as base64 protobuf in ``data.pb``."""
    gift_id, name, price, coin = GIFTS[gift_index % len(GIFTS)]
    tid = str(rnd or int(ts * 1_000_000))
    pb = pbwrite.send_gift_v2(
        uid=user.uid,
        uname=user.uname,
        face=user.face,
        guard_level=user.guard_level,
        medal=(room.owner_uid, room.room_id, user.medal_level, user.medal_name) if user.medal_level else None,
        gifts=[
            {
                "gift_id": gift_id,
                "gift_name": name,
                "num": num,
                "price": price,
                "total_coin": price * num,
                "coin_type": coin,
                "tid": tid,
                "timestamp": int(ts),
                "rnd": tid,
                "action": "投喂",
                "img": f"https://s1.hdslb.com/bfs/live/gift-{gift_id}.png",
            }
        ],
    )
    return {"cmd": "SEND_GIFT_V2", "data": {"dmscore": 8, "pb": pbwrite.b64(pb)}}


def super_chat(user: SimUser, room: Room, ts: float, text: str, price: int, sc_id: int) -> dict[str, Any]:
    """A SUPER_CHAT_MESSAGE (``price`` in CNY; shown for a time that grows with the price)."""
    t = int(ts)
    duration = 60 if price < 50 else 120 if price < 100 else 300
    return {
        "cmd": "SUPER_CHAT_MESSAGE",
        "data": {
            "background_bottom_color": "#2A60B2",
            "background_color": "#EDF5FF",
            "background_color_end": "#405D85",
            "background_color_start": "#3171D2",
            "background_icon": "",
            "background_image": "",
            "background_price_color": "#7497CD",
            "color_point": 0.7,
            "dmscore": 120,
            "end_time": t + duration,
            "gift": {"gift_id": 12000, "gift_name": "醒目留言", "num": 1},
            "id": sc_id,
            "is_ranked": 1,
            "medal_info": _medal_dict(user, room),
            "message": text,
            "message_font_color": "#A3F6FF",
            "message_trans": "",
            "price": price,
            "rate": 1000,
            "start_time": t,
            "time": duration,
            "token": f"{zlib.crc32(f'sc{sc_id}'.encode()):08X}",
            "trans_mark": 0,
            "ts": t,
            "uid": user.uid,
            "user_info": {
                "face": user.face,
                "face_frame": "",
                "guard_level": user.guard_level,
                "is_main_vip": 0,
                "is_svip": 0,
                "is_vip": 0,
                "level_color": "#969696",
                "manager": 1 if user.uid in room.admins else 0,
                "name_color": GUARD_COLORS.get(user.guard_level, "#666666"),
                "title": "0",
                "uname": user.uname,
                "user_level": user.level,
            },
        },
        "roomid": room.room_id,
    }


def guard_buy(user: SimUser, room: Room, ts: float, guard_level: int = 3, num: int = 1) -> dict[str, Any]:
    """A GUARD_BUY (old-form guard purchase)."""
    t = int(ts)
    return {
        "cmd": "GUARD_BUY",
        "data": {
            "uid": user.uid,
            "username": user.uname,
            "guard_level": guard_level,
            "num": num,
            "price": GUARD_PRICES[guard_level],
            "gift_id": 10000 + (4 - guard_level),
            "gift_name": GUARD_NAMES[guard_level],
            "start_time": t,
            "end_time": t,
        },
    }


def user_toast_v2(
    user: SimUser, room: Room, ts: float, guard_level: int = 3, num: int = 1, payflow_id: str = ""
) -> dict[str, Any]:
    """A USER_TOAST_MSG_V2 (the guard purchase toast, current form)."""
    t = int(ts)
    role = GUARD_NAMES[guard_level]
    return {
        "cmd": "USER_TOAST_MSG_V2",
        "data": {
            "sender_uinfo": {"uid": user.uid, "base": {"name": user.uname, "face": user.face}},
            "receiver_uinfo": {"uid": room.owner_uid, "base": {"name": room.owner_name, "face": ""}},
            "guard_info": {
                "guard_level": guard_level,
                "role_name": role,
                "room_guard_count": 1,
                "op_type": 1,
                "start_time": t,
                "end_time": t,
            },
            "pay_info": {
                "num": num,
                "price": GUARD_PRICES[guard_level],
                "unit": "月",
                "payflow_id": payflow_id or f"sim{t}{user.uid % 100000:05d}",
            },
            "gift_info": {"gift_id": 10000 + (4 - guard_level)},
            "effect_info": {"effect_id": 0, "room_effect_id": 0, "face_effect_id": 0},
            "option": {"anchor_show": True, "user_show": True, "is_group": 0, "is_show": 0, "source": 0, "svga_block": 0, "color": GUARD_COLORS[guard_level]},  # noqa: E501
            "toast_msg": f"<%{user.uname}%> 在主播{room.owner_name}的直播间开通了{role}",
        },
    }
