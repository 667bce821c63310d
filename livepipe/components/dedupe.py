"""The ``dedupe`` processor: drop events already seen recently, by id or by chosen fields.

Memory is bounded: at most ``cache_size`` keys are remembered (least recently kept forgotten
first), and with ``window`` set a key is also forgotten ``window`` seconds after the event that
stored it passed. A duplicate does not extend the window. Time is the processing clock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from pydantic import field_validator

from livepipe.component import Context, Emit, Processor
from livepipe.components.conditions import check_path, compile_path, normalize
from livepipe.events import Event
from livepipe.schema import ProcessorConfig, field


class DedupeConfig(ProcessorConfig):
    """Config of the ``dedupe`` processor."""

    fields: list[str] | None = field(
        None,
        description='field paths whose values together identify an event (`["uid", "text"]`); '
        "unset = the event `id`. Events where all of them are absent are never dropped",
    )
    window: float | None = field(
        None, description="seconds a key is remembered after the event that stored it; unset = until evicted", gt=0
    )
    cache_size: int = field(10_000, description="most keys remembered at once", ge=1, le=100_000_000)

    @field_validator("fields")
    @classmethod
    def _check_fields(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise ValueError("fields must name at least one field path (or be left out to use the event id)")
            for p in v:
                check_path(p)
        return v


class Dedupe(Processor):
    """Forward the first event of each key; discard repeats (intentional) while the key is remembered."""

    type_name = "dedupe"
    Config = DedupeConfig

    def __init__(self, config: DedupeConfig, context: Context) -> None:
        super().__init__(config, context)
        self._seen: OrderedDict[Any, float] = OrderedDict()
        self._key: Callable[[Event], Any]
        if config.fields is None:
            self._key = lambda e: e.id
        else:
            getters = [compile_path(p) for p in config.fields]

            def key(e: Event) -> Any:
                values = [g(e) for g in getters]
                if all(v is None for v in values):
                    return None
                return tuple(None if v is None else normalize(v) for v in values)

            self._key = key

    async def process(self, event: Event, emit: Emit) -> None:
        """Emit the event unless its key was seen (within the window); remember it when emitted."""
        key = self._key(event)
        if key is None:
            await emit(event)
            return
        seen = self._seen
        window = self.config.window
        now = self.context.clock.monotonic()
        if window is not None:
            horizon = now - window
            while seen:
                first_key, first_time = next(iter(seen.items()))
                if first_time > horizon:
                    break
                del seen[first_key]
        if key in seen:
            self.metrics.discarded(intentional=True)
            return
        seen[key] = now
        if len(seen) > self.config.cache_size:
            seen.popitem(last=False)
        await emit(event)
