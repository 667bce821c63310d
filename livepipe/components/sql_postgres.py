"""The PostgreSQL database of the ``sql`` sink (``url = "postgresql://..."``), through psycopg 3 (async).

The same columns as SQLite with PostgreSQL's types::

    id TEXT PRIMARY KEY, kind TEXT NOT NULL, cmd TEXT, room_id NUMERIC, ts DOUBLE PRECISION NOT NULL,
    uid NUMERIC, uname TEXT, text TEXT, data JSONB NOT NULL, raw JSONB

``NUMERIC`` keeps any integer exactly (a uid beyond 64 bits too, where ``BIGINT`` would refuse the whole
batch). PostgreSQL text cannot hold the NUL character (``\\x00``, ``\\u0000`` in JSON): it is stored as
U+FFFD (�) instead, the one change a row may see.

One connection, opened at the first commit (or the health check) and again after it is lost; a batch is
one transaction of ``executemany`` (psycopg sends it pipelined: one round trip per batch, not per row).
The table and its indexes are created under a transaction-scoped advisory lock, so several workers
(``livepipe run --workers N``) starting at once do not race on ``CREATE TABLE IF NOT EXISTS``.

psycopg is an optional dependency (``pip install 'livepipe[postgres]'``); importing this module without it
raises ``ImportError``, which :class:`~livepipe.components.sql.SqlSink` turns into a message naming the extra.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

import psycopg

from livepipe.component import PermanentFailure
from livepipe.components.sql_common import COLUMNS, SqlSinkError, index_sql, insert_sql, to_json, utf8
from livepipe.events import Event
from livepipe.schema import REDACTED, redact_url

if TYPE_CHECKING:
    from livepipe.components.sql import SqlSink

#: Seconds to wait for the server to accept a connection.
CONNECT_TIMEOUT = 10


def schema_sql(table: str) -> list[str]:
    """The PostgreSQL ``CREATE TABLE`` / ``CREATE INDEX`` statements for ``table`` (all ``IF NOT EXISTS``)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {table} ("
        "id TEXT PRIMARY KEY, kind TEXT NOT NULL, cmd TEXT, room_id NUMERIC, ts DOUBLE PRECISION NOT NULL, "
        "uid NUMERIC, uname TEXT, text TEXT, data JSONB NOT NULL, raw JSONB)",
        *index_sql(table),
    ]


def _no_nul(value: Any) -> Any:
    """``value`` with every NUL character in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nul(v) for v in value]
    return value


def _json(value: Any) -> str:
    text = to_json(value)
    if "\\u0000" in text:  # rare: only then walk the value (a text replace could hit an escaped backslash)
        text = to_json(_no_nul(value))
    return text


def _text(value: str | None) -> str | None:
    value = utf8(value)
    return value.replace("\x00", "\ufffd") if value is not None and "\x00" in value else value


class PostgresBackend:
    """A PostgreSQL database of an ``sql`` sink (one async psycopg connection)."""

    def __init__(self, sink: SqlSink) -> None:
        self.sink = sink
        self.cfg = sink.cfg
        self.url = self.cfg.url or ""
        self.where = redact_url(self.url)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._insert = insert_sql(self.cfg.table, "%s")

    def row(self, event: Event) -> tuple[Any, ...]:
        """The row for ``event``: integers as they are, JSON as text, NUL characters replaced."""
        raw = event.raw if self.cfg.include_raw else None
        return (
            _text(event.id), _text(event.kind), _text(event.cmd), event.room_id, event.ts, event.uid,
            _text(event.uname), _text(event.text), _json(event.data), None if raw is None else _json(raw),
        )

    def _hide(self, error: BaseException) -> str:
        """The error's text with the URL's password (should the driver ever quote it) redacted."""
        text = str(error).strip()
        scheme, _, rest = self.url.partition("://")
        userinfo = rest.rpartition("@")[0] if "@" in rest else ""
        password = userinfo.partition(":")[2]
        if password:
            text = text.replace(password, REDACTED)
        return " ".join(text.split())

    async def _create_schema(self, conn: psycopg.AsyncConnection[Any]) -> None:
        table = self.cfg.table
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(f"livepipe.sql.{table}".encode()),))
            create_table, *create_indexes = schema_sql(table)
            await conn.execute(create_table)
            cur = await conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = %s", (table.lower(),))
            self.sink.check_columns([r[0] for r in await cur.fetchall()])
            for stmt in create_indexes:
                await conn.execute(stmt)

    async def open(self) -> None:
        """Connect (unless connected) and create the table and indexes."""
        if self._conn is not None and not self._conn.closed:
            return
        await self.close()
        try:
            conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                                                         application_name="livepipe")
        except psycopg.Error as e:
            raise SqlSinkError(f"sql sink {self.sink.name!r}: cannot connect to {self.where}: {self._hide(e)}") \
                from None
        try:
            await self._create_schema(conn)
        except PermanentFailure:
            await conn.close()
            raise
        except psycopg.Error as e:
            await conn.close()
            raise SqlSinkError(f"sql sink {self.sink.name!r}: cannot create table {self.cfg.table!r} in "
                               f"{self.where}: {self._hide(e)}") from None
        self._conn = conn
        self.sink.log.info("sql sink %r: connected to %s, table %s", self.sink.name, self.where, self.cfg.table)

    async def commit(self, rows: list[tuple[Any, ...]]) -> int:
        """One transaction for ``rows``; a lost connection is reopened at the next commit."""
        await self.open()
        conn = self._conn
        assert conn is not None
        try:
            async with conn.cursor() as cur:
                async with conn.transaction():
                    await cur.executemany(self._insert, rows)
                return max(cur.rowcount, 0)
        except psycopg.Error as e:
            if conn.closed or isinstance(e, psycopg.OperationalError):
                await self.close()
            raise SqlSinkError(f"sql sink {self.sink.name!r}: cannot commit {len(rows)} rows to {self.where}: "
                               f"{self._hide(e)}") from None

    async def close(self) -> None:
        """Close the connection."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except psycopg.Error:
                pass


__all__ = ["COLUMNS", "PostgresBackend", "schema_sql"]
