"""Shared fixtures: the plugin registered (even when not pip-installed) and event makers."""

from __future__ import annotations

import pytest
from livepipe import plugins, testing

import livepipe_assistant


@pytest.fixture(autouse=True)
def _registered() -> None:
    testing.install()
    if plugins.manager().get_plugin("assistant") is None:
        plugins.register_plugin(livepipe_assistant, "assistant")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
