"""The simulator's WebSocket side: ``/sub``, auth, heartbeats, batching, masking, faults.

One :class:`Hub` serves every room. Each :class:`~livepipe.sim.state.Room` gets a listener that
queues broadcast messages; a flush loop turns each room's queue into brotli (ver 3) frames of
many ver-0 op-5 packets (zlib ver 2 for clients that asked for ``protover`` 2) and hands them to
every client's bounded send queue. One writer task per client does the socket I/O, so a slow
client never blocks the others (it is dropped when its queue overflows).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import brotli
from aiohttp import WSMsgType, web

from livepipe.bilibili import protocol as P
from livepipe.sim import messages as M
from livepipe.sim.faults import Faults
from livepipe.sim.state import Room, SimState, encode_json

log = logging.getLogger("livepipe.sim.ws")

#: a frame whose header claims more bytes than the frame has (decoders must reject it)
MALFORMED_FRAME = P.HEADER.pack(1000, 16, 3, P.OP_COMMAND, 0) + b"\x00" * 8
#: op-5 bodies a well-framed frame may still carry that are not JSON objects: counted and skipped
#: by a client, which keeps the frame's other messages (the ``bad_json_once`` fault)
BAD_JSON_BODIES: tuple[bytes, ...] = (b'{"cmd": "DANMU_MSG", "info": [', b'{"cmd": "\xff\xfe"}', b"[1, 2]", b"nul")
_CLOSE = object()


@dataclass(eq=False)
class Client:
    """One authenticated WebSocket connection."""

    id: int
    ws: web.WebSocketResponse
    room_id: int
    uid: int
    protover: int
    peer: str
    connected_at: float = field(default_factory=time.time)
    last_heartbeat: float = field(default_factory=time.monotonic)
    heartbeats: int = 0
    frames_sent: int = 0
    dropped: bool = False
    queue: asyncio.Queue[Any] = field(default_factory=lambda: asyncio.Queue(maxsize=2000))

    @property
    def anonymous(self) -> bool:
        """Guests (uid 0) see masked users."""
        return self.uid == 0

    def info(self) -> dict[str, Any]:
        """JSON-ready description for the control API."""
        return {
            "id": self.id,
            "room_id": self.room_id,
            "uid": self.uid,
            "anonymous": self.anonymous,
            "protover": self.protover,
            "peer": self.peer,
            "connected_at": self.connected_at,
            "heartbeats": self.heartbeats,
            "frames_sent": self.frames_sent,
        }

    def send(self, frame: bytes, messages: int = 0) -> bool:
        """Queue ``frame`` (carrying ``messages`` commands); False (and the client is closed) if the queue is full."""
        try:
            self.queue.put_nowait((frame, messages))
            return True
        except asyncio.QueueFull:
            self.dropped = True
            self.close_soon()
            return False

    def close_soon(self) -> None:
        """Ask the writer task to close the connection."""
        try:
            self.queue.put_nowait(_CLOSE)
        except asyncio.QueueFull:
            # drain one item to make room for the close marker
            try:
                self.queue.get_nowait()
                self.queue.put_nowait(_CLOSE)
            except (asyncio.QueueEmpty, asyncio.QueueFull):
                pass


_HEADER_PACK = P.HEADER.pack


def encode_message(msg: dict[str, Any]) -> bytes:
    """One cmd message as a ver-0 op-5 packet (compact JSON, non-ASCII kept as UTF-8)."""
    return packet_for(encode_json(msg))


def packet_for(body: bytes) -> bytes:
    """A message's JSON bytes as a ver-0 op-5 packet."""
    return _HEADER_PACK(P.HEADER_LEN + len(body), P.HEADER_LEN, P.VER_PLAIN_JSON, P.OP_COMMAND, 0) + body


def wrap_packets(inner: bytes, ver: int) -> bytes:
    """Already-encoded packets as one ver-``ver`` op-5 frame (0 = no wrapping: the packets as they are)."""
    if ver == P.VER_PLAIN_JSON:
        return inner
    # brotli quality 1: about 3x cheaper than protocol.encode_compressed's 4 and a few percent
    # larger on these small batches; every quality decodes the same way
    body = brotli.compress(inner, quality=1) if ver == P.VER_BROTLI else zlib.compress(inner, 1)
    return _HEADER_PACK(P.HEADER_LEN + len(body), P.HEADER_LEN, ver, P.OP_COMMAND, 0) + body


def encode_batch(msgs: list[dict[str, Any]], ver: int) -> bytes:
    """Encode cmd messages as ver-0 op-5 packets inside one ver-``ver`` frame (0 = no wrapping)."""
    return wrap_packets(b"".join(map(encode_message, msgs)), ver)


class Hub:
    """Connections of every room, the batching flush loop and the fault ticker."""

    def __init__(
        self,
        state: SimState,
        faults: Faults,
        tokens: dict[str, tuple[int, int]],
        *,
        batch_interval: float = 0.05,
        batch_max: int = 40,
        popularity: Callable[[Room], int] | None = None,
        allow_keyless: bool = False,
        stop_list_every: float = 30.0,
    ) -> None:
        self.state = state
        self.faults = faults
        self.tokens = tokens
        self.batch_interval = batch_interval
        self.batch_max = batch_max
        self.popularity = popularity or (lambda room: 1)
        self.allow_keyless = allow_keyless
        self.stop_list_every = stop_list_every
        self.clients: dict[int, set[Client]] = {}
        #: other hubs (the open platform's) whose clients also get this hub's one-off malformed frame
        self.fault_peers: list[Hub] = []
        #: room id -> [(message, its JSON bytes)] waiting for the next flush
        self.pending: dict[int, list[tuple[dict[str, Any], bytes]]] = {}
        self._ids = itertools.count(1)
        self._listeners: dict[int, Callable[[dict[str, Any]], None]] = {}
        #: set whenever a client connects or disconnects (tests wait on it through helpers)
        self.changed = asyncio.Event()
        self.frames_sent = 0
        self.messages_sent = 0
        self.frames_written = 0
        self.messages_written = 0
        self.clients_dropped = 0
        self.flushes = 0
        self.flush_lag_total = 0.0
        self.flush_lag_max = 0.0

    def stats(self, reset_max: bool = False) -> dict[str, Any]:
        """Counters: frames/messages queued and written to sockets, slow clients dropped, flush lag.

        ``flush_lag_max_ms`` is the worst lag since the last reading with ``reset_max``.
        """
        out = {
            "frames_queued": self.frames_sent,
            "messages_queued": self.messages_sent,
            "frames_written": self.frames_written,
            "messages_written": self.messages_written,
            "clients_dropped": self.clients_dropped,
            "flushes": self.flushes,
            "flush_lag_total_ms": self.flush_lag_total * 1000,
            "flush_lag_max_ms": self.flush_lag_max * 1000,
        }
        if reset_max:
            self.flush_lag_max = 0.0
        return out

    # --- room wiring ---------------------------------------------------------------------------

    def attach(self, room: Room) -> None:
        """Register this hub as a listener of ``room`` (idempotent)."""
        if room.room_id in self._listeners:
            return
        rid = room.room_id

        def listener(message: dict[str, Any]) -> None:
            if self.clients.get(rid):
                item = self._pending_item(room, message)
                if item is not None:
                    self.pending.setdefault(rid, []).append(item)

        self._listeners[rid] = listener
        room.listeners.append(listener)

    def _pending_item(self, room: Room, message: dict[str, Any]) -> tuple[dict[str, Any], bytes] | None:
        """What a broadcast queues for this hub's clients: the message and its JSON bytes (None: nothing)."""
        last, raw = room.last_encoded
        return message, raw if last is message else encode_json(message)

    def detach_all(self) -> None:
        """Remove this hub's listeners from every room."""
        for rid, fn in self._listeners.items():
            room = self.state.rooms.get(rid)
            if room is not None and fn in room.listeners:
                room.listeners.remove(fn)
        self._listeners.clear()

    def all_clients(self) -> list[Client]:
        """Every connected client."""
        return [c for cs in self.clients.values() for c in cs]

    # --- sending -------------------------------------------------------------------------------

    def _send_private(self, room_id: int, message: dict[str, Any], uid: int) -> None:
        for c in list(self.clients.get(room_id, ())):
            if uid > 0 and c.uid == uid:
                c.send(encode_batch([message], P.VER_ZLIB if c.protover == 2 else P.VER_BROTLI), 1)

    def send_now(self, room_id: int, msgs: list[dict[str, Any]], ver: int = P.VER_BROTLI) -> int:
        """Send ``msgs`` at once to the room's clients as one frame of wrapping ``ver`` (0, 2 or 3).

        Masked copies go to anonymous clients. Returns how many clients got it.
        """
        private = [m for m in msgs if M.private_to(m) is not None]
        if private:
            for m in private:
                self._send_private(room_id, m, M.private_to(m) or 0)
            msgs = [m for m in msgs if M.private_to(m) is None]
            if not msgs:
                return len(self.clients.get(room_id, ()))
        cache: dict[bool, bytes] = {}
        n = 0
        for c in list(self.clients.get(room_id, ())):
            masked = c.anonymous
            if masked not in cache:
                cache[masked] = encode_batch([M.mask(m) for m in msgs] if masked else msgs, ver)
            if c.send(cache[masked], len(msgs)):
                n += 1
        return n

    def flush(self) -> None:
        """Turn every room's pending messages into frames and queue them to its clients.

        Each message is encoded once (plus once masked, when the room has anonymous clients and the
        cmd is one that masking changes); each batch is compressed once per (masked, wrapping)
        variant, and the same bytes go to every client of that variant.
        """
        pending, self.pending = self.pending, {}
        for rid, msgs in pending.items():
            clients = self.clients.get(rid)
            if not clients:
                continue
            run: list[tuple[dict[str, Any], bytes]] = []
            for item in msgs:
                target = M.private_to(item[0])
                if target is None:
                    run.append(item)
                    continue
                # a private note (MESSAGEBOX_*): only that user's connections, in its place in the stream
                if run:
                    self._flush_run(clients, run)
                    run = []
                self._send_private(rid, item[0], target)
            if run:
                self._flush_run(clients, run)

    def _flush_run(self, clients: set[Client], msgs: list[tuple[dict[str, Any], bytes]]) -> None:
        """Queue ``msgs`` (public messages of one room) to ``clients`` as shared frames."""
        batch_max = self.batch_max
        groups: dict[tuple[bool, int], list[Client]] = {}
        for c in clients:
            groups.setdefault((c.anonymous, P.VER_ZLIB if c.protover == 2 else P.VER_BROTLI), []).append(c)
        plain = [packet_for(raw) for _, raw in msgs]
        masked: list[bytes] | None = None
        n_msgs = len(msgs)
        for (anonymous, ver), group in groups.items():
            if anonymous:
                if masked is None:
                    masked = [encode_message(M.mask(m)) if M.needs_mask(m) else b
                              for (m, _), b in zip(msgs, plain, strict=True)]  # fmt: skip
                packets = masked
            else:
                packets = plain
            for i in range(0, n_msgs, batch_max):
                frame = wrap_packets(b"".join(packets[i : i + batch_max]), ver)
                n = min(batch_max, n_msgs - i)
                for c in group:
                    c.send(frame, n)
        self.frames_sent += len(clients) * ((n_msgs + batch_max - 1) // batch_max)
        self.messages_sent += n_msgs * len(clients)

    async def run(self) -> None:
        """Flush loop plus the periodic faults and STOP_LIVE_ROOM_LIST; runs until cancelled."""
        last_close = last_malformed = last_stop = time.monotonic()
        while True:
            t = time.monotonic()
            await asyncio.sleep(self.batch_interval)
            lag = time.monotonic() - t - self.batch_interval
            self.flushes += 1
            self.flush_lag_total += lag
            self.flush_lag_max = max(self.flush_lag_max, lag)
            self.flush()
            now = time.monotonic()
            f = self.faults
            if f.close_every > 0 and now - last_close >= f.close_every:
                last_close = now
                for c in self.all_clients():
                    c.close_soon()
            elif f.close_every <= 0:
                last_close = now
            if self._take_once("malformed_once"):
                for c in self.all_clients() + [c for peer in self.fault_peers for c in peer.all_clients()]:
                    c.send(MALFORMED_FRAME)
            if self._take_once("bad_json_once"):
                for room_id, clients in self.clients.items():
                    good = encode_message(M.stop_live_room_list([room_id]))
                    bad = b"".join(P.encode_packet(P.OP_COMMAND, body) for body in BAD_JSON_BODIES)
                    frame = wrap_packets(bad + good, P.VER_BROTLI)
                    for c in clients:
                        c.send(frame)
            if f.malformed_every > 0 and now - last_malformed >= f.malformed_every:
                last_malformed = now
                for c in self.all_clients():
                    c.send(MALFORMED_FRAME)
            if self.stop_list_every > 0 and now - last_stop >= self.stop_list_every:
                last_stop = now
                offline = [r.room_id for r in self.state.rooms.values() if r.live_status != 1][:60]
                frame = encode_batch([M.stop_live_room_list(offline)], P.VER_PLAIN_JSON)
                for c in self.all_clients():
                    c.send(frame)

    #: Whether this hub takes (and clears) the one-off faults; a hub that shares another's faults does not.
    takes_one_off_faults = True

    def _take_once(self, fault: str) -> bool:
        """True once per request of the one-off ``faults.<fault>`` (which this hub then clears)."""
        if self.takes_one_off_faults and getattr(self.faults, fault):
            setattr(self.faults, fault, False)
            return True
        return False

    # --- the /sub handler ----------------------------------------------------------------------

    async def _writer(self, c: Client) -> None:
        while True:
            item = await c.queue.get()
            if item is _CLOSE:
                await c.ws.close()
                return
            frame, n = item
            try:
                await c.ws.send_bytes(frame)
            except (ConnectionError, RuntimeError):
                return
            c.frames_sent += 1
            self.frames_written += 1
            self.messages_written += n

    def _check_auth(self, body: dict[str, Any]) -> tuple[int, int] | None:
        """(uid, real room id) if the AUTH body is acceptable, else None."""
        if self.faults.fail_auth:
            return None
        try:
            uid = int(body.get("uid", 0) or 0)
            roomid = int(body["roomid"])
        except (KeyError, TypeError, ValueError):
            return None
        if roomid not in self.state.rooms:  # must be the real id
            return None
        key = body.get("key")
        if not key:
            return (0, roomid) if (self.allow_keyless and uid == 0) else None
        issued = self.tokens.get(str(key))
        if issued != (uid, roomid):
            return None
        return uid, roomid

    def _new_client(self, ws: web.WebSocketResponse, body: dict[str, Any], who: tuple[int, int], peer: str) -> Client:
        """The :class:`Client` for an accepted AUTH ``body``; ``who`` is what :meth:`_check_auth` returned."""
        uid, room_id = who
        protover = int(body.get("protover", 3) or 3) if str(body.get("protover", "3")).isdigit() else 3
        return Client(next(self._ids), ws, room_id, uid, protover, peer)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET /sub``: the live danmaku WebSocket."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        peer = request.remote or ""
        try:
            msg = await ws.receive(timeout=self.faults.auth_timeout)
        except asyncio.TimeoutError:
            await ws.close()
            return ws
        if msg.type != WSMsgType.BINARY:
            await ws.close()
            return ws
        try:
            packets = P.decode_frame(msg.data)
            if not packets or packets[0].op != P.OP_AUTH:
                raise P.ProtocolError("first packet is not AUTH")
            body = json.loads(packets[0].body)
            if not isinstance(body, dict):
                raise ValueError("auth body is not an object")
        except (P.ProtocolError, ValueError):
            await ws.close()
            return ws
        who = self._check_auth(body)
        if who is None:
            await ws.send_bytes(P.encode_packet(P.OP_AUTH_REPLY, '{"code":-101}', ver=1, seq=1))
            await ws.close()
            return ws
        c = self._new_client(ws, body, who, peer)
        room_id = c.room_id
        await ws.send_bytes(P.encode_packet(P.OP_AUTH_REPLY, '{"code":0}', ver=1, seq=1))
        if c.anonymous:
            c.send(encode_batch([M.log_in_notice()], P.VER_ZLIB if c.protover == 2 else P.VER_BROTLI))
        self.clients.setdefault(room_id, set()).add(c)
        self.changed.set()
        writer = asyncio.ensure_future(self._writer(c))
        try:
            await self._read_loop(c)
        finally:
            self.clients.get(room_id, set()).discard(c)
            self.changed.set()
            if c.dropped:
                self.clients_dropped += 1
            if not writer.done():
                c.close_soon()
                try:
                    await asyncio.wait_for(writer, 5)
                except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - closing anyway
                    writer.cancel()
            if not ws.closed:
                await ws.close()
        return ws

    async def _read_loop(self, c: Client) -> None:
        room = self.state.rooms[c.room_id]
        while True:
            remaining = c.last_heartbeat + self.faults.idle_timeout - time.monotonic()
            if remaining <= 0:
                log.info("dropping idle client %s of room %s", c.id, c.room_id)
                return
            try:
                msg = await c.ws.receive(timeout=min(remaining, 1.0))
            except asyncio.TimeoutError:
                continue
            if msg.type != WSMsgType.BINARY:
                # TEXT frames are a protocol error; CLOSE/CLOSED/ERROR end the session
                return
            try:
                packets = P.decode_frame(msg.data)
            except P.ProtocolError:
                return
            for p in packets:
                if p.op == P.OP_HEARTBEAT:
                    c.last_heartbeat = time.monotonic()
                    c.heartbeats += 1
                    if not self.faults.no_heartbeat_reply:
                        c.send(P.heartbeat_reply(self.popularity(room), p.body))
