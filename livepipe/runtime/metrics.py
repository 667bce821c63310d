"""In-process metrics with Vector's names, exposed through prometheus_client.

Counters, gauges and histograms are keyed by name and a sorted tuple of labels. Every component gets a
:class:`ComponentMetrics` bound to its id, so ``ctx.metrics.counter("reconnects_total").inc()``
carries ``component_id`` and ``component_type`` labels automatically.

The values live in plain Python objects (``inc`` is one addition, ``observe`` a bisect and two),
because they are updated for every event; prometheus_client's own metric classes take a lock on
every update (``bench/metrics.py`` measures both). A custom prometheus_client collector reads them
at scrape time, so the exposition (Prometheus text 0.0.4, or OpenMetrics when the scraper asks for
it) is prometheus_client's, and :attr:`MetricsRegistry.collector_registry` can hold further
prometheus_client collectors.
"""

from __future__ import annotations

import logging
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import choose_encoder, generate_latest
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = [
    "ACTION_BUCKETS",
    "LATENCY_BUCKETS",
    "LOSS_REASONS",
    "RECONNECT_BUCKETS",
    "ComponentMetrics",
    "Counter",
    "Gauge",
    "Histogram",
    "MetricsRegistry",
]

Labels = tuple[tuple[str, str], ...]

#: Why an accepted event was lost (the ``reason`` label of unintentional discards).
LOSS_REASONS = ("buffer_full", "shutdown", "error")

#: ``sink_event_latency_seconds``: from an event's acceptance at a source to the end of a sink's
#: write. In-process hand-offs take well under a millisecond; a full buffer or a slow sink seconds.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: ``sink_action_duration_seconds``: one API request of an action sink (a Bilibili call answers in
#: tens to hundreds of milliseconds; the client's timeout is 10 s by default).
ACTION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: ``bilibili_reconnect_duration_seconds``: from a room's connection lost to connected again (the
#: reconnect backoff runs from about a second up to ``backoff_max``, 60 s by default).
RECONNECT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

SINK_LATENCY = "sink_event_latency_seconds"
ACTION_DURATION = "sink_action_duration_seconds"
RECONNECT_DURATION = "bilibili_reconnect_duration_seconds"


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


class Histogram:
    """Observations counted in buckets with upper bounds ``bounds`` (plus ``+Inf``), and their sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(sorted(float(b) for b in bounds))
        self.counts = [0] * (len(self.bounds) + 1)  # per bucket, not cumulative; the last is +Inf
        self.sum = 0.0

    def observe(self, v: float) -> None:
        """Count one observation ``v`` (seconds, for the built-in histograms)."""
        self.counts[bisect_left(self.bounds, v)] += 1
        self.sum += v

    def observe_since(self, now: float, starts: list[float]) -> None:
        """:meth:`observe` ``now - start`` for every start, in order (one call for a batch)."""
        counts, bounds, total = self.counts, self.bounds, self.sum
        for start in starts:
            v = now - start
            counts[bisect_left(bounds, v)] += 1
            total += v
        self.sum = total

    @property
    def count(self) -> int:
        """Observations so far."""
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, float]]:
        """``(le, observations <= le)`` for every bucket, ending with ``+Inf`` (the exposition's form)."""
        out: list[tuple[str, float]] = []
        total = 0
        for bound, n in zip((*self.bounds, float("inf")), list(self.counts), strict=True):
            total += n
            out.append((floatToGoString(bound), total))
        return out


class MetricsRegistry:
    """All metrics of one process."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, Labels], Counter] = {}
        self._gauges: dict[tuple[str, Labels], Gauge] = {}
        self._histograms: dict[tuple[str, Labels], Histogram] = {}
        self._help: dict[str, str] = {}
        self._lock = threading.Lock()
        #: the prometheus_client registry that /metrics exposes: these metrics, plus any collector added
        self.collector_registry = CollectorRegistry(auto_describe=False)
        self.collector_registry.register(_Collector(self))

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

    def histogram(self, name: str, help: str = "", buckets: Sequence[float] = LATENCY_BUCKETS,
                  **labels: object) -> Histogram:
        """Get or create a histogram (``buckets``: upper bounds; a histogram keeps those it was created with)."""
        key = (name, _labels(labels))
        h = self._histograms.get(key)
        if h is None:
            with self._lock:
                h = self._histograms.setdefault(key, Histogram(buckets))
                if help:
                    self._help.setdefault(name, help)
        return h

    def histograms(self, name: str, **labels: object) -> list[Histogram]:
        """Every histogram ``name`` whose labels include ``labels``."""
        want = set(_labels(labels))
        return [h for (n, lab), h in list(self._histograms.items()) if n == name and want <= set(lab)]

    def value(self, name: str, **labels: object) -> float:
        """Sum of every series of ``name`` whose labels include ``labels`` (0 when none).

        For a histogram ``h``, ``h_count`` and ``h_sum`` are its observations and their sum.
        """
        want = set(_labels(labels))
        total = 0.0
        for (n, lab), c in list(self._counters.items()):
            if n == name and want <= set(lab):
                total += c.value
        for (n, lab), g in list(self._gauges.items()):
            if n == name and want <= set(lab):
                total += g.get()
        base, _, part = name.rpartition("_")
        if part in ("count", "sum"):
            for h in self.histograms(base, **labels):
                total += h.count if part == "count" else h.sum
        return total

    def series(self) -> Iterable[tuple[str, Labels, float, str]]:
        """Every counter and gauge series as (name, labels, value, 'counter'|'gauge')."""
        for (n, lab), c in sorted(self._counters.items()):
            yield n, lab, c.value, "counter"
        for (n, lab), g in sorted(self._gauges.items()):
            yield n, lab, g.get(), "gauge"

    def families(self) -> Iterator[Metric]:
        """Every metric as a prometheus_client family (what the collector hands to the exposition)."""
        by_name: dict[tuple[str, str], list[tuple[Labels, object]]] = {}
        for kind, store in (("counter", self._counters), ("gauge", self._gauges), ("histogram", self._histograms)):
            for (n, lab), m in list(store.items()):
                by_name.setdefault((n, kind), []).append((lab, m))
        for (name, kind), members in sorted(by_name.items()):
            doc = self._help.get(name) or name.replace("_", " ")
            members.sort(key=lambda x: x[0])
            if kind == "counter" and name.endswith("_total"):
                fam: Metric = CounterMetricFamily(name, doc)
            else:  # a counter named without _total keeps its name, as an untyped series
                fam = Metric(name, doc, "unknown" if kind == "counter" else kind)
            for lab, m in members:
                d = dict(lab)
                if kind == "counter":
                    fam.add_sample(name, d, m.value)  # type: ignore[attr-defined]
                elif kind == "gauge":
                    fam.add_sample(name, d, m.get())  # type: ignore[attr-defined]
                else:
                    assert isinstance(m, Histogram)
                    cumulative = m.cumulative()
                    for le, n in cumulative:
                        fam.add_sample(name + "_bucket", {**d, "le": le}, n)
                    fam.add_sample(name + "_count", d, cumulative[-1][1])
                    fam.add_sample(name + "_sum", d, m.sum)
            yield fam

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition for a scraper's ``Accept`` header: (body, content type).

        OpenMetrics when the header asks for ``application/openmetrics-text``, else Prometheus text 0.0.4.
        """
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.collector_registry), content_type

    def render_prometheus(self) -> str:
        """Prometheus text exposition format 0.0.4."""
        return generate_latest(self.collector_registry).decode("utf-8")


class _Collector(Collector):
    """Hands the values of a :class:`MetricsRegistry` to prometheus_client at scrape time."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        """Every metric of the registry."""
        return self.registry.families()

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the names are only known at scrape time (no duplicate check with others)."""
        return []


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
        # made at the first use (a series appears once it has counted something), then kept: per event
        self._delivered: Counter | None = None
        self._filtered: Counter | None = None

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

    def histogram(self, name: str, help: str = "", buckets: Sequence[float] = LATENCY_BUCKETS,
                  **labels: object) -> Histogram:
        """A histogram carrying this component's labels (plus ``labels``); ``buckets`` are upper bounds."""
        return self.registry.histogram(name, help, buckets, **self.labels, **labels)

    def sink_latency(self) -> Histogram:
        """``sink_event_latency_seconds`` of this sink (the runtime observes it after every write)."""
        return self.histogram(SINK_LATENCY, "seconds from an event's acceptance at a source to the end of "
                              "this sink's write", LATENCY_BUCKETS)

    def action_duration(self) -> Histogram:
        """``sink_action_duration_seconds``: observe the seconds of each API request an action sink makes."""
        return self.histogram(ACTION_DURATION, "seconds an action sink's API request took", ACTION_BUCKETS)

    def reconnect_duration(self) -> Histogram:
        """``bilibili_reconnect_duration_seconds``: observe the seconds from a connection lost to connected again."""
        return self.histogram(RECONNECT_DURATION, "seconds from a room's connection lost to connected again",
                              RECONNECT_BUCKETS)

    def discarded(self, n: int = 1, *, intentional: bool, reason: str = "error") -> None:
        """Count discarded events: intentional (filtered, deduplicated) or not.

        An unintentional discard is a loss and carries its ``reason`` (see :data:`LOSS_REASONS`):
        ``buffer_full`` (the ``when_full`` drop policy), ``shutdown`` (the drain deadline or a second
        signal), or ``error`` (the component failed to handle or deliver it; the default).
        """
        if intentional:
            c = self._filtered
            if c is None:
                c = self._filtered = self.counter("component_discarded_events_total", "events a component discarded",
                                                  intentional="true")
            c.value += n
            return
        self.lost += n
        self.counter("component_discarded_events_total", "events a component discarded",
                     intentional="false", reason=reason).inc(n)

    def delivered(self, n: int = 1) -> None:
        """Count events a sink delivered (written, published and confirmed, carried out)."""
        c = self._delivered
        if c is None:
            c = self._delivered = self.counter("sink_delivered_events_total",
                                               "events a sink delivered to its destination")
        c.value += n

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
