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

from typing import Any

from aiohttp import web

from livepipe.sim.actions_common import ActionSettings, ctx_of, reset, store_of
from livepipe.sim.actions_login import account_for_uid, qr_status
from livepipe.sim.actions_silent import active_records
from livepipe.sim.control_body import NO_BODY, BodySchema, accepts, as_bool, as_float, as_int, as_str, bad_request
from livepipe.sim.state import Room


def _keyword_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [w for w in value.split(",") if w]
    if not isinstance(value, list):
        raise ValueError("expected a list of words, or words separated by commas")
    return [str(w) for w in value]


SETTINGS = BodySchema.of_fields(ActionSettings)
ACCOUNT = BodySchema({"danmaku_max_len": as_int, "needs_face_auth": as_bool, "face_auth_persistent": as_bool,
                      "refresh_needed": as_bool, "main_level": as_int, "expire": as_bool})
ROOM = BodySchema({"replay_loop": as_bool, "needs_face_auth": as_bool, "last_update": as_float,
                   "keyword_shield": _keyword_list})
QR_CONFIRM = BodySchema({"uid": as_int, "uname": as_str})
#: the account switches ``GET /_sim/actions/accounts/{uid}`` shows
ACCOUNT_FIELDS = tuple(k for k in ACCOUNT.keys if k != "expire")


async def settings_get(request: web.Request) -> web.Response:
    """``GET /_sim/actions/settings``."""
    return web.json_response(store_of(request).settings.as_dict())


@accepts(SETTINGS, form=True)
async def settings_post(request: web.Request, body: dict[str, Any]) -> web.Response:
    """``POST /_sim/actions/settings``: change some settings; answers the full settings."""
    settings = store_of(request).settings
    try:
        settings.update(body)
    except (TypeError, ValueError) as exc:
        raise bad_request(str(exc)) from exc
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


@accepts(ACCOUNT, form=True)
async def account_post(request: web.Request, body: dict[str, Any]) -> web.Response:
    """``POST /_sim/actions/accounts/{uid}``: set switches on every session of the account, or expire them."""
    ctx = ctx_of(request)
    uid = int(request.match_info["uid"])
    body = dict(body)
    sessions = [(k, a) for k, a in ctx.state.accounts.items() if a.uid == uid]
    if not sessions:
        raise web.HTTPNotFound(text=f"no session for uid {uid}")
    if body.pop("expire", False):
        for key, _ in sessions:
            del ctx.state.accounts[key]
        return web.json_response({"uid": uid, "expired": len(sessions)})
    for _, acct in sessions:
        for name, value in body.items():
            setattr(acct, name, value)
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


@accepts(ROOM, form=True)
async def room_post(request: web.Request, body: dict[str, Any]) -> web.Response:
    """``POST /_sim/actions/rooms/{room_id}``: keyword_shield, replay_loop, needs_face_auth, last_update."""
    room = _room(request)
    for name, value in body.items():
        setattr(room, name, value)
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


@accepts(NO_BODY, form=True)
async def qr_scan(request: web.Request, body: dict[str, Any]) -> web.Response:
    """``POST /_sim/qr/{key}/scan``: the phone scanned the code (poll then says 86090)."""
    qr = _qr(request)
    if qr_status(ctx_of(request), qr, store_of(request).settings.qr_ttl) == 86038:
        raise web.HTTPConflict(text="qrcode expired")
    if qr.state == "new":
        qr.state = "scanned"
    return _qr_view(request, qr)


@accepts(QR_CONFIRM, form=True)
async def qr_confirm(request: web.Request, body: dict[str, Any]) -> web.Response:
    """``POST /_sim/qr/{key}/confirm`` with ``uid`` (and optional ``uname``): log that account in."""
    ctx = ctx_of(request)
    qr = _qr(request)
    if "uid" not in body:
        raise bad_request("uid required")
    uid = body["uid"]
    if qr_status(ctx, qr, store_of(request).settings.qr_ttl) == 86038:
        raise web.HTTPConflict(text="qrcode expired")
    acct = account_for_uid(ctx, uid, body.get("uname") or None)
    qr.state = "confirmed"
    qr.uid = acct.uid
    return _qr_view(request, qr)


@accepts(NO_BODY, form=True)
async def qr_expire(request: web.Request, body: dict[str, Any]) -> web.Response:
    """``POST /_sim/qr/{key}/expire``: make the key expire now (poll then says 86038)."""
    qr = _qr(request)
    qr.state = "expired"
    return _qr_view(request, qr)


@accepts(NO_BODY, form=True)
async def reset_post(request: web.Request, body: dict[str, Any]) -> web.Response:
    """``POST /_sim/actions/reset``: default settings, no rate-limit clocks, QR keys or video danmaku."""
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
