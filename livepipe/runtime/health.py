"""Persistent failure of a sink: ``fail_after`` seconds with nothing delivered and every attempt failing.

The runtime reports every write to a :class:`SinkHealth`: its start, then success or failure (a
write that raised, or one that counted its event as lost). A sink is in *total failure* from the
first failure after its last success, or from the start of a write that has not returned. Once
that has lasted ``fail_after`` seconds, :meth:`SinkHealth.due` says so once; the pipeline then
stops (``on_persistent_failure = "stop"``) or emits an ``alert`` event and keeps going
(``"alert"``), and emits a second ``alert`` (``data.resolved = true``) at the next success.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from livepipe.events import Event, make_event

#: The named output a sink with ``on_persistent_failure = "alert"`` emits its alerts on.
ALERTS_OUTPUT = "alerts"


class SinkHealth:
    """Tracks one sink's failures (see the module docstring)."""

    def __init__(self, name: str, fail_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.fail_after = fail_after
        self._clock = clock
        self.failing_since: float | None = None
        self.writing_since: float | None = None
        self.last_error = ""
        self.tripped = False
        self.recovered = False

    def write_started(self) -> None:
        """A write begins."""
        self.writing_since = self._clock()

    def succeeded(self) -> None:
        """A write delivered its event: the failure (if any) is over."""
        self.writing_since = None
        self.failing_since = None
        if self.tripped:
            self.tripped = False
            self.recovered = True

    def failed(self, why: str) -> None:
        """A write raised or lost its event."""
        start = self.writing_since if self.writing_since is not None else self._clock()
        self.writing_since = None
        self.last_error = why
        if self.failing_since is None:
            self.failing_since = start

    def failing_for(self) -> float:
        """Seconds of total failure so far (0 when healthy)."""
        now = self._clock()
        starts = [t for t in (self.failing_since, self.writing_since) if t is not None]
        return now - min(starts) if starts else 0.0

    def why(self) -> str:
        """What is failing, for the log and the alert."""
        if self.failing_since is None and self.writing_since is not None:
            return f"one write has not returned for {self.failing_for():.1f} s"
        return self.last_error or "every write fails"

    def due(self) -> bool:
        """True once, when total failure has lasted ``fail_after`` seconds."""
        if self.tripped or self.failing_for() < self.fail_after:
            return False
        self.tripped = True
        return True

    def alert(self, *, resolved: bool, ts: float) -> Event:
        """The ``alert`` event for this sink failing (or, with ``resolved``, working again)."""
        if resolved:
            message = f"sink '{self.name}' delivers again"
        else:
            message = (f"sink '{self.name}' has delivered nothing for {self.failing_for():.1f} s "
                       f"(fail_after = {self.fail_after:g}): {self.why()}")
        data: dict[str, Any] = {
            "severity": "info" if resolved else "critical",
            "component": self.name,
            "code": None,
            "message": message,
            "reason": "persistent_failure",
            "resolved": resolved,
            "fail_after": self.fail_after,
        }
        return make_event("alert", text=message, data=data, ts=ts)
