"""nats source: JetStream messages are acked only after the sinks finished; failures are redelivered."""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import nats
import pytest
from nats.js.api import StreamConfig
from nats_helpers import wait_until

from livepipe import plugins
from livepipe.component import Emit, Sink
from livepipe.events import Event, make_event
from livepipe.hookspecs import hookimpl
from livepipe.schema import SinkConfig
from livepipe.testing import captured, run_pipeline

pytestmark = pytest.mark.anyio

ATTEMPTS: Counter[str] = Counter()
HANDLED: list[str] = []
GATE: list[anyio.Event] = []


class FailFirstSink(Sink):
    """Waits for GATE[0]; the first attempt at event "s2" raises, every other attempt succeeds."""

    type_name = "t.failfirst"

    class Config(SinkConfig):
        pass

    async def write(self, event: Event, emit: Emit) -> None:
        await GATE[0].wait()
        ATTEMPTS[event.id] += 1
        if event.id == "s2" and ATTEMPTS[event.id] == 1:
            raise RuntimeError("first attempt fails")
        HANDLED.append(event.id)


class _P:
    @hookimpl
    def livepipe_register_components(self, registry: Any) -> None:
        registry.register(FailFirstSink)


@pytest.fixture(autouse=True)
def _reg() -> None:
    if plugins.manager().get_plugin("tests_nats_source") is None:
        plugins.register_plugin(_P(), "tests_nats_source")
    ATTEMPTS.clear()
    HANDLED.clear()
    GATE.clear()
    GATE.append(anyio.Event())


async def _publish(url: str, stream: str, subject: str, events: list[Event], extra: list[bytes] = ()) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=stream, subjects=[f"{subject}.>"]))
    for ev in events:
        await js.publish(f"{subject}.{ev.room_id}.{ev.kind}", ev.to_json().encode(), headers={"Nats-Msg-Id": ev.id})
    for raw in extra:
        await js.publish(f"{subject}.bad", raw)
    await nc.close()


async def _consumer(url: str, stream: str, durable: str) -> Any:
    nc = await nats.connect(url)
    try:
        return await nc.jetstream().consumer_info(stream, durable)
    finally:
        await nc.close()


async def test_failed_event_is_redelivered_and_nothing_is_acked_early(nats_server, tmp_path):
    events = [make_event("danmaku", id=f"s{i}", room_id=7, ts=float(i), text=str(i)) for i in range(5)]
    await _publish(nats_server.url, "SRCACK", "srcack", events, extra=[b"not json", b'{"v": 99, "kind": "x"}'])
    holder: dict = {}
    async with anyio.create_task_group() as tg:

        async def run() -> None:
            await run_pipeline(
                f"""
[sources.in]
type = "nats"
servers = ["{nats_server.url}"]
subject = "srcack.>"
jetstream = true
stream = "SRCACK"
durable = "worker"
nak_delay = 0.1
ack_wait = 30
[sinks.out]
type = "t.failfirst"
inputs = ["in"]
buffer = 10
""",
                tmp_path,
                on_start=lambda p: holder.__setitem__("p", p),
            )

        tg.start_soon(run)
        await wait_until(lambda: "p" in holder and holder["p"].ready, what="the source to subscribe")
        # every good message is delivered and waiting in the gated sink or its buffer: none acked yet
        # (the two bad messages are terminated at once, which the server counts like acks)
        await wait_until(lambda: holder["p"].metrics.value("component_sent_events_total", component_id="in") == 5,
                         what="five events emitted")
        info = await _consumer(nats_server.url, "SRCACK", "worker")
        assert info.num_ack_pending == 5, info
        assert info.ack_floor.stream_seq == 0, info
        assert holder["p"].metrics.value("nats_bad_messages_total") == 2
        GATE[0].set()
        await wait_until(lambda: HANDLED.count("s2") == 1 and len(HANDLED) == 5, what="all five handled")

        async def settled() -> bool:
            i = await _consumer(nats_server.url, "SRCACK", "worker")
            return i.num_ack_pending == 0 and i.ack_floor.stream_seq == 7

        for _ in range(500):
            if await settled():
                break
            await anyio.sleep(0.01)
        info = await _consumer(nats_server.url, "SRCACK", "worker")
        holder["p"].request_shutdown()
    assert info.num_ack_pending == 0 and info.ack_floor.stream_seq == 7, info
    assert ATTEMPTS["s2"] == 2 and all(ATTEMPTS[f"s{i}"] == 1 for i in (0, 1, 3, 4))
    assert sorted(HANDLED) == [f"s{i}" for i in range(5)]
    m = holder["p"].metrics
    assert m.value("nats_naked_messages_total") == 1 and m.value("nats_acked_messages_total") == 5


async def test_core_queue_group_splits_the_work(nats_server, tmp_path):
    holder: dict = {}
    async with anyio.create_task_group() as tg:

        async def run() -> None:
            await run_pipeline(
                f"""
[sources.a]
type = "nats"
servers = ["{nats_server.url}"]
subject = "qg.>"
queue = "workers"
[sources.b]
type = "nats"
servers = ["{nats_server.url}"]
subject = "qg.>"
queue = "workers"
[sinks.fromA]
type = "testing.capture"
inputs = ["a"]
[sinks.fromB]
type = "testing.capture"
inputs = ["b"]
""",
                tmp_path,
                on_start=lambda p: holder.__setitem__("p", p),
            )

        tg.start_soon(run)
        await wait_until(lambda: "p" in holder and holder["p"].ready, what="both sources subscribed")
        nc = await nats.connect(nats_server.url)
        for i in range(200):
            await nc.publish("qg.1.danmaku", make_event("danmaku", id=f"q{i}", ts=1.0).to_json().encode())
        await nc.flush()
        await nc.close()
        await wait_until(lambda: len(captured["fromA"]) + len(captured["fromB"]) == 200, what="200 events")
        holder["p"].request_shutdown()
    ids_a = {e.id for e in captured["fromA"]}
    ids_b = {e.id for e in captured["fromB"]}
    assert not ids_a & ids_b and ids_a | ids_b == {f"q{i}" for i in range(200)}
    assert ids_a and ids_b  # both members got work
