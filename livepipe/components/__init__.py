"""Built-in general-purpose components: replay, filter, route, throttle, dedupe, file, console."""

from __future__ import annotations

from livepipe.hookspecs import hookimpl
from livepipe.registry import ComponentRegistry


@hookimpl
def livepipe_register_components(registry: ComponentRegistry) -> None:
    """Register the built-in general-purpose component types."""
