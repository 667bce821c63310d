"""The simulator's world: rooms, users, issued tokens, and what each room saw.

Shared by the WebSocket side (``livepipe.sim.ws``), the read endpoints and the action endpoints.
Handlers change a :class:`Room` and call :meth:`Room.broadcast` to push a cmd message to every
WebSocket client of that room; the control API (``/_sim/...``) reads the same objects back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SimUser:
    """A synthetic viewer (or the streamer, or an account that logs in)."""

    uid: int
    uname: str
    level: int = 1
    medal_level: int = 0
    medal_name: str = ""
    guard_level: int = 0  # 0 none, 1 governor, 2 admiral, 3 captain
    is_admin: bool = False
    face: str = ""


@dataclass
class SilentRecord:
    """One entry of a room's ban list (GetSilentUserList)."""

    id: int
    tuid: int
    tname: str
    operator_uid: int
    hour: int
    msg: str
    ctime: float
    block_expired: float  # unix time; -1 permanent; 0 this stream


@dataclass
class Account:
    """A logged-in account known to the simulator (cookie values it accepts)."""

    uid: int
    uname: str
    sessdata: str
    bili_jct: str
    refresh_token: str = ""
    #: room ids this account may moderate (streamer of, or admin in)
    rooms: set[int] = field(default_factory=set)
    #: msg/send length limit for this account (1003212 beyond it); 20 for an ordinary account
    danmaku_max_len: int = 20
    #: startLive answers 60024 (face auth) unless ``version`` and ``build`` are sent
    needs_face_auth: bool = False
    #: with ``needs_face_auth``: 60024 even when ``version`` + ``build`` are sent
    face_auth_persistent: bool = False
    #: ``/x/passport-login/web/cookie/info`` reports ``refresh: true``
    refresh_needed: bool = False
    #: main-site account level 0..6 (not the live UL level); gates video danmaku styles (367xx)
    main_level: int = 4


@dataclass
class Room:
    """One live room and everything the simulator remembers about it."""

    room_id: int
    short_id: int
    owner_uid: int
    owner_name: str
    title: str = "simulated room"
    news: str = ""
    area_id: int = 86
    parent_area_id: int = 2
    cover: str = ""
    tags: list[str] = field(default_factory=list)
    live_status: int = 1  # 0 off, 1 live, 2 replay loop
    admins: set[int] = field(default_factory=set)
    silent: list[SilentRecord] = field(default_factory=list)
    #: every danmaku accepted by msg/send: {"uid", "msg", "ts", ...}
    sent_danmaku: list[dict[str, Any]] = field(default_factory=list)
    #: every cmd message broadcast to this room, in order (bounded by the app)
    history: list[dict[str, Any]] = field(default_factory=list)
    #: registered by the WebSocket side: called with each message to broadcast
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    last_update: float = 0.0  # for Room/update's -1 "too frequent"
    #: the streamer's keyword shield: msg/send answers code 0 + "k" for texts containing one
    keyword_shield: list[str] = field(default_factory=list)
    #: stopLive then reports status "ROUND" and PREPARING carries ``round: 1``
    replay_loop: bool = False
    #: startLive answers 60024 for this room (see Account.needs_face_auth)
    needs_face_auth: bool = False
    #: unix time the current stream started (0 when off); live_key/sub_session_key of that stream
    live_time: float = 0.0
    live_key: str = ""
    sub_session_key: str = ""
    #: messages ever broadcast (history is bounded; this is not)
    broadcast_count: int = 0

    def broadcast(self, message: dict[str, Any]) -> None:
        """Record ``message`` and push it to every connected WebSocket client of this room."""
        self.history.append(message)
        self.broadcast_count += 1
        if len(self.history) > 10_000:
            del self.history[:5_000]
        for listener in list(self.listeners):
            listener(message)


@dataclass
class SimState:
    """Everything the simulator serves."""

    rooms: dict[int, Room] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)  # by SESSDATA
    started: float = field(default_factory=time.time)

    def room(self, any_id: int | str) -> Room | None:
        """Find a room by real or short id (ids may arrive as strings)."""
        try:
            i = int(any_id)
        except (TypeError, ValueError):
            return None
        r = self.rooms.get(i)
        if r is not None:
            return r
        for room in self.rooms.values():
            if room.short_id and room.short_id == i:
                return room
        return None

    def account_for(self, cookies: dict[str, str]) -> Account | None:
        """The account whose SESSDATA the cookies carry, or None (anonymous / expired)."""
        sess = cookies.get("SESSDATA")
        return self.accounts.get(sess) if sess else None
