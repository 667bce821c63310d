"""Shared fixtures: the plugin registered (even when not pip-installed) and event makers."""

from __future__ import annotations

import livepipe_assistant
import pytest

from livepipe import plugins, testing


@pytest.fixture(autouse=True)
def _registered() -> None:
    testing.install()
    if plugins.manager().get_plugin("assistant") is None and not plugins.registry().get("thanks"):
        plugins.register_plugin(livepipe_assistant, "assistant")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
