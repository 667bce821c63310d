"""`proxy`, `user_agent` and `headers` of the bilibili.danmaku source and the action sinks.

Real proxies started by the tests (tests/bilibili/proxy_servers.py: HTTP CONNECT / forwarding and
SOCKS5, both demanding a password) stand between livepipe and the simulator; each counts what it
carried, so "it went through the proxy" is a count, not a guess. Without the proxy running the
components fail with an error naming the proxy, and the password appears nowhere.
"""

from __future__ import annotations

import logging
import socket

import pytest
from pydantic import ValidationError

from livepipe.bilibili import actions as act
from livepipe.bilibili.api import USER_AGENT, ApiError, BilibiliAPI, Endpoints
from livepipe.bilibili.source import DanmakuSourceConfig
from livepipe.bilibili.transport import check_proxy, proxy_label, scrub
from livepipe.sim import Simulator, run_simulator

from .proxy_servers import proxy_url, running_proxy
from .sink_support import run_actions
from .source_support import running_source, wait_until

pytestmark = pytest.mark.anyio

PASSWORD = "pr0xy-s3cret-pw"
KINDS = ["http", "socks5"]


def sim_target(sim) -> str:
    return f"127.0.0.1:{sim.port}"


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("kind", KINDS)
async def test_source_connects_and_receives_through_the_proxy(kind, caplog):
    caplog.set_level(logging.DEBUG)
    async with run_simulator(rooms=[1000, 1001], rate=0, population_size=10) as sim:
        async with running_proxy(kind, "lp", PASSWORD) as proxy:
            async with running_source(sim, room_ids=[1000, 1001], proxy=proxy_url(proxy, kind)) as run:
                await wait_until(lambda: run.metric("bilibili_connected_rooms") == 2, what="both rooms via proxy")
                sim.inject_danmaku(1001, "through the proxy")
                await wait_until(lambda: any(e.text == "through the proxy" for e in run.kinds("danmaku")),
                                 what="a danmaku")  # fmt: skip
                # both WebSockets are tunnels through the proxy, plus at least one for the HTTP API
                assert proxy.tunnels[sim_target(sim)] >= 3
                assert len(sim.hub.all_clients()) == 2
                assert proxy.refused == 0
                # the proxy is the only way out: stop it, and the rooms drop and cannot come back directly
                await proxy.stop()
                await wait_until(lambda: run.metric("bilibili_connected_rooms") == 0, what="rooms dropped")
                await wait_until(lambda: run.metric("bilibili_disconnects_total", reason="connect_failed") >= 2,
                                 what="failed reconnects through the stopped proxy")  # fmt: skip
                assert not sim.hub.all_clients()
            assert PASSWORD not in caplog.text
            assert all(PASSWORD not in repr(e) for e in run.events)


@pytest.mark.parametrize("kind", KINDS)
async def test_source_without_the_proxy_running_names_the_proxy(kind, caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()
    url = f"{kind}://lp:{PASSWORD}@127.0.0.1:{port}"
    async with run_simulator(rooms=[1000], rate=0, population_size=10) as sim:
        async with running_source(sim, room_ids=[1000], proxy=url) as run:
            await wait_until(lambda: "is the proxy running" in caplog.text, what="an error naming the proxy")
            assert run.metric("bilibili_connected_rooms") == 0
            assert not sim.hub.all_clients()
    assert f"{kind}://127.0.0.1:{port}" in caplog.text
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize("kind", KINDS)
async def test_websocket_through_a_dead_proxy_names_it(kind):
    from livepipe.bilibili.client import ConnectFailed, DanmakuClient, auth_body

    port = free_port()

    async def on_events(events):  # pragma: no cover - nothing arrives
        pass

    client = DanmakuClient(1000, on_events, proxy=f"{kind}://lp:{PASSWORD}@127.0.0.1:{port}", connect_timeout=5)
    with pytest.raises(ConnectFailed) as e:
        await client.run("ws://127.0.0.1:9/sub", auth_body(0, 1000, "", ""))
    assert f"through the proxy {kind}://127.0.0.1:{port}" in str(e.value)
    assert PASSWORD not in str(e.value)


@pytest.mark.parametrize("kind", KINDS)
async def test_action_sink_sends_through_the_proxy(kind, tmp_path):
    async with run_simulator(rooms=[1000], rate=0, population_size=10) as sim:
        acct = sim.create_account("bot", admin_in=[1000])
        async with running_proxy(kind, "lp", PASSWORD) as proxy:
            run = await run_actions(sim, tmp_path, "bilibili.send", [act.send("via proxy", room_id=1000)],
                                    cookies=sim.cookies_for(acct),
                                    sink={"proxy": proxy_url(proxy, kind), "base_url": sim.base_url})  # fmt: skip
            assert run.outcomes() == ["success"]
            assert [s["msg"] for s in sim.room(1000).sent_danmaku] == ["via proxy"]
            assert proxy.tunnels[sim_target(sim)] >= 1 and proxy.refused == 0


@pytest.mark.parametrize("kind", KINDS)
async def test_action_sink_without_the_proxy_fails_naming_it(kind, tmp_path):
    port = free_port()
    async with run_simulator(rooms=[1000], rate=0, population_size=10) as sim:
        acct = sim.create_account("bot", admin_in=[1000])
        run = await run_actions(sim, tmp_path, "bilibili.send", [act.send("never sent", room_id=1000)],
                                cookies=sim.cookies_for(acct),
                                sink={"proxy": f"{kind}://lp:{PASSWORD}@127.0.0.1:{port}", "base_url": sim.base_url,
                                      "verify_login": False, "max_attempts": 1})  # fmt: skip
        assert run.outcomes() != ["success"]
        result = run.results[0]
        assert f"{kind}://127.0.0.1:{port}" in result.data["message"], result.data
        assert PASSWORD not in repr(result)
        assert sim.room(1000).sent_danmaku == []


async def test_wrong_proxy_password_is_refused_by_the_proxy_and_reported():
    async with run_simulator(rooms=[1000], rate=0, population_size=10) as sim:
        async with running_proxy("http", "lp", PASSWORD) as proxy:
            url = f"http://lp:wrong@{proxy.url_host}"
            async with BilibiliAPI(None, Endpoints.at(sim.base_url), proxy=url) as api:
                with pytest.raises(ApiError) as e:
                    await api.nav()
            assert proxy.refused >= 1
            assert "wrong" not in str(e.value) and "407" in str(e.value)


async def test_user_agent_and_headers_reach_http_and_websocket():
    seen: list[dict[str, str]] = []
    sim = Simulator(rooms=[1000], rate=0, population_size=10)

    async def record(request, response):  # the headers of every request the sim answers
        seen.append({"path": request.path, **{k.lower(): v for k, v in request.headers.items()}})

    sim.app.on_response_prepare.append(record)
    await sim.start()
    try:
        ua = "Mozilla/5.0 (X11; Linux x86_64) livepipe-test/1.0"
        async with running_source(sim, room_ids=[1000], user_agent=ua,
                                  headers={"Accept-Language": "zh-CN,zh;q=0.9"}) as run:  # fmt: skip
            await wait_until(lambda: run.metric("bilibili_connected_rooms") == 1, what="connected")
    finally:
        await sim.stop()
    paths = {s["path"] for s in seen}
    assert {"/sub", "/xlive/web-room/v1/index/getDanmuInfo", "/x/web-interface/nav"} <= paths
    assert all(s["user-agent"] == ua and s["accept-language"] == "zh-CN,zh;q=0.9" for s in seen), seen


def test_default_user_agent_is_a_current_desktop_chrome():
    assert "Chrome/" in USER_AGENT and "Windows NT 10.0" in USER_AGENT
    major = int(USER_AGENT.split("Chrome/")[1].split(".")[0])
    assert major >= 140


@pytest.mark.parametrize(("value", "why"), [
    ("127.0.0.1:8080", "must start with"),
    ("ftp://127.0.0.1:21", "must start with"),
    ("socks4://127.0.0.1:1080", "must start with"),
    ("http://127.0.0.1", "host and a port"),
    ("socks5://:1080", "host and a port"),
    ("http://127.0.0.1:99999", "host and a port"),
    ("http://127.0.0.1:8080/path", "only scheme"),
])  # fmt: skip
def test_bad_proxy_urls_are_config_errors(value, why):
    with pytest.raises(ValueError, match=why):
        check_proxy(value)
    with pytest.raises(ValidationError) as e:
        DanmakuSourceConfig.model_validate({"type": "bilibili.danmaku", "room_ids": [1], "proxy": value})
    assert "proxy" in str(e.value)


def test_reserved_headers_are_refused():
    with pytest.raises(ValidationError, match="Cookie"):
        DanmakuSourceConfig.model_validate({"type": "bilibili.danmaku", "room_ids": [1],
                                            "headers": {"Cookie": "SESSDATA=x"}})  # fmt: skip


def test_proxy_password_is_redacted_in_reprs_and_messages():
    url = f"socks5://lp:{PASSWORD}@127.0.0.1:1080"
    cfg = DanmakuSourceConfig.model_validate({"type": "bilibili.danmaku", "room_ids": [1], "proxy": url})
    assert PASSWORD not in repr(cfg) and PASSWORD not in str(cfg.model_dump())
    assert cfg.proxy_url() == url
    assert proxy_label(url) == "socks5://127.0.0.1:1080"
    assert PASSWORD not in scrub(f"failed {url} with lp:{PASSWORD} / {PASSWORD}", url)
    api = BilibiliAPI(None, proxy=url)
    assert PASSWORD not in repr(api) and "socks5://127.0.0.1:1080" in repr(api)


def test_config_show_and_config_errors_never_print_the_proxy_password(tmp_path):
    from livepipe.config import ConfigError
    from livepipe.testing import load_toml

    good = f"""
[sources.live]
type = "bilibili.danmaku"
room_ids = [1]
proxy = "socks5://lp:{PASSWORD}@127.0.0.1:1080"
[sinks.say]
type = "bilibili.send"
inputs = ["live"]
credential = "main"
proxy = "http://lp:{PASSWORD}@127.0.0.1:3128"
[credentials.main]
SESSDATA = "x"
bili_jct = "y"
"""
    cfg = load_toml(good, tmp_path)
    assert cfg.display["sources"]["live"]["proxy"] == "<redacted>"
    assert cfg.display["sinks"]["say"]["proxy"] == "<redacted>"
    assert PASSWORD not in repr(cfg.components)
    with pytest.raises(ConfigError) as e:
        load_toml(good.replace("@127.0.0.1:1080", "@127.0.0.1"), tmp_path, "bad.toml")
    assert "bad.toml:5: sources.live: key 'proxy'" in str(e.value) and "host and a port" in str(e.value)
    assert PASSWORD not in str(e.value)


@pytest.mark.parametrize("kind", KINDS)
async def test_open_platform_source_goes_through_the_proxy_and_names_it_when_it_is_down(kind, caplog):
    """bilibili.open: the signed API calls and the open-platform WebSocket both go through the proxy."""
    from tests.bilibili.open_support import app_options, running_open_source

    caplog.set_level(logging.DEBUG)
    async with run_simulator(rooms=[1000], seed=5) as sim:
        async with running_proxy(kind, "lp", PASSWORD) as proxy:
            async with running_open_source(sim, proxy=proxy_url(proxy, kind), user_agent="livepipe-test/1",
                                           **app_options(sim, 1000)) as run:
                await wait_until(lambda: run.kinds("source.connected"), what="connected through the proxy")
                sim.inject_danmaku(1000, "open via proxy", uid=sim.populations[1000].users[0].uid)
                await wait_until(lambda: any(e.text == "open via proxy" for e in run.kinds("danmaku")),
                                 what="a danmaku through the proxy")
                assert proxy.tunnels[sim_target(sim)] >= 2  # the API calls and the WebSocket
                assert proxy.refused == 0
        assert PASSWORD not in caplog.text
        port = free_port()
        async with running_open_source(sim, proxy=f"{kind}://lp:{PASSWORD}@127.0.0.1:{port}",
                                       **app_options(sim, 1000)) as run:
            await wait_until(lambda: "is the proxy running" in caplog.text, what="an error naming the proxy")
            assert not run.kinds("source.connected")
    assert f"{kind}://127.0.0.1:{port}" in caplog.text
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize("kind", KINDS)
async def test_login_and_credentials_check_go_through_the_proxy_and_never_print_its_password(kind, tmp_path):
    """`livepipe login --proxy` and `livepipe credentials check --proxy`: every request through the proxy
    (counted by it); with the proxy down, an error naming it (scheme://host:port) and exit status 1."""
    import anyio
    import httpx
    from click.testing import CliRunner

    from livepipe.bilibili.cli import check_command, login_command
    from livepipe.bilibili.cookies import read_cookie_file, write_cookie_file
    from livepipe.sim.actions_common import STORE_KEY

    async def invoke(cmd, args):
        return await anyio.to_thread.run_sync(lambda: CliRunner().invoke(cmd, args, catch_exceptions=False))

    async with run_simulator(rooms=[1000]) as sim:
        acct = sim.create_account("proxied")
        async with running_proxy(kind, "lp", PASSWORD) as proxy:
            url = proxy_url(proxy, kind)
            store = sim.app[STORE_KEY]

            async def phone() -> None:  # scans and confirms directly, not through the proxy
                await wait_until(lambda: store.qr, what="a QR code")
                key = next(iter(store.qr))
                async with httpx.AsyncClient() as http:
                    await http.post(f"{sim.base_url}/_sim/qr/{key}/scan")
                    await http.post(f"{sim.base_url}/_sim/qr/{key}/confirm", json={"uid": acct.uid})

            out = tmp_path / "cookies.json"
            async with anyio.create_task_group() as tg:
                tg.start_soon(phone)
                r = await invoke(login_command, ["--out", str(out), "--base-url", sim.base_url, "--proxy", url,
                                                 "--poll-interval", "0.05", "--timeout", "20"])
            assert r.exit_code == 0, r.output
            assert read_cookie_file(out)["SESSDATA"] == acct.sessdata
            through = proxy.tunnels[sim_target(sim)]
            assert through >= 1  # connections (requests share one): without the proxy there would be none
            r = await invoke(check_command, ["--cookie-file", str(out), "--base-url", sim.base_url, "--proxy", url])
            assert r.exit_code == 0 and f"uid {acct.uid}" in r.output, r.output
            assert proxy.tunnels[sim_target(sim)] > through
            assert PASSWORD not in r.output
        write_cookie_file(out, sim.cookies_for(acct), acct.refresh_token)
        down = f"{kind}://lp:{PASSWORD}@127.0.0.1:{free_port()}"
        r = await invoke(check_command, ["--cookie-file", str(out), "--base-url", sim.base_url, "--proxy", down])
        assert r.exit_code == 1 and f"{kind}://127.0.0.1:" in r.output and PASSWORD not in r.output, r.output
