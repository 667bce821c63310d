"""Typed events for PK battles, 天选 lotteries, popularity red packets and fan-medal changes.

Fixtures are synthetic (tests/fixtures/bilibili, invented users and rooms) in the shapes of the
real messages. Beyond the exact values, every field of every fixture is replaced in turn by each
of several wrong types: the kind must stay the typed one, with no parse error, never `raw`.
"""

from __future__ import annotations

import copy
import json

import pytest

from livepipe.bilibili.commands import COMMANDS, kind_for_cmd, parse_command
from livepipe.events import KINDS

from .conftest import ROOM, load_fixture

T = 1767225600
OPP = 30000777

TYPED = {
    "pk_battle_start_new": "pk_start",
    "pk_battle_process_new": "pk_progress",
    "pk_battle_end": "pk_end",
    "pk_battle_settle_v2": "pk_settle",
    "anchor_lot_start": "lottery_start",
    "anchor_lot_award": "lottery_award",
    "popularity_red_pocket_start": "red_packet_start",
    "popularity_red_pocket_winner_list": "red_packet_winners",
    "messagebox_user_medal_change": "medal_change",
    "messagebox_user_gain_medal": "medal_change",
}


def parse(name: str, room: int = ROOM):
    return parse_command(load_fixture(name), room)


def test_pk_start_names_both_rooms_and_the_times():
    e = parse("pk_battle_start_new")
    assert (e.kind, e.cmd, e.ts) == ("pk_start", "PK_BATTLE_START_NEW", float(T + 100))
    d = e.data
    assert (d["pk_id"], d["status"], d["battle_type"]) == (880001, 201, 1)
    assert d["init"]["room_id"] == ROOM and d["match"]["room_id"] == OPP
    assert d["opponent_room_id"] == OPP
    assert (d["start_time"], d["frozen_time"], d["end_time"], d["votes_name"]) == (T + 100, T + 400, T + 410, "乱斗值")


def test_pk_progress_scores_from_this_rooms_side_whichever_side_it_is():
    e = parse("pk_battle_process_new")  # this room is the *match* side here
    d = e.data
    assert e.kind == "pk_progress" and e.ts == float(T + 160)
    assert d["init"] == {"room_id": OPP, "votes": 1200, "best_uname": "对面的老板"}  # "1200" read as a number
    assert d["match"] == {"room_id": ROOM, "votes": 800, "best_uname": "晴天小鱼"}
    assert (d["votes"], d["opponent_votes"], d["opponent_room_id"]) == (800, 1200, OPP)
    # seen from the other room's connection, the same message reads the other way round
    other = parse("pk_battle_process_new", room=OPP).data
    assert (other["votes"], other["opponent_votes"], other["opponent_room_id"]) == (1200, 800, ROOM)
    # a room that is neither side (a mirrored broadcast) gets no own score
    neither = parse("pk_battle_process_new", room=1).data
    assert neither["votes"] is None and neither["opponent_room_id"] is None and neither["init"]["votes"] == 1200


def test_pk_end_has_the_winner_and_this_rooms_result():
    e = parse("pk_battle_end")
    d = e.data
    assert e.kind == "pk_end" and d["pk_id"] == 880001  # "880001" string id read as a number
    assert d["winner_room_id"] == ROOM and d["result"] == "win"
    assert d["init"] == {"room_id": ROOM, "votes": 2100, "best_uname": "晴天小鱼", "result": "win"}
    assert d["match"]["result"] == "lose" and (d["votes"], d["opponent_votes"]) == (2100, 1650)
    assert parse("pk_battle_end", room=OPP).data["result"] == "lose"


def test_pk_end_draw_and_unknown_winner_types():
    msg = load_fixture("pk_battle_end")
    draw = copy.deepcopy(msg)
    draw["data"]["init_info"]["winner_type"] = draw["data"]["match_info"]["winner_type"] = 2
    d = parse_command(draw, ROOM).data
    assert d["result"] == "draw" and d["winner_room_id"] is None
    odd = copy.deepcopy(msg)
    odd["data"]["init_info"]["winner_type"] = 7
    del odd["data"]["match_info"]["winner_type"]
    d = parse_command(odd, ROOM).data
    assert d["result"] is None and d["winner_room_id"] is None and d["match"]["result"] is None


def test_pk_settle():
    e = parse("pk_battle_settle_v2")
    d = e.data
    assert e.kind == "pk_settle" and (d["result_type"], d["result"], d["votes"]) == (3, "win", 2100)
    assert d["assists"] == [
        {"uid": 10000001, "uname": "晴天小鱼", "rank": 1, "masked": False},
        {"uid": None, "uname": "路***", "rank": 2, "masked": True},
    ]


def test_lottery_start_and_award():
    s = parse("anchor_lot_start")
    assert (s.kind, s.text, s.ts) == ("lottery_start", "手绘头像", float(T + 200))
    d = s.data
    assert (d["lot_id"], d["award_num"], d["danmu"]) == (7700123, 2, "主播今天也很棒")
    assert (d["require_type"], d["require_value"], d["require_text"]) == (2, 1, "当前主播粉丝勋章至少1级")
    assert (d["gift_id"], d["gift_name"], d["duration"], d["remaining"]) == (None, None, 600, 599)
    a = parse("anchor_lot_award")
    assert (a.kind, a.text, a.data["lot_id"]) == ("lottery_award", "手绘头像", 7700123)
    assert [(w["uid"], w["uname"], w["masked"]) for w in a.data["winners"]] == [
        (10000001, "晴天小鱼", False), (10000004, "夜航船", False)]  # fmt: skip


def test_red_packet_start_and_winners():
    s = parse("popularity_red_pocket_start")
    assert (s.kind, s.uid, s.uname, s.text) == ("red_packet_start", 10000002, "橘子汽水", "老板大气！点点红包抽礼物！")
    d = s.data
    assert (d["lot_id"], d["duration"], d["total_price"], d["masked"]) == (5500321, 180, 1600, False)
    assert d["awards"] == [{"gift_id": 31212, "gift_name": "打call", "num": 2},
                           {"gift_id": 31214, "gift_name": "牛哇", "num": 3}]  # fmt: skip
    w = parse("popularity_red_pocket_winner_list")
    assert w.kind == "red_packet_winners" and (w.data["lot_id"], w.data["total_num"]) == (5500321, 5)
    assert w.data["winners"] == [
        {"uid": 10000001, "uname": "晴天小鱼", "gift_id": 31212, "gift_name": "打call", "price": 500, "masked": False},
        {"uid": 10000004, "uname": "夜航船", "gift_id": 31214, "gift_name": "牛哇", "price": 100, "masked": False},
        {"uid": None, "uname": "路***", "gift_id": 31214, "gift_name": "牛哇", "price": 100, "masked": True},
    ]


def test_medal_change_and_gain():
    c = parse("messagebox_user_medal_change")
    assert (c.kind, c.uid, c.text) == ("medal_change", 10000001, "恭喜你的小鱼干粉丝勋章升到13级")
    assert c.data["medal"] == {"level": 13, "name": "小鱼干", "streamer_uid": 20000002, "streamer_name": None,
                               "room_id": None, "guard_level": 0, "is_lighted": True}  # fmt: skip
    assert c.data["gained"] is False and c.data["masked"] is False
    g = parse("messagebox_user_gain_medal")
    assert g.kind == "medal_change" and g.data["gained"] is True and g.data["medal_id"] == 178360
    assert g.data["medal"]["streamer_uid"] == 20000002 and g.data["medal"]["level"] == 1


def test_other_pk_lottery_and_red_packet_cmds_stay_notices():
    for cmd in ("PK_BATTLE_FINAL_PROCESS", "PK_BATTLE_PRE_NEW", "PK_BATTLE_SETTLE_USER", "ANCHOR_LOT_END",
                "ANCHOR_LOT_CHECKSTATUS", "POPULARITY_RED_POCKET_NEW", "PK_INFO"):
        assert kind_for_cmd(cmd) == "notice", cmd
        assert parse_command({"cmd": cmd, "data": {}}, ROOM).kind == "notice"
    assert parse("pk_battle_final_process").kind == "notice"


def test_the_one_table_matches_the_vocabulary():
    assert {kind for _, kind in COMMANDS.values()} <= set(KINDS)
    for name, kind in TYPED.items():
        cmd = load_fixture(name)["cmd"]
        assert COMMANDS[cmd][1] == kind == kind_for_cmd(cmd) == parse(name).kind


# ---- hostile shapes: every field, every wrong type ---------------------------------------------------

WRONG = [None, "", "abc", "-7", [], {}, -1, 0, 1.5, True, [None], {"x": None}]


def _paths(obj, prefix=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


def _set(obj, path, value):
    for p in path[:-1]:
        obj = obj[p]
    obj[path[-1]] = value


def _mutants():
    for name, kind in TYPED.items():
        base = load_fixture(name)
        for path in _paths(base):
            if path == ("cmd",):
                continue
            for value in WRONG:
                m = copy.deepcopy(base)
                _set(m, path, value)
                yield name, kind, path, m


MUTANTS = list(_mutants())


def test_there_are_many_hostile_mutants():
    assert len(MUTANTS) > 2500


@pytest.mark.parametrize("name", sorted(TYPED))
def test_every_field_with_every_wrong_type_still_gives_the_typed_kind(name):
    n = 0
    for mname, kind, path, m in MUTANTS:
        if mname != name:
            continue
        e = parse_command(m, ROOM)
        assert e.kind == kind and "error" not in e.data, (path, e.data)
        json.dumps(e.to_dict(), ensure_ascii=False)  # always serializable
        n += 1
    assert n > 50


@pytest.mark.parametrize("name", sorted(TYPED))
def test_missing_or_empty_data_still_gives_the_typed_kind(name):
    cmd = load_fixture(name)["cmd"]
    for msg in ({"cmd": cmd}, {"cmd": cmd, "data": None}, {"cmd": cmd, "data": []}, {"cmd": cmd + ":1:2", "data": {}}):
        e = parse_command(msg, ROOM)
        assert e.kind == TYPED[name] and "error" not in e.data, msg
        assert e.cmd == cmd
