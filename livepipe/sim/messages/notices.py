"""PK battles, anchor lotteries, red packets, and the private (``MESSAGEBOX_``) messages' addressee."""

from __future__ import annotations

from typing import Any

from livepipe.sim.state import Room, SimUser


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
