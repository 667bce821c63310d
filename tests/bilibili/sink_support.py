"""Helpers for the action-sink tests: a virtual clock, a request counter at the simulator, a runner.

``run_actions`` wires ``t.feed`` (emits the given events) -> the sink under test -> two capture
sinks (``results`` and ``alerts``), runs it on a :class:`VirtualClock` that the simulator's action
endpoints also read, and returns the captured events.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from livepipe import plugins
from livepipe.clock import ManualClock
from livepipe.component import Emit, Source
from livepipe.events import Event
from livepipe.hookspecs import hookimpl
from livepipe.runtime.pipeline import Pipeline
from livepipe.schema import SourceConfig
from livepipe.schema import field as cfg_field
from livepipe.testing import captured, load_toml

FEEDS: dict[str, list[Event]] = {}


class VirtualClock(ManualClock):
    """A ManualClock that jumps forward whenever someone sleeps: time passes only by sleeping.

    Nothing really waits, and every sleeper sees exactly the time it asked for.
    """

    async def sleep(self, seconds: float) -> None:
        """Move time ``seconds`` forward (waking other sleepers due by then) instead of waiting."""
        await self.advance(max(seconds, 0.0))


class FeedSource(Source):
    """Emits the events stored in ``FEEDS[feed]``, then ends."""

    type_name = "t.feed"

    class Config(SourceConfig):
        feed: str = cfg_field(description="key in FEEDS")

    async def run(self, emit: Emit) -> None:
        for ev in FEEDS[self.config.feed]:
            await emit(ev)


class _Plugin:
    @hookimpl
    def livepipe_register_components(self, registry: Any) -> None:
        registry.register(FeedSource)


def install() -> None:
    """Register ``t.feed`` (idempotent)."""
    if plugins.manager().get_plugin("tests.sink_support") is None:
        plugins.register_plugin(_Plugin(), "tests.sink_support")


def count_requests(sim: Any) -> Counter[str]:
    """Count every HTTP request the simulator answers, by path (its fault check runs once per request)."""
    counts: Counter[str] = Counter()
    original = sim.faults.http_fault_for

    def counting(path: str) -> int | None:
        counts[path] += 1
        return original(path)

    sim.faults.http_fault_for = counting
    return counts


@dataclass
class Run:
    """What a pipeline run left behind."""

    pipeline: Pipeline
    results: list[Event] = field(default_factory=list)
    alerts: list[Event] = field(default_factory=list)

    def outcomes(self) -> list[str]:
        """The outcome of every result, in order."""
        return [r.data["outcome"] for r in self.results]


def credential_table(cookies: dict[str, str]) -> dict[str, str]:
    """A [credentials.NAME] table from the simulator's cookies."""
    return {"sessdata": cookies["SESSDATA"], "bili_jct": cookies["bili_jct"], "dedeuserid": cookies["DedeUserID"],
            "buvid3": cookies["buvid3"]}


async def run_actions(
    sim: Any,
    tmp_path: Path,
    sink_type: str,
    events: list[Event],
    *,
    cookies: dict[str, str],
    clock: ManualClock | None = None,
    sink: dict[str, Any] | None = None,
    extra_sinks: dict[str, dict[str, Any]] | None = None,
    processors: dict[str, dict[str, Any]] | None = None,
    source: dict[str, Any] | None = None,
) -> Run:
    """Run source -> [processors] -> the sink under test (``act``) and capture ``act.results`` / ``act.alerts``."""
    install()
    clock = clock or VirtualClock()
    sim.ctx.now = clock.time  # the simulator's rate limits see the same time as the sinks
    name = f"feed{len(FEEDS)}"
    FEEDS[name] = events
    doc: dict[str, Any] = {
        "credentials": {"main": credential_table(cookies)},
        "sources": {"src": source or {"type": "t.feed", "feed": name}},
        "processors": processors or {},
        "sinks": {
            "act": {"type": sink_type, "inputs": [next(iter(processors)) + ".*" if processors else "src"],
                    "credential": "main", **(sink or {})},
            "results": {"type": "testing.capture", "inputs": ["act.results"]},
            "alerts": {"type": "testing.capture", "inputs": ["act.alerts"]},
            **(extra_sinks or {}),
        },
    }
    if not doc["processors"]:
        del doc["processors"]
    config = load_toml(tomli_w.dumps(doc), tmp_path)
    captured.clear()
    pipeline = Pipeline(config, clock=clock, settings={"simulator_url": sim.base_url})
    await pipeline.run()
    return Run(pipeline, list(captured["results"]), list(captured["alerts"]))
