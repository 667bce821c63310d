"""Rate-limited error logging: the first error of each kind at once, then a count at most once per interval."""

from __future__ import annotations

import logging

from livepipe.runtime.errorlog import MAX_KEYS, TRACEBACK_MAX, ErrorLog, format_traceback


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_first_of_each_kind_at_once_then_a_count_per_interval(caplog):
    clock = _Clock()
    errors = ErrorLog(logging.getLogger("livepipe.test.errorlog"), interval=60, now=clock)
    with caplog.at_level(logging.INFO, logger="livepipe.test.errorlog"):
        assert errors.report("KeyError", "failed: %s", "a") is True
        assert errors.report("ValueError", "failed: %s", "b") is True
        for i in range(500):
            clock.t += 0.1  # 50 s of errors, no line
            assert errors.report("KeyError", "failed: %s", i) is False
        assert len(caplog.records) == 2
        clock.t += 11.0  # past the interval: the next repeat logs the count
        errors.report("KeyError", "failed: %s", "late")
        assert len(caplog.records) == 3
        assert caplog.records[-1].getMessage() == (
            "failed: late (501 errors like it in the last 61 s, this one included; all are counted in "
            "component_errors_total)")
        errors.report("KeyError", "failed: %s", "again")
        assert len(caplog.records) == 3  # a fresh interval begins


def test_distinct_kinds_are_bounded(caplog):
    clock = _Clock()
    errors = ErrorLog(logging.getLogger("livepipe.test.errorlog2"), now=clock)
    with caplog.at_level(logging.INFO, logger="livepipe.test.errorlog2"):
        for i in range(MAX_KEYS * 3):
            errors.report(f"kind{i}", "failed %d", i)
    assert len(caplog.records) == MAX_KEYS


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
