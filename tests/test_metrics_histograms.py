"""The histograms of /metrics, from real runs: source -> sink latency, action request duration, reconnects.

Each test makes the measured thing happen a known number of times (events through a sink, requests
the simulator answered, connections it dropped) and checks the histogram counted exactly those,
with durations inside bounds the test itself measured. The exposition tests check that /metrics is
standard Prometheus text, or OpenMetrics when the scraper asks for it, as prometheus_client parses it.
"""

from __future__ import annotations

import json
import time

import anyio
import httpx
import pytest
import tomli_w
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

from livepipe.bilibili import actions as act
from livepipe.component import Emit, Sink
from livepipe.events import Event
from livepipe.runtime.metrics import ACTION_DURATION, LATENCY_BUCKETS, RECONNECT_DURATION, SINK_LATENCY
from livepipe.schema import SinkConfig
from livepipe.sim import run_simulator
from livepipe.testing import load_toml, register, run_pipeline, running_pipeline, wait_until
from tests.bilibili.open_support import app_options, running_open_source
from tests.bilibili.sink_support import count_requests, credential_table
from tests.bilibili.source_support import running_source

pytestmark = pytest.mark.anyio

ROOM = 1000
SEND_PATH = "/msg/send"
SLOW = 0.06  # seconds the slow sink takes per write


class SlowSink(Sink):
    """Takes SLOW seconds per write."""

    type_name = "t.slow"

    class Config(SinkConfig):
        pass

    async def write(self, event: Event, emit: Emit) -> None:
        await anyio.sleep(SLOW)


def _events(n: int) -> list[dict]:
    return [{"id": f"e{i}", "kind": "danmaku", "room_id": ROOM, "ts": 1.0 + i, "uid": i, "text": "hi"}
            for i in range(n)]


async def test_source_to_sink_latency_counts_every_written_event_of_each_sink(tmp_path):
    register(SlowSink, plugin="test_metrics_histograms")
    doc = {
        "sources": {"src": {"type": "testing.events", "events": _events(20)}},
        "processors": {"pass": {"type": "filter", "inputs": ["src"], "kinds": ["danmaku"]}},
        "sinks": {"fast": {"type": "testing.capture", "inputs": ["pass"]},
                  "slow": {"type": "t.slow", "inputs": ["src"], "buffer": 32}},
    }
    p = await run_pipeline(tomli_w.dumps(doc), tmp_path)
    m = p.metrics
    (fast,) = m.histograms(SINK_LATENCY, component_id="fast", component_type="testing.capture")
    (slow,) = m.histograms(SINK_LATENCY, component_id="slow", component_type="t.slow")
    assert fast.count == m.value("sink_delivered_events_total", component_id="fast") == 20
    assert slow.count == m.value("sink_delivered_events_total", component_id="slow") == 20
    assert fast.bounds == LATENCY_BUCKETS
    # every event waited at least its own SLOW write, the n-th also the n-1 writes before it in the buffer
    below = dict(slow.cumulative())
    assert below["0.05"] == 0 and below["+Inf"] == 20
    assert slow.sum >= SLOW * (20 * 21 / 2) * 0.99
    assert not m.histograms(SINK_LATENCY, component_id="pass") and not m.histograms(SINK_LATENCY, component_id="src")


async def test_action_duration_counts_each_request_the_simulator_answered(tmp_path):
    async with run_simulator(rooms=[ROOM]) as sim:
        owner = sim.create_account(owner_of=ROOM)
        counts = count_requests(sim)
        sim.faults.http_delay = 0.03  # every answer takes at least this long
        (tmp_path / "actions.jsonl").write_text("\n".join(json.dumps(act.send(f"line {i}", room_id=ROOM).to_dict())
                                                          for i in range(3)) + "\n")
        common = {"inputs": ["src"], "credential": "main", "base_url": sim.base_url, "journal": "",
                  "min_interval": 0.05, "verify_login": False}
        doc = {
            "credentials": {"main": credential_table(sim.cookies_for(owner))},
            "sources": {"src": {"type": "replay", "path": "actions.jsonl"}},
            "sinks": {"send": {"type": "bilibili.send", **common},
                      "rehearsal": {"type": "bilibili.send", **common, "dry_run": True}},
        }
        p = await run_pipeline(load_toml(tomli_w.dumps(doc), tmp_path))
    m = p.metrics
    assert m.value("action_outcomes_total", component_id="send", outcome="success") == 3
    (send,) = m.histograms(ACTION_DURATION, component_id="send", component_type="bilibili.send")
    requests = sum(n for path, n in counts.items() if not path.startswith("/_sim"))
    assert counts[SEND_PATH] >= 3  # (a message within the simulator's 1 s limit is refused and retried)
    assert send.count == requests == counts[SEND_PATH], counts
    assert dict(send.cumulative())["0.025"] == 0  # the simulator held each answer 0.03 s
    (rehearsal,) = m.histograms(ACTION_DURATION, component_id="rehearsal")
    assert rehearsal.count == 0  # a dry run sends nothing: exposed (for dashboards), never observed


async def test_a_dropped_connection_gives_one_reconnect_observation_spanning_the_outage():
    async with run_simulator(rooms=[ROOM]) as sim:
        async with running_source(sim, room_ids=[ROOM]) as run:
            await wait_until(lambda: run.metric("bilibili_connects_total") == 1, what="connected")
            (hist,) = run.registry.histograms(RECONNECT_DURATION)
            assert hist.count == 0  # the first connection is not a reconnect
            sim.faults.fail_auth = True  # every attempt after the drop is refused ...
            assert sim.close_connections(ROOM) == 1
            await wait_until(lambda: run.metric("bilibili_auth_failures_total") >= 1, what="a refused attempt")
            refused_from = time.monotonic()
            await wait_until(lambda: run.metric("bilibili_auth_failures_total") >= 3, what="three refused attempts")
            sim.faults.fail_auth = False  # ... until the fault clears
            cleared = time.monotonic()
            await wait_until(lambda: run.metric("bilibili_reconnects_total") == 1, timeout=20, what="reconnected")
            assert hist.count == 1
            assert cleared - refused_from <= hist.sum < 30
            assert run.metric(RECONNECT_DURATION + "_count") == 1


async def test_the_open_source_observes_each_reconnect():
    async with run_simulator(rooms=[ROOM], seed=5) as sim:
        async with running_open_source(sim, **app_options(sim, ROOM)) as run:
            await wait_until(lambda: run.metric("bilibili_connects_total") == 1, what="connected")
            (hist,) = run.registry.histograms(RECONNECT_DURATION, component_type="bilibili.open")
            for i in range(2):
                await wait_until(lambda: sim.open.hub.clients.get(ROOM), what="a client")
                for c in sim.open.hub.all_clients():
                    c.close_soon()
                await wait_until(lambda i=i: run.metric("bilibili_connects_total") == i + 2, what="reconnected")
            assert hist.count == 2
            assert 0 < hist.sum < 20


async def test_metrics_endpoint_speaks_prometheus_text_and_openmetrics_on_request(tmp_path):
    doc = {
        "livepipe": {"metrics": {"listen": "127.0.0.1:0"}},
        "sources": {"src": {"type": "testing.events", "events": _events(5)}},
        "sinks": {"out": {"type": "testing.capture", "inputs": ["src"]},
                  "hold": {"type": "t.slow", "inputs": ["src"]}},
    }
    register(SlowSink, plugin="test_metrics_histograms")
    async with running_pipeline(load_toml(tomli_w.dumps(doc), tmp_path)) as p:
        await wait_until(lambda: p.metrics.value(SINK_LATENCY + "_count", component_id="out") == 5, what="events out")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{p.metrics_port}") as c:
            plain = await c.get("/metrics")
            om = await c.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        p.request_shutdown()
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.endswith("# EOF\n") and not plain.text.rstrip().endswith("# EOF")
    for text, parse in ((plain.text, parse_prometheus), (om.text, parse_openmetrics)):
        families = {f.name: f for f in parse(text)}
        lat = families[SINK_LATENCY]
        assert lat.type == "histogram"
        counts = {s.labels["component_id"]: s.value for s in lat.samples if s.name == SINK_LATENCY + "_count"}
        assert counts["out"] == 5
        sent = families.get("component_sent_events") or families["component_sent_events_total"]
        assert sent.type == "counter"
        assert any(s.name == "component_sent_events_total" and s.labels == {"component_id": "src",
                   "component_type": "testing.events"} and s.value == 5 for s in sent.samples)
        assert families["buffer_max_events"].type == "gauge"


def test_observe_since_counts_as_observe_one_by_one():
    from livepipe.runtime.metrics import Histogram

    one, many = Histogram([0.001, 0.01, 0.1, 1]), Histogram([0.001, 0.01, 0.1, 1])
    starts = [10.0, 9.995, 9.95, 9.5, 8.0, 10.0]
    for s in starts:
        one.observe(10.0 - s)
    many.observe_since(10.0, starts)
    assert many.counts == one.counts == [2, 1, 1, 1, 1]
    assert many.sum == one.sum
