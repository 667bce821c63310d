"""Everything that speaks Bilibili: the sans-I/O decoding hot path, and the component registration.

The one-step hot path the danmaku source uses is :func:`decode_events`: one WebSocket message
(bytes) in, a list of :class:`~livepipe.events.Event` out. See ``docs/bilibili/events.md``.

Per packet of the frame:

* op 5 (command): the body is parsed as JSON and turned into one event by
  :func:`~livepipe.bilibili.commands.parse_command`; its ``raw`` is a
  :class:`~livepipe.events.RawMessage` that keeps the body's bytes. A ``DANMU_MSG`` of the usual
  shape takes the typed path (:func:`~livepipe.bilibili.fast.danmaku_event`: msgspec, the same
  event, ``raw`` parsed only when read). A body that is not valid JSON, or is JSON but
  not an object, is **skipped** and counted (``DecodeStats.bad_json`` / ``bad_message``); the
  other packets of the frame are still returned. An empty body is skipped silently.
* op 3 (heartbeat reply): one ``popularity`` event, ``data == {"popularity": n}``.
* op 8 (auth reply): not an event. It is counted in ``DecodeStats.auth_replies`` and skipped; the
  client reads it with :func:`decode_frame` + :func:`parse_auth_reply` before switching to
  :func:`decode_events`.
* anything else: skipped and counted in ``DecodeStats.ignored``.

A frame whose *framing* is broken (bad header, truncated packet, undecompressible body) raises
:class:`ProtocolError` and yields nothing: past a framing error no byte can be trusted.

Two implementations give the same events: the compiled one (``livepipe.bilibili._cdecode``: the
framing, the dispatch, the usual ``DANMU_MSG``, and the usual ``INTERACT_WORD_V2``, ``SEND_GIFT``,
``SEND_GIFT_V2``, ``GUARD_BUY``, ``USER_TOAST_MSG_V2``, ``LIKE_INFO_V3_CLICK``, ``ENTRY_EFFECT``,
``ONLINE_RANK_V3``, ``LIKE_INFO_V3_UPDATE``, ``ONLINE_RANK_COUNT`` and ``WATCHED_CHANGE`` in C; the
``raw`` of those is a :class:`~livepipe.events.LazyRaw` too, where the pure path holds the parsed
:class:`~livepipe.events.RawMessage`: ``event.raw``, the JSON form and equality are the same) when it
is built, and this module's pure Python one (:func:`decode_frame` +
:func:`~livepipe.bilibili.fast.danmaku_event` + orjson), the fallback, also when
``LIVEPIPE_PURE_PYTHON=1`` is set (see :mod:`livepipe.bilibili.fast`).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from livepipe.bilibili import (
    fast,
    open_commands,  # noqa: F401 - registers the LIVE_OPEN_PLATFORM_* cmds
)
from livepipe.bilibili.commands import MessageError, parse_command
from livepipe.bilibili.fast import danmaku_event
from livepipe.bilibili.protocol import (
    OP_AUTH_REPLY,
    OP_COMMAND,
    OP_HEARTBEAT_REPLY,
    Packet,
    ProtocolError,
    _decompress,
    decode_frame,
    encode_packet,
)
from livepipe.events import Event, LazyRaw, RawMessage, make_id

__all__ = [
    "DecodeStats",
    "MessageError",
    "Packet",
    "ProtocolError",
    "decode_events",
    "decode_frame",
    "encode_packet",
    "parse_auth_reply",
    "parse_command",
    "popularity_event",
]

_loads = orjson.loads
_new_event = tuple.__new__
_RawMessage = RawMessage


class DecodeStats:
    """Counters one source keeps across calls to :func:`decode_events` (plain ints; not thread-safe)."""

    __slots__ = ("frames", "packets", "events", "bad_json", "bad_message", "auth_replies", "ignored")

    def __init__(self) -> None:
        self.frames = 0
        self.packets = 0
        self.events = 0
        self.bad_json = 0
        self.bad_message = 0
        self.auth_replies = 0
        self.ignored = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a dict (for metrics and logs)."""
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        return f"DecodeStats({', '.join(f'{k}={v}' for k, v in self.as_dict().items())})"


def popularity_event(popularity: int, room_id: int) -> Event:
    """The ``popularity`` event for a heartbeat reply (``cmd`` is ``None``; ``ts`` is receive time)."""
    ts = time.time()
    data = {"popularity": popularity}
    return _new_event(
        Event, (make_id(room_id, "popularity", ts, data), "popularity", None, room_id, ts, None, None, None, data, None)
    )


def decode_events(frame: bytes, room_id: int, stats: DecodeStats | None = None) -> list[Event]:
    """Decode one WebSocket message into events (see the module docstring for the rules).

    ``room_id`` is the real id of the connection's room. Raises :class:`ProtocolError` on broken
    framing, and nothing else. Compiled when :data:`livepipe.bilibili.fast.COMPILED`, else pure Python.
    """
    return _decode_events(frame, room_id, stats)


_DANMU = b'{"cmd":"DANMU_MSG'


def _decode_body(body: bytes, room_id: int) -> Event | int:
    """One non-empty command body the compiled path handed back: its event, or 1 (bad JSON) / 2 (not an object)."""
    if body.startswith(_DANMU):
        ev = danmaku_event(body, room_id)
        if ev is not None:
            return ev
    try:
        message = _loads(body)
    except ValueError:
        return 1
    if type(message) is not dict:
        return 2
    raw = _RawMessage(message)
    raw.json = body
    return parse_command(raw, room_id)


def _decode_events_pure(frame: bytes, room_id: int, stats: DecodeStats | None = None) -> list[Event]:
    """:func:`decode_events` in pure Python (the fallback of the compiled path)."""
    packets = decode_frame(frame)
    out: list[Event] = []
    append = out.append
    bad_json = bad_message = auth = ignored = 0
    for p in packets:
        op = p[0]
        if op == OP_COMMAND:
            body = p[3]
            if not body:
                continue
            if body.startswith(_DANMU):  # the typed path; None: not the usual shape
                ev = danmaku_event(body, room_id)
                if ev is not None:
                    append(ev)
                    continue
            try:
                message = _loads(body)
            except ValueError:
                bad_json += 1
                continue
            if type(message) is not dict:
                bad_message += 1
                continue
            raw = _RawMessage(message)
            raw.json = body
            append(parse_command(raw, room_id))
        elif op == OP_HEARTBEAT_REPLY:
            body = p[3]
            if len(body) >= 4:
                append(popularity_event(int.from_bytes(body[:4], "big"), room_id))
            else:
                ignored += 1
        elif op == OP_AUTH_REPLY:
            auth += 1
        else:
            ignored += 1
    if stats is not None:
        stats.frames += 1
        stats.packets += len(packets)
        stats.events += len(out)
        stats.bad_json += bad_json
        stats.bad_message += bad_message
        stats.auth_replies += auth
        stats.ignored += ignored
    return out


if fast._cdecode is not None:
    fast._cdecode.setup(
        event=Event, lazy_raw=LazyRaw, decode_emots=fast.decode_emots, decode_emoticon=fast.decode_emoticon,
        json_loads=_loads, protocol_error=ProtocolError, decompress=_decompress, popularity_event=popularity_event,
        slow=_decode_body,
    )
    _decode_events = fast._cdecode.decode_events
else:
    _decode_events = _decode_events_pure


def parse_auth_reply(body: bytes | Packet) -> int:
    """The ``code`` of an auth reply (op 8) body or packet: ``0`` means accepted.

    Raises :class:`ProtocolError` if the body is not a JSON object with an integer ``code``, or
    if a packet that is not op 8 is given.
    """
    if isinstance(body, Packet):
        if body.op != OP_AUTH_REPLY:
            raise ProtocolError(f"expected an auth reply (op {OP_AUTH_REPLY}), got op {body.op}")
        body = body.body
    try:
        reply: Any = _loads(body)
    except (ValueError, TypeError):
        raise ProtocolError("auth reply body is not JSON") from None
    code = reply.get("code") if isinstance(reply, dict) else None
    if type(code) is not int:
        raise ProtocolError("auth reply has no integer 'code'")
    return code

