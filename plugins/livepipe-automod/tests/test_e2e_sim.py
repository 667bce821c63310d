"""End to end against the simulator: a spam wave among normal chat bans the spammers only.

bilibili.danmaku (logged in as the streamer, so senders are not masked) -> automod ->
bilibili.ban (the real sink, acting as the streamer) -> the simulator's ban list. The test waits on
the ban sink's ``action.result`` events (a sink that sets an event once it has seen enough), not
on time.
"""

from __future__ import annotations

from typing import Any, ClassVar

import anyio
import pytest
import tomli_w
from livepipe import plugins
from livepipe.component import Emit, Sink
from livepipe.events import Event
from livepipe.hookspecs import hookimpl
from livepipe.runtime.pipeline import Pipeline
from livepipe.schema import SinkConfig, field
from livepipe.testing import load_toml

pytestmark = pytest.mark.anyio

ROOM = 76
SPAMMERS = [30_001, 30_002, 30_003, 30_004, 30_005]
NORMAL = [40_001, 40_002, 40_003, 40_004]


class ResultsSink(Sink):
    """Keeps ``action.result`` events and sets ``done`` once ``expect`` have arrived."""

    type_name = "automod_test.results"
    seen: ClassVar[list[Event]] = []
    done: ClassVar[anyio.Event | None] = None

    class Config(SinkConfig):
        expect: int = field(description="results to wait for")

    async def write(self, event: Event, emit: Emit) -> None:
        ResultsSink.seen.append(event)
        if len(ResultsSink.seen) >= self.config.expect and ResultsSink.done is not None:
            ResultsSink.done.set()


class _Plugin:
    @hookimpl
    def livepipe_register_components(self, registry: Any) -> None:
        registry.register(ResultsSink)


def _chat() -> list[tuple[int, str]]:
    """Normal chat with a spam wave (obfuscated variants of one advert) woven in; a spammer posts last."""
    ad = ["加Ｖ：１２３４５６７ 领免费皮肤", "加v 1234567 领 免 费 皮 肤", "加\u200bV1234567领免费皮肤！！",
          "加V1234567领免费皮肤", "加 v 1 2 3 4 5 6 7 领免费皮肤"]
    normal = ["主播晚上好", "哈哈哈哈", "这波操作好秀", "主播晚上好", "666666", "沙发", "今天玩什么",
              "加油加油", "主播好傻啊哈哈", "is back soon"]
    out: list[tuple[int, str]] = []
    for i, text in enumerate(normal):
        out.append((NORMAL[i % len(NORMAL)], text))
        if i < len(SPAMMERS):
            out.append((SPAMMERS[i], ad[i]))
    out.append((SPAMMERS[-1], ad[0]))  # last message: a spammer again (already banned: only flagged)
    return out


async def test_spam_wave_bans_the_spammers_only(tmp_path):
    from livepipe.sim import run_simulator

    if plugins.manager().get_plugin("automod_test") is None:
        plugins.register_plugin(_Plugin(), "automod_test")
    ResultsSink.seen = []
    ResultsSink.done = anyio.Event()
    async with run_simulator(rooms=[(ROOM, 22_000_076)], rate=0, seed=3, port=0, tls=False) as sim:
        owner = sim.create_account(owner_of=ROOM)
        for uid in SPAMMERS + NORMAL:  # bans need users the service knows
            sim.create_account(uname=f"u{uid}", uid=uid)
        cookies = sim.cookies_for(owner)
        cred = {"sessdata": cookies["SESSDATA"], "bili_jct": cookies["bili_jct"],
                "dedeuserid": cookies["DedeUserID"], "buvid3": cookies["buvid3"]}
        doc = {
            "credentials": {"streamer": cred},
            "sources": {"chat": {"type": "bilibili.danmaku", "room_ids": [22_000_076], "credential": "streamer",
                                 "status_events": False}},
            "processors": {"automod": {
                "type": "automod", "inputs": ["chat"], "streamer_uids": [owner.uid],
                "rules": [
                    {"id": "ads", "regexes": [r"(?:加|\+)(?:v|vx|wx|q)\d{6,}"], "ladder": ["ban:24"]},
                    {"id": "flood", "kind": "flood", "count": 3, "window": 60, "min_length": 6,
                     "ladder": ["ban:1"]},
                ],
            }},
            "sinks": {
                "ban": {"type": "bilibili.ban", "inputs": ["automod.ban"], "credential": "streamer"},
                "results": {"type": "automod_test.results", "inputs": ["ban.results"], "expect": len(SPAMMERS)},
                "flagged": {"type": "file", "inputs": ["automod.flagged"], "path": "flagged.jsonl"},
            },
        }
        config = load_toml(tomli_w.dumps(doc), tmp_path)
        pipeline = Pipeline(config, settings={"simulator_url": sim.base_url})
        async with anyio.create_task_group() as tg:
            tg.start_soon(pipeline.run)
            await sim.wait_for_clients(ROOM, n=1, timeout=20)
            for uid, text in _chat():
                sim.inject_danmaku(ROOM, text, uid=uid, uname=f"u{uid}")
            with anyio.fail_after(30):
                await ResultsSink.done.wait()
            pipeline.request_shutdown()
        banned = {r.tuid for r in sim.room(ROOM).silent}

    assert banned == set(SPAMMERS)
    assert {r.data["outcome"] for r in ResultsSink.seen} <= {"success", "deduplicated"}
    flagged = (tmp_path / "flagged.jsonl").read_text(encoding="utf-8").splitlines()
    assert flagged, "the spammers' later hits within the cooldown are flagged for humans"
