"""Chat cmds: danmaku (``DANMU_MSG``), recalled danmaku and the danmaku interaction (votes, combos).
"""

from __future__ import annotations

from typing import Any

from livepipe.bilibili.commands.common import (
    _EMPTY,
    MessageError,
    _d,
    _int,
    _loads,
    _mk,
    _ms,
    _new_event,
    _now,
    _secs,
    _str,
)
from livepipe.events import Event


def _danmaku(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    info = message["info"]
    if type(info) is not list or not info:
        raise MessageError("DANMU_MSG without an info list")
    ninfo = len(info)
    p = info[0] if type(info[0]) is list else []
    np = len(p)
    text = info[1] if ninfo > 1 else None
    if type(text) is not str:
        text = _str(text)
    u = info[2] if ninfo > 2 else None
    uid = None
    uname = None
    is_admin = False
    if type(u) is list and u:
        uid = u[0] if type(u[0]) is int else _int(u[0])
        if len(u) > 1:
            uname = u[1] if type(u[1]) is str else _str(u[1])
        if len(u) > 2:
            is_admin = bool(u[2])
    masked = uid == 0 or (uname is not None and uname.endswith("***"))
    if masked:
        uid = None

    mode_info = p[15] if np > 15 else None
    extra: dict[str, Any] | None = None
    face = None
    if type(mode_info) is dict:
        x = mode_info.get("extra")
        if type(x) is str and x:
            try:
                extra = _loads(x)
            except ValueError:
                extra = None
            if type(extra) is not dict:
                extra = None
        elif type(x) is dict:
            extra = x
        user = mode_info.get("user")
        if type(user) is dict:
            base = user.get("base")
            if type(base) is dict:
                face = base.get("face") or None
    if extra is None:
        extra = _EMPTY

    dm_type = (p[12] if type(p[12]) is int else _int(p[12])) if np > 12 else 0
    emoticon = None
    if dm_type == 1 and np > 13:
        e = p[13]
        if type(e) is str and e and e != "{}":
            try:
                e = _loads(e)
            except ValueError:
                e = None
        if type(e) is dict and e:
            emoticon = e

    m = info[3] if ninfo > 3 else None
    medal = None
    if type(m) is list and m:
        if len(m) > 12 and type(m[0]) is int and type(m[1]) is str and type(m[2]) is str:
            # the usual shape, all fields present and typed: no per-field conversion
            g = m[10]
            medal = {
                "level": m[0],
                "name": m[1],
                "streamer_uid": m[12] if type(m[12]) is int else _int(m[12]),
                "streamer_name": m[2],
                "room_id": m[3] if type(m[3]) is int else _int(m[3]),
                "guard_level": (g if type(g) is int else _int(g)) or 0,
                "is_lighted": bool(m[11]),
            }
        else:
            n = len(m)
            medal = {
                "level": _int(m[0]),
                "name": _str(m[1]) if n > 1 else None,
                "streamer_uid": _int(m[12]) if n > 12 else None,
                "streamer_name": _str(m[2]) if n > 2 else None,
                "room_id": _int(m[3]) if n > 3 else None,
                "guard_level": (_int(m[10]) or 0) if n > 10 else 0,
                "is_lighted": bool(m[11]) if n > 11 else True,
            }

    ul = info[4] if ninfo > 4 else None
    guard = info[7] if ninfo > 7 else 0
    wealth = info[16] if ninfo > 16 else None
    emots = extra.get("emots")
    reply_uid = extra.get("reply_mid")
    if type(reply_uid) is not int:
        reply_uid = _int(reply_uid)
    reply_uid = reply_uid or None
    if np > 7:  # the usual case: read the mode fields with int fast paths
        mode, font_size, color, rnd, crc = p[1], p[2], p[3], p[5], p[7]
        if type(mode) is not int:
            mode = _int(mode)
        if type(font_size) is not int:
            font_size = _int(font_size)
        if type(color) is not int:
            color = _int(color)
        if type(rnd) is not int:
            rnd = _int(rnd)
        if type(crc) is not str:
            crc = _str(crc)
    else:
        mode = _int(p[1]) if np > 1 else None
        font_size = _int(p[2]) if np > 2 else None
        color = _int(p[3]) if np > 3 else None
        rnd = _int(p[5]) if np > 5 else None
        crc = None
    data = {
        "mode": mode,
        "font_size": font_size,
        "color": color,
        "rnd": rnd,
        "uid_crc32": crc,
        "dm_type": dm_type,
        "emoticon": emoticon,
        "emots": emots if type(emots) is dict and emots else None,
        "face": face,
        "is_admin": is_admin,
        "user_level": _int(ul[0]) if type(ul) is list and ul else None,
        "guard_level": (guard if type(guard) is int else _int(guard)) or 0,
        "wealth_level": _int(wealth[0]) if type(wealth) is list and wealth else None,
        "medal": medal,
        "reply_uid": reply_uid,
        "reply_uname": (extra.get("reply_uname") or None) if reply_uid else None,
        "mirror": cmd == "DANMU_MSG_MIRROR",
        "masked": masked,
    }

    ts = None
    if np > 4:
        t = p[4]
        if type(t) is int and t > 0:
            ts = t / 1000.0
        else:
            ts = _ms(t)
    if ts is None and ninfo > 9 and type(info[9]) is dict:
        ts = _secs(info[9].get("ts"))
    id_str = extra.get("id_str")
    if type(id_str) is str and id_str:
        if ts is None:
            ts = _ms(message.get("send_time")) or _now()
        return _new_event(Event, (id_str, "danmaku", cmd, room_id, ts, uid, uname, text, data, message))
    return _mk(message, "danmaku", cmd, room_id, ts, uid, uname, text, data)


def _dm_interaction(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    payload = d.get("data")
    if type(payload) is str:
        try:
            payload = _loads(payload)
        except ValueError:
            payload = None
    data = {
        "type": _int(d.get("type")),
        "id": _int(d.get("id")),
        "status": _int(d.get("status")),
        "payload": payload if type(payload) is dict else None,
    }
    return _mk(message, "interaction", cmd, room_id, None, None, None, None, data)


def _recall(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    data = {"target_id": _int(d.get("target_id")), "recall_type": _int(d.get("recall_type"))}
    return _mk(message, "recall", cmd, room_id, None, None, None, None, data)
