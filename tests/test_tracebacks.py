"""Dead-letter tracebacks are bounded and keep the end; the rate-limited log bounds its keys."""

from __future__ import annotations

import logging

from livepipe.lograte import MAX_KEYS, RateLimitedLog
from livepipe.runtime.tracebacks import TRACEBACK_MAX, format_traceback


def test_distinct_keys_are_bounded(caplog):
    """Keys can come from user data (an error's file:line): past MAX_KEYS new keys share one line."""
    now = [1000.0]
    errors = RateLimitedLog(logging.getLogger("livepipe.test.lograte"), interval=60, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="livepipe.test.lograte"):
        for i in range(MAX_KEYS * 3):
            errors.log(logging.ERROR, f"kind{i}", "failed %d", i)
    assert len(caplog.records) == MAX_KEYS + 1


def test_exc_info_travels_with_the_written_line_only(caplog):
    now = [1000.0]
    errors = RateLimitedLog(logging.getLogger("livepipe.test.lograte2"), interval=60, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="livepipe.test.lograte2"):
        for _ in range(3):
            try:
                raise KeyError("k")
            except KeyError as e:
                errors.log(logging.ERROR, "KeyError", "failed", exc_info=e)
    assert len(caplog.records) == 1 and caplog.records[0].exc_info[0] is KeyError


def test_tracebacks_are_bounded_and_keep_the_end():
    try:
        raise RuntimeError("start " + "x" * (TRACEBACK_MAX * 2) + " the end")
    except RuntimeError as e:
        text = format_traceback(e)
    assert len(text) <= TRACEBACK_MAX + 4
    assert text.startswith("...\n") and text.rstrip().endswith("x the end")
    try:
        raise KeyError("short")
    except KeyError as e:
        short = format_traceback(e)
    assert short.startswith("Traceback (most recent call last):") and short.rstrip().endswith("KeyError: 'short'")
