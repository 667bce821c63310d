"""Helpers shared by the automod tests (a uniquely named module, so it never clashes with other suites)."""

from __future__ import annotations

from typing import Any


def rule(id: str = "r", **kw: Any) -> dict[str, Any]:
    """A rule table with defaults convenient in tests."""
    return {"id": id, **kw}
