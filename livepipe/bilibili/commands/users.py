"""Users in the room: enter / follow / share / like, watcher and online counters, online rankings and
fan-medal changes.
"""

from __future__ import annotations

from typing import Any

from livepipe.bilibili import pb, pb_upb
from livepipe.bilibili.commands.common import (
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
    w = _decode_pb(_d(message.get("data")).get("pb"), pb.INTERACT_WORD_EVENT)
    uinfo = w["uinfo"] or {}
    base = uinfo.get("base") or {}
    uname = w["uname"] or base.get("name") or None
    uid, uname, masked = _user(w["uid"], uname)
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
    data = _interact_data(w["msg_type"], medal, guard, base.get("face"), masked, False)
    ts = _ns(w["trigger_time"]) or _secs(w["timestamp"])
    return _mk(message, INTERACT_KINDS.get(w["msg_type"], "raw"), cmd, room_id, ts, uid, uname, None, data)


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
    d = _d(message.get("data"))
    uid, uname, masked = _user(d.get("uid"), d.get("uname"))
    face = _d(_d(d.get("uinfo")).get("base")).get("face")
    medal = _medal_from_dict(d.get("fans_medal"))
    guard = medal["guard_level"] if medal else 0
    data = _interact_data(_int(d.get("msg_type")) or 6, medal, guard, face, masked, False)
    return _mk(message, "like", cmd, room_id, None, uid, uname, _str(d.get("like_text")), data)


def _like_update(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    return _mk(message, "like_count", cmd, room_id, None, None, None, None, {"count": _int(d.get("click_count"))})


def _watched(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    data = {"num": _int(d.get("num")), "text_small": _str(d.get("text_small")), "text_large": _str(d.get("text_large"))}
    return _mk(message, "watched", cmd, room_id, None, None, None, None, data)


def _online_count(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    data = {"count": _int(d.get("count")), "online_count": _int(d.get("online_count"))}
    return _mk(message, "online_count", cmd, room_id, None, None, None, None, data)


def _rank_item(it: dict[str, Any]) -> dict[str, Any]:
    uid = _int(it.get("uid"))
    uname = _str(it.get("uname"))
    masked = _is_masked(uid, uname)
    return {
        "uid": None if masked else uid,
        "uname": uname,
        "face": _str(it.get("face")) or None,
        "score": _int(it.get("score")),
        "rank": _int(it.get("rank")),
        "guard_level": _int(it.get("guard_level")) or 0,
        "masked": masked,
    }


def _online_rank_v2(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    items = d.get("list") or d.get("online_list")
    ranks = [_rank_item(it) for it in items if type(it) is dict] if type(items) is list else []
    data = {"rank_type": _str(d.get("rank_type")), "list": ranks}
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
