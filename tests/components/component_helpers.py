"""Shared helpers for component unit tests: build a component directly and record what it emits."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from livepipe.clock import ManualClock
from livepipe.component import Component, Context
from livepipe.events import Event, make_event
from livepipe.runtime.metrics import ComponentMetrics, MetricsRegistry


class Recorder:
    """An emit function that records ``(output, event)`` pairs (output ``None`` = default)."""

    def __init__(self) -> None:
        self.items: list[tuple[str | None, Event]] = []

    async def __call__(self, event: Event, output: str | None = None) -> None:
        self.items.append((output, event))

    def events(self, output: str | None = None) -> list[Event]:
        return [e for o, e in self.items if o == output]

    def outputs(self) -> list[str | None]:
        return [o for o, _ in self.items]


def build(
    cls: type[Component],
    config: dict[str, Any],
    *,
    clock: ManualClock | None = None,
    config_dir: Path | None = None,
    name: str = "x",
) -> Component:
    registry = MetricsRegistry()
    ctx = Context(
        name=name,
        metrics=ComponentMetrics(registry, name, cls.type_name),
        log=logging.getLogger(f"test.{name}"),
        clock=clock or ManualClock(),
        config_dir=config_dir or Path.cwd(),
    )
    cfg = cls.Config.model_validate({"type": cls.type_name, **config})
    return cls(cfg, ctx)


def metric(comp: Component, name: str, **labels: Any) -> float:
    return comp.metrics.registry.value(name, component_id=comp.name, **labels)


def ev(kind: str = "danmaku", **kw: Any) -> Event:
    kw.setdefault("room_id", 1001)
    kw.setdefault("ts", 1_700_000_000.0)
    return make_event(kind, **kw)
