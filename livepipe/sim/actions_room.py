"""Room management by its streamer: Room/update, updateRoomNews, UpdatePreLiveInfo, startLive, stopLive.

Each changes the :class:`~livepipe.sim.state.Room` and broadcasts what the real service does:
ROOM_CHANGE after a title or area change, LIVE twice after startLive (the first with
``live_time``), PREPARING after stopLive (``round: 1`` when the room's replay loop takes over).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from livepipe.sim import messages
from livepipe.sim.actions_common import (
    ctx_of,
    gate,
    int_param,
    own_room,
    params_of,
    reply_live,
    reply_xlive,
    store_of,
)
from livepipe.sim.actions_silent import clear_stream_bans
from livepipe.sim.state import Account, Room

#: child area id -> (name, parent id, parent name); used only when the core's table is unavailable
FALLBACK_AREAS: dict[int, tuple[str, int, str]] = {
    86: ("英雄联盟", 2, "网游"),
    216: ("我的世界", 6, "单机游戏"),
    21: ("视频唱见", 1, "娱乐"),
    371: ("虚拟主播", 9, "虚拟主播"),
    376: ("科技·科学", 11, "知识"),
}
TITLE_MAX = 40
NEWS_MAX = 60
#: platforms startLive accepts; ``web_link`` (web start-live) was discontinued: 60037
START_PLATFORMS = {"pc", "pc_link", "android_link"}


def areas() -> dict[int, tuple[str, int, str]]:
    """Child area id -> (name, parent id, parent name): the same tree ``Area/getList`` serves."""
    try:
        from livepipe.sim.http_read import AREA_NAMES
    except ImportError:  # the core's read endpoints are not there (bare test app)
        return FALLBACK_AREAS
    return AREA_NAMES


def area_names(area_id: int) -> tuple[str, int, str]:
    """(area name, parent id, parent name); unknown ids get empty names and parent 0."""
    return areas().get(area_id, ("", 0, ""))


def area_usable(area_id: int | None, offline: list[int]) -> bool:
    """True for a known child area that is not switched offline (else 60009)."""
    return area_id is not None and area_id in areas() and area_id not in offline


def _login_reply(code: int, style: str) -> web.Response:
    builder = reply_xlive if style == "xlive" else reply_live
    if code == -101:
        return builder(-101, "账号未登录")
    if code == 65530:
        return builder(65530, "bad token")
    return builder(-111, "csrf 校验失败")


async def _streamer_room(
    request: web.Request,
    style: str,
    no_room: tuple[int, str],
    not_owner: tuple[int, str],
    room_keys: tuple[str, ...] = ("room_id",),
) -> tuple[dict[str, str], Room, Account] | web.Response:
    """The shared start of the streamer-only endpoints: logged in, the room exists, the caller owns it.

    Returns ``(params, room, account)``, or the reply the endpoint gives (each endpoint has its own codes).
    """
    ctx = ctx_of(request)
    params = await params_of(request)
    g = gate(request, params, unknown_session_code=65530)
    if g.code:
        return _login_reply(g.code, style)
    acct = g.account
    assert acct is not None
    reply = reply_live if style == "live" else reply_xlive
    room = ctx.state.room(next((params[k] for k in room_keys if params.get(k)), ""))
    if room is None:
        return reply(*no_room)
    if acct.uid != room.owner_uid:
        return reply(*not_owner)
    return params, room, acct


def ensure_stream_keys(room: Room, now: float) -> None:
    """Give a room that is live without known stream keys (e.g. live from the start) a live_key."""
    if room.live_status == 1 and not room.live_key:
        room.live_key = str(secrets.randbelow(9 * 10**17) + 10**17)
        room.sub_session_key = f"{room.live_key}sub_time:{int(room.live_time or now)}"


def room_change_msg(room: Room) -> dict[str, Any]:
    """ROOM_CHANGE for the room's current title and area (names from the area tree)."""
    name, parent_id, parent_name = area_names(room.area_id)
    return messages.room_change(room, name, parent_name, parent_area_id=room.parent_area_id or parent_id)


def audit_info(title: str | None) -> dict:
    """``audit_info`` of a title change: published at once, reviewed afterwards (status 2)."""
    if title is None:
        return {"audit_title_reason": "", "update_title": "", "audit_title_status": 0}
    return {"audit_title_reason": "先发后审", "update_title": "", "audit_title_status": 2, "audit_title": title}


async def room_update(request: web.Request) -> web.Response:
    """``POST /room/v1/Room/update``: title, area, tags; -1 when the room was updated too recently."""
    ctx = ctx_of(request)
    settings = store_of(request).settings
    got = await _streamer_room(request, "live", (1, "room_id 参数错误"), (3, "鉴权失败"))
    if isinstance(got, web.Response):
        return got
    params, room, acct = got
    now = ctx.now()
    if room.last_update and now - room.last_update < settings.room_update_interval:
        return reply_live(-1, "操作太频繁")
    title = params.get("title")
    if title is not None and (title.strip() == "" or len(title) > TITLE_MAX):
        return reply_live(1, "标题长度不合法")
    area_id = None
    if params.get("area_id", "") != "":
        area_id = int_param(params, "area_id")
        if not area_usable(area_id, settings.offline_areas):
            return reply_live(60009, "分区已下线")
    add_tag = params.get("add_tag") or ""
    del_tag = params.get("del_tag") or ""
    changed = False
    if title is not None and title != room.title:
        room.title = title
        changed = True
    if area_id is not None and area_id != room.area_id:
        room.area_id = area_id
        room.parent_area_id = area_names(area_id)[1]
        changed = True
    if add_tag:
        if add_tag not in room.tags:
            room.tags.append(add_tag)
    elif del_tag and del_tag in room.tags:
        room.tags.remove(del_tag)
    room.last_update = now
    ensure_stream_keys(room, now)
    if changed:
        room.broadcast(room_change_msg(room))
    data = {
        "sub_session_key": room.sub_session_key if room.live_status == 1 else "",
        "audit_info": audit_info(title),
    }
    return reply_live(0, "ok", data)


async def update_room_news(request: web.Request) -> web.Response:
    """``POST /xlive/app-blink/v1/index/updateRoomNews``: form ``room_id`` or query ``roomId``."""
    got = await _streamer_room(request, "xlive", (1, "room_id 参数错误"), (1, "没有权限"), ("room_id", "roomId"))
    if isinstance(got, web.Response):
        return got
    params, room, acct = got
    if "content" not in params:
        return reply_xlive(-400, "content 参数错误")
    content = params["content"]
    if len(content) > NEWS_MAX:
        return reply_xlive(1, "公告内容超出长度限制")
    room.news = content
    return reply_xlive(0, "0", {})


async def update_pre_live_info(request: web.Request) -> web.Response:
    """``POST /xlive/app-blink/v1/preLive/UpdatePreLiveInfo``: cover / title; the room comes from the cookie."""
    ctx = ctx_of(request)
    params = await params_of(request)
    g = gate(request, params, unknown_session_code=65530)
    if g.code:
        return _login_reply(g.code, "xlive")
    acct = g.account
    assert acct is not None
    room = own_room(ctx.state, acct)
    if room is None:
        return reply_xlive(1, "没有直播间")
    cover = params.get("cover")
    if cover:
        host = (urlsplit(cover).hostname or "").lower()
        if not (host == "hdslb.com" or host.endswith(".hdslb.com")):
            return reply_xlive(100402, "图片地址不合法")
    title = params.get("title")
    if title is not None and title != "" and len(title) > TITLE_MAX:
        return reply_xlive(1, "标题长度不合法")
    if cover:
        room.cover = cover
    if title:
        ensure_stream_keys(room, ctx.now())
        changed = title != room.title
        room.title = title
        if changed:
            room.broadcast(room_change_msg(room))
    info = audit_info(title or None)
    info.pop("update_title", None)
    if not title:
        info["audit_title"] = ""
    return reply_xlive(0, "0", {"audit_info": info})


def _rtmp(room: Room, key: str) -> dict:
    code = f"?streamname=live_{room.owner_uid}_{room.room_id % 10**8}&key={key}&schedule=rtmp&pflag=11"
    return {
        "addr": "rtmp://live-push.bilivideo.com/live-bvc/",
        "code": code,
        "new_link": "https://core.bilivideo.com/video/uplinkcore/selfbuild/schedule?edge=edge",
        "provider": "live",
    }


async def start_live(request: web.Request) -> web.Response:
    """``POST /room/v1/Room/startLive``."""
    ctx = ctx_of(request)
    got = await _streamer_room(request, "live", (-400, "room_id 参数错误"), (-400, "没有权限"))
    if isinstance(got, web.Response):
        return got
    params, room, acct = got
    platform = params.get("platform", "")
    if platform == "web_link":
        return reply_live(60037, "web 在线开播已下线")
    if platform and platform not in START_PLATFORMS:
        return reply_live(-400, "platform 参数错误")
    area_id = int_param(params, "area_v2")
    if area_id is None or not area_usable(area_id, store_of(request).settings.offline_areas):
        return reply_live(60009, "分区不存在")
    if acct.needs_face_auth or room.needs_face_auth:
        versioned = bool(params.get("version")) and bool(params.get("build"))
        if acct.face_auth_persistent or not versioned:
            return reply_live(60024, "目标分区需要人脸认证", {"need_face_auth": True, "qr": ""})
    now = ctx.now()
    if room.live_status == 1:
        change = 0
    else:
        change = 1
        room.live_status = 1
        room.live_time = now
        room.live_key = str(secrets.randbelow(9 * 10**17) + 10**17)
        room.sub_session_key = f"{room.live_key}sub_time:{int(now)}"
    room.area_id = area_id
    room.parent_area_id = area_names(area_id)[1]
    stream_key = secrets.token_hex(16)
    rtmp = _rtmp(room, stream_key)
    data = {
        "change": change,
        "status": "LIVE",
        "try_time": "0000-00-00 00:00:00",
        "room_type": 0,
        "live_key": room.live_key,
        "sub_session_key": room.sub_session_key,
        "rtmp": {"type": 1, **rtmp},
        "protocols": [{"protocol": "rtmp", **rtmp}],
        "notice": {"type": 1, "status": 0, "title": "", "msg": "", "button_text": "", "button_url": ""},
        "qr": "",
        "need_face_auth": False,
        "service_source": "live-streaming",
        "rtmp_backup": None,
        "up_stream_extra": {"isp": "电信"},
    }
    if change:
        for with_time in (True, False):
            room.broadcast(messages.live(room, now, with_time, platform=platform or "pc_link"))
    return reply_live(0, "", data)


async def stop_live(request: web.Request) -> web.Response:
    """``POST /room/v1/Room/stopLive``."""
    ctx = ctx_of(request)
    got = await _streamer_room(request, "live", (-400, "room_id 参数错误"), (-400, "没有权限"))
    if isinstance(got, web.Response):
        return got
    params, room, acct = got
    status = "ROUND" if room.replay_loop else "PREPARING"
    if room.live_status != 1:
        return reply_live(0, "", {"change": 0, "status": status})
    now = ctx.now()
    room.live_status = 2 if room.replay_loop else 0
    room.live_time = 0.0
    room.live_key = ""
    room.sub_session_key = ""
    clear_stream_bans(room)
    room.broadcast(messages.preparing(room, now, round_=room.replay_loop))
    return reply_live(0, "", {"change": 1, "status": status})


def add_room_routes(app: web.Application) -> None:
    """Register the room-management routes."""
    app.router.add_post("/room/v1/Room/update", room_update)
    app.router.add_post("/xlive/app-blink/v1/index/updateRoomNews", update_room_news)
    app.router.add_post("/xlive/app-blink/v1/preLive/UpdatePreLiveInfo", update_pre_live_info)
    app.router.add_post("/room/v1/Room/startLive", start_live)
    app.router.add_post("/room/v1/Room/stopLive", stop_live)
