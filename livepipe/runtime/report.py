"""What a run did, in the user's terms: the status line and the summary printed by ``livepipe run``.

Every figure is read from the metrics (so ``/metrics`` and the summary always agree):

* **accepted**: events the sources emitted (``component_sent_events_total`` of sources);
* **delivered**, per sink: ``sink_delivered_events_total``. Each sink counts its own copy of every
  event it reads, so two sinks reading one source deliver up to twice what was accepted (fan-out);
  a processor can also emit more (or fewer) events than it reads;
* **lost**, per component and reason: ``component_discarded_events_total{intentional="false"}``
  with ``reason`` = ``buffer_full`` (the ``when_full`` drop policy), ``shutdown`` (the drain
  deadline or a second signal cut the drain short) or ``error`` (a component failed to handle or
  deliver the event);
* **errors**: ``component_errors_total`` (failures components counted) and
  ``log_error_records_total`` (ERROR lines in the log).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from livepipe.component import Sink, Source
from livepipe.runtime.metrics import LOSS_REASONS

if TYPE_CHECKING:
    from livepipe.runtime.pipeline import Pipeline

_WHY = {
    "buffer_full": "input buffer full (when_full = {policy})",
    "shutdown": "shutdown cut the drain short",
    "error": "component or delivery failure",
}


@dataclass
class Totals:
    """The counts of one pipeline, from its metrics."""

    accepted: int
    accepted_by: dict[str, int]
    delivered: dict[str, int]
    lost: int
    lost_by: dict[tuple[str, str], int] = field(default_factory=dict)  # (component, reason) -> n
    component_errors: int = 0
    error_logs: int = 0

    @classmethod
    def of(cls, pipeline: Pipeline) -> Totals:
        """Read the totals of ``pipeline`` from its metrics."""
        m = pipeline.metrics
        comps = pipeline.components
        accepted_by = {c: int(m.value("component_sent_events_total", component_id=c))
                       for c, x in comps.items() if isinstance(x, Source)}  # fmt: skip
        delivered = {c: int(m.value("sink_delivered_events_total", component_id=c))
                     for c, x in comps.items() if isinstance(x, Sink)}  # fmt: skip
        lost_by: dict[tuple[str, str], int] = {}
        for c in comps:
            for reason in LOSS_REASONS:
                n = int(m.value("component_discarded_events_total", component_id=c, intentional="false",
                                reason=reason))  # fmt: skip
                if n:
                    lost_by[(c, reason)] = n
        lost = int(m.value("component_discarded_events_total", intentional="false"))
        return cls(
            accepted=sum(accepted_by.values()),
            accepted_by=accepted_by,
            delivered=delivered,
            lost=lost,
            lost_by=lost_by,
            component_errors=int(m.value("component_errors_total")),
            error_logs=int(m.value("log_error_records_total")),
        )

    def lost_text(self, pipeline: Pipeline) -> str:
        """``12 (out: 10 shutdown deadline; con: 2 input buffer full (when_full = drop_oldest))``."""
        if not self.lost:
            return "0"
        parts = []
        for (cid, reason), n in self.lost_by.items():
            policy = getattr(pipeline.components[cid].config, "when_full", "")
            parts.append(f"{cid}: {n} {_WHY[reason].format(policy=policy)}")
        return f"{self.lost} ({'; '.join(parts)})"


def _fanout_note(pipeline: Pipeline, totals: Totals) -> str:
    readers = [c for c, x in pipeline.components.items() if isinstance(x, Sink)]
    if len(readers) > 1 or sum(totals.delivered.values()) > totals.accepted:
        return (" (each sink counts its own copy of the events it reads: fan-out can make the sum exceed "
                "accepted, filters make it smaller)")
    return ""


def summary_lines(pipeline: Pipeline) -> list[str]:
    """The lines printed when ``livepipe run`` ends."""
    t = Totals.of(pipeline)
    how = "forced stop" if pipeline.forced else "stopped"
    took = ""
    if pipeline.started_at is not None:
        took = f" after {time.monotonic() - pipeline.started_at:.1f} s"
    by_source = ", ".join(f"{c} {n}" for c, n in t.accepted_by.items())
    delivered = ", ".join(f"{c} {n}" for c, n in t.delivered.items()) or "(no sinks)"
    return [
        f"livepipe: {how}{took}",
        f"  accepted   {t.accepted} events from sources ({by_source})",
        f"  delivered  {delivered}{_fanout_note(pipeline, t)}",
        f"  lost       {t.lost_text(pipeline)}",
        f"  errors     {t.component_errors} counted by components, {t.error_logs} ERROR log lines",
    ]


def status_line(pipeline: Pipeline) -> str:
    """One line: events/s accepted and delivered since the last call, totals, lost, errors."""
    t = Totals.of(pipeline)
    delivered = sum(t.delivered.values())
    now = time.monotonic()
    prev = getattr(pipeline, "_status_prev", None)
    pipeline._status_prev = (now, t.accepted, delivered)  # type: ignore[attr-defined]
    if prev is None:
        rin = rout = 0.0
    else:
        dt = max(now - prev[0], 1e-9)
        rin, rout = (t.accepted - prev[1]) / dt, (delivered - prev[2]) / dt
    per_sink = ", ".join(f"{c} {n:,}" for c, n in t.delivered.items())
    return (f"livepipe: accepted {rin:,.1f}/s, delivered {rout:,.1f}/s | total accepted {t.accepted:,}, "
            f"delivered {per_sink or '-'} | lost {t.lost:,} | errors {t.component_errors:,} "
            f"({t.error_logs:,} logged)")


async def print_status(pipeline: Pipeline, prefix: str = "") -> None:
    """Print :func:`status_line` (after ``prefix``) to stderr every ``status_interval`` seconds."""
    interval = pipeline.config.settings.status_interval
    status_line(pipeline)
    while True:
        await anyio.sleep(interval)
        print(prefix + status_line(pipeline), file=sys.stderr, flush=True)
