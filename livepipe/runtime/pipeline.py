"""Running a pipeline: one bounded stream per consumer, producers fan out, shutdown drains.

Every processor and sink owns one bounded anyio memory stream (its input buffer, ``buffer`` events).
Each producer output holds a send handle to the stream of every consumer that reads it, so a
consumer fed by several outputs still sees one ordered queue per producer. ``when_full`` decides
what a producer does when a consumer's buffer is full: ``block`` waits (nothing lost),
``drop_newest`` discards the incoming event, ``drop_oldest`` discards the oldest buffered one;
every drop is counted on the consumer.

Shutdown (first SIGINT/SIGTERM, ``--duration``, or every source finishing): sources are cancelled
between events (an event a source has handed to ``emit`` is always delivered), their streams close,
and processors and sinks drain what is buffered, in wiring order, within ``shutdown_timeout``.
A second signal, or the timeout, cancels whatever is still running and says what was lost.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable
from time import monotonic
from typing import Any

import anyio
from anyio import CancelScope
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from livepipe import plugins
from livepipe.clock import Clock
from livepipe.component import DEAD_LETTER_OUTPUT, Component, Processor, Sink, Source
from livepipe.config import PipelineConfig
from livepipe.errors import PipelineError
from livepipe.events import Event, make_event
from livepipe.registry import ComponentRegistry
from livepipe.runtime.delivery import Delivery, _current
from livepipe.runtime.errorlog import ErrorLog, format_traceback
from livepipe.runtime.graph import Graph, instantiate, output_names, resolve
from livepipe.runtime.metrics import ComponentMetrics, MetricsRegistry

log = logging.getLogger("livepipe.runtime")

#: A source yields to the event loop after this many emits even when no buffer is full.
YIELD_EVERY = 64

#: A consumer with a ``flush`` is flushed at most this often (seconds): after an event when this
#: long has passed since its last flush, or when its input runs empty (waiting out the rest of the
#: interval unless an event comes first), and at shutdown. So a busy file sink fsyncs ten times a
#: second, not once per WebSocket frame.
FLUSH_INTERVAL = 0.1


class _Edge:
    """One producer output -> one consumer's input buffer. Items are ``(event, delivery)``."""

    __slots__ = ("consumer", "send", "recv", "mode", "metrics", "pipeline")

    def __init__(
        self,
        consumer: str,
        send: MemoryObjectSendStream[tuple[Event, Delivery | None]],
        recv: MemoryObjectReceiveStream[tuple[Event, Delivery | None]],
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

    def _lost(self, delivery: Delivery | None, full: bool = False) -> None:
        self.metrics.discarded(intentional=False)
        if full:
            self.metrics.counter("buffer_discarded_events_total", "events dropped because a buffer was full").inc()
        if delivery is not None:
            delivery.fail()

    async def put(self, event: Event, delivery: Delivery | None) -> None:
        if delivery is not None:
            delivery.hold()
        item = (event, delivery)
        try:
            self.send.send_nowait(item)
            return
        except anyio.WouldBlock:
            pass
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self._lost(delivery)
            return
        if self.mode == "drop_newest":
            self._lost(delivery, full=True)
            return
        if self.mode == "drop_oldest":
            try:
                _, old = self.recv.receive_nowait()
                self._lost(old, full=True)
            except (anyio.WouldBlock, anyio.EndOfStream):
                pass
            try:
                self.send.send_nowait(item)
            except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._lost(delivery)
            return
        # block: wait for room. Shielded so that a shutdown never loses an event already emitted;
        # a forced stop cancels the shield scope itself (and blocks no more).
        if self.pipeline.forced:
            self._lost(delivery)
            await anyio.lowlevel.checkpoint()
            return
        with anyio.CancelScope(shield=True) as scope:
            self.pipeline._shields.add(scope)
            try:
                await self.send.send(item)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._lost(delivery)
            finally:
                self.pipeline._shields.discard(scope)
        if scope.cancel_called:
            self._lost(delivery)
            await anyio.lowlevel.checkpoint()  # deliver the forced stop to the producer


class _Outputs:
    """The ``emit`` of one component: routes events to the edges of each of its outputs.

    While a consumer handles an event, ``current`` is that event's :class:`Delivery` (if any), and
    everything the component emits inherits it: the source's acknowledgement then waits for them.
    """

    def __init__(self, cid: str, ports: dict[str | None, list[_Edge]], metrics: ComponentMetrics, is_source: bool):
        self.cid = cid
        self.ports = ports
        self.metrics = metrics
        self.is_source = is_source
        self.current: Delivery | None = None
        self._count = 0

    async def emit(self, event: Event, output: str | None = None, *, delivery: Delivery | None = None) -> None:
        edges = self.ports.get(output)
        if edges is None:
            raise ValueError(
                f"component '{self.cid}' emitted on output {output!r}, which it does not declare; "
                f"declared: {', '.join(repr(k) for k in self.ports if k is not None) or 'only the default output'}"
            )
        if not isinstance(event, Event):
            raise TypeError(f"component '{self.cid}' emitted {type(event).__name__}, not an Event")
        if delivery is None:
            delivery = self.current
        self.metrics.sent.inc()
        if delivery is not None:
            delivery.hold()  # settled only after every edge below has taken its share
            try:
                for edge in edges:
                    await edge.put(event, delivery)
            finally:
                delivery.release()
        else:
            for edge in edges:
                await edge.put(event, None)
        if self.is_source:
            self._count += 1
            if self._count % YIELD_EVERY == 0:
                await anyio.lowlevel.checkpoint()

    def close(self) -> None:
        for edges in self.ports.values():
            for edge in edges:
                edge.send.close()


def _overrides(comp: Component, base: type, name: str) -> bool:
    return getattr(type(comp), name) is not getattr(base, name)


class Pipeline:
    """A runnable pipeline built from a :class:`~livepipe.config.PipelineConfig`.

    Attributes:
        components: component id -> instance.
        metrics: the process-wide :class:`MetricsRegistry`.
        graph: the resolved wiring.
        draining: True once shutdown has begun.
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
        self.components = components or instantiate(
            config, registry or plugins.registry(), self.metrics, clock=self.clock, settings=ctx_settings
        )
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
        self._shields: set[CancelScope] = set()
        self._sources_scope: CancelScope | None = None
        self._consumers_scope: CancelScope | None = None
        self._stop_requested = anyio.Event()
        self._receivers: dict[str, MemoryObjectReceiveStream[tuple[Event, Delivery | None]]] = {}
        self._outputs: dict[str, _Outputs] = {}
        self._error_logs: dict[str, ErrorLog] = {}
        self._build_edges()

    # ---- construction --------------------------------------------------------------------

    def _build_edges(self) -> None:
        senders: dict[str, MemoryObjectSendStream[tuple[Event, Delivery | None]]] = {}
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
            send, recv = anyio.create_memory_object_stream[tuple[Event, Delivery | None]](size)
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

    def request_shutdown(self, error: BaseException | None = None) -> None:
        """Begin a graceful shutdown: stop sources, let the rest drain."""
        if error is not None and self.error is None:
            self.error = error
        if not self.draining:
            log.info("shutting down: stopping sources, draining processors and sinks")
        self.draining = True
        self._stop_requested.set()
        if self._sources_scope is not None:
            self._sources_scope.cancel()

    def force_stop(self, reason: str) -> None:
        """Stop at once, cancelling anything still draining; counts what was lost."""
        if self.forced:
            return
        self.forced = True
        self.draining = True
        pending = {k: v for k, v in self.buffered().items() if v}
        self.lost_on_force = sum(pending.values())
        if pending:
            detail = ", ".join(f"{k} ({v} buffered)" for k, v in pending.items())
            log.error("%s: stopping now; still draining: %s; those events are lost", reason, detail)
        else:
            log.error("%s: stopping now", reason)
        for scope in list(self._shields):
            scope.cancel()
        if self._sources_scope is not None:
            self._sources_scope.cancel()
        if self._consumers_scope is not None:
            self._consumers_scope.cancel()

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
        for comp in self.components.values():
            with anyio.CancelScope(shield=True):
                try:
                    with anyio.move_on_after(max(self.config.settings.shutdown_timeout, 1.0)):
                        await comp.stop()
                except Exception as e:
                    log.error("%s '%s' failed to stop cleanly: %s", comp.role, comp.name, e)

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
        mode = comp.config.on_error
        if mode == "stop":
            log.error("%s '%s' failed on event %s (on_error = stop): %s: %s",
                      comp.role, comp.name, event.id, type(exc).__name__, exc)
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
            errors = self._error_logs[comp.name] = ErrorLog(log, level=logging.WARNING)
        errors.report(type(exc).__name__, "%s '%s' dropped event %s: %s: %s",
                      comp.role, comp.name, event.id, type(exc).__name__, exc)
        return False

    async def _run_consumer(self, comp: Processor | Sink) -> None:
        recv = self._receivers[comp.name]
        outputs = self._outputs[comp.name]
        emit = outputs.emit
        handler = comp.process if isinstance(comp, Processor) else comp.write
        base = Processor if isinstance(comp, Processor) else Sink
        has_flush = _overrides(comp, base, "flush")
        received = comp.metrics.received
        dirty = False
        last_flush = -FLUSH_INTERVAL
        try:
            while True:
                try:
                    event, delivery = recv.receive_nowait()
                except anyio.WouldBlock:
                    if not (has_flush and dirty):
                        try:
                            event, delivery = await recv.receive()
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
                                    event, delivery = await recv.receive()
                                    got = True
                                except anyio.EndOfStream:
                                    break
                        if not got:
                            dirty = False
                            last_flush = monotonic()
                            await self._flush(comp)
                            try:
                                event, delivery = await recv.receive()
                            except anyio.EndOfStream:
                                break
                except anyio.EndOfStream:
                    break
                received.inc()
                outputs.current = delivery
                if delivery is not None:
                    _current.set(delivery)
                ok = True
                try:
                    await handler(event, emit)
                except Exception as e:
                    ok = await self._handle_error(comp, event, e)
                finally:
                    outputs.current = None
                    if delivery is not None:
                        _current.set(None)
                    if delivery is not None:
                        delivery.release(ok)
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

    @staticmethod
    async def _flush(comp: Processor | Sink, final: bool = False) -> None:
        try:
            await comp.flush()
        except Exception as e:
            comp.metrics.error(type(e).__name__)
            log.error("%s '%s' failed %s: %s", comp.role, comp.name, "its final flush" if final else "to flush", e)

    async def _drain_deadline(self) -> None:
        await anyio.sleep(self.config.settings.shutdown_timeout)
        self.force_stop(f"shutdown_timeout ({self.config.settings.shutdown_timeout:g} s) reached")

    async def _watch_signals(self, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for sig in signals:
                name = signal.Signals(sig).name
                if not self.draining:
                    log.warning("%s received: draining (send it again to stop at once)", name)
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

        Raises :class:`PipelineError` if a component fails to start or a component with
        ``on_error = "stop"`` fails. ``task_status.started(self)`` fires once events are moving.
        """
        await self._start_components()
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
                            pm.hook.livepipe_pipeline_started(pipeline=self)
                            task_status.started(self)
                        self.draining = True
                        aux.start_soon(self._drain_deadline)
                aux.cancel_scope.cancel()
        finally:
            self.draining = True
            await self._stop_components()
            error = self.error
            if self.forced and error is None and self.lost_on_force:
                error = PipelineError(f"forced stop: {self.lost_on_force} buffered events were lost")
            pm.hook.livepipe_pipeline_stopped(pipeline=self, error=error)
        if self.error is not None:
            raise self.error if isinstance(self.error, PipelineError) else PipelineError(str(self.error))


def status_line(pipeline: Pipeline) -> str:
    """One line: events/s in (sources) and out (sinks) since the last call, drops, errors."""
    m = pipeline.metrics
    src_ids = [c for c, x in pipeline.components.items() if isinstance(x, Source)]
    sink_ids = [c for c, x in pipeline.components.items() if isinstance(x, Sink)]
    sent = sum(m.value("component_sent_events_total", component_id=c) for c in src_ids)
    written = sum(m.value("component_received_events_total", component_id=c) for c in sink_ids)
    drops = m.value("component_discarded_events_total", intentional="false")
    errors = m.value("component_errors_total")
    now = time.monotonic()
    prev = getattr(pipeline, "_status_prev", None)
    pipeline._status_prev = (now, sent, written)  # type: ignore[attr-defined]
    if prev is None:
        rin = rout = 0.0
    else:
        dt = max(now - prev[0], 1e-9)
        rin, rout = (sent - prev[1]) / dt, (written - prev[2]) / dt
    return (f"livepipe: in {rin:,.1f}/s out {rout:,.1f}/s | total in {int(sent):,} out {int(written):,} "
            f"| drops {int(drops):,} | errors {int(errors):,}")


async def print_status(pipeline: Pipeline) -> None:
    """Print :func:`status_line` to stderr every ``status_interval`` seconds."""
    interval = pipeline.config.settings.status_interval
    status_line(pipeline)
    while True:
        await anyio.sleep(interval)
        print(status_line(pipeline), file=sys.stderr, flush=True)
