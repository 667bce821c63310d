"""Broadcast notices: notice banners and login notices, PK battles, anchor lotteries and red packets.
"""

from __future__ import annotations

from typing import Any

from livepipe.bilibili.commands.common import (
    _EMPTY,
    _at,
    _d,
    _int,
    _mk,
    _secs,
    _str,
    _strip_marks,
    _user,
)
from livepipe.events import Event


def _login_notice(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    data = {"image": _str(d.get("image_web")) or None}
    return _mk(message, "login_notice", cmd, room_id, None, None, None, _str(d.get("notice_msg")), data)


def _notice(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = message.get("data")
    if type(d) is not dict:
        d = _EMPTY
    text: Any = None
    if cmd == "NOTICE_MSG":
        text = message.get("msg_common") or message.get("msg_self")
    elif cmd == "COMMON_NOTICE_DANMAKU":
        segs = d.get("content_segments")
        if type(segs) is list:
            text = "".join(s.get("text") or "" for s in segs if type(s) is dict) or None
    elif cmd == "SYS_MSG":
        text = message.get("msg")
    text = _strip_marks(text) if type(text) is str and text else None
    return _mk(message, "notice", cmd, room_id, _secs(d.get("timestamp")), None, None, text, {"category": cmd})


#: ``winner_type`` / ``result_type`` values seen in PK messages: 3 won, -1 lost, 2 draw
PK_RESULTS = {3: "win", -1: "lose", 2: "draw"}


def _pk_side(info: Any) -> dict[str, Any]:
    i = _d(info)
    return {"room_id": _int(i.get("room_id")), "votes": _int(i.get("votes")),
            "best_uname": _str(i.get("best_uname")) or None}  # fmt: skip


def _pk_common(message: dict[str, Any], room_id: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(data, init side, match side)`` shared by the PK kinds, and which side is this room."""
    d = _d(message.get("data"))
    init, match = _pk_side(d.get("init_info")), _pk_side(d.get("match_info"))
    own, other = (match, init) if match["room_id"] == room_id and init["room_id"] != room_id else (init, match)
    data = {
        "pk_id": _int(message.get("pk_id")) or _int(d.get("pk_id")),
        "status": _int(message.get("pk_status")),
        "battle_type": _int(d.get("battle_type")),
        "init": init,
        "match": match,
        "votes": own["votes"] if own["room_id"] == room_id else None,
        "opponent_room_id": other["room_id"] if own["room_id"] == room_id else None,
        "opponent_votes": other["votes"] if own["room_id"] == room_id else None,
    }
    return data, own, other


def _pk_start(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    data, _, _ = _pk_common(message, room_id)
    data.update({
        "start_time": _int(d.get("pk_start_time")), "frozen_time": _int(d.get("pk_frozen_time")),
        "end_time": _int(d.get("pk_end_time")), "votes_name": _str(d.get("pk_votes_name")) or None,
    })  # fmt: skip
    return _mk(message, "pk_start", cmd, room_id, _secs(message.get("timestamp")), None, None, None, data)


def _pk_progress(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    data, _, _ = _pk_common(message, room_id)
    return _mk(message, "pk_progress", cmd, room_id, _secs(message.get("timestamp")), None, None, None, data)


def _pk_end(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    data, own, other = _pk_common(message, room_id)
    wt = {s: _int(_d(d.get(key)).get("winner_type")) for s, key in (("init", "init_info"), ("match", "match_info"))}
    data["init"]["result"] = PK_RESULTS.get(wt["init"]) if wt["init"] is not None else None
    data["match"]["result"] = PK_RESULTS.get(wt["match"]) if wt["match"] is not None else None
    winner = None
    for side in (data["init"], data["match"]):
        if side["result"] == "win":
            winner = side["room_id"]
    data["winner_room_id"] = winner
    data["result"] = own.get("result") if own["room_id"] == room_id else None
    return _mk(message, "pk_end", cmd, room_id, _secs(message.get("timestamp")), None, None, None, data)


def _pk_settle(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    result_type = _int(d.get("result_type"))
    info = _d(d.get("result_info"))
    assists = d.get("assist_info") if type(d.get("assist_info")) is list else d.get("assist_list")
    helpers = []
    for a in assists if type(assists) is list else ():
        if type(a) is dict:
            uid, uname, masked = _user(a.get("uid"), a.get("uname"))
            helpers.append({"uid": uid, "uname": uname, "rank": _int(a.get("rank")), "masked": masked})
    data = {
        "pk_id": _int(message.get("pk_id")) or _int(d.get("pk_id")),
        "status": _int(message.get("pk_status")),
        "battle_type": _int(d.get("battle_type")),
        "result_type": result_type,
        "result": PK_RESULTS.get(result_type) if result_type is not None else None,
        "votes": _int(info.get("pk_votes")),
        "assists": helpers,
    }
    return _mk(message, "pk_settle", cmd, room_id, _secs(message.get("timestamp")), None, None, None, data)


def _lottery_start(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    award = _str(d.get("award_name")) or None
    data = {
        "lot_id": _int(d.get("id")),
        "award_name": award,
        "award_num": _int(d.get("award_num")),
        "danmu": _str(d.get("danmu")) or None,
        "require_type": _int(d.get("require_type")),
        "require_value": _int(d.get("require_value")),
        "require_text": _str(d.get("require_text")) or None,
        "gift_id": _int(d.get("gift_id")) or None,
        "gift_name": _str(d.get("gift_name")) or None,
        "gift_num": _int(d.get("gift_num")),
        "gift_price": _int(d.get("gift_price")),
        "duration": _int(d.get("max_time")),
        "remaining": _int(d.get("time")),
    }
    return _mk(message, "lottery_start", cmd, room_id, _secs(d.get("current_time")), None, None, award, data)


def _lottery_award(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    award = _str(d.get("award_name")) or None
    winners = []
    users = d.get("award_users")
    for u in users if type(users) is list else ():
        if type(u) is dict:
            uid, uname, masked = _user(u.get("uid"), u.get("uname"))
            winners.append({"uid": uid, "uname": uname, "face": _str(u.get("face")) or None, "masked": masked})
    data = {"lot_id": _int(d.get("id")), "award_name": award, "award_num": _int(d.get("award_num")),
            "winners": winners}  # fmt: skip
    return _mk(message, "lottery_award", cmd, room_id, None, None, None, award, data)


def _red_packet_start(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    uid, uname, masked = _user(d.get("sender_uid"), d.get("sender_name"))
    awards = []
    items = d.get("awards")
    for a in items if type(items) is list else ():
        if type(a) is dict:
            awards.append({"gift_id": _int(a.get("gift_id")), "gift_name": _str(a.get("gift_name")) or None,
                           "num": _int(a.get("num"))})  # fmt: skip
    danmu = _str(d.get("danmu")) or None
    data = {
        "lot_id": _int(d.get("lot_id")),
        "danmu": danmu,
        "start_time": _int(d.get("start_time")),
        "end_time": _int(d.get("end_time")),
        "duration": _int(d.get("last_time")),
        "total_price": _int(d.get("total_price")),
        "awards": awards,
        "face": _str(d.get("sender_face")) or None,
        "masked": masked,
    }
    return _mk(message, "red_packet_start", cmd, room_id, _secs(d.get("start_time")), uid, uname, danmu, data)


def _red_packet_winners(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    awards = _d(d.get("awards"))
    winners = []
    rows = d.get("winner_info")
    for w in rows if type(rows) is list else ():
        if type(w) is list:
            uid, uname, masked = _user(_at(w, 0), _at(w, 1))
            gift_id = _int(_at(w, 3))
            award = _d(awards.get(str(gift_id)))
            winners.append({"uid": uid, "uname": uname, "gift_id": gift_id,
                            "gift_name": _str(award.get("award_name")) or None,
                            "price": _int(award.get("award_price")), "masked": masked})  # fmt: skip
    data = {"lot_id": _int(d.get("lot_id")), "total_num": _int(d.get("total_num")), "winners": winners}
    return _mk(message, "red_packet_winners", cmd, room_id, None, None, None, None, data)
