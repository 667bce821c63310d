"""Passport endpoints: web QR login and the web cookie-refresh flow.

QR login: ``generate`` hands out a ``qrcode_key``; ``poll`` answers root code 0 with the state in
``data.code`` (86101 not scanned, 86090 scanned, 86038 expired or unknown, 0 logged in with
Set-Cookie). Nobody holds a phone here, so the scan and the confirmation come from the control
routes ``POST /_sim/qr/{key}/scan`` and ``/confirm`` (see :mod:`livepipe.sim.actions_control`).

Cookie refresh keeps the real call sequence -- ``cookie/info`` -> ``/correspond/1/{correspondPath}``
(HTML with the ``refresh_csrf``) -> ``cookie/refresh`` -> ``confirm/refresh`` -- but simplifies the
RSA step: the simulator cannot decrypt a path made with Bilibili's public key, so it accepts any
correspondPath that has the right form (256 lower-case hex digits, the size of an RSA-1024
ciphertext) and does not check the timestamp inside.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
from urllib.parse import quote

from aiohttp import web

from livepipe.sim.actions_common import (
    QrLogin,
    ctx_of,
    gate,
    params_of,
    reply_main,
    store_of,
)
from livepipe.sim.context import SimContext
from livepipe.sim.state import Account

#: lifetime of the login cookies the simulator sets (180 days, like the real ones)
COOKIE_MAX_AGE = 15_552_000
CORRESPOND_PATH = re.compile(r"^[0-9a-f]{256}$")

QR_MESSAGES = {86101: "未扫码", 86090: "二维码已扫码未确认", 86038: "二维码已失效", 0: ""}


def set_login_cookies(resp: web.Response, acct: Account) -> None:
    """Set-Cookie for a fresh session (no Domain/Secure, so a plain-http localhost client keeps them)."""
    ck_md5 = hashlib.md5(str(acct.uid).encode()).hexdigest()
    for name, value, httponly in (
        ("SESSDATA", acct.sessdata, True),
        ("bili_jct", acct.bili_jct, False),
        ("DedeUserID", str(acct.uid), False),
        ("DedeUserID__ckMd5", ck_md5, False),
        ("sid", secrets.token_hex(4), False),
    ):
        resp.set_cookie(name, value, path="/", max_age=COOKIE_MAX_AGE, httponly=httponly or None)


def account_for_uid(ctx: SimContext, uid: int, uname: str | None = None) -> Account:
    """An existing session of ``uid`` (QR login into a known account), or a newly created account."""
    for acct in ctx.state.accounts.values():
        if acct.uid == uid:
            return acct
    return ctx.create_account(uname=uname, uid=uid)


def qr_status(ctx: SimContext, qr: QrLogin | None, ttl: float) -> int:
    """The poll code for ``qr`` now (moving it to ``expired`` when its time is up)."""
    if qr is None or qr.state in ("expired", "consumed"):
        return 86038
    if ctx.now() - qr.created > ttl:
        qr.state = "expired"
        return 86038
    return {"new": 86101, "scanned": 86090, "confirmed": 0}[qr.state]


async def qrcode_generate(request: web.Request) -> web.Response:
    """``GET /x/passport-login/web/qrcode/generate``."""
    ctx = ctx_of(request)
    key = secrets.token_hex(16)
    store_of(request).qr[key] = QrLogin(key=key, created=ctx.now())
    base = ctx.base_url or "https://passport.bilibili.com"
    url = f"{base}/h5-app/passport/login/scan?navhide=1&qrcode_key={key}&from="
    return reply_main(0, "0", {"url": url, "qrcode_key": key})


async def qrcode_poll(request: web.Request) -> web.Response:
    """``GET /x/passport-login/web/qrcode/poll?qrcode_key=``: state in ``data.code``."""
    ctx = ctx_of(request)
    store = store_of(request)
    key = request.query.get("qrcode_key", "")
    if not key:
        return reply_main(-400, "请求错误", None)
    qr = store.qr.get(key)
    code = qr_status(ctx, qr, store.settings.qr_ttl)
    data = {"url": "", "refresh_token": "", "timestamp": 0, "code": code, "message": QR_MESSAGES[code]}
    if code != 0 or qr is None:
        return reply_main(0, "0", data)
    acct = next((a for a in ctx.state.accounts.values() if a.uid == qr.uid), None)
    if acct is None:  # the account expired between confirm and poll
        qr.state = "expired"
        data.update(code=86038, message=QR_MESSAGES[86038])
        return reply_main(0, "0", data)
    qr.state = "consumed"
    ck_md5 = hashlib.md5(str(acct.uid).encode()).hexdigest()
    expires = int(ctx.now()) + COOKIE_MAX_AGE
    data.update(
        url=(
            "https://passport.biligame.com/crossDomain?"
            f"DedeUserID={acct.uid}&DedeUserID__ckMd5={ck_md5}&Expires={expires}"
            f"&SESSDATA={acct.sessdata}&bili_jct={acct.bili_jct}"
            f"&gourl={quote('https://passport.bilibili.com', safe='')}"
        ),
        refresh_token=acct.refresh_token,
        timestamp=int(ctx.now() * 1000),
    )
    resp = reply_main(0, "0", data)
    set_login_cookies(resp, acct)
    return resp


async def cookie_info(request: web.Request) -> web.Response:
    """``GET /x/passport-login/web/cookie/info``: does this session need a refresh?"""
    ctx = ctx_of(request)
    acct = ctx.account(request)
    if acct is None:
        return reply_main(-101, "账号未登录", None)
    return reply_main(0, "0", {"refresh": acct.refresh_needed, "timestamp": int(ctx.now() * 1000)})


NOT_FOUND_PAGE = "<!DOCTYPE html><html><head><title>404</title></head><body>404 Not Found</body></html>"


async def correspond(request: web.Request) -> web.Response:
    """``GET /correspond/1/{correspondPath}`` (www host): an HTML page carrying the ``refresh_csrf``."""
    ctx = ctx_of(request)
    store = store_of(request)
    acct = ctx.account(request)
    path = request.match_info["path"]
    if acct is None or not CORRESPOND_PATH.match(path):
        return web.Response(status=404, text=NOT_FOUND_PAGE, content_type="text/html")
    refresh_csrf = secrets.token_hex(16)
    store.refresh_csrf[acct.uid] = (refresh_csrf, ctx.now())
    html = (
        '<!DOCTYPE html><html lang="zh-Hans"><head><title>Correspond</title></head><body>'
        f'<div id="1-name">{refresh_csrf}</div><div id="token-iframe-app"></div></body></html>'
    )
    return web.Response(text=html, content_type="text/html")


async def cookie_refresh(request: web.Request) -> web.Response:
    """``POST /x/passport-login/web/cookie/refresh``: new cookies + new refresh_token."""
    ctx = ctx_of(request)
    store = store_of(request)
    params = await params_of(request)
    g = gate(request, params)
    if g.code == -101:
        return reply_main(-101, "账号未登录", None)
    if g.code == -111:
        return reply_main(-111, "csrf 校验失败", None)
    acct = g.account
    assert acct is not None
    if not params.get("refresh_csrf") or not params.get("refresh_token"):
        return reply_main(-400, "请求错误", None)
    issued = store.refresh_csrf.get(acct.uid)
    fresh = issued is not None and ctx.now() - issued[1] <= store.settings.refresh_csrf_ttl
    if (
        not fresh
        or issued is None
        or issued[0] != params["refresh_csrf"]
        or params["refresh_token"] != acct.refresh_token
    ):
        return reply_main(86095, "refresh_csrf 错误或 refresh_token 与 cookie 不匹配", None)
    del store.refresh_csrf[acct.uid]
    old_sess = acct.sessdata
    new = dataclasses.replace(
        acct,
        sessdata=f"{secrets.token_hex(16)}%2C{int(ctx.now()) + COOKIE_MAX_AGE}%2C{secrets.token_hex(4)}",
        bili_jct=secrets.token_hex(16),
        refresh_token=secrets.token_hex(16),
        refresh_needed=False,
    )
    ctx.state.accounts[new.sessdata] = new
    store.pending_confirm[acct.refresh_token] = old_sess
    resp = reply_main(0, "0", {"status": 0, "message": "", "refresh_token": new.refresh_token})
    set_login_cookies(resp, new)
    return resp


async def confirm_refresh(request: web.Request) -> web.Response:
    """``POST /x/passport-login/web/confirm/refresh``: with the NEW cookies and the OLD refresh_token;
    retires the old session."""
    ctx = ctx_of(request)
    store = store_of(request)
    params = await params_of(request)
    g = gate(request, params)
    if g.code == -101:
        return reply_main(-101, "账号未登录", with_data=False)
    if g.code == -111:
        return reply_main(-111, "csrf 校验失败", with_data=False)
    acct = g.account
    assert acct is not None
    old_token = params.get("refresh_token", "")
    old_sess = store.pending_confirm.get(old_token)
    old = ctx.state.accounts.get(old_sess or "")
    if old_sess is None or (old is not None and old.uid != acct.uid) or old_sess == acct.sessdata:
        return reply_main(-400, "请求错误", with_data=False)
    del store.pending_confirm[old_token]
    ctx.state.accounts.pop(old_sess, None)
    return reply_main(0, "0", with_data=False)


def add_login_routes(app: web.Application) -> None:
    """Register the passport and correspond routes."""
    app.router.add_get("/x/passport-login/web/qrcode/generate", qrcode_generate)
    app.router.add_get("/x/passport-login/web/qrcode/poll", qrcode_poll)
    app.router.add_get("/x/passport-login/web/cookie/info", cookie_info)
    app.router.add_get("/correspond/1/{path}", correspond)
    app.router.add_post("/x/passport-login/web/cookie/refresh", cookie_refresh)
    app.router.add_post("/x/passport-login/web/confirm/refresh", confirm_refresh)
