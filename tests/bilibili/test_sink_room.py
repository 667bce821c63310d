"""bilibili.room against the simulator: limits checked before any request, the steps, start/stop, 60024."""

from __future__ import annotations

import pytest

from livepipe.bilibili import actions as act
from livepipe.events import Event
from livepipe.sim import run_simulator

from .sink_support import count_requests, run_actions

pytestmark = pytest.mark.anyio

ROOM = 1000
COVER = "https://i0.hdslb.com/bfs/live/new_room_cover/abc.jpg"


async def test_title_area_tag_news_cover_in_one_action(tmp_path):
    async with run_simulator() as sim:
        streamer = sim.create_account(owner_of=ROOM)
        run = await run_actions(sim, tmp_path, "bilibili.room",
                                [act.room_update(ROOM, title="新标题 new title", area_id=86, add_tag="chill",
                                                 news="今晚八点开播", cover=COVER)],
                                cookies=sim.cookies_for(streamer))
        assert run.outcomes() == ["success"], run.results[0].data
        room = sim.room(ROOM)
        assert (room.title, room.area_id, room.news, room.cover) == ("新标题 new title", 86, "今晚八点开播", COVER)
        assert "chill" in room.tags
        steps = run.results[0].data["details"]["steps"]
        assert [s["endpoint"] for s in steps] == ["Room/update", "updateRoomNews", "UpdatePreLiveInfo"]
        assert run.results[0].data["details"]["audit_info"]["audit_title_status"] == 2


async def test_invalid_updates_are_rejected_before_any_request(tmp_path):
    async with run_simulator() as sim:
        streamer = sim.create_account(owner_of=ROOM)
        counts = count_requests(sim)
        events = [
            act.room_update(ROOM, title="标" * 41),
            act.room_update(ROOM, cover="https://example.com/cover.jpg"),
            act.room_update(ROOM, cover="https://hdslb.com.evil.example/c.jpg"),
            act.room_update(ROOM, news="n" * 61),
            Event.from_dict({"kind": "action.room_update", "room_id": ROOM, "data": {"start": True}}),
            Event.from_dict({"kind": "action.room_update", "room_id": ROOM, "data": {}}),
        ]
        run = await run_actions(sim, tmp_path, "bilibili.room", events, cookies=sim.cookies_for(streamer))
        assert run.outcomes() == ["invalid"] * 6
        msgs = [r.data["message"] for r in run.results]
        assert "title is 41 characters; at most 40" in msgs[0]
        assert "hdslb.com" in msgs[1] and "example.com" in msgs[1]
        assert "hdslb.com" in msgs[2]
        assert "news is 61 characters; at most 60" in msgs[3]
        assert "area_id" in msgs[4] and "nothing to change" in msgs[5]
        assert all(r.data["attempts"] == 0 for r in run.results)
        assert not [p for p in counts if not p.startswith("/x/web-interface/nav")]
        assert sim.room(ROOM).title != "标" * 41


def test_room_update_helper_refuses_nonsense():
    with pytest.raises(ValueError, match="start and stop"):
        act.room_update(ROOM, start=True, stop=True, area_id=86)
    with pytest.raises(ValueError, match="area_id"):
        act.room_update(ROOM, start=True)
    with pytest.raises(ValueError, match="at least one"):
        act.room_update(ROOM)


async def test_start_and_stop_live(tmp_path):
    async with run_simulator() as sim:
        streamer = sim.create_account(owner_of=ROOM)
        sim.room(ROOM).live_status = 0
        counts = count_requests(sim)
        run = await run_actions(sim, tmp_path, "bilibili.room",
                                [act.room_update(ROOM, start=True, area_id=86)], cookies=sim.cookies_for(streamer))
        assert run.outcomes() == ["success"] and sim.room(ROOM).live_status == 1
        assert run.results[0].data["details"]["live_key"]
        assert counts["/room/v1/Room/update"] == 0  # the area goes with startLive
        run = await run_actions(sim, tmp_path, "bilibili.room", [act.room_update(ROOM, stop=True)],
                                cookies=sim.cookies_for(streamer))
        assert run.outcomes() == ["success"] and sim.room(ROOM).live_status == 0
        assert run.results[0].data["details"]["status"] == "PREPARING"


async def test_face_auth_60024_is_rejected_with_a_clear_message_alerted_and_not_retried(tmp_path):
    async with run_simulator() as sim:
        streamer = sim.create_account(owner_of=ROOM)
        streamer.needs_face_auth = streamer.face_auth_persistent = True
        sim.room(ROOM).live_status = 0
        counts = count_requests(sim)
        run = await run_actions(sim, tmp_path, "bilibili.room", [act.room_update(ROOM, start=True, area_id=86)],
                                cookies=sim.cookies_for(streamer))
        assert run.outcomes() == ["rejected"]
        res = run.results[0].data
        assert res["code"] == 60024 and "face authentication" in res["message"] and res["attempts"] == 1
        assert counts["/room/v1/Room/startLive"] == 1
        assert len(run.alerts) == 1 and run.alerts[0].data["code"] == 60024
        assert run.pipeline.metrics.value("component_healthy", component_id="act") == 1  # the cookies still work


async def test_version_and_build_avoid_60024(tmp_path):
    async with run_simulator() as sim:
        streamer = sim.create_account(owner_of=ROOM)
        streamer.needs_face_auth = True
        sim.room(ROOM).live_status = 0
        run = await run_actions(sim, tmp_path, "bilibili.room", [act.room_update(ROOM, start=True, area_id=86)],
                                cookies=sim.cookies_for(streamer))
        assert run.outcomes() == ["success"]


async def test_too_frequent_minus_1_is_retried(tmp_path):
    async with run_simulator() as sim:
        streamer = sim.create_account(owner_of=ROOM)
        run = await run_actions(sim, tmp_path, "bilibili.room",
                                [act.room_update(ROOM, title="one"), act.room_update(ROOM, title="two")],
                                cookies=sim.cookies_for(streamer), sink={"min_interval": 0})
        assert run.outcomes() == ["success", "success"]
        assert run.results[1].data["attempts"] == 2 and sim.room(ROOM).title == "two"


async def test_not_the_streamer_is_rejected_and_audit_log_has_whole_lines(tmp_path):
    async with run_simulator() as sim:
        other = sim.create_account("someone")
        run = await run_actions(sim, tmp_path, "bilibili.room", [act.room_update(ROOM, title="mine now")],
                                cookies=sim.cookies_for(other), sink={"audit_log": "logs/audit.jsonl"})
        assert run.outcomes() == ["rejected"] and run.results[0].data["code"] == 3
        text = (tmp_path / "logs" / "audit.jsonl").read_text("utf-8")
        assert text.endswith("\n") and text.count("\n") == 1 and '"outcome":"rejected"' in text
