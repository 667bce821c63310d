"""Sinks with ``write_batch`` get what waits in their input buffer at once; every event is settled as before.

Order, counts (received / delivered / discarded per event), ``on_error`` for the one event that failed
and deliveries (an acknowledging source sees each event's outcome) are the same as one by one.
"""

from __future__ import annotations

from typing import ClassVar

import anyio
import pytest

from livepipe.component import Batch, Emit, Sink, Source
from livepipe.events import Event, make_event
from livepipe.runtime.delivery import Delivery
from livepipe.runtime.pipeline import BATCH_MAX
from livepipe.schema import SinkConfig, SourceConfig, field
from livepipe.testing import captured, register, run_pipeline, wait_until

pytestmark = pytest.mark.anyio

SETTLED: list[tuple[int, bool]] = []


class CountingSource(Source):
    """Emits ``count`` events (text = their number), each with a Delivery that records its outcome."""

    type_name = "t.batchtest.src"

    class Config(SourceConfig):
        count: int = field(1000, description="how many")

    async def run(self, emit: Emit) -> None:
        for i in range(self.config.count):
            await emit(make_event("danmaku", text=str(i), room_id=1, ts=1.0),
                       delivery=Delivery(lambda ok, i=i: SETTLED.append((i, ok))))


class BatchSink(Sink):
    """Records each batch; fails at the event whose text is in ``fail_on`` (in batches and one by one)."""

    type_name = "t.batchtest.sink"
    batches: ClassVar[list[list[str]]] = []
    one_by_one: ClassVar[list[str]] = []
    written: ClassVar[list[str]] = []

    class Config(SinkConfig):
        fail_on: list[str] = field(default_factory=list, description="texts to fail on")

    async def write(self, event: Event, emit: Emit) -> None:
        BatchSink.one_by_one.append(event.text or "")
        if event.text in self.config.fail_on:
            raise RuntimeError(f"cannot write {event.text}")
        BatchSink.written.append(event.text or "")

    async def write_batch(self, batch: Batch, emit: Emit) -> None:
        BatchSink.batches.append([e.text or "" for e in batch.events])
        for event in batch.events:
            if event.text in self.config.fail_on:
                raise RuntimeError(f"cannot write {event.text}")
            BatchSink.written.append(event.text or "")
            batch.written += 1


@pytest.fixture(autouse=True)
def _clean():
    register(CountingSource, BatchSink, plugin="test_batch_sink")
    SETTLED.clear()
    BatchSink.batches.clear()
    BatchSink.one_by_one.clear()
    BatchSink.written.clear()


def _toml(count: int, on_error: str = "drop", fail_on: tuple[str, ...] = ()) -> str:
    return f"""
[sources.src]
type = "t.batchtest.src"
count = {count}
[sinks.out]
type = "t.batchtest.sink"
inputs = ["src"]
buffer = 1000
on_error = "{on_error}"
fail_on = {list(fail_on)!r}
[sinks.dead]
type = "testing.capture"
inputs = ["out.dead_letter"]
""" if on_error == "dead_letter" else f"""
[sources.src]
type = "t.batchtest.src"
count = {count}
[sinks.out]
type = "t.batchtest.sink"
inputs = ["src"]
buffer = 1000
on_error = "{on_error}"
fail_on = {list(fail_on)!r}
"""


def _value(p, name: str, cid: str = "out", **labels: str) -> float:
    return p.metrics.value(name, component_id=cid, **labels)


async def test_batches_keep_order_and_counts(tmp_path):
    n = 5000
    p = await run_pipeline(_toml(n), tmp_path)
    want = [str(i) for i in range(n)]
    assert BatchSink.written == want
    assert [t for b in BatchSink.batches for t in b] == want  # every event went through a batch, in order
    assert len(BatchSink.batches) < n / 10  # the source emits 64 events per turn: batches, not one by one
    assert max(len(b) for b in BatchSink.batches) <= BATCH_MAX
    assert BatchSink.one_by_one == []
    assert _value(p, "component_received_events_total") == n
    assert _value(p, "sink_delivered_events_total") == n
    assert sorted(SETTLED) == [(i, True) for i in range(n)]


@pytest.mark.parametrize("on_error", ["drop", "dead_letter"])
async def test_a_failure_part_way_settles_each_event_as_one_by_one(tmp_path, on_error):
    n = 3000
    fail_on = ("100", "101", "2000")
    p = await run_pipeline(_toml(n, on_error, fail_on), tmp_path)
    want = [str(i) for i in range(n) if str(i) not in fail_on]
    assert BatchSink.written == want  # nothing lost or repeated around the failures, order kept
    assert "101" in BatchSink.one_by_one  # the events after a failure in its batch went one by one
    assert _value(p, "component_received_events_total") == n
    assert _value(p, "sink_delivered_events_total") == n - 3
    assert _value(p, "component_discarded_events_total", intentional="false", reason="error") == 3
    assert _value(p, "component_errors_total", error_type="RuntimeError") == 3
    outcome = dict(SETTLED)
    assert len(SETTLED) == n
    if on_error == "drop":
        assert [i for i, ok in sorted(outcome.items()) if not ok] == [100, 101, 2000]
    else:  # dead-lettered: handled, so the deliveries succeed, and each failed event is in its dead letter
        assert all(outcome.values())
        dead = captured["dead"]
        assert [d.data["event"]["text"] for d in dead] == ["100", "101", "2000"]
        assert all(d.data["error"] == f"cannot write {d.data['event']['text']}" for d in dead)


GATE: list[anyio.Event] = []
TAKEN: list[int] = []


class BurstSource(Source):
    """Emits ``first`` events, waits until the sink has taken them (and is stuck on them), then ``rest``."""

    type_name = "t.batchtest.burst"

    class Config(SourceConfig):
        first: int = field(5, description="events before the pause")
        rest: int = field(45, description="events after it")

    async def run(self, emit: Emit) -> None:
        for i in range(self.config.first):
            await emit(make_event("danmaku", text=str(i), room_id=1, ts=1.0))
        await wait_until(lambda: TAKEN, what="the sink to take the first events")  # and be stuck on them
        for i in range(self.config.rest):
            await emit(make_event("danmaku", text=str(self.config.first + i), room_id=1, ts=1.0))
        GATE[0].set()


class GatedSink(Sink):
    """One event at a time; each write waits for the gate (stuck until the source has emitted everything)."""

    type_name = "t.batchtest.gated"

    class Config(SinkConfig):
        pass

    async def write(self, event: Event, emit: Emit) -> None:
        TAKEN.append(1)
        await GATE[0].wait()


class GatedBatchSink(GatedSink):
    """The same, in batches."""

    type_name = "t.batchtest.gatedbatch"

    async def write_batch(self, batch: Batch, emit: Emit) -> None:
        TAKEN.append(len(batch.events))
        await GATE[0].wait()
        batch.written = len(batch.events)


@pytest.mark.parametrize("when_full", ["drop_newest", "drop_oldest"])
async def test_a_batch_in_hand_counts_against_the_buffer(tmp_path, when_full):
    """A sink holding a batch leaves producers the room a sink holding one event leaves: the same drops."""
    register(BurstSource, GatedSink, GatedBatchSink, plugin="test_batch_sink")
    results = {}
    for sink in ("t.batchtest.gated", "t.batchtest.gatedbatch"):
        GATE[:] = [anyio.Event()]
        TAKEN.clear()
        p = await run_pipeline(f"""
[sources.src]
type = "t.batchtest.burst"
[sinks.out]
type = "{sink}"
inputs = ["src"]
buffer = 10
when_full = "{when_full}"
""", tmp_path)
        results[sink] = (_value(p, "component_discarded_events_total", intentional="false", reason="buffer_full"),
                         _value(p, "component_received_events_total"), TAKEN[0])
    # one by one: 1 in hand + 10 buffered; in a batch: 5 in hand + 6 buffered
    assert results == {"t.batchtest.gated": (39, 11, 1), "t.batchtest.gatedbatch": (39, 11, 5)}
