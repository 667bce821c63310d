"""Helpers for tests that run ``livepipe`` as a child process and read its log and output files."""

from __future__ import annotations

import re
import signal
import textwrap
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio


async def until(cond: Callable[[], Any], timeout: float, what: str, log: Path) -> None:
    """Poll ``cond`` (a condition, not a delay); fail after ``timeout`` s, showing the child's ``log``."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{log.read_text(errors='replace')}")
        await anyio.sleep(0.02)


def worker_pids(log: Path) -> dict[int, list[int]]:
    """worker number -> the pids it was started with, in order, read from a ``--workers`` parent's log."""
    pids: dict[int, list[int]] = defaultdict(list)
    for w, pid in re.findall(r"worker (\d+) started \(pid (\d+)\)", log.read_text(errors="replace")):
        pids[int(w)].append(int(pid))
    return pids


def sim_to_file(sim_url: str, rooms: list[int], path: str = "out/events.jsonl", *,
                shutdown_timeout: float | None = None, on_error: str | None = None) -> str:
    """A pipeline config: ``bilibili.danmaku`` on the simulator at ``sim_url`` -> a ``file`` sink at ``path``.

    With ``shutdown_timeout``, a ``[livepipe]`` table with it and a metrics port (the OS picks it).
    """
    head = "" if shutdown_timeout is None else textwrap.dedent(f"""\
        [livepipe]
        shutdown_timeout = {shutdown_timeout}
        [livepipe.metrics]
        listen = "127.0.0.1:0"
    """)
    tail = "" if on_error is None else f'on_error = "{on_error}"\n'
    return head + textwrap.dedent(f"""\
        [sources.live]
        type = "bilibili.danmaku"
        room_ids = {rooms}
        base_url = "{sim_url}"
        start_gap = 0.0
        backoff_initial = 0.05
        [sinks.out]
        type = "file"
        inputs = ["live"]
        path = "{path}"
    """) + tail


async def stop_and_time(proc: Any, timeout: float, sig: int = signal.SIGTERM) -> float:
    """Send ``sig`` to the child, wait for it to exit (at most ``timeout`` s): the seconds that took."""
    started = time.monotonic()
    proc.send_signal(sig)
    with anyio.fail_after(timeout):
        await proc.wait()
    return time.monotonic() - started
