"""The nats sink builds each HPUB frame itself: byte for byte what nats-py's ``publish`` writes, same checks."""

from __future__ import annotations

import sys
from pathlib import Path

import nats
import nats.errors
import pytest

from livepipe.component import Batch, Emit, Source
from livepipe.components import nats_sink
from livepipe.components.nats_sink import NatsSink, header_block
from livepipe.events import make_event
from livepipe.runtime.delivery import Delivery
from livepipe.schema import SourceConfig, field
from livepipe.testing import register, run_pipeline, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "components"))
from component_helpers import build, ev  # noqa: E402

pytestmark = pytest.mark.anyio

EVENTS = [
    ev("danmaku", id="a1", room_id=1001, text="hi"),
    ev("action.ban", id="  spaced id\r\nwith newlines  ", room_id=7, uid=5),  # trimmed, CR/LF -> spaces
    ev("odd kind", id="x" * 300, room_id=None),  # no Livepipe-Room header
    ev("danmaku", id="中文-id", room_id=2**40, text="长" * 2000),
]


async def _frames(nc, publish) -> list[bytes]:
    """Every command ``publish`` adds to the client's outgoing buffer (``_pending``, which the flusher writes)."""
    got: list[bytes] = []

    class Recording(list):
        def append(self, cmd: bytes) -> None:
            got.append(cmd)
            super().append(cmd)

        def insert(self, i: int, cmd: bytes) -> None:
            got.append(cmd)
            super().insert(i, cmd)

    nc._pending = Recording(nc._pending)
    size = nc._pending_data_size
    try:
        await publish()
    finally:
        nc._pending = list(nc._pending)
    assert nc._pending_data_size - size == sum(len(c) for c in got) or not nc._pending_data_size  # (or flushed)
    return got


@pytest.mark.parametrize("jetstream", [False, True], ids=["core", "jetstream"])
async def test_frames_equal_nats_py_publish(nats_server, tmp_path, jetstream):
    assert nats_sink._FAST_PUBLISH, "this nats-py lacks what the fast publish path uses: it falls back to publish"
    cfg = {"inputs": ["src"], "servers": [nats_server.url], "subject": "wire.{room_id}.{kind}"}
    if jetstream:
        cfg |= {"jetstream": True, "stream": "WIRE"}
    sink = build(NatsSink, cfg, config_dir=tmp_path)
    nc = await nats.connect(nats_server.url)
    try:
        for event in EVENTS:
            out = sink._message(event)
            headers = {"Nats-Msg-Id": event.id, "Livepipe-Kind": event.kind}
            if event.room_id is not None:
                headers["Livepipe-Room"] = str(event.room_id)
            if jetstream:
                headers["Nats-Expected-Stream"] = "WIRE"
            assert out.headers == header_block(headers)
            reply = "_INBOX.abc.7" if jetstream else ""
            ours = await _frames(nc, lambda o=out, r=reply: sink._publish(nc, o, reply=r))
            theirs = await _frames(nc, lambda o=out, r=reply, h=headers: nc.publish(o.subject, o.payload, reply=r,
                                                                                     headers=h))
            assert len(ours) == 1 and ours == theirs
        await nc.flush()
        # the fallback (nats-py's publish with the headers parsed back) writes the same bytes too
        sink._fast = False
        out = sink._message(EVENTS[1])
        slow = await _frames(nc, lambda: sink._publish(nc, out))
        sink._fast = True
        fast = await _frames(nc, lambda: sink._publish(nc, out))
        assert slow == fast
    finally:
        await nc.close()


async def test_a_batch_writes_what_publish_writes_one_by_one(nats_server, tmp_path):
    """write_batch (core mode, connected) puts the same commands in the client's buffer as nats-py's publish."""
    sink = build(NatsSink, {"inputs": ["src"], "servers": [nats_server.url], "subject": "wire.{room_id}.{kind}"},
                 config_dir=tmp_path)
    await sink.start()
    try:
        await sink.healthcheck()  # connected
        nc = sink.conn.nc
        events = EVENTS * 3
        ours = await _frames(nc, lambda: sink.write_batch(Batch(list(events)), None))
        theirs: list[bytes] = []
        for event in events:
            headers = {"Nats-Msg-Id": event.id, "Livepipe-Kind": event.kind}
            if event.room_id is not None:
                headers["Livepipe-Room"] = str(event.room_id)
            out = sink._message(event)
            theirs += await _frames(nc, lambda o=out, h=headers: nc.publish(o.subject, o.payload, headers=h))
        assert len(ours) == len(events) and ours == theirs
        assert sink.in_flight == len(events) and [o.seq for o in sink._unconfirmed] == list(range(1, len(events) + 1))
        assert sink._published.value == len(events)
    finally:
        await sink.stop()
    assert sink._confirmed.value == len(events) and sink.in_flight == 0  # confirmed by the server at stop


async def test_same_checks_as_publish(nats_server, tmp_path):
    sink = build(NatsSink, {"inputs": ["src"], "servers": [nats_server.url]}, config_dir=tmp_path)
    nc = await nats.connect(nats_server.url)
    try:
        big = sink._message(ev("danmaku", id="big", text="x" * (nc.max_payload + 1)))
        with pytest.raises(nats.errors.MaxPayloadError):
            await sink._publish(nc, big)
        with pytest.raises(nats.errors.MaxPayloadError):
            await nc.publish(big.subject, big.payload)
    finally:
        await nc.close()
    small = sink._message(ev("danmaku", id="small"))
    with pytest.raises(nats.errors.ConnectionClosedError):
        await sink._publish(nc, small)


SETTLED: list[tuple[int, bool]] = []
HOLDS: dict[int, int] = {}


class CountingDelivery(Delivery):
    """A Delivery that counts the shares taken of it (emit, the buffer, and the sink until confirmed)."""

    def __init__(self, n: int) -> None:
        super().__init__(lambda ok: SETTLED.append((n, ok)))
        self.n = n

    def hold(self) -> None:
        HOLDS[self.n] = HOLDS.get(self.n, 0) + 1
        super().hold()


class AckingSource(Source):
    """Emits ``count`` events, each with a Delivery recording whether the sink confirmed it."""

    type_name = "t.natsacking"

    class Config(SourceConfig):
        count: int = field(2000, description="how many")

    async def run(self, emit: Emit) -> None:
        for n in range(self.config.count):
            await emit(make_event("danmaku", id=f"k{n}", room_id=1, ts=1.0, text=f"m{n}"),
                       delivery=CountingDelivery(n))


@pytest.mark.parametrize("jetstream", [False, True], ids=["core", "jetstream"])
async def test_batches_hold_each_delivery_until_the_server_confirms(nats_server, tmp_path, monkeypatch, jetstream):
    """The sink takes what waits in its buffer at once; each event's delivery settles when the server confirmed it."""
    register(AckingSource, plugin="test_nats_wire")
    SETTLED.clear()
    HOLDS.clear()
    sizes: list[int] = []
    real = NatsSink.write_batch

    async def counting(self, batch, emit):
        sizes.append(len(batch.events))
        await real(self, batch, emit)

    monkeypatch.setattr(NatsSink, "write_batch", counting)
    nc = await nats.connect(nats_server.url)
    got: list[str] = []

    async def cb(msg):
        got.append(msg.headers["Nats-Msg-Id"])

    await nc.subscribe("acks.>", cb=cb, pending_msgs_limit=10_000)
    await nc.flush()
    n = 2000
    js = 'jetstream = true\nstream = "ACKS"\nsubjects = ["acks.>"]' if jetstream else ""
    p = await run_pipeline(f"""
[sources.src]
type = "t.natsacking"
count = {n}
[sinks.out]
type = "nats"
inputs = ["src"]
servers = ["{nats_server.url}"]
subject = "acks.{{room_id}}"
buffer = 1000
{js}
""", tmp_path)
    await wait_until(lambda: len(got) >= n, timeout=30, what="every message at the subscriber")
    await nc.close()
    assert got == [f"k{i}" for i in range(n)]
    assert sum(sizes) == n and len(sizes) < n / 10  # batches, not one by one
    assert sorted(SETTLED) == [(i, True) for i in range(n)]
    # emit's share, the buffer's, and the sink's own until the server confirmed (PONG or PubAck)
    assert set(HOLDS.values()) == {3}
    assert p.metrics.value("nats_confirmed_events_total", component_id="out") == n
    assert p.metrics.value("sink_delivered_events_total", component_id="out") == n
