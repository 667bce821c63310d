"""The simulator's world: rooms, users, issued tokens, and what each room saw.

Shared by the WebSocket side (``livepipe.sim.ws``), the read endpoints and the action endpoints.
Handlers change a :class:`Room` and call :meth:`Room.broadcast` to push a cmd message to every
WebSocket client of that room; the control API (``/_sim/...``) reads the same objects back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import orjson

_dumps = orjson.dumps
_loads = orjson.loads


def encode_json(message: Any) -> bytes:
    """Compact UTF-8 JSON of a cmd message, as the WebSocket carries it (non-ASCII kept)."""
    try:
        return _dumps(message)
    except TypeError:  # an int beyond 64 bits, a non-string key: the standard library copes
        return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


class MessageLog(Sequence[dict[str, Any]]):
    """A room's broadcast history: a bounded list of messages kept as their JSON bytes.

    Reads decode (so each read gives fresh dicts equal to what was broadcast, as a client would
    see them). Bytes keep a busy simulator's memory small and out of the garbage collector's way:
    a history of dicts makes every full collection walk millions of containers. When more than
    ``limit`` messages are held, the oldest half is dropped.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self._items: list[bytes] = []
        self.limit = limit

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [_loads(b) for b in self._items[i]]
        return _loads(self._items[i])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for b in list(self._items):
            yield _loads(b)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MessageLog):
            return self._items == other._items
        if isinstance(other, list):
            return list(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MessageLog({len(self._items)} messages, limit {self.limit})"

    def append(self, message: dict[str, Any]) -> None:
        """Record one message."""
        self.append_encoded(encode_json(message))

    def append_encoded(self, raw: bytes) -> None:
        """Record one message given as its JSON bytes."""
        items = self._items
        # a right-sized copy: orjson's result keeps its (larger) working buffer allocated
        items.append(memoryview(raw).tobytes())
        if len(items) > self.limit:
            del items[: max(1, self.limit // 2)]

    def extend(self, messages: Iterable[dict[str, Any]]) -> None:
        """Record several messages."""
        for m in messages:
            self.append(m)

    def clear(self) -> None:
        """Forget everything."""
        self._items.clear()

    def raw(self) -> list[bytes]:
        """The stored JSON bytes, oldest first."""
        return list(self._items)


@dataclass
class SimUser:
    """A synthetic viewer (or the streamer, or an account that logs in)."""

    uid: int
    uname: str
    level: int = 1
    medal_level: int = 0
    medal_name: str = ""
    guard_level: int = 0  # 0 none, 1 governor, 2 admiral, 3 captain
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
    #: every cmd message broadcast to this room, in order (bounded; see MessageLog)
    history: MessageLog = field(default_factory=MessageLog)
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
    #: (message, its JSON bytes) of the latest broadcast, for listeners that send it on unencoded again
    last_encoded: tuple[Any, bytes] = field(default=(None, b""), repr=False, compare=False)

    def broadcast(self, message: dict[str, Any]) -> None:
        """Record ``message`` and push it to every connected WebSocket client of this room."""
        raw = encode_json(message)
        self.last_encoded = (message, raw)
        self.history.append_encoded(raw)
        self.broadcast_count += 1
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
