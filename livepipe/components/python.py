"""The ``python`` processor and sink: call a function of yours for every event.

``module`` is a file next to the config (``"handlers.py"``) or an importable module (``"pkg.mod"``);
``function`` (default ``on_event``) takes the event and may be sync or async. A processor's function
returns what to emit: an Event, an iterable of Events (a list, a generator, an async generator), or
None. A sink's function delivers the event somewhere; what it returns is ignored.

The module is read when the config is loaded (so ``livepipe validate`` reports a file that does not
import, or a missing function, naming both), and read again when its source file changes: the file's
mtime is looked at no more than once per ``reload_interval`` seconds, on the next event. A reload that
fails keeps the previous function, logs the error once with the file and line, and counts
``component_errors_total{error_type="reload"}``. Exceptions raised by the function are handled as
``on_error`` says (``dead_letter`` sends the event on with the traceback) and are logged rate-limited.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

from pydantic import BaseModel, ConfigDict

from livepipe.component import Context, Emit, Processor, Sink
from livepipe.errors import ConfigurationError
from livepipe.events import Event
from livepipe.runtime.errorlog import ErrorLog
from livepipe.schema import ProcessorConfig, SinkConfig, field

#: A module read from a file is registered in ``sys.modules`` under this prefix plus its stem and a hash
#: of its path (so ``handlers.py`` never shadows a module called ``handlers``, or ``json.py`` the json module).
FILE_MODULE_PREFIX = "livepipe_script_"


class UserCodeError(ConfigurationError):
    """The user's module cannot be used: not found, does not import, or lacks the function."""


class _PythonKeys(BaseModel):
    """The keys the python processor and sink share."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    module: str = field(
        description='a Python file, relative to the config file\'s directory (`"handlers.py"`), or an importable '
        'module (`"pkg.mod"`; the config file\'s directory is searched too)',
        min_length=1,
    )
    function: str = field("on_event", description="the function to call with each event (sync or async)",
                          min_length=1)
    reload: bool = field(True, description="read the module again when its source file changes")
    reload_interval: float = field(1.0, description="look at the source file's modification time at most this "
                                   "often (seconds, on the next event)", ge=0.05)


class PythonProcessorConfig(ProcessorConfig, _PythonKeys):
    """Config of the ``python`` processor."""


class PythonSinkConfig(SinkConfig, _PythonKeys):
    """Config of the ``python`` sink."""


@dataclass
class _Module:
    """One user module as last read: the module, its source file, and the stamp of that file then."""

    module: ModuleType
    path: Path | None
    stamp: tuple[int, ...] | None
    failed_stamp: tuple[int, ...] | None = None


#: Modules read by any python component of this process, by module name (two components naming the
#: same file share one module, as two imports would).
_modules: dict[str, _Module] = {}
_lock = threading.Lock()


def _stamp(path: Path | None) -> tuple[int, ...] | None:
    """What tells one version of a file from the next without reading it: mtime, ctime, size and inode
    (an editor that saves by renaming makes a new inode; timestamps alone can repeat within a clock tick)."""
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino


def _is_path(module: str) -> bool:
    return module.endswith(".py") or "/" in module or "\\" in module


def _where(exc: BaseException, path: Path | None) -> str:
    """``file:line`` of the error in the user's source: a SyntaxError's own place, else the deepest frame
    in ``path`` (or the deepest frame outside importlib)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if path is not None and Path(f.filename) == path]
    outside = [f for f in frames if "importlib" not in f.filename and not f.filename.startswith("<frozen")]
    frame = (ours or outside or frames or [None])[-1]
    return f"{frame.filename}:{frame.lineno}" if frame is not None else str(path or "?")


def _compile(path: Path) -> CodeType:
    # compiled from the text every time, never from __pycache__: a .pyc is matched by whole-second mtime
    # and size, so an edit within the same second would run the old code
    return compile(path.read_bytes(), str(path), "exec", dont_inherit=True)


def _exec_into(module: ModuleType, path: Path) -> None:
    exec(_compile(path), module.__dict__)


def _fresh(name: str, path: Path, like: ModuleType | None) -> ModuleType:
    """A new module object ``name`` for ``path`` (with ``like``'s spec and package when reloading)."""
    spec = like.__spec__ if like is not None and like.__spec__ is not None else \
        importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec) if spec is not None else ModuleType(name)
    module.__file__ = str(path)
    return module


def _read_file_module(path: Path) -> _Module:
    digest = hashlib.blake2b(str(path).encode(), digest_size=4).hexdigest()
    name = f"{FILE_MODULE_PREFIX}{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{digest}"
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.append(folder)  # its neighbours import as they would next to a script
    stamp = _stamp(path)
    module = _fresh(name, path, None)
    previous = sys.modules.get(name)
    sys.modules[name] = module  # (dataclasses and pickle look the module up while it runs)
    try:
        _exec_into(module, path)
    except BaseException:
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
        raise
    return _Module(module, path, stamp)


def _import_module(name: str, config_dir: Path) -> _Module:
    folder = str(config_dir)
    if folder not in sys.path:
        sys.path.append(folder)
    module = importlib.import_module(name)
    source = getattr(module, "__file__", None)
    path = Path(source) if source and source.endswith(".py") else None
    return _Module(module, path, _stamp(path))


def _refresh(known: _Module, path: Path) -> None:
    """Read ``path`` again into ``known``'s module object (whoever imported it sees the change)."""
    stamp = _stamp(path)
    new = _fresh(known.module.__name__, path, known.module)
    _exec_into(new, path)
    known.module.__dict__.update(new.__dict__)
    known.stamp = stamp
    known.failed_stamp = None


def load_module(module: str, config_dir: Path) -> _Module:
    """Read (or find already read) the module a python component names; raises :class:`UserCodeError`."""
    key = module
    if _is_path(module):
        path = Path(module).expanduser()
        path = (path if path.is_absolute() else config_dir / path).resolve()
        key = str(path)
    with _lock:
        known = _modules.get(key)
        if known is not None and (known.path is None or _stamp(known.path) == known.stamp):
            return known
        try:
            if known is not None:  # read before, changed since: read the new version into the same module
                assert known.path is not None
                _refresh(known, known.path)
                return known
            if _is_path(module):
                if not path.is_file():
                    raise UserCodeError(f"module {module!r}: no file {path} (a path is relative to the config "
                                        f"file's directory, {config_dir})")
                loaded = _read_file_module(path)
            else:
                loaded = _import_module(module, config_dir)
        except UserCodeError:
            raise
        except ModuleNotFoundError as e:
            if e.name is not None and (module == e.name or module.startswith(e.name + ".")):
                raise UserCodeError(f"module {module!r} is not importable ({e}); give a file path such as "
                                    f"\"handlers.py\", or install the package") from e
            raise UserCodeError(f"cannot import {module!r}: {_where(e, None)}: {type(e).__name__}: {e}") from e
        except (Exception, SystemExit) as e:  # (a module that calls sys.exit() on import is an error, not an exit)
            where = _where(e, path if _is_path(module) else None)
            raise UserCodeError(f"cannot import {module!r}: {where}: {type(e).__name__}: {e}") from e
        _modules[key] = loaded
        return loaded


def _function_of(loaded: _Module, module: str, function: str) -> Callable[..., Any]:
    """``function`` of the module, checked to be callable with one argument; raises :class:`UserCodeError`."""
    fn = getattr(loaded.module, function, None)
    if fn is None:
        defined = sorted(n for n, v in vars(loaded.module).items()
                         if inspect.isfunction(v) and not n.startswith("_") and v.__module__ == loaded.module.__name__)
        listing = ", ".join(defined) or "none"
        raise UserCodeError(f"{module} has no function {function!r} (functions it defines: {listing}); "
                            f"set function = \"NAME\"")
    if not callable(fn):
        raise UserCodeError(f"{function!r} in {module} is a {type(fn).__name__}, not a function")
    try:
        inspect.signature(fn).bind(None)
    except TypeError:
        raise UserCodeError(f"{module}: {function} must take one argument (the event), "
                            f"its signature is {function}{inspect.signature(fn)}") from None
    except ValueError:  # no signature to look at (some builtins): let the first call tell
        pass
    return fn


class UserFunction:
    """The user's function, reloaded when its source file changes (see the module docstring)."""

    def __init__(self, module: str, function: str, config_dir: Path, log: Any, *, reload: bool = True,
                 interval: float = 1.0, now: Callable[[], float] | None = None,
                 on_reload_error: Callable[[], None] | None = None) -> None:
        self.module = module
        self.function = function
        self.log = log
        self.reload = reload
        self.interval = interval
        self._now = now
        self._on_reload_error = on_reload_error
        self.reloads = 0
        self._loaded = load_module(module, config_dir)
        self.fn = _function_of(self._loaded, module, function)
        self._next_check = self._clock() + interval

    def _clock(self) -> float:
        return self._now() if self._now is not None else time.monotonic()

    def current(self) -> Callable[..., Any]:
        """The function to call now: looks at the source file when ``interval`` has passed since the last look."""
        if self.reload:
            now = self._clock()
            if now >= self._next_check:
                self._next_check = now + self.interval
                self._check()
        return self.fn

    def _check(self) -> None:
        loaded = self._loaded
        path = loaded.path
        if path is None:
            return
        stamp = _stamp(path)
        if stamp is None or stamp == loaded.stamp:
            # unchanged, or another component sharing the module reloaded it: take its function
            fn = getattr(loaded.module, self.function, None)
            if callable(fn) and fn is not self.fn:
                self.fn = fn
            return
        if stamp == loaded.failed_stamp:
            return  # this version failed already (and was reported): wait for the next edit
        with _lock:
            try:
                new = _fresh(loaded.module.__name__, path, loaded.module)
                _exec_into(new, path)
                fn = _function_of(_Module(new, path, stamp), self.module, self.function)
            except (Exception, SystemExit) as e:
                loaded.failed_stamp = stamp
                where = f"{path}" if isinstance(e, UserCodeError) else _where(e, path)
                self.log.error("%s: reload failed, still running the previous %s: %s: %s",
                               where, self.function, type(e).__name__, e)
                if self._on_reload_error is not None:
                    self._on_reload_error()
                return
            loaded.module.__dict__.update(new.__dict__)  # one module object: whoever imported it sees the change
            loaded.stamp = stamp
            loaded.failed_stamp = None
        self.fn = fn
        self.reloads += 1
        self.log.info("reloaded %s (%s)", self.module, path)


async def call(fn: Callable[..., Any], event: Event) -> Any:
    """Call the user's function (sync or async) and return what it returned (awaited if awaitable)."""
    result = fn(event)
    if inspect.isawaitable(result):
        result = await result
    return result


async def events_of(result: Any, function: str) -> list[Event]:
    """What a processor function returned, as a list of events; raises ``TypeError`` naming what is wrong."""
    if result is None:
        return []
    if isinstance(result, Event):
        return [result]
    if inspect.isasyncgen(result):
        items = [x async for x in result]
    elif isinstance(result, (str, bytes, dict)) or not hasattr(result, "__iter__"):
        raise TypeError(f"{function} returned a {type(result).__name__}; return an Event, a list of Events, "
                        f"or None (build events with livepipe.make_event or event.replace)")
    else:
        items = list(result)
    for x in items:
        if not isinstance(x, Event):
            raise TypeError(f"{function} returned a {type(x).__name__} among its events; each must be an Event")
    return items


class _PythonComponent:
    """What the processor and the sink share: loading, reloading, calling, and logging failures."""

    config: PythonProcessorConfig | PythonSinkConfig
    context: Context
    log: Any
    metrics: Any

    def _setup(self) -> None:
        c = self.config
        self.user = UserFunction(c.module, c.function, self.context.config_dir, self.log, reload=c.reload,
                                 interval=c.reload_interval, now=self.context.clock.monotonic,
                                 on_reload_error=lambda: self.metrics.error("reload"))
        self._errors = ErrorLog(self.log)

    async def _run(self, event: Event) -> Any:
        try:
            return await call(self.user.current(), event)
        except Exception as e:
            self._errors.report(f"{type(e).__name__}@{_where(e, self.user._loaded.path)}",
                                "%s raised %s on event %s (%s)", self.config.function, type(e).__name__,
                                event.id, event.kind, exc_info=e)
            raise


class PythonProcessor(_PythonComponent, Processor):
    """Call a Python function for every event and emit what it returns (an Event, several, or None)."""

    type_name = "python"
    Config = PythonProcessorConfig

    def __init__(self, config: PythonProcessorConfig, context: Context) -> None:
        super().__init__(config, context)
        self._setup()

    async def process(self, event: Event, emit: Emit) -> None:
        """Call the function; emit each event it returns on the default output."""
        result = await self._run(event)
        events = await events_of(result, self.config.function)
        if not events:
            self.metrics.discarded(intentional=True)
        for ev in events:
            await emit(ev)


class PythonSink(_PythonComponent, Sink):
    """Call a Python function for every event (to deliver it somewhere of your own)."""

    type_name = "python"
    Config = PythonSinkConfig

    def __init__(self, config: PythonSinkConfig, context: Context) -> None:
        super().__init__(config, context)
        self._setup()
        self._warned_return = False

    async def write(self, event: Event, emit: Emit) -> None:
        """Call the function; a sink emits nothing, so what it returns is ignored (with one warning)."""
        result = await self._run(event)
        if result is not None and not self._warned_return:
            self._warned_return = True
            self.log.warning("%s returned a %s, which a sink ignores; to emit events use a python processor",
                             self.config.function, type(result).__name__)
