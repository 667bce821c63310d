"""In-process metrics with Vector's names, rendered as Prometheus text.

Counters and gauges are keyed by name and a sorted tuple of labels. Every component gets a
:class:`ComponentMetrics` bound to its id, so ``ctx.metrics.counter("reconnects_total").inc()``
carries ``component_id`` and ``component_type`` labels automatically.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

Labels = tuple[tuple[str, str], ...]

#: Why an accepted event was lost (the ``reason`` label of unintentional discards).
LOSS_REASONS = ("buffer_full", "shutdown", "error")


def _labels(d: dict[str, object]) -> Labels:
    return tuple(sorted((k, str(v)) for k, v in d.items()))


class Counter:
    """A monotonically increasing value."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, n: float = 1) -> None:
        """Add ``n`` (must be >= 0)."""
        self.value += n


class Gauge:
    """A value that goes up and down, or is read from a callback at scrape time."""

    __slots__ = ("value", "fn")

    def __init__(self, fn: Callable[[], float] | None = None) -> None:
        self.value = 0.0
        self.fn = fn

    def set(self, v: float) -> None:
        """Set the value."""
        self.value = v

    def get(self) -> float:
        """Current value (from the callback when there is one)."""
        return float(self.fn()) if self.fn is not None else self.value


class MetricsRegistry:
    """All metrics of one process."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, Labels], Counter] = {}
        self._gauges: dict[tuple[str, Labels], Gauge] = {}
        self._help: dict[str, str] = {}
        self._lock = threading.Lock()

    def counter(self, name: str, help: str = "", **labels: object) -> Counter:
        """Get or create a counter."""
        key = (name, _labels(labels))
        c = self._counters.get(key)
        if c is None:
            with self._lock:
                c = self._counters.setdefault(key, Counter())
                if help:
                    self._help.setdefault(name, help)
        return c

    def gauge(self, name: str, help: str = "", fn: Callable[[], float] | None = None, **labels: object) -> Gauge:
        """Get or create a gauge (``fn`` makes it read a callback at scrape time)."""
        key = (name, _labels(labels))
        g = self._gauges.get(key)
        if g is None:
            with self._lock:
                g = self._gauges.setdefault(key, Gauge(fn))
                if help:
                    self._help.setdefault(name, help)
        elif fn is not None:
            g.fn = fn
        return g

    def value(self, name: str, **labels: object) -> float:
        """Sum of every series of ``name`` whose labels include ``labels`` (0 when none)."""
        want = set(_labels(labels))
        total = 0.0
        for (n, lab), c in self._counters.items():
            if n == name and want <= set(lab):
                total += c.value
        for (n, lab), g in self._gauges.items():
            if n == name and want <= set(lab):
                total += g.get()
        return total

    def series(self) -> Iterable[tuple[str, Labels, float, str]]:
        """Every series as (name, labels, value, 'counter'|'gauge')."""
        for (n, lab), c in sorted(self._counters.items()):
            yield n, lab, c.value, "counter"
        for (n, lab), g in sorted(self._gauges.items()):
            yield n, lab, g.get(), "gauge"

    def render_prometheus(self) -> str:
        """Prometheus text exposition format 0.0.4."""
        lines: list[str] = []
        seen: set[str] = set()
        for name, labels, value, kind in self.series():
            if name not in seen:
                seen.add(name)
                if name in self._help:
                    lines.append(f"# HELP {name} {self._help[name]}")
                lines.append(f"# TYPE {name} {kind}")
            lab = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            v = int(value) if float(value).is_integer() else value
            lines.append(f"{name}{{{lab}}} {v}" if lab else f"{name} {v}")
        return "\n".join(lines) + "\n"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class ComponentMetrics:
    """The metrics of one component, labelled with its id and type."""

    def __init__(self, registry: MetricsRegistry, component_id: str, component_type: str) -> None:
        self.registry = registry
        self.labels = {"component_id": component_id, "component_type": component_type}
        self.received = registry.counter(
            "component_received_events_total", "events a component received", **self.labels
        )
        self.sent = registry.counter("component_sent_events_total", "events a component emitted", **self.labels)
        #: events this component lost (every unintentional discard), for cheap checks per event
        self.lost = 0
        #: of those, lost before it received them (its input buffer full, or a shutdown)
        self.lost_before_receipt = 0
        self._counters: dict[tuple[object, ...], Counter] = {}

    def counter(self, name: str, help: str = "", **labels: object) -> Counter:
        """A counter carrying this component's labels (plus ``labels``).

        Remembered per name and labels, so calling this for every event costs a dict lookup.
        """
        key = (name, *labels.items())
        try:
            return self._counters[key]
        except KeyError:
            c = self._counters[key] = self.registry.counter(name, help, **self.labels, **labels)
            return c
        except TypeError:  # an unhashable label value: rendered with str() by the registry anyway
            return self.registry.counter(name, help, **self.labels, **labels)

    def gauge(self, name: str, help: str = "", fn: Callable[[], float] | None = None, **labels: object) -> Gauge:
        """A gauge carrying this component's labels (plus ``labels``)."""
        return self.registry.gauge(name, help, fn, **self.labels, **labels)

    def discarded(self, n: int = 1, *, intentional: bool, reason: str = "error") -> None:
        """Count discarded events: intentional (filtered, deduplicated) or not.

        An unintentional discard is a loss and carries its ``reason`` (see :data:`LOSS_REASONS`):
        ``buffer_full`` (the ``when_full`` drop policy), ``shutdown`` (the drain deadline or a second
        signal), or ``error`` (the component failed to handle or deliver it; the default).
        """
        if intentional:
            self.counter("component_discarded_events_total", "events a component discarded",
                         intentional="true").inc(n)
            return
        self.lost += n
        self.counter("component_discarded_events_total", "events a component discarded",
                     intentional="false", reason=reason).inc(n)

    def delivered(self, n: int = 1) -> None:
        """Count events a sink delivered (written, published and confirmed, carried out)."""
        self.counter("sink_delivered_events_total", "events a sink delivered to its destination").inc(n)

    def error(self, error_type: str, n: int = 1) -> None:
        """Count an error of the given type (an exception class name or a short code)."""
        self.counter("component_errors_total", "errors a component hit", error_type=error_type).inc(n)


class ErrorLogCounter:
    """Counts the ERROR (and CRITICAL) log records of the process while a pipeline runs.

    The run summary's "errors" is what the user saw in the log, not only what components counted:
    ``log_error_records_total``. It counts through the log record factory, so it adds no handler
    (a handler on the root logger would silence Python's last-resort output when logging is not
    configured).
    """

    def __init__(self, registry: MetricsRegistry) -> None:
        self.counter = registry.counter("log_error_records_total", "ERROR and CRITICAL log records written")
        self._previous: Callable[..., logging.LogRecord] = logging.LogRecord
        self._counting = False

    def _factory(self, *args: object, **kwargs: object) -> logging.LogRecord:
        record = self._previous(*args, **kwargs)
        if self._counting and record.levelno >= logging.ERROR:
            self.counter.inc()
        return record

    def attach(self) -> None:
        """Start counting."""
        self._previous = logging.getLogRecordFactory()
        self._counting = True
        logging.setLogRecordFactory(self._factory)

    def detach(self) -> None:
        """Stop counting (the factory stays in the chain if another one was installed after it)."""
        self._counting = False
        if logging.getLogRecordFactory() == self._factory:
            logging.setLogRecordFactory(self._previous)
