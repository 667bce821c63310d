"""What the simulator core hands to the action endpoints (``livepipe.sim.actions``).

Contract: after the core has added its own routes, ``livepipe.sim.app.build_app`` calls

    livepipe.sim.actions.add_routes(app: aiohttp.web.Application, state: SimState, ctx: SimContext)

if that module exists. The action module adds its routes (``app.router.add_post(...)``) and uses
``ctx`` for everything it needs from the core:

- ``ctx.account(request)`` -> :class:`~livepipe.sim.state.Account` or None: the account whose
  ``SESSDATA`` cookie the request carries (None = anonymous or unknown session).
- ``ctx.csrf_ok(request, form)``: the form's ``csrf`` (or ``csrf_token``) equals the ``bili_jct``
  cookie and that cookie belongs to the same account.
- ``ctx.wbi_ok(params)``: the query ``params`` (a mapping with ``wts``/``w_rid``) carry a valid
  WBI signature for the simulator's current keys.
- ``ctx.has_buvid(request)``: the request carries a ``buvid3`` cookie.
- ``ctx.messages``: the module of pure message builders (``livepipe.sim.messages``): ``danmaku``,
  ``room_block_msg``, ``room_change``, ``live``, ``preparing``, ... each returns a cmd dict; call
  ``room.broadcast(msg)`` to push it to the room's WebSocket clients.
- ``ctx.faults``: the live :class:`~livepipe.sim.faults.Faults` settings. HTTP faults (-352, 412,
  delay) are applied by a middleware to every route, the action routes included, so handlers
  normally need not look at them.
- ``ctx.create_account(uname=None, uid=None)`` -> Account: register a new account (for QR login);
  it gets fresh SESSDATA/bili_jct/refresh_token values and is stored in ``state.accounts``.
- ``ctx.user(uid)`` -> SimUser or None: the synthetic population entry (or account) with that uid,
  to fill in names, medals and levels in the messages an action broadcasts.
- ``ctx.now()``: the current unix time (float); ``ctx.next_id()``: a fresh positive int id.
- ``ctx.img_key`` / ``ctx.sub_key``: the WBI keys served by nav.
- ``ctx.base_url``: the simulator's own base URL, set once the server is listening (useful for
  QR-login URLs); empty before that.

Handlers must not block; everything runs on the simulator's event loop.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from aiohttp import web

from livepipe.bilibili import wbi
from livepipe.sim.faults import Faults
from livepipe.sim.state import Account, SimState, SimUser


@dataclass
class SimContext:
    """Services the simulator core offers to route modules. See the module docstring."""

    state: SimState
    messages: ModuleType
    faults: Faults
    img_key: str
    sub_key: str
    #: uid -> synthetic user (population of every room, plus accounts)
    users: dict[int, SimUser] = field(default_factory=dict)
    base_url: str = ""
    now: Callable[[], float] = time.time
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1_000_001))
    _uids: itertools.count = field(default_factory=lambda: itertools.count(900_000_001))
    #: hook the core sets so new accounts are announced elsewhere (e.g. population); optional
    on_new_account: Callable[[Account], None] | None = None

    def account(self, request: web.Request) -> Account | None:
        """The account whose SESSDATA cookie ``request`` carries, or None."""
        return self.state.account_for(dict(request.cookies))

    def csrf_ok(self, request: web.Request, form: Mapping[str, Any]) -> bool:
        """True if ``csrf`` (or ``csrf_token``) in ``form`` matches the session's ``bili_jct``."""
        acct = self.account(request)
        if acct is None:
            return False
        given = form.get("csrf") or form.get("csrf_token") or ""
        return bool(given) and given == acct.bili_jct and request.cookies.get("bili_jct", acct.bili_jct) == given

    def wbi_ok(self, params: Mapping[str, Any]) -> bool:
        """True if ``params`` carry a valid WBI signature (``wts`` + ``w_rid``) for the current keys."""
        try:
            return wbi.verify(dict(params), self.img_key, self.sub_key)
        except ValueError:
            return False

    def has_buvid(self, request: web.Request) -> bool:
        """True if the request carries a non-empty ``buvid3`` cookie."""
        return bool(request.cookies.get("buvid3"))

    def next_id(self) -> int:
        """A fresh positive integer id (record ids, danmaku ids, ...)."""
        return next(self._ids)

    def user(self, uid: int) -> SimUser | None:
        """The synthetic user or account with ``uid``, if known."""
        return self.users.get(int(uid))

    def create_account(self, uname: str | None = None, uid: int | None = None) -> Account:
        """Register and return a new logged-in account with fresh cookie values."""
        import secrets

        if uid is None:
            uid = next(self._uids)
            while uid in self.users:
                uid = next(self._uids)
        uname = uname or f"sim_user_{uid}"
        acct = Account(
            uid=int(uid),
            uname=uname,
            sessdata=f"{secrets.token_hex(16)}%2C{int(self.now()) + 15552000}%2C{secrets.token_hex(4)}",
            bili_jct=secrets.token_hex(16),
            refresh_token=secrets.token_hex(16),
        )
        self.state.accounts[acct.sessdata] = acct
        if int(uid) not in self.users:
            self.users[int(uid)] = SimUser(uid=int(uid), uname=uname, level=20)
        for room in self.state.rooms.values():
            if room.owner_uid == acct.uid or acct.uid in room.admins:
                acct.rooms.add(room.room_id)
        if self.on_new_account is not None:
            self.on_new_account(acct)
        return acct
