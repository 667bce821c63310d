"""Time as a dependency: components ask the clock, so tests can move time instead of sleeping."""

from __future__ import annotations

import time

import anyio

__all__ = [
    "Clock",
    "ManualClock",
]


class Clock:
    """The real clock: wall time and ``anyio.sleep``."""

    def time(self) -> float:
        """Current unix time in seconds."""
        return time.time()

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        await anyio.sleep(seconds)


class ManualClock(Clock):
    """A clock that moves only when told: ``await clock.advance(5)`` wakes every sleeper due by then."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._start = start
        self._waiters: list[tuple[float, anyio.Event]] = []

    def time(self) -> float:
        """Current (manual) unix time."""
        return self._now

    def monotonic(self) -> float:
        """Seconds since the clock was made, moving only with :meth:`advance`."""
        return self._now - self._start

    async def sleep(self, seconds: float) -> None:
        """Wait until :meth:`advance` moves the clock ``seconds`` forward."""
        due = self._now + max(seconds, 0.0)
        ev = anyio.Event()
        self._waiters.append((due, ev))
        await ev.wait()

    async def advance(self, seconds: float) -> None:
        """Move time forward step by step, waking sleepers in due order and letting them run."""
        target = self._now + seconds
        while True:
            due = [w for w in self._waiters if w[0] <= target]
            if not due:
                break
            first = min(w[0] for w in due)
            self._now = max(self._now, first)
            for w in [w for w in self._waiters if w[0] <= first]:
                self._waiters.remove(w)
                w[1].set()
            for _ in range(5):
                await anyio.sleep(0)
        self._now = target
