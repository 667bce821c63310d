"""Read-only HTTP endpoints at the real paths (nav, finger/spi, room_init, get_info, getDanmuInfo, ...).

All Bilibili hosts (``api.bilibili.com``, ``api.live.bilibili.com``, ``www.bilibili.com``,
``live-trace.bilibili.com``) map onto the one simulator port: only the path matters.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from livepipe.bilibili import wbi
from livepipe.sim.state import Room

if TYPE_CHECKING:
    from livepipe.sim.app import Simulator

#: (parent id, parent name, [(child id, child name)]): a small area tree for Area/getList
AREAS: list[tuple[int, str, list[tuple[int, str]]]] = [
    (2, "网游", [(86, "英雄联盟"), (88, "穿越火线"), (89, "CS:GO")]),
    (3, "手游", [(35, "王者荣耀"), (163, "和平精英")]),
    (6, "单机游戏", [(236, "主机游戏"), (216, "我的世界")]),
    (1, "娱乐", [(21, "视频唱见"), (145, "视频聊天")]),
    (9, "虚拟主播", [(371, "虚拟主播")]),
    (11, "知识", [(376, "科技·科学"), (377, "人文历史")]),
]
AREA_NAMES: dict[int, tuple[str, int, str]] = {
    cid: (cname, pid, pname) for pid, pname, kids in AREAS for cid, cname in kids
}


def area_names(area_id: int) -> tuple[str, str]:
    """(area_name, parent_area_name) for a child area id ('' when unknown)."""
    name, _pid, pname = AREA_NAMES.get(area_id, ("", 0, ""))
    return name, pname


def api_ok(data: Any) -> web.Response:
    """``api.bilibili.com`` envelope."""
    return web.json_response({"code": 0, "message": "0", "ttl": 1, "data": data})


def live_ok(data: Any) -> web.Response:
    """``api.live.bilibili.com`` envelope (msg and message)."""
    return web.json_response({"code": 0, "msg": "ok", "message": "ok", "data": data})


def err(code: int, message: str, data: Any = None, ttl: bool = True) -> web.Response:
    """An error envelope (HTTP 200, like the real service)."""
    body: dict[str, Any] = {"code": code, "message": message}
    if ttl:
        body["ttl"] = 1
    if data is not None:
        body["data"] = data
    return web.json_response(body)


def risk_352() -> web.Response:
    """The exact -352 body getDanmuInfo answers without WBI or buvid3."""
    return web.json_response({"code": -352, "message": "-352", "ttl": 1})


def make_token(uid: int, room_id: int) -> str:
    """A long base64url-ish token like getDanmuInfo's (random; the server remembers what it means)."""
    raw = secrets.token_bytes(120)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _live_time(room: Room) -> int:
    return int(room.live_time) if room.live_status == 1 and getattr(room, "live_time", 0) else (
        int(time.time()) - 3600 if room.live_status == 1 else -62170012800
    )


def add_routes(app: web.Application, sim: Simulator) -> None:
    """Register the read endpoints on ``app``."""
    state = sim.state
    ctx = sim.ctx

    def wbi_img() -> dict[str, str]:
        return {
            "img_url": f"https://i0.hdslb.com/bfs/wbi/{sim.img_key}.png",
            "sub_url": f"https://i0.hdslb.com/bfs/wbi/{sim.sub_key}.png",
        }

    async def www_root(request: web.Request) -> web.Response:
        resp = web.Response(text="<!DOCTYPE html><html><head><title>livepipe sim</title></head><body></body></html>",
                            content_type="text/html")  # fmt: skip
        if not request.cookies.get("buvid3"):
            resp.set_cookie("buvid3", f"{str(uuid.uuid4()).upper()}{secrets.randbelow(100000):05d}infoc",
                            path="/", max_age=34560000)  # fmt: skip
            resp.set_cookie("b_nut", str(int(time.time())), path="/", max_age=34560000)
        return resp

    async def nav(request: web.Request) -> web.Response:
        acct = ctx.account(request)
        if acct is None:
            return web.json_response(
                {"code": -101, "message": "账号未登录", "ttl": 1, "data": {"isLogin": False, "wbi_img": wbi_img()}}
            )
        user = ctx.user(acct.uid)
        return api_ok(
            {
                "isLogin": True,
                "email_verified": 1,
                "face": user.face if user else "",
                "level_info": {"current_level": getattr(acct, "main_level", 4)},
                "mid": acct.uid,
                "mobile_verified": 1,
                "money": 0,
                "uname": acct.uname,
                "vipStatus": 0,
                "wbi_img": wbi_img(),
            }
        )

    async def spi(request: web.Request) -> web.Response:
        b3 = f"{str(uuid.uuid4()).upper()}{secrets.randbelow(100000):05d}infoc"
        b4 = f"{str(uuid.uuid4()).upper()}{secrets.randbelow(100000):05d}-{secrets.token_hex(5)}-sim=="
        return web.json_response({"code": 0, "data": {"b_3": b3, "b_4": b4}, "message": "ok"})

    async def getbuvid(request: web.Request) -> web.Response:
        return api_ok({"buvid": f"{str(uuid.uuid4()).upper()}{secrets.randbelow(100000):05d}infoc"})

    async def exclimb(request: web.Request) -> web.Response:
        # the page posts JSON {"payload": "<JSON text of the fingerprint>"} with its buvid3 cookie
        try:
            body = await request.json()
            payload = json.loads(body["payload"])
            if not isinstance(payload, dict):
                raise ValueError("payload is not an object")
        except (ValueError, KeyError, TypeError):
            return web.json_response({"code": -400, "msg": "请求错误", "message": "请求错误", "data": {}})
        buvid = request.cookies.get("buvid3")
        if buvid:
            sim.activated_buvids.add(buvid)
        return web.json_response({"code": 0, "msg": "", "data": {}})

    async def gen_web_ticket(request: web.Request) -> web.Response:
        q = request.query
        ts = q.get("context[ts]", "")
        if q.get("key_id") != "ec02" or not ts.isdigit() or q.get("hexsign") != wbi.ticket_hexsign(int(ts)):
            return web.json_response({"code": 400, "message": "参数错误", "ttl": 1})
        now = int(time.time())
        ticket = "eyJhbGciOiJIUzI1NiIsImtpZCI6InMwMyIsInR5cCI6IkpXVCJ9." + secrets.token_urlsafe(48) + "." + \
            secrets.token_urlsafe(32)  # fmt: skip
        return api_ok(
            {
                "ticket": ticket,
                "created_at": now,
                "ttl": 259200,
                "context": {},
                "nav": {"img": wbi_img()["img_url"], "sub": wbi_img()["sub_url"]},
            }
        )

    def find(request: web.Request, name: str) -> Room | None:
        return state.room(request.query.get(name, ""))

    async def room_init(request: web.Request) -> web.Response:
        room = find(request, "id")
        if room is None:
            return web.json_response({"code": 60004, "msg": "直播间不存在", "message": "直播间不存在", "data": {}})
        return live_ok(
            {
                "room_id": room.room_id,
                "short_id": room.short_id,
                "uid": room.owner_uid,
                "need_p2p": 0,
                "is_hidden": False,
                "is_locked": False,
                "is_portrait": False,
                "live_status": room.live_status,
                "hidden_till": 0,
                "lock_till": 0,
                "encrypted": False,
                "pwd_verified": False,
                "live_time": _live_time(room),
                "room_shield": 0,
                "is_sp": 0,
                "special_type": 0,
            }
        )

    def room_info(room: Room) -> dict[str, Any]:
        name, pname = area_names(room.area_id)
        silent = sim.room_silent.get(room.room_id, ("", 0, 0))
        lt = _live_time(room)
        return {
            "uid": room.owner_uid,
            "room_id": room.room_id,
            "short_id": room.short_id,
            "attention": 1000 + room.room_id % 9000,
            "online": sim.popularity(room),
            "is_portrait": False,
            "description": "",
            "live_status": room.live_status,
            "area_id": room.area_id,
            "parent_area_id": room.parent_area_id,
            "parent_area_name": pname,
            "old_area_id": 1,
            "background": "",
            "title": room.title,
            "user_cover": room.cover,
            "keyframe": "",
            "is_strict_room": False,
            "live_time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(lt)) if lt > 0 else "0000-00-00 00:00:00",
            "tags": ",".join(room.tags),
            "is_anchor": 0,
            "room_silent_type": silent[0],
            "room_silent_level": silent[1],
            "room_silent_second": silent[2],
            "area_name": name,
            "pendants": "",
            "area_pendants": "",
            "hot_words": [],
            "hot_words_status": 0,
            "verify": "",
            "new_pendants": {},
            "up_session": "",
            "pk_status": 0,
            "pk_id": 0,
            "battle_id": 0,
            "allow_change_area_time": 0,
            "allow_upload_cover_time": 0,
            "studio_info": {"status": 0, "master_list": []},
        }

    async def get_info(request: web.Request) -> web.Response:
        room = find(request, "room_id")
        if room is None:
            return web.json_response({"code": 1, "msg": "未找到该房间", "message": "未找到该房间", "data": []})
        return live_ok(room_info(room))

    async def get_info_by_room(request: web.Request) -> web.Response:
        room = find(request, "room_id")
        if room is None:
            return web.json_response({"code": 19002000, "message": "获取初始化数据失败", "ttl": 1, "data": None})
        owner = ctx.user(room.owner_uid)
        info = room_info(room)
        info["live_start_time"] = _live_time(room) if room.live_status == 1 else 0
        return api_ok(
            {
                "room_info": info,
                "anchor_info": {"base_info": {"uname": room.owner_name, "face": owner.face if owner else ""}},
                "news_info": {"uid": room.owner_uid, "content": room.news, "ctime": ""},
            }
        )

    async def room_play_info(request: web.Request) -> web.Response:
        room = find(request, "room_id")
        if room is None:
            return web.json_response({"code": 1002002, "message": "参数错误", "ttl": 1, "data": None})
        return api_ok(
            {
                "room_id": room.room_id,
                "short_id": room.short_id,
                "uid": room.owner_uid,
                "is_hidden": False,
                "is_locked": False,
                "is_portrait": False,
                "live_status": room.live_status,
                "hidden_till": 0,
                "lock_till": 0,
                "encrypted": False,
                "pwd_verified": False,
                "live_time": _live_time(room) if room.live_status == 1 else 0,
                "room_shield": 0,
                "all_special_types": [],
                "playurl_info": None,
            }
        )

    async def danmu_info(request: web.Request) -> web.Response:
        q = request.query
        if sim.require_wbi and not ctx.wbi_ok(q):
            return risk_352()
        if sim.require_buvid and not ctx.has_buvid(request):
            return risk_352()
        room = state.room(q.get("id", ""))
        if room is None:
            return web.json_response({"code": 1002002, "message": "参数错误", "ttl": 1, "data": None})
        acct = ctx.account(request)
        uid = acct.uid if acct else 0
        token = make_token(uid, room.room_id)
        sim.tokens[token] = (uid, room.room_id)
        host = sim.public_host(request)
        entry = {"host": host, "port": sim.port, "wss_port": sim.wss_port, "ws_port": sim.ws_port}
        return web.json_response(
            {
                "code": 0,
                "message": "0",
                "ttl": 1,
                "data": {
                    "group": "live",
                    "business_id": 0,
                    "refresh_row_factor": 0.125,
                    "refresh_rate": 100,
                    "max_delay": 5000,
                    "token": token,
                    "host_list": [dict(entry), dict(entry)],
                },
            }
        )

    async def area_list(request: web.Request) -> web.Response:
        data = [
            {
                "id": pid,
                "name": pname,
                "list": [
                    {"id": str(cid), "parent_id": str(pid), "old_area_id": "0", "name": cname, "act_id": "0",
                     "pk_status": "0", "hot_status": 0, "lock_status": "0", "pic": "", "parent_name": pname,
                     "area_type": 0}
                    for cid, cname in kids
                ],
            }  # fmt: skip
            for pid, pname, kids in AREAS
        ]
        return web.json_response({"code": 0, "msg": "success", "message": "success", "data": data})

    async def web_heartbeat(request: web.Request) -> web.Response:
        return api_ok({"next_interval": 60})

    async def live_user_info(request: web.Request) -> web.Response:
        acct = ctx.account(request)
        if acct is None:
            return err(-101, "账号未登录")
        return api_ok({"uid": acct.uid, "uname": acct.uname, "face": "", "user_level": 20, "billCoin": 0})

    r = app.router
    r.add_get("/", www_root)
    r.add_get("/x/web-interface/nav", nav)
    r.add_get("/x/frontend/finger/spi", spi)
    r.add_get("/x/web-frontend/getbuvid", getbuvid)
    r.add_post("/x/internal/gaia-gateway/ExClimbWuzhi", exclimb)
    r.add_post("/bapis/bilibili.api.ticket.v1.Ticket/GenWebTicket", gen_web_ticket)
    r.add_get("/room/v1/Room/room_init", room_init)
    r.add_get("/room/v1/Room/get_info", get_info)
    r.add_get("/xlive/web-room/v1/index/getInfoByRoom", get_info_by_room)
    r.add_get("/xlive/web-room/v1/index/getRoomPlayInfo", room_play_info)
    r.add_get("/xlive/web-room/v1/index/getDanmuInfo", danmu_info)
    r.add_get("/room/v1/Area/getList", area_list)
    r.add_get("/xlive/rdata-interface/v1/heartbeat/webHeartBeat", web_heartbeat)
    r.add_get("/xlive/web-ucenter/user/get_user_info", live_user_info)
