"""What the message builders share: guard and gift tables, medal parts, uid hashes and name masks."""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import Any

import orjson

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


def _json_text(obj: Any) -> str:
    """Compact JSON text with non-ASCII kept (as ``json.dumps(ensure_ascii=False)`` compact)."""
    try:
        return orjson.dumps(obj).decode()
    except TypeError:  # e.g. an int beyond 64 bits: the standard library copes
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
