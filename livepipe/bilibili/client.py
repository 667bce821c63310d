"""The thin WebSocket I/O for one live room: connect, AUTH, heartbeats, liveness, decode.

One :meth:`DanmakuClient.run` call is one connection attempt. It connects, sends AUTH at once,
checks the auth reply, then reads frames until the connection ends, and always ends by raising a
:class:`ConnectionEnded` subclass that says why (:class:`AuthFailed`, :class:`LivenessTimeout`,
:class:`HeartbeatTimeout`, :class:`ConnectFailed`, :class:`Closed`). Reconnect policy (backoff,
host rotation, fresh tokens) lives in :mod:`livepipe.bilibili.source`, not here.

Decoding (brotli + JSON + parse) runs on the event loop: measured with ``bench/decode.py`` it
costs tens of microseconds per message, far less than a thread hop, so nothing is moved off-loop.
"""

from __future__ import annotations

import inspect
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from livepipe.bilibili import DecodeStats, ProtocolError, decode_events, decode_frame, parse_auth_reply
from livepipe.bilibili.protocol import OP_AUTH, OP_AUTH_REPLY, encode_packet, heartbeat
from livepipe.errors import TransportError
from livepipe.events import Event
from livepipe.runtime.metrics import Counter

log = logging.getLogger("livepipe.bilibili.client")
# websockets logs every frame's bytes at DEBUG, the AUTH token included; keep that out of logs.
logging.getLogger("websockets.client").setLevel(logging.INFO)

#: The body the web page sends with each heartbeat.
HEARTBEAT_BODY = b"[object Object]"


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
    """The AUTH (op 7) JSON body, keys in the web client's order."""
    return orjson.dumps({"uid": uid, "roomid": room_id, "protover": 3, "platform": "web", "type": 2,
                         "buvid": buvid, "key": key})  # fmt: skip


#: Frames read ahead per connection (websockets' ``max_queue``; its default): see :meth:`DanmakuClient.run`.
MAX_QUEUE = 16

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
        stats: ConnectionStats | None = None,
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
        self.stats = stats or ConnectionStats()

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
            "max_size": 8 * 1024 * 1024, "max_queue": MAX_QUEUE, "proxy": None,
            "additional_headers": {"Origin": "https://live.bilibili.com"},
        }  # fmt: skip
        if self.user_agent:
            kwargs["user_agent_header"] = self.user_agent
        if url.startswith("wss://"):
            kwargs["ssl"] = self.ssl_context if self.ssl_context is not None else True
        ws = None
        try:
            with anyio.fail_after(self.connect_timeout):
                ws = await connect(url, **kwargs)
                await ws.send(encode_packet(OP_AUTH, auth))
                first = await ws.recv(decode=False)
        except TimeoutError:
            if ws is not None:
                await _close(ws)
                raise AuthFailed(f"no auth reply within {self.connect_timeout:g} s") from None
            raise ConnectFailed(f"could not connect within {self.connect_timeout:g} s") from None
        except ConnectionClosed as e:
            raise AuthFailed(f"closed before the auth reply ({_close_text(e)})") from None
        except (OSError, InvalidHandshake, InvalidURI, ssl.SSLError) as e:
            raise ConnectFailed(f"{type(e).__name__}: {e}") from None
        assert ws is not None
        try:
            self._check_auth(first)
            self.stats.session_frames = 0
            if self.on_authenticated is not None:
                result = self.on_authenticated()
                if inspect.isawaitable(result):
                    await result
            await self._session(ws, first)
        finally:
            await _close(ws)

    def _check_auth(self, frame: bytes | str) -> None:
        if isinstance(frame, str):
            raise AuthFailed("the server sent a text frame instead of the auth reply")
        try:
            packets = decode_frame(frame)
        except ProtocolError as e:
            raise AuthFailed(f"undecodable auth reply: {e}") from None
        for p in packets:
            if p.op == OP_AUTH_REPLY:
                try:
                    code = parse_auth_reply(p)
                except ProtocolError as e:
                    raise AuthFailed(f"bad auth reply: {e}") from None
                if code != 0:
                    raise AuthFailed(f"auth refused with code {code}", code)
                return
        raise AuthFailed("the first frame was not an auth reply")

    async def _session(self, ws: Any, first: bytes) -> None:
        st = self.stats
        st.last_message = time.monotonic()
        st.frames.inc()
        st.bytes.inc(len(first))
        ended: ConnectionEnded | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._heartbeats, ws)
            try:
                await self._read(ws)
            except ConnectionEnded as e:
                ended = e
            finally:
                tg.cancel_scope.cancel()
        raise ended if ended is not None else Closed("connection ended")

    async def _read(self, ws: Any) -> None:
        st = self.stats
        decoded = st.decode
        last_frame = last_reply = time.monotonic()
        try:
            while True:
                deadline = min(last_frame + self.liveness_timeout, last_reply + self.heartbeat_timeout)
                wait = deadline - time.monotonic()
                frame = None
                if wait > 0:
                    with anyio.move_on_after(wait):
                        frame = await ws.recv(decode=False)
                now = time.monotonic()
                if frame is None:
                    if now >= last_frame + self.liveness_timeout:
                        raise LivenessTimeout(f"no frame for {self.liveness_timeout:g} s")
                    raise HeartbeatTimeout(f"no heartbeat reply for {self.heartbeat_timeout:g} s")
                last_frame = now
                st.last_message = now
                st.session_frames += 1
                st.frames.inc()
                if isinstance(frame, str):
                    st.decode_errors.inc()
                    if self.on_decode_error is not None:
                        self.on_decode_error(ProtocolError("text frame"))
                    continue
                st.bytes.inc(len(frame))
                bad_json, bad_message = decoded.bad_json, decoded.bad_message
                try:
                    events = decode_events(frame, self.room_id, decoded)
                except ProtocolError as e:
                    st.decode_errors.inc()
                    if self.on_decode_error is not None:
                        self.on_decode_error(e)
                    continue
                if decoded.bad_json != bad_json or decoded.bad_message != bad_message:
                    st.bad_json.inc(decoded.bad_json - bad_json)
                    st.bad_message.inc(decoded.bad_message - bad_message)
                    if self.on_bad_messages is not None:
                        self.on_bad_messages(decoded.bad_json - bad_json, decoded.bad_message - bad_message)
                if not events:
                    continue
                for ev in events:
                    if ev.kind == "popularity":
                        last_reply = now
                        st.heartbeat_replies += 1
                if now >= last_reply + self.heartbeat_timeout:
                    raise HeartbeatTimeout(f"no heartbeat reply for {self.heartbeat_timeout:g} s")
                t0 = time.monotonic()
                await self.on_events(events)
                blocked = time.monotonic() - t0
                if blocked > 1.0:  # time spent downstream is not the server's silence
                    last_frame += blocked
                    last_reply += blocked
        except ConnectionClosed as e:
            raise Closed(f"connection closed ({_close_text(e)})") from None

    async def _heartbeats(self, ws: Any) -> None:
        packet = heartbeat(HEARTBEAT_BODY)
        while True:
            try:
                await ws.send(packet)
            except ConnectionClosed:
                return
            self.stats.heartbeats_sent += 1
            await anyio.sleep(self.heartbeat_interval)


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
