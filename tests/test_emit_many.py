"""``emit_many``: a group of events handed over in one call is buffered, counted and dropped as one by one."""

from __future__ import annotations

import anyio
import pytest

from livepipe.component import Emit, Sink, Source, emit_many
from livepipe.events import Event, make_event
from livepipe.schema import SinkConfig, SourceConfig, field
from livepipe.testing import captured, register, run_pipeline, wait_until

pytestmark = pytest.mark.anyio


def _ev(i: int) -> Event:
    return make_event("danmaku", text=str(i), room_id=1, ts=1.0)


class GroupSource(Source):
    """Emits ``count`` events in groups of ``group`` (``emit_many``), or one by one when ``group`` is 0."""

    type_name = "t.emitmany.src"

    class Config(SourceConfig):
        count: int = field(1000, description="how many")
        group: int = field(7, description="events per emit_many call; 0 = one emit per event")

    async def run(self, emit: Emit) -> None:
        n, g = self.config.count, self.config.group
        if not g:
            for i in range(n):
                await emit(_ev(i))
            return
        for start in range(0, n, g):
            await emit_many(emit, [_ev(i) for i in range(start, min(start + g, n))])


def _value(p, name: str, cid: str, **labels: str) -> float:
    return p.metrics.value(name, component_id=cid, **labels)


@pytest.fixture(params=["fast", "anyio"])
def hand_over(request, monkeypatch):
    """Both ways into a buffer: the runtime's direct one, and anyio's calls (what an anyio without the
    state the direct way reads gets)."""
    if request.param == "anyio":
        from livepipe.runtime import pipeline

        monkeypatch.setattr(pipeline, "_fast_state", lambda *a: None)
    return request.param


async def test_groups_arrive_in_order_and_are_counted_per_event(tmp_path, hand_over):
    register(GroupSource, plugin="test_emit_many")
    n = 3000
    p = await run_pipeline(f"""
[sources.src]
type = "t.emitmany.src"
count = {n}
[sinks.a]
type = "testing.capture"
inputs = ["src"]
[sinks.b]
type = "testing.capture"
inputs = ["src"]
""", tmp_path)
    want = [str(i) for i in range(n)]
    assert [e.text for e in captured["a"]] == want
    assert [e.text for e in captured["b"]] == want
    assert _value(p, "component_sent_events_total", "src") == n
    assert _value(p, "component_received_events_total", "a") == n
    assert _value(p, "component_received_events_total", "b") == n


GATE: list[anyio.Event] = []
TAKEN: list[str] = []


class BurstSource(Source):
    """Emits 5 events, waits until the sink is stuck on the first, then 45 more, all in groups of ``group``."""

    type_name = "t.emitmany.burst"

    class Config(SourceConfig):
        group: int = field(8, description="events per emit_many call; 0 = one emit per event")

    async def _emit(self, emit: Emit, events: list[Event]) -> None:
        if self.config.group:
            for start in range(0, len(events), self.config.group):
                await emit_many(emit, events[start:start + self.config.group])
        else:
            for ev in events:
                await emit(ev)

    async def run(self, emit: Emit) -> None:
        await self._emit(emit, [_ev(i) for i in range(5)])
        await wait_until(lambda: TAKEN, what="the sink to take the first event")  # and be stuck on it
        await self._emit(emit, [_ev(i) for i in range(5, 50)])
        GATE[0].set()


class GatedSink(Sink):
    """One event at a time; each write waits for the gate; records what it wrote."""

    type_name = "t.emitmany.gated"

    class Config(SinkConfig):
        pass

    async def write(self, event: Event, emit: Emit) -> None:
        TAKEN.append(event.text or "")
        await GATE[0].wait()


@pytest.mark.parametrize("when_full", ["drop_newest", "drop_oldest", "block"])
async def test_full_buffers_drop_or_wait_as_one_by_one(tmp_path, when_full, hand_over):
    register(BurstSource, GatedSink, plugin="test_emit_many")
    results = {}
    for group in (0, 8, 50):
        GATE[:] = [anyio.Event()]
        TAKEN.clear()
        cfg = f"""
[sources.src]
type = "t.emitmany.burst"
group = {group}
[sinks.out]
type = "t.emitmany.gated"
inputs = ["src"]
buffer = 10
when_full = "{when_full}"
"""
        if when_full == "block":  # the source waits for room: release the gate once it is stuck, not at the end
            async with anyio.create_task_group() as tg:
                async def open_gate() -> None:
                    await wait_until(lambda: TAKEN, what="the sink to take the first event")
                    GATE[0].set()

                tg.start_soon(open_gate)
                p = await run_pipeline(cfg, tmp_path)
        else:
            p = await run_pipeline(cfg, tmp_path)
        results[group] = (list(TAKEN), _value(p, "component_discarded_events_total", "out", intentional="false",
                                              reason="buffer_full"),
                          _value(p, "component_received_events_total", "out"),
                          _value(p, "component_sent_events_total", "src"))
    assert results[8] == results[0] and results[50] == results[0]  # the same events written, dropped, counted
    taken, dropped, received, sent = results[0]
    assert sent == 50
    if when_full == "block":
        assert (taken, dropped, received) == ([str(i) for i in range(50)], 0, 50)
    else:
        assert (dropped, received) == (39, 11)  # 1 in hand + 10 buffered
        kept = [str(i) for i in range(11)] if when_full == "drop_newest" else ["0", *map(str, range(40, 50))]
        assert taken == kept


async def test_any_other_emit_gets_the_events_one_by_one():
    got: list[tuple[str | None, tuple[str, ...]]] = []

    async def emit(event: Event, *output: str) -> None:
        got.append((event.text, output))

    await emit_many(emit, [_ev(1), _ev(2)])
    await emit_many(emit, [_ev(3)], "flagged")
    assert got == [("1", ()), ("2", ()), ("3", ("flagged",))]


class BadSource(Source):
    """emit_many with something that is not an Event in the middle, or on an undeclared output."""

    type_name = "t.emitmany.bad"

    class Config(SourceConfig):
        output: str = field("", description="emit on this output ('' = default)")

    async def run(self, emit: Emit) -> None:
        try:
            await emit_many(emit, [_ev(0), _ev(1), {"text": "2"}, _ev(3)], self.config.output or None)  # type: ignore[list-item]
        except (TypeError, ValueError) as e:
            ERRORS.append(e)


ERRORS: list[Exception] = []


@pytest.mark.parametrize("output", ["", "nope"])
async def test_errors_are_those_of_emit(tmp_path, output):
    register(BadSource, plugin="test_emit_many")
    ERRORS.clear()
    await run_pipeline(f"""
[sources.src]
type = "t.emitmany.bad"
output = "{output}"
[sinks.out]
type = "testing.capture"
inputs = ["src"]
""", tmp_path)
    if output:  # an undeclared output: nothing is emitted
        assert [e.text for e in captured["out"]] == []
        assert isinstance(ERRORS[0], ValueError) and "'nope'" in str(ERRORS[0])
    else:  # the events before the bad one are emitted, as one by one
        assert [e.text for e in captured["out"]] == ["0", "1"]
        assert isinstance(ERRORS[0], TypeError) and "emitted dict, not an Event" in str(ERRORS[0])
