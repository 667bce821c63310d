"""Video (not live) danmaku: ``POST /x/v2/dm/post`` and ``POST /x/dm/recall`` (api.bilibili.com).

The simulator has no video catalogue: every positive cid exists, and the control API marks cids as
closed (36711), unaudited (36704) or unpaid (36713). Level checks use ``Account.main_level``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from livepipe.sim.actions_common import (
    cst_day,
    ctx_of,
    gate,
    int_param,
    params_of,
    reply_main,
    store_of,
)

MSG_MAX = 100
LEVEL1_MSG_MAX = 20
MODES = {1, 4, 5, 6, 7, 8, 9}
POOLS = {0, 1, 2}
WHITE = 16777215
#: level needed for a style: top (5) / bottom (4) danmaku and colours need level 2
STYLE_LEVEL = 2
BVID_CHARS = set("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")


def _valid_bvid(bvid: str) -> bool:
    return len(bvid) == 12 and bvid.startswith("BV1") and set(bvid[2:]) <= BVID_CHARS


async def dm_post(request: web.Request) -> web.Response:
    """``POST /x/v2/dm/post``: returns ``dmid``/``dmid_str`` on success, 367xx codes otherwise."""
    ctx = ctx_of(request)
    store = store_of(request)
    s = store.settings
    params = await params_of(request)
    g = gate(request, params)
    if g.code == -101:
        return reply_main(-101, "账号未登录", None)
    if g.code == -111:
        return reply_main(-111, "csrf 校验失败", None)
    acct = g.account
    assert acct is not None
    if s.video_dm_maintenance:
        return reply_main(36700, "系统升级中", None)
    cid = int_param(params, "oid")
    aid = int_param(params, "aid")
    bvid = params.get("bvid", "")
    mode = int_param(params, "mode")
    pool = int_param(params, "pool")
    pool = 0 if pool is None and params.get("pool", "") == "" else pool
    color = int_param(params, "color")
    color = WHITE if color is None and params.get("color", "") == "" else color
    progress = int_param(params, "progress")
    progress = 0 if progress is None and params.get("progress", "") == "" else progress
    text = params.get("msg", "")
    if (
        params.get("type") != "1"
        or cid is None
        or cid <= 0
        or (aid is None and not bvid)
        or (aid is not None and aid <= 0)
        or (bvid and not _valid_bvid(bvid))
        or mode is None
        or mode not in MODES
        or pool is None
        or pool not in POOLS
        or color is None
        or not 0 <= color <= 0xFFFFFF
        or progress is None
        or text == ""
    ):
        return reply_main(-400, "请求错误", None)
    if progress < 0:
        return reply_main(36714, "弹幕发送时间不合法", None)
    if cid in s.video_closed_cids:
        return reply_main(36711, "该视频禁止发送弹幕", None)
    if cid in s.video_unaudited_cids:
        return reply_main(36704, "禁止向未审核的视频发送弹幕", None)
    if cid in s.video_unpaid_cids:
        return reply_main(36713, "稿件未付费", None)
    if len(text) > MSG_MAX:
        return reply_main(36702, "弹幕长度大于100", None)
    if acct.main_level < 1:
        return reply_main(36705, "您的等级不足，不能发送弹幕", None)
    if acct.main_level == 1 and len(text) > LEVEL1_MSG_MAX:
        return reply_main(36712, "level 1用户发送弹幕的最大长度为20", None)
    if mode == 5 and acct.main_level < STYLE_LEVEL:
        return reply_main(36706, "您的等级不足，不能发送顶端弹幕", None)
    if mode == 4 and acct.main_level < STYLE_LEVEL:
        return reply_main(36707, "您的等级不足，不能发送底端弹幕", None)
    if color != WHITE and acct.main_level < STYLE_LEVEL:
        return reply_main(36708, "您的等级不足，不能发送彩色弹幕", None)
    if mode == 7:
        return reply_main(36709, "您的等级不足，不能发送高级弹幕", None)
    if (mode == 9) != (pool == 2) or pool == 1:
        # BAS (mode 9) lives in pool 2 only; the subtitle pool belongs to the uploader
        return reply_main(36710, "您的权限不足，不能发送这种样式的弹幕", None)
    if any(w and w in text for w in s.filter_words):
        return reply_main(36701, "弹幕包含被禁止的内容", None)
    now = ctx.now()
    cooldown = s.video_dm_interval_rnd if params.get("rnd") else s.video_dm_interval_no_rnd
    last = store.video_last_post.get(acct.uid)
    if last is not None and now - last < cooldown:
        return reply_main(36703, "发送频率过快", None)
    day_key = (acct.uid, cst_day(now))
    if store.video_daily.get(day_key, 0) >= s.video_dm_daily_limit:
        return reply_main(36715, "当日操作数量超过上限", None)
    store.video_daily[day_key] = store.video_daily.get(day_key, 0) + 1
    store.video_last_post[acct.uid] = now
    dmid = ctx.next_id() * 10**10 + int(now) % 10**10
    record: dict[str, Any] = {
        "dmid": dmid,
        "cid": cid,
        "aid": aid,
        "bvid": bvid,
        "uid": acct.uid,
        "msg": text,
        "progress": progress,
        "mode": mode,
        "color": color,
        "fontsize": int_param(params, "fontsize") or 25,
        "pool": pool,
        "ts": now,
        "recalled": False,
    }
    store.video_dm.setdefault(cid, []).append(record)
    return reply_main(0, "0", {"action": "", "dmid": dmid, "dmid_str": str(dmid), "visible": True})


async def dm_recall(request: web.Request) -> web.Response:
    """``POST /x/dm/recall``: recall one's own video danmaku within the window, a few times a day."""
    ctx = ctx_of(request)
    store = store_of(request)
    s = store.settings
    params = await params_of(request)
    g = gate(request, params)
    if g.code == -101:
        return reply_main(-101, "账号未登录", with_data=False)
    if g.code == -111:
        return reply_main(-111, "csrf 校验失败", with_data=False)
    acct = g.account
    assert acct is not None
    cid = int_param(params, "cid")
    dmid = int_param(params, "dmid")
    if cid is None or dmid is None:
        return reply_main(-400, "请求错误", with_data=False)
    record = next((r for r in store.video_dm.get(cid, []) if r["dmid"] == dmid and r["uid"] == acct.uid), None)
    if record is None:
        return reply_main(-404, "啥都木有", with_data=False)
    if record["recalled"]:
        return reply_main(36302, "撤回失败，弹幕已经被删除或撤回", with_data=False)
    now = ctx.now()
    if now - record["ts"] > s.recall_window:
        return reply_main(36301, "撤回失败，弹幕发送已过2分钟", with_data=False)
    day_key = (acct.uid, cst_day(now))
    used = store.recall_daily.get(day_key, 0)
    if used >= s.recall_daily_limit:
        return reply_main(36303, "撤回失败，今天撤回的机会已经用完", with_data=False)
    store.recall_daily[day_key] = used + 1
    record["recalled"] = True
    left = s.recall_daily_limit - used - 1
    return web.json_response({"code": 0, "message": f"撤回成功，你还有{left}次撤回机会"})


def add_video_routes(app: web.Application) -> None:
    """Register the video-danmaku routes."""
    app.router.add_post("/x/v2/dm/post", dm_post)
    app.router.add_post("/x/dm/recall", dm_recall)
