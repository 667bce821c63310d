"""A durable journal of recent actions, so a redelivered action is recognised after a restart.

Each action sink writes two records per action to a small SQLite database (the standard library's
``sqlite3``, WAL mode, ``synchronous = FULL``):

* ``intent`` just before the request that carries the action out, and
* ``done`` (with the outcome) once the service answered.

A process killed between the two leaves an ``intent`` without ``done``: the action may or may not
have taken effect. When the same action id arrives again (a JetStream redelivery, a replayed
file), the sink sees that record and checks the service where it can (the ban list for a ban or an
unban) instead of blindly repeating the action. A ``done`` record makes the repeat a
``deduplicated`` result. An action that the service refused is forgotten, so a later delivery may
try it again.

Records live for ``max_age`` seconds (the sink's ``dedupe_window``) and at most ``max_rows`` of them
are kept; older ones are deleted as new ones are written. Every write is one committed transaction,
so a record written before a crash is there after it. The journal may be shared by several sinks
(records are keyed by sink name and action id) and by several processes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

INTENT = "intent"
DONE = "done"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
    sink TEXT NOT NULL,
    action_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT,
    at REAL NOT NULL,
    PRIMARY KEY (sink, action_id)
);
CREATE INDEX IF NOT EXISTS actions_at ON actions (at);
"""


@dataclass(frozen=True)
class JournalEntry:
    """What the journal knows about one action: ``state`` is ``intent`` or ``done``; ``at`` is unix time."""

    action_id: str
    kind: str
    state: str
    outcome: str | None
    at: float


class ActionJournal:
    """Intent and done records of one sink's recent actions (see the module docstring).

    ``path`` ``None`` keeps the journal in memory: the same behaviour within one process, nothing
    across a restart.
    """

    def __init__(self, path: Path | None, sink: str, *, max_age: float, max_rows: int = 100_000) -> None:
        self.path = path
        self.sink = sink
        self.max_age = max_age
        self.max_rows = max_rows
        self._writes = 0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(path) if path is not None else ":memory:", isolation_level=None,
                                       timeout=10.0, check_same_thread=False)  # fmt: skip
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as e:
            raise OSError(f"cannot open the action journal {path}: {e}") from None

    def get(self, action_id: str, now: float) -> JournalEntry | None:
        """The record of ``action_id`` if it is younger than ``max_age``, else ``None``."""
        row = self._db.execute(
            "SELECT kind, state, outcome, at FROM actions WHERE sink = ? AND action_id = ? AND at >= ?",
            (self.sink, action_id, now - self.max_age),
        ).fetchone()
        return None if row is None else JournalEntry(action_id, row[0], row[1], row[2], row[3])

    def intent(self, action_id: str, kind: str, now: float) -> None:
        """Record, durably, that ``action_id`` is about to be sent."""
        self._put(action_id, kind, INTENT, None, now)

    def done(self, action_id: str, kind: str, outcome: str, now: float) -> None:
        """Record, durably, that ``action_id`` was carried out (``outcome`` says how)."""
        self._put(action_id, kind, DONE, outcome, now)

    def forget(self, action_id: str) -> None:
        """Drop the record of an action that did not take effect (a later delivery may try it again)."""
        self._db.execute("DELETE FROM actions WHERE sink = ? AND action_id = ?", (self.sink, action_id))

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM actions WHERE sink = ?", (self.sink,)).fetchone()[0])

    def _put(self, action_id: str, kind: str, state: str, outcome: str | None, now: float) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO actions (sink, action_id, kind, state, outcome, at) VALUES (?, ?, ?, ?, ?, ?)",
            (self.sink, action_id, kind, state, outcome, now),
        )
        self._writes += 1
        if self._writes % 100 == 1:
            self.prune(now)

    def prune(self, now: float) -> None:
        """Delete records older than ``max_age`` and all but the newest ``max_rows``."""
        self._db.execute("DELETE FROM actions WHERE at < ?", (now - self.max_age,))
        self._db.execute(
            "DELETE FROM actions WHERE sink = ? AND rowid NOT IN "
            "(SELECT rowid FROM actions WHERE sink = ? ORDER BY at DESC LIMIT ?)",
            (self.sink, self.sink, self.max_rows),
        )

    def close(self) -> None:
        """Close the database (every record is already committed)."""
        self._db.close()


__all__ = ["DONE", "INTENT", "ActionJournal", "JournalEntry"]
