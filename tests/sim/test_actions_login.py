"""Passport: web QR login (generate / poll / control scan+confirm) and the cookie-refresh flow."""

import re
import secrets

import pytest
from actions_support import ROOM_ID, action_sim, cookie_header

pytestmark = pytest.mark.anyio

GEN = "/x/passport-login/web/qrcode/generate"
POLL = "/x/passport-login/web/qrcode/poll"
INFO = "/x/passport-login/web/cookie/info"
REFRESH = "/x/passport-login/web/cookie/refresh"
CONFIRM = "/x/passport-login/web/confirm/refresh"


def set_cookies(resp):
    return {c.split("=", 1)[0]: c.split("=", 1)[1].split(";", 1)[0] for c in resp.headers.get_list("set-cookie")}


async def test_qr_login_full_cycle():
    async with action_sim() as sim:
        gen = await sim.get(GEN)
        assert gen["code"] == 0
        key = gen["data"]["qrcode_key"]
        assert re.fullmatch(r"[0-9a-f]{32}", key)
        assert f"qrcode_key={key}" in gen["data"]["url"]

        poll = await sim.get(POLL, qrcode_key=key)
        assert poll["code"] == 0
        assert poll["data"] == {"url": "", "refresh_token": "", "timestamp": 0, "code": 86101, "message": "未扫码"}

        assert (await sim.http.post(f"/_sim/qr/{key}/scan")).status_code == 200
        assert (await sim.get(POLL, qrcode_key=key))["data"]["code"] == 86090

        confirm = await sim.http.post(f"/_sim/qr/{key}/confirm", json={"uid": 7_000_001, "uname": "qr_user"})
        assert confirm.json()["state"] == "confirmed"

        resp = await sim.http.get(POLL, params={"qrcode_key": key})
        body = resp.json()
        assert body["code"] == 0 and body["data"]["code"] == 0
        assert body["data"]["refresh_token"] and body["data"]["timestamp"] == int(sim.clock.t * 1000)
        cookies = set_cookies(resp)
        assert {"SESSDATA", "bili_jct", "DedeUserID", "DedeUserID__ckMd5", "sid"} <= set(cookies)
        assert cookies["DedeUserID"] == "7000001"
        assert f"SESSDATA={cookies['SESSDATA']}" in body["data"]["url"]
        acct = sim.state.accounts[cookies["SESSDATA"]]
        assert acct.uid == 7_000_001 and acct.uname == "qr_user"
        assert acct.bili_jct == cookies["bili_jct"] and acct.refresh_token == body["data"]["refresh_token"]

        # the new session works on a write endpoint
        reply = await sim.http.post(
            "/msg/send",
            data={"roomid": ROOM_ID, "msg": "logged in by QR", "csrf": cookies["bili_jct"]},
            headers=cookie_header({"SESSDATA": cookies["SESSDATA"], "bili_jct": cookies["bili_jct"]}),
        )
        assert reply.json()["code"] == 0
        # the key is used up
        assert (await sim.get(POLL, qrcode_key=key))["data"]["code"] == 86038


async def test_qr_expiry_by_time_and_by_control_and_unknown():
    async with action_sim() as sim:
        key = (await sim.get(GEN))["data"]["qrcode_key"]
        sim.clock.t += 181
        assert (await sim.get(POLL, qrcode_key=key))["data"]["code"] == 86038
        assert (await sim.http.post(f"/_sim/qr/{key}/confirm", json={"uid": 1234})).status_code == 409

        key2 = (await sim.get(GEN))["data"]["qrcode_key"]
        await sim.http.post(f"/_sim/qr/{key2}/expire")
        assert (await sim.get(POLL, qrcode_key=key2))["data"]["code"] == 86038

        assert (await sim.get(POLL, qrcode_key="f" * 32))["data"]["code"] == 86038
        assert (await sim.get(POLL))["code"] == -400
        assert (await sim.http.post("/_sim/qr/nope/scan")).status_code == 404


async def test_qr_login_into_existing_account_reuses_it():
    async with action_sim() as sim:
        key = (await sim.get(GEN))["data"]["qrcode_key"]
        streamer = sim.accounts["streamer"]
        await sim.http.post(f"/_sim/qr/{key}/confirm", data={"uid": str(streamer.uid)})
        resp = await sim.http.get(POLL, params={"qrcode_key": key})
        assert set_cookies(resp)["SESSDATA"] == streamer.sessdata


async def correspond_path():
    return secrets.token_hex(128)


async def refresh_csrf_for(sim, who):
    resp = await sim.http.get(f"/correspond/1/{await correspond_path()}", headers=cookie_header(sim.cookies(who)))
    assert resp.status_code == 200
    m = re.search(r'<div id="1-name">([0-9a-f]+)</div>', resp.text)
    assert m
    return m.group(1)


async def test_cookie_info_reports_refresh_flag():
    async with action_sim() as sim:
        assert (await sim.get(INFO))["code"] == -101
        body = await sim.get(INFO, who="viewer")
        assert body["code"] == 0 and body["data"] == {"refresh": False, "timestamp": int(sim.clock.t * 1000)}
        r = await sim.http.post(f"/_sim/actions/accounts/{sim.accounts['viewer'].uid}", json={"refresh_needed": True})
        assert r.json()["refresh_needed"] is True
        assert (await sim.get(INFO, who="viewer"))["data"]["refresh"] is True


async def test_correspond_rejects_bad_paths_and_anonymous():
    async with action_sim() as sim:
        good = await correspond_path()
        assert (await sim.http.get(f"/correspond/1/{good}")).status_code == 404
        for bad in ("abc", "G" * 256, good[:-2]):
            resp = await sim.http.get(f"/correspond/1/{bad}", headers=cookie_header(sim.cookies("viewer")))
            assert resp.status_code == 404


async def test_full_refresh_flow():
    async with action_sim() as sim:
        old = sim.accounts["viewer"]
        old.refresh_needed = True
        old_token = old.refresh_token
        refresh_csrf = await refresh_csrf_for(sim, "viewer")
        resp = await sim.http.post(
            REFRESH,
            data={"csrf": old.bili_jct, "refresh_csrf": refresh_csrf, "source": "main_web", "refresh_token": old_token},
            headers=cookie_header(sim.cookies(old)),
        )
        body = resp.json()
        assert body["code"] == 0 and body["data"]["status"] == 0 and body["data"]["message"] == ""
        new_token = body["data"]["refresh_token"]
        assert new_token and new_token != old_token
        cookies = set_cookies(resp)
        assert cookies["SESSDATA"] != old.sessdata and cookies["bili_jct"] != old.bili_jct
        new_cookies = {"SESSDATA": cookies["SESSDATA"], "bili_jct": cookies["bili_jct"]}

        # before confirmation both sessions work; the new one no longer needs a refresh
        assert (await sim.get(INFO, who="viewer"))["code"] == 0
        info = (await sim.http.get(INFO, headers=cookie_header(new_cookies))).json()
        assert info["code"] == 0 and info["data"]["refresh"] is False

        # confirm with the NEW cookies and the OLD token; the new token is refused
        wrong = await sim.http.post(
            CONFIRM, data={"csrf": cookies["bili_jct"], "refresh_token": new_token}, headers=cookie_header(new_cookies)
        )
        assert wrong.json()["code"] == -400
        ok = await sim.http.post(
            CONFIRM, data={"csrf": cookies["bili_jct"], "refresh_token": old_token}, headers=cookie_header(new_cookies)
        )
        assert ok.json() == {"code": 0, "message": "0", "ttl": 1}
        # the old session is gone, the new one works
        assert (await sim.get(INFO, who="viewer"))["code"] == -101
        assert (await sim.http.get(INFO, headers=cookie_header(new_cookies))).json()["code"] == 0
        new_acct = sim.state.accounts[cookies["SESSDATA"]]
        assert new_acct.uid == old.uid and new_acct.refresh_token == new_token


async def test_refresh_errors():
    async with action_sim() as sim:
        acct = sim.accounts["viewer"]
        refresh_csrf = await refresh_csrf_for(sim, "viewer")
        base = {
            "csrf": acct.bili_jct,
            "refresh_csrf": refresh_csrf,
            "source": "main_web",
            "refresh_token": acct.refresh_token,
        }
        hdr = cookie_header(sim.cookies("viewer"))
        assert (await sim.http.post(REFRESH, data=base)).json()["code"] == -101
        assert (await sim.http.post(REFRESH, data={**base, "csrf": "x"}, headers=hdr)).json()["code"] == -111
        assert (await sim.http.post(REFRESH, data={**base, "refresh_csrf": "0" * 32}, headers=hdr)).json()[
            "code"
        ] == 86095
        assert (await sim.http.post(REFRESH, data={**base, "refresh_token": "0" * 32}, headers=hdr)).json()[
            "code"
        ] == 86095
        # a refresh_csrf runs out
        sim.clock.t += sim.store.settings.refresh_csrf_ttl + 1
        assert (await sim.http.post(REFRESH, data=base, headers=hdr)).json()["code"] == 86095
        # a fresh one works once (query parameters are accepted too), then it is spent
        fresh = await refresh_csrf_for(sim, "viewer")
        first = await sim.http.post(REFRESH, params={**base, "refresh_csrf": fresh}, headers=hdr)
        assert first.json()["code"] == 0
        assert (await sim.http.post(REFRESH, data={**base, "refresh_csrf": fresh}, headers=hdr)).json()["code"] == 86095
        assert (await sim.http.post(CONFIRM, data={"csrf": "x", "refresh_token": "y"}, headers=hdr)).json()[
            "code"
        ] == -111


async def test_expire_control_route_logs_the_account_out():
    async with action_sim() as sim:
        uid = sim.accounts["viewer"].uid
        assert (await sim.http.get(f"/_sim/actions/accounts/{uid}")).json()["sessions"] == 1
        r = await sim.http.post(f"/_sim/actions/accounts/{uid}", json={"expire": True})
        assert r.json() == {"uid": uid, "expired": 1}
        assert (await sim.get(INFO, who="viewer"))["code"] == -101
        assert (await sim.post("/msg/send", {"roomid": ROOM_ID, "msg": "hi"}, who="viewer"))["code"] == -101
        assert (await sim.http.get(f"/_sim/actions/accounts/{uid}")).status_code == 404
