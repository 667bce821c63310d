"""POST /msg/send against a running simulator: codes, silent failures, echo onto the room."""

import json

import pytest
from actions_support import ROOM_ID, SHORT_ID, VIEWER, action_sim

from livepipe.sim.actions_common import uid_hash

pytestmark = pytest.mark.anyio


def send_form(text, **extra):
    form = {"roomid": ROOM_ID, "msg": text, "rnd": 1750000000, "fontsize": 25, "color": 16777215, "mode": 1}
    form.update(extra)
    return form


async def test_success_reply_shape_record_and_echo():
    async with action_sim() as sim:
        seen = []
        sim.room.listeners.append(seen.append)
        body = await sim.post("/msg/send", send_form("hello there"), who="viewer")
        assert body["code"] == 0 and body["message"] == "" and body["msg"] == ""
        assert body["data"]["dm_v2"] is None
        mode_info = body["data"]["mode_info"]
        extra = json.loads(mode_info["extra"])
        assert extra["send_from_me"] is True
        assert extra["content"] == "hello there"
        assert extra["user_hash"] == str(uid_hash(VIEWER))
        assert 34 <= len(extra["id_str"]) <= 36
        assert mode_info["user"]["uid"] == VIEWER
        assert mode_info["user"]["base"]["name"] == "sim_viewer"

        assert [d["msg"] for d in sim.room.sent_danmaku] == ["hello there"]
        assert sim.room.sent_danmaku[0]["uid"] == VIEWER
        assert sim.room.sent_danmaku[0]["id_str"] == extra["id_str"]

        echoes = sim.cmds("DANMU_MSG")
        assert len(echoes) == 1 and seen == echoes
        info = echoes[0]["info"]
        assert info[1] == "hello there"
        assert info[2][0] == VIEWER and info[2][1] == "sim_viewer"
        assert info[0][7] == f"{uid_hash(VIEWER):08x}"
        echo_extra = json.loads(info[0][15]["extra"])
        assert echo_extra["id_str"] == extra["id_str"]
        assert echo_extra["send_from_me"] is False


async def test_short_room_id_is_accepted():
    async with action_sim() as sim:
        body = await sim.post("/msg/send", send_form("via short id", roomid=SHORT_ID), who="viewer")
        assert body["code"] == 0 and body["message"] == ""
        assert len(sim.room.sent_danmaku) == 1


async def test_not_logged_in_and_unknown_session():
    async with action_sim() as sim:
        assert (await sim.post("/msg/send", send_form("x")))["code"] == -101
        headers = {"Cookie": "SESSDATA=nope; bili_jct=abc"}
        resp = await sim.http.post("/msg/send", data=send_form("x", csrf="abc"), headers=headers)
        assert resp.json()["code"] == -101
        assert sim.room.sent_danmaku == [] and sim.cmds("DANMU_MSG") == []


async def test_csrf_mismatch_and_missing():
    async with action_sim() as sim:
        wrong = await sim.post("/msg/send", send_form("x", csrf="0" * 32, csrf_token="0" * 32), who="viewer")
        assert wrong["code"] == -111
        missing = await sim.post("/msg/send", send_form("x"), who="viewer", csrf=False)
        assert missing["code"] == -111
        # another account's bili_jct is not good enough either
        other = sim.accounts["admin"].bili_jct
        assert (await sim.post("/msg/send", send_form("x", csrf=other, csrf_token=other), who="viewer"))["code"] == -111
        assert sim.room.sent_danmaku == []


async def test_bad_room_and_empty_text():
    async with action_sim() as sim:
        assert (await sim.post("/msg/send", send_form("x", roomid=999), who="viewer"))["code"] == -400
        assert (await sim.post("/msg/send", send_form(""), who="viewer"))["code"] == -400


async def test_rate_limit_10031_then_ok_after_a_second():
    async with action_sim() as sim:
        assert (await sim.post("/msg/send", send_form("one"), who="viewer"))["code"] == 0
        sim.clock.t += 0.5
        fast = await sim.post("/msg/send", send_form("two"), who="viewer")
        assert fast["code"] == 10031 and fast["message"]
        # other accounts are not affected
        assert (await sim.post("/msg/send", send_form("mine"), who="admin"))["code"] == 0
        sim.clock.t += 1.0
        assert (await sim.post("/msg/send", send_form("three"), who="viewer"))["message"] == ""
        assert [d["msg"] for d in sim.room.sent_danmaku] == ["one", "mine", "three"]


async def test_rate_limit_silent_variant():
    async with action_sim() as sim:
        sim.store.settings.danmaku_rate_code = 0
        await sim.post("/msg/send", send_form("one"), who="viewer")
        body = await sim.post("/msg/send", send_form("two"), who="viewer")
        assert body["code"] == 0 and body["message"] == "msg in 1s" and body["msg"] == "msg in 1s"
        assert len(sim.room.sent_danmaku) == 1


async def test_length_limit_default_and_per_account():
    async with action_sim() as sim:
        body = await sim.post("/msg/send", send_form("x" * 21), who="viewer")
        assert body["code"] == 1003212
        assert (await sim.post("/msg/send", send_form("y" * 20), who="viewer"))["code"] == 0
        sim.accounts["admin"].danmaku_max_len = 30
        assert (await sim.post("/msg/send", send_form("z" * 30), who="admin"))["code"] == 0
        sim.clock.t += 2
        assert (await sim.post("/msg/send", send_form("z" * 31), who="admin"))["code"] == 1003212
        assert [len(d["msg"]) for d in sim.room.sent_danmaku] == [20, 30]


async def test_repeat_is_silently_dropped():
    async with action_sim() as sim:
        assert (await sim.post("/msg/send", send_form("same"), who="viewer"))["message"] == ""
        sim.clock.t += 2
        body = await sim.post("/msg/send", send_form("same"), who="viewer")
        assert body["code"] == 0 and body["message"] == "msg repeat" and body["msg"] == "msg repeat"
        # another account may say the same thing
        assert (await sim.post("/msg/send", send_form("same"), who="admin"))["message"] == ""
        # after the window the text is fresh again
        sim.clock.t += sim.store.settings.repeat_window + 1
        assert (await sim.post("/msg/send", send_form("same"), who="viewer"))["message"] == ""
        assert len(sim.room.sent_danmaku) == 3
        assert len(sim.cmds("DANMU_MSG")) == 3


async def test_platform_filter_f_and_keyword_shield_k():
    async with action_sim() as sim:
        sim.store.settings.filter_words = ["badword"]
        body = await sim.post("/msg/send", send_form("a badword here"), who="viewer")
        assert body["code"] == 0 and body["message"] == "f" and body["msg"] == "f"
        sim.room.keyword_shield.append("spoiler")
        sim.clock.t += 2
        body = await sim.post("/msg/send", send_form("big spoiler"), who="viewer")
        assert body["code"] == 0 and body["message"] == "k"
        assert sim.room.sent_danmaku == [] and sim.cmds("DANMU_MSG") == []


async def test_emoticon_dm_type_1():
    async with action_sim() as sim:
        body = await sim.post(
            "/msg/send", send_form("official_147", dm_type=1, emoticonOptions="[object Object]"), who="viewer"
        )
        assert body["code"] == 0 and body["message"] == ""
        extra = json.loads(body["data"]["mode_info"]["extra"])
        assert extra["dm_type"] == 1 and extra["emoticon_unique"] == "official_147"
        info = sim.cmds("DANMU_MSG")[0]["info"]
        assert info[0][12] == 1
        assert info[0][13]["emoticon_unique"] == "official_147"
        assert info[1] == "[dog]"
        assert sim.room.sent_danmaku[0]["dm_type"] == 1


async def test_reply_mid_is_carried():
    async with action_sim() as sim:
        body = await sim.post("/msg/send", send_form("@you", reply_mid=5560001), who="viewer")
        extra = json.loads(body["data"]["mode_info"]["extra"])
        assert extra["reply_mid"] == 5560001 and extra["reply_uname"] == "target_0"


async def test_multipart_body_is_accepted():
    async with action_sim() as sim:
        acct = sim.accounts["viewer"]
        files = {k: (None, str(v)) for k, v in send_form("multipart", csrf=acct.bili_jct).items()}
        cookie = f"SESSDATA={acct.sessdata}; bili_jct={acct.bili_jct}"
        resp = await sim.http.post("/msg/send", files=files, headers={"Cookie": cookie})
        assert resp.json()["code"] == 0
        assert sim.room.sent_danmaku[0]["msg"] == "multipart"


async def test_settings_control_route_and_reset():
    async with action_sim() as sim:
        r = await sim.http.post("/_sim/actions/settings", json={"filter_words": ["zzz"], "danmaku_min_interval": 0})
        assert r.status_code == 200 and r.json()["filter_words"] == ["zzz"]
        assert (await sim.http.post("/_sim/actions/settings", json={"nope": 1})).status_code == 400
        assert (await sim.post("/msg/send", send_form("zzz"), who="viewer"))["message"] == "f"
        # interval 0: the next message is not "too fast"
        assert (await sim.post("/msg/send", send_form("fine"), who="viewer"))["message"] == ""
        sim.room.keyword_shield.append("kw")
        assert (await sim.http.post("/_sim/actions/reset")).json() == {"ok": True}
        settings = (await sim.http.get("/_sim/actions/settings")).json()
        assert settings["filter_words"] != ["zzz"] and settings["danmaku_min_interval"] == 1.0
        assert sim.room.keyword_shield == [] and sim.store.last_send == {}
