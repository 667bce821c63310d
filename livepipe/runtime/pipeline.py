# Stays whole: edges, fan-out outputs and the Pipeline run loop share one shutdown-and-drain protocol;
# splitting them would spread that protocol over modules.
"""Running a pipeline: one bounded stream per consumer, producers fan out, shutdown drains.

Every processor and sink owns one bounded anyio memory stream (its input buffer, ``buffer`` events).
Each producer output holds a send handle to the stream of every consumer that reads it, so a
consumer fed by several outputs still sees one ordered queue per producer. ``when_full`` decides
what a producer does when a consumer's buffer is full: ``block`` waits (nothing lost),
``drop_newest`` discards the incoming event, ``drop_oldest`` discards the oldest buffered one;
every drop is counted on the consumer. A producer first hands the event to every consumer with
room, and only then waits for a full ``block`` buffer: one slow consumer holds the producer back,
but never delays or costs an event its siblings.

Shutdown (first SIGINT/SIGTERM, ``--duration``, a failed sink, or every source finishing): sources
are cancelled between events (an event a source has handed to ``emit`` is delivered if the drain
finishes in time), their streams close, and processors and sinks drain what is buffered. The drain
deadline, ``shutdown_timeout``, runs from the moment shutdown begins. A second signal, or the
deadline, cancels whatever is still running (sources waiting for room in a full buffer included),
counts every accepted event left behind as lost (``reason="shutdown"``) and logs the count;
components then get what is left of the deadline plus :data:`STOP_GRACE` to ``stop()``.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterable
from time import monotonic
from typing import Any

import anyio
from anyio import CancelScope
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from livepipe import plugins
from livepipe.clock import Clock
from livepipe.component import DEAD_LETTER_OUTPUT, Batch, Component, PermanentFailure, Processor, Sink, Source
from livepipe.config import PipelineConfig
from livepipe.errors import PipelineError
from livepipe.events import Event, make_event
from livepipe.lograte import RateLimitedLog
from livepipe.registry import ComponentRegistry
from livepipe.runtime.delivery import Delivery, _current
from livepipe.runtime.graph import Graph, instantiate, output_names, resolve
from livepipe.runtime.health import ALERTS_OUTPUT, SinkHealth
from livepipe.runtime.metrics import ComponentMetrics, ErrorLogCounter, Histogram, MetricsRegistry
from livepipe.runtime.reload import ReloadRefused, reload
from livepipe.runtime.tracebacks import format_traceback

log = logging.getLogger("livepipe.runtime")

#: A source yields to the event loop after this many emits even when no buffer is full.
YIELD_EVERY = 64

#: A consumer with a ``flush`` is flushed at most this often (seconds): after an event when this
#: long has passed since its last flush, or when its input runs empty (waiting out the rest of the
#: interval unless an event comes first), and at shutdown. So a busy file sink fsyncs ten times a
#: second, not once per WebSocket frame.
FLUSH_INTERVAL = 0.1

#: The most events a sink with a ``write_batch`` gets at once: what is waiting in its input buffer, up to this.
BATCH_MAX = 256

#: Seconds components get to ``stop()`` after the drain deadline (so the process ends within
#: ``shutdown_timeout`` + 1 s of the first signal, whatever a component does).
STOP_GRACE = 0.5


#: What an input buffer holds: the event, its delivery, and the ``monotonic()`` time a source accepted it
#: (its descendants keep that time; ``sink_event_latency_seconds`` is measured from it).
_Item = tuple[Event, Delivery | None, float]


class _Edge:
    """One producer output -> one consumer's input buffer. Items are ``(event, delivery, accepted)``."""

    __slots__ = ("consumer", "send", "recv", "mode", "metrics", "pipeline", "state")

    def __init__(
        self,
        consumer: str,
        send: MemoryObjectSendStream[_Item],
        recv: MemoryObjectReceiveStream[_Item],
        mode: str,
        metrics: ComponentMetrics,
        pipeline: Pipeline,
    ) -> None:
        self.consumer = consumer
        self.send = send
        self.recv = recv
        self.mode = mode
        self.metrics = metrics
        self.pipeline = pipeline
        self.state = _fast_state(recv, send)  # for the fast path of offer (None: always through send_nowait)

    def _lost(self, delivery: Delivery | None, reason: str) -> None:
        self.metrics.discarded(intentional=False, reason=reason)
        self.metrics.lost_before_receipt += 1
        if reason == "buffer_full":
            self.metrics.counter("buffer_discarded_events_total", "events dropped because a buffer was full").inc()
            self.pipeline.buffer_drops.log(logging.WARNING, self.consumer,
                                           "'%s' cannot keep up: its input buffer is full, dropping events "
                                           "(when_full = \"%s\"); counted in component_discarded_events_total",
                                           self.consumer, self.mode)
        if delivery is not None:
            delivery.fail()

    def offer(self, event: Event, delivery: Delivery | None, accepted: float) -> bool:
        """Put without waiting; False when a ``block`` buffer is full (then call :meth:`put_waiting`).

        ``drop_newest`` / ``drop_oldest`` settle a full buffer here, so only ``block`` ever waits.
        """
        if delivery is not None:
            delivery.hold()
        item = (event, delivery, accepted)
        state = self.state
        if (state is not None and not state.waiting_receivers and len(state.buffer) < state.max_buffer_size
                and state.open_receive_channels and not self.send._closed):
            state.buffer.append(item)  # what send_nowait does in this case, without its call
            return True
        try:
            self.send.send_nowait(item)
            return True
        except anyio.WouldBlock:
            pass
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self._lost(delivery, "shutdown")
            return True
        if self.mode == "drop_newest":
            self._lost(delivery, "buffer_full")
            return True
        if self.mode == "drop_oldest":
            try:
                _, old, _ = self.recv.receive_nowait()
                self._lost(old, "buffer_full")
            except (anyio.WouldBlock, anyio.EndOfStream):
                pass
            try:
                self.send.send_nowait(item)
            except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._lost(delivery, "buffer_full")
            return True
        if self.pipeline.forced:
            self._lost(delivery, "shutdown")
            return True
        return False

    async def put_waiting(self, event: Event, delivery: Delivery | None, accepted: float) -> None:
        """Wait for room in a full ``block`` buffer (the delivery share was taken by :meth:`offer`).

        Shielded, so that a graceful shutdown never loses an event already emitted; the drain
        deadline (or a second signal) cancels the shield, and the event is counted as lost.
        """
        with anyio.CancelScope(shield=True) as scope:
            self.pipeline._shields.add(scope)
            if self.pipeline.forced:
                scope.cancel()
            try:
                await self.send.send((event, delivery, accepted))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._lost(delivery, "shutdown")
            finally:
                self.pipeline._shields.discard(scope)
        if scope.cancel_called:
            self._lost(delivery, "shutdown")
            await anyio.lowlevel.checkpoint()  # deliver the forced stop to the producer



def _hand_over(edges: list[_Edge], event: Event, delivery: Delivery | None, accepted: float) -> list[_Edge] | None:
    """Put ``event`` into each edge's buffer that has room; the edges whose buffer is full and blocks, or None."""
    waiting: list[_Edge] | None = None
    for edge in edges:
        state = edge.state
        if (state is not None and not state.waiting_receivers and len(state.buffer) < state.max_buffer_size
                and state.open_receive_channels and not edge.send._closed):
            # offer's first case, inline (the common one): room in the buffer, nobody waiting
            if delivery is not None:
                delivery.hold()
            state.buffer.append((event, delivery, accepted))
        elif not edge.offer(event, delivery, accepted):
            if waiting is None:
                waiting = [edge]
            else:
                waiting.append(edge)
    return waiting

class _Outputs:
    """The ``emit`` of one component: routes events to the edges of each of its outputs.

    Every consumer gets the event before the producer waits for any of them: a full ``block``
    buffer holds the producer back, but never keeps the event from its siblings.

    While a consumer handles an event, ``current`` is that event's :class:`Delivery` (if any), and
    everything the component emits inherits it: the source's acknowledgement then waits for them.
    """

    def __init__(self, cid: str, ports: dict[str | None, list[_Edge]], metrics: ComponentMetrics, is_source: bool):
        self.cid = cid
        self.ports = ports
        self.metrics = metrics
        self.is_source = is_source
        self.current: Delivery | None = None
        self.accepted: float | None = None  # while a consumer handles an event: when its source accepted it
        self._count = 0

    def _edges(self, output: str | None) -> list[_Edge]:
        edges = self.ports.get(output)
        if edges is None:
            raise ValueError(
                f"component '{self.cid}' emitted on output {output!r}, which it does not declare; "
                f"declared: {', '.join(repr(k) for k in self.ports if k is not None) or 'only the default output'}"
            )
        return edges

    async def emit(self, event: Event, output: str | None = None, *, delivery: Delivery | None = None) -> None:
        edges = self.ports.get(output)
        if edges is None:
            edges = self._edges(output)
        if not isinstance(event, Event):
            raise TypeError(f"component '{self.cid}' emitted {type(event).__name__}, not an Event")
        if delivery is None:
            delivery = self.current
        self.metrics.sent.inc()
        accepted = self.accepted
        if accepted is None:  # a source accepts it now (or a consumer emits it outside its handling)
            accepted = monotonic()
        if delivery is not None:
            delivery.hold()  # settled only after every edge below has taken its share
        try:
            waiting = _hand_over(edges, event, delivery, accepted)
            if waiting is not None:
                await self._wait(waiting, event, delivery, accepted)
        finally:
            if delivery is not None:
                delivery.release()
        if self.is_source:
            self._count += 1
            if self._count % YIELD_EVERY == 0:
                await anyio.lowlevel.checkpoint()

    async def emit_many(self, events: Iterable[Event], output: str | None = None) -> None:
        """Emit ``events`` in order: what ``for e in events: await emit(e, output)`` does, in one call.

        Each event is still handed to each consumer's buffer on its own (buffers, ``when_full`` and
        the metrics count events); what is saved is the per-event call and bookkeeping. A source's
        events are accepted when the call is made (again after any wait for room in a full buffer).
        """
        edges = self.ports.get(output)
        if edges is None:
            edges = self._edges(output)
        delivery = self.current
        accepted = self.accepted
        at_source = accepted is None
        if at_source:
            accepted = monotonic()
        sent = self.metrics.sent
        n = 0
        for event in events:
            if not isinstance(event, Event):
                raise TypeError(f"component '{self.cid}' emitted {type(event).__name__}, not an Event")
            sent.inc()
            if delivery is not None:
                delivery.hold()
            try:
                waiting = _hand_over(edges, event, delivery, accepted)
                if waiting is not None:
                    await self._wait(waiting, event, delivery, accepted)
                    if at_source:
                        accepted = monotonic()
            finally:
                if delivery is not None:
                    delivery.release()
            n += 1
        if self.is_source and n:
            before = self._count
            self._count += n
            if self._count // YIELD_EVERY != before // YIELD_EVERY:
                await anyio.lowlevel.checkpoint()

    @staticmethod
    async def _wait(waiting: list[_Edge], event: Event, delivery: Delivery | None, accepted: float) -> None:
        """Wait for room in each full ``block`` buffer of ``waiting`` in turn (the event has its share of each)."""
        for i, edge in enumerate(waiting):
            try:
                await edge.put_waiting(event, delivery, accepted)
            except BaseException:  # a forced stop: the consumers not reached lose it too
                for rest in waiting[i + 1:]:
                    rest._lost(delivery, "shutdown")
                raise

    def close(self) -> None:
        for edges in self.ports.values():
            for edge in edges:
                edge.send.close()


def _buffer_state(recv: MemoryObjectReceiveStream[Any]) -> Any:
    """The shared state of an anyio memory stream, whose ``max_buffer_size`` a batch lowers while it is
    held; None if this anyio lacks it (then sinks get no batches: one event at a time, as before)."""
    state = getattr(recv, "_state", None)
    return state if isinstance(getattr(state, "max_buffer_size", None), int) else None


def _fast_state(recv: MemoryObjectReceiveStream[Any], send: MemoryObjectSendStream[Any] | None = None) -> Any:
    """The shared state of an anyio memory stream if it has what the runtime's fast paths read directly
    (the ``buffer`` deque and the waiting tasks: what ``send_nowait`` / ``receive_nowait`` look at), else None."""
    state = _buffer_state(recv)
    names = ("buffer", "waiting_receivers", "waiting_senders", "open_receive_channels")
    if state is None or not all(hasattr(state, a) for a in names) or not hasattr(recv, "_closed"):
        return None
    if send is not None and not hasattr(send, "_closed"):
        return None
    return state


def _overrides(comp: Component, base: type, name: str) -> bool:
    return getattr(type(comp), name) is not getattr(base, name)


class Pipeline:
    """A runnable pipeline built from a :class:`~livepipe.config.PipelineConfig`.

    Attributes:
        components: component id -> instance.
        metrics: the process-wide :class:`MetricsRegistry`.
        graph: the resolved wiring.
        draining: True once shutdown has begun.
        forced: True when the drain deadline or a second signal cut the drain short.
        lost_on_force: events that forced stop lost (buffered, being handled, or waiting to be buffered).
    """

    def __init__(
        self,
        config: PipelineConfig,
        *,
        clock: Clock | None = None,
        metrics: MetricsRegistry | None = None,
        components: dict[str, Component] | None = None,
        settings: dict[str, Any] | None = None,
        registry: ComponentRegistry | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or Clock()
        self.metrics = metrics or MetricsRegistry()
        ctx_settings = {**config.settings.model_dump(), **(settings or {})}
        self._context_args: dict[str, Any] = {"clock": self.clock, "settings": ctx_settings}
        self.registry = registry or plugins.registry()
        self.components = components or instantiate(config, self.registry, self.metrics, **self._context_args)
        graph, issues = resolve(config, self.components)
        if issues:
            from livepipe.config import ConfigError

            raise ConfigError(issues)
        self.graph: Graph = graph
        self.draining = False
        self.started = False
        self.error: BaseException | None = None
        self.forced = False
        self.lost_on_force = 0
        self.started_at: float | None = None
        self.shutdown_at: float | None = None
        self.buffer_drops = RateLimitedLog(log)
        self.handling_errors = RateLimitedLog(log)
        self.error_logs = ErrorLogCounter(self.metrics)
        self._shields: set[CancelScope] = set()
        self._sources_scope: CancelScope | None = None
        self._consumers_scope: CancelScope | None = None
        self._stop_requested = anyio.Event()
        self._receivers: dict[str, MemoryObjectReceiveStream[_Item]] = {}
        self._outputs: dict[str, _Outputs] = {}
        self._error_logs: dict[str, RateLimitedLog] = {}
        self._cut_short: dict[str, int] = {}  # events whose handling a forced stop cancelled, per consumer
        self._taken_unwritten: dict[str, int] = {}  # taken from a buffer in a batch, not reached when forced to stop
        self._swaps: dict[str, Component] = {}  # consumer id -> the instance that takes over at its next event
        self.health: dict[str, SinkHealth] = {
            cid: SinkHealth(cid, comp.config.fail_after)
            for cid, comp in self.components.items()
            if isinstance(comp, Sink) and getattr(comp.config, "fail_after", None)
        }
        self._build_edges()

    # ---- construction --------------------------------------------------------------------

    def _build_edges(self) -> None:
        senders: dict[str, MemoryObjectSendStream[_Item]] = {}
        ports: dict[str, dict[str | None, list[_Edge]]] = {cid: {} for cid in self.components}
        for cid, comp in self.components.items():
            if not isinstance(comp, Sink) and comp.has_default_output:
                ports[cid][None] = []
            for name in output_names(self.config.components[cid], comp):
                ports[cid][name] = []
        for cid, comp in self.components.items():
            if isinstance(comp, Source):
                continue
            size = comp.config.buffer
            send, recv = anyio.create_memory_object_stream[_Item](size)
            senders[cid] = send
            self._receivers[cid] = recv
            cm = comp.metrics
            cm.gauge("buffer_events", "events waiting in a component's input buffer",
                     fn=lambda r=recv: r.statistics().current_buffer_used)
            cm.gauge("buffer_max_events", "size of a component's input buffer", fn=lambda s=size: s)
            for output_id in self.graph.inputs.get(cid, []):
                producer, name = self.graph.outputs[output_id]
                ports[producer][name].append(_Edge(cid, send.clone(), recv, comp.config.when_full, cm, self))
        for send in senders.values():
            send.close()  # only the clones held by producers keep each stream open
        for cid, comp in self.components.items():
            self._outputs[cid] = _Outputs(cid, ports[cid], comp.metrics, isinstance(comp, Source))

    # ---- state -------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True when running and every source reports ready (for ``/ready``)."""
        return self.started and not self.draining and all(
            c.ready for c in self.components.values() if isinstance(c, Source)
        )

    def buffered(self) -> dict[str, int]:
        """Events waiting in each consumer's input buffer."""
        return {cid: r.statistics().current_buffer_used for cid, r in self._receivers.items()}

    @property
    def deadline(self) -> float | None:
        """``monotonic()`` time by which the drain ends (``shutdown_timeout`` after shutdown began)."""
        if self.shutdown_at is None:
            return None
        return self.shutdown_at + self.config.settings.shutdown_timeout

    def request_shutdown(self, error: BaseException | None = None) -> None:
        """Begin a graceful shutdown: stop sources, let the rest drain until the deadline.

        The deadline (``shutdown_timeout``) starts now, whether or not the sources have stopped yet.
        """
        if error is not None and self.error is None:
            self.error = error
        if not self.draining:
            log.info("shutting down: stopping sources, draining processors and sinks (at most %g s)",
                     self.config.settings.shutdown_timeout)
        self.draining = True
        if self.shutdown_at is None:
            self.shutdown_at = monotonic()
        self._stop_requested.set()
        if self._sources_scope is not None:
            self._sources_scope.cancel()

    def force_stop(self, reason: str) -> None:
        """Stop at once, cancelling anything still draining; what was lost is counted and logged after."""
        if self.forced:
            return
        self.forced = True
        self.draining = True
        if self.shutdown_at is None:
            self.shutdown_at = monotonic()
        self._stop_requested.set()
        self._force_reason = reason
        for scope in list(self._shields):
            scope.cancel()
        if self._sources_scope is not None:
            self._sources_scope.cancel()
        if self._consumers_scope is not None:
            self._consumers_scope.cancel()

    def _count_stranded(self) -> None:
        """After a forced stop: count (and fail) every event left in a buffer or cut short; log it once."""
        per: dict[str, list[int]] = {}
        for cid, recv in self._receivers.items():
            n = 0
            while True:
                try:
                    _, delivery, _ = recv.receive_nowait()
                except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                    break
                n += 1
                if delivery is not None:
                    delivery.fail()
            if n:
                self.components[cid].metrics.discarded(n, intentional=False, reason="shutdown")
            n += self._taken_unwritten.get(cid, 0)  # (counted and failed already, by _write_batch)
            cut = self._cut_short.get(cid, 0)
            if n or cut:
                per[cid] = [n, cut]
        waiting = self.metrics.value("component_discarded_events_total", intentional="false", reason="shutdown")
        self.lost_on_force = int(waiting)
        reason = getattr(self, "_force_reason", "forced stop")
        if not self.lost_on_force:
            log.error("%s: stopped before the drain finished; no accepted event was lost", reason)
            return
        parts = [f"{cid} {b + c} ({b} buffered, {c} being handled)" for cid, (b, c) in per.items()]
        others = self.lost_on_force - sum(b + c for b, c in per.values())
        if others:
            parts.append(f"{others} waiting for room in a full buffer")
        log.error("%s: stopped before the drain finished; %d accepted events lost: %s",
                  reason, self.lost_on_force, "; ".join(parts))

    # ---- running -------------------------------------------------------------------------------

    async def _start_components(self) -> None:
        order = [c for c in self.components.values() if isinstance(c, Sink)]
        order += [c for c in self.components.values() if isinstance(c, Processor)]
        order += [c for c in self.components.values() if isinstance(c, Source)]
        started: list[Component] = []
        for comp in order:
            try:
                await comp.start()
            except Exception as e:
                for s in reversed(started):
                    with anyio.CancelScope(shield=True):
                        try:
                            await s.stop()
                        except Exception:
                            log.exception("stopping %s after a failed start", s.name)
                raise PipelineError(f"{comp.role} '{comp.name}' ({comp.type_name}) failed to start: "
                                    f"{type(e).__name__}: {e}") from e
            started.append(comp)
        for comp in self.components.values():
            if isinstance(comp, Sink) and _overrides(comp, Sink, "healthcheck"):
                try:
                    await comp.healthcheck()
                    comp.metrics.gauge("component_healthy", "1 if the last health check passed").set(1)
                except Exception as e:
                    comp.metrics.gauge("component_healthy", "1 if the last health check passed").set(0)
                    comp.metrics.error("healthcheck")
                    log.warning("sink '%s' health check failed: %s", comp.name, e)

    async def _stop_components(self) -> None:
        """Stop every component at once, all within what is left of the drain deadline (plus a grace)."""
        deadline = self.deadline if self.deadline is not None else monotonic() + self.config.settings.shutdown_timeout
        budget = max(deadline - monotonic(), 0.0) + STOP_GRACE

        stopping: set[str] = set()

        async def stop(comp: Component) -> None:
            stopping.add(comp.name)
            try:
                await comp.stop()
            except Exception as e:
                log.error("%s '%s' failed to stop cleanly: %s", comp.role, comp.name, e)
            stopping.discard(comp.name)  # not in `finally`: one cancelled at the deadline stays named

        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(budget) as scope:
                async with anyio.create_task_group() as tg:
                    for comp in self.components.values():
                        tg.start_soon(stop, comp)
            if scope.cancelled_caught:
                log.warning("still stopping at the shutdown deadline, cut short: %s", ", ".join(sorted(stopping)))

    async def _run_source(self, comp: Source) -> None:
        outputs = self._outputs[comp.name]
        try:
            await comp.run(outputs.emit)
        except Exception as e:
            comp.metrics.error(type(e).__name__)
            log.error("source '%s' stopped with an error: %s: %s", comp.name, type(e).__name__, e)
        finally:
            outputs.close()

    async def _handle_error(self, comp: Component, event: Event, exc: Exception) -> bool:
        """Apply ``on_error``; True when the event counts as handled (dead-lettered)."""
        comp.metrics.error(type(exc).__name__)
        health = self.health.get(comp.name)
        if health is not None:
            health.failed(f"{type(exc).__name__}: {exc}")
        mode = comp.config.on_error
        if mode == "stop" or isinstance(exc, PermanentFailure):
            why = "on_error = stop" if mode == "stop" else "a permanent failure"
            self.handling_errors.log(logging.ERROR, f"{comp.name}:stop:{type(exc).__name__}",
                                     "%s '%s' failed on event %s (%s): %s: %s",
                                     comp.role, comp.name, event.id, why, type(exc).__name__, exc)
            comp.metrics.discarded(intentional=False)
            self.request_shutdown(PipelineError(f"{comp.role} '{comp.name}' failed: {type(exc).__name__}: {exc}"))
            return False
        comp.metrics.discarded(intentional=False)
        if mode == "dead_letter":
            dl = make_event(
                "dead_letter",
                room_id=event.room_id,
                ts=self.clock.time(),
                data={
                    "component": comp.name,
                    "component_type": comp.type_name,
                    "error_type": type(exc).__name__,
                    "error": str(exc),
                    "traceback": format_traceback(exc),
                    "event": event.to_dict(),
                },
            )
            await self._outputs[comp.name].emit(dl, DEAD_LETTER_OUTPUT)
            return True
        errors = self._error_logs.get(comp.name)
        if errors is None:
            errors = self._error_logs[comp.name] = RateLimitedLog(log, interval=60.0)
        errors.log(logging.WARNING, type(exc).__name__, "%s '%s' dropped event %s: %s: %s",
                   comp.role, comp.name, event.id, type(exc).__name__, exc)
        return False

    def swap_later(self, new: Component) -> None:
        """Replace the running processor or sink of the same name by ``new`` (built by the caller, not started).

        The swap happens at the consumer's next event: the old instance has finished the event it
        was handling; it is flushed and stopped once ``new`` has started (if ``new`` fails to start,
        the old one goes on). Nothing buffered is lost: the new instance reads the same input buffer.
        """
        self._swaps[new.name] = new

    async def _swap(self, old: Processor | Sink, has_flush: bool) -> Processor | Sink:
        new = self._swaps.pop(old.name)
        assert isinstance(new, (Processor, Sink))
        try:
            await new.start()
        except Exception as e:
            log.error("reload: the new %s '%s' failed to start (%s: %s); the old one goes on",
                      new.role, new.name, type(e).__name__, e)
            return old
        if has_flush:
            await self._flush(old, final=True)
        try:
            await old.stop()
        except Exception as e:
            log.error("%s '%s' failed to stop cleanly when replaced: %s", old.role, old.name, e)
        self.components[new.name] = new
        if isinstance(new, Sink) and getattr(new.config, "fail_after", None):
            self.health[new.name] = SinkHealth(new.name, new.config.fail_after)
        log.info("reload: %s '%s' replaced; it goes on from its input buffer", new.role, new.name)
        return new

    async def _run_consumer(self, comp: Processor | Sink) -> None:
        recv = self._receivers[comp.name]
        outputs = self._outputs[comp.name]
        emit = outputs.emit

        def bind(c: Processor | Sink) -> tuple[Any, bool, ComponentMetrics, bool, SinkHealth | None,
                                               Histogram | None, bool]:
            is_sink = isinstance(c, Sink)
            counts = is_sink and not getattr(c, "confirms_delivery", False)
            return (c.write if is_sink else c.process, _overrides(c, Sink if is_sink else Processor, "flush"),
                    c.metrics, counts, self.health.get(c.name), c.metrics.sink_latency() if is_sink else None,
                    is_sink and _overrides(c, Sink, "write_batch"))

        handler, has_flush, cm, counts_delivery, health, latency, batches = bind(comp)
        received = cm.received
        state = _buffer_state(recv)
        fast = _fast_state(recv)
        buf = fast.buffer if fast is not None else None

        async def handle(event: Event, delivery: Delivery | None, accepted: float) -> None:
            """One event through the component, settled: counted, its delivery released, errors handled."""
            received.inc()
            outputs.current = delivery
            outputs.accepted = accepted
            if delivery is not None:
                _current.set(delivery)
            ok = False
            lost_before = cm.lost - cm.lost_before_receipt  # losses of its own, not its buffer's
            if health is not None:
                health.write_started()
            try:
                await handler(event, emit)
                ok = True
            except Exception as e:
                ok = await self._handle_error(comp, event, e)
            except BaseException:  # cancelled by a forced stop while handling this event
                if self.forced:
                    cm.discarded(intentional=False, reason="shutdown")
                    self._cut_short[comp.name] = self._cut_short.get(comp.name, 0) + 1
                raise
            finally:
                outputs.current = outputs.accepted = None
                if delivery is not None:
                    _current.set(None)
                    delivery.release(ok)
            lost_own = cm.lost - cm.lost_before_receipt != lost_before
            if ok and not lost_own:
                if latency is not None:  # the sink's write is done: source -> sink latency
                    latency.observe(monotonic() - accepted)
                if counts_delivery:
                    cm.delivered()
                if health is not None:
                    health.succeeded()
            elif health is not None and lost_own:
                health.failed(health.last_error or "events are lost")

        dirty = False
        last_flush = -FLUSH_INTERVAL
        try:
            while True:
                try:
                    if buf and not fast.waiting_senders and not recv._closed:  # as receive_nowait, without the call
                        event, delivery, accepted = buf.popleft()
                    else:
                        event, delivery, accepted = recv.receive_nowait()
                except anyio.WouldBlock:
                    if not (has_flush and dirty):
                        try:
                            event, delivery, accepted = await recv.receive()
                        except anyio.EndOfStream:
                            break
                    else:
                        # idle: flush now, or when FLUSH_INTERVAL has passed since the last flush
                        # (unless an event comes first)
                        wait = last_flush + FLUSH_INTERVAL - monotonic()
                        got = False
                        if wait > 0:
                            with anyio.move_on_after(wait):
                                try:
                                    event, delivery, accepted = await recv.receive()
                                    got = True
                                except anyio.EndOfStream:
                                    break
                        if not got:
                            dirty = False
                            last_flush = monotonic()
                            await self._flush(comp)
                            try:
                                event, delivery, accepted = await recv.receive()
                            except anyio.EndOfStream:
                                break
                except anyio.EndOfStream:
                    break
                if self._swaps and comp.name in self._swaps:
                    comp = await self._swap(comp, has_flush)
                    handler, has_flush, cm, counts_delivery, health, latency, batches = bind(comp)
                    received = cm.received
                if batches and state is not None:
                    items = [(event, delivery, accepted)]
                    while len(items) < BATCH_MAX:
                        if buf and not fast.waiting_senders and not recv._closed:
                            items.append(buf.popleft())
                            continue
                        try:
                            items.append(recv.receive_nowait())
                        except (anyio.WouldBlock, anyio.EndOfStream):
                            break
                    assert isinstance(comp, Sink)
                    # the batch still counts against the buffer's size while the sink has it, as the one
                    # event a sink handles at a time does: producers see the same room (backpressure and
                    # when_full act as one by one)
                    held = len(items) - 1
                    state.max_buffer_size -= held
                    try:
                        for event, delivery, accepted in await self._write_batch(comp, items, outputs, health,
                                                                                 counts_delivery, latency):
                            await handle(event, delivery, accepted)  # after a failure part-way: one by one
                    finally:
                        state.max_buffer_size += held
                else:
                    await handle(event, delivery, accepted)
                dirty = True
                if has_flush:
                    now = monotonic()
                    if now - last_flush >= FLUSH_INTERVAL:  # busy: still flush every FLUSH_INTERVAL
                        dirty = False
                        last_flush = now
                        await self._flush(comp)
            if has_flush:
                await self._flush(comp, final=True)
        finally:
            outputs.close()

    async def _write_batch(self, comp: Sink, items: list[_Item], outputs: _Outputs, health: SinkHealth | None,
                           counts: bool, latency: Histogram | None) -> list[_Item]:
        """``items`` through ``comp.write_batch``, each settled as :meth:`_run_consumer` settles one event.

        Returns the items after one that failed: the caller hands them to ``write`` one by one.
        """
        cm = comp.metrics
        batch = Batch([event for event, _, _ in items], [delivery for _, delivery, _ in items])
        lost_before = cm.lost - cm.lost_before_receipt
        if health is not None:
            health.write_started()
        error: Exception | None = None
        try:
            await comp.write_batch(batch, outputs.emit)
        except Exception as e:
            error = e
        except BaseException:  # cancelled by a forced stop part-way
            done = min(batch.written, len(items) - 1)  # (the event being handled when cancelled is not done)
            cm.received.inc(done + 1)
            self._settle_written(cm, items[:done], lost_before, health, counts, latency)
            if self.forced:
                cm.discarded(len(items) - done, intentional=False, reason="shutdown")
                self._cut_short[comp.name] = self._cut_short.get(comp.name, 0) + 1
                rest = len(items) - done - 1
                self._taken_unwritten[comp.name] = self._taken_unwritten.get(comp.name, 0) + rest
            for _, delivery, _ in items[done:]:
                if delivery is not None:
                    delivery.release(False)
            raise
        done = len(items) if error is None else min(batch.written, len(items) - 1)
        cm.received.inc(done if error is None else done + 1)
        self._settle_written(cm, items[:done], lost_before, health, counts, latency)
        if error is None:
            return []
        event, delivery, _ = items[done]
        outputs.current = delivery
        if delivery is not None:
            _current.set(delivery)
        ok = False
        try:
            ok = await self._handle_error(comp, event, error)
        finally:
            outputs.current = None
            if delivery is not None:
                _current.set(None)
                delivery.release(ok)
        return items[done + 1:]

    @staticmethod
    def _settle_written(cm: ComponentMetrics, items: list[_Item], lost_before: int, health: SinkHealth | None,
                        counts: bool, latency: Histogram | None) -> None:
        """Release the deliveries of events a batch wrote; count them delivered (if the runtime counts this
        sink's deliveries) and observe their latency, unless the sink counted a loss."""
        for _, delivery, _ in items:
            if delivery is not None:
                delivery.release(True)
        if not items:
            return
        if cm.lost - cm.lost_before_receipt == lost_before:
            if latency is not None:
                latency.observe_since(monotonic(), [accepted for _, _, accepted in items])
            if counts:
                cm.delivered(len(items))
            if health is not None:
                health.succeeded()
        elif health is not None:
            health.failed(health.last_error or "events are lost")

    async def _flush(self, comp: Processor | Sink, final: bool = False) -> None:
        try:
            await comp.flush()
        except Exception as e:
            comp.metrics.error(type(e).__name__)
            health = self.health.get(comp.name)
            if health is not None:
                health.failed(f"flush: {type(e).__name__}: {e}")
            self.handling_errors.log(logging.ERROR, f"{comp.name}:flush:{type(e).__name__}", "%s '%s' failed %s: %s",
                                     comp.role, comp.name, "its final flush" if final else "to flush", e)

    async def _drain_deadline(self) -> None:
        """Once shutdown begins, force the stop when ``shutdown_timeout`` has passed."""
        await self._stop_requested.wait()
        assert self.deadline is not None
        await anyio.sleep(max(self.deadline - monotonic(), 0.0))
        self.force_stop(f"shutdown_timeout ({self.config.settings.shutdown_timeout:g} s) reached")

    async def _watch_health(self) -> None:
        """Apply ``on_persistent_failure`` to sinks that have failed for ``fail_after`` seconds."""
        tick = min(0.25, min(h.fail_after for h in self.health.values()) / 4)
        while True:
            await anyio.sleep(tick)
            for cid, h in self.health.items():
                comp = self.components[cid]
                if h.recovered:
                    h.recovered = False
                    log.warning("sink '%s' delivers again", cid)
                    if comp.config.on_persistent_failure == "alert":
                        await self._outputs[cid].emit(h.alert(resolved=True, ts=self.clock.time()), ALERTS_OUTPUT)
                if not h.due():
                    continue
                comp.metrics.error("persistent_failure")
                if comp.config.on_persistent_failure == "alert":
                    log.error("sink '%s' has delivered nothing for %.1f s (fail_after = %g): %s; emitting an alert "
                              "and going on (on_persistent_failure = \"alert\")", cid, h.failing_for(), h.fail_after,
                              h.why())
                    await self._outputs[cid].emit(h.alert(resolved=False, ts=self.clock.time()), ALERTS_OUTPUT)
                elif not self.draining:
                    msg = (f"sink '{cid}' has delivered nothing for {h.failing_for():.1f} s (fail_after = "
                           f"{h.fail_after:g}): {h.why()}")
                    log.error("%s; stopping the pipeline (on_persistent_failure = \"stop\")", msg)
                    self.request_shutdown(PipelineError(msg))

    async def _watch_signals(self, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
            task_status.started()
            async for sig in signals:
                name = signal.Signals(sig).name
                if sig == signal.SIGHUP:
                    if not self.draining:
                        log.info("SIGHUP received: reloading %s", ", ".join(str(f) for f in self.config.files))
                        try:
                            reload(self)
                        except ReloadRefused:
                            pass  # logged; the running configuration goes on
                    continue
                if not self.draining:
                    log.warning("%s received: draining for at most %g s (send it again to stop at once)",
                                name, self.config.settings.shutdown_timeout)
                    self.request_shutdown()
                else:
                    self.force_stop(f"second {name}")

    async def _stop_after(self, seconds: float) -> None:
        await anyio.sleep(seconds)
        log.info("--duration %g s reached", seconds)
        self.request_shutdown()

    async def run(
        self,
        *,
        duration: float | None = None,
        handle_signals: bool = False,
        status: Callable[[Pipeline], Any] | None = None,
        task_status: TaskStatus[Pipeline] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Start every component, move events until shutdown, drain, stop.

        Raises :class:`PipelineError` if a component fails to start, a component with
        ``on_error = "stop"`` fails, or a sink fails persistently (``fail_after``).
        ``task_status.started(self)`` fires once events are moving.
        """
        self.started_at = monotonic()
        self.error_logs.attach()
        try:
            await self._start_components()
        except BaseException:
            self.error_logs.detach()
            raise
        pm = plugins.manager()
        error: BaseException | None = None
        try:
            async with anyio.create_task_group() as aux:
                if handle_signals:
                    await aux.start(self._watch_signals)
                from livepipe.runtime.http import serve_metrics

                listen = self.config.settings.metrics.listen
                if listen:
                    await aux.start(serve_metrics, self, listen)
                if duration is not None:
                    aux.start_soon(self._stop_after, duration)
                if status is not None:
                    aux.start_soon(status, self)
                aux.start_soon(self._drain_deadline)
                if self.health:
                    aux.start_soon(self._watch_health)
                with anyio.CancelScope() as consumers_scope:
                    self._consumers_scope = consumers_scope
                    async with anyio.create_task_group() as consumers:
                        for comp in self.components.values():
                            if isinstance(comp, (Processor, Sink)):
                                consumers.start_soon(self._run_consumer, comp, name=f"livepipe:{comp.name}")
                        async with anyio.create_task_group() as sources:
                            self._sources_scope = sources.cancel_scope
                            if self._stop_requested.is_set():
                                sources.cancel_scope.cancel()
                            for comp in self.components.values():
                                if isinstance(comp, Source):
                                    sources.start_soon(self._run_source, comp, name=f"livepipe:{comp.name}")
                            self.started = True
                            roles = [c.role for c in self.components.values()]
                            log.info("running: %d sources, %d processors, %d sinks", roles.count("source"),
                                     roles.count("processor"), roles.count("sink"))
                            pm.hook.livepipe_pipeline_started(pipeline=self)
                            task_status.started(self)
                        if not self.draining:  # every source finished on its own
                            self.request_shutdown()
                aux.cancel_scope.cancel()
        finally:
            self.draining = True
            if self.forced:
                self._count_stranded()
            await self._stop_components()
            for limited in (self.buffer_drops, self.handling_errors):
                limited.close()
            self.error_logs.detach()
            error = self.error
            if self.forced and error is None and self.lost_on_force:
                error = PipelineError(f"forced stop: {self.lost_on_force} accepted events were lost")
            pm.hook.livepipe_pipeline_stopped(pipeline=self, error=error)
        if self.error is not None:
            raise self.error if isinstance(self.error, PipelineError) else PipelineError(str(self.error))
