"""Acceptance: chat commands typed into the simulator's room, read back through bilibili.danmaku.

The pipeline: bilibili.danmaku (logged in, so senders are not masked) -> chat_commands ->
bilibili.room / bilibili.send -> results collected by the test, which waits on them.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from roomctl_support import ROOM, SHORT, collector, credential_table, load, next_event

from livepipe.events import Event
from livepipe.runner import run_config
from livepipe.runtime.pipeline import Pipeline
from livepipe.sim import run_simulator


def chat_config(sim: Any, streamer: Any, listener: Any, **commands: Any) -> dict[str, Any]:
    return {
        "credentials": {"streamer": credential_table(sim.cookies_for(streamer)),
                        "listener": credential_table(sim.cookies_for(listener))},
        "sources": {"chat": {"type": "bilibili.danmaku", "room_ids": [SHORT], "credential": "listener",
                             "base_url": sim.base_url, "status_events": False}},
        "processors": {"cmd": {"type": "chat_commands", "inputs": ["chat"], "streamer_uid": streamer.uid,
                               **commands}},
        "sinks": {
            "room": {"type": "bilibili.room", "inputs": ["cmd.update"], "credential": "streamer",
                     "base_url": sim.base_url},
            "say": {"type": "bilibili.send", "inputs": ["cmd.say"], "credential": "streamer",
                    "base_url": sim.base_url},
            "actions": {"type": "roomctl_test.collect", "inputs": ["cmd.*"]},
            "results": {"type": "roomctl_test.collect", "inputs": ["room.results", "say.results"]},
        },
    }


async def results_of(stream: Any, n: int) -> dict[str, Event]:
    """The next ``n`` results, by the kind of action they report on."""
    out: dict[str, Event] = {}
    for _ in range(n):
        r = await next_event(stream)
        out[r.data["action_kind"]] = r
    return out


@pytest.mark.anyio
async def test_moderator_title_changes_the_title_and_a_viewer_cannot(tmp_path):
    async with run_simulator(rooms=[(SHORT, ROOM)], rate=0) as sim:
        streamer = sim.create_account(owner_of=ROOM)
        listener = sim.create_account(uname="listener")
        mod = sim.create_account(uname="mod")
        viewer = sim.create_account(uname="viewer")
        room = sim.room(ROOM)
        config = load(chat_config(sim, streamer, listener), tmp_path)
        actions, results = collector("actions"), collector("results")
        pipeline = Pipeline(config)
        async with anyio.create_task_group() as tg:
            await tg.start(lambda task_status: pipeline.run(task_status=task_status))
            await sim.wait_for_clients(ROOM, n=1)
            sim.grant_admin(ROOM, mod.uid)  # broadcasts ROOM_ADMINS, read by chat_commands
            sim.inject_danmaku(ROOM, "!title Hacked", uid=viewer.uid, uname="viewer")
            sim.inject_danmaku(ROOM, "!title Hello", uid=mod.uid, uname="mod")
            update, ack = await next_event(actions), await next_event(actions)
            done = await results_of(results, 2)
            pipeline.request_shutdown()
        assert update.kind == "action.room_update" and update.data["title"] == "Hello"
        assert update.room_id == ROOM and update.data["cause_id"]
        assert done["action.room_update"].data["outcome"] == "success"
        assert room.title == "Hello"
        titles = [m["data"]["title"] for m in room.history if m.get("cmd") == "ROOM_CHANGE"]
        assert titles == ["Hello"]  # the viewer's command never reached Bilibili
        assert ack.kind == "action.send" and ack.data["reply_uid"] == mod.uid
        assert done["action.send"].data["outcome"] == "success"
        assert [d["msg"] for d in room.sent_danmaku] == [ack.data["text"]]
        assert pipeline.metrics.value("commands_total", component_id="cmd", command="title",
                                      outcome="unauthorized") == 1


@pytest.mark.anyio
async def test_limits_are_enforced_with_a_reply_that_explains_them(tmp_path):
    async with run_simulator(rooms=[(SHORT, ROOM)], rate=0) as sim:
        streamer = sim.create_account(owner_of=ROOM)
        listener = sim.create_account(uname="listener")
        mod = sim.create_account(uname="mod")
        room = sim.room(ROOM)
        before = (room.title, room.news)
        config = load(chat_config(sim, streamer, listener, moderators=[mod.uid], language="en"), tmp_path)
        actions, results = collector("actions"), collector("results")
        pipeline = Pipeline(config)
        async with anyio.create_task_group() as tg:
            await tg.start(lambda task_status: pipeline.run(task_status=task_status))
            await sim.wait_for_clients(ROOM, n=1)
            sim.inject_danmaku(ROOM, "!title " + "t" * 41, uid=mod.uid, uname="mod")
            sim.inject_danmaku(ROOM, "!news " + "n" * 61, uid=mod.uid, uname="mod")
            title_reply, news_reply = await next_event(actions), await next_event(actions)
            sent = [await next_event(results), await next_event(results)]
            pipeline.request_shutdown()
        assert title_reply.kind == news_reply.kind == "action.send"
        assert title_reply.data["text"] == "Title too long: 41/40 chars (max 40)"
        assert news_reply.data["text"] == "Announcement too long: 61/60 chars (max 60)"
        assert [r.data["outcome"] for r in sent] == ["success", "success"]
        assert (room.title, room.news) == before  # nothing was changed
        said = "".join(d["msg"] for d in room.sent_danmaku)
        assert "max 40" in said and "max 60" in said
        assert not any(m.get("cmd") == "ROOM_CHANGE" for m in room.history)
        assert json.dumps(title_reply.data, ensure_ascii=False)  # plain JSON (goes to NATS as is)


@pytest.mark.anyio
async def test_a_room_admin_is_authorized_by_the_danmaku_admin_flag_through_the_simulator_switch(tmp_path):
    """The admin is made before the pipeline connects, so no ROOM_ADMINS reaches chat_commands: only the
    admin flag on the danmaku (info[2][2]) can authorize it. The tables carry no base_url: the one
    ``[simulator] url`` points every Bilibili component at the simulator."""
    import httpx

    async with run_simulator(rooms=[(SHORT, ROOM)], rate=0) as sim:
        streamer = sim.create_account(owner_of=ROOM)
        listener = sim.create_account(uname="listener")
        async with httpx.AsyncClient() as http:
            reply = await http.post(f"{sim.base_url}/_sim/accounts", json={"uname": "admin", "admin_in": [SHORT]})
        admin_uid = reply.json()["uid"]
        viewer = sim.create_account(uname="viewer")
        doc = chat_config(sim, streamer, listener)
        for table in (doc["sources"]["chat"], doc["sinks"]["room"], doc["sinks"]["say"]):
            del table["base_url"]
        doc["simulator"] = {"url": sim.base_url}
        doc["sinks"]["seen"] = {"type": "roomctl_test.collect", "inputs": ["chat"]}
        config = load(doc, tmp_path)
        actions, results, seen = collector("actions"), collector("results"), collector("seen")
        async with anyio.create_task_group() as tg:
            pipeline = await tg.start(lambda task_status: run_config(config, task_status=task_status))
            await sim.wait_for_clients(ROOM, n=1)
            sim.inject_danmaku(ROOM, "!title From viewer", uid=viewer.uid, uname="viewer")
            sim.inject_danmaku(ROOM, "!title From admin", uid=admin_uid, uname="admin")
            chat: list[Event] = []
            while len(chat) < 2:  # the source also emits the room's other events
                event = await next_event(seen)
                if event.kind == "danmaku":
                    chat.append(event)
            update = await next_event(actions)
            done = await results_of(results, 2)
            pipeline.request_shutdown()
        assert [(e.uid, e.data["is_admin"]) for e in chat] == [(viewer.uid, False), (admin_uid, True)]
        assert update.data["title"] == "From admin"
        assert done["action.room_update"].data["outcome"] == "success"
        assert sim.room(ROOM).title == "From admin"
        assert pipeline.metrics.value("commands_total", component_id="cmd", command="title",
                                      outcome="unauthorized") == 1
