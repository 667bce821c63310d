"""Runtime behaviour: wiring, fan-out, named outputs, when_full, on_error, shutdown."""

from __future__ import annotations

import logging

import anyio
import pytest

from livepipe.component import Emit, Processor, Sink, Source
from livepipe.events import Event, make_event
from livepipe.schema import ProcessorConfig, SinkConfig, SourceConfig, field
from livepipe.testing import captured, register, run_pipeline, running_pipeline, wait_until

pytestmark = pytest.mark.anyio

GATES: dict[str, anyio.Event] = {}
SEEN: dict[str, list[int]] = {}


class CountSource(Source):
    """Emits `count` numbered events."""

    type_name = "t.count"

    class Config(SourceConfig):
        count: int = field(10, description="how many")
        kind: str = field("danmaku", description="kind")

    async def run(self, emit: Emit) -> None:
        for i in range(self.config.count):
            await emit(make_event(self.config.kind, id=str(i), ts=1.0, data={"n": i}, room_id=1))


class ForeverSource(Source):
    """Emits numbered events until cancelled, yielding between them."""

    type_name = "t.forever"

    class Config(SourceConfig):
        pass

    async def run(self, emit: Emit) -> None:
        i = 0
        while True:
            await emit(make_event("danmaku", id=str(i), ts=1.0, data={"n": i}))
            i += 1
            await anyio.sleep(0)


class SplitProcessor(Processor):
    """Even numbers to output `even`, odd to `odd`; every 3rd also to the default output."""

    type_name = "t.split"
    outputs = ("even", "odd")

    class Config(ProcessorConfig):
        pass

    async def process(self, event: Event, emit: Emit) -> None:
        n = event.data["n"]
        await emit(event, "even" if n % 2 == 0 else "odd")
        if n % 3 == 0:
            await emit(event)


class FailingProcessor(Processor):
    """Raises on multiples of `every`."""

    type_name = "t.fail"

    class Config(ProcessorConfig):
        every: int = field(5, description="fail on multiples of this")

    async def process(self, event: Event, emit: Emit) -> None:
        if event.data["n"] % self.config.every == 0:
            raise RuntimeError(f"boom on {event.data['n']}")
        await emit(event)


class GateSink(Sink):
    """Waits for GATES[gate] before accepting each event; records what it got in SEEN[name]."""

    type_name = "t.gate"

    class Config(SinkConfig):
        gate: str = field(description="gate name")

    async def write(self, event: Event, emit: Emit) -> None:
        SEEN.setdefault(self.name, []).append(event.data["n"])
        await GATES[self.config.gate].wait()


@pytest.fixture(autouse=True)
def _register() -> None:
    register(CountSource, ForeverSource, SplitProcessor, FailingProcessor, GateSink, plugin="test_runtime")
    GATES.clear()
    SEEN.clear()


def numbers(sink: str) -> list[int]:
    return [e.data["n"] for e in captured[sink]]


async def test_fan_out_named_outputs_and_wildcards(tmp_path):
    p = await run_pipeline(
        """
[sources.src]
type = "t.count"
count = 30
[processors.split]
type = "t.split"
inputs = ["src"]
[sinks.all_named]
type = "testing.capture"
inputs = ["split.*"]
[sinks.even]
type = "testing.capture"
inputs = ["split.even"]
[sinks.default]
type = "testing.capture"
inputs = ["split"]
[sinks.raw]
type = "testing.capture"
inputs = ["src"]
""",
        tmp_path,
    )
    assert numbers("raw") == list(range(30))
    assert numbers("even") == list(range(0, 30, 2))
    assert sorted(numbers("all_named")) == list(range(30))
    assert numbers("default") == list(range(0, 30, 3))
    assert p.metrics.value("component_sent_events_total", component_id="src") == 30
    assert p.metrics.value("component_received_events_total", component_id="raw") == 30


async def test_drop_newest_sink_does_not_slow_siblings(tmp_path):
    """A sink stuck forever with drop_newest: its sibling still gets everything, drops are counted."""
    GATES["never"] = anyio.Event()
    p = await run_pipeline(
        """
[livepipe]
shutdown_timeout = 0.5
[sources.src]
type = "t.count"
count = 2000
[sinks.fast]
type = "testing.capture"
inputs = ["src"]
buffer = 5
[sinks.stuck]
type = "t.gate"
gate = "never"
inputs = ["src"]
buffer = 10
when_full = "drop_newest"
""",
        tmp_path,
    )
    assert numbers("fast") == list(range(2000))
    dropped = p.metrics.value("component_discarded_events_total", component_id="stuck", intentional="false")
    # one event is inside write(), ten wait in the buffer, the rest were dropped (and counted); the
    # eleven are lost too when shutdown_timeout cuts the drain short: every event is accounted for
    assert dropped == 2000
    lost = {r: p.metrics.value("component_discarded_events_total", component_id="stuck", intentional="false",
                               reason=r) for r in ("buffer_full", "shutdown")}  # fmt: skip
    assert lost == {"buffer_full": 2000 - 10 - 1, "shutdown": 11}
    assert SEEN["stuck"] == [0]
    assert p.forced  # the stuck sink had to be cancelled at shutdown_timeout


async def test_drop_oldest_keeps_the_newest(tmp_path):
    GATES["g"] = anyio.Event()
    async with running_pipeline(
        """
[sources.src]
type = "t.count"
count = 100
[sinks.gated]
type = "t.gate"
gate = "g"
inputs = ["src"]
buffer = 3
when_full = "drop_oldest"
""",
        tmp_path,
    ) as p:
        # once the source has emitted everything, open the gate
        await wait_until(lambda: p.metrics.value("component_sent_events_total", component_id="src") == 100)
        GATES["g"].set()
    # one event was inside write() when the buffer filled; the buffer kept the three newest
    assert len(SEEN["gated"]) == 4
    assert SEEN["gated"][1:] == [97, 98, 99]
    assert p.metrics.value("component_discarded_events_total", component_id="gated") == 96


async def test_block_holds_the_source_back_and_loses_nothing(tmp_path):
    GATES["g"] = anyio.Event()
    async with running_pipeline(
        """
[sources.src]
type = "t.count"
count = 500
[sinks.gated]
type = "t.gate"
gate = "g"
inputs = ["src"]
buffer = 8
""",
        tmp_path,
    ) as p:
        await wait_until(lambda: p._receivers["gated"].statistics().tasks_waiting_send == 1, what="source blocked")
        sent = p.metrics.value("component_sent_events_total", component_id="src")
        assert sent == 8 + 1 + 1  # buffer full, one in write(), one waiting to be sent
        GATES["g"].set()
    assert SEEN["gated"] == list(range(500))
    assert p.metrics.value("component_discarded_events_total") == 0


async def test_on_error_drop_counts_and_continues(tmp_path):
    p = await run_pipeline(
        """
[sources.src]
type = "t.count"
count = 20
[processors.f]
type = "t.fail"
inputs = ["src"]
[sinks.out]
type = "testing.capture"
inputs = ["f"]
""",
        tmp_path,
    )
    assert numbers("out") == [n for n in range(20) if n % 5]
    assert p.metrics.value("component_errors_total", component_id="f", error_type="RuntimeError") == 4


async def test_on_error_dead_letter_carries_event_and_error(tmp_path):
    await run_pipeline(
        """
[sources.src]
type = "t.count"
count = 11
[processors.f]
type = "t.fail"
inputs = ["src"]
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
    dl = captured["dlq"]
    assert [e.kind for e in dl] == ["dead_letter"] * 3
    assert [e.data["event"]["data"]["n"] for e in dl] == [0, 5, 10]
    assert dl[1].data["error"] == "boom on 5"
    assert dl[1].data["error_type"] == "RuntimeError"
    assert dl[1].data["component"] == "f"


async def test_on_error_stop_stops_the_pipeline(tmp_path):
    from livepipe.runtime.pipeline import PipelineError

    with pytest.raises(PipelineError, match="processor 'f' failed: RuntimeError: boom on 0"):
        await run_pipeline(
            """
[sources.src]
type = "t.forever"
[processors.f]
type = "t.fail"
inputs = ["src"]
on_error = "stop"
[sinks.out]
type = "testing.capture"
inputs = ["f"]
""",
            tmp_path,
        )


async def test_graceful_shutdown_drains_buffers(tmp_path):
    """Stopping a never-ending source delivers every event it had emitted."""
    async with running_pipeline(
        """
[sources.src]
type = "t.forever"
[processors.split]
type = "t.split"
inputs = ["src"]
[sinks.out]
type = "testing.capture"
inputs = ["split.*"]
buffer = 1000
""",
        tmp_path,
    ) as p:
        await wait_until(lambda: p.metrics.value("component_sent_events_total", component_id="src") >= 300)
        p.request_shutdown()
    sent = int(p.metrics.value("component_sent_events_total", component_id="src"))
    assert sorted(numbers("out")) == list(range(sent))
    assert not p.forced


async def test_undeclared_output_is_an_error_not_a_crash(tmp_path):
    class BadOut(Processor):
        type_name = "t.badout"

        class Config(ProcessorConfig):
            pass

        async def process(self, event: Event, emit: Emit) -> None:
            await emit(event, "nope")

    register(BadOut, plugin="test_runtime")
    p = await run_pipeline(
        """
[sources.src]
type = "t.count"
count = 3
[processors.b]
type = "t.badout"
inputs = ["src"]
[sinks.out]
type = "testing.capture"
inputs = ["b"]
""",
        tmp_path,
    )
    assert p.metrics.value("component_errors_total", component_id="b", error_type="ValueError") == 3


def test_metrics_render_prometheus(tmp_path):
    from livepipe.runtime.metrics import MetricsRegistry

    m = MetricsRegistry()
    m.counter("component_errors_total", "errors", component_id="a", error_type='x"y').inc(2)
    text = m.render_prometheus()
    assert '# TYPE component_errors_total counter' in text
    assert 'component_errors_total{component_id="a",error_type="x\\"y"} 2' in text


async def test_metrics_endpoint_serves_health_ready_metrics(tmp_path):
    import httpx

    async with running_pipeline(
        """
[livepipe.metrics]
listen = "127.0.0.1:0"
[sources.src]
type = "t.forever"
[sinks.out]
type = "testing.capture"
inputs = ["src"]
""",
        tmp_path,
    ) as p:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{p.metrics_port}") as c:
            assert (await c.get("/health")).status_code == 200
            assert (await c.get("/ready")).status_code == 200
            text = (await c.get("/metrics")).text
            assert 'component_sent_events_total{component_id="src",component_type="t.forever"}' in text
            assert "buffer_max_events" in text
            p.request_shutdown()
            assert (await c.get("/health")).status_code == 503  # draining


# ---- issue 16: a full block buffer never delays its siblings; persistent failure; the summary ------


async def test_a_full_block_buffer_never_delays_its_siblings(tmp_path):
    """A `block` sink that is stuck holds the source back, but the sibling listed *after* it already
    has every event the source emitted (the producer hands the event to every consumer with room
    before it waits): nothing is waiting for the stuck sink's turn."""
    GATES["never"] = anyio.Event()
    async with running_pipeline(
        """
[livepipe]
shutdown_timeout = 0.5
[sources.src]
type = "t.forever"
[sinks.stuck]
type = "t.gate"
gate = "never"
inputs = ["src"]
buffer = 3
[sinks.fast]
type = "testing.capture"
inputs = ["src"]
""",
        tmp_path,
    ) as p:
        sent = p.metrics.counter("component_sent_events_total", component_id="src", component_type="t.forever")
        # stuck: 1 in write() + 3 buffered, and the source waits with its 5th event
        await wait_until(lambda: sent.value == 5 and len(captured["fast"]) == 5, 10, "the source to block")
        assert numbers("fast") == [0, 1, 2, 3, 4]  # including the one the source is waiting to hand over
        p.request_shutdown()
    lost = p.metrics.value("component_discarded_events_total", component_id="stuck", reason="shutdown")
    assert lost == 5 and p.forced  # 1 in write, 3 buffered, 1 waiting for room: counted once each


class AlwaysFailingSink(Sink):
    """Raises on every event until GATES['heal'] is set; then records."""

    type_name = "t.failing"

    async def write(self, event: Event, emit: Emit) -> None:
        if not GATES["heal"].is_set():
            raise OSError("disk on fire")
        captured[self.name].append(event)


async def test_persistent_failure_alerts_and_goes_on_then_resolves(tmp_path):
    """on_persistent_failure = "alert": after fail_after seconds of failure an `alert` event on
    `<sink>.alerts` (and the pipeline keeps going); once the sink delivers again, a resolving alert."""
    register(AlwaysFailingSink, plugin="test_runtime_failing")
    GATES["heal"] = anyio.Event()
    async with running_pipeline(
        """
[sources.src]
type = "t.forever"
[sinks.out]
type = "t.failing"
inputs = ["src"]
fail_after = 0.3
on_persistent_failure = "alert"
[sinks.pager]
type = "testing.capture"
inputs = ["out.alerts"]
""",
        tmp_path,
    ) as p:
        await wait_until(lambda: len(captured["pager"]) == 1, 10, "the alert")
        (alert,) = captured["pager"]
        assert alert.kind == "alert" and alert.data["component"] == "out" and alert.data["severity"] == "critical"
        assert alert.data["reason"] == "persistent_failure" and alert.data["resolved"] is False
        assert "OSError: disk on fire" in alert.text and "fail_after = 0.3" in alert.text
        assert not p.draining  # it went on
        GATES["heal"].set()
        await wait_until(lambda: len(captured["pager"]) == 2, 10, "the resolving alert")
        assert captured["pager"][1].data["resolved"] is True and captured["pager"][1].data["severity"] == "info"
        assert captured["out"]
        p.request_shutdown()
    assert p.metrics.value("component_errors_total", component_id="out", error_type="persistent_failure") == 1


async def test_persistent_failure_stops_the_pipeline(tmp_path):
    """on_persistent_failure = "stop" (the default): the pipeline stops with an error naming the sink."""
    from livepipe.runtime.pipeline import PipelineError

    register(AlwaysFailingSink, plugin="test_runtime_failing")
    GATES["heal"] = anyio.Event()
    with pytest.raises(PipelineError, match=r"sink 'out' has delivered nothing for [\d.]+ s \(fail_after = 0.3\): "
                                            r"OSError: disk on fire"):  # fmt: skip
        await run_pipeline('[sources.src]\ntype = "t.forever"\n[sinks.out]\ntype = "t.failing"\ninputs = ["src"]\n'
                           'fail_after = 0.3\n', tmp_path)  # fmt: skip


async def test_summary_counts_are_the_metrics_with_fan_out_and_every_loss_reason(tmp_path):
    """Two sinks on one source (fan-out), one dropping, one failing some events: the summary's
    accepted, delivered, lost and errors are the metrics', and for each sink delivered + lost ==
    what reached it (accepted: every sink reads the source)."""
    from livepipe.runtime.report import Totals, summary_lines
    from livepipe.testing import parse_summary

    GATES["g"] = anyio.Event()
    async with running_pipeline(
        """
[livepipe]
shutdown_timeout = 0.5
[sources.src]
type = "t.count"
count = 300
[processors.f]
type = "t.fail"
inputs = ["src"]
every = 10
[sinks.all]
type = "testing.capture"
inputs = ["src"]
[sinks.some]
type = "testing.capture"
inputs = ["f"]
[sinks.slow]
type = "t.gate"
gate = "g"
inputs = ["src"]
buffer = 20
when_full = "drop_newest"
""",
        tmp_path,
    ) as p:
        await wait_until(lambda: len(captured["all"]) == 300, 10, "the source to finish")
        GATES["g"].set()
    t = Totals.of(p)
    s = parse_summary("\n".join(summary_lines(p)))
    m = p.metrics
    assert s["accepted"] == t.accepted == 300 == m.value("component_sent_events_total", component_id="src")
    assert s["delivered"] == t.delivered == {"all": 300, "some": 270, "slow": 21}
    assert s["lost"] == t.lost == m.value("component_discarded_events_total", intentional="false") == 30 + 279
    assert t.lost_by == {("f", "error"): 30, ("slow", "buffer_full"): 279}
    assert s["component_errors"] == 30
    assert "each sink counts its own copy" in "\n".join(summary_lines(p))
    assert "slow: 279 input buffer full (when_full = drop_newest)" in "\n".join(summary_lines(p))


def test_rate_limited_log_first_then_a_count_per_interval(caplog):
    """One line at the first occurrence, silence within the interval, then one line with the count."""
    import logging

    from livepipe.lograte import RateLimitedLog

    now = [0.0]
    limited = RateLimitedLog(logging.getLogger("t.lograte"), interval=10, clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="t.lograte")
    for i in range(1000):
        now[0] = i * 0.01  # 1,000 faults in 10 s
        limited.log(logging.WARNING, "disk", "cannot write %s", "x")
    limited.log(logging.WARNING, "other", "another fault")
    now[0] = 10.5
    limited.log(logging.WARNING, "disk", "cannot write %s", "x")
    limited.log(logging.WARNING, "disk", "cannot write %s", "x")
    limited.close()
    assert [r.getMessage() for r in caplog.records] == [
        "cannot write x",
        "another fault",
        "cannot write x (and 999 more like this in the last 10 s)",
        "cannot write x (and 1 more like this since the last report)",
    ]


class StopHangsSink(Sink):
    """Accepts every event; its stop() never returns (a notify target that never answers, say)."""

    type_name = "t.stop_hangs"

    class Config(SinkConfig):
        pass

    async def write(self, event: Event, emit: Emit) -> None:
        pass

    async def stop(self) -> None:
        await anyio.sleep_forever()


async def test_the_deadline_warning_names_the_component_it_cut_short(tmp_path, caplog):
    # the warning used to end in an empty list: each stop's `finally` forgot its name as it was cancelled
    register(StopHangsSink, plugin="test_runtime_stop_hangs")
    caplog.set_level(logging.WARNING, logger="livepipe.runtime")
    await run_pipeline(
        """
[livepipe]
shutdown_timeout = 0.2
[sources.src]
type = "t.count"
count = 3
[sinks.hangs]
type = "t.stop_hangs"
inputs = ["src"]
[sinks.fine]
type = "testing.capture"
inputs = ["src"]
""",
        tmp_path,
    )
    assert numbers("fine") == [0, 1, 2]
    cut = [r.getMessage() for r in caplog.records if "shutdown deadline" in r.getMessage()]
    assert cut == ["still stopping at the shutdown deadline, cut short: hangs"], cut
