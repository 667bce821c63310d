"""Synthetic traffic determinism and rate, TLS mode, control API, and the CLI."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import subprocess
import sys

import aiohttp
import pytest
from sim_helpers import connect, is_text, wait_cmd

from livepipe.sim import pbwrite
from livepipe.sim.app import Simulator, run_simulator
from livepipe.sim.traffic import TrafficGenerator

pytestmark = pytest.mark.anyio


def _shape(msg: dict) -> tuple:
    """What a message says, minus wall-clock fields."""
    cmd = msg["cmd"]
    if cmd.startswith("DANMU_MSG"):
        return (cmd, msg["info"][1], msg["info"][2][0], msg["info"][0][5])
    if cmd == "INTERACT_WORD_V2":
        fields = {f: v for f, _wt, v in pbwrite.read_fields(base64.b64decode(msg["data"]["pb"]))}
        return (cmd, fields[1], fields[5])
    return (cmd, json.dumps(_timeless(msg.get("data", {})), sort_keys=True, ensure_ascii=False))


#: keys whose values come from the wall clock (or from random ids drawn per message)
_CLOCK_KEYS = ("batch_combo_id", "tid", "rnd", "timestamp", "pb", "ts", "payflow_id", "pk_countdown")


def _timeless(v):
    """``v`` without wall-clock fields at any depth (keys containing "time", and _CLOCK_KEYS)."""
    if isinstance(v, dict):
        return {k: _timeless(x) for k, x in v.items() if "time" not in k and k not in _CLOCK_KEYS}
    if isinstance(v, list):
        return [_timeless(x) for x in v]
    return v


def _gen(seed: int, room_id: int = 1000) -> list[tuple]:
    sim = Simulator([room_id], seed=seed)
    g = TrafficGenerator(sim.room(room_id), sim.populations[room_id], seed)
    return [_shape(m) for i in range(300) for m in g.next_messages(1_750_000_000 + i)]


def test_traffic_is_deterministic_per_seed_and_varied():
    a, b, c = _gen(7), _gen(7), _gen(8)
    assert a == b
    assert a != c
    cmds = {s[0].split(":")[0] for s in a}
    assert {"DANMU_MSG", "INTERACT_WORD_V2", "SEND_GIFT", "SEND_GIFT_V2", "LIKE_INFO_V3_CLICK"} <= cmds
    assert any(s[0].startswith("DANMU_MSG:") for s in a)  # some cmd suffix forms


async def test_traffic_at_a_rate_is_deterministic_across_runs():
    runs = []
    for _ in range(2):
        async with run_simulator([1000], rate=200, seed=11) as sim:
            room = sim.room(1000)

            async def enough(room=room) -> None:
                while len(room.history) < 60:
                    await asyncio.sleep(0.02)

            await asyncio.wait_for(enough(), 5)
            runs.append([_shape(m) for m in room.history[:60]])
    assert runs[0] == runs[1]


async def test_rate_is_roughly_honoured():
    async with run_simulator([1000, 1001], rate=100, seed=3) as sim:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        room = sim.room(1001)

        async def enough() -> None:
            while len(room.history) < 100:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(enough(), 5)
        elapsed = loop.time() - t0
        assert 0.6 < elapsed < 2.5, elapsed


async def test_tls_mode_serves_https_and_wss_with_the_generated_cert():
    async with run_simulator(seed=4, tls=True) as sim, aiohttp.ClientSession() as s:
        assert sim.base_url.startswith("https://") and sim.cert_path
        ctx = sim.client_ssl_context()
        async with s.get(sim.base_url + "/x/web-interface/nav", ssl=ctx) as r:
            assert (await r.json())["code"] == -101
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            async with s.get(sim.base_url + "/x/web-interface/nav", ssl=ssl.create_default_context()):
                pass
        acct = sim.create_account()
        ws = await connect(s, sim, 1000, cookies=sim.cookies_for(acct), uid=acct.uid, url=sim.wss_url, ssl_ctx=ctx)
        await sim.wait_for_clients(1000, 1)
        sim.inject_danmaku(1000, "over tls", uid=10_001)
        await wait_cmd(ws, is_text("over tls"))
        # the plain ws_port reported by getDanmuInfo serves ws:// too
        plain = await connect(s, sim, 1000, url=sim.ws_url, ssl_ctx=ctx)
        await sim.wait_for_clients(1000, 2)
        sim.inject_danmaku(1000, "plain too", uid=10_001)
        await wait_cmd(plain, is_text("plain too"))


async def test_control_api_accounts_admin_inject_history_reset():
    async with run_simulator(seed=4) as sim, aiohttp.ClientSession() as s:
        base = sim.base_url + "/_sim"
        async with s.post(base + "/accounts", json={"uname": "mod", "admin_in": [76]}) as r:
            acct = await r.json()
        assert set(acct["cookies"]) == {"SESSDATA", "bili_jct", "DedeUserID", "buvid3"}
        assert acct["rooms"] == [22000076]
        async with s.get(sim.base_url + "/x/web-interface/nav", cookies=acct["cookies"]) as r:
            assert (await r.json())["data"]["mid"] == acct["uid"]
        ws = await connect(s, sim, 22000076, cookies=acct["cookies"], uid=acct["uid"])
        await sim.wait_for_clients(76, 1)
        async with s.post(base + "/rooms/76/inject", json={"uid": 4242, "uname": "guest", "text": "via control"}) as r:
            body = await r.json()
            assert body["delivered_to"] == 1
        got = await wait_cmd(ws, is_text("via control"))
        assert got["info"][2][:2] == [4242, "guest"]
        async with s.post(base + "/rooms/76/inject", json={"cmd": "WARNING", "msg": "careful", "roomid": 1}) as r:
            assert r.status == 200
        await wait_cmd(ws, lambda c: c["cmd"] == "WARNING" and c["msg"] == "careful")
        async with s.get(base + "/rooms/76") as r:
            view = await r.json()
        assert acct["uid"] in view["admins"] and view["clients"] == 1 and view["connected"][0]["uid"] == acct["uid"]
        async with s.get(base + "/rooms/76/history", params={"cmd": "WARNING"}) as r:
            assert [m["msg"] for m in (await r.json())["messages"]] == ["careful"]
        async with s.post(base + "/reset") as r:
            assert r.status == 200
        async with s.get(base + "/rooms/76") as r:
            view = await r.json()
        assert view["history_len"] == 0 and acct["uid"] not in view["admins"]
        async with s.get(sim.base_url + "/x/web-interface/nav", cookies=acct["cookies"]) as r:
            assert (await r.json())["code"] == -101


def test_cli_prints_base_url_and_serves():
    code = "from livepipe.sim.cli import sim_command; sim_command()"
    proc = subprocess.Popen([sys.executable, "-c", code, "--rooms", "1000,76:5000076", "--seed", "3"],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.startswith("livepipe sim serving http://127.0.0.1:"), line
        base = line.split()[-1]
        import urllib.request

        with urllib.request.urlopen(base + "/room/v1/Room/room_init?id=76", timeout=5) as r:
            assert json.load(r)["data"]["room_id"] == 5000076
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
