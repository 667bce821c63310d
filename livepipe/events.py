# Stays whole: the Event type, its JSON form (encoding, the guarded loader and its checks) and its id are
# one public contract, documented in docs/events.md; readers look for all of it here.
"""The Event: the one immutable type that flows through every pipeline.

Events are NamedTuples: creating one costs about as much as building a tuple, they cannot be
reassigned, and ``event.replace(...)`` gives a changed copy. ``data`` and ``raw`` are plain dicts
for speed; components must treat them as read-only and build a new event instead of mutating.

The JSON form (``to_json`` / ``from_json``) is the public contract for NATS consumers and JSONL
files; it is versioned by the ``"v"`` key and documented in ``docs/events.md``.

A source that parsed ``raw`` from JSON text can hand over a :class:`RawMessage`: the parsed dict
together with the text it came from. Serializing the event then copies that text instead of
encoding the message again (for a 1.6 KB danmaku that is most of the cost of ``to_json_bytes``).
The Bilibili decoder goes one step further for danmaku: it stores a :class:`LazyRaw` (the bytes
alone) in the tuple, and ``event.raw`` parses it on first read into that same ``RawMessage``. Read
``raw`` through the attribute (``event.raw``); ``event[9]`` may be the unparsed ``LazyRaw``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import orjson

from livepipe import views
from livepipe.errors import DecodeError

__all__ = [
    "KINDS",
    "SCHEMA_VERSION",
    "Event",
    "LazyRaw",
    "RawMessage",
    "make_event",
    "make_id",
]

_Fragment = orjson.Fragment

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
    "pk_start": "a PK battle started (both rooms)",
    "pk_progress": "the scores of a running PK battle",
    "pk_end": "a PK battle ended: both rooms' scores and the winner",
    "pk_settle": "the settled result of a PK battle for this room",
    "lottery_start": "a 天选时刻 lottery started (ANCHOR_LOT_START)",
    "lottery_award": "the winners of a 天选时刻 lottery (ANCHOR_LOT_AWARD)",
    "red_packet_start": "a popularity red packet opened (POPULARITY_RED_POCKET_START)",
    "red_packet_winners": "who won a popularity red packet",
    "medal_change": "the connected user's fan medal changed (MESSAGEBOX_USER_MEDAL_CHANGE)",
    "notice": "a broadcast notice (NOTICE_MSG, COMMON_NOTICE_DANMAKU, ...)",
    "login_notice": "the server says this connection is anonymous and senders are masked",
    "raw": "a cmd livepipe does not model yet; the whole message is in `raw`",
    "source.connected": "a source connected (status event)",
    "source.disconnected": "a source lost its connection (status event)",
    "source.degraded": "a source runs on a fallback, e.g. a key-less connection (status event)",
    "source.recovered": "a degraded source is back on its normal path (status event)",
    "dead_letter": "an event a component failed on, with the error",
    "action.ban": "ask the bilibili.ban sink to ban a user",
    "action.unban": "ask the bilibili.ban sink to lift a ban",
    "action.send": "ask the bilibili.send sink to send a danmaku",
    "action.room_update": "ask the bilibili.room sink to change the room",
    "action.result": "what an action sink did with an action",
    "alert": "something needs a human (a credential stopped working, a sink failing for `fail_after` seconds)",
}

class RawMessage(dict):  # type: ignore[type-arg]
    """A read-only message dict that keeps the JSON text it was parsed from (``json``, bytes).

    ``Event.to_json_bytes`` embeds ``json`` as it is, so what a sink writes as ``raw`` is the
    message exactly as the source received it. Writing to it raises ``TypeError``: the text would
    no longer match (build a new event with ``event.replace(raw=...)`` instead). Nested values are
    plain dicts and lists, read-only by the same convention as ``Event.data``.
    """

    __slots__ = ("json",)
    json: bytes

    @classmethod
    def of(cls, message: dict[str, Any], json_text: bytes) -> RawMessage:
        """The read-only copy of ``message`` that keeps ``json_text`` (the text it was parsed from).

        (On the hot path, ``r = RawMessage(message); r.json = text`` does the same without a call.)
        """
        r = cls(message)
        r.json = json_text
        return r

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("event.raw is read-only (a RawMessage); build a new event with event.replace(raw=...)")

    __setitem__ = __delitem__ = _read_only
    pop = popitem = clear = update = setdefault = __ior__ = _read_only  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (RawMessage.of, (dict(self), self.json))

    def __copy__(self) -> RawMessage:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> RawMessage:
        import copy

        return RawMessage.of(copy.deepcopy(dict(self), memo), self.json)


class LazyRaw(Mapping[str, Any]):
    """``raw`` kept as the JSON bytes it arrived as, parsed only when something reads it.

    The decoder stores one of these in an event's ``raw`` slot instead of a parsed dict. Reading
    ``event.raw`` parses it once (``orjson``) and returns the :class:`RawMessage` the event would
    have held, so consumers see the same dict as before; :meth:`Event.to_json_bytes` writes the
    bytes as they are, without parsing them. Only code that indexes the tuple (``event[9]``) or
    unpacks it meets this object itself: a read-only ``Mapping`` equal to the parsed dict, with
    the same ``repr``, picklable.
    """

    __slots__ = ("json", "_message")

    def __init__(self, json_text: bytes) -> None:
        self.json = json_text

    def message(self) -> RawMessage:
        """The parsed message (parsed on the first call, then kept)."""
        try:
            return self._message
        except AttributeError:
            pass
        try:
            m = RawMessage(orjson.loads(self.json))
        except ValueError:  # a number beyond the double range, which orjson refuses and the json module reads
            m = RawMessage(json.loads(self.json))
        m.json = self.json
        self._message = m
        return m

    def __getitem__(self, key: str) -> Any:
        return self.message()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.message())

    def __len__(self) -> int:
        return len(self.message())

    def __eq__(self, other: object) -> bool:
        if type(other) is LazyRaw:
            return self.json == other.json or self.message() == other.message()
        return self.message() == other

    __hash__ = None  # type: ignore[assignment]  # like the dict it stands for

    def __repr__(self) -> str:
        return repr(self.message())

    def __reduce__(self) -> tuple[Any, ...]:
        return (LazyRaw, (self.json,))

    def __copy__(self) -> LazyRaw:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> LazyRaw:
        return self


_FIELDS = ("id", "kind", "cmd", "room_id", "ts", "uid", "uname", "text", "data", "raw")

#: How many events' JSON bytes :meth:`Event.to_json_bytes` remembers. A pipeline's sinks write the
#: same event within one batch of each other (at most 256 events, the runtime's ``BATCH_MAX``). The
#: memo keeps its events alive, so a larger one only holds more memory that the processor's caches
#: then miss: 1024 instead of 256 cost 1-2 us per event in ``bench/cpu.py``, with no more hits.
JSON_MEMO_SIZE = 256
_json_memo: dict[int, tuple[Event, bool, bytes]] = {}
_json_memo_order: deque[int] = deque()  # keys in the order they were stored (oldest first)


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

    @property
    def raw(self) -> dict[str, Any] | None:  # type: ignore[override]
        """The original message, or ``None`` (a :class:`LazyRaw` is parsed here, on first read)."""
        r = tuple.__getitem__(self, 9)
        if type(r) is LazyRaw:
            return r.message()
        return r

    def _asdict(self) -> dict[str, Any]:
        """The fields as a dict (``raw`` parsed, as :attr:`raw` gives it)."""
        d = dict(zip(_FIELDS, self, strict=True))
        d["raw"] = self.raw
        return d

    def replace(self, **changes: Any) -> Event:
        """Return a copy with the given fields changed."""
        return self._replace(**changes)

    def to_dict(self, *, include_raw: bool = True) -> dict[str, Any]:
        """The JSON-ready dict form, with ``"v"`` first."""
        return {
            "v": SCHEMA_VERSION,
            "id": self[0],
            "kind": self[1],
            "cmd": self[2],
            "room_id": self[3],
            "ts": self[4],
            "uid": self[5],
            "uname": self[6],
            "text": self[7],
            "data": self[8],
            "raw": self.raw if include_raw else None,
        }

    def to_json(self, *, include_raw: bool = True) -> str:
        """Serialize to the versioned JSON form (compact, UTF-8 text, key order fixed)."""
        return self.to_json_bytes(include_raw=include_raw).decode()

    def to_json_bytes(self, *, include_raw: bool = True) -> bytes:
        """The JSON form as UTF-8 bytes (orjson; the json module for what orjson cannot encode,
        such as integers beyond 64 bits). A :class:`RawMessage` ``raw`` is copied as its text.

        The bytes of the last :data:`JSON_MEMO_SIZE` events serialized are remembered (events are
        immutable), so sinks that each write the same event share one serialization.
        """
        key = id(self)
        hit = _json_memo.get(key)
        if hit is not None and hit[0] is self and hit[1] is include_raw:
            return hit[2]
        out = self._encode(include_raw)
        # (an entry holds its event, so no other live object has its id: an evicted key that was stored
        # again later only drops that newer entry early, never returns wrong bytes)
        _json_memo[key] = (self, include_raw, out)
        _json_memo_order.append(key)
        if len(_json_memo_order) > JSON_MEMO_SIZE:
            _json_memo.pop(_json_memo_order.popleft(), None)
        return out

    def _encode(self, include_raw: bool) -> bytes:
        d = self.to_dict(include_raw=False)
        raw = tuple.__getitem__(self, 9) if include_raw else None
        if raw is not None:
            # A LazyRaw (and a RawMessage that kept its text) is written as the received bytes, unparsed.
            has_text = type(raw) is LazyRaw or (type(raw) is RawMessage and hasattr(raw, "json"))
            d["raw"] = _Fragment(raw.json) if has_text else raw
        try:
            out = orjson.dumps(d)
        except TypeError:
            d["raw"] = self.raw if include_raw else None
            text = json.dumps(d, ensure_ascii=False, separators=(",", ":"), default=str)
            try:
                return text.encode()
            except UnicodeEncodeError:  # lone surrogates from odd input: \u escapes keep it valid JSON
                return json.dumps(d, ensure_ascii=True, separators=(",", ":"), default=str).encode()
        # orjson's bytes keep a larger allocation than their length (about 8 KB for a 2.5 KB event): an exact
        # copy, 0.2 us, saves that on every event the memo and the nats sink's resend window hold (~30 MB)
        return bytes(memoryview(out)) if len(out) > 512 else out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        """Build an event from its dict form, checked against the v1 schema (``docs/event.schema.json``).

        Raises ``ValueError`` naming the first key that is wrong and what it must be, so an event
        read from a file or a message bus can never carry, say, an integer ``id`` or a string
        ``room_id`` into a sink. ``id`` and ``ts`` may be left out (they are filled in as by
        :func:`make_event`); every other key may be left out or null where the schema allows null.
        """
        if not isinstance(d, dict):
            raise ValueError(f"an event must be a JSON object, got {_json_type(d)}")
        v = d.get("v", SCHEMA_VERSION)
        if v != SCHEMA_VERSION or type(v) is not int:
            raise ValueError(f"unsupported event version v={v!r} (this livepipe reads v={SCHEMA_VERSION})")
        kind = d.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"an event needs a non-empty string 'kind', got {_json_type(kind)}")
        for key, want in _CHECKS:
            value = d.get(key)
            if value is not None and not want(value):
                raise ValueError(f"{key!r} must be {_WANTS[key]}, got {_json_type(value)}{_short(value)}")
        event_id = d.get("id")
        if event_id == "":
            raise ValueError("'id' must be a non-empty string, got an empty string")
        data = d.get("data")
        if data is None:
            data = {}
        elif not isinstance(data, dict):
            raise ValueError(f"'data' must be an object, got {_json_type(data)}")
        ts = d.get("ts")
        if ts is not None and not math.isfinite(ts):
            raise ValueError(f"'ts' must be a finite number of seconds, got {ts!r}")
        return make_event(
            kind,
            id=event_id,
            cmd=d.get("cmd"),
            room_id=d.get("room_id"),
            ts=ts,
            uid=d.get("uid"),
            uname=d.get("uname"),
            text=d.get("text"),
            data=data,
            raw=d.get("raw"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        """Parse the JSON form; raises ``ValueError`` on bad input (see :func:`loads_json`)."""
        return cls.from_dict(loads_json(text))

    # ---- typed views of ``data`` (livepipe.views); each raises views.WrongKind on another kind ----------

    @property
    def danmaku(self) -> views.Danmaku:
        """This ``danmaku`` as a typed view: ``ev.danmaku.text``, ``.medal``, ``.is_admin``, ..."""
        return views.Danmaku.of(self)

    @property
    def gift(self) -> views.Gift:
        """This ``gift`` as a typed view: ``ev.gift.name``, ``.num``, ``.price``, ``.total_coin``, ``.paid``, ..."""
        return views.Gift.of(self)

    @property
    def gift_combo(self) -> views.GiftCombo:
        """This ``gift_combo`` as a typed view."""
        return views.GiftCombo.of(self)

    @property
    def super_chat(self) -> views.SuperChat:
        """This ``super_chat`` as a typed view: ``ev.super_chat.price`` (CNY), ``.text``, ..."""
        return views.SuperChat.of(self)

    @property
    def guard(self) -> views.Guard:
        """This ``guard`` purchase as a typed view: ``ev.guard.level``, ``.level_name``, ``.num``, ``.price``."""
        return views.Guard.of(self)

    @property
    def enter(self) -> views.UserAction:
        """This ``enter`` as a typed view (``.uname``, ``.medal``, ``.guard_level``, ``.effect``)."""
        return views.UserAction.of(self, "enter")

    @property
    def follow(self) -> views.UserAction:
        """This ``follow`` as a typed view."""
        return views.UserAction.of(self, "follow")

    @property
    def share(self) -> views.UserAction:
        """This ``share`` as a typed view."""
        return views.UserAction.of(self, "share")

    @property
    def like(self) -> views.UserAction:
        """This ``like`` as a typed view."""
        return views.UserAction.of(self, "like")

    @property
    def block(self) -> views.Block:
        """This ``block`` (a ban) as a typed view."""
        return views.Block.of(self)

    @property
    def silent(self) -> views.Silent:
        """This ``silent`` switch as a typed view."""
        return views.Silent.of(self)

    @property
    def room_change(self) -> views.RoomChange:
        """This ``room_change`` as a typed view (``.title``, ``.area_name``, ...)."""
        return views.RoomChange.of(self)

    @property
    def live(self) -> views.Live:
        """This ``live`` (stream started) as a typed view."""
        return views.Live.of(self)

    @property
    def online_count(self) -> views.OnlineCount:
        """This ``online_count`` as a typed view."""
        return views.OnlineCount.of(self)

    @property
    def watched(self) -> views.Watched:
        """This ``watched`` as a typed view."""
        return views.Watched.of(self)

    @property
    def like_count(self) -> views.LikeCount:
        """This ``like_count`` as a typed view."""
        return views.LikeCount.of(self)

    @property
    def popularity(self) -> views.Popularity:
        """This ``popularity`` as a typed view."""
        return views.Popularity.of(self)

    @property
    def dead_letter(self) -> views.DeadLetter:
        """This ``dead_letter`` as a typed view (``.component``, ``.error``, ``.traceback``, ``.event``)."""
        return views.DeadLetter.of(self)


#: The deepest nesting of arrays and objects accepted in an event read from outside (a file, a
#: message bus). Real Bilibili messages nest fewer than ten levels; orjson encodes up to 255.
MAX_JSON_DEPTH = 128


class JsonDepthError(DecodeError, ValueError):
    """A JSON text nests arrays and objects deeper than :data:`MAX_JSON_DEPTH`."""


def loads_json(text: str | bytes) -> Any:
    """``json.loads`` for text from outside: every failure is a ``ValueError`` naming the reason.

    That includes invalid UTF-8, ``NaN`` and ``Infinity``, and nesting deeper than :data:`MAX_JSON_DEPTH`
    (:class:`JsonDepthError`): a line of 100,000 ``[`` must not raise ``RecursionError``, and
    what is accepted must still serialize (orjson stops at 255 levels).
    """
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON: {e}") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"not valid UTF-8: {e}") from None
    except RecursionError:
        raise JsonDepthError(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    opening = text.count(b"[") + text.count(b"{") if isinstance(text, bytes) else text.count("[") + text.count("{")
    if opening > MAX_JSON_DEPTH and _depth(value) > MAX_JSON_DEPTH:  # cheap test first: few brackets, shallow
        raise JsonDepthError(f"nested more than {MAX_JSON_DEPTH} levels deep")
    return value


def _no_constant(name: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity`` are not JSON (Python's json module reads them; orjson would
    write them back as null, so the event would change on the way through)."""
    raise json.JSONDecodeError(f"{name} is not a JSON value", name, 0)


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (iterative: no recursion limit)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        children = v.values() if isinstance(v, dict) else v if isinstance(v, list) else None
        if children is None:
            continue
        deepest = max(deepest, d)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((c, d + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


def _is_int(v: Any) -> bool:
    return type(v) is int  # bool is an int subclass, and True is no room id


def _is_number(v: Any) -> bool:
    return type(v) is int or type(v) is float


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_object(v: Any) -> bool:
    return isinstance(v, dict)


#: The type rule of each key of the JSON form (null is allowed where the schema allows it; ``id``
#: and ``ts`` may be null or missing on input: they are then filled in).
_CHECKS: tuple[tuple[str, Any], ...] = (
    ("id", _is_str), ("cmd", _is_str), ("room_id", _is_int), ("ts", _is_number),
    ("uid", _is_int), ("uname", _is_str), ("text", _is_str), ("raw", _is_object),
)  # fmt: skip
_WANTS = {"id": "a non-empty string", "cmd": "a string or null", "room_id": "an integer or null",
          "ts": "a number (unix seconds)", "uid": "an integer or null", "uname": "a string or null",
          "text": "a string or null", "raw": "an object or null"}  # fmt: skip


def _json_type(v: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def _short(v: Any) -> str:
    """A value for a message: `` (repr)``, cut to 40 characters; nothing for containers."""
    if isinstance(v, (dict, list)):
        return ""
    r = repr(v)
    return f" ({r[:37]}...)" if len(r) > 40 else f" ({r})"


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
    h.update(f"{room_id}|{cmd}|{ts!r}|".encode("utf-8", "surrogatepass"))  # a lone surrogate in cmd: still an id
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
