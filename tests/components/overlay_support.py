"""Helpers for the overlay tests: a real pipeline (simulator -> bilibili.danmaku -> overlay) and a real chromium."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import re
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from livepipe import testing
from livepipe.sim import messages as M

CHROMIUM = os.environ.get("LIVEPIPE_CHROMIUM", "/usr/bin/chromium")
#: chromium's flags: headless, and nothing that reaches for the (closed) network
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROOM = 1000
#: what the page's images (gifts, emoticons) get instead of the network: a small SVG square
IMAGE = (b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
         b'<rect width="40" height="40" fill="#f6a"/></svg>')

PIPELINE = """
[simulator]
url = "{sim}"

[credentials.simulator]

[sources.live]
type = "bilibili.danmaku"
room_ids = [{room}]
credential = "simulator"

[sinks.overlay]
type = "overlay"
inputs = ["live"]
listen = "127.0.0.1:{port}"
{options}
"""


def chromium_or_skip() -> str:
    """The chromium binary; skip without it, except under ``LIVEPIPE_CI=1`` (.ci/run installs it), where it fails."""
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    if os.environ.get("LIVEPIPE_CI") == "1":
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it with `apt-get install -y chromium`")
    pytest.skip(f"needs Debian's chromium at {CHROMIUM} (`apt-get install chromium`)")


@contextlib.asynccontextmanager
async def browser_page(url: str) -> AsyncIterator[Any]:
    """A chromium page (Playwright) opened on ``url``; outside images are answered locally with :data:`IMAGE`."""
    path = chromium_or_skip()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            # bypass_csp: Playwright evaluates the tests' expressions, which the page's policy forbids (the XSS
            # test then checks the escaping alone, without the policy's help)
            page = await browser.new_page(viewport={"width": 600, "height": 800}, bypass_csp=True)
            page.errors = []  # type: ignore[attr-defined]
            page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]

            async def fake_image(route: Any) -> None:
                await route.fulfill(status=200, content_type="image/svg+xml", body=IMAGE)

            await page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), fake_image)
            await page.goto(url)
            yield page
        finally:
            await browser.close()


async def wait_js(page: Any, expression: str, timeout: float = 30.0) -> Any:
    """Wait until the JavaScript ``expression`` is truthy in ``page`` (polled); returns its value."""
    handle = await page.wait_for_function(expression, timeout=timeout * 1000)
    return await handle.json_value()


def free_port() -> int:
    """A free port outside the ephemeral range (so no outgoing connection takes it while a test restarts)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32000")


@contextlib.asynccontextmanager
async def overlay_pipeline(tmp_path: Path, sim: Any, *, port: int = 0, **options: Any) -> AsyncIterator[Any]:
    """Run simulator -> bilibili.danmaku (logged in) -> overlay; yields the running overlay sink once the
    source is connected to the room. Leaving stops the pipeline."""
    lines = "\n".join(f"{k} = {v!r}".replace("'", '"') if isinstance(v, str) else f"{k} = {v}"
                      for k, v in options.items())
    text = PIPELINE.format(sim=sim.base_url, room=ROOM, port=port, options=lines)
    before = len(sim.hub.clients.get(sim.room(ROOM).room_id, ()))
    async with testing.running_pipeline(text, tmp_path) as pipeline:
        await sim.wait_for_clients(ROOM, n=before + 1, timeout=30)
        try:
            yield pipeline.components["overlay"]
        finally:
            pipeline.request_shutdown()


def users(sim: Any) -> dict[str, Any]:
    """Viewers of the room for the messages: ``captain`` (a 舰长 with a medal), ``plain`` (no medal, no guard)."""
    pop = sim.populations[sim.room(ROOM).room_id].users
    captain = next(u for u in pop if u.guard_level == 3 and u.medal_level)
    plain = next(u for u in pop if not u.guard_level and not u.medal_level)
    return {"captain": captain, "plain": plain}


_rnd = itertools.count(1)


def danmaku(sim: Any, text: str, user: Any = None, **kw: Any) -> dict[str, Any]:
    """A DANMU_MSG of the room (from ``user``, default the plain viewer), each with its own id."""
    kw.setdefault("rnd", next(_rnd))
    return M.danmaku(user or users(sim)["plain"], text, sim.room(ROOM), time.time(), **kw)
