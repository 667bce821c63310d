"""The action journal on its own: durable across instances, bounded by age and rows, per sink."""

from __future__ import annotations

from pathlib import Path

import pytest

from livepipe.bilibili.sinks.journal import DONE, INTENT, ActionJournal


def test_records_survive_a_new_instance_and_are_kept_per_sink(tmp_path: Path) -> None:
    path = tmp_path / "state" / "actions.sqlite"
    a = ActionJournal(path, "ban", max_age=600)
    a.intent("x", "action.ban", 1000.0)
    a.intent("y", "action.ban", 1000.0)
    a.done("y", "action.ban", "success", 1001.0)
    a.intent("z", "action.ban", 1000.0)
    a.forget("z")
    # no close(): a killed process does not close either; every write is already committed
    b = ActionJournal(path, "ban", max_age=600)
    x, y = b.get("x", 1100.0), b.get("y", 1100.0)
    assert x is not None and (x.state, x.outcome) == (INTENT, None)
    assert y is not None and (y.state, y.outcome, y.at) == (DONE, "success", 1001.0)
    assert b.get("z", 1100.0) is None
    assert ActionJournal(path, "send", max_age=600).get("y", 1100.0) is None  # another sink's ids are its own


def test_records_older_than_max_age_are_ignored_and_pruned(tmp_path: Path) -> None:
    j = ActionJournal(tmp_path / "j.sqlite", "s", max_age=60)
    j.done("old", "action.send", "success", 1000.0)
    assert j.get("old", 1059.0) is not None
    assert j.get("old", 1061.0) is None
    j.prune(1061.0)
    assert len(j) == 0


def test_rows_are_bounded(tmp_path: Path) -> None:
    j = ActionJournal(tmp_path / "j.sqlite", "s", max_age=10**9, max_rows=50)
    for i in range(1000):
        j.done(f"a{i}", "action.ban", "success", 1000.0 + i)
    assert len(j) <= 150  # pruned every 100 writes down to max_rows
    j.prune(3000.0)
    assert len(j) == 50 and j.get("a999", 3000.0) is not None and j.get("a0", 3000.0) is None


def test_in_memory_journal_without_a_path() -> None:
    j = ActionJournal(None, "s", max_age=60)
    j.intent("a", "action.ban", 1.0)
    assert j.get("a", 2.0) is not None


def test_a_path_that_is_a_directory_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "j.sqlite").mkdir()
    with pytest.raises(OSError, match=r"cannot open the action journal .*j.sqlite"):
        ActionJournal(tmp_path / "j.sqlite", "s", max_age=60)
