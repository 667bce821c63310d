"""Room management: Room/update, updateRoomNews, UpdatePreLiveInfo, startLive, stopLive."""

import pytest
from actions_support import ROOM_ID, action_sim

pytestmark = pytest.mark.anyio

UPDATE = "/room/v1/Room/update"
NEWS = "/xlive/app-blink/v1/index/updateRoomNews"
PRELIVE = "/xlive/app-blink/v1/preLive/UpdatePreLiveInfo"
START = "/room/v1/Room/startLive"
STOP = "/room/v1/Room/stopLive"


async def test_update_title_reply_state_and_room_change():
    async with action_sim() as sim:
        body = await sim.post(UPDATE, {"room_id": ROOM_ID, "title": "新标题", "platform": "web"}, who="streamer")
        assert body["code"] == 0 and body["msg"] == "ok" and body["message"] == "ok"
        audit = body["data"]["audit_info"]
        assert audit["audit_title"] == "新标题" and audit["audit_title_status"] == 2 and audit["audit_title_reason"]
        assert "sub_session_key" in body["data"]
        assert sim.room.title == "新标题"
        [change] = sim.cmds("ROOM_CHANGE")
        assert change["data"]["title"] == "新标题"
        assert change["data"]["area_id"] == sim.room.area_id
        assert set(change["data"]) == {
            "title", "area_id", "parent_area_id", "area_name", "parent_area_name", "live_key", "sub_session_key",
        }  # fmt: skip


async def test_update_too_soon_is_minus_1_then_allowed():
    async with action_sim() as sim:
        assert (await sim.post(UPDATE, {"room_id": ROOM_ID, "title": "one"}, who="streamer"))["code"] == 0
        sim.clock.t += 0.2
        again = await sim.post(UPDATE, {"room_id": ROOM_ID, "title": "two"}, who="streamer")
        assert again["code"] == -1
        assert sim.room.title == "one" and len(sim.cmds("ROOM_CHANGE")) == 1
        sim.store.settings.room_update_interval = 30
        sim.clock.t += 5
        assert (await sim.post(UPDATE, {"room_id": ROOM_ID, "title": "two"}, who="streamer"))["code"] == -1
        sim.clock.t += 30
        assert (await sim.post(UPDATE, {"room_id": ROOM_ID, "title": "two"}, who="streamer"))["code"] == 0
        assert sim.room.title == "two"


async def test_update_area_and_offline_area():
    async with action_sim() as sim:
        body = await sim.post(UPDATE, {"room_id": ROOM_ID, "area_id": 216}, who="streamer")
        assert body["code"] == 0
        assert body["data"]["audit_info"]["audit_title_status"] == 0 and "audit_title" not in body["data"]["audit_info"]
        assert (sim.room.area_id, sim.room.parent_area_id) == (216, 6)
        change = sim.cmds("ROOM_CHANGE")[-1]["data"]
        assert (change["area_id"], change["parent_area_id"], change["area_name"]) == (216, 6, "我的世界")
        sim.clock.t += 5
        assert (await sim.post(UPDATE, {"room_id": ROOM_ID, "area_id": 99999}, who="streamer"))["code"] == 60009
        sim.store.settings.offline_areas = [86]
        assert (await sim.post(UPDATE, {"room_id": ROOM_ID, "area_id": 86}, who="streamer"))["code"] == 60009
        assert sim.room.area_id == 216


async def test_update_title_limits_tags_and_auth():
    async with action_sim() as sim:
        assert (await sim.post(UPDATE, {"room_id": ROOM_ID, "title": "x" * 41}, who="streamer"))["code"] == 1
        assert (await sim.post(UPDATE, {"room_id": ROOM_ID, "title": "x"}, who="admin"))["code"] == 3
        assert (await sim.post(UPDATE, {"room_id": ROOM_ID, "title": "x"}))["code"] == -101
        assert (await sim.post(UPDATE, {"room_id": ROOM_ID, "title": "x", "csrf": "no"}, who="streamer"))[
            "code"
        ] == -111
        assert sim.room.title == "old title"
        assert (await sim.post(UPDATE, {"room_id": ROOM_ID, "add_tag": "tagA", "del_tag": "x"}, who="streamer"))[
            "code"
        ] == 0
        assert sim.room.tags == ["tagA"]
        sim.clock.t += 5
        # del_tag is ignored when add_tag is present
        await sim.post(UPDATE, {"room_id": ROOM_ID, "add_tag": "tagB", "del_tag": "tagA"}, who="streamer")
        assert sim.room.tags == ["tagA", "tagB"]
        sim.clock.t += 5
        await sim.post(UPDATE, {"room_id": ROOM_ID, "del_tag": "tagA"}, who="streamer")
        assert sim.room.tags == ["tagB"]
        # tag-only updates do not announce a ROOM_CHANGE
        assert sim.cmds("ROOM_CHANGE") == []


async def test_room_news_form_and_query_variants():
    async with action_sim() as sim:
        uid = sim.accounts["streamer"].uid
        body = await sim.post(NEWS, {"room_id": ROOM_ID, "uid": uid, "content": "公告一"}, who="streamer")
        assert body == {"code": 0, "message": "0", "ttl": 1, "data": {}}
        assert sim.room.news == "公告一"
        # bilibili-api style: roomId, uid and content in the query string
        body = await sim.post(NEWS, {}, params={"roomId": ROOM_ID, "uid": uid, "content": "公告二"}, who="streamer")
        assert body["code"] == 0 and sim.room.news == "公告二"
        # may be emptied; at most 60 characters
        assert (await sim.post(NEWS, {"room_id": ROOM_ID, "uid": uid, "content": ""}, who="streamer"))["code"] == 0
        assert sim.room.news == ""
        long = await sim.post(NEWS, {"room_id": ROOM_ID, "uid": uid, "content": "长" * 61}, who="streamer")
        assert long["code"] == 1 and sim.room.news == ""
        assert (await sim.post(NEWS, {"room_id": ROOM_ID, "uid": uid, "content": "x"}, who="viewer"))["code"] == 1
        assert (await sim.post(NEWS, {"room_id": ROOM_ID, "uid": uid}, who="streamer"))["code"] == -400


async def test_prelive_cover_must_be_hdslb():
    async with action_sim() as sim:
        good = "https://i0.hdslb.com/bfs/live/abc.png"
        body = await sim.post(
            PRELIVE, {"platform": "web", "mobi_app": "web", "build": 1, "cover": good}, who="streamer"
        )
        assert body["code"] == 0 and body["message"] == "0" and body["ttl"] == 1
        assert body["data"]["audit_info"] == {"audit_title": "", "audit_title_status": 0, "audit_title_reason": ""}
        assert sim.room.cover == good
        for bad in ("https://example.com/a.png", "https://hdslb.com.evil.org/a.png", "not a url"):
            reply = await sim.post(
                PRELIVE, {"platform": "web", "mobi_app": "web", "build": 1, "cover": bad}, who="streamer"
            )
            assert reply["code"] == 100402
        assert sim.room.cover == good


async def test_prelive_title_uses_the_cookie_room():
    async with action_sim() as sim:
        body = await sim.post(
            PRELIVE, {"platform": "web", "mobi_app": "web", "build": 1, "title": "预告"}, who="streamer"
        )
        assert body["code"] == 0
        assert body["data"]["audit_info"]["audit_title"] == "预告"
        assert body["data"]["audit_info"]["audit_title_status"] == 2
        assert sim.room.title == "预告"
        assert sim.cmds("ROOM_CHANGE")[-1]["data"]["title"] == "预告"
        # an account without a room
        assert (await sim.post(PRELIVE, {"title": "x"}, who="viewer"))["code"] == 1
        assert (await sim.post(PRELIVE, {"title": "x", "csrf": "bad"}, who="streamer"))["code"] == -111


async def test_start_live_twice_live_broadcast_and_reply():
    async with action_sim() as sim:
        sim.room.live_status = 0
        body = await sim.post(START, {"room_id": ROOM_ID, "area_v2": 371, "platform": "pc_link"}, who="streamer")
        assert body["code"] == 0 and body["msg"] == "" and body["message"] == ""
        data = body["data"]
        assert data["change"] == 1 and data["status"] == "LIVE" and data["need_face_auth"] is False
        assert data["rtmp"]["addr"].startswith("rtmp://") and data["protocols"][0]["protocol"] == "rtmp"
        assert data["live_key"] and data["sub_session_key"].startswith(data["live_key"])
        assert sim.room.live_status == 1 and sim.room.area_id == 371
        first, second = sim.cmds("LIVE")
        assert first["live_time"] == int(sim.clock.t) and "live_time" not in second
        assert first["roomid"] == ROOM_ID and first["live_key"] == data["live_key"]
        assert first["live_platform"] == "pc_link"
        # already live: no change, no new LIVE
        again = await sim.post(START, {"room_id": ROOM_ID, "area_v2": 371, "platform": "pc_link"}, who="streamer")
        assert again["code"] == 0 and again["data"]["change"] == 0
        assert len(sim.cmds("LIVE")) == 2


async def test_start_live_errors():
    async with action_sim() as sim:
        sim.room.live_status = 0
        assert (await sim.post(START, {"room_id": ROOM_ID, "platform": "pc_link"}, who="streamer"))["code"] == 60009
        assert (await sim.post(START, {"room_id": ROOM_ID, "area_v2": 1, "platform": "pc"}, who="streamer"))[
            "code"
        ] == 60009
        web_link = await sim.post(START, {"room_id": ROOM_ID, "area_v2": 371, "platform": "web_link"}, who="streamer")
        assert web_link["code"] == 60037
        assert (await sim.post(START, {"room_id": ROOM_ID, "area_v2": 371}, who="admin"))["code"] == -400
        assert (await sim.post(START, {"room_id": ROOM_ID, "area_v2": 371}))["code"] == -101
        assert sim.room.live_status == 0 and sim.cmds("LIVE") == []


async def test_face_auth_60024_unless_version_and_build():
    async with action_sim() as sim:
        sim.room.live_status = 0
        sim.accounts["streamer"].needs_face_auth = True
        form = {"room_id": ROOM_ID, "area_v2": 371, "platform": "pc_link"}
        assert (await sim.post(START, form, who="streamer"))["code"] == 60024
        assert (await sim.post(START, {**form, "version": "7.19.0.0"}, who="streamer"))["code"] == 60024
        ok = await sim.post(START, {**form, "version": "7.19.0.0", "build": "9343"}, who="streamer")
        assert ok["code"] == 0 and sim.room.live_status == 1


async def test_face_auth_persistent_and_per_room():
    async with action_sim() as sim:
        sim.room.live_status = 0
        form = {"room_id": ROOM_ID, "area_v2": 371, "platform": "pc_link", "version": "7.19.0.0", "build": "9343"}
        sim.room.needs_face_auth = True
        assert (
            await sim.post(START, {k: v for k, v in form.items() if k not in ("version", "build")}, who="streamer")
        )["code"] == 60024
        sim.accounts["streamer"].needs_face_auth = True
        sim.accounts["streamer"].face_auth_persistent = True
        assert (await sim.post(START, form, who="streamer"))["code"] == 60024
        assert sim.room.live_status == 0 and sim.cmds("LIVE") == []


async def test_stop_live_preparing_and_round():
    async with action_sim() as sim:
        body = await sim.post(STOP, {"room_id": ROOM_ID, "platform": "pc_link"}, who="streamer")
        assert body == {"code": 0, "msg": "", "message": "", "data": {"change": 1, "status": "PREPARING"}}
        [prep] = sim.cmds("PREPARING")
        assert prep["roomid"] == str(ROOM_ID) and "round" not in prep
        assert prep["send_time"] == int(sim.clock.t * 1000)
        assert sim.room.live_status == 0
        # stopping again changes nothing
        again = await sim.post(STOP, {"room_id": ROOM_ID, "platform": "pc_link"}, who="streamer")
        assert again["data"] == {"change": 0, "status": "PREPARING"} and len(sim.cmds("PREPARING")) == 1


async def test_stop_live_with_replay_loop():
    async with action_sim() as sim:
        sim.room.replay_loop = True
        body = await sim.post(STOP, {"room_id": ROOM_ID, "platform": "pc_link"}, who="streamer")
        assert body["data"] == {"change": 1, "status": "ROUND"}
        [prep] = sim.cmds("PREPARING")
        assert prep["round"] == 1
        assert sim.room.live_status == 2
        assert (await sim.post(STOP, {"room_id": ROOM_ID}, who="viewer"))["code"] == -400


async def test_room_change_live_key_follows_live_state():
    async with action_sim() as sim:
        sim.room.live_status = 0
        await sim.post(UPDATE, {"room_id": ROOM_ID, "title": "offline title"}, who="streamer")
        off = sim.cmds("ROOM_CHANGE")[-1]["data"]
        assert off["live_key"] == "0" and off["sub_session_key"] == ""
        start = await sim.post(START, {"room_id": ROOM_ID, "area_v2": 371, "platform": "pc_link"}, who="streamer")
        sim.clock.t += 5
        await sim.post(UPDATE, {"room_id": ROOM_ID, "title": "live title"}, who="streamer")
        on = sim.cmds("ROOM_CHANGE")[-1]["data"]
        assert on["live_key"] == start["data"]["live_key"] and on["sub_session_key"] == start["data"]["sub_session_key"]


async def test_control_route_reads_and_sets_room():
    async with action_sim() as sim:
        r = await sim.http.post(
            f"/_sim/actions/rooms/{ROOM_ID}", json={"replay_loop": True, "keyword_shield": ["k1", "k2"]}
        )
        view = r.json()
        assert view["replay_loop"] is True and view["keyword_shield"] == ["k1", "k2"]
        assert sim.room.replay_loop is True and sim.room.keyword_shield == ["k1", "k2"]
        assert (await sim.http.post(f"/_sim/actions/rooms/{ROOM_ID}", json={"nope": 1})).status_code == 400
        assert (await sim.http.get("/_sim/actions/rooms/1")).status_code == 404
