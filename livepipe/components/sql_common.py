"""What the ``sql`` sink's databases share: the columns, the statements, the error, the backend protocol.

:mod:`livepipe.components.sql` (the sink and SQLite) and :mod:`livepipe.components.sql_postgres` both import
from here, never from each other.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import orjson

from livepipe.errors import SinkError
from livepipe.events import Event

#: Column names in table order; ``data`` and ``raw`` hold JSON text.
COLUMNS = ("id", "kind", "cmd", "room_id", "ts", "uid", "uname", "text", "data", "raw")

#: The pip extra that installs the PostgreSQL driver (psycopg).
POSTGRES_EXTRA = "livepipe[postgres]"


class SqlSinkError(SinkError):
    """Opening the database or committing a batch failed; the message names the database (file or URL)."""


def index_sql(table: str) -> list[str]:
    """The ``CREATE INDEX IF NOT EXISTS`` statements for ``table`` (the same in SQLite and PostgreSQL)."""
    return [
        f"CREATE INDEX IF NOT EXISTS {table}_room_ts ON {table} (room_id, ts)",
        f"CREATE INDEX IF NOT EXISTS {table}_uid_ts ON {table} (uid, ts)",
        f"CREATE INDEX IF NOT EXISTS {table}_kind_ts ON {table} (kind, ts)",
    ]


def insert_sql(table: str, placeholder: str) -> str:
    """``INSERT ... ON CONFLICT (id) DO NOTHING`` for one row, with the driver's ``placeholder`` (``?``, ``%s``)."""
    return (f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join([placeholder] * len(COLUMNS))}) "
            "ON CONFLICT (id) DO NOTHING")


def utf8(value: str | None) -> str | None:
    """``value`` with every lone surrogate replaced by U+FFFD: UTF-8 cannot carry one, and a row holding one
    would fail its whole batch at every retry (a processor can build such text; Bilibili's JSON cannot)."""
    if value is None or value.isascii():
        return value
    try:
        value.encode()
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def to_json(value: Any) -> str:
    """``value`` as compact JSON text (integers beyond 64 bits too; lone surrogates become U+FFFD)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits, lone surrogates and the like
        return utf8(json.dumps(value, ensure_ascii=False, default=str)) or ""


class Backend(Protocol):
    """One database behind the ``sql`` sink: opens it (creating the table), commits batches, closes."""

    #: The database for messages: the file path, or the URL with its password redacted.
    where: str

    def row(self, event: Event) -> tuple[Any, ...]:
        """The row tuple (in :data:`COLUMNS` order) this database takes for ``event``."""

    async def open(self) -> None:
        """Connect (once; again after a lost connection), create the table and indexes, check the columns."""

    async def commit(self, rows: list[tuple[Any, ...]]) -> int:
        """Insert ``rows`` in one transaction; returns how many were new (the rest were duplicates)."""

    async def close(self) -> None:
        """Close the connection (idempotent)."""
