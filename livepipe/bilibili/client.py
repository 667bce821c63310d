"""The thin WebSocket I/O for one live room: a socket around a :class:`~livepipe.bilibili.session.DanmakuSession`.

One :meth:`DanmakuClient.run` call is one connection attempt. It connects, then only moves bytes and
time: frames go into the sans-I/O session, what the session queues (AUTH, heartbeats) goes out, and
the session is ticked at its deadlines on the client's :class:`~livepipe.clock.Clock`. The attempt
always ends by raising the :class:`ConnectionEnded` subclass that says why (:class:`AuthFailed`,
:class:`LivenessTimeout`, :class:`HeartbeatTimeout`, :class:`ConnectFailed`, :class:`Closed`; these
are defined with the session and re-exported here). Reconnect policy (backoff, host rotation, fresh
tokens) lives in :mod:`livepipe.bilibili.source`, not here.

Decoding (brotli + JSON + parse) runs on the event loop: measured with ``bench/decode.py`` it
costs tens of microseconds per message, far less than a thread hop, so nothing is moved off-loop.

Reading: with a ``push`` callback (what ``bilibili.danmaku`` passes: its rooms' shared
:class:`~livepipe.bilibili.funnel.Funnel`), each frame is read and fed to the session inside the
socket's protocol callback (:class:`~livepipe.bilibili.frames.FrameConnection`) and its events are
pushed on from there: no websockets frame parser, no ``recv()`` and no task wake-up per frame,
which with 1,000 quiet rooms (a frame per event) was much of the extra cost per event (issue 20,
``bench/rooms.py``). A push that finds the hand-over full pauses the socket's reading until there
is room. Without ``push``, a task reads frames with ``recv()`` and awaits ``on_events`` for each.
"""

from __future__ import annotations

import inspect
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.abc
import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidProxy, InvalidURI, ProxyError

from livepipe.bilibili import DecodeStats, ProtocolError
from livepipe.bilibili.frames import FrameConnection
from livepipe.bilibili.session import (
    AuthFailed,
    Closed,
    ConnectFailed,
    ConnectionEnded,
    DanmakuSession,
    HeartbeatTimeout,
    LivenessTimeout,
    SessionState,
)
from livepipe.bilibili.transport import proxy_label, scrub
from livepipe.clock import Clock
from livepipe.events import Event
from livepipe.runtime.metrics import Counter

log = logging.getLogger("livepipe.bilibili.client")
# websockets logs every frame's bytes at DEBUG, the AUTH token included; keep that out of logs.
logging.getLogger("websockets.client").setLevel(logging.INFO)

def ws_url(base_url: str, host: dict[str, Any]) -> str:
    """The ``/sub`` URL for one ``host_list`` entry: wss + ``wss_port`` for an https base, else ws + ``ws_port``."""
    secure = urlsplit(base_url).scheme in ("https", "wss")
    name = str(host.get("host") or "")
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    port = host.get("wss_port" if secure else "ws_port") or host.get("port")
    scheme = "wss" if secure else "ws"
    return f"{scheme}://{name}:{int(port)}/sub" if port else f"{scheme}://{name}/sub"


def auth_body(uid: int, room_id: int, key: str, buvid: str) -> bytes:
    """The AUTH (op 7) JSON body, keys in the web client's order.

    Copied to a bytes object of its own size: orjson's result keeps the buffer it grew (4 KB for
    these 300 bytes, tracemalloc), and every connected room holds its AUTH body.
    """
    body = orjson.dumps({"uid": uid, "roomid": room_id, "protover": 3, "platform": "web", "type": 2,
                         "buvid": buvid, "key": key})  # fmt: skip
    return bytes(memoryview(body))


#: Frames read ahead per connection (websockets' ``max_queue``; its default): see :meth:`DanmakuClient.run`.
MAX_QUEUE = 16

#: ``push(events, resume)``: hand ``events`` on without waiting; True = full, stop reading until ``resume()``.
Push = Callable[[list[Event], Callable[[], None]], bool]


@dataclass
class ConnectionStats:
    """Counters of one room's connections (kept across reconnects).

    ``frames``, ``bytes``, ``decode_errors``, ``bad_json`` and ``bad_message`` are counter objects
    with ``inc`` (the source passes its metrics counters, which several rooms may share); the rest
    are plain numbers of this room. ``bad_json`` / ``bad_message`` count the op-5 bodies of
    well-framed frames that were not JSON / not a JSON object (skipped; the frame's other messages
    are kept), mirroring ``decode.bad_json`` / ``decode.bad_message``.
    """

    frames: Counter = field(default_factory=Counter)
    bytes: Counter = field(default_factory=Counter)
    decode_errors: Counter = field(default_factory=Counter)
    bad_json: Counter = field(default_factory=Counter)
    bad_message: Counter = field(default_factory=Counter)
    heartbeats_sent: int = 0
    heartbeat_replies: int = 0
    #: frames received on the current connection after the auth reply
    session_frames: int = 0
    last_message: float = 0.0  # time.monotonic() of the last frame, 0 before any
    decode: DecodeStats = field(default_factory=DecodeStats)


class DanmakuClient:
    """One room's WebSocket connection attempts (see the module docstring).

    Args:
        room_id: the real room id (sent in AUTH and put on every event).
        on_events: awaited with each non-empty list of decoded events, in arrival order.
        on_authenticated: called (and awaited if it returns an awaitable) once the server accepted AUTH.
        on_decode_error: called with the :class:`ProtocolError` of a frame that failed to decode.
        on_bad_messages: called with ``(bad_json, bad_message)`` counts when a frame carried bodies
            that are not JSON, or not a JSON object (those are skipped, the rest of the frame kept).
        heartbeat_interval: seconds between heartbeats (the web client uses 30).
        liveness_timeout: reconnect when no frame at all arrives for this long.
        heartbeat_timeout: reconnect when no heartbeat reply arrives for this long.
        connect_timeout: limit for opening the socket plus the auth reply.
        ssl_context: TLS settings for ``wss://`` (None = the system's default verification).
        user_agent: sent on the upgrade request (the same UA as the HTTP API).
        headers: extra headers of the upgrade request.
        proxy: ``http(s)://`` or ``socks5(h)://`` proxy URL (may carry credentials; errors show
            only :func:`~livepipe.bilibili.transport.proxy_label`), or None for a direct connection.
        stats: the room's counters, kept across connection attempts.
        clock: where time comes from (heartbeat and timeout deadlines); the real clock by default.
        push: hand each frame's events on from the socket's protocol callback instead of awaiting
            ``on_events`` (see the module docstring): called with the events and a ``resume``
            callback; returns True when the receiver is full, and the socket then reads nothing
            until ``resume()``.
    """

    def __init__(
        self,
        room_id: int,
        on_events: Callable[[list[Event]], Awaitable[None]],
        *,
        on_authenticated: Callable[[], Any] | None = None,
        on_decode_error: Callable[[ProtocolError], None] | None = None,
        on_bad_messages: Callable[[int, int], None] | None = None,
        heartbeat_interval: float = 30.0,
        liveness_timeout: float = 40.0,
        heartbeat_timeout: float = 70.0,
        connect_timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str | None = None,
        headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
        stats: ConnectionStats | None = None,
        clock: Clock | None = None,
        push: Push | None = None,
    ) -> None:
        self.room_id = room_id
        self.on_events = on_events
        self.on_authenticated = on_authenticated
        self.on_decode_error = on_decode_error
        self.on_bad_messages = on_bad_messages
        self.heartbeat_interval = heartbeat_interval
        self.liveness_timeout = liveness_timeout
        self.heartbeat_timeout = heartbeat_timeout
        self.connect_timeout = connect_timeout
        self.ssl_context = ssl_context
        self.user_agent = user_agent
        self.headers = dict(headers or {})
        self.proxy = proxy
        self.stats = stats or ConnectionStats()
        self.clock = clock or Clock()
        self.push = push
        self._heartbeats_counted = 0
        self._replies_counted = 0
        self._wake_at = float("inf")  # the deadline the ticker sleeps toward, and its sleep
        self._nap = anyio.CancelScope()

    async def run(self, url: str, auth: bytes) -> None:
        """Connect to ``url``, authenticate with the ``auth`` body, read until the connection ends.

        Never returns normally: raises a :class:`ConnectionEnded` subclass. Cancellation closes the
        socket (the close handshake is bounded by a short timeout).
        """
        # max_queue: frames websockets reads ahead per connection before it leaves the rest in the
        # kernel's socket buffer (TCP pushes back on the server). With 1,000 rooms that read-ahead is
        # 1,000 x max_queue frames in this process whenever the pipeline falls behind for a moment;
        # 64 made RSS climb by tens of MB (tracemalloc: websockets Frame objects, issue 16).
        kwargs: dict[str, Any] = {
            "open_timeout": None, "close_timeout": 2.0, "ping_interval": None, "compression": None,
            "max_size": 8 * 1024 * 1024, "max_queue": MAX_QUEUE, "proxy": self.proxy,
            "additional_headers": {"Origin": "https://live.bilibili.com", **self.headers},
            "create_connection": FrameConnection,
        }  # fmt: skip
        if self.user_agent:
            kwargs["user_agent_header"] = self.user_agent
        if url.startswith("wss://"):
            kwargs["ssl"] = self.ssl_context if self.ssl_context is not None else True
        started = self.clock.monotonic()
        try:
            with anyio.fail_after(self.connect_timeout):
                ws = await connect(url, **kwargs)
        except TimeoutError:
            raise ConnectFailed(f"could not connect within {self.connect_timeout:g} s") from None
        except (OSError, InvalidHandshake, InvalidURI, InvalidProxy, ProxyError, ssl.SSLError) as e:
            via = f" through the proxy {proxy_label(self.proxy)}" if self.proxy else ""
            raise ConnectFailed(f"{type(e).__name__}{via}: {scrub(str(e), self.proxy)}") from None
        now = self.clock.monotonic()
        session = DanmakuSession(
            self.room_id, auth, started, auth_timeout=self.connect_timeout,
            heartbeat_interval=self.heartbeat_interval, liveness_timeout=self.liveness_timeout,
            heartbeat_timeout=self.heartbeat_timeout, stats=self.stats.decode,
        )  # fmt: skip
        self.stats.last_message = now
        self.stats.session_frames = 0  # this attempt's own count: a refused AUTH must not look like a session
        self._heartbeats_counted = 0
        self._replies_counted = 0
        try:
            async with anyio.create_task_group() as tg:
                if self.push is not None:
                    _Inline(self, ws, session, tg).install()
                tg.start_soon(self._keep_time, ws, session, tg.cancel_scope)
                await self._read(ws, session)
                tg.cancel_scope.cancel()
        finally:
            if isinstance(ws, FrameConnection):
                ws.on_frame = None
            await _close(ws)
        raise session.ended if session.ended is not None else Closed("connection ended")

    async def _send(self, ws: Any, session: DanmakuSession) -> None:
        """Write what the session has queued; a closed socket ends the session."""
        for data in session.data_to_send():
            try:
                await ws.send(data)
            except ConnectionClosed as e:
                session.connection_lost(_close_text(e))
                return
        self.stats.heartbeats_sent += session.heartbeats_sent - self._heartbeats_counted
        self._heartbeats_counted = session.heartbeats_sent

    async def _keep_time(self, ws: Any, session: DanmakuSession, scope: anyio.CancelScope) -> None:
        """Tick the session at its deadlines (heartbeats, timeouts); end the connection when it ends."""
        await self._send(ws, session)  # AUTH
        while session.ended is None:
            self._wake_at = session.next_deadline()
            with anyio.CancelScope() as self._nap:
                await self.clock.sleep(max(0.0, self._wake_at - self.clock.monotonic()))
            session.tick(self.clock.monotonic())
            await self._send(ws, session)
        scope.cancel()

    def _feed(self, session: DanmakuSession, frame: bytes | str) -> list[Event]:
        """One frame into the session, with the counters and the callbacks for bad bodies and frames."""
        st = self.stats
        now = self.clock.monotonic()
        st.last_message = now
        st.frames.inc()
        if not isinstance(frame, str):
            st.bytes.inc(len(frame))
        decoded = st.decode
        bad_json, bad_message = decoded.bad_json, decoded.bad_message
        events = session.receive_frame(frame, now)
        if decoded.bad_json != bad_json or decoded.bad_message != bad_message:
            st.bad_json.inc(decoded.bad_json - bad_json)
            st.bad_message.inc(decoded.bad_message - bad_message)
            if self.on_bad_messages is not None:
                self.on_bad_messages(decoded.bad_json - bad_json, decoded.bad_message - bad_message)
        if session.decode_errors:
            for error in session.decode_errors:
                st.decode_errors.inc()
                if self.on_decode_error is not None:
                    self.on_decode_error(error)
            session.decode_errors.clear()
        # (after the auth reply a frame only moves the session's deadlines later: the ticker, which
        # sleeps toward the earliest one it saw, wakes early at worst and sleeps again)
        if session.heartbeat_replies != self._replies_counted:
            st.heartbeat_replies += session.heartbeat_replies - self._replies_counted
            self._replies_counted = session.heartbeat_replies
        return events

    async def _authenticated(self, ws: Any, session: DanmakuSession) -> None:
        """The auth reply was accepted: the first heartbeat at once, then ``on_authenticated``."""
        if session.next_deadline() < self._wake_at:  # the first heartbeat is due: wake the ticker now
            self._nap.cancel()
        await self._send(ws, session)  # the first heartbeat, at once
        if self.on_authenticated is not None:
            result = self.on_authenticated()
            if inspect.isawaitable(result):
                await result

    async def _read(self, ws: Any, session: DanmakuSession) -> None:
        """Feed every frame ``recv()`` returns to the session and hand its events on, until the session ends.

        With ``push`` (see :class:`_Inline`) frames arrive in the protocol callback instead, and
        ``recv()`` returns only what websockets queued (a fragmented message and what followed it)
        and raises when the connection closes.
        """
        inline = ws.on_frame if isinstance(ws, FrameConnection) else None
        authenticated = False
        while session.ended is None:
            try:
                frame = await ws.recv(decode=False)
            except ConnectionClosed as e:
                session.connection_lost(_close_text(e))
                return
            if inline is not None:
                ws.queued -= 1
                inline(frame)
                continue
            events = self._feed(session, frame)
            if not authenticated:
                if session.state is not SessionState.OPEN:
                    return  # the auth reply was refused: session.ended says why
                authenticated = True
                await self._authenticated(ws, session)
                continue
            self.stats.session_frames += 1
            if events:
                t0 = self.clock.monotonic()
                await self.on_events(events)
                blocked = self.clock.monotonic() - t0
                if blocked > 1.0:  # time spent downstream is not the server's silence
                    session.downstream_blocked(blocked)


class _Inline:
    """A connection's frames handled in websockets' protocol callback, their events pushed on at once.

    The auth reply starts :meth:`DanmakuClient._authenticated` in a task; the events of frames that
    arrive meanwhile are held and pushed after it, so they follow the ``on_authenticated`` events as
    before. When ``push`` reports the receiver full, the socket stops reading until its ``resume``
    callback; that time is handed to the session as the pipeline's, not the server's silence.
    """

    def __init__(self, client: DanmakuClient, ws: FrameConnection, session: DanmakuSession,
                 tg: anyio.abc.TaskGroup) -> None:  # fmt: skip
        self.client, self.ws, self.session, self.tg = client, ws, session, tg
        self.push: Push = client.push  # type: ignore[assignment]
        self.held: list[Event] | None = None  # while on_authenticated runs
        self.paused_at: float | None = None

    def install(self) -> None:
        """Route the connection's frames here (frames websockets queued before this go through ``recv()``)."""
        self.ws.on_frame = self.frame
        self.ws.read_frames()

    def frame(self, frame: bytes) -> None:
        """One complete frame, in the protocol callback."""
        session, client = self.session, self.client
        if session.ended is not None:
            return
        authenticating = session.state is SessionState.AUTHENTICATING
        events = client._feed(session, frame)
        if authenticating:
            if session.state is not SessionState.OPEN:
                self.tg.cancel_scope.cancel()  # the auth reply was refused: session.ended says why
                return
            self.held = []
            self.tg.start_soon(self._authenticate)
            return
        client.stats.session_frames += 1
        if events:
            if self.held is not None:
                self.held.extend(events)
            elif self.push(events, self.resume):
                self.pause()
        if session.ended is not None:  # (a frame can end the session: a deadline passed meanwhile)
            self.tg.cancel_scope.cancel()

    async def _authenticate(self) -> None:
        try:
            await self.client._authenticated(self.ws, self.session)
        finally:
            held, self.held = self.held, None
            if held and self.push(held, self.resume):
                self.pause()

    def pause(self) -> None:
        """The receiver is full: read nothing more until :meth:`resume`."""
        transport = self.ws.transport
        if self.paused_at is None and not transport.is_closing():
            transport.pause_reading()
            self.paused_at = self.client.clock.monotonic()

    def resume(self) -> None:
        """The receiver has room again: read on (the pause was the pipeline's time, not the server's)."""
        if self.paused_at is None:
            return
        blocked = self.client.clock.monotonic() - self.paused_at
        self.paused_at = None
        if blocked > 1.0:
            self.session.downstream_blocked(blocked)
        transport = self.ws.transport
        if not transport.is_closing():
            transport.resume_reading()


def _close_text(e: ConnectionClosed) -> str:
    rcvd = e.rcvd
    if rcvd is None:
        return "no close frame"
    return f"code {rcvd.code}" + (f" {rcvd.reason}" if rcvd.reason else "")


async def _close(ws: Any) -> None:
    """Close ``ws`` quickly, also when the caller is being cancelled."""
    with anyio.CancelScope(shield=True), anyio.move_on_after(3):
        try:
            await ws.close()
        except Exception:  # noqa: BLE001 - closing a broken socket may fail in many ways
            pass
    transport = getattr(ws, "transport", None)
    if transport is not None and not transport.is_closing():
        transport.abort()


__all__ = [
    "AuthFailed",
    "Closed",
    "ConnectFailed",
    "ConnectionEnded",
    "ConnectionStats",
    "DanmakuClient",
    "HeartbeatTimeout",
    "LivenessTimeout",
    "auth_body",
    "ws_url",
]
