"""Gifts and money: gifts, gift combos, guards (captains) and super chats.
"""

from __future__ import annotations

from typing import Any

from livepipe.bilibili import pb
from livepipe.bilibili.commands.common import (
    _EMPTY,
    _d,
    _int,
    _medal_from_dict,
    _mk,
    _secs,
    _str,
    _strip_marks,
    _user,
)
from livepipe.events import Event


def _gift_item(g: dict[str, Any]) -> dict[str, Any]:
    return {
        "gift_id": _int(g.get("gift_id")),
        "gift_name": _str(g.get("gift_name")),
        "num": _int(g.get("num")) or 0,
        "price": _int(g.get("price")) or 0,
        "total_coin": _int(g.get("total_coin")) or 0,
        "coin_type": _str(g.get("coin_type")),
        "action": _str(g.get("action")),
        "tid": _str(g.get("tid")),
    }


def _gift_data(
    gifts: list[dict[str, Any]],
    *,
    face: Any,
    guard_level: Any,
    medal: dict[str, Any] | None,
    blind: Any,
    batch_combo_id: Any,
    gift_img: Any,
    masked: bool,
) -> dict[str, Any]:
    first = gifts[0] if gifts else _gift_item(_EMPTY)
    blind_gift = None
    if type(blind) is dict and (blind.get("original_gift_name") or blind.get("original_gift_price")):
        blind_gift = {
            "original_gift_name": _str(blind.get("original_gift_name")),
            "original_gift_price": _int(blind.get("original_gift_price")),
        }
    return {
        "gift_id": first["gift_id"],
        "gift_name": first["gift_name"],
        "num": first["num"],
        "price": first["price"],
        "total_coin": sum(g["total_coin"] for g in gifts),
        "coin_type": first["coin_type"],
        "action": first["action"],
        "tid": first["tid"],
        "batch_combo_id": _str(batch_combo_id) or None,
        "gift_img": _str(gift_img) or None,
        "blind_gift": blind_gift,
        "face": _str(face) or None,
        "guard_level": _int(guard_level) or 0,
        "medal": medal,
        "gifts": gifts,
        "masked": masked,
    }


def _send_gift(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    # _gift_item + _gift_data written out for the one gift of a SEND_GIFT (the most frequent cmd after
    # danmaku): the same data, keys and types; a field already of its JSON type skips its _int / _str call
    d = message.get("data")
    if type(d) is not dict:
        d = _EMPTY
    get = d.get
    uid, uname, masked = _user(get("uid"), get("uname"))
    gift_id = get("giftId") if "giftId" in d else get("gift_id")
    gift_name = get("giftName") if "giftName" in d else get("gift_name")
    num, price, total, coin_type, action, tid = (
        get("num"), get("price"), get("total_coin"), get("coin_type"), get("action"), get("tid")
    )  # fmt: skip
    item = {
        "gift_id": gift_id if type(gift_id) is int else _int(gift_id),
        "gift_name": gift_name if type(gift_name) is str else _str(gift_name),
        "num": (num if type(num) is int else _int(num)) or 0,
        "price": (price if type(price) is int else _int(price)) or 0,
        "total_coin": (total if type(total) is int else _int(total)) or 0,
        "coin_type": coin_type if type(coin_type) is str else _str(coin_type),
        "action": action if type(action) is str else _str(action),
        "tid": tid if type(tid) is str else _str(tid),
    }
    total = item["total_coin"]
    if not total:
        total = item["total_coin"] = item["price"] * item["num"]
    face, guard, medal = get("face"), get("guard_level"), _medal_from_dict(get("medal_info"))
    blind, batch, info = get("blind_gift"), get("batch_combo_id"), get("gift_info")
    blind_gift = None
    if type(blind) is dict and (blind.get("original_gift_name") or blind.get("original_gift_price")):
        blind_gift = {
            "original_gift_name": _str(blind.get("original_gift_name")),
            "original_gift_price": _int(blind.get("original_gift_price")),
        }
    img = info.get("img_basic") if type(info) is dict else None
    data = {
        "gift_id": item["gift_id"],
        "gift_name": item["gift_name"],
        "num": item["num"],
        "price": item["price"],
        "total_coin": total,
        "coin_type": item["coin_type"],
        "action": item["action"],
        "tid": item["tid"],
        "batch_combo_id": (batch if type(batch) is str else _str(batch)) or None,
        "gift_img": (img if type(img) is str else _str(img)) or None,
        "blind_gift": blind_gift,
        "face": (face if type(face) is str else _str(face)) or None,
        "guard_level": (guard if type(guard) is int else _int(guard)) or 0,
        "medal": medal,
        "gifts": [item],
        "masked": masked,
    }
    ts = get("timestamp")
    ts = float(ts) if type(ts) is int and ts > 0 else _secs(ts)
    return _mk(message, "gift", cmd, room_id, ts, uid, uname, None, data)


def _send_gift_v2(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    g = pb.decode_pb_field(_d(message.get("data")).get("pb"), pb.SEND_GIFT_V2)
    uid, uname, masked = _user(g["uid"], g["uname"])
    items = []
    for it in g["gift_list"]:
        item = _gift_item(it)
        if not item["total_coin"]:
            item["total_coin"] = item["price"] * item["num"]
        items.append(item)
    first = g["gift_list"][0] if g["gift_list"] else {}
    mi = g["medal_info"]
    medal = None
    if mi and mi["medal_level"]:
        medal = {
            "level": mi["medal_level"],
            "name": mi["medal_name"],
            "streamer_uid": mi["target_id"] or None,
            "streamer_name": None,
            "room_id": mi["anchor_roomid"] or None,
            "guard_level": 0,
            "is_lighted": True,
        }
    face = g["face"] or _d(_d(g["sender_uinfo"]).get("base")).get("face")
    data = _gift_data(
        items,
        face=face,
        guard_level=g["guard_level"],
        medal=medal,
        blind=g["blind_gift"],
        batch_combo_id=None,
        gift_img=_d(first.get("gift_info")).get("img_basic"),
        masked=masked,
    )
    return _mk(message, "gift", cmd, room_id, _secs(first.get("timestamp")), uid, uname, None, data)


def _combo_send(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = message.get("data")
    if type(d) is not dict:
        d = _EMPTY
    get = d.get
    uid, uname, masked = _user(get("uid"), get("uname"))
    gift_id, gift_name, action, combo, total, coin, batch, ruid, runame = (
        get("gift_id"), get("gift_name"), get("action"), get("combo_num"), get("total_num"),
        get("combo_total_coin"), get("batch_combo_id"), get("ruid"), get("r_uname"),
    )  # fmt: skip
    data = {
        "gift_id": gift_id if type(gift_id) is int else _int(gift_id),
        "gift_name": gift_name if type(gift_name) is str else _str(gift_name),
        "action": action if type(action) is str else _str(action),
        "combo_num": (combo if type(combo) is int else _int(combo)) or 0,
        "total_num": (total if type(total) is int else _int(total)) or 0,
        "combo_total_coin": (coin if type(coin) is int else _int(coin)) or 0,
        "batch_combo_id": (batch if type(batch) is str else _str(batch)) or None,
        "receiver_uid": ruid if type(ruid) is int else _int(ruid),
        "receiver_uname": runame if type(runame) is str else _str(runame),
        "medal": _medal_from_dict(get("medal_info")),
        "masked": masked,
    }
    return _mk(message, "gift_combo", cmd, room_id, None, uid, uname, None, data)


def _guard(
    message: dict[str, Any],
    cmd: str,
    room_id: int,
    *,
    uid_v: Any,
    uname_v: Any,
    face: Any,
    guard_level: Any,
    num: Any,
    price: Any,
    unit: Any,
    gift_id: Any,
    gift_name: Any,
    start: Any,
    end: Any,
    toast: bool,
    toast_msg: Any,
    source: Any,
) -> Event:
    uid, uname, masked = _user(uid_v, uname_v)
    data = {
        "guard_level": _int(guard_level) or 0,
        "num": _int(num) or 0,
        "price": _int(price) or 0,
        "unit": _str(unit) or None,
        "gift_id": _int(gift_id),
        "gift_name": _str(gift_name) or None,
        "start_time": _int(start),
        "end_time": _int(end),
        "face": _str(face) or None,
        "toast": toast,
        "toast_msg": _strip_marks(toast_msg) if type(toast_msg) is str and toast_msg else None,
        "source": _int(source),
        "masked": masked,
    }
    return _mk(message, "guard", cmd, room_id, _secs(start), uid, uname, None, data)


def _guard_buy(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    # _guard written out for GUARD_BUY (no face, unit, toast or source)
    d = message.get("data")
    if type(d) is not dict:
        d = _EMPTY
    get = d.get
    uid, uname, masked = _user(get("uid"), get("username"))
    level, num, price, gift_id, gift_name, start, end = (
        get("guard_level"), get("num"), get("price"), get("gift_id"), get("gift_name"), get("start_time"),
        get("end_time"),
    )  # fmt: skip
    if type(start) is not int:
        start = _int(start)
    data = {
        "guard_level": (level if type(level) is int else _int(level)) or 0,
        "num": (num if type(num) is int else _int(num)) or 0,
        "price": (price if type(price) is int else _int(price)) or 0,
        "unit": None,
        "gift_id": gift_id if type(gift_id) is int else _int(gift_id),
        "gift_name": (gift_name if type(gift_name) is str else _str(gift_name)) or None,
        "start_time": start,
        "end_time": end if type(end) is int else _int(end),
        "face": None,
        "toast": False,
        "toast_msg": None,
        "source": None,
        "masked": masked,
    }
    ts = float(start) if start is not None and start > 0 else None  # _secs(start)
    return _mk(message, "guard", cmd, room_id, ts, uid, uname, None, data)


def _user_toast(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    return _guard(
        message, cmd, room_id, uid_v=d.get("uid"), uname_v=d.get("username"), face=d.get("face"),
        guard_level=d.get("guard_level"), num=d.get("num"), price=d.get("price"), unit=d.get("unit"),
        gift_id=d.get("gift_id"), gift_name=d.get("role_name"), start=d.get("start_time"),
        end=d.get("end_time"), toast=True, toast_msg=d.get("toast_msg"), source=None,
    )  # fmt: skip


def _user_toast_v2(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = _d(message.get("data"))
    su = _d(d.get("sender_uinfo"))
    base = _d(su.get("base"))
    gi = _d(d.get("guard_info"))
    pay = _d(d.get("pay_info"))
    return _guard(
        message, cmd, room_id, uid_v=su.get("uid"), uname_v=base.get("name"), face=base.get("face"),
        guard_level=gi.get("guard_level"), num=pay.get("num"), price=pay.get("price"), unit=pay.get("unit"),
        gift_id=_d(d.get("gift_info")).get("gift_id"), gift_name=gi.get("role_name"),
        start=gi.get("start_time"), end=gi.get("end_time"), toast=True, toast_msg=d.get("toast_msg"),
        source=_d(d.get("option")).get("source"),
    )  # fmt: skip


def _super_chat(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    d = message.get("data")
    if type(d) is not dict:
        d = _EMPTY
    get = d.get
    ui = get("user_info")
    if type(ui) is not dict:
        ui = _EMPTY
    uid, uname, masked = _user(get("uid"), ui.get("uname"))
    trans = get("message_trans") or get("message_jpn")
    sc_id, price, start, end, duration = get("id"), get("price"), get("start_time"), get("end_time"), get("time")
    face, guard, level = ui.get("face"), ui.get("guard_level"), ui.get("user_level")
    if type(start) is not int:
        start = _int(start)
    data = {
        "sc_id": sc_id if type(sc_id) is int else _int(sc_id),
        "price": (price if type(price) is int else _int(price)) or 0,
        "message_trans": (trans if type(trans) is str else _str(trans)) or None,
        "start_time": start,
        "end_time": end if type(end) is int else _int(end),
        "duration": duration if type(duration) is int else _int(duration),
        "face": (face if type(face) is str else _str(face)) or None,
        "guard_level": (guard if type(guard) is int else _int(guard)) or 0,
        "user_level": level if type(level) is int else _int(level),
        "medal": _medal_from_dict(get("medal_info")),
        "masked": masked,
    }
    ts = float(start) if start is not None and start > 0 else _secs(get("ts"))  # _secs(start) or _secs(ts)
    text = get("message")
    return _mk(message, "super_chat", cmd, room_id, ts, uid, uname, text if type(text) is str else _str(text), data)


def _super_chat_delete(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    ids = _d(message.get("data")).get("ids")
    data = {"ids": [i for i in (_int(x) for x in ids) if i is not None] if type(ids) is list else []}
    return _mk(message, "super_chat_delete", cmd, room_id, None, None, None, None, data)
