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

import dataclasses

from aiohttp import web

from livepipe.sim.actions_common import CTX_KEY, STORE_KEY, ActionSettings, ActionStore
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


def reset(app: web.Application) -> None:
    """Forget everything the action endpoints remember and restore default settings.

    Also clears the per-room action switches (keyword shield, replay loop, face auth). The core's
    ``Simulator.reset`` should call this; ``POST /_sim/actions/reset`` does the same on its own.
    """
    action_store = app[STORE_KEY]
    fresh = ActionStore()
    for f in dataclasses.fields(ActionStore):
        setattr(action_store, f.name, getattr(fresh, f.name))
    for room in app[CTX_KEY].state.rooms.values():
        room.keyword_shield = []
        room.replay_loop = False
        room.needs_face_auth = False
