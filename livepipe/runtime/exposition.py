"""Merging the Prometheus text expositions of several processes into one, each sample labelled by its process.

``livepipe run --workers N`` serves one ``/metrics`` for all its worker processes: the parent reads
each worker's ``/metrics`` and merges them here. This works on the text format alone (whatever
library rendered it): every sample line gets a ``worker="i"`` label first in its label set, and the
samples of one metric family from every worker are put together under that family's ``# HELP`` and
``# TYPE`` lines (the format wants each family in one block, its comment lines once).
:func:`worker_families` renders the supervising process's own families in either format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector

__all__ = ["merge_expositions", "worker_families"]


def _family_of_comment(line: str) -> str | None:
    """The metric family a ``# HELP name ...`` / ``# TYPE name ...`` line describes, else None."""
    parts = line.split(None, 3)
    if len(parts) >= 3 and parts[0] == "#" and parts[1] in ("HELP", "TYPE", "UNIT"):
        return parts[2]
    return None


def _sample_name(line: str) -> str:
    end = len(line)
    for stop in ("{", " ", "\t"):
        i = line.find(stop)
        if 0 <= i < end:
            end = i
    return line[:end]


def _labelled(line: str, label: str, value: str) -> str:
    """``name{a="b"} 1`` -> ``name{worker="0",a="b"} 1``; ``name 1`` -> ``name{worker="0"} 1``."""
    name = _sample_name(line)
    rest = line[len(name):]
    pair = f'{label}="{value}"'
    if rest.startswith("{"):
        inner = rest[1:]
        return f"{name}{{{pair}{'' if inner.lstrip().startswith('}') else ','}{inner}"
    return f"{name}{{{pair}}}{rest}"


def _belongs(sample: str, family: str) -> bool:
    return sample == family or (sample.startswith(family + "_") and sample[len(family) + 1:] in (
        "total", "created", "bucket", "count", "sum", "info", "gcount", "gsum"))


def merge_expositions(texts: Mapping[str, str], label: str = "worker") -> str:
    """One exposition holding every sample of ``texts`` (label value -> exposition text), each labelled.

    Families keep the order in which they first appear; within a family, samples keep their order,
    process by process in the order of ``texts``. ``# EOF`` (OpenMetrics) and blank lines are dropped.
    """
    comments: dict[str, list[str]] = {}
    samples: dict[str, list[str]] = {}
    order: list[str] = []

    def family(name: str) -> str:
        if name not in comments:
            comments[name], samples[name] = [], []
            order.append(name)
        return name

    for value, text in texts.items():
        current: str | None = None
        for raw in text.splitlines():
            line = raw.rstrip()
            if not line or line == "# EOF":
                continue
            if line.startswith("#"):
                name = _family_of_comment(line)
                if name is None:
                    continue
                current = family(name)
                kind = line.split(None, 2)[1]
                if not any(c.split(None, 2)[1] == kind for c in comments[name]):  # once per family
                    comments[name].append(line)
                continue
            name = _sample_name(line)
            if current is None or not _belongs(name, current):
                current = family(name)
            samples[current].append(_labelled(line, label, value))
    out: list[str] = []
    for name in order:
        out.extend(comments[name])
        out.extend(samples[name])
    return "\n".join(out) + "\n" if out else ""


class _WorkerFamilies(Collector):
    """``livepipe_worker_up`` and ``livepipe_worker_restarts_total``, one sample per worker."""

    def __init__(self, up: Mapping[str, int], restarts: Mapping[str, int]) -> None:
        self.up, self.restarts = up, restarts

    def collect(self) -> Iterable[Metric]:
        """Both families."""
        up = GaugeMetricFamily("livepipe_worker_up", "1 while the worker process runs and answers /metrics",
                               labels=["worker"])  # fmt: skip
        for w, v in self.up.items():
            up.add_metric([w], v)
        restarts = CounterMetricFamily("livepipe_worker_restarts_total",
                                       "worker processes started again after a kill by a signal", labels=["worker"])
        for w, n in self.restarts.items():
            restarts.add_metric([w], n)
        return [up, restarts]


def worker_families(up: Mapping[str, int], restarts: Mapping[str, int], *, openmetrics: bool) -> str:
    """The supervising process's own families (worker -> up 0/1, worker -> restarts), rendered by
    prometheus_client in the text format or OpenMetrics (without its ``# EOF``: it goes after the merge)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_WorkerFamilies(up, restarts))
    text = (generate_openmetrics if openmetrics else generate_latest)(registry).decode("utf-8")
    return "".join(line + "\n" for line in text.splitlines() if line and line != "# EOF")
