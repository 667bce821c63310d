"""The bilibili.open source against the simulator's open platform: games, heartbeats, events, restarts, errors."""

from __future__ import annotations

import logging
import time

import pytest
from pydantic import ValidationError

from livepipe.bilibili.open_source import OpenPlatformError
from livepipe.sim import messages as M
from livepipe.sim.app import run_simulator
from tests.bilibili.open_support import app_options, running_open_source
from tests.bilibili.source_support import wait_until

pytestmark = pytest.mark.anyio


def _calls(sim, path, code=None):
    return [c for c in sim.open.calls if c["path"] == path and (code is None or c["code"] == code)]


async def test_start_heartbeats_and_danmaku_gift_super_chat_guard_flow_with_open_ids():
    async with run_simulator(rooms=[1000], seed=5) as sim:
        opts = app_options(sim, 1000)
        async with running_open_source(sim, **opts) as run:
            await wait_until(lambda: run.kinds("source.connected"), what="connected")
            [conn] = run.kinds("source.connected")
            assert conn.room_id == 1000 and conn.data["game_id"] and not conn.data["anonymous"]
            room = sim.room(1000)
            users = sim.populations[1000].users
            sim.inject_danmaku(1000, "open hello", uid=users[0].uid)
            now = time.time()
            sim.inject(1000, [M.send_gift(users[1], room, now, gift_index=2, num=5, rnd=10**18),
                              M.super_chat(users[2], room, now, "sc via open", 50, 4242),
                              M.guard_buy(users[3], room, now, 2), M.user_toast_v2(users[3], room, now, 2)])
            await wait_until(lambda: run.kinds("guard") and run.kinds("super_chat") and run.kinds("gift")
                             and run.kinds("danmaku"), what="all four kinds")  # fmt: skip
            await wait_until(lambda: len(_calls(sim, "/v2/app/heartbeat", 0)) >= 2, what="two game heartbeats")
            [dm] = [e for e in run.kinds("danmaku") if e.text == "open hello"]
            assert dm.cmd == "LIVE_OPEN_PLATFORM_DM" and dm.uid is None and dm.uname == users[0].uname
            assert dm.data["open_id"] == sim.open.open_id(users[0].uid) and dm.data["masked"] is False
            [gift] = run.kinds("gift")
            assert gift.uname == users[1].uname and gift.data["num"] == 5
            assert gift.data["total_coin"] == gift.data["price"] * 5 and gift.data["open_id"]
            [sc] = run.kinds("super_chat")
            assert sc.text == "sc via open" and sc.data["price"] == 50 and sc.data["sc_id"] == 4242
            assert len(run.kinds("guard")) == 1  # the toast is not pushed a second time
            assert run.kinds("guard")[0].data["guard_level"] == 2
        # shutdown ended the game with /v2/app/end, and the simulator recorded it
        [end] = _calls(sim, "/v2/app/end")
        assert end["code"] == 0 and end["game_id"] == conn.data["game_id"]
        assert sim.open.games[conn.data["game_id"]].ended == "end"


async def test_an_expired_game_is_started_again_after_interaction_end_and_keeps_flowing():
    async with run_simulator(rooms=[1000], seed=5, open_session_expiry=0.4) as sim:
        # no game heartbeat in time: the simulator expires the game and pushes INTERACTION_END
        async with running_open_source(sim, heartbeat_interval=30.0, **app_options(sim, 1000)) as run:
            await wait_until(lambda: len(run.kinds("source.connected")) >= 2, what="a second connection")
            reasons = [e.data["reason"] for e in run.kinds("source.disconnected")]
            assert reasons and reasons[0] == "session_ended"
            games = [e.data["game_id"] for e in run.kinds("source.connected")]
            assert len(set(games)) == len(games) >= 2
            assert sim.open.games[games[0]].ended == "expired"
            assert not [e for e in run.events if e.cmd == "LIVE_OPEN_PLATFORM_INTERACTION_END"]
            n = len(run.kinds("source.connected"))
            await wait_until(lambda: sim.open.hub.clients.get(1000), what="a client on the new game")
            sim.inject_danmaku(1000, "after restart", uid=sim.populations[1000].users[0].uid)
            await wait_until(lambda: any(e.text == "after restart" for e in run.kinds("danmaku"))
                             or len(run.kinds("source.connected")) > n + 1, what="danmaku after the restart")


async def test_heartbeat_7003_restarts_the_game_even_without_interaction_end():
    async with run_simulator(rooms=[1000], seed=5) as sim:
        async with running_open_source(sim, **app_options(sim, 1000)) as run:
            await wait_until(lambda: run.kinds("source.connected"), what="connected")
            first = run.kinds("source.connected")[0].data["game_id"]
            sim.open.games[first].ended = "expired"  # silently: only the next heartbeat can tell
            await wait_until(lambda: len(run.kinds("source.connected")) >= 2, what="reconnected on a new game")
            assert _calls(sim, "/v2/app/heartbeat", 7003)
            assert run.kinds("source.disconnected")[0].data["reason"] == "session_ended"
            assert "7003" in run.kinds("source.disconnected")[0].data["error"]
            assert run.kinds("source.connected")[1].data["game_id"] != first


async def test_several_rooms_share_one_batch_heartbeat_and_each_ends_on_shutdown():
    async with run_simulator(rooms=[1000, 1001, (76, 22000076)], seed=5) as sim:
        async with running_open_source(sim, **app_options(sim, 1000, 1001, 22000076)) as run:
            await wait_until(lambda: len(run.kinds("source.connected")) == 3, what="three rooms")
            await wait_until(lambda: _calls(sim, "/v2/app/batchHeartbeat", 0), what="a batch heartbeat")
            assert not _calls(sim, "/v2/app/heartbeat")
            games = {e.data["game_id"] for e in run.kinds("source.connected")}
            assert set(_calls(sim, "/v2/app/batchHeartbeat", 0)[0]["game_ids"]) == games
            assert {e.room_id for e in run.kinds("source.connected")} == {1000, 1001, 22000076}
        assert {c["game_id"] for c in _calls(sim, "/v2/app/end", 0)} == games


async def test_a_wrong_secret_gives_up_with_the_app_and_the_fix_and_never_prints_the_secret(caplog):
    caplog.set_level(logging.DEBUG)
    async with run_simulator(rooms=[1000, 1001], seed=5) as sim:
        opts = app_options(sim, 1000, 1001)
        real_secret = opts["access_key_secret"]
        opts["access_key_secret"] = "0123456789abcdef0123456789abcdef"
        async with running_open_source(sim, **opts) as run:
            await wait_until(lambda: run.finished, what="the source to give up")
            err = run.error
            assert isinstance(err, OpenPlatformError)
            text = str(err)
            assert f"app {opts['app_id']}" in text and "4002" in text and "access_key_secret" in text
            assert "giving up" in text
            assert not run.kinds("source.connected")
            assert len(_calls(sim, "/v2/app/start", 4002)) == 2  # one try per room, no retry storm
        logs = caplog.text + repr(run.source.config) + str(err)
        for secret in (opts["access_key_secret"], real_secret, *opts["codes"]):
            assert secret not in logs


async def test_a_wrong_identity_code_gives_up_that_room_only():
    async with run_simulator(rooms=[1000, 1001], seed=5) as sim:
        opts = app_options(sim, 1000)
        opts["codes"] = [*opts["codes"], "WRONGCODE1234"]
        async with running_open_source(sim, **opts) as run:
            await wait_until(lambda: run.kinds("source.connected"), what="the good room")
            await wait_until(lambda: _calls(sim, "/v2/app/start", 7007), what="the refused code")
            assert not run.finished
            sim.inject_danmaku(1000, "still here", uid=sim.populations[1000].users[0].uid)
            await wait_until(lambda: any(e.text == "still here" for e in run.kinds("danmaku")), what="danmaku")
            assert len(_calls(sim, "/v2/app/start", 7007)) == 1
            assert run.source.ready  # every room that can work is connected


async def test_credentials_table_supplies_the_app_and_missing_keys_are_named():
    async with run_simulator(rooms=[1000], seed=5) as sim:
        opts = app_options(sim, 1000)
        table = {"app_id": opts["app_id"], "access_key_id": opts["access_key_id"],
                 "access_key_secret": opts["access_key_secret"], "code": opts["codes"][0]}  # fmt: skip
        async with running_open_source(sim, credential="openapp", credentials={"openapp": table}) as run:
            await wait_until(lambda: run.kinds("source.connected"), what="connected")
        with pytest.raises(ValidationError, match=r"missing access_key_secret, codes"):
            async with running_open_source(sim, app_id=1, access_key_id="k"):
                pass
        missing = r"missing access_key_id, access_key_secret, codes: .* or in \[credentials.partial\]"
        with pytest.raises(OpenPlatformError, match=missing):
            async with running_open_source(sim, credential="partial", credentials={"partial": {"app_id": 1}}):
                pass


async def test_a_refused_start_is_retried_until_it_clears_with_one_warning_per_ten_attempts(caplog):
    caplog.set_level(logging.DEBUG, logger="livepipe.source.open")
    async with run_simulator(rooms=[1000], seed=5) as sim:
        sim.faults.update({"http_352": ["/v2/app/start"]})
        async with running_open_source(sim, backoff_max=0.05, **app_options(sim, 1000)) as run:
            retries = lambda: [r for r in caplog.records if "retrying in" in r.getMessage()]  # noqa: E731
            await wait_until(lambda: len(retries()) >= 25, what="25 refused starts")
            warnings = [r for r in retries() if r.levelno >= logging.WARNING]
            assert 1 <= len(warnings) <= 1 + len(retries()) // 10
            assert "-352" in warnings[0].getMessage() and not run.finished
            sim.faults.update({"http_352": []})
            await wait_until(lambda: run.kinds("source.connected"), what="connected once the fault clears")


async def test_dropped_sockets_reconnect_on_the_same_game_and_a_malformed_frame_is_skipped():
    async with run_simulator(rooms=[1000], seed=5) as sim:
        async with running_open_source(sim, **app_options(sim, 1000)) as run:
            await wait_until(lambda: run.kinds("source.connected"), what="connected")
            for i in range(3):
                n = len(run.kinds("source.connected"))
                await wait_until(lambda: sim.open.hub.clients.get(1000), what="a client")
                sim.open.hub.faults.malformed_once = True  # one undecodable frame: skipped, the socket stays
                await wait_until(lambda i=i: run.metric("bilibili_decode_errors_total") >= i + 1, what="the bad frame")
                for c in sim.open.hub.all_clients():
                    c.close_soon()
                await wait_until(lambda n=n: len(run.kinds("source.connected")) > n, what="reconnected")
            games = {e.data["game_id"] for e in run.kinds("source.connected")}
            assert len(games) == 1 and run.metric("bilibili_open_games_started_total") == 1
            assert [e.data["reason"] for e in run.kinds("source.disconnected")] == ["closed"] * 3
            sim.inject_danmaku(1000, "still the same game", uid=sim.populations[1000].users[0].uid)
            await wait_until(lambda: any(e.text == "still the same game" for e in run.kinds("danmaku")),
                             what="danmaku")  # fmt: skip


async def test_too_many_games_waits_as_the_platform_asks_then_starts(monkeypatch):
    from livepipe.bilibili import open_api as O

    monkeypatch.setitem(O.OPEN_ERRORS, 7010, O.ErrorInfo("too many games", O.OpenOutcome.WAIT, "", 0.2))
    async with run_simulator(rooms=[1000], seed=5, open_session_expiry=1.0) as sim:
        opts = app_options(sim, 1000)
        app = sim.open.apps[opts["access_key_id"]]
        for _ in range(5):  # five games of the same app left running by "another instance"
            sim.open._start(app, {"app_id": app.app_id, "code": opts["codes"][0]}, None)  # noqa: SLF001
        async with running_open_source(sim, **opts) as run:
            await wait_until(lambda: run.kinds("source.connected"), what="connected once the old games expired")
            codes = [c["code"] for c in _calls(sim, "/v2/app/start")]
            assert codes[0] == 7010 and codes[-1] == 0 and set(codes) == {0, 7010}
            assert 2 <= len(codes) <= 2 + 1.0 / 0.2 + 2  # waited about 0.2 s each time, no faster
            assert all(g.ended == "expired" for g in list(sim.open.games.values())[:5])


async def test_auth_refused_after_a_healthy_session_backs_off_instead_of_storming():
    """The previous session's frames must not make a refused AUTH look healthy: without backoff each
    refusal would start a new game at once (a storm of /v2/app/start on the real platform)."""
    import anyio

    async with run_simulator(rooms=[1000], seed=5) as sim:
        opts = {**app_options(sim, 1000), "backoff_initial": 0.5, "backoff_max": 8.0, "restart_after": 1}
        async with running_open_source(sim, **opts) as run:
            await wait_until(lambda: run.kinds("source.connected"), what="a healthy session")
            sim.inject_danmaku(1000, "before the fault", uid=sim.populations[1000].users[0].uid)
            await wait_until(lambda: run.kinds("danmaku"), what="frames on the healthy session")
            starts = len(_calls(sim, "/v2/app/start"))
            sim.faults.fail_auth = True
            for client in sim.open.hub.all_clients():  # drop the healthy session: every reconnect is refused
                client.close_soon()
            await anyio.sleep(4.0)  # the window the starts are counted in (not a synchronisation)
            refused_starts = len(_calls(sim, "/v2/app/start")) - starts
            assert refused_starts <= 6, f"{refused_starts} game starts in 4 s while AUTH was refused"
            sim.faults.fail_auth = False
            n = len(run.kinds("source.connected"))
            await wait_until(lambda: len(run.kinds("source.connected")) > n, timeout=20, what="back after the fault")


@pytest.mark.parametrize("healthy_after", [10.0, 0.0])
async def test_sessions_dropped_at_once_back_off_unless_they_count_as_healthy(healthy_after):
    """A server that accepts and drops every session within a second must see growing delays (the
    attempt number in source.disconnected goes up); with healthy_after = 0 every session is healthy and
    the backoff starts over each time. Either way the game is kept (those sessions got frames)."""
    async with run_simulator(rooms=[1000], seed=5) as sim:
        opts = {**app_options(sim, 1000), "backoff_initial": 0.01, "backoff_max": 0.05, "healthy_after": healthy_after}
        async with running_open_source(sim, **opts) as run:
            await wait_until(lambda: run.kinds("source.connected"), what="connected")
            for _ in range(4):
                n = len(run.kinds("source.connected"))
                await wait_until(lambda: sim.open.hub.clients.get(1000), what="a client")
                for c in sim.open.hub.all_clients():
                    c.close_soon()
                await wait_until(lambda n=n: len(run.kinds("source.connected")) > n, what="reconnected")
            attempts = [e.data["attempt"] for e in run.kinds("source.disconnected")]
            assert attempts == ([1, 2, 3, 4] if healthy_after else [1, 1, 1, 1])
            assert run.metric("bilibili_open_games_started_total") == 1
