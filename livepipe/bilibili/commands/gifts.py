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
    d = _d(message.get("data"))
    uid, uname, masked = _user(d.get("uid"), d.get("uname"))
    item = _gift_item(
        {
            "gift_id": d.get("giftId", d.get("gift_id")),
            "gift_name": d.get("giftName", d.get("gift_name")),
            "num": d.get("num"),
            "price": d.get("price"),
            "total_coin": d.get("total_coin"),
            "coin_type": d.get("coin_type"),
            "action": d.get("action"),
            "tid": d.get("tid"),
        }
    )
    if not item["total_coin"]:
        item["total_coin"] = item["price"] * item["num"]
    data = _gift_data(
        [item],
        face=d.get("face"),
        guard_level=d.get("guard_level"),
        medal=_medal_from_dict(d.get("medal_info")),
        blind=d.get("blind_gift"),
        batch_combo_id=d.get("batch_combo_id"),
        gift_img=_d(d.get("gift_info")).get("img_basic"),
        masked=masked,
    )
    return _mk(message, "gift", cmd, room_id, _secs(d.get("timestamp")), uid, uname, None, data)


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
    d = _d(message.get("data"))
    uid, uname, masked = _user(d.get("uid"), d.get("uname"))
    data = {
        "gift_id": _int(d.get("gift_id")),
        "gift_name": _str(d.get("gift_name")),
        "action": _str(d.get("action")),
        "combo_num": _int(d.get("combo_num")) or 0,
        "total_num": _int(d.get("total_num")) or 0,
        "combo_total_coin": _int(d.get("combo_total_coin")) or 0,
        "batch_combo_id": _str(d.get("batch_combo_id")) or None,
        "receiver_uid": _int(d.get("ruid")),
        "receiver_uname": _str(d.get("r_uname")),
        "medal": _medal_from_dict(d.get("medal_info")),
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
    d = _d(message.get("data"))
    return _guard(
        message, cmd, room_id, uid_v=d.get("uid"), uname_v=d.get("username"), face=None,
        guard_level=d.get("guard_level"), num=d.get("num"), price=d.get("price"), unit=None,
        gift_id=d.get("gift_id"), gift_name=d.get("gift_name"), start=d.get("start_time"),
        end=d.get("end_time"), toast=False, toast_msg=None, source=None,
    )  # fmt: skip


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
    d = _d(message.get("data"))
    ui = _d(d.get("user_info"))
    uid, uname, masked = _user(d.get("uid"), ui.get("uname"))
    trans = d.get("message_trans") or d.get("message_jpn")
    data = {
        "sc_id": _int(d.get("id")),
        "price": _int(d.get("price")) or 0,
        "message_trans": _str(trans) or None,
        "start_time": _int(d.get("start_time")),
        "end_time": _int(d.get("end_time")),
        "duration": _int(d.get("time")),
        "face": _str(ui.get("face")) or None,
        "guard_level": _int(ui.get("guard_level")) or 0,
        "user_level": _int(ui.get("user_level")),
        "medal": _medal_from_dict(d.get("medal_info")),
        "masked": masked,
    }
    ts = _secs(d.get("start_time")) or _secs(d.get("ts"))
    return _mk(message, "super_chat", cmd, room_id, ts, uid, uname, _str(d.get("message")), data)


def _super_chat_delete(message: dict[str, Any], cmd: str, room_id: int) -> Event:
    ids = _d(message.get("data")).get("ids")
    data = {"ids": [i for i in (_int(x) for x in ids) if i is not None] if type(ids) is list else []}
    return _mk(message, "super_chat_delete", cmd, room_id, None, None, None, None, data)
