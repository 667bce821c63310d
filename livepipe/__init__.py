"""livepipe: turn Bilibili live rooms into event pipelines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from livepipe import assembly as _assembly
from livepipe.errors import LivepipeError
from livepipe.events import Event, make_event
from livepipe.hookspecs import hookimpl

if TYPE_CHECKING:
    from livepipe.embed import Pipeline

#: The installed livepipe version.
__version__ = "0.1.0"
__all__ = ["Event", "LivepipeError", "Pipeline", "hookimpl", "make_event", "__version__"]


def _load_config(*args: Any, **kwargs: Any) -> Any:
    # the whole load lives in the runtime, above configuration: livepipe.config.load_config reaches it
    # through livepipe.assembly, filled here (imported on first use, so ``import livepipe`` stays light)
    from livepipe.runtime.loading import load_config

    return load_config(*args, **kwargs)


_assembly.set_full_loader(_load_config)


def __getattr__(name: str) -> Any:
    # ``Pipeline`` (the embedding API) pulls in the runtime and every component: imported on first use,
    # so ``import livepipe`` (and the Event type) stays light
    if name == "Pipeline":
        from livepipe.embed import Pipeline

        return Pipeline
    raise AttributeError(f"module 'livepipe' has no attribute {name!r}")
