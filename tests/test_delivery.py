"""End-to-end delivery tracking: a source learns when each event is fully handled, or lost."""

from __future__ import annotations

import anyio
import pytest

from livepipe.component import Emit, Processor, Sink, Source
from livepipe.events import Event, make_event
from livepipe.runtime.delivery import Delivery
from livepipe.schema import ProcessorConfig, SinkConfig, SourceConfig, field
from livepipe.testing import captured, register, run_pipeline, running_pipeline, wait_until

pytestmark = pytest.mark.anyio

SETTLED: dict[int, bool] = {}


class AckSource(Source):
    """Emits `count` events, each with a Delivery recording its settlement."""

    type_name = "t.acksource"

    class Config(SourceConfig):
        count: int = field(10, description="how many")

    async def run(self, emit: Emit) -> None:
        for i in range(self.config.count):
            await emit(make_event("danmaku", id=str(i), ts=1.0, data={"n": i}),
                       delivery=Delivery(lambda ok, i=i: SETTLED.__setitem__(i, ok)))


class FailOdd(Processor):
    """Raises on odd numbers; emits even ones twice (on the default output)."""

    type_name = "t.failodd"

    class Config(ProcessorConfig):
        pass

    async def process(self, event: Event, emit: Emit) -> None:
        if event.data["n"] % 2:
            raise RuntimeError("odd")
        await emit(event)
        await emit(event.replace(id=event.id + "b"))


class DropSome(Processor):
    """Deliberately discards multiples of three."""

    type_name = "t.dropsome"

    class Config(ProcessorConfig):
        pass

    async def process(self, event: Event, emit: Emit) -> None:
        if event.data["n"] % 3:
            await emit(event)


GATE: list[anyio.Event] = []


class GatedSink(Sink):
    """Waits for GATE[0] before accepting each event."""

    type_name = "t.gated"

    class Config(SinkConfig):
        pass

    async def write(self, event: Event, emit: Emit) -> None:
        await GATE[0].wait()


@pytest.fixture(autouse=True)
def _setup() -> None:
    register(AckSource, FailOdd, DropSome, GatedSink, plugin="test_delivery")
    SETTLED.clear()


async def test_failures_settle_false_successes_true(tmp_path):
    await run_pipeline(
        """
[sources.src]
type = "t.acksource"
count = 10
[processors.f]
type = "t.failodd"
inputs = ["src"]
[sinks.a]
type = "testing.capture"
inputs = ["f"]
[sinks.b]
type = "testing.capture"
inputs = ["src"]
""",
        tmp_path,
    )
    assert SETTLED == {i: i % 2 == 0 for i in range(10)}
    assert len(captured["a"]) == 10 and len(captured["b"]) == 10


async def test_intentional_discards_and_dead_letters_count_as_handled(tmp_path):
    await run_pipeline(
        """
[sources.src]
type = "t.acksource"
count = 9
[processors.drop]
type = "t.dropsome"
inputs = ["src"]
[processors.f]
type = "t.failodd"
inputs = ["drop"]
on_error = "dead_letter"
[sinks.out]
type = "testing.capture"
inputs = ["f"]
[sinks.dlq]
type = "testing.capture"
inputs = ["f.dead_letter"]
""",
        tmp_path,
    )
    assert SETTLED == {i: True for i in range(9)}
    assert sorted(e.data["event"]["data"]["n"] for e in captured["dlq"]) == [1, 5, 7]


async def test_full_buffer_drops_settle_false(tmp_path):
    GATE.clear()
    GATE.append(anyio.Event())
    async with running_pipeline(
        """
[sources.src]
type = "t.acksource"
count = 20
[sinks.gated]
type = "t.gated"
inputs = ["src"]
buffer = 2
when_full = "drop_newest"
""",
        tmp_path,
    ) as p:
        await wait_until(lambda: len(SETTLED) >= 17)
        assert all(ok is False for ok in SETTLED.values())  # only drops have settled so far
        GATE[0].set()
    dropped = p.metrics.value("component_discarded_events_total", component_id="gated")
    received = p.metrics.value("component_received_events_total", component_id="gated")
    assert len(SETTLED) == 20 and dropped + received == 20 and dropped >= 17
    assert sum(SETTLED.values()) == received
