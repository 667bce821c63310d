"""The ``http`` sink (webhook): POST or PUT events, one per request or in batches, to a URL.

* Body: the event's JSON form, or a JSON array of them when ``batch_size > 1``; or, with ``body``, a
  template (:mod:`livepipe.templating`) rendered per event, a batch's renderings joined by newlines.
  An event whose rendering fails (or renders nothing) is not sent: it goes to ``dead_letter`` with the
  reason, or is counted lost with a rate-limited log line, like a refused request.
* ``Idempotency-Key`` header: the event id, or for a batch ``sha256:`` + the SHA-256 of its ids
  joined by newlines. Retries send the same key, so a receiver can drop repeats.
* Optional ``X-Livepipe-Signature: sha256=<hex>``: HMAC-SHA256 of the exact body with ``secret``.
* Retries with exponential backoff on 5xx, 408, 429, connection errors and timeouts (waiting at least what
  a ``Retry-After`` asks, up to ``max_backoff``); any other 4xx, a 3xx (redirects are not followed: the
  headers and signature are for this receiver), or retries used up, hands each event of the request to
  the ``dead_letter`` output (with ``on_error = "dead_letter"``) or counts it lost with a rate-limited log
  line. Never silently. Messages show the URL as scheme, host and port only (:func:`shown_url`).
* Requests run concurrently up to ``concurrency``; ``write`` waits for a free slot (back-pressure).
  ``flush`` (when the input runs empty, at least every 0.1 s, and at shutdown) sends a partial batch
  and waits for the requests in flight.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import ClassVar, Literal
from urllib.parse import urlsplit

import httpx

from livepipe.component import DEAD_LETTER_OUTPUT, Context, Emit, Sink
from livepipe.errors import SinkError
from livepipe.events import Event, make_event
from livepipe.lograte import RateLimitedLog
from livepipe.schema import Secret, SinkConfig, Url, field, redact_url
from livepipe.templating import EVENT_NAMES, EventTemplate, Template, TemplateError, compile_template, event_values

#: Statuses that are retried besides 5xx.
RETRY_STATUSES = frozenset({408, 429})


class WebhookError(SinkError):
    """A request was refused (4xx) or failed after every retry; the message names the URL (redacted)."""


def batch_key(events: list[Event]) -> str:
    """The idempotency key of a request: the event id alone, or a hash over the batch's ids."""
    if len(events) == 1:
        return events[0].id
    return "sha256:" + hashlib.sha256("\n".join(e.id for e in events).encode()).hexdigest()


def shown_url(url: str) -> str:
    """``url`` as messages show it: scheme, host and port, then ``/…`` for any path or query. A webhook's
    token is often in its path or query (``https://discord.com/api/webhooks/ID/TOKEN``, ``?access_token=``),
    and a ``user:password@`` password is redacted too."""
    try:
        parts = urlsplit(redact_url(url))
    except ValueError:
        return "<the url>"
    tail = "/…" if parts.path.strip("/") or parts.query or parts.fragment else parts.path
    return f"{parts.scheme}://{parts.netloc}{tail}"


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (a number of seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(parsedate_to_datetime(value).timestamp() - now, 0.0)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: the HMAC-SHA256 of ``body`` with ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class HttpConfig(SinkConfig):
    """Config of the ``http`` sink."""

    url: Url = field(description="where to send events (`https://...`); a password in it is never shown")
    method: Literal["POST", "PUT"] = field("POST", description="HTTP method")
    headers: dict[str, Secret] = field(
        {}, description="extra request headers (`{ Authorization = \"Bearer ...\" }`); values are "
        "treated as secret")
    secret: Secret | None = field(
        None, description="HMAC-SHA256 key: when set, each request carries `X-Livepipe-Signature: sha256=<hex>` "
        "of its exact body")
    body: EventTemplate | None = field(
        None, description="the request body as a [template](../templates.md) over one event (`{\"content\": "
        "{{ text|tojson }}}`); unset: the event's JSON. In a batch, the renderings joined by newlines")
    content_type: str = field("application/json", description="the `Content-Type` header of every request",
                              min_length=1)
    batch_size: int = field(
        1, description="1: one event per request, the body is the event's JSON; more: a JSON array of up to this "
        "many events (a smaller batch goes when the input runs empty, at least every 0.1 s)", ge=1, le=10_000)
    concurrency: int = field(4, description="most requests in flight at once", ge=1, le=256)
    timeout: float = field(10.0, description="seconds for one request (connect, send and answer)", gt=0)
    max_retries: int = field(5, description="retries of a request after a 5xx, 408, 429, timeout or connection "
                             "error, before its events go to `dead_letter`", ge=0)
    retry_backoff: float = field(0.5, description="seconds before the first retry; doubled each time", ge=0)
    max_backoff: float = field(30.0, description="longest wait between two retries, in seconds", ge=0)
    include_raw: bool = field(False, description="include the original Bilibili message (`raw`) in the body")


class HttpSink(Sink):
    """POST (or PUT) events to a URL, singly or in batches, with retries, signatures and idempotency keys."""

    type_name: ClassVar[str] = "http"
    Config = HttpConfig
    confirms_delivery = True  # delivered = the receiver answered 2xx

    def __init__(self, config: HttpConfig, context: Context) -> None:
        super().__init__(config, context)
        self.cfg = config
        self._client: httpx.AsyncClient | None = None
        self._batch: list[Event] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._emit: Emit | None = None
        self._errors = RateLimitedLog(self.log, interval=60.0)
        self._body: Template | None = None if config.body is None else compile_template(config.body, EVENT_NAMES)
        self._rendered: list[bytes] = []  # with ``body``: the rendering of each event in ``_batch``
        self._shown_url = shown_url(config.url)
        self._requests = self.metrics.counter("http_requests_total", "requests the http sink made (retries included)")
        self._retries = self.metrics.counter("http_retries_total", "requests the http sink retried")

    async def start(self) -> None:
        """Open the HTTP client (connection pool sized to ``concurrency``)."""
        limits = httpx.Limits(max_connections=self.cfg.concurrency, max_keepalive_connections=self.cfg.concurrency)
        self._client = httpx.AsyncClient(timeout=self.cfg.timeout, limits=limits, trust_env=False)

    async def write(self, event: Event, emit: Emit) -> None:
        """Queue the event (rendering its body first, with ``body``); send its batch when full (waiting for a
        free request slot). An event whose body cannot be rendered is failed at once, alone."""
        self._emit = emit
        if self._body is not None:
            try:
                now = datetime.fromtimestamp(self.context.clock.time(), timezone.utc)
                text = self._body.render(event_values(event, now))
            except TemplateError as e:
                await self._fail([event], f"body template failed for event {event.id}: {e}", "TemplateError")
                return
            if not text.strip():
                await self._fail([event], f"body template rendered nothing for event {event.id} (kind "
                                 f"{event.kind!r}): filter such events out before this sink", "TemplateError")
                return
            self._rendered.append(text.encode())
        self._batch.append(event)
        if len(self._batch) >= self.cfg.batch_size:
            await self._send_batch()

    async def _send_batch(self) -> None:
        events, self._batch = self._batch, []
        rendered, self._rendered = self._rendered, []
        if not events:
            return
        await self._slots.acquire()
        task = asyncio.get_running_loop().create_task(self._deliver(events, rendered))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _request(self, events: list[Event], rendered: list[bytes]) -> tuple[bytes, dict[str, str]]:
        raw = self.cfg.include_raw
        if self._body is not None:
            body = b"\n".join(rendered)
        elif self.cfg.batch_size == 1:
            body = events[0].to_json_bytes(include_raw=raw)
        else:
            body = b"[" + b",".join(e.to_json_bytes(include_raw=raw) for e in events) + b"]"
        headers = {k: v.get_secret_value() for k, v in self.cfg.headers.items()}
        headers |= {"Content-Type": self.cfg.content_type, "Idempotency-Key": batch_key(events)}
        if self.cfg.secret is not None:
            headers["X-Livepipe-Signature"] = signature(self.cfg.secret.get_secret_value(), body)
        return body, headers

    async def _deliver(self, events: list[Event], rendered: list[bytes]) -> None:
        try:
            body, headers = self._request(events, rendered)
            delay = self.cfg.retry_backoff
            attempt = 0
            while True:
                error = await self._attempt(body, headers)
                if error is None:
                    self.metrics.delivered(len(events))
                    return
                retry, message, wait = error
                if not retry or attempt >= self.cfg.max_retries:
                    if retry:
                        message += f" (after {attempt} retries)"
                    await self._fail(events, message)
                    return
                attempt += 1
                self._retries.inc()
                await self.context.clock.sleep(min(max(delay, wait or 0.0), self.cfg.max_backoff))
                delay *= 2
        except asyncio.CancelledError:  # cut short by the shutdown deadline: neither delivered nor dead-lettered
            self.metrics.discarded(len(events), intentional=False, reason="shutdown")
            self._errors.log(logging.ERROR, "shutdown", "http sink %r: %d events of a request still under way at the "
                             "shutdown deadline were abandoned (counted lost); give `shutdown_timeout` room for "
                             "`timeout` and the retries", self.name, len(events))
            raise
        finally:
            self._slots.release()

    async def _attempt(self, body: bytes, headers: dict[str, str]) -> tuple[bool, str, float | None] | None:
        """None on 2xx, else (retry?, what happened, the wait the receiver asked for with ``Retry-After``)."""
        assert self._client is not None
        self._requests.inc()
        try:  # httpx's timeout bounds each read, not the request: a receiver trickling bytes would hold it forever
            r = await asyncio.wait_for(
                self._client.request(self.cfg.method, self.cfg.url, content=body, headers=headers), self.cfg.timeout)
        except (httpx.TimeoutException, asyncio.TimeoutError):
            return True, f"no answer from {self._shown_url} within {self.cfg.timeout:g} s", None
        except httpx.HTTPError as e:
            why = str(e).replace(self.cfg.url, self._shown_url)
            return True, f"cannot reach {self._shown_url}: {type(e).__name__}: {why}", None
        if r.status_code < 300:
            return None
        if r.status_code < 400:  # not followed: the headers and the signature are meant for this receiver
            where = shown_url(r.headers["Location"]) if r.headers.get("Location") else "nowhere"
            return False, (f"{self._shown_url} answered {r.status_code} {r.reason_phrase} (a redirect to {where}): "
                           "redirects are not followed, so the events did not arrive; set `url` to where it "
                           "points"), None
        retry = r.status_code >= 500 or r.status_code in RETRY_STATUSES
        snippet = r.text[:200].replace("\n", " ")
        wait = retry_after(r.headers.get("Retry-After"), self.context.clock.time()) if retry else None
        return retry, f"{self._shown_url} answered {r.status_code} {r.reason_phrase}: {snippet}", wait

    async def _fail(self, events: list[Event], message: str, error_type: str = "WebhookError") -> None:
        self.metrics.error(error_type, len(events))
        err = WebhookError(f"http sink {self.name!r}: {message}")
        if self.cfg.on_error == "dead_letter" and self._emit is not None:
            for e in events:
                dl = make_event("dead_letter", room_id=e.room_id, ts=self.context.clock.time(), data={
                    "component": self.name, "component_type": self.type_name, "error_type": error_type,
                    "error": str(err), "traceback": "", "event": e.to_dict()})
                await self._emit(dl, DEAD_LETTER_OUTPUT)
            self.metrics.discarded(len(events), intentional=False)
            if error_type == "TemplateError":  # a mistake in the config: say so even though nothing is lost
                self._errors.log(logging.WARNING, "dead:TemplateError", "%s; sent to %s.dead_letter", err, self.name)
            return
        self.metrics.discarded(len(events), intentional=False)
        self._errors.log(logging.ERROR, f"failed:{error_type}",
                         "%s; %d events lost (set on_error = \"dead_letter\" to keep them)", err, len(events))

    async def flush(self) -> None:
        """Send the waiting (partial) batch and wait until every request in flight has ended: delivered,
        or its events handed to ``dead_letter`` (so that happens before the pipeline closes that output)."""
        await self._send_batch()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """Flush, then close the client."""
        try:
            await self.flush()
        finally:
            if self._client is not None:
                await self._client.aclose()
