"""Built-in general-purpose components: replay, filter, route, throttle, dedupe, file, console, nats, python,
sql, http, overlay, notify."""

from __future__ import annotations

from livepipe.hookspecs import hookimpl
from livepipe.registry import ComponentRegistry


@hookimpl
def livepipe_register_components(registry: ComponentRegistry) -> None:
    """Register the built-in general-purpose component types."""
    from livepipe.components.console import ConsoleSink
    from livepipe.components.dedupe import Dedupe
    from livepipe.components.file import FileSink
    from livepipe.components.filter import Filter
    from livepipe.components.http import HttpSink
    from livepipe.components.nats_sink import NatsSink
    from livepipe.components.nats_source import NatsSource
    from livepipe.components.notify import NotifySink
    from livepipe.components.overlay import OverlaySink
    from livepipe.components.python import PythonProcessor, PythonSink
    from livepipe.components.replay import Replay
    from livepipe.components.route import Route
    from livepipe.components.sql import SqlSink
    from livepipe.components.throttle import Throttle

    for cls in (Replay, Filter, Route, Throttle, Dedupe, FileSink, ConsoleSink, NatsSink, NatsSource,
                PythonProcessor, PythonSink, SqlSink, HttpSink, OverlaySink, NotifySink):
        registry.register(cls)
