"""``POST /msg/send``: sending live danmaku, with the real service's codes and silent failures.

Order of checks: login (-101), csrf (-111), parameters (-400), length (1003212), rate (10031), then
the silent drops that still answer code 0 -- platform filter ``"f"``, the room's keyword shield
``"k"``, and ``"msg repeat"``. An accepted message is recorded in ``room.sent_danmaku`` and echoed
to the room's WebSocket clients as a DANMU_MSG from the sending account.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from livepipe.sim import action_messages as am
from livepipe.sim.actions_common import (
    ctx_of,
    gate,
    int_param,
    new_id_str,
    params_of,
    reply_live,
    store_of,
    uid_hash,
)
from livepipe.sim.context import SimContext
from livepipe.sim.messages.chat import with_emoticons
from livepipe.sim.state import Account, Room

#: the real service's wording for the two errors a sender meets most
TOO_FAST = "您发送弹幕的频率过快"
TOO_LONG = "超出限制长度"


async def msg_send(request: web.Request) -> web.Response:
    """``POST /msg/send`` (api.live host)."""
    ctx = ctx_of(request)
    store = store_of(request)
    settings = store.settings
    params = await params_of(request)
    g = gate(request, params)
    if g.code == -101:
        return reply_live(-101, "账号未登录")
    if g.code == -111:
        return reply_live(-111, "csrf 校验失败")
    acct = g.account
    assert acct is not None
    room = ctx.state.room(params.get("roomid", ""))
    if room is None:
        return reply_live(-400, "roomid 参数错误" if params.get("roomid") else "缺少 roomid")
    text = params.get("msg", "")
    if text == "":
        return reply_live(-400, "缺少 msg")
    dm_type = int_param(params, "dm_type") or 0
    mode = int_param(params, "mode") or 1
    fontsize = int_param(params, "fontsize") or 25
    reply_mid = int_param(params, "reply_mid") or 0
    now = ctx.now()

    if dm_type != 1 and len(text) > acct.danmaku_max_len:
        return reply_live(1003212, TOO_LONG)

    last = store.last_send.get(acct.uid)
    if last is not None and now - last < settings.danmaku_min_interval:
        if settings.danmaku_rate_code == 0:
            return reply_live(0, "msg in 1s")
        return reply_live(settings.danmaku_rate_code, TOO_FAST)
    store.last_send[acct.uid] = now

    if dm_type != 1 and any(w and w in text for w in settings.filter_words):
        return reply_live(0, "f")
    if dm_type != 1 and any(w and w in text for w in room.keyword_shield):
        return reply_live(0, "k")
    recent = [(t, s) for t, s in store.recent_texts.get(acct.uid, []) if now - t < settings.repeat_window]
    repeated = any(s == text for _, s in recent)
    recent.append((now, text))
    store.recent_texts[acct.uid] = recent
    if repeated:
        return reply_live(0, "msg repeat")

    # accepted
    user = ctx.user(acct.uid)
    face = (user.face if user else "") or am.NOFACE
    id_str = new_id_str()
    h = uid_hash(acct.uid)
    emoticon: dict[str, Any] | None = None
    shown = text
    if dm_type == 1:
        shown = settings.emoticons.get(text, text)
        emoticon = {
            "bulge_display": 0,
            "emoticon_unique": text,
            "height": 60,
            "in_player_area": 1,
            "is_dynamic": 0,
            "url": f"https://i0.hdslb.com/bfs/live/sim_{text}.png",
            "width": 60,
        }
    reply_uname = ""
    if reply_mid:
        target = ctx.user(reply_mid)
        reply_uname = target.uname if target else params.get("reply_uname", "")
    rnd = int_param(params, "rnd") or int(now)
    record = {
        "uid": acct.uid,
        "uname": acct.uname,
        "msg": text,
        "ts": now,
        "id_str": id_str,
        "dm_type": dm_type,
        "mode": mode,
        "fontsize": fontsize,
        "color": 16777215,
        "reply_mid": reply_mid,
        "rnd": rnd,
    }
    room.sent_danmaku.append(record)
    room.broadcast(
        echo_message(
            ctx,
            room,
            acct,
            text=shown,
            ts=now,
            rnd=rnd,
            id_str=id_str,
            mode=mode,
            font_size=fontsize,
            dm_type=dm_type,
            emoticon=emoticon,
            reply_mid=reply_mid,
            reply_uname=reply_uname,
        )
    )
    extra = am.danmaku_extra(
        content=shown,
        id_str=id_str,
        user_hash=h,
        send_from_me=True,
        font_size=fontsize,
        dm_type=dm_type,
        emoticon_unique=text if dm_type == 1 else "",
        reply_mid=reply_mid,
        reply_uname=reply_uname,
    )
    data = {
        "mode_info": {
            "mode": 0,
            "show_player_type": 0,
            "extra": extra,
            "user": am.user_info(acct.uid, acct.uname, face),
        },
        "dm_v2": None,
    }
    return reply_live(0, "", data)


def echo_message(
    ctx: SimContext,
    room: Room,
    acct: Account,
    *,
    text: str,
    ts: float,
    rnd: int,
    id_str: str,
    mode: int,
    font_size: int,
    dm_type: int,
    emoticon: dict[str, Any] | None,
    reply_mid: int,
    reply_uname: str,
) -> dict[str, Any]:
    """The DANMU_MSG other viewers get for an accepted msg/send.

    Built by ``messages.danmaku`` (so the echo looks like the simulated traffic, medal and guard
    included), with the sent font size and, for emoticon danmaku, the emoticon marked on top.
    """
    user = ctx.user(acct.uid)
    assert user is not None, "every account has a simulated user (SimContext.create_account)"
    msg = ctx.messages.danmaku(
        user, text, room, ts, rnd=rnd, id_str=id_str, mode=mode, reply_mid=reply_mid, reply_uname=reply_uname
    )
    if dm_type == 1 and emoticon is not None:
        return with_emoticons(msg, emoticon=emoticon, font_size=font_size)
    msg["info"][0][2] = font_size
    return msg


def add_danmaku_routes(app: web.Application) -> None:
    """Register ``POST /msg/send``."""
    app.router.add_post("/msg/send", msg_send)
