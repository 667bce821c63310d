"""Ban management: AddSilentUser (with the missing-hour quirk), GetSilentUserList, both unban endpoints."""

import pytest
from actions_support import ADMIN, ROOM_ID, STREAMER, TARGETS, action_sim

from livepipe.sim.state import Room

pytestmark = pytest.mark.anyio

ADD = "/xlive/web-ucenter/v1/banned/AddSilentUser"
LIST = "/xlive/web-ucenter/v1/banned/GetSilentUserList"
DEL = "/xlive/web-ucenter/v1/banned/DelSilentUser"
DEL_OLD = "/banned_service/v1/Silent/del_room_block_user"


def ban_form(tuid, hour=None, **extra):
    form = {"room_id": ROOM_ID, "tuid": tuid, "msg": "spam", "mobile_app": "web", "visit_id": ""}
    if hour is not None:
        form["hour"] = hour
        form["type"] = 2 if hour == 0 else 1
    form.update(extra)
    return form


async def test_ban_by_streamer_records_and_broadcasts():
    async with action_sim() as sim:
        body = await sim.post(ADD, ban_form(TARGETS[0], hour=2), who="streamer")
        assert body == {"code": 0, "message": "0", "ttl": 1, "data": {}}
        [rec] = sim.room.silent
        assert (rec.tuid, rec.tname, rec.operator_uid, rec.hour, rec.msg) == (
            TARGETS[0],
            "target_0",
            STREAMER,
            2,
            "spam",
        )
        assert rec.block_expired == int(sim.clock.t + 7200)
        [msg] = sim.cmds("ROOM_BLOCK_MSG")
        assert msg["uid"] == str(TARGETS[0]) and isinstance(msg["uid"], str)
        assert msg["uname"] == "target_0"
        assert msg["data"]["uid"] == TARGETS[0]
        assert msg["data"]["operator"] == 2
        assert msg["data"]["block_expired"] == rec.block_expired
        assert msg["data"]["vaild_period"] == "2小时有效"


async def test_ban_by_admin_is_operator_1_and_periods():
    async with action_sim() as sim:
        assert (await sim.post(ADD, ban_form(TARGETS[0], hour=-1), who="admin"))["code"] == 0
        assert (await sim.post(ADD, ban_form(TARGETS[1], hour=0), who="admin"))["code"] == 0
        first, second = sim.cmds("ROOM_BLOCK_MSG")
        assert first["data"]["operator"] == 1 and second["data"]["operator"] == 1
        assert first["data"]["vaild_period"] == "永久"
        assert second["data"]["vaild_period"] == "仅本场直播有效"
        assert [r.operator_uid for r in sim.room.silent] == [ADMIN, ADMIN]


async def test_missing_hour_fails_silently():
    async with action_sim() as sim:
        body = await sim.post(ADD, ban_form(TARGETS[0]), who="streamer")
        assert body["code"] == 0 and body["data"] == {}
        assert sim.room.silent == []
        assert sim.cmds("ROOM_BLOCK_MSG") == []
        listing = await sim.post(LIST, {"room_id": ROOM_ID, "ps": 1}, who="streamer")
        assert listing["data"]["total"] == 0


async def test_ban_errors():
    async with action_sim() as sim:
        assert (await sim.post(ADD, ban_form(TARGETS[0], hour=1)))["code"] == -101
        resp = await sim.http.post(
            ADD, data=ban_form(TARGETS[0], hour=1, csrf="x"), headers={"Cookie": "SESSDATA=gone"}
        )
        assert resp.json()["code"] == 65530
        assert (await sim.post(ADD, ban_form(TARGETS[0], hour=1, csrf="bad"), who="streamer"))["code"] == -111
        assert (await sim.post(ADD, ban_form(TARGETS[0], hour=1), who="viewer"))["code"] == 10002
        assert (await sim.post(ADD, ban_form("", hour=1), who="streamer"))["code"] == -400
        assert (await sim.post(ADD, ban_form(TARGETS[0], hour="soon"), who="streamer"))["code"] == -400
        assert (await sim.post(ADD, ban_form(TARGETS[0], hour=-7), who="streamer"))["code"] == -400
        assert (await sim.post(ADD, ban_form(TARGETS[0], hour=1, room_id=1), who="streamer"))["code"] == -400
        # uid 1, an unknown uid, the streamer and oneself cannot be banned
        for tuid in (1, 424242, STREAMER):
            assert (await sim.post(ADD, ban_form(tuid, hour=1), who="admin"))["code"] == 1200000
        assert (await sim.post(ADD, ban_form(ADMIN, hour=1), who="admin"))["code"] == 1200000
        assert sim.room.silent == [] and sim.cmds("ROOM_BLOCK_MSG") == []


async def test_list_shape_paging_and_expiry():
    async with action_sim() as sim:
        await sim.post(ADD, ban_form(TARGETS[0], hour=1), who="streamer")
        sim.clock.t += 10
        await sim.post(ADD, ban_form(TARGETS[1], hour=-1), who="admin")
        body = await sim.post(LIST, {"room_id": ROOM_ID, "ps": 1, "visit_id": ""}, who="streamer")
        assert body["code"] == 0 and body["message"] == "0" and body["ttl"] == 1
        data = body["data"]
        assert data["total"] == 2 and data["total_page"] == 1
        newest, oldest = data["data"]
        assert newest["tuid"] == TARGETS[1] and newest["uid"] == ADMIN and newest["name"] == "sim_admin"
        assert newest["is_anchor"] == 0 and newest["admin_level"] == 1
        assert oldest["tuid"] == TARGETS[0] and oldest["uid"] == STREAMER
        assert oldest["is_anchor"] == 1 and oldest["admin_level"] == 0
        assert oldest["tname"] == "target_0" and oldest["face"].endswith("t0.jpg")
        assert isinstance(oldest["id"], int) and oldest["id"] != newest["id"]
        # ctime is China Standard Time
        assert oldest["ctime"] == "2025-06-15 23:06:40"
        assert set(oldest) == {"tuid", "tname", "uid", "name", "ctime", "id", "is_anchor", "face", "admin_level"}
        # page 2 is empty; an admin may read the list too; a viewer may not
        assert (await sim.post(LIST, {"room_id": ROOM_ID, "ps": 2}, who="admin"))["data"]["data"] == []
        assert (await sim.post(LIST, {"room_id": ROOM_ID, "ps": 1}, who="viewer"))["code"] == 10002
        # the one-hour ban runs out
        sim.clock.t += 3600
        data = (await sim.post(LIST, {"room_id": ROOM_ID, "ps": 1}, who="streamer"))["data"]
        assert [r["tuid"] for r in data["data"]] == [TARGETS[1]]


async def test_list_pages_of_twenty():
    async with action_sim() as sim:
        for i in range(25):
            uid = 6_000_000 + i
            sim.ctx.users[uid] = type(sim.ctx.users[TARGETS[0]])(uid=uid, uname=f"u{i}")
            sim.clock.t += 1
            assert (await sim.post(ADD, ban_form(uid, hour=-1), who="streamer"))["code"] == 0
        p1 = (await sim.post(LIST, {"room_id": ROOM_ID, "ps": 1}, who="streamer"))["data"]
        p2 = (await sim.post(LIST, {"room_id": ROOM_ID, "ps": 2}, who="streamer"))["data"]
        assert p1["total"] == 25 and p1["total_page"] == 2
        assert len(p1["data"]) == 20 and len(p2["data"]) == 5
        assert p1["data"][0]["tuid"] == 6_000_024 and p2["data"][-1]["tuid"] == 6_000_000


async def test_del_silent_user_needs_visit_id():
    async with action_sim() as sim:
        await sim.post(ADD, ban_form(TARGETS[0], hour=-1), who="streamer")
        no_visit = await sim.post(DEL, {"room_id": ROOM_ID, "tuid": TARGETS[0]}, who="streamer")
        assert no_visit["code"] == -400
        assert len(sim.room.silent) == 1
        ok = await sim.post(DEL, {"room_id": ROOM_ID, "tuid": TARGETS[0], "visit_id": ""}, who="admin")
        assert ok["code"] == 0
        assert sim.room.silent == []
        again = await sim.post(DEL, {"room_id": ROOM_ID, "tuid": TARGETS[0], "visit_id": ""}, who="streamer")
        assert again["code"] == -400
        assert (await sim.post(DEL, {"room_id": ROOM_ID, "tuid": 1, "visit_id": ""}, who="viewer"))["code"] == 10002


async def test_del_room_block_user_by_record_id():
    async with action_sim() as sim:
        await sim.post(ADD, ban_form(TARGETS[0], hour=-1), who="streamer")
        await sim.post(ADD, ban_form(TARGETS[1], hour=-1), who="streamer")
        rows = (await sim.post(LIST, {"room_id": ROOM_ID, "ps": 1}, who="streamer"))["data"]["data"]
        record_id = next(r["id"] for r in rows if r["tuid"] == TARGETS[0])
        # note: roomid without underscore; a tuid is not a record id
        wrong = await sim.post(DEL_OLD, {"roomid": ROOM_ID, "id": TARGETS[1], "visit_id": ""}, who="streamer")
        assert wrong["code"] == -400
        body = await sim.post(DEL_OLD, {"roomid": ROOM_ID, "id": record_id, "visit_id": ""}, who="streamer")
        assert body == {"code": 0, "msg": "", "message": "", "data": []}
        assert [r.tuid for r in sim.room.silent] == [TARGETS[1]]
        # the doc's field name is roomid; room_id is not understood
        assert (await sim.post(DEL_OLD, {"room_id": ROOM_ID, "id": 1}, who="streamer"))["code"] == -400


async def test_stream_only_bans_end_with_the_stream():
    async with action_sim() as sim:
        await sim.post(ADD, ban_form(TARGETS[0], hour=0), who="streamer")
        await sim.post(ADD, ban_form(TARGETS[1], hour=-1), who="streamer")
        stopped = await sim.post("/room/v1/Room/stopLive", {"room_id": ROOM_ID, "platform": "pc_link"}, who="streamer")
        assert stopped["code"] == 0
        assert [r.tuid for r in sim.room.silent] == [TARGETS[1]]


async def test_control_route_shows_bans():
    async with action_sim() as sim:
        await sim.post(ADD, ban_form(TARGETS[2], hour=3), who="streamer")
        view = (await sim.http.get(f"/_sim/actions/rooms/{ROOM_ID}")).json()
        assert [b["tuid"] for b in view["silent"]] == [TARGETS[2]]
        assert view["silent"][0]["hour"] == 3
        assert isinstance(sim.room, Room)
