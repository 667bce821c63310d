"""Running a loaded configuration from the command line or from tests.

:func:`run_config` is the async form (embedded simulator, signals, status line); the CLI uses
:func:`run_pipeline_blocking`, which returns the process exit status.
"""

from __future__ import annotations

import contextlib
import logging
import sys
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
    """Start the ``[simulator]`` table's simulator in-process; yields settings for the components."""
    if config.simulator is None:
        yield {}
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
    task_status: TaskStatus[Pipeline] = anyio.TASK_STATUS_IGNORED,
) -> Pipeline:
    """Build and run the pipeline (and its embedded simulator); returns it once stopped.

    ``task_status.started(pipeline)`` fires once events move (for ``task_group.start``).
    """
    async with embedded_simulator(config) as extra:
        pipeline = Pipeline(config, settings=extra)
        if pipeline_ready is not None:
            pipeline_ready(pipeline)
        await pipeline.run(
            duration=duration,
            handle_signals=handle_signals,
            status=None if quiet else print_status,
            task_status=task_status,
        )
        return pipeline


def run_pipeline_blocking(config: PipelineConfig, *, duration: float | None = None, quiet: bool = False) -> int:
    """Run until stopped and print the summary; returns the process exit status.

    0: stopped and nothing accepted was lost. 1: a component failed (``on_error = "stop"``, a
    permanent or persistent sink failure, a failed start) or accepted events were lost, for any
    reason (drop policy, shutdown deadline, failure: the summary says which). 130: a forced stop
    that lost nothing. 78: an invalid configuration.
    """
    built: list[Pipeline] = []
    failure: PipelineError | None = None
    try:
        anyio.run(lambda: run_config(config, duration=duration, quiet=quiet, handle_signals=True,
                                     pipeline_ready=built.append), backend="asyncio")  # fmt: skip
    except ConfigError as e:
        for issue in e.issues:
            print(f"livepipe: {issue}", file=sys.stderr)
        return 78
    except PipelineError as e:
        failure = e
    if built and built[0].started_at is not None:
        for line in summary_lines(built[0]):
            print(line, file=sys.stderr)
    if failure is not None:
        print(f"livepipe: {failure}", file=sys.stderr, flush=True)
        return 1
    sys.stderr.flush()
    pipeline = built[0]
    if Totals.of(pipeline).lost:
        return 1
    return 130 if pipeline.forced else 0
