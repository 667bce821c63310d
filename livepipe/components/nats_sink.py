# Stays whole: one component whose config, connection state and JetStream publish/ack/retry handling form one
# state machine; the connection settings it shares with the source are in nats_common.py.
"""The ``nats`` sink: publish every event's JSON form to a NATS subject, core or JetStream.

Subjects come from a template (default ``livepipe.{room_id}.{kind}``). Every message carries the
headers ``Nats-Msg-Id`` (the event id: JetStream de-duplicates on it), ``Livepipe-Kind`` and
``Livepipe-Room`` (absent when the event has no room).

**Core mode** (default). The server confirms what it *read* with PONG replies to PINGs the sink
sends every ``max_in_flight // 4`` events and on each flush (the input ran empty; at most every
0.1 s). Events published but not yet confirmed are kept (at most ``max_in_flight``), and so are
the last ``max_in_flight`` confirmed ones: a server that dies can have read messages without
having delivered them yet. When the connection drops, all of those are published again after the
reconnect (possible duplicates, same ``Nats-Msg-Id``). Events published while disconnected
wait in the client's buffer (``pending_bytes``); when it is full, ``when_full = "block"`` waits for
the reconnect and ``drop_newest`` / ``drop_oldest`` drop the event, counted in
``nats_lost_events_total{reason="buffer_full"}``. Core NATS never tells a publisher whether a
*subscriber* got a message: a subscriber that is disconnected (or reconnects after the publisher)
misses messages and nobody counts them. Use JetStream for that.

**JetStream mode** (``jetstream = true``). Each event is published with a reply inbox and stays
in flight until its PubAck arrives (at most ``max_in_flight`` at once, no round trip per event).
No PubAck within ``ack_timeout``, "no responders" while the server or stream is down, or a publish
refused while disconnected: published again (same ``Nats-Msg-Id``), until acknowledged. The
server drops repeats within the stream's ``duplicate_window``, so the stream holds each event
once. A PubAck error with code 400 (the stream refused the message for good) is counted as
lost (``reason="rejected"``).

In both modes the sink holds a share of the event's delivery (see
:func:`livepipe.runtime.delivery.current`) until the server confirmed it, so an acknowledging
source upstream (``nats`` source in JetStream mode) acknowledges only then.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import string
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import nats.errors
from nats.aio.msg import Msg
from pydantic import field_validator, model_validator

from livepipe.component import Batch, Context, Emit, PermanentFailure, Sink
from livepipe.components.nats_common import NatsConnection, NatsConnectionConfig, describe_error
from livepipe.errors import TransportError
from livepipe.events import Event
from livepipe.lograte import RateLimitedLog
from livepipe.preflight import Problems
from livepipe.runtime.delivery import Delivery, current
from livepipe.schema import SinkConfig, field

SUBJECT_TOKENS = ("room_id", "kind", "cmd")
DEFAULT_SUBJECT = "livepipe.{room_id}.{kind}"
_UNSAFE = re.compile(r"[\s.*>]|[^\x21-\x7e]")
_UNSAFE_KEEP_DOTS = re.compile(r"[\s*>]|[^\x21-\x7e]")

HDR_MSG_ID = "Nats-Msg-Id"
HDR_KIND = "Livepipe-Kind"
HDR_ROOM = "Livepipe-Room"
HDR_EXPECTED_STREAM = "Nats-Expected-Stream"

#: the start of every header block, up to the Nats-Msg-Id value
_HDR_START = f"NATS/1.0\r\n{HDR_MSG_ID}: ".encode()

#: nats-py trims header values and turns CR/LF into spaces (a value can never end the header block)
_VALUE_NEWLINES = str.maketrans({"\r": " ", "\n": " "})


#: JetStream's error code for a stream name taken by a stream of another configuration.
_STREAM_NAME_IN_USE = 10058


def header_block(headers: dict[str, str]) -> bytes:
    """The NATS header block of ``headers``, byte for byte as nats-py's ``publish`` writes it.

    Keys are ours (constants, valid header names); values are trimmed and CR/LF become spaces.
    """
    parts = [b"NATS/1.0\r\n"]
    for k, v in headers.items():
        parts.append(f"{k}: {v.strip().translate(_VALUE_NEWLINES)}\r\n".encode())
    parts.append(b"\r\n")
    return b"".join(parts)


def safe_token(value: str) -> str:
    """One subject token: whitespace, ``.``, ``*``, ``>`` and non-printable characters become ``_``."""
    s = _UNSAFE.sub("_", value)
    return s or "_"


def safe_kind(kind: str) -> str:
    """A kind as subject tokens: its dots stay separators (``action.ban`` -> ``action.ban``), each part safe."""
    parts = [safe_token(p) for p in kind.split(".")]
    return ".".join(parts) if parts else "_"


def template_tokens(template: str) -> set[str]:
    """The tokens a subject template uses; ``ValueError`` for unknown tokens or an invalid subject."""
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        raise ValueError(f"subject template {template!r} is malformed ({e})") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in SUBJECT_TOKENS:
            raise ValueError(f"subject template {template!r} uses unknown token {{{name}}}; known tokens: "
                             + ", ".join("{" + t + "}" for t in SUBJECT_TOKENS))
        if spec or conversion:
            raise ValueError(f"subject template {template!r}: token {{{name}}} takes no format spec or conversion")
        names.add(name)
    sample = template.format(room_id="1", kind="k", cmd="c")
    if _UNSAFE_KEEP_DOTS.search(sample) or sample.startswith(".") or sample.endswith(".") or ".." in sample:
        raise ValueError(f"subject template {template!r} is not a valid NATS subject: no spaces, wildcards "
                         "(`*`, `>`) or empty tokens")
    if sample.startswith("$"):
        raise ValueError(f"subject template {template!r} starts with `$`: subjects like `$JS`, `$SYS` are reserved")
    return names


class NatsSinkConfig(SinkConfig, NatsConnectionConfig):
    """Config of the ``nats`` sink."""

    subject: str = field(
        DEFAULT_SUBJECT,
        description="subject template; tokens `{room_id}` (`none` when absent), `{kind}` (its dots stay "
        "subject separators: `action.ban`), `{cmd}` (`none` when absent). Whitespace, `.`, `*`, `>` inside "
        "`{room_id}`/`{cmd}` and inside each part of `{kind}` become `_`",
    )
    include_raw: bool = field(True, description="keep the original Bilibili message (`raw`) in the payload")
    jetstream: bool = field(False, description="publish to JetStream and wait for PubAcks (at-least-once)")
    max_in_flight: int = field(
        4096,
        description="JetStream: publishes awaiting their PubAck; core: published events the server has not "
        "confirmed yet. The sink blocks when this many are outstanding",
        ge=1,
        le=1_000_000,
    )
    ack_timeout: float = field(
        5.0, description="seconds to wait for a PubAck (JetStream) or a PONG (core) before trying again", gt=0
    )
    pending_bytes: int = field(
        8 * 1024 * 1024,
        description="size of the client's outgoing buffer (bytes); while disconnected, publishes are kept here "
        "until it is full (then `when_full` decides)",
        ge=0,
    )
    stream: str | None = field(
        None,
        description="JetStream: the stream the subjects belong to; messages are published with "
        "`Nats-Expected-Stream` and the stream is created at start when missing (see `create_stream`)",
    )
    create_stream: bool = field(True, description="JetStream: create `stream` at start if it does not exist")
    subjects: list[str] | None = field(
        None, description="JetStream: subjects of a created stream (default: the template's prefix up to the first "
        "token, plus `>`, e.g. `livepipe.>`)",
    )
    max_age: float | None = field(None, description="JetStream: seconds a created stream keeps messages (unset = "
                                  "forever)", gt=0)
    duplicate_window: float = field(
        120.0, description="JetStream: de-duplication window (seconds) of a created stream; retries after a longer "
        "outage than this may store duplicates", gt=0,
    )
    storage: Literal["file", "memory"] = field("file", description="JetStream: storage of a created stream")
    replicas: int = field(
        1, description="JetStream: replicas of a created stream (at most the JetStream servers of the cluster; "
        "1 on a single server)", ge=1, le=5,
    )

    @field_validator("subject")
    @classmethod
    def _check_subject(cls, v: str) -> str:
        template_tokens(v)
        return v

    @field_validator("stream")
    @classmethod
    def _check_stream(cls, v: str | None) -> str | None:
        if v is not None and (not v or re.search(r"[\s.*>/\\]", v)):
            raise ValueError(f"stream name {v!r} is invalid: no spaces, `.`, `*`, `>`, `/` or `\\`")
        return v

    @model_validator(mode="after")
    def _check_js(self) -> NatsSinkConfig:
        if not self.jetstream:
            fields = type(self).model_fields
            js_only = [k for k in ("stream", "subjects", "max_age", "replicas")
                       if getattr(self, k) != fields[k].default]
            if js_only:
                raise ValueError(f"{', '.join(js_only)} only apply with jetstream = true")
        return self


def _header_dict(block: bytes) -> dict[str, str]:
    """The headers of a header block (for nats-py's own ``publish``, when :func:`_publish` cannot be fast)."""
    lines = block.decode().split("\r\n")[1:]
    return dict(line.split(": ", 1) for line in lines if line)


def _client_has_internals() -> bool:
    """Whether nats-py's client has what :meth:`NatsSink._publish` uses (checked once, at import)."""
    from nats.aio.client import Client

    methods = ("_send_command", "_flush_pending", "is_closed", "is_draining_pubs")
    attributes = ("_max_pending_size", "_pending_data_size", "_max_payload", "_flush_queue", "stats", "_pending")
    names = Client.__init__.__code__.co_names
    # _publish does what _send_command does (append, count, flush when over the limit): it must still be that
    send = getattr(Client, "_send_command", None)
    send_names = send.__code__.co_names if send is not None else ()
    inline = all(a in send_names for a in ("_pending", "_pending_data_size", "_max_pending_size", "_flush_pending"))
    return inline and all(hasattr(Client, a) for a in methods) and all(a in names for a in attributes)


_FAST_PUBLISH = _client_has_internals()


def _hpub(out: _Out, reply: bytes) -> bytes:
    """The ``HPUB`` command of a message, byte for byte as nats-py's ``publish`` builds it."""
    hdr = out.headers
    return b"HPUB %s %s %d %d\r\n%s%s\r\n" % (out.subject_bytes, reply, len(hdr),
                                              len(hdr) + len(out.payload), hdr, out.payload)


class NatsDisconnected(TransportError):
    """The event was dropped: disconnected and the client's buffer is full (``when_full`` drops)."""


@dataclass(slots=True)
class _Out:
    """One outgoing message with its delivery share."""

    subject: str
    payload: bytes
    headers: bytes  # the header block (header_block), built once
    delivery: Delivery | None
    subject_bytes: bytes  # the subject, encoded
    seq: int = 0  # core: publish sequence
    sent_at: float | None = None  # JetStream: when last published; None = not (successfully) published
    buffered: bool = False  # JetStream: published while disconnected (sits in the client's buffer)
    retry_at: float = 0.0
    attempts: int = 0
    owner: Delivery | None = None  # the event's delivery, until the sink takes its share (or drops it)


class NatsSink(Sink):
    """Publish events to NATS subjects (core: confirmed by PING/PONG; JetStream: by PubAck)."""

    type_name = "nats"
    Config = NatsSinkConfig
    confirms_delivery = True  # delivered = confirmed by the server (PONG or PubAck)

    def __init__(self, config: NatsSinkConfig, context: Context) -> None:
        super().__init__(config, context)
        self.cfg = config
        self._tokens = template_tokens(config.subject)
        self._routes: dict[tuple[Any, ...], tuple[str, bytes, bytes]] = {}
        self.conn = NatsConnection(config, component=self.name, log=self.log, resolve=lambda p: context.path(p),
                                   pending_size=config.pending_bytes)
        self.conn.on_disconnect = self._on_disconnect
        self.conn.on_reconnect = self._on_reconnect
        self.conn.on_refused = self._on_refused
        m = self.metrics
        self._published = m.counter("nats_published_events_total", "events the nats sink published (first attempts)")
        self._confirmed = m.counter("nats_confirmed_events_total",
                                    "events the server confirmed (PubAck, or PONG in core mode)")
        self._retries = m.counter("nats_retried_publishes_total", "publishes the nats sink repeated")
        self._duplicates = m.counter("nats_duplicate_acks_total", "JetStream PubAcks marked duplicate (de-duplicated)")
        self._lost = {
            r: m.counter("nats_lost_events_total", "events the nats sink knows it lost", reason=r)
            for r in ("buffer_full", "rejected", "shutdown", "too_large")
        }
        m.gauge("nats_in_flight_events", "events awaiting confirmation by the server", fn=lambda: self.in_flight)
        self._room = asyncio.Event()
        self._room.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        # core
        self._unconfirmed: deque[_Out] = deque()
        self._recent: deque[_Out] = deque(maxlen=config.max_in_flight)
        self._seq = 0
        self._epoch = 0
        self._resend_upto = 0
        self._confirm_kick = asyncio.Event()
        self._resend_kick = asyncio.Event()
        self._confirm_every = max(1, config.max_in_flight // 4)
        self._since_kick = 0
        self._warned_full = False
        # JetStream
        self._inflight: dict[str, _Out] = {}
        self._js_ready = asyncio.Event()
        self._fatal: PermanentFailure | None = None  # the stream cannot be created: every write fails
        self._refusals = RateLimitedLog(self.log)
        self._fatal_set = asyncio.Event()
        self._inbox = ""
        self._token = 0
        self._hdr_tail = (f"{HDR_EXPECTED_STREAM}: {config.stream}\r\n\r\n" if config.jetstream and config.stream
                          else "\r\n")
        self._fast = _FAST_PUBLISH

    def preflight(self) -> Problems:
        """The connection's files (``creds_file``, TLS) must be readable."""
        return self.conn.preflight()

    # -- helpers --------------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Events published but not yet confirmed by the server."""
        return len(self._inflight) if self.cfg.jetstream else len(self._unconfirmed)

    @property
    def lost(self) -> int:
        """Events this sink counted as lost (every reason)."""
        return int(sum(c.value for c in self._lost.values()))

    def subject_for(self, event: Event) -> str:
        """The subject an event is published to."""
        return self._route(event)[0]

    def _route(self, event: Event) -> tuple[str, bytes, bytes]:
        """``(subject, subject as bytes, the header block after Nats-Msg-Id)``, remembered per room, kind and cmd."""
        key = (event.room_id, event.kind, event.cmd)
        r = self._routes.get(key)
        if r is None:
            if len(self._routes) > 10_000:
                self._routes.clear()
            s = self.cfg.subject.format(
                room_id="none" if event.room_id is None else safe_token(str(event.room_id)),
                kind=safe_kind(event.kind),
                cmd="none" if event.cmd is None else safe_token(event.cmd),
            )
            # header_block's format: Livepipe-Kind, Livepipe-Room (absent without a room), and
            # Nats-Expected-Stream in JetStream mode with a stream
            tail = f"{HDR_KIND}: {event.kind.strip().translate(_VALUE_NEWLINES)}\r\n"
            if event.room_id is not None:
                tail += f"{HDR_ROOM}: {event.room_id}\r\n"
            r = self._routes[key] = (s, s.encode(), (tail + self._hdr_tail).encode())
        return r

    def _message(self, event: Event) -> _Out:
        # the header block (header_block's format): Nats-Msg-Id first, then the rest, built once per route
        subject, subject_bytes, tail = self._route(event)
        msg_id = event.id.strip()
        if "\r" in msg_id or "\n" in msg_id:
            msg_id = msg_id.translate(_VALUE_NEWLINES)
        payload = event.to_json_bytes(include_raw=self.cfg.include_raw)
        return _Out(subject, payload, _HDR_START + msg_id.encode() + b"\r\n" + tail, None, subject_bytes)

    async def _publish(self, nc: Any, out: _Out, reply: str = "") -> None:
        """nats-py's ``Client.publish`` for a message whose header block is built already.

        The same checks in the same order, the same ``HPUB`` bytes, handed to the client's outgoing
        buffer the same way (its flusher writes everything pending in one socket write per event-loop
        turn); only the per-publish work is less: no header dict walked, validated and encoded per
        message, no subject re-validated (our subjects are checked when the template is). Falls back
        to ``publish`` when the client lacks the internals this relies on (a newer nats-py).
        """
        if not self._fast:
            await nc.publish(out.subject, out.payload, reply=reply, headers=_header_dict(out.headers))
            return
        if nc.is_closed:
            raise nats.errors.ConnectionClosedError
        if nc.is_draining_pubs:
            raise nats.errors.ConnectionDrainingError
        size = len(out.payload)
        if not nc.is_connected:
            limit = nc._max_pending_size
            if limit <= 0 or size + nc._pending_data_size > limit:
                raise nats.errors.OutboundBufferLimitError
        if size > nc._max_payload:
            raise nats.errors.MaxPayloadError
        cmd = _hpub(out, reply.encode())
        stats = nc.stats
        stats["out_msgs"] += 1
        stats["out_bytes"] += size
        # nc._send_command(cmd), inline
        nc._pending.append(cmd)
        nc._pending_data_size += len(cmd)
        if nc._max_pending_size > 0 and nc._pending_data_size > nc._max_pending_size:
            await nc._flush_pending(force_flush=True)
        queue = nc._flush_queue
        if queue is not None and queue.empty():
            await nc._flush_pending()

    def _stream_subjects(self) -> list[str]:
        if self.cfg.subjects:
            return list(self.cfg.subjects)
        prefix = self.cfg.subject.split("{", 1)[0]
        prefix = prefix.rsplit(".", 1)[0] if "." in prefix else prefix
        return [f"{prefix}.>"] if prefix else [">"]

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Begin connecting (in the background: a server that is down delays events, not the start)."""
        loop = asyncio.get_running_loop()
        self.conn.start_background()
        if self.cfg.jetstream:
            self._tasks.append(loop.create_task(self._js_setup_and_retry()))
        else:
            self._tasks.append(loop.create_task(self._core_confirmer()))
            self._tasks.append(loop.create_task(self._core_resender()))

    async def healthcheck(self) -> None:
        """Wait up to ``connect_timeout`` (at least 2 s) for the connection; raise if it is not up."""
        try:
            await self.conn.wait_connected(max(self.cfg.connect_timeout, 2.0))
        except asyncio.TimeoutError:
            raise ConnectionError(f"cannot connect to NATS at {self.conn.servers_text}") from None

    async def stop(self) -> None:
        """Drain: wait (within ``shutdown_timeout``) for every in-flight event to be confirmed, then close.

        Events still unconfirmed when the wait ends (or is cut short) are counted as lost
        (``reason="shutdown"``) before the connection closes.
        """
        timeout = float(self.context.settings.get("shutdown_timeout", 10.0)) * 0.8
        deadline = time.monotonic() + timeout
        try:
            if self.conn.nc is not None:
                if not self.cfg.jetstream:
                    self._confirm_kick.set()
                while self.in_flight and time.monotonic() < deadline:
                    self._room.clear()
                    if not self.cfg.jetstream:
                        self._confirm_kick.set()
                    try:
                        await asyncio.wait_for(self._room.wait(), min(0.2, max(deadline - time.monotonic(), 0.01)))
                    except asyncio.TimeoutError:
                        pass
        finally:
            self._count_unconfirmed(timeout)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except BaseException:  # noqa: BLE001 - cancelled helper tasks
                pass
        await self.conn.close(drain=True)

    def _count_unconfirmed(self, timeout: float) -> None:
        self._closing = True
        left = self.in_flight
        if not left:
            return
        self.log.error("shutdown: %d events were not confirmed by NATS within %.1f s; counted as lost", left, timeout)
        self._lost["shutdown"].inc(left)
        self.metrics.discarded(left, intentional=False, reason="shutdown")
        for out in [*self._unconfirmed, *self._inflight.values()]:
            if out.delivery is not None:
                out.delivery.release(False)
        self._unconfirmed.clear()
        self._inflight.clear()

    async def flush(self) -> None:
        """The input ran empty: in core mode ask the server to confirm what was published."""
        if not self.cfg.jetstream and self._unconfirmed:
            self._confirm_kick.set()

    # -- writing --------------------------------------------------------------------------------

    def _on_refused(self, why: str) -> None:
        """The server refused the credentials: a permanent failure (waiting will not change its mind)."""
        if self._fatal is not None:
            return
        msg = (f"NATS at {self.conn.servers_text} refused the credentials ({why}); check user and password, "
               f"token, nkey_seed or creds_file")
        self.log.error("%s; the sink fails", msg)
        self._fatal = PermanentFailure(msg)
        self._fatal_set.set()
        self._room.set()
        self._js_ready.set()

    async def _until_connected(self) -> None:
        """Wait for the connection; raise the permanent failure if there is one instead."""
        if not self.conn.connected.is_set() and self._fatal is None:
            waits = [asyncio.ensure_future(self.conn.connected.wait()), asyncio.ensure_future(self._fatal_set.wait())]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
        if self._fatal is not None:
            raise self._fatal

    async def write(self, event: Event, emit: Emit) -> None:
        """Publish one event (waits while ``max_in_flight`` events await confirmation)."""
        await self._write(event, current())

    async def write_batch(self, batch: Batch, emit: Emit) -> None:
        """Publish the events in order, as :meth:`write` one by one (the client sends them together)."""
        deliveries = batch.deliveries
        events = batch.events
        write = self._write
        if self.cfg.jetstream:
            for i, event in enumerate(events):
                await write(event, deliveries[i])
                batch.written += 1
            return
        limit = self.cfg.max_in_flight
        unconfirmed = self._unconfirmed
        i, n = 0, len(events)
        while i < n:
            nc = self.conn.nc
            if (self._fast and self._fatal is None and nc is not None and nc.is_connected
                    and not nc.is_draining_pubs and not nc.is_closed):
                i = self._publish_run(nc, batch, i)
                queue = nc._flush_queue
                if queue is not None and queue.empty():
                    await nc._flush_pending()  # (as _publish: the client's flusher writes them in one go)
                if i >= n:
                    break
            # the next event as write does it: no room, disconnected, too large, the client buffer's limit
            event = events[i]
            if self._fatal is None and len(unconfirmed) < limit:
                out = self._message(event)
                out.owner = deliveries[i]
                await self._core_write(out)
            else:
                await write(event, deliveries[i])  # fails, or waits for room
            batch.written += 1
            i += 1

    def _publish_run(self, nc: Any, batch: Batch, i: int) -> int:
        """Core mode, connected: publish ``batch.events[i:]`` as :meth:`_core_write` does, without waiting,
        for as long as nothing needs a wait or an error (in-flight limit, payload too large, the client's
        buffer limit). Returns the index of the first event not published."""
        events, deliveries = batch.events, batch.deliveries
        unconfirmed, limit = self._unconfirmed, self.cfg.max_in_flight
        max_payload, max_pending = nc._max_payload, nc._max_pending_size
        pending = nc._pending
        msgs = nbytes = 0
        try:
            while i < len(events) and len(unconfirmed) < limit:
                out = self._message(events[i])
                size = len(out.payload)
                if size > max_payload:
                    break
                hdr = out.headers
                cmd = b"HPUB %s  %d %d\r\n%s%s\r\n" % (out.subject_bytes, len(hdr), len(hdr) + size, hdr,
                                                       out.payload)  # _hpub(out, b""), inline
                if max_pending > 0 and nc._pending_data_size + len(cmd) > max_pending:
                    break  # _send_command would wait for a flush here: the general path does
                pending.append(cmd)  # what _publish does, with the same checks made once per run
                nc._pending_data_size += len(cmd)
                msgs += 1
                nbytes += size
                self._seq += 1
                out.seq = self._seq
                d = deliveries[i]
                if d is not None:  # (_take_delivery)
                    d.hold()
                    out.delivery = d
                unconfirmed.append(out)
                self._since_kick += 1
                if self._since_kick >= self._confirm_every:
                    self._since_kick = 0
                    self._confirm_kick.set()
                batch.written += 1
                i += 1
        finally:
            if msgs:
                stats = nc.stats
                stats["out_msgs"] += msgs
                stats["out_bytes"] += nbytes
                self._warned_full = False
                self._published.inc(msgs)
        return i

    async def _write(self, event: Event, delivery: Delivery | None) -> None:
        if self._fatal is not None:
            raise self._fatal
        out = self._message(event)
        out.owner = delivery
        while self.in_flight >= self.cfg.max_in_flight:
            if self._fatal is not None:
                raise self._fatal
            if not self.cfg.jetstream and self.cfg.when_full != "block" and not self.conn.connected.is_set():
                self._warn_dropping()
                self._drop(out, "buffer_full")
                return
            self._room.clear()
            if not self.cfg.jetstream:
                self._confirm_kick.set()
            await self._room.wait()
        if self.cfg.jetstream:
            await self._js_write(out)
        else:
            await self._core_write(out)

    def _take_delivery(self, out: _Out) -> None:
        d = out.owner
        if d is not None:
            out.owner = None
            d.hold()
            out.delivery = d

    def _drop(self, out: _Out, reason: str) -> None:
        self._lost[reason].inc()
        self.metrics.discarded(intentional=False)
        d = out.owner
        if d is not None:
            out.owner = None
            d.hold()
            d.release(False)

    # -- core -----------------------------------------------------------------------------------

    async def _core_write(self, out: _Out) -> None:
        nc = self.conn.nc
        while True:
            if nc is None:
                nc = await self._wait_or_drop(out)
                if nc is None:
                    return
                continue
            try:
                await self._publish(nc, out)
                break
            except nats.errors.MaxPayloadError:
                self._lost["too_large"].inc()
                raise
            except (nats.errors.OutboundBufferLimitError, nats.errors.ConnectionReconnectingError,
                    nats.errors.ConnectionClosedError):
                nc = await self._wait_or_drop(out)
                if nc is None:
                    return
        self._warned_full = False
        self._published.inc()
        self._seq += 1
        out.seq = self._seq
        self._take_delivery(out)
        self._unconfirmed.append(out)
        self._since_kick += 1
        if self._since_kick >= self._confirm_every:
            self._since_kick = 0
            self._confirm_kick.set()

    async def _wait_or_drop(self, out: _Out) -> Any:
        """Disconnected with a full buffer: drop (``when_full`` drops) or wait for the connection."""
        if self.cfg.when_full != "block":
            self._warn_dropping()
            self._drop(out, "buffer_full")
            return None
        await self._until_connected()
        return self.conn.nc

    def _warn_dropping(self) -> None:
        if not self._warned_full:
            self._warned_full = True
            self.log.warning("NATS unreachable and the client buffer (%d bytes) is full: dropping events "
                             "(when_full = %s); counted in nats_lost_events_total", self.cfg.pending_bytes,
                             self.cfg.when_full)

    def _on_disconnect(self) -> None:
        self._epoch += 1
        self._room.set()  # waiters re-check (drop modes stop waiting for confirmations)
        if not self.cfg.jetstream:
            # what was written before the drop may not have reached the server: publish it again
            self._resend_upto = self._seq

    def _on_reconnect(self) -> None:
        if not self.cfg.jetstream:
            self._resend_kick.set()
            return
        now = time.monotonic()
        for out in self._inflight.values():
            if out.sent_at is not None and out.buffered:
                out.sent_at = now  # the client flushed its buffer on reconnect: give the ack its full time
            else:
                out.sent_at = None  # written to the old connection (or never): publish again now
                out.retry_at = now

    async def _core_confirmer(self) -> None:
        while True:
            await self._confirm_kick.wait()
            self._confirm_kick.clear()
            nc = self.conn.nc
            if nc is None or not self._unconfirmed or not nc.is_connected:
                continue
            epoch, mark = self._epoch, self._seq
            try:
                if nc.pending_data_size:
                    # nats-py writes the PING straight to the socket, ahead of publishes still in its
                    # buffer: a first round trip lets its flusher write those, the second PONG covers
                    # them (unless the flusher is still stuck on a full socket: then, rarely, an event
                    # counts as confirmed while still in the client buffer, which a reconnect resends)
                    await nc.flush(timeout=self.cfg.ack_timeout)  # type: ignore[arg-type]
                await nc.flush(timeout=self.cfg.ack_timeout)  # type: ignore[arg-type]
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.log.debug("confirmation PING failed: %s", describe_error(e))
                continue
            if epoch != self._epoch:
                continue  # a reconnect happened in between: the PONG proves nothing about older messages
            n = 0
            while self._unconfirmed and 0 < self._unconfirmed[0].seq <= mark:
                out = self._unconfirmed.popleft()
                n += 1
                if out.delivery is not None:
                    out.delivery.release(True)
                    out.delivery = None
                self._recent.append(out)
            self._confirmed.inc(n)
            self.metrics.delivered(n)
            self._room.set()

    async def _core_resender(self) -> None:
        while True:
            await self._resend_kick.wait()
            self._resend_kick.clear()
            upto = self._resend_upto
            again: list[_Out] = [o for o in self._recent if o.seq <= upto]
            self._recent.clear()
            while self._unconfirmed and self._unconfirmed[0].seq <= upto:
                out = self._unconfirmed.popleft()
                out.seq = 0  # not confirmable until published again
                again.append(out)
            if again:
                self.log.info("republishing the last %d events published before the disconnect", len(again))
            for i, out in enumerate(again):
                while True:
                    nc = await self.conn.wait_connected()
                    try:
                        await self._publish(nc, out)
                        break
                    except (nats.errors.OutboundBufferLimitError, nats.errors.ConnectionReconnectingError,
                            nats.errors.ConnectionClosedError):
                        await asyncio.sleep(0.05)
                    except asyncio.CancelledError:
                        for rest in again[i:]:
                            self._unconfirmed.appendleft(rest)
                        raise
                self._retries.inc()
                self._seq += 1
                out.seq = self._seq
                self._unconfirmed.append(out)
            self._confirm_kick.set()

    # -- JetStream ------------------------------------------------------------------------------

    async def _js_write(self, out: _Out) -> None:
        if not self._js_ready.is_set():
            await self._js_ready.wait()  # connected, reply inbox subscribed, stream checked
        if self._fatal is not None:
            raise self._fatal
        self._token += 1
        token = str(self._token)
        self._take_delivery(out)
        self._inflight[token] = out
        self._published.inc()
        await self._js_send(token, out)

    async def _js_send(self, token: str, out: _Out) -> None:
        nc = self.conn.nc
        out.attempts += 1
        if nc is None or not self._inbox:
            out.sent_at = None
            out.retry_at = time.monotonic()
            return
        try:
            await self._publish(nc, out, reply=f"{self._inbox}.{token}")
            out.sent_at = time.monotonic()
            out.buffered = not nc.is_connected
        except nats.errors.MaxPayloadError:
            self._inflight.pop(token, None)
            self._lost["too_large"].inc()
            if out.delivery is not None:
                out.delivery.release(False)
            self._room.set()
            raise
        except (nats.errors.OutboundBufferLimitError, nats.errors.ConnectionReconnectingError,
                nats.errors.ConnectionClosedError):
            out.sent_at = None
            out.retry_at = time.monotonic() + 0.1

    async def _js_setup_and_retry(self) -> None:
        nc = await self.conn.wait_connected()
        self._inbox = nc.new_inbox()
        await nc.subscribe(f"{self._inbox}.*", cb=self._on_ack)
        if self.cfg.stream and self.cfg.create_stream:
            await self._ensure_stream()
        self._js_ready.set()
        if self._fatal is not None:
            return
        tick = min(0.1, self.cfg.ack_timeout / 4)
        while True:
            await asyncio.sleep(tick)
            if not self._inflight or not self.conn.connected.is_set():
                continue
            now = time.monotonic()
            due = [
                (t, o) for t, o in self._inflight.items()
                if (o.sent_at is None and now >= o.retry_at)
                or (o.sent_at is not None and now - o.sent_at >= self.cfg.ack_timeout)
            ]  # fmt: skip
            for token, out in due:
                if token in self._inflight:
                    self._retries.inc()
                    await self._js_send(token, out)

    async def _ensure_stream(self) -> None:
        from nats.js.api import StorageType, StreamConfig
        from nats.js.errors import APIError, NotFoundError, ServiceUnavailableError

        assert self.cfg.stream is not None
        js = self.conn.nc.jetstream()  # type: ignore[union-attr]
        reported: set[str] = set()  # each distinct refusal is logged once at ERROR, repeats at DEBUG
        while True:
            try:
                await js.stream_info(self.cfg.stream)
                return
            except NotFoundError:
                cfg = StreamConfig(
                    name=self.cfg.stream,
                    subjects=self._stream_subjects(),
                    max_age=self.cfg.max_age,
                    duplicate_window=self.cfg.duplicate_window,
                    storage=StorageType.FILE if self.cfg.storage == "file" else StorageType.MEMORY,
                    num_replicas=self.cfg.replicas,
                )
                try:
                    await js.add_stream(cfg)
                    self.log.info("created JetStream stream %s for %s", self.cfg.stream, ", ".join(cfg.subjects or []))
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    why = describe_error(e)
                    if isinstance(e, APIError) and getattr(e, "err_code", None) == _STREAM_NAME_IN_USE:
                        continue  # created meanwhile by another pipeline: use it, as when it was there before
                    if isinstance(e, APIError) and not isinstance(e, ServiceUnavailableError):
                        # the server answered and said no: waiting will not change its mind
                        msg = (f"cannot create JetStream stream {self.cfg.stream}: {why}. Fix its settings "
                               f"(subjects, replicas, storage) or create the stream yourself and set "
                               f"create_stream = false")
                        self.log.error("%s; the sink fails (every event it receives is lost)", msg)
                        self._fatal = PermanentFailure(msg)
                        self._fatal_set.set()
                        self._room.set()
                        return
                    level = logging.DEBUG if why in reported else logging.ERROR
                    reported.add(why)
                    self.log.log(level, "cannot create JetStream stream %s: %s; events wait until it exists; "
                                 "retrying every %.1f s", self.cfg.stream, why, self.cfg.reconnect_wait)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.log.warning("JetStream stream %s: %s; retrying", self.cfg.stream, describe_error(e))
            await asyncio.sleep(self.cfg.reconnect_wait)

    async def _on_ack(self, msg: Msg) -> None:
        token = msg.subject[len(self._inbox) + 1:]
        out = self._inflight.get(token)
        if out is None:
            return  # an ack for a repeat we already settled
        hdrs = msg.headers or {}
        if hdrs.get("Status") == "503" or not msg.data:
            out.sent_at = None  # no responders: the stream is not there (yet); try again shortly
            out.retry_at = time.monotonic() + min(0.5, self.cfg.ack_timeout)
            return
        try:
            resp = json.loads(msg.data)
        except ValueError:
            return
        err = resp.get("error")
        if err:
            if err.get("code") == 400:
                self._inflight.pop(token, None)
                self._lost["rejected"].inc()
                self.metrics.discarded(intentional=False)
                self._refusals.log(logging.ERROR, str(err.get("err_code")),
                                   "JetStream refused a message on %s: %s (err_code %s); counted as lost",
                                   out.subject, err.get("description"), err.get("err_code"))
                if out.delivery is not None:
                    out.delivery.release(False)
                self._room.set()
            else:
                out.sent_at = None
                out.retry_at = time.monotonic() + min(0.5, self.cfg.ack_timeout)
            return
        self._inflight.pop(token, None)
        if resp.get("duplicate"):
            self._duplicates.inc()
        self._confirmed.inc()
        self.metrics.delivered()
        if out.delivery is not None:
            out.delivery.release(True)
        self._room.set()
