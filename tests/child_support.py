"""Helpers for tests that run ``livepipe`` as a child process and read its log and output files."""

from __future__ import annotations

import re
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
