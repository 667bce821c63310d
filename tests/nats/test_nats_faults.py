"""The nats-server crashes mid-stream and comes back after 5 s (same port, same store).

JetStream mode: the stream ends up with every event exactly once. Core mode: what the server got
plus what the sink counted as discarded (its client buffer overflowing, and its input buffer when
``when_full`` drops) equals what was sent. "What the server got" is read from a
JetStream stream capturing the subjects: it exists as soon as the server accepts clients again,
so no subscriber reconnect race muddies the count.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import anyio
import nats
import pytest
from nats.js.api import StreamConfig
from nats_helpers import stream_ids

from livepipe.testing import run_pipeline

pytestmark = pytest.mark.anyio

N = 30_000
OUTAGE = 5.0  # required by the issue: the server stays down this long


async def _stored(url: str, stream: str) -> int:
    try:
        nc = await nats.connect(url, max_reconnect_attempts=1, connect_timeout=1, allow_reconnect=False)
    except Exception:
        return -1
    try:
        return (await nc.jetstream().stream_info(stream)).state.messages
    except Exception:
        return -1
    finally:
        await nc.close()


async def _crash_and_restart(server, stream: str, threshold: int) -> dict[str, float]:
    """Wait until ``threshold`` messages are stored, SIGKILL the server, restart it after OUTAGE s."""
    stored = 0

    async def poll() -> None:
        nonlocal stored
        stored = await _stored(server.url, stream)

    deadline = time.monotonic() + 60
    while stored < threshold:
        assert time.monotonic() < deadline, "the pipeline never got going"
        await poll()
        await anyio.sleep(0.02)
    server.kill()
    killed_at = time.monotonic()
    await anyio.sleep(OUTAGE)  # the outage itself, not synchronisation
    await anyio.to_thread.run_sync(server.start)
    return {"stored_at_kill": stored, "down_for": time.monotonic() - killed_at}


async def _run_through_a_crash(server, tmp_path, stream: str, chunk: int, sink: str) -> tuple[Any, dict]:
    """Run N generated events into ``[sinks.<...>]`` (``sink``: its TOML table) while the server crashes.

    Returns the finished pipeline and what ``_crash_and_restart`` measured.
    """
    holder: dict = {}
    info: dict = {}
    async with anyio.create_task_group() as tg:

        async def fault() -> None:
            info.update(await _crash_and_restart(server, stream, N // 4))

        tg.start_soon(fault)
        with anyio.fail_after(120):
            await run_pipeline(
                f"""
[livepipe]
shutdown_timeout = 30
[sources.gen]
type = "t.natsgen"
count = {N}
chunk = {chunk}
pause = 0.01
{sink}
inputs = ["gen"]
servers = ["{server.url}"]
reconnect_wait = 0.2
""",
                tmp_path,
                on_start=lambda p: holder.__setitem__("p", p),
            )
    assert info["stored_at_kill"] < N, "the crash happened after the run"
    return holder["p"], info


async def test_jetstream_survives_a_server_crash_exactly_once(make_nats_server, tmp_path):
    server = make_nats_server()
    p, info = await _run_through_a_crash(server, tmp_path, "FAULTJS", 2000, """
[sinks.js]
type = "nats"
jetstream = true
stream = "FAULTJS"
subjects = ["fault.>"]
subject = "fault.{room_id}.{kind}"
max_in_flight = 2000
ack_timeout = 2
""")
    ids = await stream_ids(server.url, "FAULTJS")
    counts = Counter(ids)
    assert not [i for i, c in counts.items() if c > 1], "duplicates in the stream"
    assert set(ids) == {f"e{n}" for n in range(N)}
    m = p.metrics
    assert m.value("nats_lost_events_total", component_id="js") == 0
    assert m.value("nats_confirmed_events_total", component_id="js") == N
    print(f"stored at kill {info['stored_at_kill']}, retries {m.value('nats_retried_publishes_total'):.0f}, "
          f"duplicate acks {m.value('nats_duplicate_acks_total'):.0f}")


@pytest.mark.parametrize("when_full", ["drop_newest", "block"])
async def test_core_losses_equal_the_loss_counter(make_nats_server, tmp_path, when_full):
    server = make_nats_server()
    nc = await nats.connect(server.url)
    await nc.jetstream().add_stream(StreamConfig(name="CAPTURE", subjects=["core.>"], duplicate_window=120))
    await nc.close()
    p, _info = await _run_through_a_crash(server, tmp_path, "CAPTURE", 200, f"""
[sinks.core]
type = "nats"
subject = "core.{{room_id}}.{{kind}}"
pending_bytes = 65536
when_full = "{when_full}"
""")
    m = p.metrics
    received = set(await stream_ids(server.url, "CAPTURE"))
    # `when_full` drops at both of the sink's buffers: the client's (while disconnected) and the
    # runtime's input buffer (while the sink is busy republishing or waiting for a PONG)
    lost_client = m.value("nats_lost_events_total", component_id="core")
    lost_input = m.value("buffer_discarded_events_total", component_id="core")
    discarded = m.value("component_discarded_events_total", component_id="core", intentional="false")
    assert received <= {f"e{n}" for n in range(N)}
    assert discarded == lost_client + lost_input, "a drop missing from component_discarded_events_total"
    assert len(received) + discarded == N, (len(received), lost_client, lost_input)
    if when_full == "block":
        assert discarded == 0
    else:
        assert lost_client > 0  # a 5 s outage overflows a 64 KiB buffer
    print(f"core/{when_full}: received {len(received)}, counted lost {lost_client:.0f} (client buffer) + "
          f"{lost_input:.0f} (input buffer), republished {m.value('nats_retried_publishes_total'):.0f}")
