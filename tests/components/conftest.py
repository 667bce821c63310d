"""Fixtures for component tests: a throwaway PostgreSQL server (see postgres_server.py)."""

from __future__ import annotations

import itertools

import pytest
from postgres_server import PostgresServer, find_bin_dir, skip_or_fail

_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL server for the session; skipped (failed under LIVEPIPE_CI=1) without PostgreSQL."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        skip_or_fail("PostgreSQL server binaries (initdb, postgres) not found")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        skip_or_fail("psycopg is not installed (pip install -e '.[test]')")
    server = PostgresServer(bin_dir).start()
    yield server
    server.cleanup()


@pytest.fixture
def pg_url(postgres):
    """The URL of a fresh, empty database for one test."""
    return postgres.create_database(f"t{next(_databases)}")
