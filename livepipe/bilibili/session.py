"""The danmaku WebSocket session as a sans-I/O state machine: frames and times in, bytes and events out.

One :class:`DanmakuSession` is one connection's life after the socket opened: it makes the AUTH
packet, checks the auth reply, decodes frames into events, says when a heartbeat is due, and ends
with the reason when the auth reply, a frame or a heartbeat reply is overdue. It never reads a
clock and never touches a socket: the caller passes ``now`` (seconds on any monotonic clock) to
every call, sends what :meth:`DanmakuSession.data_to_send` returns, and calls
:meth:`DanmakuSession.tick` no later than :meth:`DanmakuSession.next_deadline`. The I/O loop around it
is :class:`livepipe.bilibili.client.DanmakuClient`; tests drive the session directly with made-up
frames and times.

States::

    AUTHENTICATING --auth reply code 0--> OPEN --timeout / close / refusal--> ENDED
          \\------------------------- timeout / refusal / close ------------------/

``ended`` holds the :class:`~livepipe.bilibili.client.ConnectionEnded` subclass that says why.
"""

from __future__ import annotations

import enum

from livepipe.bilibili import DecodeStats, ProtocolError, decode_events, decode_frame, parse_auth_reply
from livepipe.bilibili.protocol import OP_AUTH, OP_AUTH_REPLY, encode_packet, heartbeat
from livepipe.errors import TransportError
from livepipe.events import Event

__all__ = [
    "HEARTBEAT_BODY",
    "AuthFailed",
    "Closed",
    "ConnectFailed",
    "ConnectionEnded",
    "DanmakuSession",
    "HeartbeatTimeout",
    "LivenessTimeout",
    "SessionState",
]

#: The body the web page sends with each heartbeat.
HEARTBEAT_BODY = b"[object Object]"
_HEARTBEAT_PACKET = heartbeat(HEARTBEAT_BODY)


class ConnectionEnded(TransportError):
    """A connection attempt ended; ``reason`` is a short machine-readable word for metrics/events."""

    reason = "closed"


class ConnectFailed(ConnectionEnded):
    """The WebSocket could not be opened (DNS, TCP, TLS, HTTP upgrade, or the attempt timed out)."""

    reason = "connect_failed"


class AuthFailed(ConnectionEnded):
    """The server refused the AUTH packet (reply code != 0, or closed before replying)."""

    reason = "auth_failed"

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class LivenessTimeout(ConnectionEnded):
    """Nothing at all arrived for ``liveness_timeout`` seconds."""

    reason = "liveness_timeout"


class HeartbeatTimeout(ConnectionEnded):
    """Heartbeats went unanswered for ``heartbeat_timeout`` seconds (a half-dead connection)."""

    reason = "heartbeat_timeout"


class Closed(ConnectionEnded):
    """The server (or the network) closed an authenticated connection."""

    reason = "closed"


class SessionState(enum.Enum):
    """Where a :class:`DanmakuSession` is in its life."""

    AUTHENTICATING = "authenticating"
    OPEN = "open"
    ENDED = "ended"


class DanmakuSession:
    """One connection's protocol state (see the module docstring).

    Args:
        room_id: the real room id, put on every event.
        auth: the AUTH (op 7) JSON body; :meth:`start` wraps it in a packet.
        now: the time the socket opened.
        auth_timeout: the auth reply must arrive within this many seconds of ``now``.
        heartbeat_interval: seconds between heartbeats once open (the web client uses 30).
        liveness_timeout: end when no frame at all arrives for this long.
        heartbeat_timeout: end when no heartbeat reply arrives for this long.
        stats: decode counters to add to (kept across sessions by the caller).
    """

    def __init__(
        self,
        room_id: int,
        auth: bytes,
        now: float,
        *,
        auth_timeout: float = 10.0,
        heartbeat_interval: float = 30.0,
        liveness_timeout: float = 40.0,
        heartbeat_timeout: float = 70.0,
        stats: DecodeStats | None = None,
    ) -> None:
        self.room_id = room_id
        self.auth_timeout = auth_timeout
        self.heartbeat_interval = heartbeat_interval
        self.liveness_timeout = liveness_timeout
        self.heartbeat_timeout = heartbeat_timeout
        self.stats = stats if stats is not None else DecodeStats()
        self.state = SessionState.AUTHENTICATING
        #: why the session ended (None while it has not)
        self.ended: ConnectionEnded | None = None
        #: frames received after the auth reply
        self.frames = 0
        #: heartbeats handed out to send, and replies received
        self.heartbeats_sent = 0
        self.heartbeat_replies = 0
        #: the last undecodable frame's error, for the caller to count or log (cleared by the caller)
        self.decode_errors: list[ProtocolError] = []
        self._outgoing: list[bytes] = [encode_packet(OP_AUTH, auth)]
        self._auth_deadline = now + auth_timeout
        self._last_frame = self._last_reply = now
        self._next_heartbeat = now

    # ---- what the caller asks -------------------------------------------------------------------

    def data_to_send(self) -> list[bytes]:
        """The packets to write to the socket now, in order (AUTH first, then heartbeats); empties the queue."""
        out, self._outgoing = self._outgoing, []
        return out

    def next_deadline(self) -> float:
        """The latest time the caller must call :meth:`tick` (or feed a frame); ``inf`` once ended."""
        if self.state is SessionState.ENDED:
            return float("inf")
        if self.state is SessionState.AUTHENTICATING:
            return self._auth_deadline
        return min(self._next_heartbeat, self._last_frame + self.liveness_timeout,
                   self._last_reply + self.heartbeat_timeout)

    # ---- what the caller tells -------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Time passed: queue a due heartbeat, or end the session on an overdue reply or frame."""
        if self.state is SessionState.AUTHENTICATING:
            if now >= self._auth_deadline:
                self._end(AuthFailed(f"no auth reply within {self.auth_timeout:g} s"))
            return
        if self.state is SessionState.ENDED:
            return
        if now >= self._last_frame + self.liveness_timeout:
            self._end(LivenessTimeout(f"no frame for {self.liveness_timeout:g} s"))
        elif now >= self._last_reply + self.heartbeat_timeout:
            self._end(HeartbeatTimeout(f"no heartbeat reply for {self.heartbeat_timeout:g} s"))
        elif now >= self._next_heartbeat:
            self._outgoing.append(_HEARTBEAT_PACKET)
            self.heartbeats_sent += 1
            self._next_heartbeat = now + self.heartbeat_interval

    def receive_frame(self, frame: bytes | str, now: float) -> list[Event]:
        """One WebSocket message arrived at ``now``; returns the events it carries (none before auth).

        An undecodable frame after auth is skipped and its error appended to :attr:`decode_errors`;
        before auth it ends the session with :class:`AuthFailed`.
        """
        if self.state is SessionState.ENDED:
            return []
        if self.state is SessionState.AUTHENTICATING:
            self._check_auth(frame, now)
            return []
        self._last_frame = now
        self.frames += 1
        if isinstance(frame, str):
            self.decode_errors.append(ProtocolError("text frame"))
            return []
        try:
            events = decode_events(frame, self.room_id, self.stats)
        except ProtocolError as e:
            self.decode_errors.append(e)
            return []
        for ev in events:
            if ev.kind == "popularity":
                self._last_reply = now
                self.heartbeat_replies += 1
        self.tick(now)
        return events

    def downstream_blocked(self, seconds: float) -> None:
        """The caller spent ``seconds`` handing events on: that silence is not the server's."""
        self._last_frame += seconds
        self._last_reply += seconds

    def connection_lost(self, reason: str) -> None:
        """The socket closed (``reason`` says how); the session ends with :class:`Closed` or :class:`AuthFailed`."""
        if self.state is SessionState.AUTHENTICATING:
            self._end(AuthFailed(f"closed before the auth reply ({reason})"))
        elif self.state is SessionState.OPEN:
            self._end(Closed(f"connection closed ({reason})"))

    # ---- inside ----------------------------------------------------------------------------------

    def _check_auth(self, frame: bytes | str, now: float) -> None:
        if isinstance(frame, str):
            self._end(AuthFailed("the server sent a text frame instead of the auth reply"))
            return
        try:
            packets = decode_frame(frame)
        except ProtocolError as e:
            self._end(AuthFailed(f"undecodable auth reply: {e}"))
            return
        for p in packets:
            if p.op != OP_AUTH_REPLY:
                continue
            try:
                code = parse_auth_reply(p)
            except ProtocolError as e:
                self._end(AuthFailed(f"bad auth reply: {e}"))
                return
            if code != 0:
                self._end(AuthFailed(f"auth refused with code {code}", code))
                return
            self.state = SessionState.OPEN
            self._last_frame = self._last_reply = now
            self.tick(now)  # the first heartbeat goes out at once, as the web client's does
            return
        self._end(AuthFailed("the first frame was not an auth reply"))

    def _end(self, reason: ConnectionEnded) -> None:
        self.state = SessionState.ENDED
        self.ended = reason
        self._outgoing.clear()
