"""``livepipe run --workers N``: the pipeline in N processes on one machine, the sources' rooms shared out.

The process started by the user is the **parent**: it validates the configuration, starts the
``[simulator]`` if one is embedded, then starts N **workers**, each ``livepipe run`` of the same
files with its share (:mod:`livepipe.runtime.shard`: every N-th room; sources that cannot be split
in worker 0 only). The parent moves no events. It

* serves ``/metrics`` (every worker's exposition merged, each sample labelled ``worker="i"``, plus
  ``livepipe_worker_up`` and ``livepipe_worker_restarts_total``), ``/health`` and ``/ready`` at
  ``[livepipe.metrics] listen``; each worker serves its own on a free local port for the parent;
* forwards SIGTERM and SIGINT (every worker drains within ``shutdown_timeout``, as one process
  does; a second signal forces the stop) and SIGHUP (each worker reloads its share); a worker still
  running ``shutdown_timeout`` + 2 s after the first signal is killed;
* watches the workers. A worker that exits with status 0 has finished (its sources ended) and is
  not started again. A worker killed by a signal (the kernel's OOM killer, a crash) is reported
  and started again after a back-off (1 s, doubling to 30 s): its rooms reconnect. A worker that
  exits with another status failed the way a single process fails (a sink that stays down,
  ``on_error = "stop"``): the parent reports it and stops the others;
* prints one summary for all workers when they have stopped, and exits 1 if any worker failed, was
  killed or lost events, 130 after a forced stop that lost nothing, else 0.

Workers run in their own sessions, so a Ctrl-C at a terminal reaches the parent only (which
forwards it once), and they stop by themselves when the parent dies (a pipe the parent holds open
reaches end-of-file).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import anyio
from aiohttp import web
from prometheus_client.exposition import choose_encoder

from livepipe.config import PipelineConfig
from livepipe.runtime.exposition import merge_expositions, worker_families
from livepipe.runtime.http import parse_listen
from livepipe.runtime.metrics import LOSS_REASONS
from livepipe.runtime.pipeline import Pipeline
from livepipe.runtime.report import Totals, print_status

log = logging.getLogger("livepipe.workers")

#: Environment of a worker process: the directory where it reports its metrics port and its summary,
#: and the file descriptor whose end-of-file means the parent is gone.
STATE_ENV = "LIVEPIPE_WORKER_STATE"
PARENT_FD_ENV = "LIVEPIPE_WORKER_PARENT_FD"

#: Seconds after the first stop signal, beyond ``shutdown_timeout``, before a worker is killed.
KILL_GRACE = 2.0
#: Restart back-off for a worker killed by a signal: first wait, and the most it doubles to.
RESTART_FIRST, RESTART_MAX = 1.0, 30.0
#: Seconds the parent waits for a worker's answer to /metrics, /health or /ready (a worker that does
#: not answer, stopped or stuck, then counts as down: the parent's own answer never hangs).
ASK_TIMEOUT = 5.0

__all__ = ["parse_worker", "run_worker", "run_workers"]


def parse_worker(text: str) -> tuple[int, int]:
    """``"1/4"`` -> (1, 4) (the hidden ``livepipe run --worker-of``)."""
    index, _, count = text.partition("/")
    i, n = int(index), int(count)
    if not 0 <= i < n:
        raise ValueError(f"worker {text!r}: need 0 <= index < count")
    return i, n


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# -- the worker side --------------------------------------------------------------------------------


def _stop_with_parent() -> None:
    """Send ourselves SIGTERM when the parent's pipe reaches end-of-file (the parent is gone)."""
    raw = os.environ.get(PARENT_FD_ENV)
    if raw is None:
        return
    fd = int(raw)

    def watch() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="livepipe-parent-watch", daemon=True).start()


def _summary_of(pipeline: Pipeline, status: int) -> dict[str, Any]:
    t = Totals.of(pipeline)
    return {
        "status": status,
        "forced": pipeline.forced,
        "seconds": time.monotonic() - pipeline.started_at if pipeline.started_at is not None else 0.0,
        "accepted_by": t.accepted_by,
        "delivered": t.delivered,
        "lost_by": [[cid, reason, n] for (cid, reason), n in t.lost_by.items()],
        "policies": {cid: getattr(c.config, "when_full", "") for cid, c in pipeline.components.items()},
        "component_errors": t.component_errors,
        "error_logs": t.error_logs,
    }


def run_worker(config: PipelineConfig, *, quiet: bool) -> int:
    """Run one worker's share (``config.worker`` set); returns its exit status.

    Reports its metrics port and, at the end, its summary as files in ``$LIVEPIPE_WORKER_STATE``.
    """
    from livepipe.runner import run_pipeline_blocking

    assert config.worker is not None
    index = config.worker[0]
    state = Path(os.environ[STATE_ENV])
    _stop_with_parent()

    def started(pipeline: Pipeline) -> None:
        _write_atomic(state / f"worker-{index}.port", str(getattr(pipeline, "metrics_port", "")))

    def summary(pipeline: Pipeline, status: int) -> None:
        _write_atomic(state / f"summary-{index}-{os.getpid()}.json", json.dumps(_summary_of(pipeline, status)))

    return run_pipeline_blocking(config, quiet=quiet, started=started, summary=summary,
                                 status=partial(print_status, prefix=f"[worker {index}] "))  # fmt: skip


# -- the parent side --------------------------------------------------------------------------------


@dataclass
class _Worker:
    index: int
    proc: Any = None
    restarts: int = 0
    #: exit status of every process this worker had (negative: killed by that signal)
    exits: list[int] = field(default_factory=list)


def _signal_name(status: int) -> str:
    try:
        return signal.Signals(-status).name
    except ValueError:
        return f"signal {-status}"


class Supervisor:
    """The parent of ``--workers`` (see the module docstring)."""

    def __init__(self, config: PipelineConfig, paths: Sequence[str], count: int, *, quiet: bool,
                 log_level: str, duration: float | None, state: Path) -> None:  # fmt: skip
        self.config = config
        self.paths = list(paths)
        self.workers = [_Worker(i) for i in range(count)]
        self.quiet = quiet
        self.log_level = log_level
        self.duration = duration
        self.state = state
        self.sim_url: str | None = None
        self.stopping = False
        self.failed = False
        self.started_at = time.monotonic()
        self._kill_at: float | None = None
        self._stopped: anyio.Event | None = None  # set by the first stop (created in run())
        self._parent_r, self._parent_w = os.pipe()

    # -- processes

    def _argv(self, index: int) -> list[str]:
        argv = [sys.executable, "-m", "livepipe", "run", *self.paths, "--worker-of", f"{index}/{len(self.workers)}",
                "--log-level", self.log_level]  # fmt: skip
        if self.quiet:
            argv.append("--quiet")
        if self.sim_url:
            argv += ["--sim", self.sim_url]
        return argv

    async def _spawn(self, w: _Worker) -> Any:
        env = {**os.environ, STATE_ENV: str(self.state), PARENT_FD_ENV: str(self._parent_r)}
        return await anyio.open_process(self._argv(w.index), stdin=subprocess.DEVNULL, stdout=None, stderr=None,
                                        env=env, start_new_session=True, pass_fds=(self._parent_r,))  # fmt: skip

    async def _keep(self, w: _Worker) -> None:
        """Run worker ``w``; start it again after a kill by a signal (see the module docstring)."""
        wait = RESTART_FIRST
        while True:
            began = time.monotonic()
            w.proc = await self._spawn(w)
            log.info("worker %d started (pid %d)", w.index, w.proc.pid)
            if self.stopping:  # the stop came while it was starting
                w.proc.send_signal(signal.SIGTERM)
            status = await w.proc.wait()
            w.exits.append(status)
            (self.state / f"worker-{w.index}.port").unlink(missing_ok=True)
            if self.stopping:
                return
            if status == 0:
                log.info("worker %d finished: its sources ended", w.index)
                return
            if status < 0:
                if time.monotonic() - began > 60:
                    wait = RESTART_FIRST
                w.restarts += 1
                log.error("worker %d (pid %d) was killed by %s; starting it again in %g s (its rooms reconnect)",
                          w.index, w.proc.pid, _signal_name(status), wait)  # fmt: skip
                assert self._stopped is not None
                with anyio.move_on_after(wait):  # a stop ends the back-off (it may be 30 s)
                    await self._stopped.wait()
                wait = min(wait * 2, RESTART_MAX)
                if self.stopping:
                    return
                continue
            log.error("worker %d (pid %d) exited with status %d; stopping the other workers", w.index, w.proc.pid,
                      status)  # fmt: skip
            self.failed = True
            self.stop(signal.SIGTERM)
            return

    def stop(self, sig: int) -> None:
        """Forward a stop signal to every running worker (the first one starts the kill deadline)."""
        if not self.stopping:
            self.stopping = True
            self._kill_at = time.monotonic() + self.config.settings.shutdown_timeout + KILL_GRACE
            if self._stopped is not None:
                self._stopped.set()
        for w in self.workers:
            if w.proc is not None and w.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    w.proc.send_signal(sig)

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
            async for sig in signals:
                name = signal.Signals(sig).name
                if sig == signal.SIGHUP:
                    log.info("SIGHUP received: every worker reloads its share")
                    for w in self.workers:
                        if w.proc is not None and w.proc.returncode is None:
                            w.proc.send_signal(signal.SIGHUP)
                    continue
                if not self.stopping:
                    log.warning("%s received: stopping %d workers (each drains for at most %g s)", name,
                                len(self.workers), self.config.settings.shutdown_timeout)  # fmt: skip
                self.stop(sig if self.stopping else signal.SIGTERM)

    async def _kill_late(self) -> None:
        assert self._stopped is not None
        await self._stopped.wait()
        assert self._kill_at is not None
        await anyio.sleep(max(0.0, self._kill_at - time.monotonic()))
        for w in self.workers:
            if w.proc is not None and w.proc.returncode is None:
                log.error("worker %d (pid %d) still running %g s after shutdown_timeout; killing it", w.index,
                          w.proc.pid, KILL_GRACE)  # fmt: skip
                with contextlib.suppress(ProcessLookupError):
                    w.proc.kill()

    async def _stop_after(self, seconds: float) -> None:
        await anyio.sleep(seconds)
        log.info("--duration %g s reached", seconds)
        self.stop(signal.SIGTERM)

    # -- HTTP

    def _port(self, w: _Worker) -> int | None:
        if w.proc is None or w.proc.returncode is not None:
            return None
        try:
            return int((self.state / f"worker-{w.index}.port").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    async def _ask(self, session: aiohttp.ClientSession, w: _Worker, path: str,
                   headers: dict[str, str] | None = None) -> tuple[int, str] | None:  # fmt: skip
        port = self._port(w)
        if port is None:
            return None
        try:
            async with session.get(f"http://127.0.0.1:{port}{path}", headers=headers) as r:
                return r.status, await r.text()
        except (aiohttp.ClientError, TimeoutError, OSError):
            return None

    async def _ask_all(self, path: str, headers: dict[str, str] | None = None) -> list[tuple[int, str] | None]:
        results: list[tuple[int, str] | None] = [None] * len(self.workers)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=ASK_TIMEOUT)) as session:

            async def one(i: int) -> None:
                results[i] = await self._ask(session, self.workers[i], path, headers)

            async with anyio.create_task_group() as tg:
                for i in range(len(self.workers)):
                    tg.start_soon(one, i)
        return results

    async def metrics_text(self, accept: str | None = None) -> tuple[str, str]:
        """Every worker's ``/metrics`` merged (``worker`` label), then the parent's own families: (text, content type).

        The format follows ``accept`` as one process's endpoint does (OpenMetrics when asked for, else
        Prometheus text 0.0.4): the workers are asked in that format and the merge ends with one ``# EOF``.
        """
        content_type = choose_encoder(accept or "")[1]
        openmetrics = content_type.startswith("application/openmetrics-text")
        answers = await self._ask_all("/metrics", {"Accept": accept} if openmetrics and accept else None)
        merged = merge_expositions({str(w.index): a[1] for w, a in zip(self.workers, answers, strict=True)
                                    if a is not None and a[0] == 200})  # fmt: skip
        up = {str(w.index): int(a is not None and a[0] == 200) for w, a in zip(self.workers, answers, strict=True)}
        own = worker_families(up, {str(w.index): w.restarts for w in self.workers}, openmetrics=openmetrics)
        return merged + own + ("# EOF\n" if openmetrics else ""), content_type

    async def _json_of_all(self, path: str) -> tuple[dict[str, Any], bool]:
        answers = await self._ask_all(path)
        body: dict[str, Any] = {}
        all_ok = True
        for w, a in zip(self.workers, answers, strict=True):
            if a is None:
                body[str(w.index)] = {"status": "down"}
                all_ok = False
                continue
            try:
                body[str(w.index)] = json.loads(a[1])
            except ValueError:
                body[str(w.index)] = {"status": "unreadable"}
            all_ok = all_ok and a[0] == 200
        return body, all_ok

    def app(self) -> web.Application:
        """The parent's ``/metrics``, ``/health`` and ``/ready``."""

        async def metrics(request: web.Request) -> web.Response:
            text, content_type = await self.metrics_text(request.headers.get("Accept"))
            return web.Response(body=text.encode("utf-8"), headers={"Content-Type": content_type})

        async def health(_: web.Request) -> web.Response:
            workers, ok = await self._json_of_all("/health")
            states = {w.get("status") for w in workers.values()}
            status = ("draining" if self.stopping or "draining" in states else "down" if not ok else
                      "degraded" if "degraded" in states else "ok")  # fmt: skip
            return web.json_response({"status": status, "workers": workers},
                                     status=200 if status in ("ok", "degraded") else 503)  # fmt: skip

        async def ready(_: web.Request) -> web.Response:
            workers, ok = await self._json_of_all("/ready")
            return web.json_response({"status": "ready" if ok else "not ready", "workers": workers},
                                     status=200 if ok else 503)  # fmt: skip

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/health", health)
        app.router.add_get("/ready", ready)
        return app

    async def _serve(self, listen: str, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
                     ) -> None:  # fmt: skip
        host, port = parse_listen(listen)
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound = site._server.sockets[0].getsockname()[1] if site._server and site._server.sockets else port
            log.info("metrics of %d workers on http://%s:%s/metrics", len(self.workers), host, bound)
            task_status.started()
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await runner.cleanup()

    # -- the run

    async def run(self) -> None:
        """Start the workers and supervise them until every one has ended."""
        from livepipe.runner import embedded_simulator

        self._stopped = anyio.Event()
        try:
            async with embedded_simulator(self.config) as extra:
                self.sim_url = extra.get("simulator_url")
                async with anyio.create_task_group() as aux:
                    aux.start_soon(self._watch_signals)
                    listen = self.config.settings.metrics.listen
                    if listen:
                        await aux.start(self._serve, listen)
                    if self.duration is not None:
                        aux.start_soon(self._stop_after, self.duration)
                    aux.start_soon(self._kill_late)
                    async with anyio.create_task_group() as keepers:
                        for w in self.workers:
                            keepers.start_soon(self._keep, w)
                    aux.cancel_scope.cancel()
        finally:
            os.close(self._parent_w)
            os.close(self._parent_r)
            with anyio.CancelScope(shield=True):
                for w in self.workers:  # only after a failure of the parent itself
                    if w.proc is not None and w.proc.returncode is None:
                        w.proc.kill()
                        await w.proc.wait()

    # -- the end

    def summaries(self) -> list[dict[str, Any]]:
        """What every worker process reported when it ended (its worker index added)."""
        out = []
        for p in sorted(self.state.glob("summary-*.json")):
            try:
                s = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            s["worker"] = int(p.name.split("-")[1])
            out.append(s)
        return out

    def exit_status(self) -> int:
        """1 if a worker failed, was killed or lost events; 130 after a forced stop; else 0."""
        statuses = [s for w in self.workers for s in w.exits]
        if self.failed or any(s not in (0, 130) for s in statuses) or not statuses:
            return 1
        return 130 if 130 in statuses else 0

    def summary_lines(self) -> list[str]:
        """The merged summary of every worker (the same lines as one process prints, and one per worker)."""
        parts = self.summaries()
        accepted: dict[str, int] = {}
        delivered: dict[str, int] = {}
        lost: dict[tuple[str, str], int] = {}
        policies: dict[str, str] = {}
        errors = error_logs = 0
        for s in parts:
            for c, n in s["accepted_by"].items():
                accepted[c] = accepted.get(c, 0) + n
            for c, n in s["delivered"].items():
                delivered[c] = delivered.get(c, 0) + n
            for c, reason, n in s["lost_by"]:
                lost[(c, reason)] = lost.get((c, reason), 0) + n
            policies.update(s["policies"])
            errors += s["component_errors"]
            error_logs += s["error_logs"]
        why = {"buffer_full": "input buffer full (when_full = {policy})", "shutdown": "shutdown cut the drain short",
               "error": "component or delivery failure"}  # fmt: skip
        n_lost = sum(lost.values())
        lost_text = "0" if not n_lost else f"{n_lost} (" + "; ".join(
            f"{c}: {n} {why.get(r, r).format(policy=policies.get(c, ''))}" for (c, r), n in lost.items()
            if r in LOSS_REASONS) + ")"  # fmt: skip
        per_worker = []
        for w in self.workers:
            mine = [s for s in parts if s["worker"] == w.index]
            how = ", ".join(f"exit {s}" if s >= 0 else f"killed by {_signal_name(s)}" for s in w.exits) or "not started"
            took = sum(sum(s["accepted_by"].values()) for s in mine)
            missing = len(w.exits) - len(mine)
            note = f" ({missing} run{'s' if missing != 1 else ''} left no figures)" if missing > 0 else ""
            per_worker.append(f"{w.index}: {how}, accepted {took}{note}")
        forced = any(s["forced"] for s in parts)
        return [
            f"livepipe: {'forced stop' if forced else 'stopped'} after {time.monotonic() - self.started_at:.1f} s "
            f"({len(self.workers)} workers)",
            f"  accepted   {sum(accepted.values())} events from sources "
            f"({', '.join(f'{c} {n}' for c, n in accepted.items())})",
            f"  delivered  {', '.join(f'{c} {n}' for c, n in delivered.items()) or '(no sinks)'}",
            f"  lost       {lost_text}",
            f"  errors     {errors} counted by components, {error_logs} ERROR log lines",
            f"  workers    {'; '.join(per_worker)}",
        ]


def run_workers(config: PipelineConfig, paths: Sequence[str], count: int, *, quiet: bool, log_level: str,
                duration: float | None = None) -> int:  # fmt: skip
    """Run ``config`` in ``count`` worker processes until stopped; prints the merged summary; the exit status."""
    with tempfile.TemporaryDirectory(prefix="livepipe-workers-") as d:
        sup = Supervisor(config, paths, count, quiet=quiet, log_level=log_level, duration=duration, state=Path(d))
        anyio.run(sup.run, backend="asyncio")
        for line in sup.summary_lines():
            print(line, file=sys.stderr)
        sys.stderr.flush()
        return sup.exit_status()
