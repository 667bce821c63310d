"""Control routes (``/_sim/...``) for the action endpoints: steer them and read back their effects.

- ``GET|POST /_sim/actions/settings``: the :class:`~livepipe.sim.actions_common.ActionSettings`.
- ``GET|POST /_sim/actions/accounts/{uid}``: per-account switches (length limit, face auth, refresh
  needed, main level) and ``{"expire": true}`` to end every session of the account.
- ``GET|POST /_sim/actions/rooms/{room_id}``: what the endpoints changed, plus per-room switches.
- ``GET /_sim/actions/video/{cid}``: video danmaku posted to a cid.
- ``POST /_sim/actions/reset``: forget all of the above and restore the default settings.
- ``GET /_sim/qr/{key}``, ``POST /_sim/qr/{key}/scan|confirm|expire``: play the phone in QR login.

Bodies may be JSON, a form, or query parameters.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from livepipe.sim.actions_common import ctx_of, store_of
from livepipe.sim.actions_login import account_for_uid, qr_status
from livepipe.sim.actions_silent import active_records
from livepipe.sim.state import Room

ACCOUNT_FIELDS = {
    "danmaku_max_len": int,
    "needs_face_auth": bool,
    "face_auth_persistent": bool,
    "refresh_needed": bool,
    "main_level": int,
}
ROOM_FIELDS = {"replay_loop": bool, "needs_face_auth": bool, "last_update": float, "keyword_shield": list}


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _coerce(kind: type, value: Any) -> Any:
    if kind is bool:
        return _bool(value)
    if kind is list:
        if isinstance(value, str):
            return [w for w in value.split(",") if w]
        return [str(w) for w in value]
    return kind(value)


async def _body(request: web.Request) -> dict[str, Any]:
    """JSON object, form, or query parameters (in that order of preference)."""
    data: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                loaded = json.loads(await request.text() or "{}")
            except ValueError as exc:
                raise web.HTTPBadRequest(text=f"bad JSON: {exc}") from exc
            if not isinstance(loaded, dict):
                raise web.HTTPBadRequest(text="JSON body must be an object")
            data.update(loaded)
        else:
            data.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return data


async def settings_get(request: web.Request) -> web.Response:
    """``GET /_sim/actions/settings``."""
    return web.json_response(store_of(request).settings.as_dict())


async def settings_post(request: web.Request) -> web.Response:
    """``POST /_sim/actions/settings``: change some settings; answers the full settings."""
    settings = store_of(request).settings
    try:
        settings.update(await _body(request))
    except KeyError as exc:
        raise web.HTTPBadRequest(text=f"unknown setting {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    return web.json_response(settings.as_dict())


def _account_view(request: web.Request, uid: int) -> dict[str, Any]:
    ctx = ctx_of(request)
    sessions = [a for a in ctx.state.accounts.values() if a.uid == uid]
    if not sessions:
        raise web.HTTPNotFound(text=f"no session for uid {uid}")
    first = sessions[0]
    view: dict[str, Any] = {name: getattr(first, name) for name in ACCOUNT_FIELDS}
    view.update(uid=uid, uname=first.uname, sessions=len(sessions))
    return view


async def account_get(request: web.Request) -> web.Response:
    """``GET /_sim/actions/accounts/{uid}``."""
    return web.json_response(_account_view(request, int(request.match_info["uid"])))


async def account_post(request: web.Request) -> web.Response:
    """``POST /_sim/actions/accounts/{uid}``: set switches on every session of the account, or expire them."""
    ctx = ctx_of(request)
    uid = int(request.match_info["uid"])
    body = await _body(request)
    sessions = [(k, a) for k, a in ctx.state.accounts.items() if a.uid == uid]
    if not sessions:
        raise web.HTTPNotFound(text=f"no session for uid {uid}")
    unknown = set(body) - set(ACCOUNT_FIELDS) - {"expire"}
    if unknown:
        raise web.HTTPBadRequest(text=f"unknown fields {sorted(unknown)}")
    if _bool(body.get("expire", False)):
        for key, _ in sessions:
            del ctx.state.accounts[key]
        return web.json_response({"uid": uid, "expired": len(sessions)})
    for _, acct in sessions:
        for name, kind in ACCOUNT_FIELDS.items():
            if name in body:
                setattr(acct, name, _coerce(kind, body[name]))
    return web.json_response(_account_view(request, uid))


def _room(request: web.Request) -> Room:
    room = ctx_of(request).state.room(request.match_info["room_id"])
    if room is None:
        raise web.HTTPNotFound(text="no such room")
    return room


async def room_get(request: web.Request) -> web.Response:
    """``GET /_sim/actions/rooms/{room_id}``: room settings, ban list and sent danmaku."""
    ctx = ctx_of(request)
    room = _room(request)
    bans = [
        {
            "id": r.id,
            "tuid": r.tuid,
            "tname": r.tname,
            "operator_uid": r.operator_uid,
            "hour": r.hour,
            "msg": r.msg,
            "ctime": r.ctime,
            "block_expired": r.block_expired,
        }
        for r in active_records(room, ctx.now())
    ]
    return web.json_response(
        {
            "room_id": room.room_id,
            "title": room.title,
            "news": room.news,
            "area_id": room.area_id,
            "parent_area_id": room.parent_area_id,
            "cover": room.cover,
            "tags": room.tags,
            "live_status": room.live_status,
            "live_time": room.live_time,
            "live_key": room.live_key,
            "keyword_shield": room.keyword_shield,
            "replay_loop": room.replay_loop,
            "needs_face_auth": room.needs_face_auth,
            "last_update": room.last_update,
            "silent": bans,
            "sent_danmaku": room.sent_danmaku,
        }
    )


async def room_post(request: web.Request) -> web.Response:
    """``POST /_sim/actions/rooms/{room_id}``: keyword_shield, replay_loop, needs_face_auth, last_update."""
    room = _room(request)
    body = await _body(request)
    unknown = set(body) - set(ROOM_FIELDS)
    if unknown:
        raise web.HTTPBadRequest(text=f"unknown fields {sorted(unknown)}")
    for name, kind in ROOM_FIELDS.items():
        if name in body:
            setattr(room, name, _coerce(kind, body[name]))
    return await room_get(request)


async def video_get(request: web.Request) -> web.Response:
    """``GET /_sim/actions/video/{cid}``: the video danmaku posted to ``cid``."""
    return web.json_response(store_of(request).video_dm.get(int(request.match_info["cid"]), []))


def _qr(request: web.Request) -> Any:
    qr = store_of(request).qr.get(request.match_info["key"])
    if qr is None:
        raise web.HTTPNotFound(text="unknown qrcode_key")
    return qr


def _qr_view(request: web.Request, qr: Any) -> web.Response:
    code = qr_status(ctx_of(request), qr, store_of(request).settings.qr_ttl)
    return web.json_response({"qrcode_key": qr.key, "state": qr.state, "uid": qr.uid, "poll_code": code})


async def qr_get(request: web.Request) -> web.Response:
    """``GET /_sim/qr/{key}``: where a QR login stands."""
    return _qr_view(request, _qr(request))


async def qr_scan(request: web.Request) -> web.Response:
    """``POST /_sim/qr/{key}/scan``: the phone scanned the code (poll then says 86090)."""
    qr = _qr(request)
    if qr_status(ctx_of(request), qr, store_of(request).settings.qr_ttl) == 86038:
        raise web.HTTPConflict(text="qrcode expired")
    if qr.state == "new":
        qr.state = "scanned"
    return _qr_view(request, qr)


async def qr_confirm(request: web.Request) -> web.Response:
    """``POST /_sim/qr/{key}/confirm`` with ``uid`` (and optional ``uname``): log that account in."""
    ctx = ctx_of(request)
    qr = _qr(request)
    body = await _body(request)
    try:
        uid = int(body["uid"])
    except (KeyError, TypeError, ValueError) as exc:
        raise web.HTTPBadRequest(text="uid required") from exc
    if qr_status(ctx, qr, store_of(request).settings.qr_ttl) == 86038:
        raise web.HTTPConflict(text="qrcode expired")
    acct = account_for_uid(ctx, uid, body.get("uname") or None)
    qr.state = "confirmed"
    qr.uid = acct.uid
    return _qr_view(request, qr)


async def qr_expire(request: web.Request) -> web.Response:
    """``POST /_sim/qr/{key}/expire``: make the key expire now (poll then says 86038)."""
    qr = _qr(request)
    qr.state = "expired"
    return _qr_view(request, qr)


async def reset_post(request: web.Request) -> web.Response:
    """``POST /_sim/actions/reset``: default settings, no rate-limit clocks, QR keys or video danmaku."""
    from livepipe.sim.actions import reset

    reset(request.app)
    return web.json_response({"ok": True})


def add_control_routes(app: web.Application) -> None:
    """Register the ``/_sim/actions/...`` and ``/_sim/qr/...`` routes."""
    app.router.add_post("/_sim/actions/reset", reset_post)
    app.router.add_get("/_sim/actions/settings", settings_get)
    app.router.add_post("/_sim/actions/settings", settings_post)
    app.router.add_get("/_sim/actions/accounts/{uid:\\d+}", account_get)
    app.router.add_post("/_sim/actions/accounts/{uid:\\d+}", account_post)
    app.router.add_get("/_sim/actions/rooms/{room_id:\\d+}", room_get)
    app.router.add_post("/_sim/actions/rooms/{room_id:\\d+}", room_post)
    app.router.add_get("/_sim/actions/video/{cid:\\d+}", video_get)
    app.router.add_get("/_sim/qr/{key}", qr_get)
    app.router.add_post("/_sim/qr/{key}/scan", qr_scan)
    app.router.add_post("/_sim/qr/{key}/confirm", qr_confirm)
    app.router.add_post("/_sim/qr/{key}/expire", qr_expire)
