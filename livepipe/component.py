"""Base classes for sources, processors and sinks.

A component type is a class with a ``type_name``, a ``Config`` model (see :mod:`livepipe.schema`)
and the coroutine that does its work. Plugins register classes through the
``livepipe_register_components`` hook; the runtime creates one instance per TOML table.

Events move by plain ``await``: a source calls ``await emit(event)``, a processor's
``process(event, emit)`` and a sink's ``write(event, emit)`` are awaited once per event, in the
order the wiring gives. ``emit(event, "name")`` sends on a named output (``<component>.name``),
which must be listed in :meth:`Component.output_names`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from livepipe.clock import Clock
from livepipe.errors import SinkError
from livepipe.events import Event
from livepipe.preflight import Problems
from livepipe.schema import ComponentConfig, ProcessorConfig, SinkConfig, SourceConfig

__all__ = [
    "Batch",
    "Component",
    "Context",
    "DEAD_LETTER_OUTPUT",
    "Emit",
    "Processor",
    "Sink",
    "Source",
    "emit_many",
]

if TYPE_CHECKING:
    from livepipe.runtime.metrics import ComponentMetrics

#: ``await emit(event)`` sends on the default output; ``await emit(event, "ban")`` on a named one.
#: Sources that acknowledge pass ``delivery=Delivery(callback)`` (see livepipe.runtime.delivery).
Emit = Callable[..., Awaitable[None]]

async def emit_many(emit: Emit, events: Iterable[Event], output: str | None = None) -> None:
    """Emit ``events`` in order: the same as ``for e in events: await emit(e, output)``, in one call.

    For a source that receives events in groups (a WebSocket frame's messages): the runtime's
    ``emit`` then does its per-event bookkeeping once per group. Each event is still buffered,
    counted and dropped (``when_full``) on its own, exactly as when emitted one by one. With any
    other ``emit`` (a test double, a wrapper) the events go through it one at a time.
    """
    owner = getattr(emit, "__self__", None)
    many = getattr(owner, "emit_many", None) if getattr(emit, "__name__", None) == "emit" else None
    if many is not None:
        await many(events, output)
        return
    for event in events:
        if output is None:
            await emit(event)
        else:
            await emit(event, output)


#: The named output a consumer with ``on_error = "dead_letter"`` sends failed events to.
DEAD_LETTER_OUTPUT = "dead_letter"


class PermanentFailure(SinkError):
    """Raised by a sink that cannot work until its configuration or the outside world changes.

    For example a stream the server refuses to create, or credentials the server refuses. The
    runtime stops the pipeline (``livepipe run`` exits 1) whatever ``on_error`` says, instead of
    waiting or retrying forever. The message should name the cause and the fix.
    """


@dataclass
class Context:
    """What the runtime hands every component: its metrics, logger, clock and shared settings.

    Attributes:
        name: the component's id in the TOML (``[sinks.NAME]``).
        metrics: counters for this component (received/sent/discarded/errors, and custom ones).
        log: a logger named ``livepipe.<role>.<name>``.
        clock: time source; use ``clock.sleep`` and ``clock.time`` so tests can move time.
        credentials: the ``[credentials.NAME]`` tables, resolved (secret values are ``SecretStr``).
        settings: the ``[livepipe]`` globals, plus ``simulator_url`` when a ``[simulator]`` runs.
        config_dir: directory of the first config file; relative paths are resolved against it.
    """

    name: str
    metrics: ComponentMetrics
    log: logging.Logger
    clock: Clock = field(default_factory=Clock)
    credentials: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    config_dir: Path = field(default_factory=Path.cwd)

    def path(self, p: str | Path) -> Path:
        """Resolve a path from the config relative to the config file's directory."""
        p = Path(p).expanduser()
        return p if p.is_absolute() else self.config_dir / p


class Component:
    """Common base. Subclass :class:`Source`, :class:`Processor` or :class:`Sink` instead."""

    #: The ``type = "..."`` name in TOML. Dotted names (``bilibili.ban``) are fine.
    type_name: ClassVar[str] = ""
    #: "source", "processor" or "sink"; set by the subclasses below.
    role: ClassVar[str] = ""
    #: The config model for this type.
    Config: ClassVar[type[ComponentConfig]] = ComponentConfig
    #: Named outputs every instance has (besides the default one).
    outputs: ClassVar[tuple[str, ...]] = ()
    #: False for components that emit only on named outputs (``route``); then ``inputs = ["x"]``
    #: naming the bare component is a config error. Sinks never have a default output.
    has_default_output: ClassVar[bool] = True

    def __init__(self, config: Any, context: Context) -> None:
        self.config = config
        self.context = context
        self.name = context.name
        self.log = context.log
        self.metrics = context.metrics

    def output_names(self) -> tuple[str, ...]:
        """Named outputs of this instance; override when they depend on the config (``route``)."""
        return self.outputs

    def can_update_config(self, config: Any) -> bool:
        """True if this running instance can take ``config`` (a changed table) in place (``livepipe reload``).

        The default is False: a change to the component's table then needs a restart. Override it
        together with :meth:`update_config` when part of the settings can change while running (a
        source's list of rooms, a processor's word list). Must not change anything.
        """
        return False

    def update_config(self, config: Any) -> None:
        """Take ``config`` in place, keeping connections and state (only after :meth:`can_update_config`)."""
        raise NotImplementedError(f"{type(self).__name__} cannot change its configuration while running")

    def preflight(self) -> Problems:
        """Yield a :class:`~livepipe.preflight.Problem` for each thing on this machine that would make ``run`` fail.

        ``livepipe validate`` calls it (unless ``--offline``): a file that must exist, a directory
        that must be writable, a certificate to load. Look, never change anything (create no file,
        open no connection); resolve paths with ``self.context.path``. The helpers in
        :mod:`livepipe.preflight` cover the usual cases. The default finds nothing.
        """
        return iter(())

    async def start(self) -> None:
        """Open resources (files, connections). Called before any event moves."""

    async def stop(self) -> None:
        """Release resources. Called once after the component has handled its last event."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} type={self.type_name!r}>"


class Source(Component):
    """Produces events. Implement :meth:`run`."""

    role = "source"
    Config = SourceConfig

    #: Set to True once connected; ``/ready`` answers 200 when every source is ready.
    ready: bool = True

    #: The config key holding the list this source can be split by across ``livepipe run --workers``
    #: processes (``room_ids`` for ``bilibili.danmaku``): each worker gets every N-th entry. None: the
    #: source cannot be split and runs in worker 0 only (see docs/performance.md).
    shard_key: ClassVar[str | None] = None

    async def run(self, emit: Emit) -> None:
        """Produce events with ``await emit(event)`` until done or cancelled (cancellation = shutdown)."""
        raise NotImplementedError

    def health(self) -> dict[str, Any] | None:
        """Detail for ``/health`` (JSON-ready), or None. A non-empty ``degraded`` entry marks the
        process ``degraded`` (still serving, on a fallback)."""
        return None


class Processor(Component):
    """Transforms, filters or routes events. Implement :meth:`process`."""

    role = "processor"
    Config = ProcessorConfig

    async def process(self, event: Event, emit: Emit) -> None:
        """Handle one event: emit zero or more events (on the default or named outputs)."""
        raise NotImplementedError

    async def flush(self) -> None:
        """Called when the input buffer runs empty or 0.1 s of work has passed (at most every 0.1 s), and at
        shutdown."""


class Batch:
    """The events a sink's :meth:`Sink.write_batch` gets, and how many of them it has delivered so far.

    ``deliveries[i]`` is the delivery of ``events[i]`` (or ``None``): during a batch,
    ``livepipe.runtime.delivery.current()`` is not set, so a sink that confirms deliveries itself
    takes its share from here.
    """

    __slots__ = ("events", "deliveries", "written")

    def __init__(self, events: list[Event], deliveries: list[Any] | None = None) -> None:
        self.events = events
        self.deliveries = deliveries if deliveries is not None else [None] * len(events)
        self.written = 0


class Sink(Component):
    """Delivers events somewhere. Implement :meth:`write`; ``emit`` reports results on named outputs."""

    role = "sink"
    Config = SinkConfig

    #: False: an event counts as delivered (``sink_delivered_events_total``) when ``write`` returns
    #: without raising or counting it lost. True: the sink confirms later itself, calling
    #: ``self.metrics.delivered()`` (a NATS sink when the server acknowledges).
    confirms_delivery: ClassVar[bool] = False

    #: True for a sink that acts on a live service (bans a user, sends a message, changes a room).
    #: Such a sink must have a ``dry_run: bool`` config key (checked when it is registered): ``livepipe
    #: test`` sets it unless a test lists the sink in ``allow_actions``, so a config test never acts.
    action: ClassVar[bool] = False

    #: Config keys holding a file path template that takes ``{worker}`` (the ``file`` sink's ``path``):
    #: with ``livepipe run --workers N`` a template without ``{worker}`` gets ``.w{worker}`` before its
    #: file name's extension, so no two worker processes write one file.
    worker_paths: ClassVar[tuple[str, ...]] = ()

    async def write(self, event: Event, emit: Emit) -> None:
        """Deliver one event."""
        raise NotImplementedError

    #: A sink that can deliver several events in one go (one system call for many) overrides
    #: :meth:`write_batch`; the runtime then hands it every event waiting in its input buffer at
    #: once (at most ``livepipe.runtime.pipeline.BATCH_MAX``), never waiting for more to come. The
    #: batch still counts against the buffer's size until it is written (the same room for producers).
    async def write_batch(self, batch: Batch, emit: Emit) -> None:
        """Deliver ``batch.events`` in order, advancing ``batch.written`` as each is delivered.

        If it raises, the events before ``batch.written`` count as delivered (or, with
        ``confirms_delivery``, as handed over), the one at ``batch.written`` as the one that failed
        (``on_error`` applies to it), and the rest go through :meth:`write` one by one, as if there
        had been no batch.
        """
        for event in batch.events:
            await self.write(event, emit)
            batch.written += 1

    async def flush(self) -> None:
        """Called when the input buffer runs empty (a batch boundary) or 0.1 s of work has passed, at most every
        0.1 s, and at shutdown (``livepipe.runtime.pipeline.FLUSH_INTERVAL``)."""

    async def healthcheck(self) -> None:
        """Run once at start; raise an exception with a clear message if the sink cannot work."""
