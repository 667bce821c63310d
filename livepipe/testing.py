"""Helpers for plugin authors and livepipe's own tests (pipeline runner, capture sink, fixtures).

Registered as a pytest plugin through the ``pytest11`` entry point, so its fixtures are available
in any project that installs livepipe.
"""

from __future__ import annotations
