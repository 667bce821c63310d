"""The ``filter`` processor: keep the events that match a set of conditions, drop the rest."""

from __future__ import annotations

from livepipe.component import Context, Emit, Processor
from livepipe.components.conditions import MatchSpec, compile_match
from livepipe.events import Event
from livepipe.schema import ProcessorConfig, field


class FilterConfig(ProcessorConfig, MatchSpec):
    """Config of the ``filter`` processor: the match keys of :class:`MatchSpec` plus ``negate``."""

    negate: bool = field(False, description="invert the whole match: keep the events that do *not* match")


class Filter(Processor):
    """Pass on events matching every given condition (or none, with ``negate``); count the rest as discarded."""

    type_name = "filter"
    Config = FilterConfig

    def __init__(self, config: FilterConfig, context: Context) -> None:
        super().__init__(config, context)
        self._match = compile_match(config)
        self._negate = config.negate

    async def process(self, event: Event, emit: Emit) -> None:
        """Emit the event on the default output if it passes, else count an intentional discard."""
        if self._match(event) != self._negate:
            await emit(event)
        else:
            self.metrics.discarded(intentional=True)
