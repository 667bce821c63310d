"""The control API declares its bodies: every POST route rejects an unknown key with a 400 naming it,
keeps working for the keys it documents, and danmaku from room admins carry the admin flag."""

from __future__ import annotations

import json

import aiohttp
import pytest
from sim_helpers import connect, next_frame

from livepipe.bilibili import protocol as P
from livepipe.bilibili.commands import parse_command
from livepipe.sim.app import Simulator, run_simulator

pytestmark = pytest.mark.anyio

ROOM = 22000076


def _control_post_routes(sim: Simulator) -> list[tuple[str, object]]:
    out = []
    for route in sim.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if route.method == "POST" and path.startswith("/_sim"):
            out.append((path, route.handler))
    return out


def _concrete(path: str, uid: int) -> str:
    return (path.replace("{room_id}", str(ROOM)).replace("{uid}", str(uid)).replace("{key}", "nokey")
            .replace("{game_id}", "nogame"))


def test_every_control_post_route_declares_its_body() -> None:
    sim = Simulator([(76, ROOM)], rate=0)
    routes = _control_post_routes(sim)
    assert len(routes) >= 14, routes  # the /_sim/ and /_sim/actions/ and /_sim/qr/ POST routes
    undeclared = [p for p, h in routes if getattr(h, "body_schema", None) is None]
    assert not undeclared, f"control routes without a declared body schema: {undeclared}"


@pytest.mark.parametrize("unknown", ["admin_of", "zz_not_a_key", "UID"])
async def test_every_control_post_route_rejects_an_unknown_key_naming_it(unknown: str) -> None:
    async with run_simulator(rooms=[(76, ROOM)], rate=0) as sim:
        acct = sim.create_account(uname="probe")
        async with aiohttp.ClientSession() as http:
            for path, handler in _control_post_routes(sim):
                body = {unknown: 1}
                if handler.body_schema.raw_if:  # type: ignore[attr-defined]
                    body = {"text": "hi", unknown: 1}
                async with http.post(sim.base_url + _concrete(path, acct.uid), json=body) as r:
                    text = await r.text()
                    assert r.status == 400, f"{path}: {r.status} {text}"
                    reply = await r.json()
                    assert reply["unknown_keys"] == [unknown], (path, reply)
                    assert repr(unknown) in reply["error"] and "valid keys" in reply["error"], (path, reply)
            # nothing was created or changed by the refused requests
            assert [a.uid for a in sim.state.accounts.values()] == [acct.uid]
            assert sim.room(76).admins == set(sim.populations[ROOM].admins)


async def test_admin_of_typo_does_not_make_a_plain_account() -> None:
    async with run_simulator(rooms=[(76, ROOM)], rate=0) as sim, aiohttp.ClientSession() as http:
        async with http.post(sim.base_url + "/_sim/accounts", json={"uname": "mod", "admin_of": [76]}) as r:
            assert r.status == 400
            assert "'admin_of'" in (await r.json())["error"]
            assert "admin_in" in (await r.json())["error"]  # the valid keys are listed
        assert not sim.state.accounts
        async with http.post(sim.base_url + "/_sim/accounts", json={"uname": "mod", "admin_in": [76]}) as r:
            assert r.status == 200
            assert (await r.json())["rooms"] == [ROOM]


@pytest.mark.parametrize(
    ("path", "body", "key"),
    [
        ("/_sim/accounts", {"uid": "abc"}, "uid"),
        ("/_sim/accounts", {"admin_in": [True]}, "admin_in"),
        ("/_sim/rooms/76/admins", {"uid": 5, "revoke": "maybe"}, "revoke"),
        ("/_sim/rate", {"rate": "fast"}, "rate"),
        ("/_sim/rooms/76/inject", {"messages": "not a list"}, "messages"),
        ("/_sim/actions/rooms/76", {"replay_loop": "perhaps"}, "replay_loop"),
    ],
)
async def test_a_bad_value_is_a_400_naming_the_key(path: str, body: dict, key: str) -> None:
    async with run_simulator(rooms=[(76, ROOM)], rate=0) as sim, aiohttp.ClientSession() as http:
        async with http.post(sim.base_url + path, json=body) as r:
            assert r.status == 400
            assert f"'{key}'" in (await r.json())["error"]


async def test_documented_bodies_still_work() -> None:
    async with run_simulator(rooms=[(76, ROOM)], rate=0) as sim, aiohttp.ClientSession() as http:
        base = sim.base_url
        async with http.post(base + "/_sim/rooms/76/inject", json={"cmd": "ANY_CMD", "data": {"x": 1}, "ver": 0}) as r:
            assert r.status == 200 and (await r.json())["messages"] == [{"cmd": "ANY_CMD", "data": {"x": 1}}]
        async with http.post(base + "/_sim/rooms/76/inject", json={"messages": [{"cmd": "A"}, {"cmd": "B"}]}) as r:
            assert (await r.json())["injected"] == 2
        async with http.post(base + "/_sim/rate", json={"rate": 2}) as r:
            assert (await r.json())["rate"] == 2.0
        async with http.post(base + "/_sim/faults", json={"reset": True, "http_delay": 0.0}) as r:
            assert r.status == 200
        async with http.post(base + "/_sim/faults", json={"bogus_fault": 1}) as r:
            assert r.status == 400 and "'bogus_fault'" in (await r.json())["error"]
        async with http.post(base + "/_sim/actions/rooms/76", data={"keyword_shield": "a,b"}) as r:
            assert (await r.json())["keyword_shield"] == ["a", "b"]
        async with http.post(base + "/_sim/actions/settings", params={"qr_ttl": "5"}) as r:
            assert r.status == 200
        async with http.post(base + "/_sim/close", json={}) as r:
            assert r.status == 200
        async with http.post(base + "/_sim/reset") as r:
            assert r.status == 200


# ---- the admin flag ---------------------------------------------------------------------------


async def test_danmaku_from_a_room_admin_carries_the_admin_flag_and_from_others_not() -> None:
    async with run_simulator(rooms=[(76, ROOM), 1000], rate=0, seed=3) as sim, aiohttp.ClientSession() as http:
        viewer = sim.create_account(uname="viewer")
        async with http.post(sim.base_url + "/_sim/accounts", json={"uname": "mod", "admin_in": [76]}) as r:
            mod_uid = (await r.json())["uid"]
        pop_admin = sim.populations[ROOM].admins[0]
        streamer = sim.room(76).owner_uid
        ws = await connect(http, sim, ROOM, cookies=sim.cookies_for(viewer), uid=viewer.uid)
        expected = {mod_uid: 1, pop_admin: 1, viewer.uid: 0, streamer: 0, 4242: 0}
        for uid in expected:
            async with http.post(sim.base_url + "/_sim/rooms/76/inject", json={"uid": uid, "text": f"from {uid}"}) as r:
                assert r.status == 200
        seen: dict[int, int] = {}
        while len(seen) < len(expected):  # one frame may carry several messages
            for packet in P.decode_frame(await next_frame(ws)):
                msg = json.loads(packet.body) if packet.op == P.OP_COMMAND else {}
                if msg.get("cmd", "").startswith("DANMU_MSG"):
                    seen[msg["info"][2][0]] = msg["info"][2][2]
        assert seen == expected
        # an admin of room 76 is no admin in room 1000
        assert sim.make_danmaku(1000, "x", uid=mod_uid)["info"][2][2] == 0
        # revoking clears the flag; granting a viewer at run time sets it
        async with http.post(sim.base_url + "/_sim/rooms/76/admins", json={"uid": mod_uid, "revoke": True}) as r:
            assert r.status == 200
        async with http.post(sim.base_url + "/_sim/rooms/76/admins", json={"uid": viewer.uid}) as r:
            assert r.status == 200
        assert sim.make_danmaku(76, "x", uid=mod_uid)["info"][2][2] == 0
        assert parse_command(sim.make_danmaku(76, "x", uid=viewer.uid), ROOM).data["is_admin"] is True
        await ws.close()
