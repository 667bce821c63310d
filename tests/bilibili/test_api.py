"""The HTTP API client against the simulator: data, error mapping, WBI, csrf, silent failures."""

from __future__ import annotations

import pytest

from livepipe.bilibili.api import ApiError, BilibiliAPI, Endpoints, Outcome, classify
from livepipe.bilibili.credential import Credential
from livepipe.sim import run_simulator

pytestmark = pytest.mark.anyio


def cred_for(sim, acct, name="main") -> Credential:
    return Credential.from_table(name, sim.cookies_for(acct))


@pytest.mark.parametrize(
    ("code", "message", "status", "outcome"),
    [
        (0, "", 200, Outcome.SUCCESS),
        (0, "msg repeat", 200, Outcome.REJECTED),
        (0, "f", 200, Outcome.REJECTED),
        (-352, "-352", 200, Outcome.RETRY),
        (10031, "", 200, Outcome.RETRY),
        (10030, "", 200, Outcome.RETRY),
        (-1, "", 200, Outcome.RETRY),
        (-412, "", 412, Outcome.RETRY),
        (-101, "", 200, Outcome.FATAL),
        (-111, "", 200, Outcome.FATAL),
        (65530, "", 200, Outcome.FATAL),
        (1003212, "", 200, Outcome.REJECTED),
        (60024, "", 200, Outcome.REJECTED),
    ],
)
def test_classify(code, message, status, outcome):
    assert classify(code, message, http_status=status) is outcome


async def test_nav_wbi_room_init_and_danmu_info():
    async with run_simulator(rooms=None) as sim:
        acct = sim.create_account("tester")
        async with BilibiliAPI(cred_for(sim, acct), Endpoints.at(sim.base_url)) as api:
            nav = await api.nav()
            assert nav["isLogin"] is True and nav["mid"] == acct.uid
            init = await api.room_init(76)
            assert init["room_id"] == 22000076 and init["short_id"] == 76
            info = await api.danmu_info(22000076)
            assert info["token"] and info["host_list"]


async def test_anonymous_nav_still_gives_wbi_and_spi_gives_buvid():
    async with run_simulator() as sim:
        async with BilibiliAPI(None, Endpoints.at(sim.base_url)) as api:
            nav = await api.nav()
            assert nav["isLogin"] is False and nav["wbi_img"]["img_url"]
            cred = await api.ensure_buvid()
            assert cred.buvid3 and not cred.logged_in
            info = await api.danmu_info(1000)
            assert info["token"]


async def test_missing_buvid_gives_retryable_352():
    async with run_simulator() as sim:
        async with BilibiliAPI(None, Endpoints.at(sim.base_url)) as api:
            with pytest.raises(ApiError) as ei:
                await api.danmu_info(1000)
    assert ei.value.code == -352 and ei.value.outcome is Outcome.RETRY
    assert "risk control" in str(ei.value)


async def test_send_repeat_is_a_rejected_silent_failure_and_wrong_csrf_is_fatal():
    async with run_simulator() as sim:
        acct = sim.create_account("sender")
        cred = cred_for(sim, acct)
        async with BilibiliAPI(cred, Endpoints.at(sim.base_url)) as api:
            await api.send_danmaku(1000, "hello")
            assert sim.state.rooms[1000].sent_danmaku[-1]["msg"] == "hello"
        bad = Credential.from_table("bad", {**sim.cookies_for(acct), "bili_jct": "0" * 32})
        async with BilibiliAPI(bad, Endpoints.at(sim.base_url)) as api:
            with pytest.raises(ApiError) as ei:
                await api.send_danmaku(1000, "other text")
    assert ei.value.code == -111 and ei.value.outcome is Outcome.FATAL
    assert "0" * 32 not in str(ei.value) and acct.bili_jct not in str(ei.value)


async def test_ban_list_unban_round_trip():
    async with run_simulator() as sim:
        room = sim.state.rooms[1000]
        owner = sim.create_account(owner_of=1000)
        target = sim.populations[1000].users[5].uid
        async with BilibiliAPI(cred_for(sim, owner), Endpoints.at(sim.base_url)) as api:
            await api.ban_user(1000, target, 2, "spam")
            listed = await api.banned_users(1000)
            assert [r["tuid"] for r in listed["data"]] == [target]
            await api.unban_user(1000, target)
        assert room.silent == []


def test_credential_repr_hides_secrets():
    c = Credential.from_table("main", {"SESSDATA": "sess-secret-1", "bili_jct": "jct-secret-2", "DedeUserID": "77"})
    assert "secret" not in repr(c) and "secret" not in str(c)
    assert repr(c) == "<Credential 'main' uid=77 logged in>"
    assert c.cookies()["SESSDATA"] == "sess-secret-1"
