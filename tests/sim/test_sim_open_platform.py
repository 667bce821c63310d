"""The simulator's open platform over real HTTP and WebSocket: control API, signature checks, games, expiry."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import websockets

from livepipe.bilibili import decode_events, decode_frame
from livepipe.bilibili import open_api as O
from livepipe.bilibili.protocol import OP_AUTH, OP_AUTH_REPLY, encode_packet, heartbeat
from livepipe.sim.app import run_simulator

pytestmark = pytest.mark.anyio


class OpenClient:
    """A minimal signed client for the tests (the source under test is not used here)."""

    def __init__(self, http: httpx.AsyncClient, app: dict) -> None:
        self.http, self.app = http, app

    async def call(self, path: str, body: dict, *, secret: str | None = None, ts: int | None = None,
                   headers: dict | None = None) -> dict:  # fmt: skip
        raw = json.dumps(body).encode()
        h = O.signed_headers(self.app["access_key_id"], secret or self.app["access_key_secret"], raw,
                             timestamp=int(time.time()) if ts is None else ts)  # fmt: skip
        h.update(headers or {})
        r = await self.http.post(path, content=raw, headers=h)
        assert r.status_code == 200
        return r.json()


async def _setup(sim):
    http = httpx.AsyncClient(base_url=sim.base_url)
    app = (await http.post("/_sim/open-apps")).json()
    assert set(app) == {"app_id", "access_key_id", "access_key_secret"}
    return http, OpenClient(http, app)


async def test_control_api_registers_apps_and_shows_each_rooms_identity_code():
    async with run_simulator(rooms=[1000, 1001], seed=2) as sim:
        http, c = await _setup(sim)
        other = (await http.post("/_sim/open-apps")).json()
        assert other["app_id"] != c.app["app_id"] and other["access_key_secret"] != c.app["access_key_secret"]
        codes = [(await http.get(f"/_sim/rooms/{r}")).json()["auth_code"] for r in (1000, 1001)]
        assert codes[0] != codes[1] and all(len(x) == 13 and x == x.upper() and x.isalnum() for x in codes)
        start = await c.call(O.PATH_START, O.start_body(codes[1], c.app["app_id"]))
        assert start["code"] == 0 and start["data"]["anchor_info"]["room_id"] == 1001
        assert start["data"]["anchor_info"]["uid"] == 0 and start["data"]["anchor_info"]["open_id"]
        game = O.parse_start(start["data"])
        assert game.wss_links[0].startswith("ws://") and game.wss_links[0].endswith("/open/sub")
        games = (await http.get("/_sim/open-games")).json()["games"]
        assert [g["game_id"] for g in games] == [game.game_id] and "key" not in games[0]
        await http.aclose()


async def test_signature_timestamp_nonce_code_and_app_checks_answer_the_platforms_codes():
    async with run_simulator(rooms=[1000], seed=2) as sim:
        http, c = await _setup(sim)
        code = sim.open.auth_code(sim.room(1000))
        body = O.start_body(code, c.app["app_id"])
        assert (await c.call(O.PATH_START, body, secret="wrong" * 4))["code"] == 4002
        assert (await c.call(O.PATH_START, body, ts=int(time.time()) - 3600))["code"] == 4003
        assert (await c.call(O.PATH_START, body, headers={"x-bili-accesskeyid": "nobody"}))["code"] == 4001
        assert (await c.call(O.PATH_START, O.start_body("NOTACODE00000", c.app["app_id"])))["code"] == 7007
        assert (await c.call(O.PATH_START, O.start_body(code, c.app["app_id"] + 1)))["code"] == 4000
        # replaying a captured request (same nonce) is refused
        raw = json.dumps(body).encode()
        h = O.signed_headers(c.app["access_key_id"], c.app["access_key_secret"], raw, timestamp=int(time.time()))
        first = (await http.post(O.PATH_START, content=raw, headers=h)).json()
        again = (await http.post(O.PATH_START, content=raw, headers=h)).json()
        assert (first["code"], again["code"]) == (0, 4004)
        # a body changed after signing
        h2 = O.signed_headers(c.app["access_key_id"], c.app["access_key_secret"], raw, timestamp=int(time.time()))
        assert (await http.post(O.PATH_START, content=raw + b" ", headers=h2)).json()["code"] == 4002
        refused = [x["code"] for x in (await http.get("/_sim/open-calls")).json()["calls"]]
        assert refused == [4002, 4003, 4001, 7007, 4000, 0, 4004, 4002]
        # a sixth running game of one app in one room
        for _ in range(4):
            assert (await c.call(O.PATH_START, body))["code"] == 0
        assert (await c.call(O.PATH_START, body))["code"] == 7010
        await http.aclose()


async def test_heartbeats_keep_a_game_and_without_them_it_expires_and_its_socket_is_told():
    async with run_simulator(rooms=[1000], seed=2, open_session_expiry=0.6) as sim:
        http, c = await _setup(sim)
        code = sim.open.auth_code(sim.room(1000))
        keep = O.parse_start((await c.call(O.PATH_START, O.start_body(code, c.app["app_id"])))["data"])
        lapse = O.parse_start((await c.call(O.PATH_START, O.start_body(code, c.app["app_id"])))["data"])
        ws = await websockets.connect(lapse.wss_links[0])
        await ws.send(encode_packet(OP_AUTH, lapse.auth_body))
        [reply] = decode_frame(await ws.recv())
        assert reply.op == OP_AUTH_REPLY and json.loads(reply.body)["code"] == 0
        await ws.send(heartbeat())
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.5:  # heartbeat one game three times over its expiry
            assert (await c.call(O.PATH_HEARTBEAT, {"game_id": keep.game_id}))["code"] == 0
            await asyncio.sleep(0.2)
        games = {g["game_id"]: g for g in (await http.get("/_sim/open-games")).json()["games"]}
        assert games[keep.game_id]["ended"] is None and games[lapse.game_id]["ended"] == "expired"
        got = []
        async for frame in ws:  # the socket gets INTERACTION_END, then is closed
            got += [e.cmd for e in decode_events(frame, 1000)]
        assert "LIVE_OPEN_PLATFORM_INTERACTION_END" in got
        assert (await c.call(O.PATH_HEARTBEAT, {"game_id": lapse.game_id}))["code"] == 7003
        batch = await c.call(O.PATH_BATCH_HEARTBEAT, {"game_ids": [keep.game_id, lapse.game_id]})
        assert batch["code"] == 0 and batch["data"]["failed_game_ids"] == [lapse.game_id]
        ok = await c.call(O.PATH_BATCH_HEARTBEAT, {"game_ids": [keep.game_id]})
        assert ok["data"]["failed_game_ids"] is None  # the platform's quirk: null, not []
        assert (await c.call(O.PATH_BATCH_HEARTBEAT, {"game_ids": [keep.game_id] * 2}))["code"] == 7005
        assert (await c.call(O.PATH_BATCH_HEARTBEAT, {"game_ids": [str(i) for i in range(201)]}))["code"] == 7004
        # the end of a game: recorded, its heartbeats refused afterwards; ending twice is 7003
        assert (await c.call(O.PATH_END, {"app_id": c.app["app_id"], "game_id": keep.game_id}))["code"] == 0
        assert (await c.call(O.PATH_END, {"app_id": c.app["app_id"], "game_id": keep.game_id}))["code"] == 7003
        assert (await c.call(O.PATH_HEARTBEAT, {"game_id": keep.game_id}))["code"] == 7003
        await http.aclose()


async def test_the_open_socket_refuses_bad_auth_and_carries_the_rooms_traffic_as_open_cmds():
    async with run_simulator(rooms=[1000, 1001], seed=2, rate=40) as sim:
        http, c = await _setup(sim)
        game = O.parse_start((await c.call(O.PATH_START, O.start_body(sim.open.auth_code(sim.room(1000)),
                                                                      c.app["app_id"])))["data"])  # fmt: skip
        for bad in ('{"roomid":1000,"key":"nope"}', game.auth_body.replace('"roomid":1000', '"roomid":1001'), "x"):
            ws = await websockets.connect(game.wss_links[0])
            await ws.send(encode_packet(OP_AUTH, bad))
            try:
                frames = [f async for f in ws]
            except websockets.ConnectionClosed:
                frames = []
            codes = [json.loads(p.body)["code"] for f in frames for p in decode_frame(f) if p.op == OP_AUTH_REPLY]
            assert codes == ([] if bad == "x" else [-101]), bad  # refused (a body that is not JSON: just closed)
        ws = await websockets.connect(game.wss_links[0])
        await ws.send(encode_packet(OP_AUTH, game.auth_body))
        await ws.recv()
        cmds: set[str] = set()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5 and not {"LIVE_OPEN_PLATFORM_DM", "LIVE_OPEN_PLATFORM_LIVE_ROOM_ENTER"} <= cmds:
            for e in decode_events(await asyncio.wait_for(ws.recv(), 5), 1000):
                cmds.add(e.cmd or "")
                assert e.room_id == 1000
        assert {"LIVE_OPEN_PLATFORM_DM", "LIVE_OPEN_PLATFORM_LIVE_ROOM_ENTER"} <= cmds
        assert all(x.startswith("LIVE_OPEN_PLATFORM_") for x in cmds)
        await ws.close()
        await http.aclose()
