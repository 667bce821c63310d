"""bilibili.danmaku recovery: heartbeat stall, silence, auth failure, malformed frame, -352, 412, a room that
does not exist, 100 rooms with paced start-up, cancellation, anonymous vs logged in, secrets in logs."""

from __future__ import annotations

import logging
import time

import anyio
import pytest

from livepipe.sim import run_simulator

from .source_support import running_source, wait_until

pytestmark = pytest.mark.anyio


def creds(sim, uname="viewer"):
    acct = sim.create_account(uname)
    return acct, {"main": sim.cookies_for(acct)}


async def test_heartbeat_stall_reconnects_and_counts():
    async with run_simulator(rooms=[1000], rate=30, population_size=30) as sim:
        async with running_source(sim, room_ids=[1000], heartbeat_interval=0.2, heartbeat_timeout=1.0,
                                  liveness_timeout=30) as run:  # fmt: skip
            await wait_until(lambda: run.metric("bilibili_connected_rooms") == 1, what="connected")
            await wait_until(lambda: run.kinds("popularity"), what="a heartbeat reply")
            sim.faults.no_heartbeat_reply = True
            await wait_until(lambda: run.metric("bilibili_disconnects_total", reason="heartbeat_timeout") >= 1,
                             what="heartbeat timeout")  # fmt: skip
            assert run.kinds("source.disconnected")[0].data["reason"] == "heartbeat_timeout"
            sim.faults.no_heartbeat_reply = False
            await wait_until(lambda: run.metric("bilibili_reconnects_total") >= 1
                             and run.metric("bilibili_connected_rooms") == 1, what="reconnected")  # fmt: skip
            n = len(run.kinds("popularity"))
            await wait_until(lambda: len(run.kinds("popularity")) > n, what="heartbeat replies again")


async def test_silence_trips_the_liveness_timeout():
    async with run_simulator(rooms=[1000], rate=0, population_size=10) as sim:
        async with running_source(sim, room_ids=[1000], heartbeat_interval=5, heartbeat_timeout=30,
                                  liveness_timeout=0.8) as run:  # fmt: skip
            # rate 0, heartbeats every 5 s: after the login notice nothing arrives for 0.8 s
            await wait_until(lambda: run.metric("bilibili_disconnects_total", reason="liveness_timeout") >= 1,
                             what="liveness timeout")  # fmt: skip
            await wait_until(lambda: run.metric("bilibili_connects_total") >= 2, what="reconnect")


async def test_auth_failure_fetches_a_fresh_token_and_recovers():
    async with run_simulator(rooms=[1000], rate=5, population_size=10) as sim:
        sim.faults.fail_auth = True
        async with running_source(sim, room_ids=[1000]) as run:
            await wait_until(lambda: run.metric("bilibili_auth_failures_total") >= 2, what="auth failures")
            # a refused token is replaced by a fresh one (paced: see test_source_auth_storm.py)
            await wait_until(lambda: run.metric("bilibili_token_fetches_total") >= 2, what="a fresh token")
            assert run.metric("bilibili_connected_rooms") == 0 and not run.source.ready
            sim.faults.fail_auth = False
            await wait_until(lambda: run.metric("bilibili_connected_rooms") == 1, what="connected after auth fixed")
            assert run.source.ready


async def test_malformed_frame_is_counted_and_skipped_without_reconnecting():
    async with run_simulator(rooms=[1000], rate=0, population_size=10) as sim:
        acct, c = creds(sim)
        async with running_source(sim, room_ids=[1000], credential="main", credentials=c) as run:
            await wait_until(lambda: run.metric("bilibili_connected_rooms") == 1, what="connected")
            sim.faults.malformed_once = True
            await wait_until(lambda: run.metric("bilibili_decode_errors_total") == 1, what="a decode error")
            sim.inject_danmaku(1000, "after the bad frame", uid=acct.uid)
            await wait_until(lambda: any(e.text == "after the bad frame" for e in run.kinds("danmaku")),
                             what="the next danmaku")  # fmt: skip
            assert run.metric("bilibili_connects_total") == 1  # same connection


async def test_ip_block_pauses_the_api_then_recovers():
    async with run_simulator(rooms=[1000, 1001], rate=0, population_size=10) as sim:
        sim.faults.http_412 = ["/room/v1/Room/room_init"]
        async with running_source(sim, room_ids=[1000, 1001], blocked_backoff=0.5, start_gap=0.1) as run:
            await wait_until(lambda: run.metric("bilibili_api_errors_total", code="-412") >= 1, what="-412")
            t0 = time.monotonic()
            # the pause covers every room of the source: no new call for the pause's length
            n = run.metric("bilibili_api_errors_total", code="-412")
            await wait_until(lambda: run.metric("bilibili_api_errors_total", code="-412") > n, what="the retry")
            assert time.monotonic() - t0 >= 0.3
            sim.faults.http_412 = []
            await wait_until(lambda: run.metric("bilibili_connected_rooms") == 2, what="both rooms connected")
            assert run.source.ready


async def test_a_room_that_does_not_exist_is_retried_slowly_and_others_run():
    async with run_simulator(rooms=[1000], rate=5, population_size=10) as sim:
        async with running_source(sim, room_ids=[1000, 424242], permanent_backoff=0.2) as run:
            await wait_until(lambda: run.metric("bilibili_connected_rooms") == 1, what="the good room")
            await wait_until(lambda: run.metric("bilibili_api_errors_total", code="60004") >= 3,
                             what="slow retries of the missing room")  # fmt: skip
            assert not run.source.ready and not run.finished
            assert run.metric("bilibili_connected_rooms") == 1


async def test_hundred_rooms_paced_start_and_stay_connected():
    rooms = list(range(5000, 5100))
    gap = 0.02
    async with run_simulator(rooms=rooms, rate=0, population_size=5, stop_list_every=0) as sim:
        t0 = time.monotonic()
        async with running_source(sim, room_ids=rooms, start_gap=gap) as run:
            await wait_until(lambda: run.metric("bilibili_connected_rooms") == 100, timeout=60, what="100 rooms")
            took = time.monotonic() - t0
            assert took >= 99 * gap  # paced, not all at once
            assert run.source.ready
            assert len(run.kinds("source.connected")) == 100
            # stay connected for a while (heartbeats keep them alive; nothing drops)
            await anyio.sleep(1.5)
            assert run.metric("bilibili_connected_rooms") == 100
            assert run.metric("bilibili_disconnects_total") == 0
            assert sum(len(sim.hub.clients.get(r, ())) for r in rooms) == 100


async def test_cancellation_closes_every_socket():
    async with run_simulator(rooms=[1000, 1001], rate=5, population_size=10) as sim:
        async with running_source(sim, room_ids=[1000, 1001]) as run:
            await wait_until(lambda: run.metric("bilibili_connected_rooms") == 2, what="connected")
        await sim.wait_for_no_clients(1000, timeout=5)
        await sim.wait_for_no_clients(1001, timeout=5)


async def test_anonymous_warns_once_per_room_and_marks_masked(caplog):
    caplog.set_level(logging.WARNING, logger="livepipe.source.live")
    async with run_simulator(rooms=[1000, (76, 22000076)], rate=40, population_size=30) as sim:
        async with running_source(sim, room_ids=[1000, 76]) as run:
            await wait_until(lambda: sum(1 for e in run.kinds("danmaku") if e.room_id == 22000076) >= 10
                             and sum(1 for e in run.kinds("danmaku") if e.room_id == 1000) >= 10,
                             what="danmaku in both rooms")  # fmt: skip
            assert run.kinds("login_notice")
            dm = run.kinds("danmaku")
            assert all(e.data["masked"] and e.uid is None for e in dm)
            assert all(e.data["anonymous"] for e in run.kinds("source.connected"))
    warnings = [r.getMessage() for r in caplog.records if "anonymous" in r.getMessage()]
    assert len(warnings) == 2, warnings
    assert any("room 1000" in w for w in warnings) and any("room 22000076" in w for w in warnings)


async def test_logged_in_uids_are_real_and_short_ids_resolve():
    async with run_simulator(rooms=[(76, 22000076)], rate=40, population_size=30) as sim:
        acct, c = creds(sim)
        async with running_source(sim, room_ids=[76], credential="main", credentials=c) as run:
            await wait_until(lambda: len(run.kinds("danmaku")) >= 10, what="danmaku")
            known = {u.uid for u in sim.populations[22000076].users}
            assert all(not e.data["masked"] and e.uid in known for e in run.kinds("danmaku"))
            assert not run.kinds("login_notice")
            conn = run.kinds("source.connected")[0]
            assert conn.room_id == 22000076 and conn.data["uid"] == acct.uid and not conn.data["anonymous"]
            assert [c.uid for c in sim.hub.clients[22000076]] == [acct.uid]


async def test_uid_mismatch_is_a_clear_error_and_not_an_exit(caplog):
    async with run_simulator(rooms=[1000], rate=0, population_size=10) as sim:
        acct, c = creds(sim)
        c["main"]["DedeUserID"] = str(acct.uid + 1)
        async with running_source(sim, room_ids=[1000], credential="main", credentials=c,
                                  permanent_backoff=0.2) as run:  # fmt: skip
            await wait_until(lambda: run.metric("bilibili_credential_errors_total", problem="uid_mismatch") >= 2,
                             what="the mismatch, retried")  # fmt: skip
            assert run.metric("bilibili_connected_rooms") == 0 and not run.finished


async def test_secrets_never_reach_logs_or_events(caplog):
    caplog.set_level(logging.DEBUG)
    async with run_simulator(rooms=[1000], rate=20, population_size=10) as sim:
        acct, c = creds(sim)
        acct.refresh_needed = True  # exercise the refresh path too
        c["main"]["refresh_token"] = acct.refresh_token
        sim.faults.fail_auth = True
        async with running_source(sim, room_ids=[1000], credential="main", credentials=c) as run:
            await wait_until(lambda: run.metric("bilibili_auth_failures_total") >= 1, what="auth failure")
            sim.faults.fail_auth = False
            await wait_until(lambda: len(run.kinds("danmaku")) >= 5, what="danmaku")
            text = "\n".join(r.getMessage() for r in caplog.records) + repr(run.source.credential) \
                + repr(run.source.api) + "".join(e.to_json() if hasattr(e, "to_json") else repr(e)
                                                 for e in run.events)  # fmt: skip
            new = run.source.credential
        secrets = [acct.sessdata, acct.bili_jct, acct.refresh_token, new.sessdata.get_secret_value(),
                   new.bili_jct.get_secret_value(), new.refresh_token.get_secret_value()]  # fmt: skip
        assert run.metric("bilibili_cookie_refreshes_total") == 1
        for s in secrets:
            assert s and s not in text


async def test_bodies_that_are_not_json_objects_are_counted_on_metrics_and_the_frame_kept(tmp_path, caplog):
    """A well-framed frame whose op-5 bodies are cut JSON, bad UTF-8, an array and a bare word around
    one good message: the good message arrives, the bad bodies are counted by reason and exported on
    the pipeline's /metrics, one WARNING is logged (not one per body), and the connection stays up."""
    import httpx

    from livepipe.sim.ws import BAD_JSON_BODIES
    from livepipe.testing import running_pipeline
    from livepipe.testing import wait_until as wait_for

    async with run_simulator(rooms=[1000], rate=0, population_size=10, stop_list_every=0) as sim:
        acct = sim.create_account("viewer")
        (tmp_path / "cookies.json").write_text(__import__("json").dumps(sim.cookies_for(acct)))
        toml = f"""
[livepipe.metrics]
listen = "127.0.0.1:0"
[credentials.main]
cookie_file = "cookies.json"
[sources.live]
type = "bilibili.danmaku"
room_ids = [1000]
base_url = "{sim.base_url}"
credential = "main"
[sinks.out]
type = "testing.capture"
inputs = ["live"]
"""
        from livepipe.testing import captured

        def stop_lists() -> list:
            return [e for e in captured.get("out", []) if e.cmd == "STOP_LIVE_ROOM_LIST"]

        with caplog.at_level(logging.WARNING, logger="livepipe"):
            async with running_pipeline(toml, tmp_path) as p:
                m = p.metrics.value
                await wait_for(lambda: m("bilibili_connected_rooms") == 1, what="connected")
                for rounds in (1, 2, 3):
                    sim.faults.bad_json_once = True
                    await wait_for(lambda r=rounds: len(stop_lists()) == r, what="the good message of the frame")
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{p.metrics_port}") as c:
                    text = (await c.get("/metrics")).text
                p.request_shutdown()
        # per frame: cut JSON, bad UTF-8 and a bare word are bad_json; the array is bad_message
        assert len(BAD_JSON_BODIES) == 4
        labels = 'component_id="live",component_type="bilibili.danmaku"'
        assert f'bilibili_bad_messages_total{{{labels},reason="bad_json"}} 9' in text, text
        assert f'bilibili_bad_messages_total{{{labels},reason="bad_message"}} 3' in text, text
        assert m("bilibili_decode_errors_total") == 0 and m("bilibili_connects_total") == 1
        warnings = [r.getMessage() for r in caplog.records if "not JSON" in r.getMessage()]
        assert len(warnings) == 1 and "bilibili_bad_messages_total" in warnings[0]
