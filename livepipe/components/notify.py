"""The ``notify`` sink: push notifications through Apprise (Telegram, Discord, Bark, ServerChan, e-mail, ...).

Apprise (a well-kept library speaking ~100 notification services, each addressed by a URL such as
``tgram://TOKEN/CHAT`` or ``bark://KEY@host``) does the talking; this sink adds what a pipeline needs:

* ``title`` and ``body`` are templates (:mod:`livepipe.templating`) over one event, checked at validation.
  An event whose body cannot be rendered, or renders blank, is not sent: it goes to ``dead_letter``.
* ``max_per_minute`` caps notifications (a sliding minute): the excess is dropped and counted
  (``notify_rate_limited_total``), and the next notification sent says how many were dropped.
* Apprise is blocking: each call runs in a worker thread of the sink's own pool with a timeout, so the
  event loop never waits on it; deliveries run as background tasks, so ``write`` returns at once and a
  slow or failing service never holds the pipeline back.
* Each URL is a target of its own: a failed target is retried with exponential backoff (the targets that
  succeeded are not sent again), then the event goes to ``dead_letter`` naming the target by its position
  and scheme — never by its URL, whose tokens are secrets. ``urls`` are declared secret: ``config show``,
  errors and logs never show them.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator

from livepipe.component import DEAD_LETTER_OUTPUT, Context, Emit, PermanentFailure, Sink
from livepipe.errors import SinkError
from livepipe.events import Event, make_event
from livepipe.lograte import RateLimitedLog
from livepipe.preflight import Problem, Problems
from livepipe.schema import REDACTED, Secret, SinkConfig, field
from livepipe.templating import EVENT_NAMES, EventTemplate, TemplateError, compile_template, event_values

#: The pip extra that installs Apprise.
NOTIFY_EXTRA = "livepipe[notify]"

#: Worker threads per sink (concurrent Apprise calls).
THREADS = 4


class _Scrubber(logging.Filter):
    """Redacts the secret parts of every notify sink's URLs from the log records of the HTTP libraries Apprise
    uses (urllib3 logs request lines, with the path that holds a token, at DEBUG)."""

    def __init__(self) -> None:
        super().__init__()
        self.fragments: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        hidden = msg
        for fragment in sorted(self.fragments, key=len, reverse=True):
            hidden = hidden.replace(fragment, REDACTED)
        if hidden != msg:
            record.msg, record.args = hidden, ()
        return True


_SCRUBBER = _Scrubber()


def _quiet_libraries() -> None:
    """Apprise's own log goes nowhere (the sink reads it per call); urllib3's is scrubbed."""
    logging.getLogger("apprise").propagate = False
    for name in ("urllib3.connectionpool", "urllib3.util.retry", "requests_oauthlib.oauth2_session"):
        lg = logging.getLogger(name)
        if _SCRUBBER not in lg.filters:
            lg.addFilter(_SCRUBBER)


class NotifyError(SinkError):
    """A notification could not be rendered or delivered; the message names the target by position and scheme."""


def _scheme(url: str) -> str:
    return url.partition("://")[0] + "://…" if "://" in url else "?"


def _fragments(url: str) -> list[str]:
    """The parts of ``url`` after its scheme that could be secret (tokens, keys, passwords), longest first."""
    rest = url.partition("://")[2] or url
    parts = {p for p in re.split(r"[/:@?&=#,]+", rest) if len(p) >= 4}
    return sorted(parts, key=len, reverse=True)


def _check_url(secret: Secret) -> Secret:
    """An Apprise URL that the installed Apprise can use (checked only when it is installed); never quoted back."""
    url = secret.get_secret_value()
    if "://" not in url:
        raise ValueError("not a URL (scheme://...): see https://github.com/caronc/apprise/wiki")
    try:
        import apprise
    except ImportError:  # the preflight names the extra; nothing to check the URL with here
        return secret
    if apprise.Apprise.instantiate(url, suppress_exceptions=True) is None:
        raise ValueError(f"{_scheme(url)} is not a URL Apprise {apprise.__version__} can use: check its scheme and "
                         "parts against https://github.com/caronc/apprise/wiki")
    return secret


#: One Apprise URL: a secret, checked against the installed Apprise.
AppriseUrl = Annotated[Secret, AfterValidator(_check_url)]


class NotifyConfig(SinkConfig):
    """Config of the ``notify`` sink."""

    urls: list[AppriseUrl] = field(
        description="Apprise URLs, one per target (`tgram://BOT_TOKEN/CHAT_ID`, `discord://ID/TOKEN`, "
        "`bark://KEY@api.day.app`, `schan://SENDKEY`, `mailtos://user:pass@example.com`, ...; "
        "https://github.com/caronc/apprise/wiki); secret: never shown", min_length=1)
    title: EventTemplate = field("", description="the notification's title, a [template](../templates.md) over one "
                                 "event; empty: no title")
    body: EventTemplate = field(description="the notification's text, a [template](../templates.md) over one event")
    format: Literal["text", "markdown", "html"] = field(
        "text", description="what `body` is written in; Apprise converts it for each service")
    max_per_minute: int = field(
        10, description="most notifications in any 60 s; the excess is dropped and counted, and the next "
        "notification says how many", ge=1, le=10_000)
    timeout: float = field(30.0, description="seconds one target may take to answer one notification", gt=0)
    max_retries: int = field(3, description="retries of a failed target before the event goes to `dead_letter`",
                             ge=0)
    retry_backoff: float = field(5.0, description="seconds before the first retry; doubled each time", ge=0)
    max_backoff: float = field(300.0, description="longest wait between two retries, in seconds", ge=0)


class NotifySink(Sink):
    """Send a push notification per event through Apprise, rate-limited, retried, dead-lettered."""

    type_name: ClassVar[str] = "notify"
    Config = NotifyConfig
    confirms_delivery = True  # delivered = every target accepted it

    def __init__(self, config: NotifyConfig, context: Context) -> None:
        super().__init__(config, context)
        self.cfg = config
        # (a plain str is a placeholder for an unresolved { env = ... } under `validate --offline`)
        self._urls = [u.get_secret_value() if hasattr(u, "get_secret_value") else str(u) for u in config.urls]
        self._secrets = sorted({f for u in self._urls for f in _fragments(u)}, key=len, reverse=True)
        self._title = compile_template(config.title, EVENT_NAMES)
        self._body = compile_template(config.body, EVENT_NAMES)
        self._targets: list[Any] = []
        self._pool: ThreadPoolExecutor | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sent_at: deque[float] = deque()
        self._dropped_since_sent = 0
        self._emit: Emit | None = None
        self._log = RateLimitedLog(self.log, interval=60.0)
        self._limited = self.metrics.counter(
            "notify_rate_limited_total", "notifications the notify sink dropped over max_per_minute")
        self._calls = self.metrics.counter("notify_calls_total", "Apprise calls the notify sink made (retries "
                                           "included), one per target")
        self._retries = self.metrics.counter("notify_retries_total", "targets the notify sink retried")

    def preflight(self) -> Problems:
        """Apprise must be installed."""
        try:
            import apprise  # noqa: F401
        except ImportError:
            yield Problem("urls", f"the notify sink needs Apprise, which is not installed — run "
                                  f"`pip install '{NOTIFY_EXTRA}'`")

    def hide(self, text: str) -> str:
        """``text`` with every possibly secret part of the URLs replaced by ``<redacted>``."""
        for fragment in self._secrets:
            text = text.replace(fragment, REDACTED)
        return text

    async def start(self) -> None:
        """Load one Apprise object per URL and start the worker threads."""
        try:
            import apprise
        except ImportError as e:
            raise PermanentFailure(f"notify sink {self.name!r}: Apprise is not installed ({e}) — run "
                                   f"`pip install '{NOTIFY_EXTRA}'`") from e
        _quiet_libraries()
        _SCRUBBER.fragments.update(self._secrets)
        self._targets = []
        for i, url in enumerate(self._urls):
            target = apprise.Apprise()
            if not target.add(url):
                raise PermanentFailure(f"notify sink {self.name!r}: urls[{i}] ({_scheme(url)}) is not a URL "
                                       "Apprise can use")
            self._targets.append(target)
        self._pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix=f"notify-{self.name}")

    def _render(self, event: Event) -> tuple[str, str]:
        values = event_values(event, datetime.fromtimestamp(self.context.clock.time(), timezone.utc))
        title = self._title.render(values).strip()
        body = self._body.render(values).strip()
        if not body:
            raise TemplateError(f"the body template rendered nothing for this {event.kind!r} event: filter such "
                                "events out before this sink")
        return title, body

    async def write(self, event: Event, emit: Emit) -> None:
        """Render, apply the rate limit and start the delivery in the background (returns at once)."""
        self._emit = emit
        try:
            title, body = self._render(event)
        except TemplateError as e:
            await self._fail(event, f"cannot render the notification for event {event.id}: {e}", "TemplateError")
            return
        now = self.context.clock.monotonic()
        while self._sent_at and now - self._sent_at[0] >= 60.0:
            self._sent_at.popleft()
        if len(self._sent_at) >= self.cfg.max_per_minute:
            self._dropped_since_sent += 1
            self._limited.inc()
            self.metrics.discarded(intentional=True)
            self._log.log(logging.WARNING, "rate", "notify sink %r: over max_per_minute = %d, notifications are "
                          "dropped (counted in notify_rate_limited_total)", self.name, self.cfg.max_per_minute)
            return
        self._sent_at.append(now)
        if self._dropped_since_sent:
            body += (f"\n\n(+{self._dropped_since_sent} more not sent: over max_per_minute = "
                     f"{self.cfg.max_per_minute})")
            self._dropped_since_sent = 0
        task = asyncio.get_running_loop().create_task(self._deliver(event, title, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _call(self, index: int, title: str, body: str) -> str | None:
        """One blocking Apprise call (in a worker thread): None when delivered, else what went wrong."""
        logs: list[str] = []

        def keep(entry: Any, _plugin: Any) -> None:
            if entry.level in ("WARNING", "ERROR", "CRITICAL"):
                logs.append(entry.message)

        try:
            result = self._targets[index].notify(body=body, title=title, body_format=self.cfg.format,
                                                 timeout=self.cfg.timeout, log_callback=keep)
        except Exception as e:  # Apprise reports by its result; a raise is a bug there, still a failure here
            return f"{type(e).__name__}: {e}"
        if result:
            return None
        return "; ".join(logs[-3:]) or "Apprise reported a failure"

    async def _attempt(self, index: int, title: str, body: str) -> str | None:
        assert self._pool is not None
        self._calls.inc()
        future = asyncio.get_running_loop().run_in_executor(self._pool, self._call, index, title, body)
        try:  # Apprise has its own timeout; this one guards against a call that ignores it
            return await asyncio.wait_for(future, self.cfg.timeout + 5.0)
        except asyncio.TimeoutError:
            return f"no answer within {self.cfg.timeout + 5.0:g} s"

    async def _deliver(self, event: Event, title: str, body: str) -> None:
        try:
            await self._deliver_now(event, title, body)
        except asyncio.CancelledError:  # cut short by the shutdown deadline: neither delivered nor dead-lettered
            self.metrics.discarded(intentional=False, reason="shutdown")
            self._log.log(logging.ERROR, "shutdown", "notify sink %r: a notification still being delivered at the "
                          "shutdown deadline was abandoned (counted lost); give `shutdown_timeout` room for "
                          "`timeout`", self.name)
            raise

    async def _deliver_now(self, event: Event, title: str, body: str) -> None:
        pending = list(range(len(self._targets)))
        delay = self.cfg.retry_backoff
        attempt = 0
        while True:
            errors: dict[int, str] = {}
            for i in pending:
                error = await self._attempt(i, title, body)
                if error is not None:
                    errors[i] = error
            if not errors:
                self.metrics.delivered(1)
                return
            pending = sorted(errors)
            if attempt >= self.cfg.max_retries:
                what = "; ".join(f"urls[{i}] ({_scheme(self._urls[i])}): {errors[i]}" for i in pending)
                await self._fail(event, f"notification for event {event.id} not delivered after {attempt} "
                                 f"retries: {what}", "NotifyError")
                return
            attempt += 1
            self._retries.inc(len(pending))
            await self.context.clock.sleep(min(delay, self.cfg.max_backoff))
            delay *= 2

    async def _fail(self, event: Event, message: str, error_type: str) -> None:
        self.metrics.error(error_type)
        self.metrics.discarded(intentional=False)
        err = str(NotifyError(self.hide(f"notify sink {self.name!r}: {message}")))
        if self.cfg.on_error == "dead_letter" and self._emit is not None:
            dl = make_event("dead_letter", room_id=event.room_id, ts=self.context.clock.time(), data={
                "component": self.name, "component_type": self.type_name, "error_type": error_type,
                "error": err, "traceback": "", "event": event.to_dict()})
            try:
                await self._emit(dl, DEAD_LETTER_OUTPUT)
                self._log.log(logging.WARNING, f"dead:{error_type}", "%s; sent to %s.dead_letter", err, self.name)
                return
            except Exception:  # the pipeline is shutting down: its outputs are closed
                pass
        self._log.log(logging.ERROR, f"lost:{error_type}", "%s; the event is lost (set on_error = \"dead_letter\" "
                      "to keep such events)", err)

    async def stop(self) -> None:
        """Wait for the deliveries under way (the runtime bounds this by the shutdown deadline), then end the
        worker threads."""
        try:
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
