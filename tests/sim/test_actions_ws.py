"""The action endpoints inside the full simulator: their broadcasts reach a real WebSocket client."""

import json

import aiohttp
import anyio
import httpx
import pytest

from livepipe.bilibili import protocol
from livepipe.sim.app import run_simulator

pytestmark = pytest.mark.anyio

ROOM = 22000076


def hdr(cookies):
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}


class WsClient:
    """A minimal logged-in /sub client that collects cmd messages."""

    def __init__(self, ws):
        self.ws = ws
        self.msgs = []

    async def auth(self, uid, token, buvid):
        body = json.dumps(
            {"uid": uid, "roomid": ROOM, "protover": 3, "platform": "web", "type": 2, "key": token, "buvid": buvid}
        )
        await self.ws.send_bytes(protocol.encode_packet(protocol.OP_AUTH, body))
        packets = await self._packets()
        assert packets[0].op == protocol.OP_AUTH_REPLY and json.loads(packets[0].body) == {"code": 0}

    async def _packets(self):
        frame = await self.ws.receive()
        assert frame.type == aiohttp.WSMsgType.BINARY, frame
        return protocol.decode_frame(frame.data)

    async def wait_for(self, cmd, pred=lambda m: True, count=1):
        """Read frames until ``count`` messages of ``cmd`` satisfying ``pred`` arrived (10 s at most)."""
        with anyio.fail_after(10):
            while True:
                found = [m for m in self.msgs if str(m.get("cmd", "")).split(":")[0] == cmd and pred(m)]
                if len(found) >= count:
                    return found
                for p in await self._packets():
                    if p.op == protocol.OP_COMMAND:
                        self.msgs.append(json.loads(p.body))


async def connect(sim, http, acct):
    cookies = sim.cookies_for(acct)
    info = (
        await http.get("/xlive/web-room/v1/index/getDanmuInfo", params={"id": ROOM, "type": 0}, headers=hdr(cookies))
    ).json()
    assert info["code"] == 0
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(sim.ws_url)
    client = WsClient(ws)
    await client.auth(acct.uid, info["data"]["token"], cookies["buvid3"])
    return session, client


async def test_broadcasts_reach_a_websocket_client():
    async with run_simulator(rooms=[(76, ROOM)], rate=0, require_wbi=False) as sim:
        streamer = sim.create_account(owner_of=ROOM)
        viewer = sim.create_account(uname="ws_viewer")
        room = sim.room(ROOM)
        target = next(u for u in sim.populations[ROOM].users if u.uid not in room.admins)
        async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as http:
            session, client = await connect(sim, http, viewer)
            try:
                v = sim.cookies_for(viewer)
                sent = await http.post(
                    "/msg/send",
                    data={"roomid": ROOM, "msg": "hello ws", "csrf": v["bili_jct"], "rnd": 1},
                    headers=hdr(v),
                )
                assert sent.json()["code"] == 0 and sent.json()["message"] == ""
                [echo] = await client.wait_for("DANMU_MSG", lambda m: m["info"][1] == "hello ws")
                assert echo["info"][2][0] == viewer.uid and echo["info"][2][1] == "ws_viewer"
                sent_id = json.loads(sent.json()["data"]["mode_info"]["extra"])["id_str"]
                assert json.loads(echo["info"][0][15]["extra"])["id_str"] == sent_id

                s = sim.cookies_for(streamer)
                ban = await http.post(
                    "/xlive/web-ucenter/v1/banned/AddSilentUser",
                    headers=hdr(s),
                    data={
                        "room_id": ROOM,
                        "tuid": target.uid,
                        "hour": 1,
                        "csrf": s["bili_jct"],
                        "csrf_token": s["bili_jct"],
                        "mobile_app": "web",
                        "visit_id": "",
                    },
                )
                assert ban.json()["code"] == 0
                [block] = await client.wait_for("ROOM_BLOCK_MSG")
                assert block["uid"] == str(target.uid) and block["data"]["operator"] == 2

                stop = await http.post(
                    "/room/v1/Room/stopLive",
                    headers=hdr(s),
                    data={"room_id": ROOM, "platform": "pc_link", "csrf": s["bili_jct"]},
                )
                assert stop.json()["data"]["status"] == "PREPARING"
                [prep] = await client.wait_for("PREPARING")
                assert prep["roomid"] == str(ROOM)

                start = await http.post(
                    "/room/v1/Room/startLive",
                    headers=hdr(s),
                    data={
                        "room_id": ROOM,
                        "area_v2": 371,
                        "platform": "pc_link",
                        "csrf": s["bili_jct"],
                    },
                )
                assert start.json()["code"] == 0
                first, second = await client.wait_for("LIVE", count=2)
                assert "live_time" in first and "live_time" not in second

                upd = await http.post(
                    "/room/v1/Room/update",
                    headers=hdr(s),
                    data={"room_id": ROOM, "title": "ws title", "csrf": s["bili_jct"]},
                )
                assert upd.json()["code"] == 0
                [change] = await client.wait_for("ROOM_CHANGE", lambda m: m["data"]["title"] == "ws title")
                assert change["data"]["live_key"] == start.json()["data"]["live_key"]
            finally:
                await client.ws.close()
                await session.close()


async def test_core_read_endpoints_see_action_changes():
    async with run_simulator(rooms=[(76, ROOM)], rate=0, require_wbi=False) as sim:
        streamer = sim.create_account(owner_of=ROOM)
        s = sim.cookies_for(streamer)
        async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as http:
            upd = await http.post(
                "/room/v1/Room/update",
                headers=hdr(s),
                data={"room_id": ROOM, "title": "visible title", "area_id": 216, "csrf": s["bili_jct"]},
            )
            assert upd.json()["code"] == 0
            info = (await http.get("/room/v1/Room/get_info", params={"room_id": ROOM})).json()
            assert info["data"]["title"] == "visible title" and info["data"]["area_id"] == 216
            stop = await http.post(
                "/room/v1/Room/stopLive",
                headers=hdr(s),
                data={"room_id": ROOM, "platform": "pc_link", "csrf": s["bili_jct"]},
            )
            assert stop.json()["code"] == 0
            init = (await http.get("/room/v1/Room/room_init", params={"id": 76})).json()
            assert init["data"]["live_status"] == 0
