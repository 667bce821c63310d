"""Shared fixtures: the plugin registered (even when not pip-installed), the testing components, a processor factory."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from livepipe import plugins, testing
from livepipe.clock import ManualClock
from livepipe.component import Context
from livepipe.events import Event, make_event
from livepipe.runtime.metrics import ComponentMetrics, MetricsRegistry

import livepipe_automod
from livepipe_automod.processor import AutoMod, AutoModConfig


@pytest.fixture(autouse=True)
def _registered() -> None:
    testing.install()
    if plugins.manager().get_plugin("automod") is None:
        plugins.register_plugin(livepipe_automod, "automod")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Harness:
    """An ``automod`` processor on a ManualClock, with what it emitted by output."""

    def __init__(self, config: dict[str, Any], config_dir: Path) -> None:
        self.clock = ManualClock()
        self.registry = MetricsRegistry()
        cfg = AutoModConfig.model_validate({"type": "automod", "inputs": ["src"], **config})
        ctx = Context("mod", ComponentMetrics(self.registry, "mod", "automod"), logging.getLogger("test.automod"),
                      clock=self.clock, config_dir=config_dir)
        self.proc = AutoMod(cfg, ctx)
        self.out: dict[str, list[Event]] = {"ban": [], "warn": [], "flagged": []}

    async def start(self) -> Harness:
        await self.proc.start()
        return self

    async def emit(self, event: Event, output: str | None = None) -> None:
        self.out[output or ""].append(event)

    async def say(self, text: str, uid: int | None = 1001, *, room_id: int = 76, uname: str = "viewer",
                  **data: Any) -> None:
        base = {"user_level": 12, "guard_level": 0, "medal": None, "is_admin": False, "masked": uid is None}
        ev = make_event("danmaku", room_id=room_id, uid=uid, uname=uname, text=text, ts=self.clock.time(),
                        data={**base, **data})
        await self.proc.process(ev, self.emit)

    def counter(self, name: str, **labels: str) -> float:
        text = self.registry.render_prometheus()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()))


@pytest.fixture
def harness(tmp_path: Path) -> Callable[..., Any]:
    async def make(**config: Any) -> Harness:
        return await Harness(config, tmp_path).start()

    return make


from automod_support import rule  # noqa: E402,F401  (re-exported for older imports)
