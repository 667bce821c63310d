"""The ``nats`` source source: events from NATS, core subscription or JetStream durable consumer.

**Core** (default): subscribes to ``subject`` (wildcards allowed), optionally in a ``queue`` group
(each message goes to one member of the group). At most once: what arrives while the pipeline is
disconnected or slower than the publisher (the client's pending limits) is gone.

**JetStream** (``jetstream = true``): a durable pull consumer ``durable`` on ``stream``. Messages are
fetched in batches of at most ``fetch_batch``; the server keeps at most ``max_ack_pending``
unacknowledged. Each event is emitted with a :class:`~livepipe.runtime.delivery.Delivery`: the
message is acknowledged only when every sink it reached has finished with it (or dead-lettered
it), and negatively acknowledged with ``nak_delay`` when any copy was lost, so the server delivers
it again. A message that is not an event (bad JSON, wrong version) is counted, logged with its
subject and terminated (``term``) so it is not redelivered forever. Several pipelines with the same
``durable`` share the work (each message goes to one of them).

Acknowledgements are sent from the event loop (the Delivery callback only queues them); at
shutdown the queued ones are sent before the connection drains.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Literal

import nats.errors
from nats.aio.msg import Msg
from pydantic import field_validator, model_validator

from livepipe.component import Context, Emit, Source
from livepipe.components.nats_common import NatsConnection, NatsConnectionConfig, describe_error
from livepipe.events import Event
from livepipe.lograte import RateLimitedLog
from livepipe.preflight import Problems
from livepipe.runtime.delivery import Delivery
from livepipe.schema import SourceConfig, field

DeliverPolicy = Literal["all", "new", "last", "last_per_subject"]


class NatsSourceConfig(SourceConfig, NatsConnectionConfig):
    """Config of the ``nats`` source source."""

    subject: str = field(
        "livepipe.>",
        description="subject to receive (wildcards `*` and `>` allowed); in JetStream mode the consumer's "
        "filter subject",
    )
    queue: str | None = field(None, description="core: queue group; each message goes to one member of the group")
    jetstream: bool = field(False, description="consume a JetStream stream through a durable pull consumer")
    stream: str | None = field(None, description="JetStream: the stream to consume (required with jetstream)")
    durable: str | None = field(
        None, description="JetStream: durable consumer name, created if missing; pipelines sharing it share the work "
        "(required with jetstream)"
    )
    deliver_policy: DeliverPolicy = field(
        "all", description="JetStream: where a new consumer starts: `all`, `new`, `last`, `last_per_subject`"
    )
    ack_wait: float = field(
        30.0, description="JetStream: seconds the server waits for an ack before delivering a message again", gt=0
    )
    max_ack_pending: int = field(1000, description="JetStream: most unacknowledged messages at once", ge=1)
    max_deliver: int | None = field(
        None, description="JetStream: give up on a message after this many deliveries (unset = never)", ge=1
    )
    nak_delay: float = field(
        1.0, description="JetStream: seconds before a message whose handling failed is delivered again", ge=0
    )
    fetch_batch: int = field(256, description="JetStream: most messages fetched per pull request", ge=1)
    fetch_timeout: float = field(1.0, description="JetStream: seconds one pull request waits for messages", gt=0)
    pending_msgs: int = field(
        65536, description="core: messages the client buffers for this subscription before it drops (slow consumer)",
        ge=1,
    )

    @field_validator("durable", "stream")
    @classmethod
    def _check_name(cls, v: str | None) -> str | None:
        if v is not None and (not v or re.search(r"[\s.*>/\\]", v)):
            raise ValueError(f"name {v!r} is invalid: no spaces, `.`, `*`, `>`, `/` or `\\`")
        return v

    @model_validator(mode="after")
    def _check_mode(self) -> NatsSourceConfig:
        if self.jetstream:
            missing = [k for k in ("stream", "durable") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"jetstream = true needs {' and '.join(missing)}")
            if self.queue is not None:
                raise ValueError("queue applies to core subscriptions; JetStream pipelines share work by sharing "
                                 "the same durable")
        else:
            extra = [k for k in ("stream", "durable", "max_deliver") if getattr(self, k) is not None]
            if extra:
                raise ValueError(f"{', '.join(extra)} only apply with jetstream = true")
        return self


class NatsSource(Source):
    """Receive events from NATS (core subscription, or JetStream with end-to-end acknowledgement)."""

    type_name = "nats"
    Config = NatsSourceConfig

    def __init__(self, config: NatsSourceConfig, context: Context) -> None:
        super().__init__(config, context)
        self.cfg = config
        self.ready = False
        self.conn = NatsConnection(config, component=self.name, log=self.log, resolve=lambda p: context.path(p))
        m = self.metrics
        self._bad = m.counter("nats_bad_messages_total", "messages that were not a livepipe event (terminated)")
        self._acked = m.counter("nats_acked_messages_total", "JetStream messages acknowledged after handling")
        self._naked = m.counter("nats_naked_messages_total", "JetStream messages negatively acknowledged (redelivered)")
        self._acks: asyncio.Queue[tuple[Msg, bool]] = asyncio.Queue()
        self._ack_task: asyncio.Task[None] | None = None
        self._bad_log = RateLimitedLog(self.log)  # first bad message, then a count every 10 s

    def preflight(self) -> Problems:
        """The connection's files (``creds_file``, TLS) must be readable."""
        return self.conn.preflight()

    def _parse(self, msg: Msg) -> Event | None:
        try:
            return Event.from_json(msg.data)
        except ValueError as e:
            self._bad.inc()
            self.metrics.error("bad_message")
            self._bad_log.log(logging.WARNING, "bad", "message on %s is not a livepipe event (%s); %s", msg.subject, e,
                              "terminated" if self.cfg.jetstream else "skipped")
            return None

    async def run(self, emit: Emit) -> None:
        """Connect, subscribe (or bind the durable consumer), emit events until cancelled."""
        await self.conn.connect_forever()
        if self.cfg.jetstream:
            await self._run_jetstream(emit)
        else:
            await self._run_core(emit)

    async def stop(self) -> None:
        """Send the acknowledgements still queued, then drain and close the connection."""
        self.ready = False
        if self._ack_task is not None:
            self._ack_task.cancel()
            try:
                await self._ack_task
            except BaseException:  # noqa: BLE001 - the cancelled ack task
                pass
        if self.conn.nc is not None and not self.conn.nc.is_closed:
            while not self._acks.empty():
                await self._send_ack(*self._acks.get_nowait())
            try:
                await self.conn.nc.flush(timeout=2)
            except Exception as e:
                self.log.debug("final flush: %s", describe_error(e))
        # close, not drain: the acks are flushed above, and draining would wait (until the drain
        # timeout) for messages already pulled into the subscription's queue that nobody will read;
        # the server redelivers those, since they were never acknowledged
        await self.conn.close(drain=False)

    # -- core -------------------------------------------------------------------------------------

    async def _run_core(self, emit: Emit) -> None:
        nc = self.conn.nc
        assert nc is not None
        queue: asyncio.Queue[Msg] = asyncio.Queue(maxsize=1024)
        sub = await nc.subscribe(self.cfg.subject, queue=self.cfg.queue or "", cb=queue.put,
                                 pending_msgs_limit=self.cfg.pending_msgs)
        await nc.flush()
        self.ready = True
        self.log.info("subscribed to %s%s", self.cfg.subject, f" (queue {self.cfg.queue})" if self.cfg.queue else "")
        try:
            while True:
                msg = await queue.get()
                event = self._parse(msg)
                if event is not None:
                    await emit(event)
        finally:
            self.ready = False
            try:
                await sub.unsubscribe()
            except Exception:
                pass

    # -- JetStream -------------------------------------------------------------------------------

    def _consumer_config(self) -> Any:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        policy = {"all": DeliverPolicy.ALL, "new": DeliverPolicy.NEW, "last": DeliverPolicy.LAST,
                  "last_per_subject": DeliverPolicy.LAST_PER_SUBJECT}[self.cfg.deliver_policy]
        return ConsumerConfig(
            durable_name=self.cfg.durable,
            deliver_policy=policy,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.cfg.ack_wait,
            max_ack_pending=self.cfg.max_ack_pending,
            max_deliver=self.cfg.max_deliver,
            filter_subject=self.cfg.subject if self.cfg.subject != ">" else None,
        )

    async def _bind(self) -> Any:
        nc = self.conn.nc
        assert nc is not None
        js = nc.jetstream()
        warned = False
        while True:
            try:
                return await js.pull_subscribe(self.cfg.subject, durable=self.cfg.durable, stream=self.cfg.stream,
                                               config=self._consumer_config())
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if not warned:
                    warned = True
                    self.log.warning("cannot bind durable consumer %s on stream %s (%s); retrying",
                                     self.cfg.durable, self.cfg.stream, describe_error(e))
                await asyncio.sleep(self.cfg.reconnect_wait)

    def _settled(self, msg: Msg, ok: bool) -> None:
        self._acks.put_nowait((msg, ok))

    async def _send_ack(self, msg: Msg, ok: bool) -> None:
        while True:
            try:
                if ok:
                    await msg.ack()
                    self._acked.inc()
                else:
                    await msg.nak(delay=self.cfg.nak_delay or None)
                    self._naked.inc()
                return
            except (nats.errors.OutboundBufferLimitError, nats.errors.ConnectionReconnectingError):
                await self.conn.connected.wait()
            except Exception as e:  # closed connection: the server redelivers after ack_wait
                self.log.debug("cannot %s a message: %s", "ack" if ok else "nak", describe_error(e))
                return

    async def _ack_loop(self) -> None:
        while True:
            msg, ok = await self._acks.get()
            await self._send_ack(msg, ok)

    async def _run_jetstream(self, emit: Emit) -> None:
        psub = await self._bind()
        self._ack_task = asyncio.get_running_loop().create_task(self._ack_loop())
        self.ready = True
        self.log.info("consuming stream %s with durable %s (%s)", self.cfg.stream, self.cfg.durable, self.cfg.subject)
        try:
            while True:
                try:
                    msgs = await psub.fetch(self.cfg.fetch_batch, timeout=self.cfg.fetch_timeout)
                except nats.errors.TimeoutError:
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    self.log.debug("fetch failed: %s", describe_error(e))
                    if not self.conn.connected.is_set():
                        await self.conn.connected.wait()
                    else:
                        await asyncio.sleep(min(self.cfg.fetch_timeout, 0.5))
                    continue
                for msg in msgs:
                    event = self._parse(msg)
                    if event is None:
                        try:
                            await msg.term()
                        except Exception as e:
                            self.log.debug("term failed: %s", describe_error(e))
                        continue
                    await emit(event, delivery=Delivery(lambda ok, m=msg: self._settled(m, ok)))
        finally:
            self.ready = False
