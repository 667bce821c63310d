"""Acceptance, end to end: simulator -> bilibili.danmaku -> thanks / welcome -> the real bilibili.send -> simulator.

What the bot said is read from the simulator's record of accepted danmaku (``room.sent_danmaku``,
with the simulator's own timestamps). The tests wait on conditions (the engine has nothing pending
and every action has its result), never on fixed sleeps; the only sleeps spread the injected storm
over its ten seconds.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any, ClassVar

import anyio
import pytest
import tomli_w

from livepipe import plugins
from livepipe.component import Emit, Sink
from livepipe.events import Event
from livepipe.hookspecs import hookimpl
from livepipe.runtime.pipeline import Pipeline
from livepipe.schema import SinkConfig
from livepipe.sim import messages
from livepipe.sim.state import SimUser
from livepipe.testing import load_toml

pytestmark = pytest.mark.anyio

ROOM = 1000
SINK_INTERVAL = 1.0   # bilibili.send min_interval (the simulator refuses faster: 10031)
BOT_INTERVAL = 1.2    # the processor's budget, a little above the sink's
MAX_LENGTH = 20       # the simulator's limit for an ordinary account
MAX_DELAY = 20.0


class Results(Sink):
    """Keeps every ``action.result``."""

    type_name = "assistant_test.results"
    seen: ClassVar[list[Event]] = []

    class Config(SinkConfig):
        pass

    async def write(self, event: Event, emit: Emit) -> None:
        Results.seen.append(event)


class _Plugin:
    @hookimpl
    def livepipe_register_components(self, registry: Any) -> None:
        registry.register(Results)


def _register() -> None:
    if plugins.manager().get_plugin("assistant_test") is None:
        plugins.register_plugin(_Plugin(), "assistant_test")
    Results.seen = []


def _config(sim: Any, tmp_path: Path, processor: dict[str, Any]) -> tuple[Any, int]:
    bot = sim.create_account(uname="答谢姬")
    c = sim.cookies_for(bot)
    cred = {"sessdata": c["SESSDATA"], "bili_jct": c["bili_jct"], "dedeuserid": c["DedeUserID"],
            "buvid3": c["buvid3"]}
    doc = {
        "credentials": {"bot": cred},
        "sources": {"chat": {"type": "bilibili.danmaku", "room_ids": [ROOM], "credential": "bot",
                             "status_events": False}},
        "processors": {"bot": {"inputs": ["chat"], "credential": "bot", "interval": BOT_INTERVAL,
                               "max_length": MAX_LENGTH, "max_delay": MAX_DELAY, **processor}},
        "sinks": {
            "say": {"type": "bilibili.send", "inputs": ["bot"], "credential": "bot", "room_id": ROOM,
                    "min_interval": SINK_INTERVAL, "max_length": MAX_LENGTH},
            "results": {"type": "assistant_test.results", "inputs": ["say.results"]},
        },
    }
    return load_toml(tomli_w.dumps(doc), tmp_path), bot.uid


async def _wait(condition: Any, timeout: float, what: str) -> None:
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.05)


def _check_pacing(sent: list[dict[str, Any]]) -> None:
    assert all(len(m["msg"]) <= MAX_LENGTH for m in sent), [m["msg"] for m in sent if len(m["msg"]) > MAX_LENGTH]
    gaps = [b["ts"] - a["ts"] for a, b in zip(sent, sent[1:], strict=False)]
    assert all(g >= SINK_INTERVAL - 0.05 for g in gaps), gaps


async def test_gift_storm_is_thanked_merged_within_limits_and_the_super_chat_first(tmp_path):
    from livepipe.sim import run_simulator

    _register()
    rng = random.Random(21)
    async with run_simulator(rooms=[ROOM], rate=0, seed=3, port=0, tls=False) as sim:
        config, bot_uid = _config(sim, tmp_path, {"type": "thanks", "min_yuan": 1, "window": 3})
        room = sim.room(ROOM)
        viewers = [SimUser(uid=50_000 + i, uname=f"观众{i}", level=10) for i in range(80)]
        big, small = viewers[:20], viewers[20:]   # big: 7 x 打call (¥3.5), small: 6 x ¥0.1 or free
        plan: list[tuple[float, Any]] = []
        for v in big:
            t0 = rng.uniform(0, 8.5)
            plan += [(t0 + k * 0.2, (v, 4, 1)) for k in range(7)]        # GIFTS[4]: 打call, ¥0.5
        for v in small:
            t0 = rng.uniform(0, 9.0)
            plan += [(t0 + k * 0.15, (v, rng.choice([0, 2]), 1)) for k in range(6)]  # 小花花 ¥0.1 / 小心心 free
        assert len(plan) == 500
        plan.sort(key=lambda p: p[0])
        sc_user = SimUser(uid=59_999, uname="SC老板", level=20)

        pipeline = Pipeline(config, settings={"simulator_url": sim.base_url})
        first_gift: dict[int, float] = {}
        async with anyio.create_task_group() as tg:
            tg.start_soon(pipeline.run)
            await sim.wait_for_clients(ROOM, n=1, timeout=30)
            start = time.time()
            sc_at = None
            for due, (v, gift_index, num) in plan:
                if sc_at is None and due >= 5.0:
                    sc_at = time.time()
                    sim.inject(ROOM, messages.super_chat(sc_user, room, sc_at, "主播唱首歌吧", 50, 4242))
                delay = start + due - time.time()
                if delay > 0:
                    await anyio.sleep(delay)  # spreads the storm over ten seconds
                first_gift.setdefault(v.uid, time.time())
                sim.inject(ROOM, messages.send_gift(v, room, time.time(), gift_index=gift_index, num=num,
                                                    rnd=len(first_gift) * 1000 + int(due * 1000)))
            engine = pipeline.components["bot"].engine
            await _wait(lambda: time.time() > start + 10.5 and not engine.pending, 90, "thanks pending")
            await _wait(lambda: len(Results.seen) == engine.counts["messages"], 30, "results")
            pipeline.request_shutdown()

    sent = [m for m in room.sent_danmaku if m["uid"] == bot_uid]
    texts = [m["msg"] for m in sent]
    assert {r.data["outcome"] for r in Results.seen} == {"success"}, [r.data for r in Results.seen]
    _check_pacing(sent)
    # every viewer above the threshold is thanked, within max_delay of their first gift
    for v in big:
        when = [m["ts"] for m in sent if v.uname in _names(m["msg"])]
        assert when, f"{v.uname} was not thanked: {texts}"
        assert when[0] - first_gift[v.uid] <= MAX_DELAY, (v.uname, when[0] - first_gift[v.uid])
    # nobody below it is
    assert not {v.uname for v in small} & {n for t in texts for n in _names(t)}
    assert engine.counts["dropped_late"] == 0
    assert len(sent) < len(big), "several viewers share a line"
    # the super chat goes before the gifts that were waiting: the first or second message after it arrived
    after = [m["msg"] for m in sent if m["ts"] > sc_at]
    sc_pos = next(i for i, t in enumerate(after) if "SC老板" in t)
    assert sc_pos <= 1, after
    assert [m["ts"] for m in sent if "SC老板" in m["msg"]][0] - sc_at <= 2 * BOT_INTERVAL + 3  # (a loaded machine)


def _names(text: str) -> set[str]:
    """The viewer names in a thanks line (谢谢A、B的礼物 / 谢谢A的打callx7 / 谢谢A的SC)."""
    body = text.removeprefix("谢谢")
    body = body.rsplit("的", 1)[0]
    return set(body.split("、"))


async def test_welcome_burst_is_merged_within_the_rate_and_restarts_remember(tmp_path):
    from livepipe.sim import run_simulator

    _register()
    state = tmp_path / "welcomed.json"
    async with run_simulator(rooms=[ROOM], rate=0, seed=3, port=0, tls=False) as sim:
        room = sim.room(ROOM)
        proc = {"type": "welcome", "window": 2, "state_file": str(state)}
        config, bot_uid = _config(sim, tmp_path, proc)
        viewers = [SimUser(uid=60_000 + i, uname=f"v{i}", level=5) for i in range(1000)]
        pipeline = Pipeline(config, settings={"simulator_url": sim.base_url})
        async with anyio.create_task_group() as tg:
            tg.start_soon(pipeline.run)
            await sim.wait_for_clients(ROOM, n=1, timeout=30)
            start = time.time()
            entered: dict[int, float] = {}
            for i, v in enumerate(viewers):   # 1000 entries in 12 s (faster than the 1000 a minute asked for)
                delay = start + i * 0.012 - time.time()
                if delay > 0:
                    await anyio.sleep(delay)
                entered[v.uid] = time.time()
                sim.inject(ROOM, messages.interact_word_v2(v, room, time.time()))
            engine = pipeline.components["bot"].engine
            await _wait(lambda: engine.counts["welcomed"] + engine.counts["dropped_late"] == 1000, 90, "welcomes")
            await _wait(lambda: len(Results.seen) == engine.counts["messages"], 30, "results")
            pipeline.request_shutdown()
        sent = [m for m in room.sent_danmaku if m["uid"] == bot_uid]
        _check_pacing(sent)
        by_name = {v.uname: v.uid for v in viewers}
        welcomed = [n for m in sent for n in m["msg"].removeprefix("欢迎").split("、")]
        assert len(welcomed) == engine.counts["welcomed"] > 2 * len(sent), "lines carry several names"
        for m in sent:
            for n in m["msg"].removeprefix("欢迎").split("、"):
                assert m["ts"] - entered[by_name[n]] <= MAX_DELAY
        assert {r.data["outcome"] for r in Results.seen} == {"success"}

        # a restart: the state file remembers; returning viewers are not welcomed again, a new one is
        Results.seen = []
        returning = [by_name[n] for n in welcomed[:5]]
        newcomer = SimUser(uid=70_000, uname="新来的", level=5)
        config2, _ = _config(sim, tmp_path, proc)
        before = len(room.sent_danmaku)
        await sim.wait_for_no_clients(ROOM, timeout=30)  # the first pipeline's connection is gone
        pipeline = Pipeline(config2, settings={"simulator_url": sim.base_url})
        async with anyio.create_task_group() as tg:
            tg.start_soon(pipeline.run)
            await sim.wait_for_clients(ROOM, n=1, timeout=30)
            for uid in returning:
                sim.inject(ROOM, messages.interact_word_v2(viewers[uid - 60_000], room, time.time()))
            sim.inject(ROOM, messages.interact_word_v2(newcomer, room, time.time()))
            engine = pipeline.components["bot"].engine
            await _wait(lambda: engine.counts["welcomed"] == 1 and len(Results.seen) == 1, 60, "newcomer")
            pipeline.request_shutdown()
        again = [m["msg"] for m in room.sent_danmaku[before:]]
        assert again == ["欢迎新来的"]
        assert engine.counts["suppressed_cooldown"] == 5
