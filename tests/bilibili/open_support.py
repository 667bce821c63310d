"""Helpers for the bilibili.open source tests: a registered app, and one source running against a simulator."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio

from livepipe.bilibili.open_source import OpenSource, OpenSourceConfig
from livepipe.component import Context
from livepipe.runtime.metrics import ComponentMetrics, MetricsRegistry
from tests.bilibili.source_support import Running

#: fast timings for tests (each test overrides what it exercises)
FAST = {"backoff_initial": 0.05, "backoff_max": 0.3, "start_gap": 0.0, "jitter_seed": 7, "heartbeat_interval": 0.2}


def app_options(sim: Any, *room_ids: int) -> dict[str, Any]:
    """Source options for a freshly registered app watching ``room_ids`` (by their owners' identity codes)."""
    app = sim.open.register_app()
    return {"app_id": app.app_id, "access_key_id": app.access_key_id, "access_key_secret": app.access_key_secret,
            "codes": [sim.open.auth_code(sim.room(r)) for r in room_ids]}  # fmt: skip


@contextlib.asynccontextmanager
async def running_open_source(sim: Any, *, name: str = "open", credentials: dict[str, Any] | None = None,
                              **options: Any) -> AsyncIterator[Running]:  # fmt: skip
    """Start a bilibili.open source against ``sim``; on exit cancel it and run its ``stop()``."""
    cfg = {"type": "bilibili.open", "base_url": sim.base_url, **FAST, **options}
    config = OpenSourceConfig.model_validate(cfg)
    registry = MetricsRegistry()
    ctx = Context(name=name, metrics=ComponentMetrics(registry, name, "bilibili.open"),
                  log=logging.getLogger(f"livepipe.source.{name}"), credentials=credentials or {})  # fmt: skip
    source = OpenSource(config, ctx)
    run = Running(source, registry)  # type: ignore[arg-type]
    run.error = None  # type: ignore[attr-defined]
    await source.start()
    try:
        async with anyio.create_task_group() as tg:

            async def go() -> None:
                try:
                    await source.run(run.emit)
                except Exception as e:  # noqa: BLE001 - the test inspects it
                    run.error = e  # type: ignore[attr-defined]
                run.finished = True

            tg.start_soon(go)
            yield run
            tg.cancel_scope.cancel()
    finally:
        await source.stop()
