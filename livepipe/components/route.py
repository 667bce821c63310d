"""The ``route`` processor: send events to named outputs chosen by conditions."""

from __future__ import annotations

import re

from pydantic import field_validator

from livepipe.component import Context, Emit, Processor
from livepipe.components.conditions import MatchSpec, compile_match
from livepipe.events import Event
from livepipe.schema import ProcessorConfig, field

#: The output that receives events no route matched (Vector's name).
UNMATCHED = "_unmatched"

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")
_RESERVED = {"dead_letter"}


class RouteConfig(ProcessorConfig):
    """Config of the ``route`` processor."""

    routes: dict[str, MatchSpec] = field(
        description="route name -> match spec (kinds, cmds, room_ids, where); each becomes the output `<name>.<route>`"
    )
    exclusive: bool = field(
        False,
        description="send each event only to the first matching route (in file order) instead of to every match",
    )

    @field_validator("routes")
    @classmethod
    def _check_routes(cls, v: dict[str, MatchSpec]) -> dict[str, MatchSpec]:
        if not v:
            raise ValueError('routes needs at least one route, e.g. [processors.NAME.routes.gifts] kinds = ["gift"]')
        for name in v:
            if not _NAME_RE.match(name):
                raise ValueError(
                    f"route name {name!r} must start with a letter or digit and use only letters, digits, _ and -"
                )
            if name in _RESERVED:
                raise ValueError(f"route name {name!r} is reserved")
        return v


class Route(Processor):
    """Emit each event on every route whose spec matches (or the first, with ``exclusive``), else on ``_unmatched``.

    The ``route`` processor has no default output: wire ``<name>.<route>`` or ``<name>._unmatched``.
    """

    type_name = "route"
    has_default_output = False
    Config = RouteConfig

    def __init__(self, config: RouteConfig, context: Context) -> None:
        super().__init__(config, context)
        self._routes = [(name, compile_match(spec)) for name, spec in config.routes.items()]
        self._exclusive = config.exclusive

    def output_names(self) -> tuple[str, ...]:
        """The configured route names, then ``_unmatched``."""
        return (*self.config.routes, UNMATCHED)

    async def process(self, event: Event, emit: Emit) -> None:
        """Emit the event on each matching route's output, or on ``_unmatched`` when none matches."""
        matched = False
        for name, match in self._routes:
            if match(event):
                matched = True
                await emit(event, name)
                if self._exclusive:
                    return
        if not matched:
            await emit(event, UNMATCHED)
