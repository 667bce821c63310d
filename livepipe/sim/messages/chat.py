"""Danmaku (``DANMU_MSG``, with the templates the traffic generator fills) and danmaku interactions."""

from __future__ import annotations

import json
import zlib
from typing import Any

from livepipe.sim.messages.common import (
    GUARD_COLORS,
    MEDAL_COLOR,
    _json_text,
    _medal_array,
    id_str_for,
    mask_name,
)
from livepipe.sim.state import Room, SimUser


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


def with_emoticons(
    msg: dict[str, Any], *, emoticon: dict[str, Any] | None = None, emots: dict[str, dict[str, Any]] | None = None,
    font_size: int | None = None,
) -> dict[str, Any]:
    """Make a :func:`danmaku` message an emoticon danmaku and/or give it inline emoji, as the service sends them.

    ``emoticon`` (``{"emoticon_unique", "url", "width", "height", ...}``) turns it into a sticker
    danmaku (表情包, ``dm_type`` 1): the options go into ``info[0][13]``. ``emots`` maps tokens of the
    text (``"[dog]"``) to their emoji (``{"url", "emoticon_unique", "width", "height", ...}``), in the
    ``extra`` JSON. ``font_size`` replaces the sent font size. Changes ``msg`` and returns it.
    """
    props = msg["info"][0]
    mode_info = props[15]
    extra = json.loads(mode_info["extra"])
    if font_size is not None:
        props[2] = font_size
        extra["font_size"] = font_size
    if emoticon is not None:
        props[12] = 1
        props[13] = emoticon
        extra.update(dm_type=1, emoticon_unique=emoticon.get("emoticon_unique", ""))
    if emots is not None:
        extra["emots"] = emots
    mode_info["extra"] = json.dumps(extra, ensure_ascii=False, separators=(",", ":"))
    return msg


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
