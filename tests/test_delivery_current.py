"""A sink that confirms after ``write`` returns takes a share of the event's delivery (``current()``)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from livepipe import plugins
from livepipe.component import Emit, Sink, Source
from livepipe.events import Event, make_event
from livepipe.hookspecs import hookimpl
from livepipe.runtime.delivery import Delivery, current
from livepipe.schema import SinkConfig, SourceConfig, field
from livepipe.testing import run_pipeline

pytestmark = pytest.mark.anyio

SETTLED: dict[int, bool] = {}
HELD: list[tuple[int, Delivery]] = []
SEEN_OUTSIDE: list[Delivery | None] = []


class CurSource(Source):
    type_name = "t.cursource"

    class Config(SourceConfig):
        count: int = field(4, description="how many")

    async def run(self, emit: Emit) -> None:
        for i in range(self.config.count):
            await emit(make_event("danmaku", id=str(i), ts=1.0, data={"n": i}),
                       delivery=Delivery(lambda ok, i=i: SETTLED.__setitem__(i, ok)))


class LaterSink(Sink):
    """Holds a share of each delivery; releases them in flush (odd numbers as lost)."""

    type_name = "t.latersink"

    class Config(SinkConfig):
        pass

    async def write(self, event: Event, emit: Emit) -> None:
        d = current()
        assert d is not None
        d.hold()
        HELD.append((event.data["n"], d))

    async def flush(self) -> None:
        SEEN_OUTSIDE.append(current())
        assert not any(n in SETTLED for n, _ in HELD)  # nothing settles while the sink holds its share
        while HELD:
            n, d = HELD.pop()
            d.release(n % 2 == 0)


class _P:
    @hookimpl
    def livepipe_register_components(self, registry: Any) -> None:
        registry.register(CurSource)
        registry.register(LaterSink)


async def test_a_sink_share_delays_settlement_until_released(tmp_path):
    if plugins.manager().get_plugin("test_delivery_current") is None:
        plugins.register_plugin(_P(), "test_delivery_current")
    SETTLED.clear()
    await run_pipeline(
        """
[sources.src]
type = "t.cursource"
count = 4
[sinks.later]
type = "t.latersink"
inputs = ["src"]
buffer = 10
""",
        tmp_path,
    )
    assert SETTLED == {0: True, 1: False, 2: True, 3: False}
    assert SEEN_OUTSIDE and all(d is None for d in SEEN_OUTSIDE)
    assert current() is None
    await anyio.lowlevel.checkpoint()
