"""What the top of the package hands down to the layers below it.

Layers import only downward, yet one name below needs something from above: ``load_config`` in
:mod:`livepipe.config` (plugins and tests import it from there) does the whole load, which takes the
installed plugins (:mod:`livepipe.plugins`) and the wiring check (:mod:`livepipe.runtime.graph`).
Configuration does not import them; the package namespace (``livepipe/__init__``, run first by any
import of a livepipe module) puts :func:`livepipe.runtime.loading.load_config` here instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_full_loader: Callable[..., Any] | None = None


def set_full_loader(loader: Callable[..., Any]) -> None:
    """Install the function that loads a configuration with the installed plugins and checks its wiring."""
    global _full_loader
    _full_loader = loader


def full_loader() -> Callable[..., Any]:
    """The installed full loader (see :func:`set_full_loader`)."""
    if _full_loader is None:  # pragma: no cover - the package namespace installs it on import
        raise RuntimeError("livepipe's configuration loader is not installed: import livepipe first")
    return _full_loader
