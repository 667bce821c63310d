"""The ``sql`` sink: events into a SQLite or PostgreSQL table, batched, at-least-once without duplicates.

Schema (one row per event; see docs/components/sql.md)::

    id TEXT PRIMARY KEY, kind TEXT NOT NULL, cmd TEXT, room_id, ts REAL NOT NULL,
    uid, uname TEXT, text TEXT, data TEXT (JSON), raw TEXT (JSON or NULL)

``room_id`` and ``uid`` have no declared type in SQLite (no affinity), so integers are stored as integers and
a value beyond SQLite's 64 bits as its exact decimal text, where an INTEGER column would round it to a float.
PostgreSQL (:mod:`livepipe.components.sql_postgres`) has the same columns with its own types: ``NUMERIC``
for the two integers, ``DOUBLE PRECISION`` for ``ts``, ``JSONB`` for ``data`` and ``raw``.

with indexes on ``(room_id, ts)``, ``(uid, ts)`` and ``(kind, ts)``.

Rows are buffered and committed in one transaction when ``batch_size`` rows are waiting and whenever
the runtime calls :meth:`SqlSink.flush` (its input ran empty, or 0.1 s of work passed), and at stop.
Events count as delivered only once their transaction committed. Rows are inserted with
``INSERT ... ON CONFLICT(id) DO NOTHING``, so a replay or a restart that sends events again adds no
duplicates. This batching is the sink's own; the database is a :class:`Backend` (open, commit, close).

SQLite I/O: the stdlib ``sqlite3`` module on one connection, every call made in a worker thread
(``anyio.to_thread``) under a lock, so the event loop never waits on the disk. One ``executemany``
per batch is all this sink needs; aiosqlite would add a dependency and a per-call queue hop for
nothing.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any, ClassVar, Literal

import anyio
import anyio.to_thread
from pydantic import field_validator, model_validator

from livepipe.component import Context, Emit, PermanentFailure, Sink
from livepipe.components.sql_common import (
    COLUMNS,
    POSTGRES_EXTRA,
    Backend,
    SqlSinkError,
    index_sql,
    insert_sql,
    to_json,
    utf8,
)
from livepipe.events import Event
from livepipe.preflight import Problem, Problems, writable_file
from livepipe.schema import SinkConfig, Url, field, redact_url

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")

__all__ = ["COLUMNS", "SqlConfig", "SqlSink", "SqlSinkError", "SqliteBackend", "event_row", "schema_sql"]

def schema_sql(table: str) -> list[str]:
    """The SQLite ``CREATE TABLE`` / ``CREATE INDEX`` statements for ``table`` (all ``IF NOT EXISTS``)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {table} ("
        "id TEXT PRIMARY KEY, kind TEXT NOT NULL, cmd TEXT, room_id, ts REAL NOT NULL, "
        "uid, uname TEXT, text TEXT, data TEXT NOT NULL, raw TEXT)",
        *index_sql(table),
    ]


def _int(value: int | None) -> int | str | None:
    """SQLite integers are 64-bit; a larger value is stored as its exact decimal text."""
    if value is None or -(2**63) <= value < 2**63:
        return value
    return str(value)


def event_row(event: Event, include_raw: bool) -> tuple[Any, ...]:
    """The SQLite row tuple (in :data:`COLUMNS` order) for one event."""
    raw = event.raw if include_raw else None
    return (
        utf8(event.id), utf8(event.kind), utf8(event.cmd), _int(event.room_id), event.ts, _int(event.uid),
        utf8(event.uname), utf8(event.text), to_json(event.data), None if raw is None else to_json(raw),
    )


class SqlConfig(SinkConfig):
    """Config of the ``sql`` sink."""

    path: str | None = field(
        None, description="SQLite database file (created with its table when missing); relative paths are relative "
        "to the config file. Give `path` or `url`")
    url: Url | None = field(
        None, description="PostgreSQL server and database instead of SQLite: `postgresql://user:password@host:5432/db` "
        f"(the password is never shown; needs `pip install '{POSTGRES_EXTRA}'`)")
    table: str = field("events", description="table name (letters, digits, `_`); created with its indexes if missing")
    batch_size: int = field(
        1000, description="commit as soon as this many rows are waiting (the runtime's flush commits "
        "smaller batches: when the input runs empty and at least every 0.1 s)", ge=1, le=100_000,
    )
    include_raw: bool = field(False, description="store the original Bilibili message as JSON in the `raw` column")
    synchronous: Literal["normal", "full"] = field(
        "normal",
        description="SQLite only: `PRAGMA synchronous` in WAL mode: `normal` survives a crash of livepipe (kill -9) "
        "with every committed batch; `full` also survives a power loss, at an fsync per commit",
    )
    busy_timeout: float = field(5.0, description="SQLite only: seconds to wait for another process's lock on the "
                                "database", ge=0)

    @field_validator("table")
    @classmethod
    def _check_table(cls, v: str) -> str:
        if not _IDENT.match(v) or v.lower().startswith(("sqlite_", "pg_")):
            raise ValueError(f"table {v!r} is not a plain SQL name: use letters, digits and `_` (e.g. \"events\")")
        return v

    @field_validator("path")
    @classmethod
    def _check_path(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("path must not be empty")
        return v

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        scheme, sep, rest = v.partition("://")
        if not sep or scheme not in ("postgresql", "postgres"):
            raise ValueError(f"url {redact_url(v)!r} is not a PostgreSQL URL: write "
                             "postgresql://user:password@host:5432/database (for SQLite, give `path` instead)")
        if re.search(r"[?&]password=", rest):
            raise ValueError("url: put the password in the user:password@ part, not in ?password= "
                             "(only that part is kept secret)")
        return v

    @model_validator(mode="after")
    def _one_database(self) -> SqlConfig:
        if (self.path is None) == (self.url is None):
            raise ValueError("give either `path` (a SQLite file) or `url` (a PostgreSQL database), "
                             "not " + ("both" if self.path else "neither"))
        if self.url is not None:
            sqlite_only = sorted({"synchronous", "busy_timeout"} & self.model_fields_set)
            if sqlite_only:
                raise ValueError(f"{', '.join(sqlite_only)}: SQLite only; leave it out with `url` (PostgreSQL)")
        return self


class SqliteBackend:
    """The SQLite database file of an ``sql`` sink (WAL mode; calls made in a worker thread)."""

    def __init__(self, sink: SqlSink) -> None:
        self.sink = sink
        self.cfg = sink.cfg
        self.where = str(sink.context.path(self.cfg.path or ""))
        self._db: sqlite3.Connection | None = None
        self._insert = insert_sql(self.cfg.table, "?")

    def row(self, event: Event) -> tuple[Any, ...]:
        """The row for ``event`` (:func:`event_row`)."""
        return event_row(event, self.cfg.include_raw)

    def _open(self) -> sqlite3.Connection:
        Path(self.where).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.where, timeout=self.cfg.busy_timeout, isolation_level=None,
                             check_same_thread=False)
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                self.sink.log.warning("%s: journal_mode is %s, not wal (a network file system?)", self.where, mode)
            db.execute(f"PRAGMA synchronous={self.cfg.synchronous.upper()}")
            create_table, *create_indexes = schema_sql(self.cfg.table)
            db.execute(create_table)
            self.sink.check_columns([r[1] for r in db.execute(f"PRAGMA table_info({self.cfg.table})")])
            for stmt in create_indexes:
                db.execute(stmt)
        except BaseException:
            db.close()
            raise
        return db

    async def open(self) -> None:
        """Open the file once, switch it to WAL, create the table and indexes."""
        if self._db is not None:
            return
        try:
            self._db = await anyio.to_thread.run_sync(self._open)
        except (sqlite3.Error, OSError) as e:
            raise PermanentFailure(f"sql sink {self.sink.name!r}: cannot open {self.where}: {e}") from e

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

    async def commit(self, rows: list[tuple[Any, ...]]) -> int:
        """One transaction for ``rows``."""
        await self.open()
        try:
            return await anyio.to_thread.run_sync(self._commit, rows)
        except sqlite3.Error as e:
            raise SqlSinkError(f"sql sink {self.sink.name!r}: cannot commit {len(rows)} rows to {self.where}: "
                               f"{e}") from e

    async def close(self) -> None:
        """Close the file."""
        db, self._db = self._db, None
        if db is not None:
            await anyio.to_thread.run_sync(db.close)


class SqlSink(Sink):
    """Insert events into a SQLite or PostgreSQL table in batches; the event id is the primary key (no duplicates)."""

    type_name: ClassVar[str] = "sql"
    Config = SqlConfig
    confirms_delivery = True  # delivered = in a committed transaction

    def __init__(self, config: SqlConfig, context: Context) -> None:
        super().__init__(config, context)
        self.cfg = config
        self._backend: Backend | None = None
        self._rows: list[tuple[Any, ...]] = []
        self._lock = anyio.Lock()
        self._batches = self.metrics.counter("sql_batches_total", "transactions the sql sink committed")
        self._duplicates = self.metrics.counter(
            "sql_duplicates_total", "events the sql sink skipped because their id was already stored")

    @property
    def db_path(self) -> str:
        """The resolved SQLite database file path, or the PostgreSQL URL with its password redacted."""
        if self.cfg.url is not None:
            return redact_url(self.cfg.url)
        return str(self.context.path(self.cfg.path or ""))

    def preflight(self) -> Problems:
        """SQLite: the file must be writable or creatable. PostgreSQL: its driver must be installed."""
        if self.cfg.url is None:
            yield from writable_file(self.context.path(self.cfg.path or ""), "path", "database file")
            return
        try:
            import psycopg  # noqa: F401
        except ImportError:
            yield Problem("url", f"PostgreSQL needs the psycopg driver, which is not installed — run "
                                 f"`pip install '{POSTGRES_EXTRA}'`")

    def check_columns(self, present: list[str]) -> None:
        """Raise :class:`PermanentFailure` naming the fix when an existing table lacks some of :data:`COLUMNS`."""
        missing = [c for c in COLUMNS if c not in present]
        if missing:
            raise PermanentFailure(
                f"sql sink {self.name!r}: table {self.cfg.table!r} in {self.db_path} exists without the "
                f"columns {', '.join(missing)}; name another `table` or migrate it "
                "(schema: docs/components/sql.md)")

    def _make_backend(self) -> Backend:
        if self.cfg.url is None:
            return SqliteBackend(self)
        try:
            from livepipe.components.sql_postgres import PostgresBackend
        except ImportError as e:
            raise PermanentFailure(f"sql sink {self.name!r}: PostgreSQL needs the psycopg driver ({e}) — run "
                                   f"`pip install '{POSTGRES_EXTRA}'`") from e
        return PostgresBackend(self)

    async def healthcheck(self) -> None:
        """Open (or create) the database and its table and indexes; raise naming the database if impossible."""
        await self.start()
        assert self._backend is not None
        async with self._lock:
            await self._backend.open()

    async def start(self) -> None:
        """Prepare the database (idempotent). SQLite opens its file now; PostgreSQL connects at the first commit
        (or the health check), so a server that is down delays rows, not the start."""
        if self._backend is None:
            self._backend = self._make_backend()
        if self.cfg.url is None:
            await self._backend.open()

    async def write(self, event: Event, emit: Emit) -> None:
        """Buffer the event's row; commit when ``batch_size`` rows are waiting.

        If that commit fails, this event's row is taken back out (the runtime applies ``on_error`` to it) and
        the rows before it stay buffered for the next flush, so a database that is down holds at most
        ``batch_size`` rows in memory.
        """
        if self._backend is None:
            await self.start()
        assert self._backend is not None
        row = self._backend.row(event)
        self._rows.append(row)
        if len(self._rows) >= self.cfg.batch_size:
            try:
                await self.flush()
            except Exception:
                for i in range(len(self._rows) - 1, -1, -1):
                    if self._rows[i] is row:
                        del self._rows[i]
                        break
                raise

    async def flush(self) -> None:
        """Commit every buffered row in one transaction; on failure the rows stay buffered for the next try."""
        if not self._rows:
            return
        async with self._lock:
            rows, self._rows = self._rows, []
            if not rows:
                return
            if self._backend is None:
                await self.start()
            assert self._backend is not None
            try:
                inserted = await self._backend.commit(rows)
            except BaseException:
                self._rows[:0] = rows
                raise
        self._batches.inc()
        self._duplicates.inc(len(rows) - inserted)
        self.metrics.delivered(len(rows))

    async def stop(self) -> None:
        """Commit what is buffered, then close the database."""
        try:
            await self.flush()
        finally:
            backend = self._backend
            if backend is not None:
                await backend.close()
