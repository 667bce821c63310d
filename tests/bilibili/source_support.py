"""Helpers for the bilibili.danmaku source tests: run one source against a simulator, wait on conditions."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio

from livepipe.bilibili.source import DanmakuSource, DanmakuSourceConfig
from livepipe.component import Context
from livepipe.events import Event
from livepipe.runtime.metrics import ComponentMetrics, MetricsRegistry

#: fast timings for tests (each test overrides what it exercises)
FAST = {
    "backoff_initial": 0.05,
    "backoff_max": 0.5,
    "start_gap": 0.0,
    "risk_backoff": 0.3,
    "blocked_backoff": 0.3,
    "permanent_backoff": 0.3,
    "jitter_seed": 7,
}


class Running:
    """A started source: its events, metrics and task."""

    def __init__(self, source: DanmakuSource, registry: MetricsRegistry) -> None:
        self.source = source
        self.registry = registry
        self.events: list[Event] = []
        self.on_event: Callable[[Event], None] | None = None
        self.finished = False

    async def emit(self, event: Event, output: str | None = None) -> None:
        assert output is None
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def metric(self, name: str, **labels: object) -> float:
        return self.registry.value(name, **labels)

    def kinds(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]


async def wait_until(cond: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``cond`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await anyio.sleep(0.01)


@contextlib.asynccontextmanager
async def running_source(
    sim: Any,
    *,
    credentials: dict[str, dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
    name: str = "live",
    **options: Any,
) -> AsyncIterator[Running]:
    """Start a bilibili.danmaku source against ``sim`` (its base URL unless ``settings`` says otherwise)."""
    cfg = {"type": "bilibili.danmaku", **FAST, **options}
    if settings is None:
        cfg.setdefault("base_url", sim.base_url)
    config = DanmakuSourceConfig.model_validate(cfg)
    registry = MetricsRegistry()
    ctx = Context(
        name=name,
        metrics=ComponentMetrics(registry, name, "bilibili.danmaku"),
        log=logging.getLogger(f"livepipe.source.{name}"),
        credentials=credentials or {},
        settings=settings or {},
    )
    source = DanmakuSource(config, ctx)
    run = Running(source, registry)
    await source.start()
    try:
        async with anyio.create_task_group() as tg:

            async def go() -> None:
                await source.run(run.emit)
                run.finished = True

            tg.start_soon(go)
            yield run
            assert not run.finished, "the source returned on its own"
            tg.cancel_scope.cancel()
    finally:
        await source.stop()
