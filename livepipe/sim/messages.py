# Stays whole: not split yet: its seams are the builders by family (danmaku, gifts, users, room state,
# PK/lotteries) and the masking for anonymous connections (issue 19).
"""Pure builders of live ``cmd`` messages, shaped like the real ones (protocol.md §11, §12, §14).

Every function returns a fresh JSON-ready dict and performs no I/O, so tests and the action
endpoints can reuse them: build a message, then ``room.broadcast(msg)``.

Users are :class:`~livepipe.sim.state.SimUser`; rooms are :class:`~livepipe.sim.state.Room`;
``ts`` is unix time in seconds (float allowed).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import zlib
from typing import Any

import orjson

from livepipe.sim import pbwrite
from livepipe.sim.state import Room, SimUser

GUARD_NAMES = {1: "总督", 2: "提督", 3: "舰长"}
GUARD_PRICES = {1: 19998000, 2: 1998000, 3: 198000}
GUARD_COLORS = {1: "#FF7C28", 2: "#E17AFF", 3: "#00D1F1"}
GIFTS = [
    # (gift_id, name, price in gold coins (1000 = 1 CNY), coin_type)
    (31036, "小花花", 100, "gold"),
    (31039, "牛哇牛哇", 100, "gold"),
    (30607, "小心心", 0, "silver"),
    (31164, "粉丝团灯牌", 1000, "gold"),
    (31037, "打call", 500, "gold"),
    (31210, "这个好诶", 1000, "gold"),
    (32132, "告白气球", 52000, "gold"),
]
MEDAL_COLOR = 6067854


def uid_hash(uid: int) -> str:
    """``info[0][7]``: CRC32 of the decimal uid, 8 lower-case hex digits."""
    return f"{zlib.crc32(str(uid).encode()):08x}"


def mask_name(uname: str) -> str:
    """How anonymous connections see a name: first character + ``***``."""
    return (uname[:1] + "***") if uname else "***"


def id_str_for(room_id: int, uid: int, ts_ms: int, rnd: int) -> str:
    """A danmaku ``id_str``: 34 hex digits, stable for the same inputs."""
    return hashlib.md5(f"{room_id}:{uid}:{ts_ms}:{rnd}".encode()).hexdigest() + f"{rnd & 0xFF:02x}"


def _medal_array(user: SimUser, room: Room) -> list[Any]:
    if not user.medal_level:
        return []
    return [
        user.medal_level, user.medal_name, room.owner_name, room.room_id, MEDAL_COLOR, "", 0,
        MEDAL_COLOR, MEDAL_COLOR, MEDAL_COLOR, user.guard_level, 1, room.owner_uid,
    ]  # fmt: skip


def _medal_dict(user: SimUser, room: Room) -> dict[str, Any]:
    return {
        "anchor_roomid": room.room_id if user.medal_level else 0,
        "anchor_uname": room.owner_name if user.medal_level else "",
        "guard_level": user.guard_level,
        "icon_id": 0,
        "is_lighted": 1 if user.medal_level else 0,
        "medal_color": MEDAL_COLOR if user.medal_level else 0,
        "medal_color_border": MEDAL_COLOR if user.medal_level else 0,
        "medal_color_end": MEDAL_COLOR if user.medal_level else 0,
        "medal_color_start": MEDAL_COLOR if user.medal_level else 0,
        "medal_level": user.medal_level,
        "medal_name": user.medal_name,
        "special": "",
        "target_id": room.owner_uid if user.medal_level else 0,
    }


def _danmaku_user_parts(user: SimUser, room: Room, masked: bool) -> tuple[Any, ...]:
    """The parts of a DANMU_MSG that depend only on the sender and the room (not on the text or time).

    Returns ``(uid, uname, user_hash, crc_hex, mode_info_user, user_arr, medal, ul, wealth)``;
    ``mode_info_user`` is None when masked.
    """
    uid = 0 if masked else user.uid
    uname = mask_name(user.uname) if masked else user.uname
    face = "" if masked else user.face
    crc = zlib.crc32(str(user.uid).encode())
    mi_user: dict[str, Any] | None = None
    if not masked:
        mi_user = {
            "uid": uid,
            "base": {
                "name": uname,
                "face": face,
                "is_mystery": False,
                "name_color": 0,
                "name_color_str": GUARD_COLORS.get(user.guard_level, ""),
                "official_info": {"role": 0, "title": "", "desc": "", "type": -1},
                "origin_info": {"name": uname, "face": face},
                "risk_ctrl_info": None,
            },
            "medal": (
                {
                    "name": user.medal_name,
                    "level": user.medal_level,
                    "color_start": MEDAL_COLOR,
                    "color_end": MEDAL_COLOR,
                    "color_border": MEDAL_COLOR,
                    "color": MEDAL_COLOR,
                    "id": 0,
                    "typ": 0,
                    "is_light": 1,
                    "ruid": room.owner_uid,
                    "guard_level": user.guard_level,
                    "score": user.medal_level * 1000,
                    "guard_icon": "",
                    "honor_icon": "",
                    "user_receive_count": 0,
                }
                if user.medal_level
                else None
            ),
            "wealth": None,
            "title": {"old_title_css_id": "", "title_css_id": ""},
            "guard": None,
            "uhead_frame": None,
            "guard_leader": {"is_guard_leader": False},
        }
    user_arr = [uid, uname, 1 if (user.uid in room.admins and not masked) else 0, 0, 0, 10000, 1,
                GUARD_COLORS.get(user.guard_level, "")]  # fmt: skip
    medal = [] if masked else _medal_array(user, room)
    ul = [0 if masked else user.level, 0, 9868950, ">50000", 0]
    wealth = [0 if masked else min(60, user.level // 2)]
    return uid, uname, str(crc), f"{crc:08x}", mi_user, user_arr, medal, ul, wealth


def _assemble_danmaku(
    parts: tuple[Any, ...],
    text: str,
    room_id: int,
    ts: float,
    masked: bool,
    rnd: int,
    id_str: str | None,
    cmd_suffix: str,
    send_from_me: bool,
    color: int,
    mode: int,
    reply_mid: int,
    reply_uname: str,
    guard_level: int,
    real_uid: int,
) -> dict[str, Any]:
    """A DANMU_MSG from the sender parts of :func:`_danmaku_user_parts` plus what varies per message."""
    _uid, _uname, user_hash, crc_hex, mi_user, user_arr, medal, ul, wealth = parts
    ts_ms = int(ts * 1000)
    rnd = rnd or (ts_ms & 0x7FFFFFFF)
    id_str = id_str or id_str_for(room_id, real_uid, ts_ms, rnd)
    extra = {
        "send_from_me": send_from_me,
        "mode": 0,
        "color": color,
        "dm_type": 0,
        "font_size": 25,
        "player_mode": mode,
        "show_player_type": 0,
        "content": text,
        "user_hash": user_hash,
        "emoticon_unique": "",
        "bulge_display": 0,
        "recommend_score": 1,
        "direction": 0,
        "pk_direction": 0,
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
        "hit_combo": 0,
    }
    mode_info: dict[str, Any] = {"mode": 0, "show_player_type": 0, "extra": _json_text(extra)}
    if mi_user is not None:
        mode_info["user"] = mi_user
    props = [
        0, mode, 25, color, ts_ms, rnd, 0, crc_hex, 0, 0, 0, "", 0, "{}", "{}", mode_info,
        {"activity_identity": "", "activity_source": 0, "not_show": 0}, 0,
    ]  # fmt: skip
    info: list[Any] = [
        props, text, user_arr, medal, ul, ["", ""], 0, 0 if masked else guard_level, None,
        {"ts": int(ts), "ct": f"{zlib.crc32(id_str.encode()):08X}"}, 0, 0, None, None, 0, 1040, wealth, None,
    ]  # fmt: skip
    return {"cmd": "DANMU_MSG" + cmd_suffix, "info": info, "dm_v2": ""}


def _json_text(obj: Any) -> str:
    """Compact JSON text with non-ASCII kept (as ``json.dumps(ensure_ascii=False)`` compact)."""
    try:
        return orjson.dumps(obj).decode()
    except TypeError:  # e.g. an int beyond 64 bits: the standard library copes
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def danmaku(
    user: SimUser,
    text: str,
    room: Room,
    ts: float,
    masked: bool = False,
    *,
    rnd: int = 0,
    id_str: str | None = None,
    cmd_suffix: str = "",
    send_from_me: bool = False,
    color: int = 16777215,
    mode: int = 1,
    reply_mid: int = 0,
    reply_uname: str = "",
) -> dict[str, Any]:
    """A DANMU_MSG with the full ``info`` layout (``cmd_suffix`` e.g. ``":4:0:2:2:2:0"``).

    ``masked`` builds what an anonymous connection receives: uid 0, ``x***`` name, no face,
    no medal, no ``user`` details, UL and wealth level 0, while ``info[0][7]`` (the uid hash) stays.
    Every nested part is fresh (callers may change the result).
    """
    parts = _danmaku_user_parts(user, room, masked)
    return _assemble_danmaku(parts, text, room.room_id, ts, masked, rnd, id_str, cmd_suffix, send_from_me,
                             color, mode, reply_mid, reply_uname, user.guard_level, user.uid)  # fmt: skip


class DanmakuTemplates:
    """A fast :func:`danmaku` for busy traffic: the sender's parts are built once per user and room.

    :meth:`build` returns a message equal to ``danmaku(...)`` with the same arguments, but the
    sender-dependent nested parts (``info[2]``, ``info[3]``, ``info[4]``, ``info[16]`` and
    ``mode_info["user"]``) are shared between messages from the same sender: treat them as
    read-only (:func:`mask` never changes its input). A user whose fields change (a new admin, a
    new medal) gets a new template, since the cache key holds every field the parts depend on.
    """

    def __init__(self, limit: int = 20_000) -> None:
        self._parts: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._limit = limit

    @staticmethod
    def _key(user: SimUser, room: Room, masked: bool) -> tuple[Any, ...]:
        return (user.uid, user.uname, user.face, user.level, user.medal_level, user.medal_name, user.guard_level,
                user.uid in room.admins, room.room_id, room.owner_uid, room.owner_name, masked)  # fmt: skip

    def prepare(self, users: list[SimUser], room: Room) -> None:
        """Build the (unmasked) parts of ``users`` in ``room`` ahead of their first danmaku."""
        for user in users[: self._limit - len(self._parts)]:
            self._parts.setdefault(self._key(user, room, False), _danmaku_user_parts(user, room, False))

    def build(self, user: SimUser, text: str, room: Room, ts: float, masked: bool = False, *, rnd: int = 0,
              cmd_suffix: str = "") -> dict[str, Any]:  # fmt: skip
        """``danmaku(user, text, room, ts, masked, rnd=rnd, cmd_suffix=cmd_suffix)``, faster."""
        k = self._key(user, room, masked)
        parts = self._parts.get(k)
        if parts is None:
            if len(self._parts) >= self._limit:
                self._parts.clear()
            parts = self._parts[k] = _danmaku_user_parts(user, room, masked)
        return _assemble_danmaku(parts, text, room.room_id, ts, masked, rnd, None, cmd_suffix, False, 16777215, 1,
                                 0, "", user.guard_level, user.uid)  # fmt: skip


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


# --- entry effects, interaction cards -------------------------------------------------------------


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


def dm_interaction(interaction_id: int, kind: int, *, count: int = 0, text: str = "") -> dict[str, Any]:
    """A DM_INTERACTION card: 102 "everyone is saying" (an object), 103 follows / 106 likes (a JSON string)."""
    if kind == 102:
        data: Any = {
            "combo": [{"id": interaction_id, "status": 4, "content": text, "cnt": count, "guide": "他们都在说:",
                       "left_duration": 20000, "fade_duration": 60000}],
            "merge_interval": 1000, "card_appear_interval": 1000, "send_interval": 1000,
        }  # fmt: skip
    else:
        suffix = {103: "人关注了主播", 105: "人分享了直播间", 106: "人正在点赞"}.get(kind, "人参与了互动")
        data = json.dumps({"fade_duration": 10000, "cnt": count, "card_appear_interval": 0, "suffix_text": suffix,
                           "reset_cnt": 0, "display_flag": 1}, ensure_ascii=False, separators=(",", ":"))  # fmt: skip
    return {"cmd": "DM_INTERACTION", "data": {"data": data, "dmscore": 36, "id": interaction_id, "status": 4,
                                              "type": kind}}  # fmt: skip


# --- PK battles ----------------------------------------------------------------------------------


def _pk_sides(room: Room, opponent_room: int, votes: int | None, opponent_votes: int | None,
              extra: dict[str, Any] | None = None, opponent_extra: dict[str, Any] | None = None,
              ) -> dict[str, Any]:  # fmt: skip
    own: dict[str, Any] = {"room_id": room.room_id}
    other: dict[str, Any] = {"room_id": opponent_room}
    if votes is not None:
        own.update({"votes": votes, "best_uname": "", "vision_desc": 0})
        other.update({"votes": opponent_votes, "best_uname": "", "vision_desc": 0})
    own.update(extra or {})
    other.update(opponent_extra or {})
    return {"init_info": own, "match_info": other}


def pk_battle_start_new(room: Room, pk_id: int, opponent_room: int, ts: float, duration: int = 300) -> dict[str, Any]:
    """PK_BATTLE_START_NEW: a PK battle between ``room`` (init side) and ``opponent_room`` starts."""
    t = int(ts)
    return {
        "cmd": "PK_BATTLE_START_NEW", "pk_id": pk_id, "pk_status": 201, "timestamp": t,
        "data": {
            "battle_type": 1, "final_hit_votes": 0, "pk_start_time": t, "pk_frozen_time": t + duration,
            "pk_end_time": t + duration + 10, "pk_votes_type": 0, "pk_votes_add": 0, "pk_votes_name": "乱斗值",
            "star_light_msg": "", "pk_countdown": t + duration, "final_conf": {"switch": 0, "start_time": 0,
                                                                             "end_time": 0},
            **_pk_sides(room, opponent_room, None, None, {"date_streak": 0}, {"date_streak": 0}),
        },
        "roomid": str(room.room_id),
    }  # fmt: skip


def pk_battle_process_new(room: Room, pk_id: int, opponent_room: int, ts: float, votes: int, opponent_votes: int,
                          best_uname: str = "") -> dict[str, Any]:  # fmt: skip
    """PK_BATTLE_PROCESS_NEW: the current scores of both rooms."""
    sides = _pk_sides(room, opponent_room, votes, opponent_votes)
    sides["init_info"]["best_uname"] = best_uname
    return {"cmd": "PK_BATTLE_PROCESS_NEW", "pk_id": pk_id, "pk_status": 201, "timestamp": int(ts),
            "data": {"battle_type": 1, **sides}, "trace_id": ""}  # fmt: skip


def pk_winner_types(votes: int, opponent_votes: int) -> tuple[int, int]:
    """``winner_type`` of each side: 3 won, -1 lost, 2 both on a draw."""
    if votes == opponent_votes:
        return 2, 2
    return (3, -1) if votes > opponent_votes else (-1, 3)


def pk_battle_end(room: Room, pk_id: int, opponent_room: int, ts: float, votes: int, opponent_votes: int,
                  ) -> dict[str, Any]:  # fmt: skip
    """PK_BATTLE_END: final scores and each side's ``winner_type``."""
    own, other = pk_winner_types(votes, opponent_votes)
    sides = _pk_sides(room, opponent_room, votes, opponent_votes, {"winner_type": own}, {"winner_type": other})
    for side in sides.values():
        side.pop("vision_desc", None)
    return {"cmd": "PK_BATTLE_END", "pk_id": str(pk_id), "pk_status": 401, "timestamp": int(ts),
            "data": {"battle_type": 1, "timer": 10, **sides}}  # fmt: skip


def pk_battle_settle_v2(pk_id: int, ts: float, votes: int, opponent_votes: int,
                        assists: list[SimUser]) -> dict[str, Any]:  # fmt: skip
    """PK_BATTLE_SETTLE_V2: this room's settled result and its top helpers."""
    result, _ = pk_winner_types(votes, opponent_votes)
    return {
        "cmd": "PK_BATTLE_SETTLE_V2", "pk_id": pk_id, "pk_status": 601, "settle_status": 1, "timestamp": int(ts),
        "data": {
            "pk_id": str(pk_id), "pk_type": "1", "result_type": result, "battle_type": 1,
            "result_info": {"total_score": 0, "result_type_score": 0, "pk_votes": votes, "pk_votes_name": "乱斗值",
                            "pk_crit_score": 0},
            "assist_info": [{"rank": i + 1, "uid": u.uid, "face": u.face, "uname": u.uname}
                            for i, u in enumerate(assists)],
            "star_light_msg": "",
        },
    }  # fmt: skip


# --- lotteries and red packets ------------------------------------------------------------------------


def anchor_lot_start(room: Room, lot_id: int, ts: float, award: str, danmu: str, award_num: int = 1,
                     duration: int = 600) -> dict[str, Any]:  # fmt: skip
    """ANCHOR_LOT_START: a 天选时刻 lottery; viewers join by sending ``danmu`` (fan medal level >= 1)."""
    return {
        "cmd": "ANCHOR_LOT_START",
        "data": {
            "asset_icon": "https://i0.hdslb.com/bfs/live/sim-anchor-lot.png", "award_image": "", "award_name": award,
            "award_num": award_num, "cur_gift_num": 0, "current_time": int(ts), "danmu": danmu, "gift_id": 0,
            "gift_name": "", "gift_num": 1, "gift_price": 0, "goaway_time": 180, "goods_id": 15, "id": lot_id,
            "is_broadcast": 1, "join_type": 0, "lot_status": 0, "max_time": duration,
            "require_text": "当前主播粉丝勋章至少1级", "require_type": 2, "require_value": 1, "room_id": room.room_id,
            "send_gift_ensure": 0, "show_panel": 1, "start_dont_popup": 0, "status": 1, "time": duration - 1,
            "url": "https://live.bilibili.com/p/html/live-lottery/anchor-join.html",
            "web_url": "https://live.bilibili.com/p/html/live-lottery/anchor-join.html",
        },
    }  # fmt: skip


def anchor_lot_award(lot_id: int, award: str, winners: list[SimUser]) -> dict[str, Any]:
    """ANCHOR_LOT_AWARD: the winners of a 天选时刻 lottery."""
    return {
        "cmd": "ANCHOR_LOT_AWARD",
        "data": {
            "award_dont_popup": 1, "award_image": "", "award_name": award, "award_num": len(winners),
            "award_users": [{"uid": u.uid, "uname": u.uname, "face": u.face, "level": u.level, "color": 5805790}
                            for u in winners],
            "id": lot_id, "lot_status": 2, "url": "https://live.bilibili.com/p/html/live-lottery/anchor-join.html",
            "web_url": "https://live.bilibili.com/p/html/live-lottery/anchor-join.html",
        },
    }  # fmt: skip


#: the gifts a popularity red packet holds: (gift_id, name, price in gold coins)
RED_PACKET_GIFTS = [(31212, "打call", 500), (31214, "牛哇", 100), (31216, "i了i了", 100)]


def popularity_red_pocket_start(sender: SimUser, lot_id: int, ts: float, duration: int = 180) -> dict[str, Any]:
    """POPULARITY_RED_POCKET_START: a red packet opens; viewers join by sending its danmaku."""
    t = int(ts)
    awards = [{"gift_id": gid, "gift_name": name, "gift_pic": f"https://s1.hdslb.com/bfs/live/sim-{gid}.png", "num": n}
              for (gid, name, _), n in zip(RED_PACKET_GIFTS, (2, 3, 3), strict=True)]  # fmt: skip
    return {
        "cmd": "POPULARITY_RED_POCKET_START",
        "data": {
            "lot_id": lot_id, "sender_uid": sender.uid, "sender_name": sender.uname, "sender_face": sender.face,
            "join_requirement": 1, "danmu": "老板大气！点点红包抽礼物！", "current_time": t, "start_time": t,
            "end_time": t + duration, "last_time": duration, "remove_time": t + duration + 15,
            "replace_time": t + duration + 10, "lot_status": 1,
            "h5_url": f"https://live.bilibili.com/p/html/live-app-red-envelope/popularity.html?lotteryId={lot_id}",
            "user_status": 2, "awards": awards, "lot_config_id": 3, "total_price": 1600, "wait_num": 0,
        },
    }  # fmt: skip


def popularity_red_pocket_winner_list(lot_id: int, winners: list[tuple[SimUser, int]]) -> dict[str, Any]:
    """POPULARITY_RED_POCKET_WINNER_LIST: ``winners`` are (user, gift_id) pairs."""
    return {
        "cmd": "POPULARITY_RED_POCKET_WINNER_LIST",
        "data": {
            "lot_id": lot_id, "total_num": len(winners),
            "winner_info": [[u.uid, u.uname, 4_000_000 + i, gid] for i, (u, gid) in enumerate(winners)],
            "awards": {str(gid): {"award_type": 1, "award_name": name,
                                  "award_pic": f"https://s1.hdslb.com/bfs/live/sim-{gid}.png",
                                  "award_big_pic": f"https://i0.hdslb.com/bfs/live/sim-{gid}-big.png",
                                  "award_price": price} for gid, name, price in RED_PACKET_GIFTS},
            "version": 1,
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


#: cmds with this prefix are private notes: only connections authenticated as ``data.uid`` get them
PRIVATE_PREFIX = "MESSAGEBOX_"


def private_to(msg: dict[str, Any]) -> int | None:
    """The uid a private message (``MESSAGEBOX_*``) is for, else None."""
    cmd = msg.get("cmd")
    if not isinstance(cmd, str) or not cmd.startswith(PRIVATE_PREFIX):
        return None
    data = msg.get("data")
    uid = data.get("uid") if isinstance(data, dict) else None
    return uid if isinstance(uid, int) else -1


# --- masking for anonymous connections ----------------------------------------------------------

#: stands in for the room in an empty medal (a level-0 medal reads nothing from its room)
_NO_ROOM = Room(room_id=0, short_id=0, owner_uid=0, owner_name="")
MASKED_CMDS = frozenset({"DANMU_MSG", "INTERACT_WORD_V2", "INTERACT_WORD", "LIKE_INFO_V3_CLICK", "ENTRY_EFFECT"})


def needs_mask(msg: dict[str, Any]) -> bool:
    """Does an anonymous connection see a different version of ``msg``?"""
    cmd = str(msg.get("cmd", "")).split(":", 1)[0]
    return cmd in MASKED_CMDS


def mask(msg: dict[str, Any]) -> dict[str, Any]:
    """The copy of ``msg`` an anonymous (uid 0) connection receives; ``msg`` itself is untouched.

    A masked DANMU_MSG equals ``danmaku(..., masked=True)`` for the same sender. Parts that masking
    does not change are shared with ``msg``, not copied.
    """
    cmd = str(msg.get("cmd", "")).split(":", 1)[0]
    if cmd not in MASKED_CMDS:
        return msg
    try:
        if cmd == "DANMU_MSG":
            return _mask_danmaku(msg)
        out = copy.deepcopy(msg)
        if cmd == "ENTRY_EFFECT":
            d = out["data"]
            name = str(_d_get(d, "uinfo", "base", "name") or "")
            d["uid"] = 0
            d["face"] = ""
            for key in ("copy_writing", "copy_writing_v2"):
                if isinstance(d.get(key), str) and name:
                    d[key] = d[key].replace(f"<%{name}%>", f"<%{mask_name(name)}%>")
            d.pop("uinfo", None)
        elif cmd in ("INTERACT_WORD", "LIKE_INFO_V3_CLICK"):
            d = out["data"]
            d["uid"] = 0
            d["uname"] = mask_name(str(d.get("uname", "")))
            d.pop("uinfo", None)
            if "face" in d:
                d["face"] = ""
            if "fans_medal" in d:  # as like_click(masked=True) builds it: an empty medal
                d["fans_medal"] = _medal_dict(SimUser(0, ""), _NO_ROOM)
        elif cmd == "INTERACT_WORD_V2":
            out["data"]["pb"] = pbwrite.b64(_mask_interact_pb(base64.b64decode(out["data"]["pb"])))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return copy.deepcopy(msg)
    return out


def _d_get(d: Any, *keys: str) -> Any:
    for k in keys:
        d = d.get(k) if isinstance(d, dict) else None
    return d


def _mask_danmaku(msg: dict[str, Any]) -> dict[str, Any]:
    """DANMU_MSG masking by copying only the containers that change."""
    info = list(msg["info"])
    user_arr = list(info[2])
    user_arr[0] = 0
    user_arr[1] = mask_name(str(user_arr[1]))
    user_arr[2] = 0
    info[2] = user_arr
    info[3] = []
    if isinstance(info[4], list) and info[4]:
        info[4] = [0, *info[4][1:]]
    info[7] = 0
    if len(info) > 16 and isinstance(info[16], list):
        info[16] = [0]
    props = list(info[0])
    if len(props) > 15 and isinstance(props[15], dict):
        mi = dict(props[15])
        mi.pop("user", None)
        props[15] = mi
    info[0] = props
    out = dict(msg)
    out["info"] = info
    return out


def _mask_interact_pb(raw: bytes) -> bytes:
    fields = []
    for f, wt, v in pbwrite.read_fields(raw):
        if f in (1, 9, 16, 22):
            continue
        if f == 2:
            v = mask_name(v.decode("utf-8", "replace")).encode()
        fields.append((f, wt, v))
    fields.append((22, pbwrite.WT_LEN, pbwrite.uinfo(0, mask_name(""), "")))
    return pbwrite.write_fields(fields)
