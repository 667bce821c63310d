"""Shared setup of the livepipe-roomctl tests: asyncio, the plugin registered, a simulator world."""

from __future__ import annotations

import pytest

from livepipe import plugins, testing


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(autouse=True)
def _roomctl_registered():
    """Register the plugin by hand when it is not pip-installed in this environment."""
    import livepipe_roomctl

    testing.install()
    if plugins.manager().get_plugin("roomctl") is None and not plugins.registry().get("schedule"):
        plugins.register_plugin(livepipe_roomctl, "roomctl")
    yield
