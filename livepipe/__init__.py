"""livepipe: turn Bilibili live rooms into event pipelines."""

from livepipe.events import Event, make_event

__version__ = "0.1.0"
__all__ = ["Event", "make_event", "__version__"]
