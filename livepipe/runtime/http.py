"""The optional metrics endpoint: ``/metrics`` (Prometheus text, or OpenMetrics on request), ``/health``, ``/ready``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio
from aiohttp import web

from livepipe.component import Source

if TYPE_CHECKING:
    from livepipe.runtime.pipeline import Pipeline

log = logging.getLogger("livepipe.metrics")


def parse_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"`` -> (host, port); ``":9464"`` listens on 127.0.0.1."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"listen must be HOST:PORT, e.g. 127.0.0.1:9464 (got {listen!r})")
    return (host.strip("[]") or "127.0.0.1"), int(port)


def make_app(pipeline: Pipeline) -> web.Application:
    """The aiohttp application serving the three endpoints for ``pipeline``."""

    async def metrics(request: web.Request) -> web.Response:
        body, content_type = pipeline.metrics.render(request.headers.get("Accept"))
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def health(_: web.Request) -> web.Response:
        if pipeline.draining:
            return web.json_response({"status": "draining"}, status=503)
        details = {}
        for c in pipeline.components.values():
            detail = c.health() if isinstance(c, Source) else None
            if detail is not None:
                details[c.name] = detail
        degraded = any(d.get("degraded") for d in details.values())
        body: dict[str, object] = {"status": "degraded" if degraded else "ok"}
        if details:
            body["sources"] = details
        return web.json_response(body)

    async def ready(_: web.Request) -> web.Response:
        if pipeline.ready:
            return web.json_response({"status": "ready"})
        waiting = [c.name for c in pipeline.components.values() if c.role == "source" and not getattr(c, "ready", True)]
        return web.json_response({"status": "not ready", "waiting_for": waiting}, status=503)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    return app


async def serve_metrics(
    pipeline: Pipeline, listen: str, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Serve until cancelled; ``task_status.started(port)`` once listening."""
    host, port = parse_listen(listen)
    runner = web.AppRunner(make_app(pipeline), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1] if site._server and site._server.sockets else port
        pipeline.metrics_port = bound  # type: ignore[attr-defined]
        log.info("metrics on http://%s:%s/metrics", host, bound)
        task_status.started(bound)
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            await runner.cleanup()
