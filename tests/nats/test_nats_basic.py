"""nats sink: 100,000 events reach a subscriber in order; subjects, headers and payload are the documented ones."""

from __future__ import annotations

import time

import anyio
import nats
import pytest

from livepipe.events import Event
from livepipe.testing import run_pipeline

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("jetstream", [False, True], ids=["core", "jetstream"])
async def test_100k_events_arrive_in_order(nats_server, tmp_path, jetstream):
    n = 100_000
    nc = await nats.connect(nats_server.url)
    got: list[int] = []
    done = anyio.Event()
    prefix = f"order{int(jetstream)}"

    async def cb(msg):
        got.append(int(msg.headers["Nats-Msg-Id"][1:]))
        if len(got) >= n:
            done.set()

    await nc.subscribe(f"{prefix}.>", cb=cb, pending_msgs_limit=n + 10, pending_bytes_limit=512 * 1024 * 1024)
    await nc.flush()
    js_opts = f'jetstream = true\nstream = "ORDER"\nsubjects = ["{prefix}.>"]' if jetstream else ""
    t0 = time.monotonic()
    p = await run_pipeline(
        f"""
[sources.gen]
type = "t.natsgen"
count = {n}
[sinks.out]
type = "nats"
inputs = ["gen"]
servers = ["{nats_server.url}"]
subject = "{prefix}.{{room_id}}.{{kind}}"
buffer = 1000
{js_opts}
""",
        tmp_path,
    )
    with anyio.fail_after(60):
        await done.wait()
    elapsed = time.monotonic() - t0
    await nc.close()
    assert got == list(range(n))
    m = p.metrics
    assert m.value("nats_confirmed_events_total", component_id="out") == n
    assert m.value("nats_lost_events_total", component_id="out") == 0
    print(f"{n} events in {elapsed:.2f} s ({n / elapsed:,.0f}/s)")


async def test_subject_headers_and_payload(nats_server, tmp_path):
    nc = await nats.connect(nats_server.url)
    msgs = []

    async def cb(m):
        msgs.append(m)

    await nc.subscribe("shape.>", cb=cb)
    await nc.flush()
    await run_pipeline(
        f"""
[sources.src]
type = "testing.events"
events = [
  {{ kind = "danmaku", id = "a1", room_id = 1001, ts = 1.0, text = "hi", raw = {{ cmd = "DANMU_MSG" }} }},
  {{ kind = "action.ban", id = "a2", room_id = 1001, ts = 2.0, uid = 5 }},
  {{ kind = "odd kind*>", id = "a3", ts = 3.0 }},
]
[sinks.out]
type = "nats"
inputs = ["src"]
servers = ["{nats_server.url}"]
subject = "shape.{{room_id}}.{{kind}}"
include_raw = false
""",
        tmp_path,
    )
    await nc.flush()
    for _ in range(100):
        if len(msgs) == 3:
            break
        await anyio.sleep(0.01)
    await nc.close()
    assert [m.subject for m in msgs] == ["shape.1001.danmaku", "shape.1001.action.ban", "shape.none.odd_kind__"]
    assert msgs[0].headers == {"Nats-Msg-Id": "a1", "Livepipe-Kind": "danmaku", "Livepipe-Room": "1001"}
    assert "Livepipe-Room" not in msgs[2].headers
    ev = Event.from_json(msgs[0].data)
    assert ev.id == "a1" and ev.text == "hi" and ev.raw is None
