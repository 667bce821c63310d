"""Running a loaded configuration from the command line or from tests.

:func:`run_config` is the async form (embedded simulator, signals, status line); the CLI uses
:func:`run_pipeline_blocking`, which returns the process exit status.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from anyio.abc import TaskStatus

from livepipe.config import ConfigError, PipelineConfig
from livepipe.runtime.pipeline import Pipeline, PipelineError
from livepipe.runtime.report import Totals, print_status, summary_lines

log = logging.getLogger("livepipe")


@contextlib.asynccontextmanager
async def embedded_simulator(config: PipelineConfig) -> AsyncIterator[dict[str, Any]]:
    """Start the ``[simulator]`` table's simulator in-process; yields settings for the components.

    With ``[simulator] url`` (or ``livepipe run --sim URL``) nothing starts: the components are pointed
    at that running simulator.
    """
    if config.simulator is None:
        yield {}
        return
    if config.simulator.url is not None:
        log.info("every Bilibili component without its own base_url talks to the simulator at %s",
                 config.simulator.url)
        yield {"simulator_url": config.simulator.url.rstrip("/")}
        return
    from livepipe.sim import run_simulator

    async with run_simulator(**config.simulator.run_kwargs()) as sim:
        log.info("embedded simulator serving %s", sim.base_url)
        yield {"simulator_url": sim.base_url, "simulator": sim}


async def run_config(
    config: PipelineConfig,
    *,
    duration: float | None = None,
    quiet: bool = True,
    handle_signals: bool = False,
    pipeline_ready: Any = None,
    status: Any = None,
    task_status: TaskStatus[Pipeline] = anyio.TASK_STATUS_IGNORED,
) -> Pipeline:
    """Build and run the pipeline (and its embedded simulator); returns it once stopped.

    ``task_status.started(pipeline)`` fires once events move (for ``task_group.start``). ``status``
    replaces the periodic status line (:func:`~livepipe.runtime.report.print_status`) unless ``quiet``.
    """
    async with embedded_simulator(config) as extra:
        if config.worker is not None:
            extra = {**extra, "worker": config.worker[0]}
        pipeline = Pipeline(config, settings=extra)
        if pipeline_ready is not None:
            pipeline_ready(pipeline)
        await pipeline.run(
            duration=duration,
            handle_signals=handle_signals,
            status=None if quiet else (status or print_status),
            task_status=task_status,
        )
        return pipeline


def run_pipeline_blocking(config: PipelineConfig, *, duration: float | None = None, quiet: bool = False,
                          pipeline_ready: Any = None, started: Any = None, status: Any = None,
                          summary: Any = None) -> int:  # fmt: skip
    """Run until stopped and print the summary; returns the process exit status.

    ``started(pipeline)`` is called once events move; ``status`` is :func:`run_config`'s;
    ``summary(pipeline, exit_status)`` replaces printing the summary (a worker of ``--workers`` hands
    its figures to the parent instead).

    0: stopped and nothing accepted was lost. 1: a component failed (``on_error = "stop"``, a
    permanent or persistent sink failure, a failed start) or accepted events were lost, for any
    reason (drop policy, shutdown deadline, failure: the summary says which). 130: a forced stop
    that lost nothing. 78: an invalid configuration.
    """
    built: list[Pipeline] = []
    failure: PipelineError | None = None

    def ready(pipeline: Pipeline) -> None:
        built.append(pipeline)
        if pipeline_ready is not None:
            pipeline_ready(pipeline)

    notify = _Started(started) if started is not None else anyio.TASK_STATUS_IGNORED
    try:
        anyio.run(lambda: run_config(config, duration=duration, quiet=quiet, handle_signals=True,
                                     pipeline_ready=ready, status=status, task_status=notify),
                  backend="asyncio")  # fmt: skip
    except ConfigError as e:
        for issue in e.issues:
            print(f"livepipe: {issue}", file=sys.stderr)
        return 78
    except PipelineError as e:
        failure = e
    code = 1 if failure is not None else (
        1 if Totals.of(built[0]).lost else 130 if built[0].forced else 0)
    if built and built[0].started_at is not None:
        if summary is not None:
            summary(built[0], code)
        else:
            for line in summary_lines(built[0]):
                print(line, file=sys.stderr)
    if failure is not None:
        print(f"livepipe: {failure}", file=sys.stderr, flush=True)
    sys.stderr.flush()
    return code


class _Started:
    """A task status that calls ``fn(pipeline)`` when the pipeline reports that events move."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def started(self, value: Any = None) -> None:
        self.fn(value)


def exit_now(status: int, grace: float = 0.3) -> None:
    """End the process with ``status``, even if a worker thread is stuck in a system call.

    Python waits for every non-daemon thread at exit; a thread blocked for good (an ``fsync`` on a
    dead disk, a write to a pipe nobody reads) would keep the process alive past the shutdown
    deadline. Such threads get ``grace`` seconds, then the process exits without them.
    """
    deadline = time.monotonic() + grace
    for t in threading.enumerate():
        if t is not threading.main_thread() and not t.daemon:
            t.join(max(deadline - time.monotonic(), 0.0))
    sys.stdout.flush()
    sys.stderr.flush()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        log.debug("worker threads still busy at exit; leaving without them")
        logging.shutdown()
        os._exit(status)
    sys.exit(status)
