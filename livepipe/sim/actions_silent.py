"""Silent-user (ban) management: AddSilentUser, GetSilentUserList, DelSilentUser, del_room_block_user.

Only the room's streamer or one of its admins may use them. The famous quirk is kept: an
AddSilentUser without ``hour`` answers code 0 and bans nobody. A real ban is recorded as a
:class:`~livepipe.sim.state.SilentRecord` and announced with ROOM_BLOCK_MSG.
"""

from __future__ import annotations

import math

from aiohttp import web

from livepipe.sim import messages
from livepipe.sim.action_messages import NOFACE
from livepipe.sim.actions_common import (
    cst_datetime,
    ctx_of,
    gate,
    int_param,
    params_of,
    reply_live,
    reply_xlive,
)
from livepipe.sim.state import Account, Room, SilentRecord

#: records per GetSilentUserList page
PAGE_SIZE = 20
#: longest timed ban accepted, in hours (30 days)
MAX_HOURS = 720
#: the code a non-moderator gets (bapi's test accepts it for the list; unconfirmed for the others)
NO_PERMISSION = 10002


def active_records(room: Room, now: float) -> list[SilentRecord]:
    """The room's bans that have not run out, dropping the expired ones from the room."""
    room.silent[:] = [r for r in room.silent if not (r.block_expired > 0 and r.block_expired <= now)]
    return list(room.silent)


Prologue = tuple[web.Response | None, dict[str, str], Account | None, Room | None]


async def _moderated_room(request: web.Request, room_field: str) -> Prologue:
    """Shared prologue: login, csrf, room lookup, permission -> (error reply or None, params, account, room)."""
    ctx = ctx_of(request)
    params = await params_of(request)
    g = gate(request, params, unknown_session_code=65530)
    if g.code == -101:
        return reply_xlive(-101, "账号未登录"), params, None, None
    if g.code == 65530:
        return reply_xlive(65530, "bad token"), params, None, None
    if g.code == -111:
        return reply_xlive(-111, "csrf 校验失败"), params, None, None
    room = ctx.state.room(params.get(room_field, ""))
    if room is None:
        return reply_xlive(-400, f"{room_field} 参数错误"), params, None, None
    acct = g.account
    assert acct is not None
    if not (acct.uid == room.owner_uid or acct.uid in room.admins or room.room_id in acct.rooms):
        return reply_xlive(NO_PERMISSION, "没有权限"), params, None, None
    return None, params, acct, room


async def add_silent_user(request: web.Request) -> web.Response:
    """``POST /xlive/web-ucenter/v1/banned/AddSilentUser``."""
    ctx = ctx_of(request)
    error, params, acct, room = await _moderated_room(request, "room_id")
    if error is not None or acct is None or room is None:
        return error or reply_xlive(-400)
    tuid = int_param(params, "tuid")
    if tuid is None:
        return reply_xlive(-400, "tuid 参数错误")
    if "hour" not in params:
        # the real service answers success and bans nobody (bapi #845)
        return reply_xlive(0, "0", {})
    hour = int_param(params, "hour")
    if hour is None or hour < -1 or hour > MAX_HOURS:
        return reply_xlive(-400, "hour 参数错误")
    target = ctx.user(tuid)
    if tuid <= 1 or target is None or tuid == room.owner_uid or tuid == acct.uid:
        return reply_xlive(1200000, "禁言失败")
    now = ctx.now()
    expires = -1 if hour == -1 else 0 if hour == 0 else int(now + hour * 3600)
    room.silent[:] = [r for r in room.silent if r.tuid != tuid]
    record = SilentRecord(
        id=ctx.next_id(),
        tuid=tuid,
        tname=target.uname,
        operator_uid=acct.uid,
        hour=hour,
        msg=params.get("msg", ""),
        ctime=now,
        block_expired=expires,
    )
    room.silent.append(record)
    operator = 2 if acct.uid == room.owner_uid else 1
    room.broadcast(messages.room_block_msg(tuid, target.uname, operator, expires, messages.ban_period_text(hour)))
    return reply_xlive(0, "0", {})


async def get_silent_user_list(request: web.Request) -> web.Response:
    """``POST /xlive/web-ucenter/v1/banned/GetSilentUserList`` (``ps`` is the page number)."""
    ctx = ctx_of(request)
    error, params, _, room = await _moderated_room(request, "room_id")
    if error is not None or room is None:
        return error or reply_xlive(-400)
    page = int_param(params, "ps") or 1
    if page < 1:
        return reply_xlive(-400, "ps 参数错误")
    records = sorted(active_records(room, ctx.now()), key=lambda r: (r.ctime, r.id), reverse=True)
    total = len(records)
    rows = []
    for r in records[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]:
        target = ctx.user(r.tuid)
        operator = ctx.user(r.operator_uid)
        is_anchor = r.operator_uid == room.owner_uid
        rows.append(
            {
                "tuid": r.tuid,
                "tname": r.tname,
                "uid": r.operator_uid,
                "name": operator.uname if operator else (room.owner_name if is_anchor else ""),
                "ctime": cst_datetime(r.ctime),
                "id": r.id,
                "is_anchor": 1 if is_anchor else 0,
                "face": (target.face if target else "") or NOFACE,
                "admin_level": 0 if is_anchor else 1,
            }
        )
    return reply_xlive(0, "0", {"data": rows, "total": total, "total_page": math.ceil(total / PAGE_SIZE)})


async def del_silent_user(request: web.Request) -> web.Response:
    """``POST /xlive/web-ucenter/v1/banned/DelSilentUser`` (by ``tuid``; ``visit_id`` must be present)."""
    ctx = ctx_of(request)
    error, params, _, room = await _moderated_room(request, "room_id")
    if error is not None or room is None:
        return error or reply_xlive(-400)
    tuid = int_param(params, "tuid")
    if tuid is None:
        return reply_xlive(-400, "tuid 参数错误")
    if "visit_id" not in params:
        return reply_xlive(-400, "visit_id 参数错误")
    before = len(active_records(room, ctx.now()))
    room.silent[:] = [r for r in room.silent if r.tuid != tuid]
    if len(room.silent) == before:
        return reply_xlive(-400, "该用户未被禁言")
    return reply_xlive(0, "0", {})


async def del_room_block_user(request: web.Request) -> web.Response:
    """``POST /banned_service/v1/Silent/del_room_block_user`` (``roomid`` + record ``id``)."""
    ctx = ctx_of(request)
    error, params, _, room = await _moderated_room(request, "roomid")
    if error is not None or room is None:
        return error or reply_live(-400)
    record_id = int_param(params, "id")
    if record_id is None:
        return reply_live(-400, "id 参数错误")
    before = len(active_records(room, ctx.now()))
    room.silent[:] = [r for r in room.silent if r.id != record_id]
    if len(room.silent) == before:
        return reply_live(-400, "禁言记录不存在")
    return reply_live(0, "", [])


def clear_stream_bans(room: Room) -> None:
    """Drop the bans that last "until this stream ends" (``hour=0``); called by stopLive."""
    room.silent[:] = [r for r in room.silent if r.hour != 0]


def add_silent_routes(app: web.Application) -> None:
    """Register the four ban-management routes."""
    app.router.add_post("/xlive/web-ucenter/v1/banned/AddSilentUser", add_silent_user)
    app.router.add_post("/xlive/web-ucenter/v1/banned/GetSilentUserList", get_silent_user_list)
    app.router.add_post("/xlive/web-ucenter/v1/banned/DelSilentUser", del_silent_user)
    app.router.add_post("/banned_service/v1/Silent/del_room_block_user", del_room_block_user)
