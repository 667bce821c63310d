"""Acceptance: a schedule firing every second for 5 s changes the simulator's announcement 5 times, in order.

Time is a ManualClock shared by the pipeline and the simulator's action endpoints; the test moves
it one second at a time and waits for each action's result, never sleeping.
"""

from __future__ import annotations

import anyio
import pytest
from roomctl_support import ROOM, SHORT, collector, count_requests, credential_table, load, next_event

from livepipe.clock import ManualClock
from livepipe.runtime.pipeline import Pipeline
from livepipe.sim import run_simulator

NEWS = ["first", "second", "third", "fourth", "fifth"]


@pytest.mark.anyio
async def test_schedule_every_second_changes_the_announcement_five_times_in_order(tmp_path):
    async with run_simulator(rooms=[(SHORT, ROOM)], rate=0) as sim:
        streamer = sim.create_account(owner_of=ROOM)
        clock = ManualClock()
        sim.ctx.now = clock.time
        counts = count_requests(sim)
        config = load({
            "credentials": {"streamer": credential_table(sim.cookies_for(streamer))},
            "sources": {"timetable": {"type": "schedule", "room_id": ROOM, "timezone": "Asia/Shanghai",
                                      "entries": [{"name": "rotate", "every": 1, "news": NEWS}]}},
            "sinks": {
                "room": {"type": "bilibili.room", "inputs": ["timetable"], "credential": "streamer",
                         "base_url": sim.base_url},
                "results": {"type": "roomctl_test.collect", "inputs": ["room.results"]},
            },
        }, tmp_path)
        results = collector("results")
        pipeline = Pipeline(config, clock=clock)
        seen: list[str] = []
        async with anyio.create_task_group() as tg:
            await tg.start(lambda task_status: pipeline.run(task_status=task_status))
            assert sim.room(ROOM).news == ""
            for _ in range(5):
                await clock.advance(1.0)
                res = await next_event(results)
                assert res.data["outcome"] == "success", res.data
                seen.append(sim.room(ROOM).news)
            pipeline.request_shutdown()
        assert seen == NEWS
        assert counts["/xlive/app-blink/v1/index/updateRoomNews"] == 5
        assert pipeline.metrics.value("schedule_firings_total", component_id="timetable") == 5


@pytest.mark.anyio
async def test_schedule_start_and_stop_respect_the_area(tmp_path):
    async with run_simulator(rooms=[(SHORT, ROOM)], rate=0) as sim:
        streamer = sim.create_account(owner_of=ROOM)
        room = sim.room(ROOM)
        clock = ManualClock()
        sim.ctx.now = clock.time
        config = load({
            "credentials": {"streamer": credential_table(sim.cookies_for(streamer))},
            "sources": {"timetable": {"type": "schedule", "room_id": ROOM, "area_id": 86, "entries": [
                {"name": "go live", "every": 10, "start": True},
                {"name": "title", "every": 10, "title": "On air {{ time }}"},
                {"name": "stop", "every": 15, "stop": True},
            ]}},
            "sinks": {
                "room": {"type": "bilibili.room", "inputs": ["timetable"], "credential": "streamer",
                         "base_url": sim.base_url, "min_interval": 0},
                "results": {"type": "roomctl_test.collect", "inputs": ["room.results"]},
            },
        }, tmp_path)
        results = collector("results")
        room.live_status = 0
        room.area_id = 33
        pipeline = Pipeline(config, clock=clock)
        async with anyio.create_task_group() as tg:
            await tg.start(lambda task_status: pipeline.run(task_status=task_status))
            await clock.advance(10.0)
            started, titled = await next_event(results), await next_event(results)
            assert started.data["outcome"] == "success" and titled.data["outcome"] == "success"
            assert room.live_status == 1 and room.area_id == 86
            assert room.title.startswith("On air ")
            await clock.advance(5.0)
            stopped = await next_event(results)
            assert stopped.data["outcome"] == "success" and room.live_status == 0
            pipeline.request_shutdown()


@pytest.mark.anyio
async def test_timed_danmaku_are_sent_only_while_the_room_is_live(tmp_path):
    async with run_simulator(rooms=[(SHORT, ROOM)], rate=0) as sim:
        bot = sim.create_account(uname="bot")
        room = sim.room(ROOM)
        clock = ManualClock()
        sim.ctx.now = clock.time
        config = load({
            "credentials": {"bot": credential_table(sim.cookies_for(bot))},
            "sources": {"tips": {"type": "schedule", "room_id": ROOM, "base_url": sim.base_url, "entries": [
                {"name": "tips", "every": 10, "danmaku": ["关注主播", "点歌请发弹幕", "{{ now|timeofday }}好"]}]}},
            "sinks": {
                "say": {"type": "bilibili.send", "inputs": ["tips.say"], "credential": "bot",
                        "base_url": sim.base_url},
                "results": {"type": "roomctl_test.collect", "inputs": ["say.results"]},
            },
        }, tmp_path)
        results = collector("results")
        pipeline = Pipeline(config, clock=clock)
        async with anyio.create_task_group() as tg:
            await tg.start(lambda task_status: pipeline.run(task_status=task_status))
            room.live_status = 1
            await clock.advance(10.0)
            assert (await next_event(results)).data["outcome"] == "success"
            room.live_status = 0  # offline: the next firing is skipped
            await clock.advance(10.0)
            with anyio.fail_after(15):
                while pipeline.metrics.value("schedule_danmaku_offline_total", component_id="tips") < 1:
                    await anyio.sleep(0.01)
            room.live_status = 1
            await clock.advance(10.0)
            assert (await next_event(results)).data["outcome"] == "success"
            pipeline.request_shutdown()
        assert [m["msg"] for m in room.sent_danmaku] == ["关注主播", "点歌请发弹幕"]
        assert pipeline.metrics.value("schedule_firings_total", component_id="tips") == 2
