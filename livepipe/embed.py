"""Pipelines in a Python script: ``from livepipe import Pipeline``.

::

    from livepipe import Pipeline

    pipe = Pipeline()
    pipe.add_source("bilibili.danmaku", room_ids=[1000])

    @pipe.on("danmaku")
    def show(ev):
        print(ev.uname, ev.danmaku.text)

    pipe.run_forever()          # Ctrl-C stops it cleanly

A script pipeline is an ordinary one: ``add_source`` / ``add_processor`` / ``add_sink`` write the
same tables a TOML file has (so every option and every check of ``livepipe validate`` applies), and
:meth:`Pipeline.from_config` / :meth:`Pipeline.from_toml` start from a file or text. Decorated functions
become processors (:class:`ScriptHandler`, one per group of handlers; see :meth:`Pipeline.on`), fed by
every source unless ``inputs`` says otherwise. Running uses the same runtime as ``livepipe run``.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel, ConfigDict

from livepipe import plugins
from livepipe.component import DEAD_LETTER_OUTPUT, Context, Emit, Processor
from livepipe.components.conditions import MatchSpec, compile_match
from livepipe.components.python import call, events_of
from livepipe.config import ConfigError, ConfigText, PipelineConfig
from livepipe.events import Event
from livepipe.lograte import RateLimitedLog
from livepipe.registry import ComponentRegistry
from livepipe.runner import embedded_simulator
from livepipe.runtime import pipeline as runtime
from livepipe.runtime.loading import load_config
from livepipe.schema import ProcessorConfig
from livepipe.schema import field as cfg_field

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Pipeline"]

F = TypeVar("F", bound=Callable[..., Any])

#: Key of ``Context.settings`` holding the running script's handler functions, by (group, function name).
HANDLERS_SETTING = "script_handlers"


class HandlerSpec(BaseModel):
    """One decorated function of a handler group: its name and the kinds it takes."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str = cfg_field(description="the function's name (also the name of its output)")
    kinds: list[str] = cfg_field(default_factory=list, description="kinds it handles (wildcards); empty = all")


class HandlerConfig(ProcessorConfig):
    """Config of a group of decorated handlers (written by :meth:`Pipeline.on`, never by hand)."""

    handlers: list[HandlerSpec] = cfg_field(description="the group's functions, in the order they were decorated")


class ScriptHandler(Processor):
    """Functions decorated with ``@pipe.on(...)``, one group: for each event, in arrival order, every function
    whose kinds match is called, in the order they were decorated. What a function returns (an Event, an
    iterable of Events, or None) is emitted on the output ``<group>.<function>``."""

    type_name = "script.handler"
    Config = HandlerConfig
    has_default_output = False

    def __init__(self, config: HandlerConfig, context: Context) -> None:
        super().__init__(config, context)
        functions = context.settings.get(HANDLERS_SETTING) or {}
        self._handlers = [(h.name, compile_match(MatchSpec(kinds=h.kinds or None)), functions.get((self.name, h.name)))
                          for h in config.handlers]
        self._errors = RateLimitedLog(self.log, interval=60.0)

    def output_names(self) -> tuple[str, ...]:
        """One output per function of the group, named after it."""
        return tuple(h.name for h in self.config.handlers)

    async def start(self) -> None:
        """Fail at once when a function is missing (a pipeline built outside :class:`Pipeline`)."""
        missing = [name for name, _, fn in self._handlers if fn is None]
        if missing:
            raise RuntimeError(f"no function for handler(s) {', '.join(missing)}; handlers run through "
                               "livepipe.Pipeline")

    async def process(self, event: Event, emit: Emit) -> None:
        """Call each function whose kinds match; one that raises does not keep the others from running, and
        the event then fails (``on_error``) with the first exception."""
        failed: Exception | None = None
        called = False
        for name, wants, fn in self._handlers:
            if not wants(event):
                continue
            called = True
            try:
                events = await events_of(await call(fn, event), name)
            except Exception as e:
                self._errors.log(logging.ERROR, f"{name}:{type(e).__name__}", "handler %s raised %s on event %s (%s)",
                                 name, type(e).__name__, event.id, event.kind, exc_info=e)
                failed = failed or e
                continue
            for ev in events:
                await emit(ev, name)
        if failed is not None:
            raise failed
        if not called:
            self.metrics.discarded(intentional=True)


@dataclass
class _Group:
    """Handlers that run in one processor: the same inputs and processor keys."""

    name: str
    inputs: list[str] | None
    options: dict[str, Any]
    handlers: list[tuple[str, Callable[..., Any], list[str]]] = field(default_factory=list)


#: The group of handlers decorated without inputs or processor keys.
DEFAULT_GROUP = "handlers"

_ID = re.compile(r"[^0-9A-Za-z_-]+")


class Pipeline:
    """A pipeline built in Python: components added by call or from TOML, handlers added by decorator.

    Build it with ``Pipeline()``, :meth:`from_config` or :meth:`from_toml`; add to it with
    :meth:`add_source`, :meth:`add_processor`, :meth:`add_sink`, :meth:`on` and :meth:`use_simulator`;
    run it with ``await pipe.run()`` or ``pipe.run_forever()``. ``base_dir`` is where relative paths
    (files to write, ``module = "handlers.py"``) resolve when no config file is given (default: the
    current directory).
    """

    def __init__(self, *, base_dir: str | Path | None = None) -> None:
        self._files: list[Path | ConfigText] = []
        self._base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        self._tables: dict[str, dict[str, Any]] = {"sources": {}, "processors": {}, "sinks": {}}
        self._simulator: dict[str, Any] | None = None
        self._groups: dict[str, _Group] = {}
        #: The running (or last run) runtime pipeline: its ``metrics``, ``components``, ``request_shutdown()``.
        self.running: runtime.Pipeline | None = None

    # ---- building --------------------------------------------------------------------------------

    @classmethod
    def from_config(cls, *paths: str | Path) -> Pipeline:
        """A pipeline from TOML files (merged, as ``livepipe run a.toml b.toml`` does); add to it as you like."""
        if not paths:
            raise ValueError("from_config needs at least one path")
        pipe = cls(base_dir=Path(paths[0]).parent)
        pipe._files = [Path(p) for p in paths]
        return pipe

    @classmethod
    def from_toml(cls, text: str, *, base_dir: str | Path | None = None) -> Pipeline:
        """A pipeline from TOML text (errors name it ``<toml>``; relative paths resolve against ``base_dir``)."""
        pipe = cls(base_dir=base_dir)
        pipe._files = [ConfigText(pipe._base_dir / "<toml>", text)]
        return pipe

    def _taken(self) -> set[str]:
        names = {n for tables in self._tables.values() for n in tables} | set(self._groups)
        for section in self._file_tables().values():
            names |= set(section)
        return names

    def _unique(self, wanted: str | None, default: str) -> str:
        taken = self._taken()
        if wanted is not None:
            if wanted in taken:
                raise ValueError(f"a component named {wanted!r} exists already; pick another name")
            return wanted
        base = _ID.sub("_", default).strip("_") or "component"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        return name

    def _add(self, section: str, component_type: str, name: str | None, options: dict[str, Any]) -> str:
        if "type" in options:
            raise TypeError("give the component type as the first argument, not as type=")
        cid = self._unique(name, component_type.rsplit(".", 1)[-1])
        self._tables[section][cid] = {"type": component_type, **options}
        return cid

    def add_source(self, component_type: str, /, name: str | None = None, **options: Any) -> str:
        """Add a source, e.g. ``add_source("bilibili.danmaku", room_ids=[1000])``; returns its name
        (by default the last part of the type: ``danmaku``)."""
        return self._add("sources", component_type, name, options)

    def add_processor(self, component_type: str, /, name: str | None = None, **options: Any) -> str:
        """Add a processor (``inputs=[...]`` names what it reads); returns its name."""
        return self._add("processors", component_type, name, options)

    def add_sink(self, component_type: str, /, name: str | None = None, **options: Any) -> str:
        """Add a sink, e.g. ``add_sink("file", inputs=["danmaku"], path="chat.jsonl")``; returns its name."""
        return self._add("sinks", component_type, name, options)

    def use_simulator(self, **settings: Any) -> None:
        """Run livepipe's Bilibili simulator inside this process and point every Bilibili component at it
        (the ``[simulator]`` table: ``rooms``, ``rate``, ``seed``, ...), or with ``url=`` point them at a
        simulator already running (``livepipe sim``). For trying a script offline."""
        self._simulator = dict(settings)

    def on(self, *kinds: str, inputs: list[str] | None = None, group: str | None = None,
           **options: Any) -> Callable[[F], F]:
        """Decorate a function (sync or async) to call with each event of ``kinds``.

        ``kinds`` are event kinds (``"danmaku"``, ``"gift"``), shell-style wildcards (``"action.*"``) or
        ``"*"``; none means every kind. The function gets the :class:`~livepipe.Event`.

        Handlers run in groups, one processor each: a group sees its events one at a time, in the order
        they arrive, and calls its matching functions in the order they were decorated (as blivedm calls
        its callbacks). Handlers without ``inputs`` or processor keys form the group ``handlers``, which
        reads every source; one with ``inputs=[...]`` or processor keys (``on_error``, ``buffer``, ...)
        gets a group of its own, named after the function, unless ``group=`` names one to share. What a
        function returns (an Event, an iterable of Events, or None) is emitted on ``<group>.<function>``,
        which sinks may read. The function itself is returned unchanged.
        """
        for k in kinds:
            if not isinstance(k, str) or not k:
                raise TypeError(f"@pipe.on takes event kinds as strings, got {k!r}; write @pipe.on(\"danmaku\")")

        def decorate(fn: F) -> F:
            if not callable(fn):
                raise TypeError(f"@pipe.on decorates a function, not a {type(fn).__name__}")
            fname = _ID.sub("_", getattr(fn, "__name__", "handler")).strip("_") or "handler"
            own = inputs is not None or bool(options)
            gname = group or (fname if own else DEFAULT_GROUP)
            g = self._groups.get(gname)
            if g is None:
                if gname in self._taken():
                    raise ValueError(f"a component named {gname!r} exists already; give the handler group=\"...\"")
                g = self._groups[gname] = _Group(gname, list(inputs) if inputs is not None else None, dict(options))
            elif (inputs is not None and list(inputs) != g.inputs) or (options and options != g.options):
                raise ValueError(f"handler group {gname!r} already reads {g.inputs or 'every source'} with "
                                 f"{g.options or 'no other keys'}; give this handler its own group=\"...\"")
            names = [n for n, _, _ in g.handlers]
            name, n = fname, 2
            while name in names or name == DEAD_LETTER_OUTPUT:
                name, n = f"{fname}_{n}", n + 1
            g.handlers.append((name, fn, list(kinds)))
            return fn

        return decorate

    # ---- the configuration -------------------------------------------------------------------------

    def _file_tables(self) -> dict[str, dict[str, Any]]:
        """The component tables of the TOML files (only their names are used; errors are left to the loader)."""
        out: dict[str, dict[str, Any]] = {}
        for f in self._files:
            try:
                data = tomllib.loads(f.text) if isinstance(f, ConfigText) else tomllib.loads(
                    f.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue
            for section in ("sources", "processors", "sinks"):
                if isinstance(data.get(section), dict):
                    out.setdefault(section, {}).update(data[section])
        return out

    def _registry(self) -> ComponentRegistry:
        return plugins.registry().with_types(ScriptHandler)

    def config(self) -> PipelineConfig:
        """The validated configuration; raises :class:`~livepipe.config.ConfigError` listing every problem
        (what ``livepipe validate`` would say)."""
        sources = list(self._file_tables().get("sources", {})) + list(self._tables["sources"])
        handlers = {}
        if not sources and any(g.inputs is None for g in self._groups.values()):
            raise ConfigError("the pipeline has handlers but no source to feed them: add one first, e.g. "
                              "pipe.add_source(\"bilibili.danmaku\", room_ids=[...])")
        for g in self._groups.values():
            handlers[g.name] = {"type": ScriptHandler.type_name,
                                "inputs": g.inputs if g.inputs is not None else sources,
                                "handlers": [{"name": n, "kinds": k} for n, _, k in g.handlers], **g.options}
        tables: dict[str, Any] = {k: dict(v) for k, v in self._tables.items() if v}
        if handlers:
            tables.setdefault("processors", {}).update(handlers)
        if self._simulator is not None:
            tables["simulator"] = self._simulator
        parts = list(self._files)
        if tables or not parts:
            parts.append(ConfigText(self._base_dir / "<script>", tables=tables))
        return load_config(parts, self._registry())

    # ---- running -------------------------------------------------------------------------------------

    async def run(self, *, duration: float | None = None, handle_signals: bool | None = None,
                  task_status: Any = anyio.TASK_STATUS_IGNORED) -> runtime.Pipeline:
        """Validate, start every component, and move events until the sources end, ``duration`` seconds pass,
        :meth:`stop` is called or Ctrl-C (SIGINT/SIGTERM; a second one stops at once). Returns the runtime
        pipeline (its ``metrics``). ``handle_signals`` defaults to True in the main thread.

        Raises :class:`~livepipe.config.ConfigError` for a bad configuration and
        :class:`~livepipe.runtime.pipeline.PipelineError` when a component cannot start or stops it.
        """
        config = self.config()
        if handle_signals is None:
            handle_signals = threading.current_thread() is threading.main_thread()
        handlers = {(g.name, n): fn for g in self._groups.values() for n, fn, _ in g.handlers}
        async with embedded_simulator(config) as extra:
            pipeline = runtime.Pipeline(config, settings={**extra, HANDLERS_SETTING: handlers},
                                        registry=self._registry())
            self.running = pipeline
            await pipeline.run(duration=duration, handle_signals=handle_signals, task_status=task_status)
        return pipeline

    def run_sync(self, *, duration: float | None = None) -> runtime.Pipeline:
        """Blocking :meth:`run` (for scripts): returns when the pipeline has stopped."""
        return anyio.run(lambda: self.run(duration=duration), backend="asyncio")

    def run_forever(self) -> None:
        """Run until Ctrl-C (or until every source ends), then drain and return."""
        self.run_sync()

    def stop(self) -> None:
        """Begin a graceful shutdown of the running pipeline (sources stop, the rest drains)."""
        if self.running is not None:
            self.running.request_shutdown()
