"""Helpers for plugin authors and livepipe's own tests.

* :class:`EventsSource` (``type = "testing.events"``): emits the events listed in its config.
* :class:`CaptureSink` (``type = "testing.capture"``): keeps what it receives in :data:`captured`.
* :func:`run_pipeline`: load TOML text, run it in-process to completion, return the pipeline.

Call :func:`install` (the fixtures do) to register the two testing components. This module is
also a pytest plugin (entry point ``pytest11``), so its fixtures are available to any project
that installs livepipe.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from livepipe import plugins
from livepipe.component import Emit, Sink, Source
from livepipe.config import PipelineConfig, load_config
from livepipe.events import Event
from livepipe.hookspecs import hookimpl
from livepipe.schema import SinkConfig, SourceConfig, field

#: Events received by each ``testing.capture`` sink, by component id.
captured: dict[str, list[Event]] = defaultdict(list)


class EventsSource(Source):
    """Emits the events given in ``events`` (their JSON form as TOML tables), then ends."""

    type_name = "testing.events"

    class Config(SourceConfig):
        """Config of the testing.events source."""

        events: list[dict[str, Any]] = field(default_factory=list, description="events in their JSON form")
        events_json: str = field("", description="more events: a JSON array of events (JSON allows null)")
        repeat: int = field(1, description="emit the list this many times", ge=1)

    async def run(self, emit: Emit) -> None:
        """Emit every configured event, ``repeat`` times."""
        raw = list(self.config.events) + (json.loads(self.config.events_json) if self.config.events_json else [])
        events = [Event.from_dict({"v": 1, **e}) for e in raw]
        for _ in range(self.config.repeat):
            for ev in events:
                await emit(ev)


class CaptureSink(Sink):
    """Keeps every event it receives in ``livepipe.testing.captured[<id>]``."""

    type_name = "testing.capture"

    class Config(SinkConfig):
        """Config of the testing.capture sink."""

    async def write(self, event: Event, emit: Emit) -> None:
        """Record the event."""
        captured[self.name].append(event)


class _TestingPlugin:
    @hookimpl
    def livepipe_register_components(self, registry: Any) -> None:
        registry.register(EventsSource)
        registry.register(CaptureSink)


def install() -> None:
    """Register the testing components (idempotent)."""
    if plugins.manager().get_plugin("livepipe.testing") is None:
        plugins.register_plugin(_TestingPlugin(), "livepipe.testing")


def load_toml(text: str, tmp_path: Path, name: str = "pipeline.toml") -> PipelineConfig:
    """Write ``text`` to ``tmp_path/name`` and load it."""
    install()
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return load_config([p])


async def run_pipeline(
    config: PipelineConfig | str,
    tmp_path: Path | None = None,
    *,
    duration: float | None = None,
    on_start: Callable[[Any], Any] | None = None,
) -> Any:
    """Run a pipeline in-process until its sources finish (or ``duration``); returns the Pipeline."""
    from livepipe.runner import run_config

    if isinstance(config, str):
        if tmp_path is None:
            raise ValueError("pass tmp_path when giving TOML text")
        config = load_toml(config, tmp_path)
    captured.clear()
    return await run_config(config, duration=duration, pipeline_ready=on_start)


def run_pipeline_sync(config: PipelineConfig | str, tmp_path: Path | None = None, **kw: Any) -> Any:
    """Blocking form of :func:`run_pipeline`."""
    return anyio.run(lambda: run_pipeline(config, tmp_path, **kw), backend="asyncio")


# ---- pytest fixtures (this module is registered as a pytest plugin) -------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - pytest is only needed for the fixtures
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def livepipe_components() -> Any:
        """Registers the testing components and clears :data:`captured`; yields ``captured``."""
        install()
        captured.clear()
        yield captured
        captured.clear()

    @pytest.fixture
    async def bilibili_simulator() -> Any:
        """A running simulator (``livepipe.sim.Simulator``) with the default rooms; use with anyio tests."""
        from livepipe.sim import run_simulator

        async with run_simulator() as sim:
            yield sim
