"""When the runtime calls a consumer's ``flush``: at most every FLUSH_INTERVAL, when the input runs
empty (also after the input stays empty), and once more at shutdown."""

from __future__ import annotations

import time

import anyio
import pytest

from livepipe.component import Emit, Sink, Source
from livepipe.events import Event, make_event
from livepipe.runtime.pipeline import FLUSH_INTERVAL
from livepipe.schema import SinkConfig, SourceConfig, field
from livepipe.testing import register, running_pipeline, wait_until

pytestmark = pytest.mark.anyio

#: sink name -> ("write" | "flush", number of events written so far) in call order
CALLS: dict[str, list[tuple[str, int]]] = {}
GATE: dict[str, anyio.Event] = {}


class TrickleSource(Source):
    """Emits ``count`` events, yielding after each (so the sink's input runs empty after every
    event), then waits for ``GATE["more"]`` and ends."""

    type_name = "t.trickle"

    class Config(SourceConfig):
        count: int = field(10, description="how many")

    async def run(self, emit: Emit) -> None:
        for i in range(self.config.count):
            await emit(make_event("danmaku", id=str(i), ts=1.0, data={"n": i}))
            await anyio.lowlevel.checkpoint()
        await GATE["more"].wait()


class FlushRecorder(Sink):
    """Records its writes and flushes in ``CALLS[name]``."""

    type_name = "t.flush_recorder"

    class Config(SinkConfig):
        pass

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.written = 0
        CALLS[self.name] = []

    async def write(self, event: Event, emit: Emit) -> None:
        self.written += 1
        CALLS[self.name].append(("write", self.written))

    async def flush(self) -> None:
        CALLS[self.name].append(("flush", self.written))


PIPELINE = """
[sources.src]
type = "t.trickle"
count = {count}
[sinks.out]
type = "t.flush_recorder"
inputs = ["src"]
"""


@pytest.fixture(autouse=True)
def _register() -> None:
    register(TrickleSource, FlushRecorder, plugin="test_flush")
    CALLS.clear()
    GATE.clear()
    GATE["more"] = anyio.Event()


def flushes(name: str = "out") -> list[int]:
    return [n for what, n in CALLS.get(name, []) if what == "flush"]


async def test_a_trickle_is_flushed_at_most_every_interval(tmp_path):
    """The input runs empty after every event; flushes still come at most every FLUSH_INTERVAL
    (before, a flush followed every event: 3,000 fsyncs for 3,000 lines)."""
    count = 3000
    t0 = time.monotonic()
    async with running_pipeline(PIPELINE.format(count=count), tmp_path) as p:
        await wait_until(lambda: p.components["out"].written == count, what="every event written")
        elapsed = time.monotonic() - t0
        during = len(flushes())
        GATE["more"].set()
    assert during <= elapsed / FLUSH_INTERVAL + 2, (during, elapsed)
    assert flushes()[-1] == count  # the final flush at shutdown sees everything


async def test_an_idle_input_is_flushed_without_more_events(tmp_path):
    """Events written, then silence: the flush comes (within FLUSH_INTERVAL) without another event."""
    async with running_pipeline(PIPELINE.format(count=5), tmp_path) as p:
        await wait_until(lambda: 5 in flushes(), what="a flush after the fifth write")
        assert p.components["out"].written == 5  # the source is still waiting: nothing came after
        GATE["more"].set()
