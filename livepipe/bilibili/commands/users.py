"""Users in the room: enter / follow / share / like, watcher and online counters, online rankings and
fan-medal changes.
"""

from __future__ import annotations

from typing import Any

from livepipe.bilibili import pb, pb_upb
from livepipe.bilibili.commands.common import (
    _EMPTY,
    _d,
    _int,
    _is_masked,
    _medal_from_dict,
    _mk,
    _ns,
    _secs,
    _str,
    _strip_marks,
    _user,
)
from livepipe.events import Event

#: upb's parser where protobuf runs on it (same dicts as pb.py's reader, several times faster).
_decode_pb = pb_upb.decode_pb_field if pb_upb.AVAILABLE else pb.decode_pb_field

#: INTERACT_WORD ``msg_type`` -> kind. Other values give ``raw`` (with the same ``data``).
INTERACT_KINDS: dict[int, str] = {1: "enter", 2: "follow", 3: "share", 4: "follow", 5: "follow", 6: "like"}


def _interact_data(
    msg_type: int | None, medal: dict[str, Any] | None, guard_level: Any, face: Any, masked: bool, effect: bool
) -> dict[str, Any]:
    return {
        "msg_type": msg_type,
        "medal": medal,
        "guard_level": _int(guard_level) or 0,
        "face": _str(face) or None,
        "effect": effect,
        "masked": masked,
    }


def _interact_word(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    uid, uname, masked = _user(d.get("uid"), d.get("uname"))
    msg_type = _int(d.get("msg_type"))
    medal = _medal_from_dict(d.get("fans_medal"))
    face = _d(_d(d.get("uinfo")).get("base")).get("face")
    guard = d.get("privilege_type")
    if guard is None and medal is not None:
        guard = medal["guard_level"]
    data = _interact_data(msg_type, medal, guard, face, masked, False)
    ts = _ns(d.get("trigger_time")) or _secs(d.get("timestamp"))
    return _mk(message, INTERACT_KINDS.get(msg_type or 0, "raw"), cmd, room_id, ts, uid, uname, None, data)


def _interact_word_v2(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = message.get("data")
    w = _decode_pb(d.get("pb") if type(d) is dict else None, pb.INTERACT_WORD_EVENT)
    # the decoder's dict has its schema's types (ints, strs, None or dicts), so _user, _int and _str
    # reduce to their fast paths here; they stay as the fallback for any other type
    uinfo = w["uinfo"] or _EMPTY
    base = uinfo.get("base") or _EMPTY
    uid, uname, msg_type = w["uid"], w["uname"] or base.get("name") or None, w["msg_type"]
    if type(uid) is not int:
        uid = _int(uid)
    if type(uname) is not str:
        uname = _str(uname)
    masked = uid == 0 or (uname is not None and uname.endswith("***"))
    if masked:
        uid = None
    fm = w["fans_medal"]
    medal = None
    if fm and fm["medal_level"]:
        medal = {
            "level": fm["medal_level"],
            "name": fm["medal_name"],
            "streamer_uid": fm["target_id"] or None,
            "streamer_name": None,
            "room_id": fm["anchor_roomid"] or None,
            "guard_level": fm["guard_level"],
            "is_lighted": bool(fm["is_lighted"]),
        }
    guard = w["privilege_type"] or (medal["guard_level"] if medal else 0)
    face = base.get("face")
    data = {
        "msg_type": msg_type,
        "medal": medal,
        "guard_level": (guard if type(guard) is int else _int(guard)) or 0,
        "face": (face if type(face) is str else _str(face)) or None,
        "effect": False,
        "masked": masked,
    }
    t = w["trigger_time"]
    if type(t) is int and t > 0:
        ts = t / 1e9
    else:
        ts = _ns(t) or _secs(w["timestamp"])
    return _mk(message, INTERACT_KINDS.get(msg_type, "raw"), cmd, room_id, ts, uid, uname, None, data)


def _name_from_marks(text: Any) -> str | None:
    """The name inside ``<%name%>`` in a copy-writing string."""
    if type(text) is not str:
        return None
    a = text.find("<%")
    b = text.find("%>", a + 2)
    if a < 0 or b < 0:
        return None
    return text[a + 2 : b]


def _entry_effect(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    uinfo = _d(d.get("uinfo"))
    base = _d(uinfo.get("base"))
    uname = base.get("name") or _name_from_marks(d.get("copy_writing_v2") or d.get("copy_writing"))
    uid, uname, masked = _user(d.get("uid"), uname)
    text = d.get("copy_writing_v2") or d.get("copy_writing")
    data = _interact_data(None, None, d.get("privilege_type"), d.get("face") or base.get("face"), masked, True)
    ts = _ns(d.get("trigger_time"))
    return _mk(message, "enter", cmd, room_id, ts, uid, uname, _strip_marks(text) if type(text) is str else None, data)


def _like_click(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = message.get("data")
    if type(d) is not dict:
        d = _EMPTY
    get = d.get
    uid, uname, masked = _user(get("uid"), get("uname"))
    uinfo = get("uinfo")
    base = uinfo.get("base") if type(uinfo) is dict else None
    face = base.get("face") if type(base) is dict else None
    medal = _medal_from_dict(get("fans_medal"))
    msg_type, text = get("msg_type"), get("like_text")
    data = {
        "msg_type": (msg_type if type(msg_type) is int else _int(msg_type)) or 6,
        "medal": medal,
        "guard_level": medal["guard_level"] if medal else 0,
        "face": (face if type(face) is str else _str(face)) or None,
        "effect": False,
        "masked": masked,
    }
    return _mk(message, "like", cmd, room_id, None, uid, uname, text if type(text) is str else _str(text), data)


def _like_update(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    return _mk(message, "like_count", cmd, room_id, None, None, None, None, {"count": _int(d.get("click_count"))})


def _watched(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = message.get("data")
    if type(d) is not dict:
        d = _EMPTY
    num, small, large = d.get("num"), d.get("text_small"), d.get("text_large")
    data = {
        "num": num if type(num) is int else _int(num),
        "text_small": small if type(small) is str else _str(small),
        "text_large": large if type(large) is str else _str(large),
    }
    return _mk(message, "watched", cmd, room_id, None, None, None, None, data)


def _online_count(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = message.get("data")
    if type(d) is not dict:
        d = _EMPTY
    count, online = d.get("count"), d.get("online_count")
    data = {
        "count": count if type(count) is int else _int(count),
        "online_count": online if type(online) is int else _int(online),
    }
    return _mk(message, "online_count", cmd, room_id, None, None, None, None, data)


def _rank_item(it: dict[str, Any]) -> dict[str, Any]:
    get = it.get
    uid, uname, face, score, rank, guard = (
        get("uid"), get("uname"), get("face"), get("score"), get("rank"), get("guard_level")
    )  # fmt: skip
    if type(uid) is not int:
        uid = _int(uid)
    if type(uname) is not str:
        uname = _str(uname)
    masked = uid == 0 or (uname is not None and uname.endswith("***"))
    return {
        "uid": None if masked else uid,
        "uname": uname,
        "face": (face if type(face) is str else _str(face)) or None,
        "score": score if type(score) is int else _int(score),
        "rank": rank if type(rank) is int else _int(rank),
        "guard_level": (guard if type(guard) is int else _int(guard)) or 0,
        "masked": masked,
    }


def _online_rank_v2(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = message.get("data")
    if type(d) is not dict:
        d = _EMPTY
    items = d.get("list") or d.get("online_list")
    ranks = [_rank_item(it) for it in items if type(it) is dict] if type(items) is list else []
    rank_type = d.get("rank_type")
    data = {"rank_type": rank_type if type(rank_type) is str else _str(rank_type), "list": ranks}
    return _mk(message, "online_rank", cmd, room_id, None, None, None, None, data)


def _online_rank_v3(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    r = pb.decode_pb_field(_d(message.get("data")).get("pb"), pb.ONLINE_RANK_V3)
    ranks = [_rank_item(it) for it in (r["online_list"] or r["list"])]
    data = {"rank_type": r["rank_type"] or None, "list": ranks}
    return _mk(message, "online_rank", cmd, room_id, None, None, None, None, data)


def _online_rank_top3(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    items = _d(message.get("data")).get("list")
    ranks = []
    if type(items) is list:
        for it in items:
            if type(it) is dict:
                uname = _name_from_marks(it.get("msg"))
                ranks.append(
                    {
                        "uid": None,
                        "uname": uname,
                        "face": None,
                        "score": None,
                        "rank": _int(it.get("rank")),
                        "guard_level": 0,
                        "masked": _is_masked(None, uname),
                    }
                )
    return _mk(message, "online_rank", cmd, room_id, None, None, None, None, {"rank_type": "top3", "list": ranks})


def _medal_change(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    uid, _, masked = _user(d.get("uid"), None)
    level = _int(d.get("medal_level"))
    medal = {
        "level": level,
        "name": _str(d.get("medal_name")) or None,
        "streamer_uid": _int(d.get("target_id")) or _int(d.get("up_uid")),
        "streamer_name": _str(d.get("anchor_uname")) or None,
        "room_id": _int(d.get("anchor_roomid")) or _int(d.get("roomid")),
        "guard_level": _int(d.get("guard_level")) or 0,
        "is_lighted": bool(d.get("is_lighted", 1)),
    } if level else None  # fmt: skip
    text = d.get("upper_bound_content") or d.get("sub_title") or d.get("msg_content") or d.get("msg_title")
    data = {
        "medal": medal,
        "medal_id": _int(d.get("medal_id")),
        "gained": cmd == "MESSAGEBOX_USER_GAIN_MEDAL",
        "type": _int(d.get("type")),
        "masked": masked,
    }
    text = _strip_marks(text) if type(text) is str and text else None
    return _mk(message, "medal_change", cmd, room_id, None, uid, None, text, data)
