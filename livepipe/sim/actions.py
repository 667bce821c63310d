"""The simulator's action (write) endpoints: everything a client does *to* Bilibili.

``add_routes(app, state, ctx)`` is called by the simulator core (``livepipe.sim.app``) after its own
routes. It registers:

- live danmaku: ``POST /msg/send`` (:mod:`livepipe.sim.actions_danmaku`);
- bans: AddSilentUser, GetSilentUserList, DelSilentUser, del_room_block_user
  (:mod:`livepipe.sim.actions_silent`);
- room management: Room/update, updateRoomNews, UpdatePreLiveInfo, startLive, stopLive
  (:mod:`livepipe.sim.actions_room`);
- passport: web QR login and the cookie-refresh flow (:mod:`livepipe.sim.actions_login`);
- video danmaku: x/v2/dm/post, x/dm/recall (:mod:`livepipe.sim.actions_video`);
- control routes under ``/_sim/actions/`` and ``/_sim/qr/`` (:mod:`livepipe.sim.actions_control`).

All hosts are one server in the simulator; the real paths do not collide, so they are used as is.
See docs/simulator-actions.md for every field, code and quirk.
"""

from __future__ import annotations

from aiohttp import web

# reset lives with the store it empties (actions_common), so the control routes need not import this module
from livepipe.sim.actions_common import CTX_KEY, STORE_KEY, ActionSettings, ActionStore, reset
from livepipe.sim.actions_control import add_control_routes
from livepipe.sim.actions_danmaku import add_danmaku_routes
from livepipe.sim.actions_login import add_login_routes
from livepipe.sim.actions_room import add_room_routes
from livepipe.sim.actions_silent import add_silent_routes
from livepipe.sim.actions_video import add_video_routes
from livepipe.sim.context import SimContext
from livepipe.sim.state import SimState

__all__ = ["ActionSettings", "ActionStore", "add_routes", "reset", "store"]


def add_routes(app: web.Application, state: SimState, ctx: SimContext) -> ActionStore:
    """Register every action endpoint and control route on ``app``; returns the new :class:`ActionStore`.

    ``state`` must be ``ctx.state`` (it is passed separately to match the core's call).
    """
    if state is not ctx.state:
        raise ValueError("state and ctx.state must be the same SimState")
    action_store = ActionStore()
    app[STORE_KEY] = action_store
    app[CTX_KEY] = ctx
    add_danmaku_routes(app)
    add_silent_routes(app)
    add_room_routes(app)
    add_login_routes(app)
    add_video_routes(app)
    add_control_routes(app)
    return action_store


def store(app: web.Application) -> ActionStore:
    """The :class:`ActionStore` that :func:`add_routes` attached to ``app`` (settings, QR keys, ...)."""
    return app[STORE_KEY]
