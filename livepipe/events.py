"""The Event: the one immutable type that flows through every pipeline.

Events are NamedTuples: creating one costs about as much as building a tuple, they cannot be
reassigned, and ``event.replace(...)`` gives a changed copy. ``data`` and ``raw`` are plain dicts
for speed; components must treat them as read-only and build a new event instead of mutating.

The JSON form (``to_json`` / ``from_json``) is the public contract for NATS consumers and JSONL
files; it is versioned by the ``"v"`` key and documented in ``docs/events.md``.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, NamedTuple

import orjson

#: Version of the JSON form. Bump only on an incompatible change; adding keys is compatible.
SCHEMA_VERSION = 1

#: The normalized ``kind`` vocabulary. Components may emit other kinds (plugins do), but the
#: built-in Bilibili parser uses only these, and ``raw`` for cmds it does not model yet.
KINDS: dict[str, str] = {
    "danmaku": "a chat message (DANMU_MSG)",
    "gift": "a gift (SEND_GIFT, SEND_GIFT_V2)",
    "gift_combo": "a gift combo summary (COMBO_SEND)",
    "super_chat": "a paid pinned message (SUPER_CHAT_MESSAGE)",
    "super_chat_delete": "a super chat was removed",
    "guard": "a guard (captain / admiral / governor) purchase",
    "enter": "a user entered the room",
    "follow": "a user followed the streamer",
    "share": "a user shared the room",
    "like": "a user liked the stream",
    "like_count": "the total like count changed",
    "live": "the stream started",
    "preparing": "the stream ended",
    "room_change": "title or area changed",
    "room_info": "room background or follower counts changed",
    "block": "a user was banned (ROOM_BLOCK_MSG)",
    "silent": "room-wide silence switched on or off",
    "admins": "the room admin list changed",
    "recall": "a danmaku was recalled",
    "warning": "a moderator warning to the streamer",
    "cut_off": "moderators cut the stream",
    "online_count": "online / high-energy user count",
    "online_rank": "high-energy contribution ranking",
    "watched": "how many people watched",
    "interaction": "a merged interaction card (DM_INTERACTION)",
    "popularity": "the heartbeat reply's popularity figure",
    "notice": "a broadcast notice (NOTICE_MSG, COMMON_NOTICE_DANMAKU, ...)",
    "login_notice": "the server says this connection is anonymous and senders are masked",
    "raw": "a cmd livepipe does not model yet; the whole message is in `raw`",
    "source.connected": "a source connected (status event)",
    "source.disconnected": "a source lost its connection (status event)",
    "dead_letter": "an event a component failed on, with the error",
    "action.ban": "ask the bilibili.ban sink to ban a user",
    "action.unban": "ask the bilibili.ban sink to lift a ban",
    "action.send": "ask the bilibili.send sink to send a danmaku",
    "action.room_update": "ask the bilibili.room sink to change the room",
    "action.result": "what an action sink did with an action",
    "alert": "something needs a human (for example a credential stopped working)",
}

_FIELDS = ("id", "kind", "cmd", "room_id", "ts", "uid", "uname", "text", "data", "raw")


class _EventTuple(NamedTuple):
    id: str
    kind: str
    cmd: str | None
    room_id: int | None
    ts: float
    uid: int | None
    uname: str | None
    text: str | None
    data: dict[str, Any]
    raw: dict[str, Any] | None


class Event(_EventTuple):
    """One thing that happened (or one action to take).

    Fields:
        id: stable identifier; the danmaku ``id_str`` where Bilibili gives one, else a hash of
            room, cmd, time and body (see :func:`make_id`). Used by JetStream for de-duplication.
        kind: normalized kind, see :data:`KINDS`.
        cmd: the original Bilibili cmd (suffix stripped), or ``None`` for non-Bilibili events.
        room_id: real room id, or ``None``.
        ts: unix time in seconds (float).
        uid, uname, text: the user and text, where the event has them.
        data: kind-specific fields (read-only by convention).
        raw: the original message, or ``None``.
    """

    __slots__ = ()

    def replace(self, **changes: Any) -> Event:
        """Return a copy with the given fields changed."""
        return self._replace(**changes)

    def to_dict(self, *, include_raw: bool = True) -> dict[str, Any]:
        """The JSON-ready dict form, with ``"v"`` first."""
        d: dict[str, Any] = {"v": SCHEMA_VERSION}
        for name, value in zip(_FIELDS, self, strict=True):
            d[name] = value
        if not include_raw:
            d["raw"] = None
        return d

    def to_json(self, *, include_raw: bool = True) -> str:
        """Serialize to the versioned JSON form (compact, UTF-8 text, key order fixed)."""
        return self.to_json_bytes(include_raw=include_raw).decode()

    def to_json_bytes(self, *, include_raw: bool = True) -> bytes:
        """The JSON form as UTF-8 bytes (orjson; the json module for what orjson cannot encode,
        such as integers beyond 64 bits)."""
        d = self.to_dict(include_raw=include_raw)
        try:
            return orjson.dumps(d)
        except TypeError:
            text = json.dumps(d, ensure_ascii=False, separators=(",", ":"), default=str)
            try:
                return text.encode()
            except UnicodeEncodeError:  # lone surrogates from odd input: \u escapes keep it valid JSON
                return json.dumps(d, ensure_ascii=True, separators=(",", ":"), default=str).encode()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        """Build an event from its dict form; raises ``ValueError`` naming what is wrong."""
        if not isinstance(d, dict):
            raise ValueError(f"an event must be a JSON object, got {type(d).__name__}")
        v = d.get("v", SCHEMA_VERSION)
        if v != SCHEMA_VERSION:
            raise ValueError(f"unsupported event version v={v!r} (this livepipe reads v={SCHEMA_VERSION})")
        kind = d.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ValueError("an event needs a non-empty string 'kind'")
        data = d.get("data") or {}
        if not isinstance(data, dict):
            raise ValueError("'data' must be an object")
        return make_event(
            kind,
            id=d.get("id"),
            cmd=d.get("cmd"),
            room_id=d.get("room_id"),
            ts=d.get("ts"),
            uid=d.get("uid"),
            uname=d.get("uname"),
            text=d.get("text"),
            data=data,
            raw=d.get("raw"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        """Parse the JSON form; raises ``ValueError`` on bad input."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"not valid JSON: {e}") from None
        return cls.from_dict(d)


def make_id(room_id: int | None, cmd: str | None, ts: float, body: Any) -> str:
    """A stable id from room, cmd, time and body: equal inputs give equal ids across runs and machines.

    The body is serialized with sorted keys (orjson; the json module for what orjson cannot
    encode, such as integers beyond 64 bits), hashed with BLAKE2b, 24 hex characters.
    """
    try:
        payload = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        # (also lone surrogates, which UTF-8 cannot carry: ASCII escapes keep the id deterministic)
        payload = json.dumps(body, ensure_ascii=True, sort_keys=True, separators=(",", ":"), default=str).encode()
    h = hashlib.blake2b(digest_size=12)
    h.update(f"{room_id}|{cmd}|{ts!r}|".encode())
    h.update(payload)
    return h.hexdigest()


def make_event(
    kind: str,
    *,
    id: str | None = None,
    cmd: str | None = None,
    room_id: int | None = None,
    ts: float | None = None,
    uid: int | None = None,
    uname: str | None = None,
    text: str | None = None,
    data: dict[str, Any] | None = None,
    raw: dict[str, Any] | None = None,
) -> Event:
    """Create an event, filling ``ts`` with the current time and ``id`` with :func:`make_id`."""
    if ts is None:
        ts = time.time()
    if data is None:
        data = {}
    if id is None:
        id = make_id(room_id, cmd or kind, ts, raw if raw is not None else [uid, text, data])
    return Event(id, kind, cmd, room_id, float(ts), uid, uname, text, data, raw)
