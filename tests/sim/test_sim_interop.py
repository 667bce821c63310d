"""Interop: third-party clients (blivedm 0.1.1, bilibili-api-python 17.x) against the simulator.

Both libraries hard-code Bilibili's hosts and ``wss://``, so the simulator runs with ``tls=True``
and the tests monkeypatch the libraries' URL constants (module-level data, not their code):

* blivedm 0.1.1: ``blivedm.client.ROOM_INIT_URL`` and ``DANMAKU_SERVER_CONF_URL``. The client is
  given an SSL context trusting the simulator's certificate (its public ``ssl=`` argument).
  blivedm 0.1.1 predates WBI signing, so that simulator runs with ``require_wbi=False`` (the
  buvid3 cookie is still required and supplied through the session's cookies).
* bilibili-api: the URLs in its loaded API tables (``bilibili_api.live.API`` and
  ``bilibili_api.utils.network.API``) are rewritten to the simulator's base URL, its module-level
  caches (buvid, WBI key) are cleared, it is switched to its aiohttp backend and told not to
  verify TLS (its only TLS option is a boolean). Its full 2025 flow runs: finger/spi, ExClimbWuzhi,
  nav -> WBI keys, getRoomPlayInfo, signed getDanmuInfo, wss auth with the token.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from livepipe.sim.app import run_simulator

pytestmark = pytest.mark.anyio


async def test_blivedm_connects_authenticates_and_receives_danmaku(monkeypatch):
    import blivedm
    import blivedm.client

    async with run_simulator(seed=9, tls=True, require_wbi=False) as sim:
        monkeypatch.setattr(blivedm.client, "ROOM_INIT_URL", sim.base_url + "/xlive/web-room/v1/index/getInfoByRoom")
        monkeypatch.setattr(blivedm.client, "DANMAKU_SERVER_CONF_URL",
                            sim.base_url + "/xlive/web-room/v1/index/getDanmuInfo")  # fmt: skip
        acct = sim.create_account(uname="blivedm_user")
        got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        heartbeat = asyncio.Event()

        class Handler(blivedm.BaseHandler):
            async def _on_danmaku(self, client, message):
                if message.msg == "hello blivedm" and not got.done():
                    got.set_result(message)

            async def _on_heartbeat(self, client, message):
                heartbeat.set()

        session = aiohttp.ClientSession(cookies=sim.cookies_for(acct))
        client = blivedm.BLiveClient(76, uid=acct.uid, session=session, ssl=sim.client_ssl_context())
        client.add_handler(Handler())
        client.start()
        try:
            real = sim.room(76)
            await sim.wait_for_clients(real.room_id, 1)
            [conn] = sim.hub.clients[real.room_id]
            assert conn.uid == acct.uid and not conn.anonymous
            assert client.room_id == real.room_id and client.room_owner_uid == real.owner_uid
            await asyncio.wait_for(heartbeat.wait(), 10)  # its first heartbeat got the quirky reply
            user = sim.populations[real.room_id].users[3]
            sim.inject_danmaku(76, "hello blivedm", uid=user.uid)
            message = await asyncio.wait_for(got, 10)
            assert (message.uid, message.uname) == (user.uid, user.uname)
        finally:
            await client.stop_and_close()
            await session.close()


def _rewrite_urls(obj: Any, base: str, monkeypatch) -> None:
    """Point every ``https://*.bilibili.com/...`` URL in a bilibili-api API table at ``base``."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "url" and isinstance(v, str) and ".bilibili.com/" in v:
                path = v.split(".bilibili.com", 1)[1]
                monkeypatch.setitem(obj, k, base + path)
            else:
                _rewrite_urls(v, base, monkeypatch)


async def test_bilibili_api_connects_authenticates_and_receives_danmaku(monkeypatch):
    import bilibili_api
    from bilibili_api import live
    from bilibili_api.utils import network

    async with run_simulator(seed=10, tls=True) as sim:
        _rewrite_urls(live.API, sim.base_url, monkeypatch)
        _rewrite_urls(network.API, sim.base_url, monkeypatch)
        network.refresh_buvid()
        network.recalculate_wbi()
        bilibili_api.select_client("aiohttp")
        bilibili_api.request_settings.set_verify_ssl(False)
        try:
            acct = sim.create_account(uname="bapi_user")
            c = sim.cookies_for(acct)
            cred = bilibili_api.Credential(sessdata=c["SESSDATA"], bili_jct=c["bili_jct"], buvid3=c["buvid3"],
                                           dedeuserid=c["DedeUserID"])  # fmt: skip
            room = live.LiveDanmaku(76, credential=cred, max_retry=1, retry_after=0.2)
            got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

            @room.on("DANMU_MSG")
            async def on_danmaku(event):
                info = event["data"]["info"]
                if info[1] == "hello bapi" and not got.done():
                    got.set_result(event)

            task = asyncio.ensure_future(room.connect())
            real = sim.room(76)
            try:
                await sim.wait_for_clients(real.room_id, 1, timeout=15)
                [conn] = sim.hub.clients[real.room_id]
                assert conn.uid == acct.uid
                user = sim.populations[real.room_id].users[5]
                sim.inject_danmaku(76, "hello bapi", uid=user.uid)
                event = await asyncio.wait_for(got, 10)
                assert event["room_real_id"] == real.room_id
                assert event["data"]["info"][2][:2] == [user.uid, user.uname]
            finally:
                if room.get_status() == room.STATUS_ESTABLISHED:
                    await room.disconnect()
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        finally:
            bilibili_api.request_settings.set_verify_ssl(True)
            network.refresh_buvid()
            network.recalculate_wbi()


async def test_bilibili_api_anonymous_gets_masked_danmaku(monkeypatch):
    import bilibili_api
    from bilibili_api import live
    from bilibili_api.utils import network

    async with run_simulator(seed=10, tls=True) as sim:
        _rewrite_urls(live.API, sim.base_url, monkeypatch)
        _rewrite_urls(network.API, sim.base_url, monkeypatch)
        network.refresh_buvid()
        network.recalculate_wbi()
        bilibili_api.select_client("aiohttp")
        bilibili_api.request_settings.set_verify_ssl(False)
        try:
            room = live.LiveDanmaku(1000, max_retry=1, retry_after=0.2)
            notice = asyncio.Event()
            got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

            @room.on("LOG_IN_NOTICE")
            async def on_notice(event):
                notice.set()

            @room.on("DANMU_MSG")
            async def on_danmaku(event):
                if event["data"]["info"][1] == "masked?" and not got.done():
                    got.set_result(event)

            task = asyncio.ensure_future(room.connect())
            try:
                await sim.wait_for_clients(1000, 1, timeout=15)
                await asyncio.wait_for(notice.wait(), 10)
                user = sim.populations[1000].users[0]
                sim.inject_danmaku(1000, "masked?", uid=user.uid)
                event = await asyncio.wait_for(got, 10)
                assert event["data"]["info"][2][:2] == [0, user.uname[0] + "***"]
            finally:
                if room.get_status() == room.STATUS_ESTABLISHED:
                    await room.disconnect()
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        finally:
            bilibili_api.request_settings.set_verify_ssl(True)
            network.refresh_buvid()
            network.recalculate_wbi()
