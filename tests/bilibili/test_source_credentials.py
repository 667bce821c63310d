"""Credentials for the danmaku source: cookie files (Netscape, JSON object, JSON list), atomic write-back,
`livepipe credentials check`, cookie refresh (CLI and source), QR login."""

from __future__ import annotations

import json
import os
import stat

import anyio
import httpx
import pytest
from click.testing import CliRunner

from livepipe.bilibili.api import BilibiliAPI, Endpoints
from livepipe.bilibili.cli import check_command, login_command
from livepipe.bilibili.cookies import read_cookie_file, write_cookie_file
from livepipe.bilibili.credential import Credential, CredentialError
from livepipe.bilibili.login import correspond_path, qr_login
from livepipe.sim import run_simulator

from .source_support import running_source, wait_until

NETSCAPE = """# Netscape HTTP Cookie File
# http://curl.haxx.se/rfc/cookie_spec.html

#HttpOnly_.bilibili.com\tTRUE\t/\tFALSE\t1790000000\tSESSDATA\tsess%2C123%2Cab
.bilibili.com\tTRUE\t/\tFALSE\t1790000000\tbili_jct\tjct123
.bilibili.com\tTRUE\t/\tFALSE\t1790000000\tDedeUserID\t42
.bilibili.com\tTRUE\t/\tFALSE\t1790000000\tbuvid3\tB3-infoc
.example.com\tTRUE\t/\tFALSE\t1790000000\tSESSDATA\tnot-this-one
"""


def test_netscape_cookie_file(tmp_path):
    p = tmp_path / "cookies.txt"
    p.write_text(NETSCAPE)
    assert read_cookie_file(p) == {"SESSDATA": "sess%2C123%2Cab", "bili_jct": "jct123", "DedeUserID": "42",
                                   "buvid3": "B3-infoc"}  # fmt: skip
    cred = Credential.from_table("main", {"cookie_file": str(p)})
    assert cred.dedeuserid == 42 and cred.csrf == "jct123" and cred.logged_in and cred.buvid3 == "B3-infoc"
    assert "sess" not in repr(cred) and "jct123" not in repr(cred)


def test_json_object_and_list_cookie_files(tmp_path):
    obj = tmp_path / "a.json"
    obj.write_text(json.dumps({"SESSDATA": "s1", "bili_jct": "j1", "DedeUserID": 7, "refresh_token": "r1"}))
    cred = Credential.from_table("a", {"cookie_file": str(obj)})
    assert cred.dedeuserid == 7 and cred.refresh_token.get_secret_value() == "r1"
    lst = tmp_path / "b.json"
    lst.write_text(json.dumps([
        {"domain": ".bilibili.com", "name": "SESSDATA", "value": "s2", "httpOnly": True},
        {"domain": ".bilibili.com", "name": "bili_jct", "value": "j2"},
        {"domain": ".bilibili.com", "name": "DedeUserID", "value": "8"},
        {"domain": "other.org", "name": "bili_jct", "value": "nope"},
    ]))  # fmt: skip
    assert read_cookie_file(lst) == {"SESSDATA": "s2", "bili_jct": "j2", "DedeUserID": "8"}
    bad = tmp_path / "c.json"
    bad.write_text("{not json")
    with pytest.raises(CredentialError, match="not valid JSON"):
        read_cookie_file(bad)
    with pytest.raises(CredentialError, match="does not exist"):
        read_cookie_file(tmp_path / "missing.json")


def test_write_is_atomic_and_private(tmp_path):
    p = tmp_path / "sub" / "cookies.json"
    write_cookie_file(p, {"SESSDATA": "s", "bili_jct": "j", "DedeUserID": "1"}, "tok")
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert json.loads(p.read_text()) == {"SESSDATA": "s", "bili_jct": "j", "DedeUserID": "1", "refresh_token": "tok"}
    write_cookie_file(p, {"SESSDATA": "s2"})
    assert json.loads(p.read_text()) == {"SESSDATA": "s2"}
    assert [x.name for x in p.parent.iterdir()] == ["cookies.json"]  # no temp file left behind


def test_correspond_path_is_rsa_1024_hex():
    a, b = correspond_path(1700000000000), correspond_path(1700000000000)
    assert len(a) == 256 and all(c in "0123456789abcdef" for c in a) and a != b  # OAEP is randomized


async def _invoke(cmd, args):
    return await anyio.to_thread.run_sync(lambda: CliRunner().invoke(cmd, args, catch_exceptions=False))


@pytest.mark.anyio
async def test_credentials_check_cli(tmp_path):
    async with run_simulator(rooms=[1000]) as sim:
        acct = sim.create_account("checker")
        f = tmp_path / "cookies.json"
        write_cookie_file(f, sim.cookies_for(acct), acct.refresh_token)
        r = await _invoke(check_command, ["--cookie-file", str(f), "--base-url", sim.base_url])
        assert r.exit_code == 0, r.output
        assert f"uid {acct.uid}" in r.output and "csrf (bili_jct): present" in r.output
        assert "needs refresh: no" in r.output
        assert acct.sessdata not in r.output and acct.bili_jct not in r.output

        cfg = tmp_path / "p.toml"
        cfg.write_text(f'[credentials.bot]\ncookie_file = "{f}"\n[sources.s]\ntype = "bilibili.danmaku"\n'
                       'room_ids = [1000]\ncredential = "bot"\n[sinks.o]\ntype = "console"\ninputs = ["s"]\n')
        r = await _invoke(check_command, ["--config", str(cfg), "--credential", "bot", "--base-url", sim.base_url])
        assert r.exit_code == 0 and "credential bot:" in r.output, r.output

        sim.state.accounts.pop(acct.sessdata)  # the session expires
        r = await _invoke(check_command, ["--cookie-file", str(f), "--base-url", sim.base_url])
        assert r.exit_code == 1 and "logged in: NO" in r.output


@pytest.mark.anyio
async def test_check_refresh_writes_new_cookies_back(tmp_path):
    async with run_simulator(rooms=[1000]) as sim:
        acct = sim.create_account("refresher")
        acct.refresh_needed = True
        f = tmp_path / "cookies.json"
        write_cookie_file(f, sim.cookies_for(acct), acct.refresh_token)
        r = await _invoke(check_command, ["--cookie-file", str(f), "--base-url", sim.base_url])
        assert "needs refresh: yes" in r.output
        r = await _invoke(check_command, ["--cookie-file", str(f), "--base-url", sim.base_url, "--refresh"])
        assert r.exit_code == 0 and "refreshed: yes" in r.output and "needs refresh: no" in r.output, r.output
        saved = json.loads(f.read_text())
        assert saved["SESSDATA"] != acct.sessdata and saved["refresh_token"] != acct.refresh_token
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
        # the old session was retired by confirm/refresh; the new one works
        async with BilibiliAPI(Credential.from_table("old", sim.cookies_for(acct)), Endpoints.at(sim.base_url)) as a:
            assert not (await a.nav())["isLogin"]
        async with BilibiliAPI(Credential.from_table("new", {"cookie_file": str(f)}),
                               Endpoints.at(sim.base_url)) as a:  # fmt: skip
            assert (await a.nav())["mid"] == acct.uid


@pytest.mark.anyio
async def test_source_refreshes_cookies_and_connects_logged_in(tmp_path):
    async with run_simulator(rooms=[1000], rate=20, population_size=20) as sim:
        acct = sim.create_account("auto")
        acct.refresh_needed = True
        f = tmp_path / "cookies.json"
        write_cookie_file(f, sim.cookies_for(acct), acct.refresh_token)
        creds = {"main": {"cookie_file": str(f)}}
        async with running_source(sim, room_ids=[1000], credential="main", credentials=creds) as run:
            await wait_until(lambda: run.metric("bilibili_connected_rooms") == 1, what="connected")
            assert run.metric("bilibili_cookie_refreshes_total") == 1
            assert run.kinds("source.connected")[0].data["uid"] == acct.uid
        assert json.loads(f.read_text())["SESSDATA"] != acct.sessdata


@pytest.mark.anyio
async def test_qr_login_and_the_login_command(tmp_path):
    async with run_simulator(rooms=[1000]) as sim:
        acct = sim.create_account("phone")
        base = sim.base_url

        async def play_phone(url: str) -> None:
            key = url.split("qrcode_key=")[1].split("&")[0]
            async with httpx.AsyncClient() as http:
                assert (await http.post(f"{base}/_sim/qr/{key}/scan")).status_code == 200
                assert (await http.post(f"{base}/_sim/qr/{key}/confirm", json={"uid": acct.uid})).status_code == 200

        async with anyio.create_task_group() as tg:
            result = await qr_login(Endpoints.at(base), show=lambda url: tg.start_soon(play_phone, url),
                                    poll_interval=0.05, timeout=10)  # fmt: skip
        assert result.uid == acct.uid and result.cookies["SESSDATA"] == acct.sessdata
        assert result.refresh_token == acct.refresh_token and result.cookies.get("buvid3")
        assert acct.sessdata not in repr(result)

        # the CLI: draws the code, writes the file (0600); the phone is played from this loop
        out = tmp_path / "login.json"
        seen: list[str] = []

        async def phone_for_cli() -> None:
            from livepipe.sim.actions_common import STORE_KEY

            store = sim.app[STORE_KEY]
            used = set(store.qr)
            await wait_until(lambda: set(store.qr) - used, what="a new QR code")
            key = next(iter(set(store.qr) - used))
            seen.append(key)
            await play_phone(f"x?qrcode_key={key}")

        async with anyio.create_task_group() as tg:
            tg.start_soon(phone_for_cli)
            r = await _invoke(login_command, ["--out", str(out), "--base-url", base, "--poll-interval", "0.05",
                                         "--timeout", "10"])
        assert r.exit_code == 0, r.output
        assert "█" in r.output and f"uid {acct.uid}" in r.output and seen[0] in r.output
        assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
        assert read_cookie_file(out)["SESSDATA"] == acct.sessdata
        assert acct.sessdata not in r.output
