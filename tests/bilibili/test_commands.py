"""cmd dict -> Event, for every cmd family, from synthetic fixtures (invented users)."""

import copy
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livepipe.bilibili.commands import CMD_KINDS, MessageError, body_id, kind_for_cmd, parse_command
from livepipe.events import KINDS, Event, make_id

from .conftest import FIXTURES, ROOM, load_fixture

T = 1767225600


def parse(name: str) -> Event:
    return parse_command(load_fixture(name), ROOM)


# --- danmaku ---------------------------------------------------------------------------------------


def test_danmaku_full():
    msg = load_fixture("danmu_msg")
    e = parse_command(msg, ROOM)
    assert (e.kind, e.cmd, e.room_id) == ("danmaku", "DANMU_MSG", ROOM)
    assert e.id == "a1b2c3d4e5f60718293a4b5c6d7e8f9001"  # id_str from mode_info.extra
    assert e.ts == T + 1.234
    assert (e.uid, e.uname, e.text) == (10000001, "晴天小鱼", "大家好[dog]")
    assert e.raw is msg
    d = e.data
    assert d["medal"] == {
        "level": 12, "name": "小鱼干", "streamer_uid": 20000002, "streamer_name": "主播测试号", "room_id": ROOM,
        "guard_level": 3, "is_lighted": True,
    }  # fmt: skip
    assert (d["mode"], d["font_size"], d["color"], d["dm_type"]) == (1, 25, 16777215, 0)
    assert d["uid_crc32"] == "1a2b3c4d" and d["rnd"] == 1767225000
    assert d["user_level"] == 21 and d["guard_level"] == 3 and d["wealth_level"] == 18
    assert d["is_admin"] is False and d["masked"] is False and d["mirror"] is False
    assert d["face"].startswith("https://") and d["emoticon"] is None
    assert d["emots"]["[dog]"]["emoticon_unique"] == "emoji_208"
    assert d["reply_uid"] is None and d["reply_uname"] is None


def test_danmaku_suffix_is_stripped_and_no_medal():
    e = parse("danmu_msg_suffix")
    assert e.cmd == "DANMU_MSG" and e.raw["cmd"] == "DANMU_MSG:4:0:2:2:2:0"
    assert e.data["medal"] is None and e.data["guard_level"] == 0 and e.data["emots"] is None


def test_danmaku_emoticon_reply_mirror():
    emo = parse("danmu_msg_emoticon")
    assert emo.data["dm_type"] == 1 and emo.data["emoticon"]["emoticon_unique"] == "official_147"
    reply = parse("danmu_msg_reply")
    assert reply.data["reply_uid"] == 10000001 and reply.data["reply_uname"] == "晴天小鱼"
    assert reply.data["is_admin"] is True
    mirror = parse("danmu_msg_mirror")
    assert mirror.kind == "danmaku" and mirror.cmd == "DANMU_MSG_MIRROR" and mirror.data["mirror"] is True


def test_danmaku_masked_big_with_null_medal():
    msg = load_fixture("danmu_msg_masked_big")
    e = parse_command(msg, ROOM)
    assert e.kind == "danmaku" and e.cmd == "DANMU_MSG"
    assert e.uid is None and e.uname == "***" and e.data["masked"] is True
    assert e.data["medal"] is None and e.data["mode"] == 7 and e.data["user_level"] is None
    assert e.data["uid_crc32"] == "f00dbabe"
    # no id_str: the id is the body hash with the message's own time
    assert e.ts == T + 6
    assert e.id == make_id(ROOM, "DANMU_MSG", T + 6.0, msg)


def test_danmaku_masked_partial_name():
    e = parse("danmu_msg_masked_partial")
    assert e.uid is None and e.uname == "晴***" and e.data["masked"] is True and e.data["face"] is None


def test_danmaku_lenient_strings_and_short_arrays():
    e = parse("danmu_msg_lenient")
    assert e.kind == "danmaku"
    assert (e.uid, e.uname, e.text) == (10000005, "字符串用户", "短消息")
    assert e.ts == T + 8 and e.data["color"] == 16777215 and e.data["mode"] == 1
    assert e.data["medal"] is None and e.data["uid_crc32"] is None and e.data["face"] is None


def test_danmaku_with_unparseable_extra_still_parses():
    msg = load_fixture("danmu_msg")
    msg["info"][0][15]["extra"] = "{not json"
    e = parse_command(msg, ROOM)
    assert e.kind == "danmaku" and e.text == "大家好[dog]" and e.id == make_id(ROOM, "DANMU_MSG", T + 1.234, msg)


# --- gifts, guards, super chats --------------------------------------------------------------------


def test_send_gift():
    e = parse("send_gift")
    assert (e.kind, e.uid, e.uname, e.ts) == ("gift", 10000001, "晴天小鱼", T + 10)
    d = e.data
    assert (d["gift_id"], d["gift_name"], d["num"], d["price"], d["total_coin"]) == (31036, "小花花", 5, 100, 500)
    assert d["coin_type"] == "gold" and d["action"] == "投喂" and d["tid"] == "1767225610123400001"
    assert d["gift_img"] == "https://s1.hdslb.com/bfs/live/gift31036.png" and d["guard_level"] == 3
    assert d["medal"]["level"] == 12 and d["medal"]["room_id"] == ROOM and d["blind_gift"] is None
    assert d["gifts"] == [{k: d[k] for k in ("gift_id", "gift_name", "num", "price", "total_coin", "coin_type",
                                              "action", "tid")}]  # fmt: skip
    assert d["batch_combo_id"].startswith("batch:") and d["masked"] is False


def test_send_gift_blind_and_string_uid():
    e = parse("send_gift_blind")
    assert e.uid == 10000002 and e.data["medal"] is None and e.data["gift_img"] is None
    assert e.data["blind_gift"] == {"original_gift_name": "心动盲盒", "original_gift_price": 15000}


def test_send_gift_v2_multiple_gifts():
    e = parse("send_gift_v2")
    assert (e.kind, e.cmd, e.uid, e.uname, e.ts) == ("gift", "SEND_GIFT_V2", 10000002, "test_alice", T + 12)
    d = e.data
    assert [g["gift_name"] for g in d["gifts"]] == ["小花花", "牛哇牛哇"]
    assert (d["gift_name"], d["num"], d["total_coin"]) == ("小花花", 2, 300)
    assert d["medal"]["level"] == 5 and d["medal"]["room_id"] == ROOM
    assert d["gift_img"] == "https://s1.hdslb.com/bfs/live/gift31036.png"


def test_combo_send():
    e = parse("combo_send")
    assert (e.kind, e.uid) == ("gift_combo", 10000001)
    assert e.data["combo_num"] == 3 and e.data["combo_total_coin"] == 300
    assert (e.data["receiver_uid"], e.data["receiver_uname"]) == (20000002, "主播测试号")


def test_guard_forms():
    buy = parse("guard_buy")
    assert (buy.kind, buy.uid, buy.uname, buy.ts) == ("guard", 10000001, "晴天小鱼", T + 20)
    assert buy.data["guard_level"] == 3 and buy.data["toast"] is False and buy.data["price"] == 198000
    toast = parse("user_toast_msg")
    assert toast.data["toast"] is True and toast.data["unit"] == "月" and toast.data["gift_name"] == "舰长"
    assert toast.data["toast_msg"].startswith("晴天小鱼 在主播")
    v2 = parse("user_toast_msg_v2")
    assert (v2.uid, v2.uname, v2.ts) == (10000002, "test_alice", T + 21)
    assert (v2.data["guard_level"], v2.data["price"], v2.data["source"], v2.data["gift_id"]) == (2, 1998000, 0, 10002)
    assert v2.data["face"].startswith("https://")


def test_super_chat_and_jpn_and_delete():
    sc = parse("super_chat_message")
    assert (sc.kind, sc.uid, sc.uname, sc.text, sc.ts) == ("super_chat", 10000001, "晴天小鱼", "主播加油！", T + 30)
    assert sc.data["sc_id"] == 900001 and sc.data["price"] == 30 and sc.data["duration"] == 60
    assert sc.data["message_trans"] is None and sc.data["user_level"] == 21 and sc.data["medal"]["level"] == 12
    jpn = parse("super_chat_message_jpn")
    assert (jpn.cmd, jpn.uid, jpn.data["sc_id"], jpn.data["message_trans"]) == (
        "SUPER_CHAT_MESSAGE_JPN", 10000002, 900002, "你好")  # fmt: skip
    assert jpn.data["medal"] is None  # medal_level 0
    de = parse("super_chat_message_delete")
    assert de.kind == "super_chat_delete" and de.data == {"ids": [900001, 900002]}


# --- interactions ----------------------------------------------------------------------------------


def test_interact_word_kinds():
    enter = parse("interact_word")
    assert (enter.kind, enter.uid, enter.uname) == ("enter", 10000001, "晴天小鱼")
    assert enter.ts == pytest.approx(T + 40 - 5e-6)  # trigger_time (ns) wins over timestamp (s)
    assert enter.data["medal"]["level"] == 12 and enter.data["msg_type"] == 1 and enter.data["effect"] is False
    assert parse("interact_word_follow").kind == "follow"
    assert parse("interact_word_share").kind == "share"
    assert parse("interact_word_share").ts == T + 42


@pytest.mark.parametrize("msg_type, kind", [(1, "enter"), (2, "follow"), (3, "share"), (4, "follow"), (5, "follow"),
                                            (6, "like"), (99, "raw")])  # fmt: skip
def test_interact_word_msg_types(msg_type, kind):
    msg = load_fixture("interact_word")
    msg["data"]["msg_type"] = msg_type
    e = parse_command(msg, ROOM)
    assert e.kind == kind and e.data["msg_type"] == msg_type


def test_interact_word_v2():
    e = parse("interact_word_v2")
    assert (e.kind, e.cmd, e.uid, e.uname) == ("enter", "INTERACT_WORD_V2", 10000002, "test_alice")
    assert e.ts == T + 43.5
    assert e.data["medal"]["level"] == 5 and e.data["face"].startswith("https://") and e.data["masked"] is False
    masked = parse("interact_word_v2_masked_follow")
    assert (masked.kind, masked.uid, masked.uname, masked.data["masked"]) == ("follow", None, "t***", True)
    assert masked.ts == T + 44


def test_interact_word_v2_bad_pb_becomes_raw_with_error():
    e = parse_command({"cmd": "INTERACT_WORD_V2", "data": {"pb": "@@not base64@@"}}, ROOM)
    assert e.kind == "raw" and e.cmd == "INTERACT_WORD_V2" and "ProtocolError" in e.data["error"]


def test_entry_effect_and_like():
    e = parse("entry_effect")
    assert (e.kind, e.uid, e.uname, e.text) == ("enter", 10000001, "晴天小鱼", "欢迎舰长 晴天小鱼 进入直播间")
    assert e.data["effect"] is True and e.data["guard_level"] == 3 and e.ts == T + 45
    like = parse("like_info_v3_click")
    assert (like.kind, like.uid, like.text, like.data["msg_type"]) == ("like", 10000002, "为主播点赞了", 6)
    assert like.data["medal"] is None


# --- counters, ranks, room state -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, kind, data",
    [
        ("like_info_v3_update", "like_count", {"count": 4321}),
        ("watched_change", "watched", {"num": 12345, "text_small": "1.2万", "text_large": "1.2万人看过"}),
        ("online_rank_count", "online_count", {"count": 88, "online_count": 120}),
        ("change_room_info", "room_info", {"background": "https://i0.hdslb.com/bfs/live/background0001.jpg",
                                           "fans": None, "fans_club": None, "red_notice": None}),
        ("room_real_time_message_update", "room_info", {"background": None, "fans": 1024, "fans_club": 64,
                                                        "red_notice": -1}),
        ("warning", "warning", {}),
        ("cut_off", "cut_off", {"title": None, "messages": []}),
        ("room_silent_on", "silent", {"on": True, "type": "level", "level": 5, "until": T + 3600}),
        ("room_silent_off", "silent", {"on": False, "type": None, "level": 0, "until": 0}),
        ("room_admins", "admins", {"action": "list", "uids": [10000001, 10000002], "level": None}),
        ("room_admin_entrance", "admins", {"action": "add", "uids": [10000001], "level": 1}),
        ("room_admin_revoke", "admins", {"action": "revoke", "uids": [10000002], "level": None}),
        ("recall_danmu_msg", "recall", {"target_id": 1767225000, "recall_type": 2}),
        ("log_in_notice", "login_notice", {"image": "http://i0.hdslb.com/bfs/dm/notice.png"}),
        ("preparing", "preparing", {"round": False}),
        ("preparing_round", "preparing", {"round": True}),
    ],
)  # fmt: skip
def test_simple_kinds(name, kind, data):
    e = parse(name)
    assert e.kind == kind and e.data == data and e.room_id == ROOM


def test_texts():
    assert parse("warning").text == "画面内容不适宜，请立即调整"
    assert parse("cut_off").text == "违反直播规范"
    assert parse("log_in_notice").text.startswith("为保护用户隐私")
    assert parse("room_admin_entrance").text == "系统提示：你已被主播设为房管"
    assert parse("room_admin_entrance").uid == 10000001


def test_online_ranks():
    v2 = parse("online_rank_v2")
    assert v2.kind == "online_rank" and v2.data["rank_type"] == "gold-rank"
    assert v2.data["list"][0] == {"uid": 10000001, "uname": "晴天小鱼", "face": v2.data["list"][0]["face"],
                                  "score": 520, "rank": 1, "guard_level": 3, "masked": False}  # fmt: skip
    v3 = parse("online_rank_v3")
    assert v3.data["rank_type"] == "online_rank"
    assert [(i["uid"], i["uname"], i["score"], i["masked"]) for i in v3.data["list"]] == [
        (10000001, "晴天小鱼", 520, False), (None, "t***", 20, True)]  # fmt: skip
    top3 = parse("online_rank_top3")
    assert top3.data == {"rank_type": "top3", "list": [{"uid": None, "uname": "晴天小鱼", "face": None, "score": None,
                                                       "rank": 1, "guard_level": 0, "masked": False}]}  # fmt: skip


def test_dm_interaction_string_and_object_payloads():
    s = parse("dm_interaction_follow")
    assert s.kind == "interaction" and s.data["type"] == 103 and s.data["payload"]["cnt"] == 3
    o = parse("dm_interaction_combo_object")
    assert o.data["type"] == 102 and o.data["payload"]["combo"][0]["content"] == "晚安"
    bad = parse_command({"cmd": "DM_INTERACTION", "data": {"type": 101, "data": "{oops"}}, ROOM)
    assert bad.kind == "interaction" and bad.data["payload"] is None


def test_live_preparing_room_change_cut_off_v2():
    live = parse("live")
    assert live.kind == "live" and live.ts == T + 60 and live.data["live_time"] == T + 60
    assert live.data["live_key"] == "600000000000000001" and live.data["live_platform"] == "pc_link"
    second = parse("live_second")
    assert second.data["live_time"] is None and second.id != live.id
    prep = parse("preparing")
    assert prep.ts == T + 70.005  # root send_time (ms)
    rc = parse("room_change")
    assert rc.kind == "room_change" and rc.data["title"] == "测试直播间标题" and rc.data["area_id"] == 371
    co = parse("cut_off_v2")
    assert co.ts == T + 80 and co.data["title"] == "违规提示"
    assert co.data["messages"] == [
        {"label": "处罚结果", "content": "切断本场直播"},
        {"label": "违规原因", "content": "测试原因"},
    ]
    assert co.text == "处罚结果: 切断本场直播; 违规原因: 测试原因"


def test_block():
    e = parse("room_block_msg")
    assert (e.kind, e.uid, e.uname) == ("block", 10000003, "路人丙")
    assert e.data == {"operator": 1, "block_expired": T + 7200, "valid_period": "2小时有效", "masked": False}


@pytest.mark.parametrize(
    "name, text",
    [
        ("notice_msg", "恭喜主播主播测试号荣获上小时人气榜第1名！"),
        ("common_notice_danmaku", "限时任务：即将结束"),
        ("sys_msg", "系统公告测试"),
        ("stop_live_room_list", None),
        ("hot_rank_changed_v2", None),
        ("pk_battle_final_process", None),
    ],
)
def test_notices(name, text):
    e = parse(name)
    assert e.kind == "notice" and e.text == text and e.data == {"category": e.cmd}


def test_unknown_cmd_is_raw_never_dropped():
    msg = load_fixture("unknown_cmd")
    e = parse_command(msg, ROOM)
    assert (e.kind, e.cmd, e.data, e.raw) == ("raw", "SOME_FUTURE_CMD_V9", {}, msg)
    assert parse_command({"cmd": "SOME_FUTURE_CMD_V9:1:2"}, ROOM).cmd == "SOME_FUTURE_CMD_V9"


# --- contract-wide rules ---------------------------------------------------------------------------


def test_every_fixture_parses_to_a_known_kind():
    names = sorted(p.stem for p in FIXTURES.glob("*.json"))
    assert len(names) >= 50
    for name in names:
        e = parse(name)
        assert isinstance(e, Event) and e.kind in KINDS, name
        assert "error" not in e.data, (name, e.data)
        assert e.room_id == ROOM and isinstance(e.ts, float) and e.id
        if name != "unknown_cmd":
            assert e.kind != "raw", name
        if e.uname is not None or e.uid is not None:
            assert "masked" in e.data or e.kind == "admins", name
        json.dumps(e.to_dict(), ensure_ascii=False)


def test_cmd_table_matches_kinds_vocabulary():
    assert set(CMD_KINDS.values()) <= set(KINDS)
    assert kind_for_cmd("DANMU_MSG:4:0:2:2:2:0") == "danmaku"
    assert kind_for_cmd("PK_BATTLE_END") == "pk_end"
    assert kind_for_cmd("PK_BATTLE_FINAL_PROCESS") == "notice"
    assert kind_for_cmd("NEVER_SEEN") == "raw"


def test_ids_are_stable_and_never_use_receive_time():
    a = parse("watched_change")  # no time field at all
    b = parse("watched_change")
    assert a.id == b.id
    assert a.id == make_id(ROOM, "WATCHED_CHANGE", 0.0, load_fixture("watched_change"))
    assert abs(a.ts - time.time()) < 60
    other_room = parse_command(load_fixture("watched_change"), ROOM + 1)
    assert other_room.id != a.id and other_room.room_id == ROOM + 1
    gift = parse("send_gift")
    assert gift.id == make_id(ROOM, "SEND_GIFT", T + 10.0, load_fixture("send_gift"))


def test_body_id_equals_make_id():
    for p in FIXTURES.glob("*.json"):
        msg = json.loads(p.read_text("utf-8"))
        assert body_id(1, "X", 12.5, msg) == make_id(1, "X", 12.5, msg)
    huge = {"n": 2**80}
    assert body_id(1, "X", 0.0, huge) == make_id(1, "X", 0.0, huge)


def test_room_id_is_the_connection_room_even_when_message_names_another():
    e = parse_command(load_fixture("super_chat_message_jpn"), 42)
    assert e.room_id == 42


def test_not_a_dict_raises_message_error_and_no_cmd_is_raw():
    for bad in ([1, 2], "x", None, 5):
        with pytest.raises(MessageError):
            parse_command(bad, ROOM)  # type: ignore[arg-type]
    assert issubclass(MessageError, ValueError)
    e = parse_command({"data": 1}, ROOM)
    assert e.kind == "raw" and e.cmd is None
    e = parse_command({"cmd": 5}, ROOM)
    assert e.kind == "raw" and e.cmd is None


@pytest.mark.parametrize(
    "msg",
    [
        {"cmd": "DANMU_MSG"},
        {"cmd": "DANMU_MSG", "info": None},
        {"cmd": "DANMU_MSG", "info": []},
        {"cmd": "DANMU_MSG", "info": [None, None, None, None]},
        {"cmd": "SEND_GIFT", "data": None},
        {"cmd": "SEND_GIFT", "data": {"uid": "abc", "num": "x", "timestamp": "nan"}},
        {"cmd": "SUPER_CHAT_MESSAGE_DELETE", "data": {"ids": "1,2"}},
        {"cmd": "ROOM_ADMINS", "uids": None},
        {"cmd": "SEND_GIFT_V2", "data": {"pb": ""}},
        {"cmd": "ONLINE_RANK_V3", "data": {}},
        {"cmd": "LIVE", "live_time": 1e400},
    ],
)
def test_broken_shapes_never_raise(msg):
    e = parse_command(copy.deepcopy(msg), ROOM)
    assert isinstance(e, Event) and e.kind in KINDS


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=6) | st.dictionaries(st.text(max_size=6), kids, max_size=6),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(CMD_KINDS) + ["DANMU_MSG:3:7:1:1:1:1"]), JSON, JSON)
def test_fuzzed_shapes_only_produce_events(cmd, data, info):
    e = parse_command({"cmd": cmd, "data": data, "info": info, "uid": data, "roomid": info}, ROOM)
    assert isinstance(e, Event) and e.kind in KINDS and e.cmd == cmd.split(":")[0]
