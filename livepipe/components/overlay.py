"""The ``overlay`` sink: a live chat page for OBS's browser source (danmaku, gifts, super chats, guards).

The sink serves one web page on ``listen``; add ``http://127.0.0.1:PORT/`` as a browser source in
OBS. Events reach every open page over Server-Sent Events as they arrive; the page reconnects by
itself and resumes where it left off. What it draws and how comes from the URL
(``?style=bubble&max=20&hide=gift``), and a CSS file of yours can restyle it (``css``). See
``docs/overlay.md``.

The sink never waits for a viewer: a page that falls ``client_queue`` events behind is
disconnected (``overlay_viewers_dropped_total``) and reconnects on its own. Events of other kinds
than those the page shows are ignored (counted as intentionally discarded).
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path
from typing import Any, ClassVar, Literal

from aiohttp import web
from pydantic import field_validator

from livepipe.component import Context, Emit, Sink
from livepipe.components.overlay_cards import GuardDedupe, card
from livepipe.components.overlay_server import Hub, Viewer, make_app
from livepipe.errors import SinkError
from livepipe.events import Event
from livepipe.lograte import RateLimitedLog
from livepipe.preflight import Problems, readable_file
from livepipe.runtime.http import parse_listen
from livepipe.schema import SinkConfig, WhenFull, field

__all__ = ["OverlayConfig", "OverlayError", "OverlaySink", "STYLES"]

#: The page's styles (``?style=NAME`` or the ``style`` option).
STYLES = ("default", "bubble", "compact")


class OverlayError(SinkError):
    """The overlay's web server could not start (the address is taken or cannot be used)."""


class OverlayConfig(SinkConfig):
    """Config of the ``overlay`` sink."""

    listen: str = field(
        "127.0.0.1:8765",
        description="`HOST:PORT` the page is served on; port 0 picks a free one (logged). Keep 127.0.0.1 unless "
        "OBS runs on another machine: anyone who can reach the address sees the chat",
    )
    history: int = field(50, description="the last events a page gets when it opens (or reopens)", ge=0, le=10_000)
    client_queue: int = field(
        2000, description="events a page may fall behind before it is disconnected (it reconnects by itself); "
        "the pipeline never waits for a page", ge=10, le=1_000_000)
    style: Literal["default", "bubble", "compact"] = field(
        "default", description="the page's style when its URL has no `?style=`")
    max: int = field(30, description="most messages on screen when the URL has no `?max=`", ge=1, le=500)
    css: str | None = field(
        None, description="a CSS file (relative to the config file) loaded by the page after its own styles; "
        "re-read each time the page loads")
    when_full: WhenFull = field(
        "drop_oldest", description="when events come faster than the sink hands them out (it never waits for "
        "a page, so only a stalled process fills it): `drop_oldest` (default), `drop_newest` or `block`")

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        parse_listen(v)
        return v


class OverlaySink(Sink):
    """Serve a live chat page (danmaku, gifts, super chats, guards) for OBS's browser source, over SSE."""

    type_name: ClassVar[str] = "overlay"
    Config = OverlayConfig

    def __init__(self, config: OverlayConfig, context: Context) -> None:
        super().__init__(config, context)
        self.cfg = config
        self._dropped = self.metrics.counter(
            "overlay_viewers_dropped_total", "overlay pages disconnected for falling behind")
        self.hub = Hub(config.history, config.client_queue, on_slow=self._on_slow)
        self.metrics.gauge("overlay_viewers", "overlay pages connected now", fn=lambda: len(self.hub.viewers))
        self._guards = GuardDedupe()
        self._slow_log = RateLimitedLog(self.log, interval=60.0)
        self._runner: web.AppRunner | None = None
        #: the port the page is served on (known once started; differs from ``listen`` when that says 0)
        self.port: int | None = None

    @property
    def url(self) -> str:
        """The page's address, ``http://HOST:PORT/`` (once started)."""
        host, _ = parse_listen(self.cfg.listen)
        shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(host, host)
        if ":" in shown and not shown.startswith("["):
            shown = f"[{shown}]"
        return f"http://{shown}:{self.port}/"

    def _css_path(self) -> Path | None:
        return self.context.path(self.cfg.css) if self.cfg.css else None

    def preflight(self) -> Problems:
        """The ``css`` file must exist and be a file."""
        path = self._css_path()
        if path is not None:
            yield from readable_file(path, "css", "css file")

    async def start(self) -> None:
        """Start the web server on ``listen``."""
        host, port = parse_listen(self.cfg.listen)
        app = make_app(self.hub, css_path=self._css_path(), log=self.log,
                       defaults={"style": self.cfg.style, "max": str(self.cfg.max)})
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            why = "the address is already in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
            raise OverlayError(f"overlay sink {self.name!r} cannot listen on {self.cfg.listen}: {why}; "
                               f"set another `listen` (port 0 picks a free one)") from None
        self._runner = runner
        server = site._server
        sockets = getattr(server, "sockets", None) or ()
        self.port = sockets[0].getsockname()[1] if sockets else port
        self.log.info("overlay page on %s (add it to OBS as a browser source)", self.url)

    def _on_slow(self, viewer: Viewer) -> None:
        self._dropped.inc()
        self._slow_log.log(logging.WARNING, "slow", "overlay: a page at %s fell %d events behind and was disconnected "
                           "(it reconnects by itself; overlay_viewers_dropped_total counts these)",
                           viewer.peer, self.cfg.client_queue)

    async def write(self, event: Event, emit: Emit) -> None:
        """Hand the event's card to every open page (never waits for one)."""
        c = card(event)
        if c is None or (c["k"] == "guard" and self._guards.is_repeat(event, c)):
            self.metrics.discarded(intentional=True)
            return
        self.hub.publish(c)

    async def stop(self) -> None:
        """End every page's stream and stop the server (the pages reconnect when it is back)."""
        self.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def stats(self) -> dict[str, Any]:
        """Connected pages and disconnected slow ones (for tests and status output)."""
        return {"viewers": len(self.hub.viewers), "dropped": int(self._dropped.value)}
