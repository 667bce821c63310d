"""``livepipe run --workers N`` when a worker misbehaves: real processes against the simulator.

A worker that hangs at shutdown is killed ``shutdown_timeout`` + 2 s after the stop signal and the
parent exits within that bound; a scrape of the parent's ``/metrics`` while a worker does not answer
still completes; a worker that fails (exit 1) stops the others and the run exits 1; workers whose
parent is killed stop by themselves.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import anyio
import httpx
import pytest

from tests.child_support import sim_to_file, stop_and_time, until, worker_pids

ROOMS = [4101, 4102, 4103, 4104]  # worker 0: 4101, 4103; worker 1: 4102, 4104



def _parent_port(err: Path) -> int | None:
    m = re.search(r"metrics of \d+ workers on http://127\.0\.0\.1:(\d+)/metrics", err.read_text(errors="replace"))
    return int(m.group(1)) if m else None


def _gone(pid: int) -> bool:
    """The process ended (a zombie not yet reaped by its parent counts as ended)."""
    try:
        return "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return True


def _config(sim_url: str, *, shutdown_timeout: float, path: str = "out/events.jsonl", on_error: str = "drop") -> str:
    return sim_to_file(sim_url, ROOMS, path, shutdown_timeout=shutdown_timeout, on_error=on_error)


async def _start(tmp_path: Path, *extra: str) -> tuple[anyio.abc.Process, Path]:
    err_path = tmp_path / "stderr.txt"
    with err_path.open("wb") as err:
        proc = await anyio.open_process([sys.executable, "-m", "livepipe", "run", "p.toml", "--quiet", "--workers", "2",
                                         *extra], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    return proc, err_path


async def _reap(proc: anyio.abc.Process) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


OPENMETRICS = {"Accept": "application/openmetrics-text; version=1.0.0"}


def _check_merged_formats(text: str, om: httpx.Response) -> None:
    """Both workers' histograms are in the merged page in both formats, each family's comments once, one
    ``# EOF`` at the end of the OpenMetrics page, and prometheus_client's parsers accept both."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
    from prometheus_client.parser import text_string_to_metric_families as parse_text

    assert om.headers["content-type"].startswith("application/openmetrics-text"), om.headers
    assert om.text.endswith("\n# EOF\n") and om.text.count("# EOF") == 1, om.text[-300:]
    for page, parse in ((text, parse_text), (om.text, parse_openmetrics)):
        comments = [line for line in page.splitlines() if line.startswith(("# TYPE ", "# HELP "))]
        assert len(comments) == len(set(comments)), page
        families = {f.name: f for f in parse(page)}
        latency = families["sink_event_latency_seconds"]
        assert latency.type == "histogram"
        assert {s.labels["worker"] for s in latency.samples if s.name.endswith("_bucket")} == {"0", "1"}, page
        assert {s.labels["worker"] for s in families["livepipe_worker_up"].samples} == {"0", "1"}, page
        restarts = families["livepipe_worker_restarts"]
        assert restarts.type == "counter" and [s.value for s in restarts.samples] == [0, 0], page


@pytest.mark.anyio
async def test_a_worker_hung_at_shutdown_is_killed_at_the_deadline_and_a_scrape_meanwhile_completes(
        tmp_path: Path) -> None:  # fmt: skip
    """Both workers up: the parent's /metrics in both formats (see _check_merged_formats).
    Then worker 1 stopped (SIGSTOP: it cannot answer or handle a signal). The parent's /metrics still answers,
    worker 1 down and worker 0's series there. SIGTERM to the parent: worker 0 drains, worker 1 is killed
    shutdown_timeout + 2 s after the signal, the parent exits 1 within that bound."""
    from livepipe.sim import run_simulator

    timeout = 2.0
    async with run_simulator(rooms=ROOMS, rate=0, population_size=10) as sim:
        (tmp_path / "p.toml").write_text(_config(sim.base_url, shutdown_timeout=timeout), encoding="utf-8")
        proc, err_path = await _start(tmp_path)
        try:
            for room in ROOMS:
                await sim.wait_for_clients(room, 1, timeout=60)
            await until(lambda: _parent_port(err_path) is not None, 60, "the parent's metrics port", err_path)
            port = _parent_port(err_path)
            async with httpx.AsyncClient(timeout=60) as http:
                text = ""
                deadline = time.monotonic() + 60
                while 'livepipe_worker_up{worker="1"} 1' not in text or 'livepipe_worker_up{worker="0"} 1' not in text:
                    assert time.monotonic() < deadline, text
                    text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                _check_merged_formats(text, await http.get(f"http://127.0.0.1:{port}/metrics", headers=OPENMETRICS))
                (w0,), (w1,) = worker_pids(err_path)[0], worker_pids(err_path)[1]
                os.kill(w1, signal.SIGSTOP)
                began = time.monotonic()
                text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                scrape = time.monotonic() - began
            assert 'livepipe_worker_up{worker="1"} 0' in text and 'livepipe_worker_up{worker="0"} 1' in text, text
            assert 'component_received_events_total{worker="0",' in text, text
            assert 'component_received_events_total{worker="1",' not in text, text
            assert scrape < 30, scrape  # the worker's answer is waited for a bounded time, not for ever
            took = await stop_and_time(proc, 60)
        finally:
            await _reap(proc)
    log = err_path.read_text(errors="replace")
    assert proc.returncode == 1, log
    assert f"worker 1 (pid {w1}) still running 2 s after shutdown_timeout; killing it" in log, log
    assert timeout + 2 - 0.5 <= took < timeout + 2 + 10, (took, log)  # killed at the deadline, not before
    assert "0: exit 0" in log and "1: killed by SIGKILL" in log, log
    assert _gone(w0) and _gone(w1)


def _wrote(directory: Path) -> bool:
    """A worker's sink wrote a whole line into a file of ``directory`` (its rooms' status events)."""
    return any(f.is_file() and f.read_bytes().endswith(b"\n") for f in directory.glob("*.jsonl"))


@pytest.mark.anyio
async def test_a_worker_that_fails_stops_the_others_and_the_run_exits_1(tmp_path: Path) -> None:
    """Both workers run and write; then a danmaku in room 4102: worker 1's file sink cannot write it (its
    file is a directory; on_error = "stop"), worker 1 exits 1, the parent reports it, stops worker 0
    (which drains and exits 0) and exits 1 itself."""
    from livepipe.sim import run_simulator

    async with run_simulator(rooms=ROOMS, rate=0, population_size=10) as sim:
        toml = _config(sim.base_url, shutdown_timeout=5, path="out/{worker}/{kind}.jsonl", on_error="stop")
        (tmp_path / "p.toml").write_text(toml, encoding="utf-8")
        (tmp_path / "out" / "1" / "danmaku.jsonl").mkdir(parents=True)  # worker 1 cannot write a danmaku
        proc, err_path = await _start(tmp_path)
        try:
            for room in ROOMS:
                await sim.wait_for_clients(room, 1, timeout=60)
            await until(lambda: _wrote(tmp_path / "out" / "0") and _wrote(tmp_path / "out" / "1"), 60,
                         "both workers writing", err_path)  # fmt: skip
            (w0,), (w1,) = worker_pids(err_path)[0], worker_pids(err_path)[1]
            sim.inject_danmaku(4102, "4102-x")  # worker 1's room
            sim.hub.flush()
            with anyio.fail_after(60):
                await proc.wait()
        finally:
            await _reap(proc)
    log = err_path.read_text(errors="replace")
    assert worker_pids(err_path) == {0: [w0], 1: [w1]}, log  # a failed worker is not started again
    assert proc.returncode == 1, log
    assert f"worker 1 (pid {w1}) exited with status 1; stopping the other workers" in log, log
    assert "0: exit 0" in log and "1: exit 1" in log, log
    assert "[worker 0] livepipe.runtime: SIGTERM received: draining" in log, log  # stopped by the parent
    assert "still running" not in log, log  # worker 0 stopped on the forwarded SIGTERM, not killed
    assert _gone(w0) and _gone(w1)


@pytest.mark.anyio
async def test_workers_stop_by_themselves_when_the_parent_is_killed(tmp_path: Path) -> None:
    """SIGKILL to the parent (it can forward nothing): each worker sees the parent's pipe close, drains and
    exits, leaving whole lines in its file."""
    from livepipe.sim import run_simulator

    async with run_simulator(rooms=ROOMS, rate=0, population_size=10) as sim:
        (tmp_path / "p.toml").write_text(_config(sim.base_url, shutdown_timeout=5), encoding="utf-8")
        proc, err_path = await _start(tmp_path)
        try:
            for room in ROOMS:
                await sim.wait_for_clients(room, 1, timeout=60)
            files = [tmp_path / "out" / "events.w0.jsonl", tmp_path / "out" / "events.w1.jsonl"]
            await until(lambda: all(f.is_file() and f.read_bytes().endswith(b"\n") for f in files), 60,
                         "both workers writing", err_path)  # fmt: skip
            (w0,), (w1,) = worker_pids(err_path)[0], worker_pids(err_path)[1]
            proc.kill()
            await proc.wait()
            await until(lambda: _gone(w0) and _gone(w1), 60, "the workers to exit on their own", err_path)
        finally:
            await _reap(proc)
            for pid in (p for ps in worker_pids(err_path).values() for p in ps):
                if not _gone(pid):
                    os.kill(pid, signal.SIGKILL)
    log = err_path.read_text(errors="replace")
    for i in (0, 1):  # a graceful stop (the drain), not a kill
        assert f"[worker {i}] livepipe.runtime: SIGTERM received: draining" in log, log
    for f in files:
        assert f.read_bytes().endswith(b"\n"), f  # whole lines only: nothing cut part-way on the way out


@pytest.mark.anyio
async def test_a_stop_during_a_restart_back_off_does_not_wait_for_it(tmp_path: Path) -> None:
    """Worker 1 killed four times: its back-off is then 16 s (1, 2, 4, 8, 16). A SIGTERM to the parent
    during that wait ends the run at once instead of after the back-off (and no worker 1 starts again)."""
    from livepipe.sim import run_simulator

    async with run_simulator(rooms=ROOMS, rate=0, population_size=10) as sim:
        (tmp_path / "p.toml").write_text(_config(sim.base_url, shutdown_timeout=2), encoding="utf-8")
        proc, err_path = await _start(tmp_path)
        try:
            for kills in range(5):
                await until(lambda k=kills: len(worker_pids(err_path)[1]) == k + 1, 60, "worker 1 (again)", err_path)
                os.kill(worker_pids(err_path)[1][-1], signal.SIGKILL)
            await until(lambda: "starting it again in 16 s" in err_path.read_text(), 60, "the back-off", err_path)
            took = await stop_and_time(proc, 60)
        finally:
            await _reap(proc)
    log = err_path.read_text(errors="replace")
    assert took < 12, (took, log)  # within shutdown_timeout + 2 s (+ a loaded machine's slack), not 16 s
    assert len(worker_pids(err_path)[1]) == 5 and proc.returncode == 1, log
    assert "1: killed by SIGKILL, killed by SIGKILL, killed by SIGKILL, killed by SIGKILL, killed by SIGKILL" in log


@pytest.mark.anyio
async def test_a_second_ctrl_c_stops_workers_stuck_in_a_sink_at_once(tmp_path: Path) -> None:
    """Every worker's http sink waits on a receiver that never answers, so a drain would take the whole
    shutdown_timeout (120 s). Ctrl-C (SIGINT) once: both workers start draining; Ctrl-C again: the
    parent forwards it, the workers stop at once (a forced stop) and the run ends long before then."""
    from livepipe.sim import run_simulator

    held: list[object] = []

    async def hold(stream) -> None:  # accept, read, never answer
        held.append(stream)
        async with stream:
            async for _ in stream:
                pass

    async with run_simulator(rooms=ROOMS, rate=0, population_size=10) as sim, \
            await anyio.create_tcp_listener(local_host="127.0.0.1") as receiver, \
            anyio.create_task_group() as tg:  # fmt: skip
        tg.start_soon(receiver.serve, hold)
        rport = receiver.extra(anyio.abc.SocketAttribute.local_port)
        toml = _config(sim.base_url, shutdown_timeout=120) + textwrap.dedent(f"""
            [sinks.hook]
            type = "http"
            inputs = ["live"]
            url = "http://127.0.0.1:{rport}/hook"
            timeout = 300
        """)
        (tmp_path / "p.toml").write_text(toml, encoding="utf-8")
        proc, err_path = await _start(tmp_path)
        try:
            for room in ROOMS:
                await sim.wait_for_clients(room, 1, timeout=60)
            await until(lambda: len(held) >= 2, 60, "a request from each worker", err_path)
            proc.send_signal(signal.SIGINT)
            draining = [f"[worker {i}] livepipe.runtime: SIGTERM received: draining" for i in (0, 1)]
            await until(lambda: all(d in err_path.read_text() for d in draining), 60, "both draining", err_path)
            took = await stop_and_time(proc, 100, signal.SIGINT)
        finally:
            await _reap(proc)
            tg.cancel_scope.cancel()
    log = err_path.read_text(errors="replace")
    assert took < 30, (took, log)  # not the 120 s drain, nor the kill at 122 s
    assert "forced stop" in log and "still running" not in log, log
    assert "second SIGINT: stopped before the drain finished" in log, log  # forwarded as SIGINT
    assert proc.returncode == 1 and "(hook: " in log, log  # what the receiver held is lost, and said so
