"""The ``throttle`` processor: at most ``threshold`` events per ``window`` seconds, per key.

The limit is exact over a sliding window: for every key, no interval of ``window`` seconds ever
passes more than ``threshold`` events. Only passed events count toward the limit. Time is the
processing clock (``context.clock.monotonic()``), not the events' ``ts``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from pydantic import field_validator

from livepipe.component import Context, Emit, Processor
from livepipe.components.conditions import check_path, compile_path, normalize
from livepipe.events import Event
from livepipe.schema import ProcessorConfig, field

DROPPED = "dropped"


class ThrottleConfig(ProcessorConfig):
    """Config of the ``throttle`` processor."""

    threshold: int = field(description="events allowed per window (per key)", ge=1, le=1_000_000)
    window: float = field(description="window length in seconds", gt=0)
    key_field: str | None = field(
        None,
        description="field path to throttle by (`uid`, `room_id`, `data.medal.room_id`); "
        "unset = one global limit. Events where the field is absent share one bucket",
    )
    reroute_dropped: bool = field(
        False,
        description="send excess events to the `<name>.dropped` output instead of discarding them",
    )
    max_keys: int = field(
        100_000,
        description="most keys tracked at once; beyond it the least recently passed key is forgotten",
        ge=1,
    )

    @field_validator("key_field")
    @classmethod
    def _check_key(cls, v: str | None) -> str | None:
        return None if v is None else check_path(v)


class Throttle(Processor):
    """Rate-limit events per key with a sliding-window log (bounded memory: ``max_keys`` x ``threshold``)."""

    type_name = "throttle"
    Config = ThrottleConfig

    def __init__(self, config: ThrottleConfig, context: Context) -> None:
        super().__init__(config, context)
        self._get = compile_path(config.key_field) if config.key_field else None
        # key -> times of the passed events still inside the window; dict order = least recently passed first.
        self._log: dict[Any, deque[float]] = {}
        self._throttled = self.metrics.counter("throttled_events_total", "events over a throttle's limit")

    def output_names(self) -> tuple[str, ...]:
        """``dropped`` when ``reroute_dropped`` is set."""
        return (DROPPED,) if self.config.reroute_dropped else ()

    def _key(self, event: Event) -> Any:
        if self._get is None:
            return None
        v = self._get(event)
        return None if v is None else normalize(v)

    def _sweep(self, now: float) -> None:
        """Forget keys whose newest passed event left the window (they are at the front)."""
        horizon = now - self.config.window
        log = self._log
        while log:
            first = next(iter(log))
            if log[first][-1] > horizon:
                break
            del log[first]

    async def process(self, event: Event, emit: Emit) -> None:
        """Pass the event if its key is under the limit, else discard it (or reroute it to ``dropped``)."""
        now = self.context.clock.monotonic()
        self._sweep(now)
        key = self._key(event)
        times = self._log.get(key)
        if times is not None:
            horizon = now - self.config.window
            while times and times[0] <= horizon:
                times.popleft()
            if len(times) >= self.config.threshold:
                self._throttled.inc()
                if self.config.reroute_dropped:
                    await emit(event, DROPPED)
                else:
                    self.metrics.discarded(intentional=True)
                return
            del self._log[key]  # re-insert at the end: most recently passed
        else:
            times = deque()
            if len(self._log) >= self.config.max_keys:
                del self._log[next(iter(self._log))]
        times.append(now)
        self._log[key] = times
        await emit(event)
