"""A faithful local simulator of the Bilibili live service (HTTP API subset + WebSocket ``/sub``).

Start it in-process with :func:`livepipe.sim.app.run_simulator`, or from the shell with
``livepipe sim``. See docs/simulator.md.
"""

from typing import Any

__all__ = ["run_simulator", "Simulator"]


def __getattr__(name: str) -> Any:  # lazy: importing livepipe.sim.state must not load aiohttp
    if name in __all__:
        from livepipe.sim import app

        return getattr(app, name)
    raise AttributeError(name)
