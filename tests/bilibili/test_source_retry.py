"""bilibili.danmaku retry pacing with the source's default settings on a manual clock.

Sockets and HTTP run for real against the simulator; only the source's own waits (backoff, token
pacing, risk retries) run on a :class:`ManualClock`, moved exactly to the next wake-up whenever
every room is idle. So "60 s of auth failures" takes well under a second of real time and the
counts are exact for the defaults users get.
"""

from __future__ import annotations

import logging

import anyio
import httpx
import pytest

from livepipe.bilibili.retry import TokenBucket, TokenPacer, risk_delay
from livepipe.clock import ManualClock
from livepipe.sim import run_simulator

from .source_support import running_source, step_clock, wait_until

pytestmark = pytest.mark.anyio

DANMU_INFO = "/xlive/web-room/v1/index/getDanmuInfo"
ROOMS = [1000, 1001]


async def set_faults(sim, **faults) -> None:
    """Change faults through the control API, as an operator would."""
    async with httpx.AsyncClient() as http:
        resp = await http.post(f"{sim.base_url}/_sim/faults", json=faults)
        resp.raise_for_status()


def idle(run, rooms=2):
    """Clock sleepers when no room has I/O in flight: one per room not connected on the normal path
    (a degraded room's background retry sleeps while its key-less connection reads)."""
    return lambda: rooms - run.metric("bilibili_connected_rooms") + run.metric("bilibili_degraded_rooms")


async def connect_healthy(sim, run, clock) -> None:
    """Both rooms connected, then a session longer than ``healthy_after``."""
    await step_clock(clock, until=5, sleepers=idle(run), done=lambda: run.metric("bilibili_connected_rooms") == 2)
    assert run.metric("bilibili_connected_rooms") == 2
    await clock.advance(run.source.config.healthy_after + 1)


@pytest.mark.parametrize("seed", range(6))
async def test_auth_failing_60s_on_2_rooms_stays_within_12_token_fetches_and_recovers_within_5s(seed):
    clock = ManualClock()
    async with run_simulator(rooms=ROOMS, rate=0, population_size=10) as sim:
        async with running_source(sim, room_ids=ROOMS, defaults=True, jitter_seed=seed, base_url=sim.base_url,
                                  clock=clock) as run:  # fmt: skip
            await connect_healthy(sim, run, clock)
            before = sim.http_calls[DANMU_INFO]
            await set_faults(sim, fail_auth=True)
            sim.close_connections()
            await wait_until(lambda: run.metric("bilibili_connected_rooms") == 0, what="the drop noticed")
            t0 = clock.monotonic()
            await step_clock(clock, until=t0 + 60, sleepers=idle(run))
            calls = sim.http_calls[DANMU_INFO] - before
            refused = run.metric("bilibili_auth_failures_total")
            assert calls <= 12, f"{calls} getDanmuInfo calls in 60 s of auth failures"
            assert calls >= 4  # a refused token is replaced, just not in a storm
            assert refused >= 20  # and the WebSocket keeps being tried every few seconds
            await set_faults(sim, fail_auth=False)
            t1 = clock.monotonic()
            back = await step_clock(clock, until=t1 + 30, sleepers=idle(run),
                                    done=lambda: run.metric("bilibili_connected_rooms") == 2)  # fmt: skip
            assert run.metric("bilibili_connected_rooms") == 2
            assert back - t1 <= 5.0, f"reconnected {back - t1:.1f} s after the fault cleared"


async def test_a_flapping_session_is_not_healthy_so_backoff_grows():
    """Authenticated but dropped at once, again and again: the attempt count must not reset."""
    clock = ManualClock()
    async with run_simulator(rooms=[1000], rate=0, population_size=10) as sim:
        async with running_source(sim, room_ids=[1000], defaults=True, jitter_seed=1, base_url=sim.base_url,
                                  clock=clock) as run:  # fmt: skip
            await step_clock(clock, until=5, sleepers=idle(run, 1),
                             done=lambda: run.metric("bilibili_connected_rooms") == 1)
            connects = []
            for _ in range(8):
                await wait_until(lambda: run.metric("bilibili_connected_rooms") == 1, what="connected")
                connects.append(clock.monotonic())
                sim.close_connections()
                await wait_until(lambda: run.metric("bilibili_connected_rooms") == 0, what="the drop noticed")
                await step_clock(clock, until=clock.monotonic() + 120, sleepers=idle(run, 1),
                                 done=lambda: run.metric("bilibili_connected_rooms") == 1)  # fmt: skip
            gaps = [b - a for a, b in zip(connects, connects[1:], strict=False)]
            # full jitter, but the ceilings double: the last gaps are far longer than the first
            assert sum(gaps[-3:]) > 3 * sum(gaps[:3]), gaps


async def test_minus_352_for_30s_then_receiving_within_10s_without_keyless():
    clock = ManualClock()
    async with run_simulator(rooms=ROOMS, rate=0, population_size=10) as sim:
        await set_faults(sim, http_352=[DANMU_INFO])
        async with running_source(sim, room_ids=ROOMS, defaults=True, jitter_seed=3, base_url=sim.base_url,
                                  clock=clock) as run:  # fmt: skip
            await step_clock(clock, until=30, sleepers=idle(run))
            assert run.metric("bilibili_connected_rooms") == 0
            assert run.metric("bilibili_api_errors_total", endpoint="getDanmuInfo", code="-352") >= 4
            # what a browser does after -352: one refresh, not one per room or per retry
            assert run.metric("bilibili_identity_refreshes_total") == 1
            assert sim.http_calls["/bapis/bilibili.api.ticket.v1.Ticket/GenWebTicket"] == 1
            assert sim.http_calls["/x/internal/gaia-gateway/ExClimbWuzhi"] == 1
            assert run.source.api.credential.buvid3 in sim.activated_buvids
            assert run.source.api.credential.bili_ticket is not None
            await set_faults(sim, http_352=[])
            t1 = clock.monotonic()
            back = await step_clock(clock, until=t1 + 30, sleepers=idle(run),
                                    done=lambda: run.metric("bilibili_connected_rooms") == 2)  # fmt: skip
            assert back - t1 <= 10.0, f"connected {back - t1:.1f} s after the fault cleared"
            sim.inject_danmaku(1001, "after the risk control")
            await wait_until(lambda: any(e.text == "after the risk control" for e in run.kinds("danmaku")),
                             what="a danmaku")  # fmt: skip
            assert not run.kinds("source.degraded")  # the sim refused key-less: nothing ran degraded


async def test_keyless_fallback_flows_at_once_then_returns_to_normal(caplog):
    caplog.set_level(logging.INFO)
    clock = ManualClock()
    async with run_simulator(rooms=ROOMS, rate=0, population_size=10, allow_keyless=True) as sim:
        await set_faults(sim, http_352=[DANMU_INFO])
        async with running_source(sim, room_ids=ROOMS, defaults=True, jitter_seed=4, base_url=sim.base_url,
                                  clock=clock) as run:  # fmt: skip
            t = await step_clock(clock, until=60, sleepers=idle(run),
                                 done=lambda: run.metric("bilibili_degraded_rooms") == 2)
            assert t <= 5.0, f"degraded connections after {t:.1f} s"
            sim.inject_danmaku(1000, "while degraded")
            await wait_until(lambda: any(e.text == "while degraded" for e in run.kinds("danmaku")), what="danmaku")
            ev = next(e for e in run.kinds("danmaku") if e.text == "while degraded")
            assert ev.uid in (0, None)  # key-less is anonymous
            degraded = run.kinds("source.degraded")
            assert sorted(e.room_id for e in degraded) == ROOMS and all(e.data["mode"] == "keyless" for e in degraded)
            assert set(run.source.health()["degraded"]) == {"1000", "1001"}
            # the proper path keeps being retried in the background while the fault lasts
            n = run.metric("bilibili_api_errors_total", endpoint="getDanmuInfo", code="-352")
            await step_clock(clock, until=clock.monotonic() + 20, sleepers=idle(run))
            assert run.metric("bilibili_api_errors_total", endpoint="getDanmuInfo", code="-352") > n
            assert run.metric("bilibili_degraded_rooms") == 2
            await set_faults(sim, http_352=[])
            t1 = clock.monotonic()
            await step_clock(clock, until=t1 + 30, sleepers=idle(run),
                             done=lambda: len(run.kinds("source.recovered")) == 2)
            assert len(run.kinds("source.recovered")) == 2
            await wait_until(lambda: run.metric("bilibili_connected_rooms") == 2, what="normal connections")
            assert run.metric("bilibili_degraded_rooms") == 0 and run.source.health()["degraded"] == {}
            modes = [e.data["mode"] for e in run.kinds("source.connected")]
            assert modes.count("keyless") >= 2 and modes[-2:] == ["normal", "normal"]


# ---- the pacing rules on their own ---------------------------------------------------------------------


def test_token_pacer_bounds_fetches_per_minute_for_any_jitter():
    import random

    for seed in range(200):
        rng = random.Random(seed)
        pacer = TokenPacer(5.0, 60.0)
        now, fetches = 0.0, 0
        while now <= 60.0:
            if pacer.allowed(now):
                pacer.fetched(now, rng)
                fetches += 1
            now += 0.05  # a caller asking as often as it likes
        assert fetches <= 5, (seed, fetches)
        pacer.reset()
        assert pacer.allowed(now)


def test_risk_delay_grows_with_the_episode_and_is_capped():
    import random

    rng = random.Random(0)
    assert all(1.0 <= risk_delay(rng, 0, initial=2, maximum=60) <= 2.0 for _ in range(100))
    assert all(3.0 <= risk_delay(rng, 30, initial=2, maximum=60) <= 6.0 for _ in range(100))
    assert all(30.0 <= risk_delay(rng, 3600, initial=2, maximum=60) <= 60.0 for _ in range(100))


async def test_token_bucket_spreads_a_thousand_callers():
    clock = ManualClock()
    bucket = TokenBucket(5.0, 10.0, clock)
    import anyio

    done: list[float] = []

    async def caller() -> None:
        await bucket.take()
        done.append(clock.monotonic())

    async with anyio.create_task_group() as tg:
        for _ in range(1000):
            tg.start_soon(caller)
        while len(done) < 1000:
            await anyio.sleep(0)
            if clock.sleepers():
                await clock.advance(clock.next_due() or 0.0)
    # 10 at once (the burst), then 5 per second
    assert sum(1 for t in done if t == 0) == 10
    assert max(done) == pytest.approx(990 / 5.0, abs=0.01)
    for second in range(1, 190):
        assert sum(1 for t in done if second - 1 < t <= second) <= 5


async def test_keyless_fallback_on_the_real_clock_flows_within_5s_of_start():
    """The same promise with nothing simulated but the service: real clock, default settings."""
    import time

    async with run_simulator(rooms=ROOMS, rate=0, population_size=10, allow_keyless=True) as sim:
        await set_faults(sim, http_352=[DANMU_INFO])
        t0 = time.monotonic()
        async with running_source(sim, room_ids=ROOMS, defaults=True, base_url=sim.base_url) as run:
            await wait_until(lambda: run.metric("bilibili_degraded_rooms") == 2, timeout=5, what="2 degraded rooms")
            for room in ROOMS:
                sim.inject_danmaku(room, f"hello {room}")
            await wait_until(lambda: {e.text for e in run.kinds("danmaku")} >= {"hello 1000", "hello 1001"},
                             timeout=5 - (time.monotonic() - t0), what="danmaku in both rooms")  # fmt: skip


async def test_health_endpoint_reports_degraded_rooms_then_ok(tmp_path):
    """/health of a real pipeline: "degraded" with the room and its reason while key-less, "ok" after."""
    from livepipe.testing import running_pipeline

    async with run_simulator(rooms=ROOMS, rate=0, population_size=10, allow_keyless=True) as sim:
        await set_faults(sim, http_352=[DANMU_INFO])
        toml = f"""
[livepipe.metrics]
listen = "127.0.0.1:0"
[sources.live]
type = "bilibili.danmaku"
room_ids = [1000, 1001]
base_url = "{sim.base_url}"
risk_retry_initial = 0.2
risk_retry_max = 0.5
start_gap = 0
[sinks.out]
type = "testing.capture"
inputs = ["live"]
"""
        async with running_pipeline(toml, tmp_path) as p:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{p.metrics_port}") as http:
                body: dict = {}

                async def health() -> dict:
                    resp = await http.get("/health")
                    assert resp.status_code == 200
                    return resp.json()

                for _ in range(500):
                    body = await health()
                    if len(body.get("sources", {}).get("live", {}).get("degraded", {})) == 2:
                        break
                    await anyio.sleep(0.02)
                assert body["status"] == "degraded", body
                assert set(body["sources"]["live"]["degraded"]) == {"1000", "1001"}
                assert all("-352" in why for why in body["sources"]["live"]["degraded"].values())
                assert p.metrics.value("bilibili_degraded_rooms", component_id="live") == 2
                await set_faults(sim, http_352=[])
                for _ in range(500):
                    body = await health()
                    if body["status"] == "ok" and body["sources"]["live"]["connected"] == 2:
                        break
                    await anyio.sleep(0.02)
                assert body == {"status": "ok", "sources": {"live": {"rooms": 2, "connected": 2, "degraded": {}}}}
            p.request_shutdown()


async def test_a_hundred_rooms_under_minus_352_share_the_process_budget():
    """Worst case (all rooms start at once, key-less refused): retries stay within the per-process
    budget of 5 getDanmuInfo calls per second instead of every room retrying every few seconds."""
    rooms = list(range(5000, 5100))
    clock = ManualClock()
    async with run_simulator(rooms=rooms, rate=0, population_size=5, stop_list_every=0) as sim:
        await set_faults(sim, http_352=[DANMU_INFO])
        async with running_source(sim, room_ids=rooms, defaults=True, jitter_seed=5, base_url=sim.base_url,
                                  start_gap=0, clock=clock) as run:  # fmt: skip
            await step_clock(clock, until=10, sleepers=idle(run, len(rooms)), real_timeout=60)
            before = sim.http_calls[DANMU_INFO]
            await step_clock(clock, until=30, sleepers=idle(run, len(rooms)), real_timeout=60)
            calls = (sim.http_calls[DANMU_INFO] - before) / 2  # each -352'd call is retried once with fresh WBI keys
            # 20 s at 5 per second (plus what was already queued at 10 s); unpaced, 100 rooms would
            # retry every 1-6 s: about 500 calls
            assert 60 <= calls <= 5 * 20 + 10, calls
            await set_faults(sim, http_352=[])
            await step_clock(clock, until=90, sleepers=idle(run, len(rooms)), real_timeout=60,
                             done=lambda: run.metric("bilibili_connected_rooms") == len(rooms))  # fmt: skip
            assert run.metric("bilibili_connected_rooms") == len(rooms)
