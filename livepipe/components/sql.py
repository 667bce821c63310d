"""The ``sql`` sink: events into a SQLite table, batched, at-least-once without duplicates.

Schema (one row per event; see docs/components/sql.md)::

    id TEXT PRIMARY KEY, kind TEXT NOT NULL, cmd TEXT, room_id, ts REAL NOT NULL,
    uid, uname TEXT, text TEXT, data TEXT (JSON), raw TEXT (JSON or NULL)

``room_id`` and ``uid`` have no declared type (no affinity), so integers are stored as integers and a
value beyond SQLite's 64 bits as its exact decimal text, where an INTEGER column would round it to a float.

with indexes on ``(room_id, ts)``, ``(uid, ts)`` and ``(kind, ts)``.

Rows are buffered and committed in one transaction when ``batch_size`` rows are waiting and whenever
the runtime calls :meth:`SqlSink.flush` (its input ran empty, or 0.1 s of work passed), and at stop.
Events count as delivered only once their transaction committed. Rows are inserted with
``INSERT ... ON CONFLICT(id) DO NOTHING``, so a replay or a restart that sends events again adds no
duplicates.

I/O: the stdlib ``sqlite3`` module on one connection, every call made in a worker thread
(``anyio.to_thread``) under a lock, so the event loop never waits on the disk. One ``executemany``
per batch is all this sink needs; aiosqlite would add a dependency and a per-call queue hop for
nothing.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any, ClassVar, Literal

import anyio
import anyio.to_thread
import orjson
from pydantic import field_validator

from livepipe.component import Context, Emit, PermanentFailure, Sink
from livepipe.errors import SinkError
from livepipe.events import Event
from livepipe.preflight import Problems, writable_file
from livepipe.schema import SinkConfig, field

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")

#: Column names in table order; ``data`` and ``raw`` hold JSON text.
COLUMNS = ("id", "kind", "cmd", "room_id", "ts", "uid", "uname", "text", "data", "raw")


class SqlSinkError(SinkError):
    """Opening the database or committing a batch failed; the message names the database file."""


def schema_sql(table: str) -> list[str]:
    """The ``CREATE TABLE`` / ``CREATE INDEX`` statements for ``table`` (all ``IF NOT EXISTS``)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {table} ("
        "id TEXT PRIMARY KEY, kind TEXT NOT NULL, cmd TEXT, room_id, ts REAL NOT NULL, "
        "uid, uname TEXT, text TEXT, data TEXT NOT NULL, raw TEXT)",
        f"CREATE INDEX IF NOT EXISTS {table}_room_ts ON {table} (room_id, ts)",
        f"CREATE INDEX IF NOT EXISTS {table}_uid_ts ON {table} (uid, ts)",
        f"CREATE INDEX IF NOT EXISTS {table}_kind_ts ON {table} (kind, ts)",
    ]


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits and the like
        return json.dumps(value, ensure_ascii=False, default=str)


def _int(value: int | None) -> int | str | None:
    """SQLite integers are 64-bit; a larger value is stored as its exact decimal text."""
    if value is None or -(2**63) <= value < 2**63:
        return value
    return str(value)


def event_row(event: Event, include_raw: bool) -> tuple[Any, ...]:
    """The row tuple (in :data:`COLUMNS` order) for one event."""
    raw = event.raw if include_raw else None
    return (
        event.id, event.kind, event.cmd, _int(event.room_id), event.ts, _int(event.uid), event.uname,
        event.text, _json(event.data), None if raw is None else _json(raw),
    )


class SqlConfig(SinkConfig):
    """Config of the ``sql`` sink."""

    path: str = field(description="SQLite database file (created with its table when missing); relative paths "
                      "are relative to the config file")
    table: str = field("events", description="table name (letters, digits, `_`); created with its indexes if missing")
    batch_size: int = field(
        1000, description="commit as soon as this many rows are waiting (the runtime's flush commits "
        "smaller batches: when the input runs empty and at least every 0.1 s)", ge=1, le=100_000,
    )
    include_raw: bool = field(False, description="store the original Bilibili message as JSON in the `raw` column")
    synchronous: Literal["normal", "full"] = field(
        "normal",
        description="SQLite `PRAGMA synchronous` in WAL mode: `normal` survives a crash of livepipe (kill -9) "
        "with every committed batch; `full` also survives a power loss, at an fsync per commit",
    )
    busy_timeout: float = field(5.0, description="seconds to wait for another process's lock on the database", ge=0)

    @field_validator("table")
    @classmethod
    def _check_table(cls, v: str) -> str:
        if not _IDENT.match(v) or v.lower().startswith("sqlite_"):
            raise ValueError(f"table {v!r} is not a plain SQL name: use letters, digits and `_` (e.g. \"events\")")
        return v

    @field_validator("path")
    @classmethod
    def _check_path(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("path must not be empty")
        return v


class SqlSink(Sink):
    """Insert events into a SQLite table in batches; the event id is the primary key (no duplicates)."""

    type_name: ClassVar[str] = "sql"
    Config = SqlConfig
    confirms_delivery = True  # delivered = in a committed transaction

    def __init__(self, config: SqlConfig, context: Context) -> None:
        super().__init__(config, context)
        self.cfg = config
        self._db: sqlite3.Connection | None = None
        self._rows: list[tuple[Any, ...]] = []
        self._lock = anyio.Lock()
        self._insert = (f"INSERT INTO {config.table} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
                        "ON CONFLICT(id) DO NOTHING")
        self._batches = self.metrics.counter("sql_batches_total", "transactions the sql sink committed")
        self._duplicates = self.metrics.counter(
            "sql_duplicates_total", "events the sql sink skipped because their id was already stored")

    @property
    def db_path(self) -> str:
        """The resolved database file path."""
        return str(self.context.path(self.cfg.path))

    def preflight(self) -> Problems:
        """The database file must exist and be writable, or its directory must allow creating it."""
        yield from writable_file(self.context.path(self.cfg.path), "path", "database file")

    def _open(self) -> sqlite3.Connection:
        Path(self.db_path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.db_path, timeout=self.cfg.busy_timeout, isolation_level=None,
                             check_same_thread=False)
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                self.log.warning("%s: journal_mode is %s, not wal (a network file system?)", self.db_path, mode)
            db.execute(f"PRAGMA synchronous={self.cfg.synchronous.upper()}")
            create_table, *create_indexes = schema_sql(self.cfg.table)
            db.execute(create_table)
            cols = [r[1] for r in db.execute(f"PRAGMA table_info({self.cfg.table})")]
            missing = [c for c in COLUMNS if c not in cols]
            if missing:
                raise PermanentFailure(
                    f"sql sink {self.name!r}: table {self.cfg.table!r} in {self.db_path} exists without the "
                    f"columns {', '.join(missing)}; name another `table` or migrate it "
                    "(schema: docs/components/sql.md)")
            for stmt in create_indexes:
                db.execute(stmt)
        except BaseException:
            db.close()
            raise
        return db

    async def healthcheck(self) -> None:
        """Open (or create) the database, switch it to WAL and create the table and indexes."""
        await self.start()

    async def start(self) -> None:
        """Open the database once (idempotent)."""
        if self._db is not None:
            return
        try:
            self._db = await anyio.to_thread.run_sync(self._open)
        except (sqlite3.Error, OSError) as e:
            raise PermanentFailure(f"sql sink {self.name!r}: cannot open {self.db_path}: {e}") from e

    async def write(self, event: Event, emit: Emit) -> None:
        """Buffer the event's row; commit when ``batch_size`` rows are waiting."""
        self._rows.append(event_row(event, self.cfg.include_raw))
        if len(self._rows) >= self.cfg.batch_size:
            await self.flush()

    def _commit(self, rows: list[tuple[Any, ...]]) -> int:
        assert self._db is not None
        db = self._db
        before = db.total_changes
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(self._insert, rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return db.total_changes - before

    async def flush(self) -> None:
        """Commit every buffered row in one transaction; on failure the rows stay buffered for the next try."""
        if not self._rows:
            return
        async with self._lock:
            rows, self._rows = self._rows, []
            if not rows:
                return
            if self._db is None:
                await self.start()
            try:
                inserted = await anyio.to_thread.run_sync(self._commit, rows)
            except sqlite3.Error as e:
                self._rows[:0] = rows
                raise SqlSinkError(f"sql sink {self.name!r}: cannot commit {len(rows)} rows to {self.db_path}: {e}") \
                    from e
        self._batches.inc()
        self._duplicates.inc(len(rows) - inserted)
        self.metrics.delivered(len(rows))

    async def stop(self) -> None:
        """Commit what is buffered, then close the database."""
        try:
            await self.flush()
        finally:
            db, self._db = self._db, None
            if db is not None:
                await anyio.to_thread.run_sync(db.close)
