# Stays whole: the one action life cycle every Bilibili sink runs (validate, rate limit, send, retry,
# suspend); its small parts (token bucket, suspension, account state) exist only for it.
"""What every Bilibili action sink shares: config, the action life cycle, rate limits, retries, suspension.

The life cycle of one action (:meth:`ActionSink.write`):

1. events of kinds the sink does not handle are skipped (counted as intentionally discarded);
2. :meth:`ActionSink.validate` checks every field and limit; a mistake gives outcome ``invalid``
   with the reason, before any request;
3. an action id carried out within ``dedupe_window``, or a sink-specific duplicate (the same ban, the
   same text) gives ``deduplicated``. Action ids are kept in a durable journal
   (:mod:`livepipe.bilibili.sinks.journal`, the ``journal`` key), so this holds across restarts: an
   ``intent`` record is written before the request and a ``done`` record after it. An action whose
   intent has no done (the process died in between) is checked with the service where the sink
   can (:meth:`ActionSink.in_doubt`) instead of being repeated blindly;
4. a suspended credential (after a fatal error) gives ``suspended`` without a request;
5. ``dry_run`` logs what would be done and gives ``dry_run``;
6. otherwise :meth:`ActionSink.execute` runs; each request waits for the account's rate limit and
   retryable errors are retried with exponential backoff and jitter (``max_attempts``), sleeping
   on ``context.clock`` so tests move time instead of waiting.

Every outcome is emitted as an ``action.result`` event on the ``results`` output and, with
``audit_log``, appended to a JSONL file as one whole line. A fatal credential error (-101, -111,
65530) also emits an ``alert`` event on the ``alerts`` output, sets the ``component_healthy``
gauge to 0 and suspends every sink of this process using the same cookies, until the credential's
``cookie_file`` changes on disk or ``fatal_cooldown`` seconds pass (then one action is tried).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import ssl
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import IO, Any, ClassVar

import anyio

from livepipe.bilibili import actions as act
from livepipe.bilibili.api import ApiError, BilibiliAPI, Endpoints, Outcome
from livepipe.bilibili.credential import Credential, CredentialError
from livepipe.bilibili.sinks.journal import DONE, ActionJournal
from livepipe.bilibili.transport import TransportConfig, tls_context
from livepipe.clock import Clock
from livepipe.component import Context, Emit, Sink
from livepipe.errors import ServiceError
from livepipe.events import Event
from livepipe.preflight import Problems, readable_file, writable_file
from livepipe.schema import SinkConfig, Url, field

RESULTS = "results"
ALERTS = "alerts"


class ActionSinkConfig(SinkConfig, TransportConfig):
    """Keys every Bilibili action sink has."""

    credential: str = field(description="name of the `[credentials.NAME]` table whose account acts (required)")
    base_url: Url | None = field(
        None,
        description="one base URL for every Bilibili host (a proxy or the simulator); unset = the real hosts, "
        "or the embedded `[simulator]` when one runs",
    )
    room_id: int | None = field(None, description="room for actions that carry no `room_id` (real room id)", gt=0)
    verify_tls: bool = field(True, description="verify TLS certificates of the HTTP API")
    ca_file: str | None = field(None, description="PEM file of extra CA certificates to trust (relative to the "
                                "config file)")
    dry_run: bool = field(False, description="log what would be done and report outcome `dry_run`; send nothing")
    max_attempts: int = field(3, description="attempts per request for retryable errors (rate limit, risk "
                              "control, network)", ge=1, le=20)
    retry_backoff: float = field(2.0, description="seconds before the first retry; doubles each time", gt=0)
    retry_backoff_max: float = field(60.0, description="longest wait between two attempts, in seconds", gt=0)
    retry_jitter: float = field(0.2, description="random spread of each wait, as a fraction (0.2 = ±20 %)",
                                ge=0, le=1)
    dedupe_window: float = field(600.0, description="seconds during which a repeated action (same action id, "
                                 "or the sink's own duplicate rule) is not carried out again; 0 = off", ge=0)
    fatal_cooldown: float = field(
        600.0,
        description="after a fatal credential error (-101, -111, 65530), seconds before one action is tried "
        "again; 0 = only when the credential's cookie_file changes",
        ge=0,
    )
    verify_login: bool = field(True, description="check at start (nav) that the cookies are logged in; "
                               "skipped with dry_run")
    timeout: float = field(10.0, description="HTTP timeout per request, in seconds", gt=0)
    audit_log: str | None = field(None, description="append every action and its outcome to this JSONL file "
                                  "(relative to the config file)")
    journal: str | None = field(
        ".livepipe/actions.sqlite",
        description="SQLite file (relative to the config file) recording each action id before and after its "
        "request, for `dedupe_window` seconds, so a redelivered or replayed action is recognised after a restart; "
        "several sinks may share it. Empty = in memory only (forgotten on restart)",
    )


class ActionFailed(ServiceError):
    """A request (or a step of an action) did not succeed; ``outcome`` is an action.result outcome."""

    def __init__(self, outcome: str, message: str, *, code: int | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.code = code
        self.message = message
        self.details = details or {}


class TokenBucket:
    """A token bucket on a :class:`~livepipe.clock.Clock`: ``burst`` tokens, one more every ``interval`` s.

    Use ``async with bucket.slot(): <request>``: the slot is held for the whole request and the
    refill only starts when the request has finished, so two requests reach the server at least
    ``interval`` apart however long each one travels.
    """

    def __init__(self, interval: float, burst: int = 1, clock: Clock | None = None) -> None:
        self.interval = interval
        self.burst = burst
        self.clock = clock or Clock()
        self._tokens = float(burst)
        self._stamp: float | None = None
        self._lock = anyio.Lock()

    def _refill(self) -> None:
        now = self.clock.monotonic()
        if self._stamp is not None and self.interval > 0:
            self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) / self.interval)
        self._stamp = now

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[float]:
        """Wait for a token (on the clock), hold the bucket during the request; yields the seconds waited."""
        async with self._lock:
            waited = 0.0
            while self.interval > 0:
                self._refill()
                if self._tokens >= 1.0 - 1e-9:
                    self._tokens = max(0.0, self._tokens - 1.0)
                    break
                wait = (1.0 - self._tokens) * self.interval
                waited += wait
                await self.clock.sleep(wait)
            try:
                yield waited
            finally:
                self._stamp = self.clock.monotonic()  # the time the request took earns no tokens


@dataclass
class Suspension:
    """Why and until when an account's cookies are not used."""

    fingerprint: str
    code: int | None
    message: str
    until: float | None  # clock.monotonic() deadline, or None = until the cookies change


@dataclass(eq=False)
class AccountState:
    """State shared by every sink of this process that acts as one account: rate limits, suspension."""

    key: str
    buckets: dict[str, TokenBucket] = dc_field(default_factory=dict)
    suspension: Suspension | None = None

    def bucket(self, channel: str, interval: float, clock: Clock, burst: int = 1) -> TokenBucket:
        """The bucket for ``channel`` (``live_dm``, ``video_dm``, ``room``, ``ban``); the strictest interval wins."""
        b = self.buckets.get(channel)
        if b is None:
            b = self.buckets[channel] = TokenBucket(interval, burst, clock)
        else:
            b.interval = max(b.interval, interval)
            b.burst = min(b.burst, burst)
        return b


_ACCOUNTS: weakref.WeakValueDictionary[str, AccountState] = weakref.WeakValueDictionary()


def account_state(base_url: str, credential: Credential) -> AccountState:
    """The process-wide :class:`AccountState` of ``credential``'s account at ``base_url``."""
    who = str(credential.dedeuserid) if credential.dedeuserid else fingerprint(credential)
    key = f"{base_url}|{who}"
    state = _ACCOUNTS.get(key)
    if state is None:
        state = AccountState(key)
        _ACCOUNTS[key] = state
    return state


def fingerprint(credential: Credential) -> str:
    """A short hash of the cookies (never logged; tells whether the cookies changed)."""
    h = hashlib.blake2b(digest_size=8)
    for k, v in sorted(credential.cookies().items()):
        h.update(f"{k}={v};".encode())
    return h.hexdigest()


class ActionSink(Sink):
    """Base of the Bilibili action sinks. Subclasses set ``handles`` and implement validate/execute."""

    Config: ClassVar[type[ActionSinkConfig]] = ActionSinkConfig
    outputs = (RESULTS, ALERTS)
    action = True
    #: the action kinds this sink carries out
    handles: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ActionSinkConfig, context: Context) -> None:
        super().__init__(config, context)
        self.config: ActionSinkConfig = config
        self.clock = context.clock
        self.api: BilibiliAPI | None = None
        self.credential: Credential | None = None
        self.account: AccountState | None = None
        self._fingerprint = ""
        self._cookie_mtime: float | None = None
        self._audit: IO[str] | None = None
        self.journal: ActionJournal | None = None
        self._warned_kinds: set[str] = set()
        self._pending_alert: Event | None = None
        self._rng = random.Random()
        self._attempts = 0
        self._healthy = context.metrics.gauge("component_healthy", "1 if the last health check passed")
        self._action_seconds = context.metrics.action_duration()
        self._outcomes: dict[str, Any] = {}
        if config.credential not in context.credentials:
            known = ", ".join(sorted(context.credentials)) or "none defined"
            raise ValueError(f"credential {config.credential!r} is not a [credentials.*] table ({known})")

    # ---- resources ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The base URL in use ('' = the real hosts)."""
        return self.config.base_url or str(self.context.settings.get("simulator_url") or "")

    def _load_credential(self) -> Credential:
        table = self.context.credentials[self.config.credential]
        try:
            cred = Credential.from_table(self.config.credential, table, self.context.config_dir)
        except (CredentialError, OSError) as e:
            raise ValueError(f"credential {self.config.credential!r}: {e}") from None
        self._cookie_mtime = _mtime(cred.cookie_file)
        return cred

    async def _open(self, cred: Credential) -> None:
        if self.api is not None:
            await self.api.aclose()
        endpoints = Endpoints.at(self.base_url) if self.base_url else Endpoints()
        self.credential = cred
        c = self.config
        self.api = BilibiliAPI(cred, endpoints, timeout=c.timeout, user_agent=c.user_agent, headers=c.headers,
                               proxy=c.proxy_url(), verify=self._verify())  # fmt: skip
        self._fingerprint = fingerprint(cred)
        self.account = account_state(self.base_url or "real", cred)

    def _verify(self) -> ssl.SSLContext | bool:
        """What the HTTP client verifies TLS with (:func:`~livepipe.bilibili.transport.tls_context`; ``True``: the
        system's certificates)."""
        c = self.config
        sim = None if c.base_url else self.context.settings.get("simulator")
        ctx = tls_context(c.verify_tls, self.context.path(c.ca_file) if c.ca_file else None, sim)
        return True if ctx is None else ctx

    def preflight(self) -> Problems:
        """The audit log must be writable, the ``ca_file`` readable (the credential is checked by its own schema)."""
        if self.config.ca_file:
            yield from readable_file(self.context.path(self.config.ca_file), "ca_file", "CA file")
        if self.config.audit_log:
            yield from writable_file(self.context.path(self.config.audit_log), "audit_log", "audit log")

    async def start(self) -> None:
        """Read the credential, open the HTTP pool and the audit log.

        With ``dry_run`` an unreadable credential is only a warning: nothing is sent, so a pipeline
        can be tried out before anyone has logged in.
        """
        try:
            cred = self._load_credential()
        except ValueError as e:
            if not self.config.dry_run:
                raise
            self.log.warning("%s; dry_run, so continuing without the account", e)
            cred = Credential(name=self.config.credential)
        await self._open(cred)
        if self.config.dedupe_window and not self.config.dry_run:  # a dry run carries nothing out: no journal
            path = self.context.path(self.config.journal) if self.config.journal else None
            self.journal = ActionJournal(path, self.name, max_age=self.config.dedupe_window)
        if self.config.audit_log:
            p = self.context.path(self.config.audit_log)
            p.parent.mkdir(parents=True, exist_ok=True)
            self._audit = open(p, "a", encoding="utf-8")  # noqa: SIM115 - closed in stop()

    async def stop(self) -> None:
        """Close the HTTP pool, the journal and the audit log."""
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if self.api is not None:
            await self.api.aclose()
            self.api = None
        if self._audit is not None:
            self._audit.close()
            self._audit = None

    async def healthcheck(self) -> None:
        """Fail when the sink is suspended or the credential cannot log in (checked with nav unless dry_run)."""
        self._check_suspended()
        cred = self.credential
        assert cred is not None and self.api is not None
        if self.config.dry_run:
            return
        if not cred.logged_in or not cred.csrf:
            raise RuntimeError(f"credential {cred.name!r} lacks SESSDATA or bili_jct; actions cannot be sent")
        if self.config.verify_login:
            try:
                nav = await self.api.nav()
            except ApiError as e:
                raise RuntimeError(f"credential {cred.name!r}: login check failed: {e}") from None
            if not nav.get("isLogin"):
                msg = f"credential {cred.name!r} is not logged in (nav): {ApiError(-101, '', 'nav')}"
                self._suspend(-101, msg)
                self._pending_alert = act.alert(msg, component=self.name, code=-101,
                                                extra=self._alert_extra(), ts=self.clock.time())
                raise RuntimeError(msg)
            if cred.dedeuserid and nav.get("mid") and int(nav["mid"]) != cred.dedeuserid:
                raise RuntimeError(f"credential {cred.name!r}: DedeUserID {cred.dedeuserid} does not match the "
                                   f"logged-in account {nav['mid']}")

    # ---- suspension -----------------------------------------------------------------------------

    def _suspension(self) -> Suspension | None:
        acct = self.account
        if acct is None or acct.suspension is None or acct.suspension.fingerprint != self._fingerprint:
            return None
        s = acct.suspension
        if s.until is not None and self.clock.monotonic() >= s.until:
            self.log.info("fatal_cooldown passed; trying credential %r again", self.config.credential)
            acct.suspension = None
            return None
        return s

    def _check_suspended(self) -> None:
        s = self._suspension()
        if s is not None:
            raise RuntimeError(f"suspended after a fatal credential error: {s.message}")

    def _suspend(self, code: int | None, message: str) -> None:
        assert self.account is not None
        until = self.clock.monotonic() + self.config.fatal_cooldown if self.config.fatal_cooldown else None
        self.account.suspension = Suspension(self._fingerprint, code, message, until)
        self._healthy.set(0)

    async def _maybe_reload(self) -> None:
        """Re-read a cookie_file that changed on disk since it was loaded (lifts a suspension)."""
        cred = self.credential
        if cred is None or cred.cookie_file is None:
            return
        m = _mtime(cred.cookie_file)
        if m is None or m == self._cookie_mtime:
            return
        try:
            new = self._load_credential()
        except ValueError as e:
            self.log.warning("cookie file changed but cannot be read: %s", e)
            return
        self.log.info("credential %r: cookie file changed; using the new cookies", cred.name)
        await self._open(new)

    def _alert_extra(self) -> dict[str, Any]:
        resume = (f"one action is tried again after {self.config.fatal_cooldown:g} s, or at once when the "
                  "cookie file changes") if self.config.fatal_cooldown else "when the cookie file changes"
        return {"credential": self.config.credential, "sink_type": self.type_name, "resume": resume}

    # ---- the life cycle -------------------------------------------------------------------------

    def room_of(self, event: Event) -> int:
        """The room an action is for: ``data.room_id``, the event's ``room_id``, or the ``room_id`` option."""
        rid = event.data.get("room_id", event.room_id)
        if rid is None:
            rid = self.config.room_id
        if rid is None:
            raise ValueError("no room_id: the action carries none and the sink has no room_id option")
        if isinstance(rid, bool) or not isinstance(rid, int) or rid <= 0:
            raise ValueError(f"room_id must be a positive integer, got {rid!r}")
        return rid

    def validate(self, event: Event) -> dict[str, Any]:
        """Check the action; return its normalized key fields. Raise ``ValueError`` with the reason."""
        raise NotImplementedError

    def duplicate(self, event: Event, fields: dict[str, Any]) -> str | None:
        """A reason when this action repeats one done recently (subclasses), else None."""
        return None

    def remember(self, event: Event, fields: dict[str, Any], outcome: str) -> None:
        """Note a carried-out action for :meth:`duplicate` (subclasses)."""

    async def in_doubt(self, event: Event, fields: dict[str, Any]) -> tuple[str, str]:
        """Whether an action interrupted after its request (an intent without done in the journal) took effect.

        Returns ``("done", why)`` when the service shows the effect, ``("not_done", why)`` when it
        shows it did not (the action is then carried out), or ``("unknown", why)`` when the service
        cannot tell (the action is then not repeated: outcome ``in_doubt``). The default suits
        actions that are harmless to repeat: ``not_done``. May raise :class:`ActionFailed`.
        """
        return "not_done", "repeating it is harmless"

    def describe(self, fields: dict[str, Any]) -> str:
        """One line saying what the action does (for logs and dry_run)."""
        return ", ".join(f"{k}={v!r}" for k, v in fields.items())

    async def execute(self, event: Event, fields: dict[str, Any]) -> dict[str, Any]:
        """Carry the action out with :meth:`call`; return details, or raise :class:`ActionFailed`."""
        raise NotImplementedError

    async def write(self, event: Event, emit: Emit) -> None:
        """Carry out one action and report its outcome on ``results`` (and ``alerts`` when fatal)."""
        if event.kind not in self.handles:
            self.metrics.discarded(intentional=True)
            if event.kind not in self._warned_kinds:
                self._warned_kinds.add(event.kind)
                self.log.warning("%s handles %s; ignoring events of kind %r (check the inputs wiring)",
                                 self.type_name, ", ".join(self.handles), event.kind)
            return
        if self._pending_alert is not None:
            await emit(self._pending_alert, ALERTS)
            self._pending_alert = None
        t0 = self.clock.monotonic()
        self._attempts = 0
        fields: dict[str, Any] = {}
        details: dict[str, Any] = {}
        code: int | None = None
        try:
            fields = self.validate(event)
        except ValueError as e:
            await self._report(event, emit, "invalid", str(e), fields=fields, t0=t0)
            return
        journal = self.journal
        if journal is not None:
            entry = journal.get(event.id, self.clock.time())
            if entry is not None and entry.state == DONE:
                ago = self.clock.time() - entry.at
                await self._report(event, emit, "deduplicated", f"action {event.id} was carried out {ago:.0f} s ago "
                                   f"({entry.outcome})", fields=fields, t0=t0)  # fmt: skip
                return
            if entry is not None and await self._settled_after_interruption(event, emit, fields, t0):
                return
        dup = self.duplicate(event, fields) if self.config.dedupe_window else None
        if dup:
            await self._report(event, emit, "deduplicated", dup, fields=fields, t0=t0)
            return
        if self._suspension() is not None:
            await self._maybe_reload()
        s = self._suspension()
        if s is not None:
            await self._report(event, emit, "suspended", f"not sent: {s.message}", code=s.code, fields=fields, t0=t0)
            return
        if self.config.dry_run:
            what = self.describe(fields)
            self.log.info("dry run: would %s", what)
            self.remember(event, fields, "dry_run")
            await self._report(event, emit, "dry_run", f"would {what}", fields=fields, t0=t0)
            return
        if journal is not None:
            journal.intent(event.id, event.kind, self.clock.time())
        try:
            details = await self.execute(event, fields)
        except ActionFailed as e:
            if e.outcome == "fatal":
                self._suspend(e.code, e.message)
                self.log.error("credential %r failed fatally; suspending its actions: %s",
                               self.config.credential, e.message)
                await emit(act.alert(f"{self.type_name} '{self.name}': {e.message}", component=self.name,
                                     code=e.code, action=event, extra=self._alert_extra(),
                                     ts=self.clock.time()), ALERTS)
            else:
                self.log.warning("%s %s: %s", event.kind, e.outcome, e.message)
            if self._pending_alert is not None:
                await emit(self._pending_alert, ALERTS)
                self._pending_alert = None
            if journal is not None:
                if e.outcome == "unconfirmed":
                    journal.done(event.id, event.kind, e.outcome, self.clock.time())
                else:  # refused, or never got through: a later delivery may try again
                    journal.forget(event.id)
            await self._report(event, emit, e.outcome, e.message, code=e.code, fields=fields,
                               details=e.details, t0=t0)
            return
        if journal is not None:
            journal.done(event.id, event.kind, "success", self.clock.time())
        self.remember(event, fields, "success")
        code = 0
        await self._report(event, emit, "success", details.pop("message", "ok"), code=code, fields=fields,
                           details=details, t0=t0)

    async def call(self, request: Any, *, channel: str | None = None, interval: float = 0.0,
                   codes: dict[int, tuple[str, str]] | None = None) -> Any:
        """Run ``await request()`` with the rate limit of ``channel`` and retries; map failures.

        ``codes`` overrides the outcome and message of specific codes: code -> (outcome, message),
        where outcome is ``"retry"``, ``"rejected"`` or ``"fatal"``. Raises :class:`ActionFailed`.
        """
        cfg = self.config
        delay = cfg.retry_backoff
        assert self.account is not None
        for attempt in range(1, cfg.max_attempts + 1):
            self._attempts += 1
            try:
                if channel is not None:
                    async with self.account.bucket(channel, interval, self.clock).slot():
                        return await self._timed(request)
                return await self._timed(request)
            except ApiError as e:
                outcome = e.outcome.value
                message = str(e)
                if codes and e.code in codes:
                    outcome, hint = codes[e.code]
                    message = f"{e.endpoint}: code {e.code}: {hint}"
                if outcome == Outcome.RETRY.value:
                    if attempt >= cfg.max_attempts:
                        raise ActionFailed("retry_exhausted", f"{message} (gave up after {attempt} attempts)",
                                           code=e.code) from None
                    wait = min(delay, cfg.retry_backoff_max)
                    wait *= 1 + cfg.retry_jitter * self._rng.uniform(-1.0, 1.0)
                    self.log.info("%s; attempt %d of %d, retrying in %.1f s", message, attempt, cfg.max_attempts, wait)
                    await self.clock.sleep(wait)
                    delay *= 2
                    continue
                raise ActionFailed(outcome, message, code=e.code) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _timed(self, request: Any) -> Any:
        """``await request()``, its duration observed in ``sink_action_duration_seconds`` (failed ones too)."""
        t0 = time.monotonic()
        try:
            result = await request()
        except Exception:
            self._action_seconds.observe(time.monotonic() - t0)
            raise
        self._action_seconds.observe(time.monotonic() - t0)
        return result

    # ---- reporting ----------------------------------------------------------------------------------

    async def _settled_after_interruption(self, event: Event, emit: Emit, fields: dict[str, Any], t0: float) -> bool:
        """For an action whose journal has an intent without done: ask :meth:`in_doubt` and report.

        Returns ``True`` when the action is settled (reported), ``False`` when it is to be carried out.
        """
        assert self.journal is not None
        try:
            verdict, why = await self.in_doubt(event, fields)
        except ActionFailed as e:  # the check itself failed: the intent stays, the next delivery checks again
            await self._report(event, emit, e.outcome, f"checking an interrupted action: {e.message}", code=e.code,
                               fields=fields, t0=t0)  # fmt: skip
            return True
        self.log.info("action %s was interrupted after its request by a restart: %s (%s)", event.id, verdict, why)
        if verdict == "not_done":
            return False
        outcome = "success" if verdict == "done" else "in_doubt"
        self.journal.done(event.id, event.kind, outcome, self.clock.time())
        if verdict == "done":
            self.remember(event, fields, "success")
            await self._report(event, emit, "deduplicated", f"already carried out before a restart: {why}",
                               fields=fields, t0=t0)  # fmt: skip
        else:
            await self._report(event, emit, "in_doubt", f"a restart interrupted this action after its request and "
                               f"{why}; not repeated", fields=fields, t0=t0)  # fmt: skip
        return True

    async def _report(self, event: Event, emit: Emit, outcome: str, message: str, *, t0: float,
                      code: int | None = None, fields: dict[str, Any] | None = None,
                      details: dict[str, Any] | None = None) -> None:
        latency = (self.clock.monotonic() - t0) * 1000.0
        res = act.result(event, outcome, sink=self.name, sink_type=self.type_name, credential=self.config.credential,
                         code=code, message=message, latency_ms=latency, attempts=self._attempts, fields=fields,
                         details=details, ts=self.clock.time())
        self.metrics.counter("action_outcomes_total", "actions by outcome", outcome=outcome).inc()
        self._healthy.set(0 if self._suspension() is not None else 1)
        if self._audit is not None:
            line = json.dumps({"ts": res.ts, "sink": self.name, "action": event.to_dict(include_raw=False),
                               "result": res.data}, ensure_ascii=False, separators=(",", ":"), default=str)
            self._audit.write(line + "\n")
            self._audit.flush()
        await emit(res, RESULTS)


def _mtime(p: Path | None) -> float | None:
    if p is None:
        return None
    try:
        return p.stat().st_mtime_ns / 1e9
    except OSError:
        return None
