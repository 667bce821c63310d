"""NATS tests run against a real nats-server (livepipe.testing's fixtures); they fail if it is missing."""

import pytest
from nats_helpers import install


@pytest.fixture(autouse=True)
def _install() -> None:
    install()
