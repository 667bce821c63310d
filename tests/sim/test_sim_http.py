"""Read endpoints: nav, finger/spi, www buvid3, room id resolution, getDanmuInfo, areas."""

from __future__ import annotations

import aiohttp
import pytest
from sim_helpers import danmu_info

from livepipe.bilibili import wbi
from livepipe.sim.app import run_simulator

pytestmark = pytest.mark.anyio


async def get(s: aiohttp.ClientSession, url: str, **kw):
    async with s.get(url, **kw) as r:
        assert r.status == 200
        return await r.json()


async def test_nav_anonymous_and_logged_in():
    async with run_simulator(seed=5) as sim, aiohttp.ClientSession() as s:
        anon = await get(s, sim.base_url + "/x/web-interface/nav")
        assert anon["code"] == -101 and anon["data"]["isLogin"] is False
        img = wbi.key_from_url(anon["data"]["wbi_img"]["img_url"])
        sub = wbi.key_from_url(anon["data"]["wbi_img"]["sub_url"])
        assert (img, sub) == (sim.img_key, sim.sub_key)
        acct = sim.create_account(uname="navuser")
        me = await get(s, sim.base_url + "/x/web-interface/nav", cookies=sim.cookies_for(acct))
        assert me["code"] == 0
        assert (me["data"]["isLogin"], me["data"]["mid"], me["data"]["uname"]) == (True, acct.uid, "navuser")


async def test_finger_spi_and_www_buvid3_cookie():
    async with run_simulator(seed=5) as sim, aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        spi = await get(s, sim.base_url + "/x/frontend/finger/spi")
        assert spi["code"] == 0 and spi["data"]["b_3"].endswith("infoc") and spi["data"]["b_4"]
        async with s.get(sim.base_url + "/") as r:
            assert r.status == 200
            assert r.cookies["buvid3"].value.endswith("infoc")


async def test_short_id_resolution_on_all_resolvers():
    async with run_simulator(seed=5) as sim, aiohttp.ClientSession() as s:
        real = sim.room(76)
        init = await get(s, sim.base_url + "/room/v1/Room/room_init?id=76")
        assert init["code"] == 0
        assert (init["data"]["room_id"], init["data"]["short_id"], init["data"]["uid"]) == (
            real.room_id, 76, real.owner_uid)  # fmt: skip
        info = await get(s, sim.base_url + "/room/v1/Room/get_info?room_id=76")
        assert (info["data"]["room_id"], info["data"]["uid"], info["data"]["title"]) == (
            real.room_id, real.owner_uid, real.title)  # fmt: skip
        play = await get(s, sim.base_url + "/xlive/web-room/v1/index/getRoomPlayInfo?room_id=76")
        assert (play["data"]["room_id"], play["data"]["uid"]) == (real.room_id, real.owner_uid)
        byroom = await get(s, sim.base_url + "/xlive/web-room/v1/index/getInfoByRoom?room_id=76")
        assert byroom["data"]["room_info"]["room_id"] == real.room_id
        direct = await get(s, sim.base_url + f"/room/v1/Room/room_init?id={real.room_id}")
        assert direct["data"]["room_id"] == real.room_id
        missing = await get(s, sim.base_url + "/room/v1/Room/room_init?id=999999999")
        assert missing["code"] == 60004


async def test_getdanmuinfo_needs_wbi_and_buvid3():
    async with run_simulator(seed=5) as sim, aiohttp.ClientSession() as s:
        url = sim.base_url + "/xlive/web-room/v1/index/getDanmuInfo"
        exact = {"code": -352, "message": "-352", "ttl": 1}
        assert await get(s, url, params={"id": 1000, "type": 0}, cookies={"buvid3": "b"}) == exact
        signed = wbi.sign({"id": 1000, "type": 0}, sim.img_key, sim.sub_key)
        assert await get(s, url, params=signed) == exact  # no buvid3
        bad = dict(signed, w_rid="0" * 32)
        assert await get(s, url, params=bad, cookies={"buvid3": "b"}) == exact
        other_keys = wbi.sign({"id": 1000, "type": 0}, "a" * 32, "b" * 32)
        assert await get(s, url, params=other_keys, cookies={"buvid3": "b"}) == exact
        ok = await get(s, url, params=signed, cookies={"buvid3": "b"})
        assert ok["code"] == 0
        data = ok["data"]
        assert data["token"] and len(data["token"]) > 100
        assert data["host_list"][0] == {"host": "127.0.0.1", "port": sim.port, "wss_port": sim.port,
                                        "ws_port": sim.port}  # fmt: skip
        assert sim.tokens[data["token"]] == (0, 1000)


async def test_getdanmuinfo_token_belongs_to_the_logged_in_uid():
    async with run_simulator(seed=5) as sim, aiohttp.ClientSession() as s:
        acct = sim.create_account()
        info = await danmu_info(s, sim, 1000, cookies=sim.cookies_for(acct))
        assert sim.tokens[info["data"]["token"]] == (acct.uid, 1000)


async def test_getdanmuinfo_checks_can_be_relaxed_for_old_clients():
    async with run_simulator(seed=5, require_wbi=False, require_buvid=False) as sim, aiohttp.ClientSession() as s:
        r = await get(s, sim.base_url + "/xlive/web-room/v1/index/getDanmuInfo", params={"id": 1000, "type": 0})
        assert r["code"] == 0


async def test_area_list_ids_are_strings():
    async with run_simulator(seed=5) as sim, aiohttp.ClientSession() as s:
        r = await get(s, sim.base_url + "/room/v1/Area/getList")
        assert r["code"] == 0 and r["data"]
        parent = r["data"][0]
        assert isinstance(parent["id"], int)
        assert all(isinstance(c["id"], str) and isinstance(c["parent_id"], str) for c in parent["list"])
