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
from livepipe.runtime.pipeline import Pipeline, PipelineError, print_status

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
    """Run until stopped; returns 0 after a clean shutdown, 1 after an error, 78 for a bad config."""
    try:
        pipeline = anyio.run(
            lambda: run_config(config, duration=duration, quiet=quiet, handle_signals=True), backend="asyncio"
        )
    except ConfigError as e:
        for issue in e.issues:
            print(f"livepipe: {issue}", file=sys.stderr)
        return 78
    except PipelineError as e:
        print(f"livepipe: {e}", file=sys.stderr)
        return 1
    print(summary_line(pipeline), file=sys.stderr, flush=True)
    if pipeline.forced:
        return 130 if not pipeline.lost_on_force else 1
    return 0


def summary_line(pipeline: Pipeline) -> str:
    """The line printed when ``livepipe run`` ends: totals in, out, dropped, errors."""
    from livepipe.component import Sink, Source

    m = pipeline.metrics
    sent = sum(m.value("component_sent_events_total", component_id=c)
               for c, x in pipeline.components.items() if isinstance(x, Source))
    written = sum(m.value("component_received_events_total", component_id=c)
                  for c, x in pipeline.components.items() if isinstance(x, Sink))
    drops = m.value("component_discarded_events_total", intentional="false")
    errors = m.value("component_errors_total")
    how = "forced stop" if pipeline.forced else "stopped"
    return (f"livepipe: {how}; sources emitted {int(sent)}, sinks received {int(written)}, "
            f"dropped {int(drops)}, errors {int(errors)}")
