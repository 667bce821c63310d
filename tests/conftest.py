"""Shared pytest setup: anyio tests run on asyncio (nats-py and aiohttp are asyncio-only)."""

import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"
