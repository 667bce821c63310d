"""livepipe: turn Bilibili live rooms into event pipelines."""

from livepipe.errors import LivepipeError
from livepipe.events import Event, make_event
from livepipe.hookspecs import hookimpl

#: The installed livepipe version.
__version__ = "0.1.0"
__all__ = ["Event", "LivepipeError", "hookimpl", "make_event", "__version__"]
