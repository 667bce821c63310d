"""The ``overlay`` sink's web server: the page, its static files, and the event stream (SSE) to every viewer.

:class:`Hub` fans each card out to the viewers without waiting on any of them: every viewer has a
bounded queue, and one that falls ``client_queue`` cards behind (a stalled browser, a client that
never reads) is disconnected and counted, so the pipeline never slows down for a viewer. The hub
keeps the last ``history`` cards; a new viewer gets them first. Each SSE message carries
``id: <boot>-<seq>``, so a browser that reconnects (``EventSource`` sends ``Last-Event-ID``) gets only
what it missed, or the whole history when the server restarted in between (the page drops cards it
already shows by their event id).

The page and its script are package data (``overlay_static/``), served from memory under fixed
names; a ``css`` file from the config is served as ``/custom.css``, read at each request.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from livepipe.lograte import RateLimitedLog

__all__ = ["Hub", "Viewer", "make_app", "static_files"]

#: Seconds without a card after which a viewer gets a ``ping`` event (the page reconnects when it hears
#: nothing for 45 s: a connection that died without a word).
KEEPALIVE = 15.0
_PING = b"event: ping\ndata: {}\n\n"
#: How long a browser waits before reconnecting (the SSE ``retry:`` field), in milliseconds.
RETRY_MS = 1000

#: The Content-Security-Policy of the page: scripts only from this server (no inline script or
#: event-handler attribute runs, even if some text slipped into the HTML), images from anywhere.
CSP = ("default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' http: https: data:; "
       "style-src 'self' 'unsafe-inline' http: https:; font-src 'self' http: https: data:; "
       "object-src 'none'; base-uri 'none'; form-action 'none'")  # fmt: skip

_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


def static_files() -> dict[str, tuple[bytes, str]]:
    """The page's files from the package: URL path -> (body, content type). ``/`` is the page."""
    root = resources.files("livepipe.components") / "overlay_static"
    out = {}
    for entry in root.iterdir():
        suffix = Path(entry.name).suffix
        if suffix in _TYPES and entry.is_file():
            path = "/" if entry.name == "index.html" else f"/{entry.name}"
            out[path] = (entry.read_bytes(), _TYPES[suffix])
    if "/" not in out:
        raise FileNotFoundError(f"the overlay page is missing from the package ({root}/index.html)")
    return out


class Viewer:
    """One connected page: the SSE messages waiting for it, at most ``limit``."""

    def __init__(self, limit: int, peer: str) -> None:
        self.limit = limit
        self.peer = peer
        self.pending: deque[bytes] = deque()
        self.wake = asyncio.Event()
        #: set when the hub disconnects this viewer (``"slow"``) or closes (``"closing"``)
        self.ended: str | None = None
        self.transport: asyncio.BaseTransport | None = None

    def offer(self, message: bytes) -> bool:
        """Queue one message; False (and nothing queued) if the viewer is already ``limit`` behind."""
        if len(self.pending) >= self.limit:
            return False
        self.pending.append(message)
        self.wake.set()
        return True

    def end(self, why: str) -> None:
        """Stop serving this viewer now: its stream ends and its connection is cut (unsent data dropped)."""
        if self.ended is None:
            self.ended = why
        self.pending.clear()
        self.wake.set()
        if self.transport is not None:
            self.transport.abort()  # a peer that does not read would hold close() open forever

    async def take(self, timeout: float) -> bytes | None:
        """Everything queued, joined; None after ``timeout`` seconds with nothing queued."""
        if not self.pending and self.ended is None:
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), timeout)
            except asyncio.TimeoutError:
                return None
        out = b"".join(self.pending)
        self.pending.clear()
        return out


class Hub:
    """Fans cards out to viewers, keeps the recent history, drops viewers that fall behind."""

    def __init__(self, history: int, client_queue: int, on_slow: Callable[[Viewer], None] | None = None) -> None:
        self.boot = secrets.token_hex(4)
        self.seq = 0
        self.client_queue = client_queue
        self.history: deque[tuple[int, bytes]] = deque(maxlen=history)
        self.viewers: set[Viewer] = set()
        self.on_slow = on_slow
        self.closed = False

    def publish(self, card: dict[str, Any]) -> None:
        """Send ``card`` to every viewer (never waits); a viewer with a full queue is disconnected."""
        self.seq += 1
        message = b"id: %s-%d\ndata: %s\n\n" % (self.boot.encode(), self.seq, orjson.dumps(card))
        if self.history.maxlen:
            self.history.append((self.seq, message))
        for v in tuple(self.viewers):
            if not v.offer(message):
                self.viewers.discard(v)
                v.end("slow")
                if self.on_slow is not None:
                    self.on_slow(v)

    def join(self, last_event_id: str | None, peer: str) -> tuple[Viewer, bytes]:
        """A new viewer and what it gets first: the history after ``last_event_id`` (all of it when that id
        is unknown or from another run of the server)."""
        since = 0
        if last_event_id:
            boot, _, seq = last_event_id.strip().partition("-")
            if boot == self.boot and seq.isdigit():
                since = int(seq)
                if self.history and since < self.history[0][0] - 1:
                    since = 0  # it missed more than the history holds: resend it all (the page drops repeats)
        backlog = b"".join(m for s, m in self.history if s > since)
        viewer = Viewer(self.client_queue, peer)
        self.viewers.add(viewer)
        return viewer, backlog

    def leave(self, viewer: Viewer) -> None:
        """Forget ``viewer`` (its connection ended)."""
        self.viewers.discard(viewer)

    def close(self) -> None:
        """End every viewer's stream (the server is stopping)."""
        self.closed = True
        for v in tuple(self.viewers):
            v.end("closing")
        self.viewers.clear()


def make_app(hub: Hub, *, css_path: Path | None, log: logging.Logger,
             defaults: dict[str, str] | None = None) -> web.Application:
    """The aiohttp application: ``/`` (the page), its static files, ``/custom.css`` and ``/events`` (SSE).

    ``defaults`` fill the page's ``{{name}}`` placeholders (the style and the most messages shown when
    the URL does not say); their values must be plain words or numbers (the sink's config ensures it).
    """
    files = static_files()
    page, ctype = files["/"]
    for name, value in (defaults or {}).items():
        if not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"overlay page default {name}={value!r}: only letters, digits, - and _")
        page = page.replace(b"{{%s}}" % name.encode(), value.encode())
    files["/"] = (page, ctype)
    css_errors = RateLimitedLog(log, interval=60.0)

    async def static(request: web.Request) -> web.Response:
        body, ctype = files[request.path]
        headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
        if ctype == "text/html":
            headers |= {"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"}
        return web.Response(body=body, content_type=ctype, charset="utf-8", headers=headers)

    async def custom_css(_: web.Request) -> web.Response:
        body = b""
        if css_path is not None:
            try:
                body = await asyncio.to_thread(css_path.read_bytes)
            except OSError as e:
                css_errors.log(logging.WARNING, "css", "overlay: cannot read the css file %s: %s (check `css`)",
                               css_path, e.strerror or e)
        return web.Response(body=body, content_type="text/css", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})

    async def events(request: web.Request) -> web.StreamResponse:
        if hub.closed:
            raise web.HTTPServiceUnavailable(text="the overlay is stopping")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                           "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        await resp.prepare(request)
        last = request.headers.get("Last-Event-ID") or request.query.get("last_id")
        viewer, backlog = hub.join(last, request.remote or "?")
        viewer.transport = request.transport
        try:
            await resp.write(b"retry: %d\n\n" % RETRY_MS + backlog)
            while viewer.ended is None:
                chunk = await viewer.take(KEEPALIVE)
                if viewer.ended is not None:
                    break
                await resp.write(chunk if chunk is not None else _PING)
        except (ConnectionError, RuntimeError):  # the browser left (or was cut off as slow)
            pass
        finally:
            hub.leave(viewer)
        return resp

    app = web.Application()
    for path in files:
        app.router.add_get(path, static)
    app.router.add_get("/custom.css", custom_css)
    app.router.add_get("/events", events)
    return app
