"""Helpers for the bilibili.danmaku source tests: run one source against a simulator, wait on conditions."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio

from livepipe.bilibili.source import DanmakuSource, DanmakuSourceConfig
from livepipe.clock import Clock, ManualClock
from livepipe.component import Context
from livepipe.events import Event
from livepipe.runtime.metrics import ComponentMetrics, MetricsRegistry

#: fast timings for tests (each test overrides what it exercises)
FAST = {
    "backoff_initial": 0.05,
    "backoff_max": 0.5,
    "start_gap": 0.0,
    "risk_retry_initial": 0.1,
    "risk_retry_max": 0.5,
    "auth_retry_max": 0.3,
    "token_backoff_initial": 0.1,
    "token_backoff_max": 0.5,
    "healthy_after": 0.2,
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
    clock: Clock | None = None,
    defaults: bool = False,
    **options: Any,
) -> AsyncIterator[Running]:
    """Start a bilibili.danmaku source against ``sim`` (its base URL unless ``settings`` says otherwise).

    ``defaults`` starts from the source's own defaults instead of :data:`FAST`; ``clock`` (a
    :class:`ManualClock`) replaces the real one.
    """
    cfg = {"type": "bilibili.danmaku", **({} if defaults else FAST), **options}
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
        clock=clock or Clock(),
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


async def step_clock(clock: ManualClock, *, until: float, sleepers: int | Callable[[], float],
                     done: Callable[[], Any] | None = None, real_timeout: float = 20.0) -> float:
    """Run a source on ``clock`` until manual time ``until`` or until ``done()``; return the manual time.

    Time moves only when ``sleepers`` tasks (a number, or a function giving it) sleep on the
    clock (every room is idle: no I/O in flight), and then straight to the next sleeper's due
    time, so retries happen exactly when the source asks for them while sockets and HTTP run for
    real.
    """
    deadline = time.monotonic() + real_timeout
    while True:
        if done is not None and done():
            return clock.monotonic()
        if clock.monotonic() >= until:
            return clock.monotonic()
        if clock.sleepers() >= (sleepers() if callable(sleepers) else sleepers):
            due = clock.next_due()
            step = until - clock.monotonic() if due is None else min(due, until - clock.monotonic())
            await clock.advance(max(step, 0.0))
        else:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for sleepers (have {clock.sleepers()})")
            await anyio.sleep(0.002)
