"""Test harness for the action endpoints: a real HTTP server on port 0 with a controllable clock.

``action_sim()`` builds a small world (one room, a streamer, an admin, a viewer and a few
population users), serves the action routes with aiohttp's AppRunner and yields an
:class:`ActionSim` with an httpx client. The clock is ``sim.clock.t``: tests move time forward by
assigning to it, never by sleeping.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

from livepipe.sim import actions, messages
from livepipe.sim.actions_common import ActionStore
from livepipe.sim.context import SimContext
from livepipe.sim.faults import Faults
from livepipe.sim.state import Account, Room, SimState, SimUser

ROOM_ID = 7_734_200
SHORT_ID = 77
STREAMER = 5_550_001
ADMIN = 5_550_002
VIEWER = 5_550_003
TARGETS = [5_560_001, 5_560_002, 5_560_003]


@dataclass
class Clock:
    """A settable clock for ``ctx.now``."""

    t: float = 1_750_000_000.0

    def __call__(self) -> float:
        return self.t


def cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    """A ``Cookie`` header (explicit, so the client's own jar never mixes in)."""
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}


@dataclass
class ActionSim:
    """What a test gets: the live objects and an HTTP client for the running server."""

    base_url: str
    http: httpx.AsyncClient
    state: SimState
    ctx: SimContext
    store: ActionStore
    clock: Clock
    room: Room
    accounts: dict[str, Account] = field(default_factory=dict)

    def cookies(self, who: str | Account) -> dict[str, str]:
        """Login cookies of an account (by role name or object)."""
        acct = self.accounts[who] if isinstance(who, str) else who
        return {"SESSDATA": acct.sessdata, "bili_jct": acct.bili_jct, "DedeUserID": str(acct.uid), "buvid3": "b3"}

    async def post(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        who: str | Account | None = None,
        csrf: bool = True,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """POST a form as ``who`` (adding ``csrf``/``csrf_token`` unless told not to); the JSON reply."""
        form = dict(data or {})
        cookies: dict[str, str] = {}
        if who is not None:
            cookies = self.cookies(who)
            if csrf:
                form.setdefault("csrf", cookies["bili_jct"])
                form.setdefault("csrf_token", cookies["bili_jct"])
        resp = await self.http.post(path, data=form, headers=cookie_header(cookies), params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    async def get(self, path: str, *, who: str | Account | None = None, **params: Any) -> dict[str, Any]:
        """GET as ``who``; the JSON reply."""
        cookies = self.cookies(who) if who is not None else {}
        resp = await self.http.get(path, params=params, headers=cookie_header(cookies))
        assert resp.status_code == 200, resp.text
        return resp.json()

    def cmds(self, name: str) -> list[dict[str, Any]]:
        """Messages with cmd ``name`` the room has broadcast so far."""
        return [m for m in self.room.history if str(m.get("cmd", "")).split(":")[0] == name]


def build_world(clock: Clock) -> tuple[SimState, SimContext, dict[str, Account]]:
    """One room with a streamer, an admin, a viewer and three other population users."""
    state = SimState()
    room = Room(room_id=ROOM_ID, short_id=SHORT_ID, owner_uid=STREAMER, owner_name="sim_streamer", title="old title")
    room.admins.add(ADMIN)
    state.rooms[ROOM_ID] = room
    ctx = SimContext(state=state, messages=messages, faults=Faults(), img_key="a" * 32, sub_key="b" * 32, now=clock)
    accounts: dict[str, Account] = {}
    for role, uid in (("streamer", STREAMER), ("admin", ADMIN), ("viewer", VIEWER)):
        acct = ctx.create_account(uname=f"sim_{role}", uid=uid)
        accounts[role] = acct
    for i, uid in enumerate(TARGETS):
        ctx.users[uid] = SimUser(uid=uid, uname=f"target_{i}", level=3, face=f"https://i0.hdslb.com/bfs/face/t{i}.jpg")
    return state, ctx, accounts


@contextlib.asynccontextmanager
async def action_sim() -> AsyncIterator[ActionSim]:
    """Serve the action routes on 127.0.0.1:<free port> and yield an :class:`ActionSim`."""
    clock = Clock()
    state, ctx, accounts = build_world(clock)
    app = web.Application()
    store = actions.add_routes(app, state, ctx)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    ctx.base_url = base
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            yield ActionSim(base, http, state, ctx, store, clock, state.rooms[ROOM_ID], accounts)
    finally:
        await runner.cleanup()
