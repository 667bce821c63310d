"""The control API under ``/_sim/``: inject messages, read back what rooms saw, accounts, faults, reset.

Every route answers JSON. See docs/simulator.md for the full list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from livepipe.sim.control_body import (
    NO_BODY,
    BodySchema,
    accepts,
    as_bool,
    as_float,
    as_int,
    as_int_list,
    as_messages,
    as_str,
    bad_request,
)
from livepipe.sim.faults import Faults

if TYPE_CHECKING:
    from livepipe.sim.app import Simulator


def _room_or_404(sim: Simulator, request: web.Request) -> Any:
    room = sim.state.room(request.match_info["room_id"])
    if room is None:
        raise web.HTTPNotFound(text='{"error": "no such room"}', content_type="application/json")
    return room


#: ``POST /_sim/rooms/{id}/inject``: a danmaku (``text`` from ``uid``/``uname``), a list of ``messages``,
#: or, when the body has a ``cmd``, the body itself as one message; ``ver`` sends at once in that wrapping.
INJECT = BodySchema({"text": as_str, "uid": as_int, "uname": as_str, "messages": as_messages, "ver": as_int},
                    raw_if="cmd", raw_keeps={"ver": as_int})
ACCOUNTS = BodySchema({"uname": as_str, "uid": as_int, "admin_in": as_int_list, "owner_of": as_int})
ADMINS = BodySchema({"uid": as_int, "revoke": as_bool})
FAULTS = BodySchema.of_fields(Faults, reset=as_bool)
RATE = BodySchema({"rate": as_float})
CLOSE = BodySchema({"room_id": as_int})


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

    @accepts(INJECT)
    async def inject(request: web.Request, body: dict[str, Any]) -> web.Response:
        r = _room_or_404(sim, request)
        if "raw" in body:
            msgs = [body["raw"]]
        elif "messages" in body:
            msgs = body["messages"]
        elif "text" in body:
            msgs = [sim.make_danmaku(r.room_id, body["text"], uid=body.get("uid"), uname=body.get("uname"))]
        else:
            raise bad_request("give a cmd dict, {messages: [...]}, or {uid, uname, text}")
        try:
            delivered = sim.inject(r.room_id, msgs, ver=body.get("ver"))
        except ValueError as e:
            raise bad_request(str(e)) from None
        return web.json_response({"ok": True, "injected": len(msgs), "delivered_to": delivered, "messages": msgs})

    async def clients(request: web.Request) -> web.Response:
        return web.json_response([c.info() for c in sim.hub.all_clients()])

    async def room_clients(request: web.Request) -> web.Response:
        r = _room_or_404(sim, request)
        return web.json_response([c.info() for c in sim.hub.clients.get(r.room_id, ())])

    @accepts(ACCOUNTS)
    async def accounts_post(request: web.Request, body: dict[str, Any]) -> web.Response:
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

    @accepts(ADMINS)
    async def admins(request: web.Request, body: dict[str, Any]) -> web.Response:
        r = _room_or_404(sim, request)
        if "uid" not in body:
            raise bad_request("uid required")
        sim.grant_admin(r.room_id, body["uid"], revoke=body.get("revoke", False))
        return web.json_response({"ok": True, "admins": sorted(r.admins)})

    async def faults_get(request: web.Request) -> web.Response:
        return web.json_response(sim.faults.as_dict())

    @accepts(FAULTS)
    async def faults_post(request: web.Request, body: dict[str, Any]) -> web.Response:
        body = dict(body)
        if body.pop("reset", False):
            sim.faults.reset()
        try:
            sim.faults.update(body)
        except (TypeError, ValueError):
            raise bad_request("bad fault value") from None
        return web.json_response(sim.faults.as_dict())

    @accepts(RATE)
    async def rate(request: web.Request, body: dict[str, Any]) -> web.Response:
        if "rate" in body:
            sim.rate = body["rate"]
        return web.json_response({"rate": sim.rate})

    @accepts(CLOSE)
    async def close(request: web.Request, body: dict[str, Any]) -> web.Response:
        n = sim.close_connections(body.get("room_id"))
        return web.json_response({"closed": n})

    @accepts(NO_BODY)
    async def reset(request: web.Request, body: dict[str, Any]) -> web.Response:
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
