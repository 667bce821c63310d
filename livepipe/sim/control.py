"""The control API under ``/_sim/``: inject messages, read back what rooms saw, accounts, faults, reset.

Every route answers JSON. See docs/simulator.md for the full list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from livepipe.sim.app import Simulator


def _bad(message: str) -> web.HTTPBadRequest:
    import json

    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def _room_or_404(sim: Simulator, request: web.Request) -> Any:
    room = sim.state.room(request.match_info["room_id"])
    if room is None:
        raise web.HTTPNotFound(text='{"error": "no such room"}', content_type="application/json")
    return room


async def _json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='{"error": "body must be JSON"}', content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": "body must be a JSON object"}', content_type="application/json")
    return body


def add_routes(app: web.Application, sim: Simulator) -> None:
    """Register the ``/_sim/`` routes."""

    async def info(request: web.Request) -> web.Response:
        return web.json_response(sim.describe())

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(sim.stats(reset_max=request.query.get("reset_max") in ("1", "true")))

    async def rooms(request: web.Request) -> web.Response:
        return web.json_response([sim.room_view(r, full=False) for r in sim.state.rooms.values()])

    async def room(request: web.Request) -> web.Response:
        return web.json_response(sim.room_view(_room_or_404(sim, request), full=True))

    async def history(request: web.Request) -> web.Response:
        r = _room_or_404(sim, request)
        since = int(request.query.get("since", "0") or 0)
        cmd = request.query.get("cmd")
        items = r.history[since:]
        if cmd:
            items = [m for m in items if str(m.get("cmd", "")).split(":")[0] == cmd]
        return web.json_response({"total": len(r.history), "messages": items})

    async def inject(request: web.Request) -> web.Response:
        r = _room_or_404(sim, request)
        body = await _json(request)
        ver = body.pop("ver", None)
        try:
            if "messages" in body:
                msgs = [dict(m) for m in body["messages"]]
            elif "cmd" in body:
                msgs = [body]
            elif "text" in body:
                msgs = [sim.make_danmaku(r.room_id, body["text"], uid=body.get("uid"), uname=body.get("uname"))]
            else:
                raise web.HTTPBadRequest(
                    text='{"error": "give a cmd dict, {messages: [...]}, or {uid, uname, text}"}',
                    content_type="application/json",
                )
        except (TypeError, ValueError, KeyError) as e:
            raise _bad(f"bad message: {type(e).__name__}") from None
        delivered = sim.inject(r.room_id, msgs, ver=ver)
        return web.json_response({"ok": True, "injected": len(msgs), "delivered_to": delivered, "messages": msgs})

    async def clients(request: web.Request) -> web.Response:
        return web.json_response([c.info() for c in sim.hub.all_clients()])

    async def room_clients(request: web.Request) -> web.Response:
        r = _room_or_404(sim, request)
        return web.json_response([c.info() for c in sim.hub.clients.get(r.room_id, ())])

    async def accounts_post(request: web.Request) -> web.Response:
        body = await _json(request)
        acct = sim.create_account(
            uname=body.get("uname"),
            uid=body.get("uid"),
            admin_in=body.get("admin_in", ()),
            owner_of=body.get("owner_of"),
        )
        return web.json_response({"uid": acct.uid, "uname": acct.uname, "cookies": sim.cookies_for(acct),
                                  "refresh_token": acct.refresh_token, "rooms": sorted(acct.rooms)})  # fmt: skip

    async def accounts_get(request: web.Request) -> web.Response:
        return web.json_response(
            [{"uid": a.uid, "uname": a.uname, "rooms": sorted(a.rooms)} for a in sim.state.accounts.values()]
        )

    async def admins(request: web.Request) -> web.Response:
        r = _room_or_404(sim, request)
        body = await _json(request)
        try:
            uid = int(body["uid"])
        except (KeyError, TypeError, ValueError):
            raise web.HTTPBadRequest(text='{"error": "uid required"}', content_type="application/json") from None
        sim.grant_admin(r.room_id, uid, revoke=bool(body.get("revoke")))
        return web.json_response({"ok": True, "admins": sorted(r.admins)})

    async def faults_get(request: web.Request) -> web.Response:
        return web.json_response(sim.faults.as_dict())

    async def faults_post(request: web.Request) -> web.Response:
        body = await _json(request)
        if body.pop("reset", False):
            sim.faults.reset()
        try:
            sim.faults.update(body)
        except KeyError as e:
            raise _bad(f"unknown fault {e}") from None
        except (TypeError, ValueError):
            raise web.HTTPBadRequest(text='{"error": "bad fault value"}', content_type="application/json") from None
        return web.json_response(sim.faults.as_dict())

    async def rate(request: web.Request) -> web.Response:
        body = await _json(request)
        if "rate" in body:
            sim.rate = float(body["rate"])
        return web.json_response({"rate": sim.rate})

    async def close(request: web.Request) -> web.Response:
        body = await _json(request)
        n = sim.close_connections(body.get("room_id"))
        return web.json_response({"closed": n})

    async def reset(request: web.Request) -> web.Response:
        sim.reset()
        return web.json_response({"ok": True})

    r = app.router
    r.add_get("/_sim", info)
    r.add_get("/_sim/", info)
    r.add_get("/_sim/stats", stats)
    r.add_get("/_sim/rooms", rooms)
    r.add_get("/_sim/rooms/{room_id}", room)
    r.add_get("/_sim/rooms/{room_id}/history", history)
    r.add_post("/_sim/rooms/{room_id}/inject", inject)
    r.add_get("/_sim/rooms/{room_id}/clients", room_clients)
    r.add_post("/_sim/rooms/{room_id}/admins", admins)
    r.add_get("/_sim/clients", clients)
    r.add_post("/_sim/close", close)
    r.add_get("/_sim/accounts", accounts_get)
    r.add_post("/_sim/accounts", accounts_post)
    r.add_get("/_sim/faults", faults_get)
    r.add_post("/_sim/faults", faults_post)
    r.add_post("/_sim/rate", rate)
    r.add_post("/_sim/reset", reset)
