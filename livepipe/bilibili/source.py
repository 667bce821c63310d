# Stays whole: one source's connection loop (login check, room init, token, socket, backoff, host rotation) is
# one state machine; the protocol and session parts it drives already live in protocol.py and session.py.
"""The ``bilibili.danmaku`` source: one WebSocket per live room, held for days.

Per room: (shared per source) nav login check, WBI keys, buvid3 -> ``room_init`` (short -> real
id) -> ``getDanmuInfo`` (token, host_list) -> WebSocket (AUTH at once, heartbeats, liveness).
Every failure leads to a reconnect, forever: exponential backoff with full jitter, host rotation,
a fresh token after an auth failure or every few failed attempts, long pauses on risk control
(-352, -412), slow retries for permanent errors (a room that does not exist). The process never
exits because of a connection. See ``docs/components/bilibili-danmaku.md``.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from livepipe.bilibili.api import ApiError, BilibiliAPI, Endpoints, Outcome
from livepipe.bilibili.client import (
    AuthFailed,
    ConnectionEnded,
    ConnectionStats,
    DanmakuClient,
    auth_body,
    ws_url,
)
from livepipe.bilibili.credential import Credential, CredentialError
from livepipe.bilibili.funnel import Funnel
from livepipe.bilibili.protocol import ProtocolError
from livepipe.bilibili.retry import TokenPacer, budget, full_jitter, risk_delay
from livepipe.bilibili.transport import TransportConfig, proxy_label, tls_context
from livepipe.component import Emit, Source
from livepipe.events import Event, make_event
from livepipe.lograte import RateLimitedLog
from livepipe.preflight import Problems, readable_file
from livepipe.schema import SourceConfig, Url
from livepipe.schema import field as cfg_field

#: The credential name that, with an embedded ``[simulator]`` and an empty table, logs in as a demo account.
SIMULATOR_CREDENTIAL = "simulator"
SESSION_TTL = 12 * 3600.0
#: after -352, WBI keys / bili_ticket / buvid are refreshed at most this often (seconds) per source
IDENTITY_REFRESH_EVERY = 30.0
# httpcore logs response headers (Set-Cookie: SESSDATA=...) at DEBUG; secrets must never reach a log.
logging.getLogger("httpcore").setLevel(logging.INFO)


class DanmakuSourceConfig(SourceConfig, TransportConfig):
    """Config of the bilibili.danmaku source."""

    room_ids: list[int] = cfg_field(
        description="live rooms to watch: short (display) or real ids; one connection per room", min_length=1
    )
    credential: str | None = cfg_field(
        None,
        description="name of a `[credentials.NAME]` table to connect as (real uids and names); "
        "without one the connection is anonymous and senders are masked",
    )
    base_url: Url | None = cfg_field(
        None,
        description="one base URL for every Bilibili host (a simulator or a proxy); unset = the real hosts, "
        "or the embedded `[simulator]` when the config has one",
    )
    api_live_url: Url | None = cfg_field(None, description="base URL of api.live.bilibili.com (overrides base_url)")
    api_url: Url | None = cfg_field(None, description="base URL of api.bilibili.com (overrides base_url)")
    passport_url: Url | None = cfg_field(None, description="base URL of passport.bilibili.com (overrides base_url)")
    www_url: Url | None = cfg_field(None, description="base URL of www.bilibili.com (overrides base_url)")
    verify_tls: bool = cfg_field(True, description="verify TLS certificates (HTTP API and wss://)")
    ca_file: str | None = cfg_field(None, description="PEM file of extra CA certificates to trust (e.g. a "
                                    "simulator's self-signed certificate)")
    heartbeat_interval: float = cfg_field(30.0, description="seconds between WebSocket heartbeats", gt=0)
    liveness_timeout: float = cfg_field(40.0, description="reconnect when no frame arrives for this many seconds",
                                        gt=0)
    heartbeat_timeout: float = cfg_field(
        70.0, description="reconnect when heartbeats go unanswered for this many seconds", gt=0
    )
    connect_timeout: float = cfg_field(10.0, description="limit for one attempt: open the socket and get the "
                                       "auth reply", gt=0)
    backoff_initial: float = cfg_field(1.0, description="first reconnect delay ceiling, seconds (full jitter: "
                                       "the delay is random between 0 and the ceiling)", gt=0)
    backoff_max: float = cfg_field(60.0, description="largest reconnect delay ceiling, seconds", gt=0)
    backoff_multiplier: float = cfg_field(2.0, description="ceiling growth per failed attempt", ge=1)
    token_refresh_after: int = cfg_field(
        3, description="fetch a fresh token and host list after this many failed attempts in a row "
        "(and after an auth failure), paced by `token_backoff_initial` / `token_backoff_max`", ge=1,
    )
    healthy_after: float = cfg_field(
        10.0, description="seconds an authenticated connection must stay up to count as healthy; only a healthy "
        "session resets the reconnect backoff and the token pacing", ge=0,
    )
    auth_retry_max: float = cfg_field(
        4.0, description="largest delay (seconds, full jitter) before the next connection attempt after the server "
        "refused AUTH: the server answers, so the room comes back within seconds once it accepts again", gt=0,
    )
    token_backoff_initial: float = cfg_field(
        5.0, description="while connections keep failing, the second fresh getDanmuInfo token waits this long "
        "(equal jitter), each further one twice as long", gt=0,
    )
    token_backoff_max: float = cfg_field(60.0, description="longest wait between fresh tokens of one room", gt=0)
    risk_retry_initial: float = cfg_field(
        2.0, description="first retry delay ceiling (seconds) of getDanmuInfo after a -352 risk-control answer; "
        "the ceiling then grows to a fifth of the time the -352s have lasted", gt=0,
    )
    risk_retry_max: float = cfg_field(60.0, description="largest retry delay ceiling (seconds) while -352 lasts",
                                      gt=0)
    keyless_fallback: bool = cfg_field(
        True, description="while getDanmuInfo fails with risk control (-352, -412), connect to the default host "
        "without a token (anonymous, as blivedm does) and mark the room degraded; the proper path is retried in "
        "the background. A server that refuses it is not asked again for `permanent_backoff` seconds",
    )
    blocked_backoff: float = cfg_field(
        1800.0, description="pause (seconds) of every API call of this source after -412 / HTTP 412 "
        "(the IP is rate-limited)", ge=0,
    )
    permanent_backoff: float = cfg_field(
        600.0, description="retry delay (seconds) for permanent errors such as a room that does not exist", ge=0
    )
    start_gap: float = cfg_field(
        0.25, description="seconds between starting consecutive rooms, so many rooms do not hit the API at once",
        ge=0,
    )
    refresh_cookies: bool = cfg_field(
        True, description="refresh the credential's cookies when Bilibili asks for it and the refresh token is "
        "known (written back to its cookie_file)",
    )
    status_events: bool = cfg_field(
        True, description="emit `source.connected` / `source.disconnected` / `source.degraded` / `source.recovered` "
        "events",
    )
    jitter_seed: int | None = cfg_field(None, description="seed for the backoff jitter (tests); unset = random")


def backoff_ceiling(config: Any, attempt: int) -> float:
    """``min(backoff_max, backoff_initial * backoff_multiplier ** attempt)`` of a source's config."""
    return min(config.backoff_max, config.backoff_initial * (config.backoff_multiplier ** max(attempt, 0)))


class _Pause(Exception):
    """A room should wait ``delay`` seconds before its next attempt.

    ``fallback`` is true when the cause is risk control, so a key-less connection may stand in.
    """

    def __init__(self, delay: float, why: str, *, fallback: bool = False) -> None:
        super().__init__(why)
        self.delay = delay
        self.why = why
        self.fallback = fallback


@dataclass
class _Room:
    """What the source knows about one room."""

    spec: int
    index: int
    real_id: int | None = None
    owner_uid: int | None = None
    token: str | None = None
    token_uid: int = 0
    #: the server refused AUTH with this token: fetch a fresh one when the pacer allows
    token_stale: bool = False
    pacer: TokenPacer = field(default_factory=lambda: TokenPacer(5.0, 60.0))
    hosts: list[dict[str, Any]] = field(default_factory=list)
    host_index: int = 0
    connected: bool = False
    authenticated_once: bool = False
    connected_since: float = 0.0
    #: clock.monotonic() when the room's last connection was lost (None: connected, or never was)
    lost_at: float | None = None
    warned_masked: bool = False
    last_error: str | None = None
    stats: ConnectionStats | None = None
    #: AUTH refusals in a row (for logging once per streak)
    refusals: int = 0
    #: why the room runs on a fallback (None = the normal path)
    degraded: str | None = None
    scope: anyio.CancelScope | None = None  # cancels this room's loop when a reload removes the room


#: gen0 threshold while a danmaku source runs (CPython's default is 700).
GC_GEN0_THRESHOLD = 10_000
_gc_tuned = False


def tune_gc() -> None:
    """Make the cyclic GC cheaper for a process that decodes danmaku (once per process).

    Each DANMU_MSG allocates ~100 containers (JSON dicts and lists, the event), so with the
    default gen0 threshold of 700 the collector runs every few messages and, as a busy process's
    heap grows, full collections walk every long-lived object again and again. Here:
    ``gc.freeze()`` moves what exists at start (modules, config, compiled rules) out of the
    collector's sight, and the gen0 threshold is raised to :data:`GC_GEN0_THRESHOLD` unless the
    application already changed it. Measured with bench-like traffic and a 1M-object heap:
    27-38 -> 23 us per message (docs/performance.md). Cycles are still collected.
    """
    global _gc_tuned
    if _gc_tuned:
        return
    _gc_tuned = True
    gc.freeze()
    threshold = gc.get_threshold()
    if threshold[0] == 700:  # CPython's default: nobody tuned it
        gc.set_threshold(GC_GEN0_THRESHOLD, *threshold[1:])


class DanmakuSource(Source):
    """Live danmaku and room events of Bilibili rooms over their WebSocket, reconnecting forever.

    One connection per room; start-up, reconnect policy, anonymous mode and status events are
    described in the module docstring and docs/components/bilibili-danmaku.md.
    """

    type_name = "bilibili.danmaku"
    Config = DanmakuSourceConfig
    shard_key = "room_ids"

    def __init__(self, config: Any, context: Any) -> None:
        super().__init__(config, context)
        self.config: DanmakuSourceConfig = config
        self.ready = False
        self.clock = context.clock
        self.rng = random.Random(config.jitter_seed)
        self.rooms = [self._new_room(rid, i) for i, rid in enumerate(dict.fromkeys(config.room_ids))]
        self._decode_errors = RateLimitedLog(self.log)  # a flood of bad frames: first, then a count per 10 s
        self.credential: Credential = Credential.anonymous()
        self.api: BilibiliAPI | None = None
        self.endpoints = self._endpoints()
        self.uid = 0  # the uid we connect as (0 = anonymous)
        self._session_at: float | None = None
        self._session_lock = anyio.Lock()
        self._api_pause_until = 0.0
        self._buvid_generated = False
        self._risk_since: float | None = None  # monotonic time of the first -352 of the current episode
        self._identity_due = False  # a -352 asked for fresh WBI keys, bili_ticket and buvid activation
        self._identity_at: float | None = None
        self._identity_lock = anyio.Lock()
        self._keyless_refused_until = 0.0
        self._ssl: ssl.SSLContext | None = None
        m = self.metrics
        self.m_connected = m.gauge("bilibili_connected_rooms", "rooms with an authenticated connection",
                                   fn=lambda: sum(r.connected for r in self.rooms))  # fmt: skip
        m.gauge("bilibili_rooms", "rooms this source watches").set(len(self.rooms))
        self.m_connects = m.counter("bilibili_connects_total", "authenticated connections made")
        self.m_reconnects = m.counter("bilibili_reconnects_total", "connections made after the first one of a room")
        self.m_reconnect_seconds = m.reconnect_duration()
        self.m_frames = m.counter("bilibili_frames_total", "WebSocket frames received")
        self.m_bytes = m.counter("bilibili_received_bytes_total", "WebSocket payload bytes received")
        self.m_decode_errors = m.counter("bilibili_decode_errors_total", "frames that could not be decoded (skipped)")
        bad = "message bodies of well-framed frames skipped: not JSON (bad_json) or not an object (bad_message)"
        self.m_bad_json = m.counter("bilibili_bad_messages_total", bad, reason="bad_json")
        self.m_bad_message = m.counter("bilibili_bad_messages_total", bad, reason="bad_message")
        self._warned_bad_messages = False
        self.m_auth_failures = m.counter("bilibili_auth_failures_total", "AUTH packets the server refused")
        self.m_token_fetches = m.counter("bilibili_token_fetches_total", "getDanmuInfo tokens fetched")
        self.m_cookie_refreshes = m.counter("bilibili_cookie_refreshes_total", "cookie refreshes completed")
        m.gauge("bilibili_degraded_rooms", "rooms running on a fallback (key-less connection)",
                fn=lambda: sum(r.degraded is not None and r.connected for r in self.rooms))  # fmt: skip
        self.m_fallbacks = m.counter("bilibili_fallback_connects_total", "key-less fallback connections made")
        self.m_identity = m.counter("bilibili_identity_refreshes_total",
                                    "WBI key / bili_ticket / buvid refreshes after risk control")  # fmt: skip

    def preflight(self) -> Problems:
        """The extra CA file must be readable (the credential is checked by its own schema)."""
        if self.config.ca_file:
            yield from readable_file(self.context.path(self.config.ca_file), "ca_file", "CA file")

    # ---- set-up -----------------------------------------------------------------------------

    def _endpoints(self) -> Endpoints:
        c = self.config
        sim_url = self.context.settings.get("simulator_url")
        base = c.base_url or (sim_url if not any((c.api_live_url, c.api_url, c.passport_url, c.www_url)) else None)
        ep = Endpoints.at(base) if base else Endpoints()
        return Endpoints(
            api_live=(c.api_live_url or ep.api_live).rstrip("/"),
            api=(c.api_url or ep.api).rstrip("/"),
            passport=(c.passport_url or ep.passport).rstrip("/"),
            www=(c.www_url or ep.www).rstrip("/"),
            live=ep.live,
        )

    def _ssl_context(self) -> ssl.SSLContext | None:
        c = self.config
        sim = None if c.base_url else self.context.settings.get("simulator")
        return tls_context(c.verify_tls, self.context.path(c.ca_file) if c.ca_file else None, sim)

    async def _load_credential(self) -> Credential:
        name = self.config.credential
        if not name:
            return Credential.anonymous()
        table = self.context.credentials.get(name)
        if table is None:
            raise CredentialError(f"no [credentials.{name}] table")
        if not table and name == SIMULATOR_CREDENTIAL:
            return await self._simulator_account()
        return Credential.from_table(name, dict(table), self.context.config_dir)

    async def _simulator_account(self) -> Credential:
        url = self.context.settings.get("simulator_url")
        if not url:
            raise CredentialError(
                f"[credentials.{SIMULATOR_CREDENTIAL}] is empty: an empty table named '{SIMULATOR_CREDENTIAL}' "
                "is only filled in when a [simulator] runs (or `livepipe run --sim URL`); give cookies or a "
                "cookie_file instead"
            )
        async with httpx.AsyncClient(timeout=10, verify=self._ssl or True) as http:
            resp = await http.post(f"{url.rstrip('/')}/_sim/accounts", json={"uname": "livepipe-demo"})
            resp.raise_for_status()
            body = resp.json()
        self.log.info("simulator: connecting as its demo account uid %s", body["uid"])
        table = {**body["cookies"], "refresh_token": body.get("refresh_token", "")}
        return Credential.from_table(SIMULATOR_CREDENTIAL, table)

    async def start(self) -> None:
        """Load the credential (a bad cookie file is a start-up error) and open the API client."""
        tune_gc()
        self._ssl = self._ssl_context()
        self.credential = await self._load_credential()
        c = self.config
        self.api = BilibiliAPI(self.credential, self.endpoints, verify=self._ssl or True, user_agent=c.user_agent,
                               headers=c.headers, proxy=c.proxy_url())  # fmt: skip
        if c.proxy is not None:
            self.log.info("HTTP API and WebSocket go through the proxy %s", proxy_label(c.proxy.get_secret_value()))
        if not self.credential.logged_in:
            self.log.info("connecting anonymously: user names will be masked and uids 0 (set `credential`)")

    async def stop(self) -> None:
        """Close the API client."""
        if self.api is not None:
            with anyio.CancelScope(shield=True):
                await self.api.aclose()

    # ---- the run loop -----------------------------------------------------------------------

    async def run(self, emit: Emit) -> None:
        """Run every room until cancelled (shutdown); never returns on its own."""
        if self.api is None:
            await self.start()
        funnel = Funnel(emit)  # one hand-over for every room (see livepipe.bilibili.funnel)
        async with anyio.create_task_group() as tg:
            tg.start_soon(funnel.run, name=f"livepipe:{self.name}:funnel")
            self._rooms_tg, self._emit, self._push = tg, funnel.put, funnel.push
            for room in self.rooms:
                self._start_room(room)
            await anyio.sleep_forever()  # rooms come and go with reloads; shutdown cancels

    def _start_room(self, room: _Room) -> None:
        room.scope = anyio.CancelScope()

        async def loop() -> None:
            with room.scope:  # type: ignore[union-attr]
                await self._room_loop(room, self._emit)

        self._rooms_tg.start_soon(loop, name=f"livepipe:{self.name}:{room.spec}")

    def _new_room(self, spec: int, index: int) -> _Room:
        """A room to watch, with its own token pacer; ``index`` staggers the first connections."""
        return _Room(spec=spec, index=index, pacer=TokenPacer(self.config.token_backoff_initial,
                                                                self.config.token_backoff_max))

    def can_update_config(self, config: Any) -> bool:
        """True when only ``room_ids`` changed: rooms are then added and removed while the others stay connected."""
        return config.model_copy(update={"room_ids": self.config.room_ids}) == self.config

    def update_config(self, config: Any) -> None:
        """Connect the rooms ``config`` adds, close the ones it removes; the others keep their connections."""
        wanted = list(dict.fromkeys(config.room_ids))
        kept = [r for r in self.rooms if r.spec in wanted]
        for room in self.rooms:
            if room.spec not in wanted and room.scope is not None:
                room.scope.cancel()
                self.log.info("room %s removed by a reload: closing its connection", room.spec)
        have = {r.spec for r in kept}
        added = [self._new_room(rid, 0) for rid in wanted if rid not in have]
        self.rooms = kept + added
        self.config = config
        self.metrics.gauge("bilibili_rooms", "rooms this source watches").set(len(self.rooms))
        for room in added:
            self.log.info("room %s added by a reload: connecting", room.spec)
            if getattr(self, "_rooms_tg", None) is not None:
                self._start_room(room)

    async def _room_loop(self, room: _Room, emit: Emit) -> None:
        if room.index and self.config.start_gap:
            await self.clock.sleep(room.index * self.config.start_gap)
        attempt = 0  # failed attempts since the last healthy session
        fails_since_token = 0
        total = 0
        while True:
            total += 1
            if total > 1:
                await budget("reconnect", self.clock).take()
            try:
                if await self._prepare(room, fails_since_token >= self.config.token_refresh_after):
                    fails_since_token = 0
            except _Pause as p:
                attempt += 1
                if p.fallback and room.real_id is not None and self._keyless_usable():  # AUTH needs the real id
                    await self._run_degraded(room, emit, p, attempt, total)
                else:
                    await self.clock.sleep(p.delay)
                continue
            ended, lasted = await self._connect_once(room, emit, attempt, total)
            if lasted is not None and lasted >= self.config.healthy_after:
                # healthy: authenticated in this attempt and up long enough; the delays start over
                attempt = 0
                fails_since_token = 0
                room.pacer.reset()
            else:
                attempt += 1
                fails_since_token += 1
            room.host_index += 1
            if isinstance(ended, AuthFailed):
                # the server answers, so try again within seconds; fresh tokens are paced by room.pacer
                room.token_stale = True
                ceiling = min(self.config.auth_retry_max, backoff_ceiling(self.config, attempt))
                await self.clock.sleep(full_jitter(self.rng, ceiling))
            else:
                await self.clock.sleep(self._backoff(attempt))

    def _keyless_usable(self) -> bool:
        return self.config.keyless_fallback and self.clock.monotonic() >= self._keyless_refused_until

    async def _run_degraded(self, room: _Room, emit: Emit, pause: _Pause, attempt: int, total: int) -> None:
        """Stay connected key-less while the proper path (a getDanmuInfo token) is retried in the background.

        Returns once the proper path works again (the key-less connection is closed first) or the
        server refused the key-less connection and the retries then succeeded.
        """
        async with anyio.create_task_group() as tg:

            async def recover() -> None:
                delay = pause.delay
                while True:
                    await self.clock.sleep(delay)
                    try:
                        await self._prepare(room, False)
                    except _Pause as p:
                        delay = p.delay
                        continue
                    if room.token is None or room.token_stale:  # the pacer holds the next fetch back
                        delay = max(0.1, room.pacer.not_before - self.clock.monotonic())
                        continue
                    tg.cancel_scope.cancel()
                    return

            tg.start_soon(recover)
            while self._keyless_usable():
                ended, lasted = await self._connect_once(room, emit, attempt, total, keyless=pause.why)
                total += 1
                if isinstance(ended, AuthFailed) and lasted is None:
                    self._keyless_refused_until = self.clock.monotonic() + self.config.permanent_backoff
                    self.log.warning("room %s: the server refused a key-less connection (%s); waiting for "
                                     "getDanmuInfo instead, and not trying key-less for %g s",
                                     room.real_id or room.spec, ended, self.config.permanent_backoff)  # fmt: skip
                    break
                attempt = 0 if lasted is not None and lasted >= self.config.healthy_after else attempt + 1
                await self.clock.sleep(self._backoff(attempt))
            await anyio.sleep_forever()  # until recover() cancels the scope
        room.connected = False

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, initial * multiplier**attempt)] (uses only ``config`` and
        ``rng``, so the open-platform source borrows it)."""
        return full_jitter(self.rng, backoff_ceiling(self.config, attempt))

    # ---- API steps ---------------------------------------------------------------------------

    async def _wait_api(self) -> None:
        while True:
            left = self._api_pause_until - self.clock.monotonic()
            if left <= 0:
                return
            await self.clock.sleep(left)

    def _pause_api(self, seconds: float) -> None:
        self._api_pause_until = max(self._api_pause_until, self.clock.monotonic() + seconds)

    async def _ensure_session(self) -> None:
        """nav (login state, uid), WBI keys, buvid3, cookie refresh: once per source, again every ~12 h."""
        assert self.api is not None
        async with self._session_lock:
            now = self.clock.monotonic()
            if self._session_at is not None and now - self._session_at < SESSION_TTL:
                return
            api = self.api
            if self.credential.logged_in and self.credential.refresh_token is not None and self.config.refresh_cookies:
                await self._maybe_refresh()
            nav = await api.nav()
            cred = api.credential
            if cred.logged_in:
                if not nav.get("isLogin"):
                    self.log.error(
                        "credential %s is not logged in (cookies expired or revoked): connecting anonymously, "
                        "names will be masked; run `livepipe login` or `livepipe credentials check`", cred.name)
                    self.uid = 0
                    self.metrics.counter("bilibili_credential_errors_total", "credential problems found",
                                         problem="not_logged_in").inc()  # fmt: skip
                else:
                    mid = int(nav.get("mid") or 0)
                    if cred.dedeuserid is not None and cred.dedeuserid != mid:
                        self.metrics.counter("bilibili_credential_errors_total", "credential problems found",
                                             problem="uid_mismatch").inc()  # fmt: skip
                        raise _Pause(self.config.permanent_backoff,
                                     f"credential {cred.name}: DedeUserID {cred.dedeuserid} does not match the "
                                     f"session's uid {mid}; export all cookies from one browser session")
                    self.uid = mid
            else:
                self.uid = 0
            await api.wbi_keys()
            if not api.credential.buvid3:
                await api.ensure_buvid()
                self._buvid_generated = True
            self._session_at = now

    async def _maybe_refresh(self) -> None:
        from livepipe.bilibili.login import LoginError, refresh_credential

        assert self.api is not None
        try:
            c = self.config
            new = await refresh_credential(self.api.credential, self.endpoints, verify=self._ssl or True,
                                           user_agent=c.user_agent, headers=c.headers, proxy=c.proxy_url())
        except (LoginError, ApiError, httpx.HTTPError) as e:
            self.log.warning("credential %s: cookie refresh failed (%s); keeping the current cookies",
                             self.credential.name, e)
            return
        if new is not None:
            self.api.credential = new.with_buvid(self.api.credential.buvid3 or "", self.api.credential.buvid4) \
                if self.api.credential.buvid3 and not new.buvid3 else new
            self.credential = self.api.credential
            self.m_cookie_refreshes.inc()

    async def _prepare(self, room: _Room, refresh_due: bool) -> bool:
        """Session, room id and token for the next attempt; raises :class:`_Pause` on API trouble.

        Returns True when a fresh token was fetched. A token is fetched when the room has none,
        the server refused it, or ``refresh_due``; while ``room.pacer`` says wait, the current
        token is used again.
        """
        assert self.api is not None
        try:
            await self._wait_api()
            await self._ensure_session()
            if self._identity_due:
                await self._refresh_identity()
            if room.real_id is None:
                init = await self.api.room_init(room.spec)
                room.real_id = int(init["room_id"])
                room.owner_uid = int(init.get("uid") or 0) or None
                if room.real_id != room.spec:
                    self.log.info("room %s is real room %s", room.spec, room.real_id)
            now = self.clock.monotonic()
            want = room.token is None or room.token_stale or refresh_due
            if room.token is not None and room.token_uid != self.uid:
                want = True  # the login changed: the old token names another uid
            elif want and room.token is not None and not room.pacer.allowed(now):
                want = False  # reuse the current token until the pacer allows a fetch
            if not want:
                return False
            if room.pacer.level:
                await budget("danmu_info", self.clock).take()  # retries share a per-process budget
            room.pacer.fetched(self.clock.monotonic(), self.rng)
            info = await self.api.danmu_info(room.real_id)
            room.token = str(info.get("token") or "")
            room.token_uid = self.uid
            room.token_stale = False
            room.hosts = [h for h in (info.get("host_list") or []) if isinstance(h, dict) and h.get("host")]
            room.host_index = 0
            self.m_token_fetches.inc()
            if self._risk_since is not None:
                self.log.info("risk control cleared after %.1f s: getDanmuInfo answers again",
                              self.clock.monotonic() - self._risk_since)  # fmt: skip
                self._risk_since = None
            if not room.hosts:
                raise ApiError(-1003, "getDanmuInfo returned an empty host_list", "getDanmuInfo",
                               outcome=Outcome.RETRY)  # fmt: skip
            return True
        except ApiError as e:
            raise self._api_pause(room, e) from None
        except (KeyError, TypeError, ValueError) as e:
            raise _Pause(self._backoff(3), f"unexpected reply: {type(e).__name__}") from None

    async def _refresh_identity(self) -> None:
        """After -352, do what the web page does: fresh WBI keys and ``bili_ticket`` (GenWebTicket), and a
        new, activated buvid (ExClimbWuzhi). At most once per :data:`IDENTITY_REFRESH_EVERY` seconds for the
        whole source; each step is best effort."""
        assert self.api is not None
        async with self._identity_lock:
            now = self.clock.monotonic()
            if not self._identity_due or (self._identity_at is not None
                                          and now - self._identity_at < IDENTITY_REFRESH_EVERY):
                return
            self._identity_due = False
            self._identity_at = now
            api = self.api
            api.reset_wbi()
            if self._buvid_generated:  # a device id we made up may be the flagged one
                api.credential = dataclasses.replace(api.credential, buvid3=None, buvid4=None)
            steps = (("bili_ticket", api.gen_web_ticket), ("WBI keys", api.wbi_keys),
                     ("buvid", api.ensure_buvid), ("buvid activation", api.activate_buvid))
            for what, step in steps:
                try:
                    await step()
                except (ApiError, httpx.HTTPError) as e:
                    self.log.warning("risk control: refreshing the %s failed (%s); going on", what, e)
            self.m_identity.inc()
            self.log.info("risk control: fresh WBI keys, bili_ticket and an activated buvid")

    def _api_pause(self, room: _Room, e: ApiError) -> _Pause:
        label = room.real_id or room.spec
        self.metrics.counter("bilibili_api_errors_total", "API calls that failed", endpoint=e.endpoint,
                             code=e.code).inc()  # fmt: skip
        c = self.config
        if e.code == -412 or e.http_status == 412:
            self._pause_api(c.blocked_backoff)
            self.log.error("room %s: %s; pausing API calls for %g s", label, e, c.blocked_backoff)
            return _Pause(0, str(e), fallback=True)
        if e.code == -352:
            now = self.clock.monotonic()
            if self._risk_since is None:
                self._risk_since = now
                self.log.warning("room %s: %s; refreshing WBI keys, bili_ticket and buvid, retrying within "
                                 "seconds", label, e)  # fmt: skip
            self._identity_due = True
            delay = risk_delay(self.rng, now - self._risk_since, initial=c.risk_retry_initial,
                               maximum=c.risk_retry_max)  # fmt: skip
            return _Pause(delay, str(e), fallback=True)
        if e.outcome is Outcome.FATAL:
            self._session_at = None  # re-check the login state
            self.log.error("room %s: %s", label, e)
            return _Pause(self._backoff(4), str(e))
        if e.outcome is Outcome.REJECTED:
            if room.last_error != str(e):
                self.log.error("room %s: %s -- retrying every %g s; other rooms are not affected", label, e,
                               c.permanent_backoff)  # fmt: skip
            room.last_error = str(e)
            room.real_id = None if e.endpoint == "room_init" else room.real_id
            return _Pause(c.permanent_backoff, str(e))
        self.log.warning("room %s: %s; retrying", label, e)
        return _Pause(self._backoff(3), str(e))

    # ---- one connection -------------------------------------------------------------------------

    async def _connect_once(self, room: _Room, emit: Emit, attempt: int, total: int,
                            keyless: str | None = None) -> tuple[ConnectionEnded | None, float | None]:
        """One connection attempt: ``(why it ended, seconds it was authenticated or None if never)``.

        ``keyless`` (the reason) makes it the fallback: the default host, no token, uid 0, and the
        room marked degraded while it lasts.
        """
        assert self.api is not None
        if room.stats is None:
            room.stats = ConnectionStats(frames=self.m_frames, bytes=self.m_bytes, decode_errors=self.m_decode_errors,
                                         bad_json=self.m_bad_json, bad_message=self.m_bad_message)  # fmt: skip
            self.metrics.gauge("bilibili_last_message_age_seconds", "seconds since the room's last frame",
                               fn=lambda r=room: self._age(r), room_id=room.real_id or room.spec)  # fmt: skip
        room_id = room.real_id or room.spec
        if keyless is None:
            assert room.real_id is not None and room.token is not None
            host = room.hosts[room.host_index % len(room.hosts)]
            url = ws_url(self.endpoints.api_live, host)
            uid, key = room.token_uid, room.token
        else:
            url = self.endpoints.fallback_ws
            host = {"host": urlsplit(url).hostname}
            uid, key = 0, ""
        buvid = self.api.credential.buvid3 or ""
        mode = "keyless" if keyless is not None else "normal"

        async def on_authenticated() -> None:
            first = not room.authenticated_once
            room.connected = True
            room.authenticated_once = True
            room.connected_since = self.clock.monotonic()
            if room.lost_at is not None:  # connected again: how long the room was without a connection
                self.m_reconnect_seconds.observe(room.connected_since - room.lost_at)
                room.lost_at = None
            room.last_error = None
            if room.refusals > 1:
                self.log.info("room %s: AUTH accepted again after %d refusals", room_id, room.refusals)
            room.refusals = 0
            self.m_connects.inc()
            if not first:
                self.m_reconnects.inc()
            if not self.ready and all(r.authenticated_once for r in self.rooms):
                self.ready = True
                self.log.info("all %d room(s) connected", len(self.rooms))
            self.log.log(logging.INFO if first else logging.DEBUG, "room %s connected (%s, uid %s, %s)",
                         room_id, host.get("host"), uid, mode)  # fmt: skip
            events = [make_event("source.connected", room_id=room_id, data={
                "source": self.name, "room_id": room_id, "attempt": attempt + 1, "connections": total,
                "host": str(host.get("host")), "uid": uid, "anonymous": uid == 0, "mode": mode})]  # fmt: skip
            if keyless is not None:
                self.m_fallbacks.inc()
                if room.degraded is None:
                    self.log.warning("room %s: degraded: connected key-less (anonymous, masked names) because %s; "
                                     "retrying the normal path in the background", room_id, keyless)  # fmt: skip
                    events.append(make_event("source.degraded", room_id=room_id, data={
                        "source": self.name, "room_id": room_id, "mode": mode, "reason": keyless}))  # fmt: skip
                room.degraded = keyless
            elif room.degraded is not None:
                self.log.info("room %s: back on the normal path (was degraded: %s)", room_id, room.degraded)
                events.append(make_event("source.recovered", room_id=room_id, data={
                    "source": self.name, "room_id": room_id, "mode": mode, "was": room.degraded}))  # fmt: skip
                room.degraded = None
            if self.config.status_events:
                for ev in events:
                    await emit(ev)

        def check_masked(events: list[Event]) -> None:
            if uid == 0 and not room.warned_masked:
                for ev in events:
                    if ev.kind == "login_notice" or (ev.data and ev.data.get("masked")):
                        room.warned_masked = True
                        self.log.warning(
                            "room %s: the connection is anonymous, so user names are masked and uids are 0 "
                            "(events carry data.masked = true); set `credential` for real uids", room_id)
                        break

        async def on_events(events: list[Event]) -> None:
            check_masked(events)
            for ev in events:
                await emit(ev)

        funnel_push = getattr(self, "_push", None) if emit == getattr(self, "_emit", None) else None

        def push(events: list[Event], resume: Callable[[], None]) -> bool:
            check_masked(events)
            return funnel_push(events, resume)  # type: ignore[misc]

        def on_decode_error(e: ProtocolError) -> None:
            self._decode_errors.log(logging.WARNING, str(room_id),
                                    "room %s: skipped a frame that cannot be decoded: %s", room_id, e)

        def on_bad_messages(bad_json: int, bad_message: int) -> None:
            if not self._warned_bad_messages:  # once per source; the metric counts every one
                self._warned_bad_messages = True
                self.log.warning("room %s: skipped %d message bodies that are not JSON and %d that are not JSON "
                                 "objects; the rest of the frame was kept. Counted from now on in "
                                 "bilibili_bad_messages_total{reason}, without further log lines",
                                 room_id, bad_json, bad_message)  # fmt: skip

        client = DanmakuClient(
            room_id, on_events, on_authenticated=on_authenticated, on_decode_error=on_decode_error,
            on_bad_messages=on_bad_messages,
            heartbeat_interval=self.config.heartbeat_interval, liveness_timeout=self.config.liveness_timeout,
            heartbeat_timeout=self.config.heartbeat_timeout, connect_timeout=self.config.connect_timeout,
            ssl_context=self._ssl, user_agent=self.api.user_agent, headers=self.config.headers,
            proxy=self.config.proxy_url(), stats=room.stats, push=push if funnel_push is not None else None,
        )  # fmt: skip
        ended: ConnectionEnded | None = None
        try:
            await client.run(url, auth_body(uid, room_id, key, buvid))
        except ConnectionEnded as e:
            ended = e
        finally:
            was_connected = room.connected
            room.connected = False
            lasted = self.clock.monotonic() - room.connected_since if was_connected else None
            if was_connected:
                room.lost_at = self.clock.monotonic()
        reason = ended.reason if ended is not None else "closed"
        self.metrics.counter("bilibili_disconnects_total", "connection attempts that ended, by reason",
                             reason=reason).inc()  # fmt: skip
        if isinstance(ended, AuthFailed):
            self.m_auth_failures.inc()
            room.refusals += 1
            # the first refusal of a streak is a warning; the rest only count (the metric has them all)
            self.log.log(logging.WARNING if room.refusals == 1 else logging.DEBUG,
                         "room %s: %s; retrying every few seconds, fresh tokens paced (further refusals are "
                         "counted in bilibili_auth_failures_total)", room_id, ended)  # fmt: skip
        if lasted is not None:
            self.log.log(logging.INFO if reason != "closed" else logging.DEBUG,
                         "room %s disconnected (%s: %s) after %.1f s", room_id, reason, ended, lasted)  # fmt: skip
            if self.config.status_events:
                await emit(make_event("source.disconnected", room_id=room_id, data={
                    "source": self.name, "room_id": room_id, "reason": reason, "error": str(ended),
                    "attempt": attempt + 1, "connected_for": round(lasted, 3), "mode": mode}))  # fmt: skip
        elif not isinstance(ended, AuthFailed):
            self.log.info("room %s: attempt %d failed (%s: %s)", room_id, attempt + 1, reason, ended)
        return ended, lasted

    def health(self) -> dict[str, Any]:
        """``/health`` detail: rooms connected, and each degraded room with the reason."""
        degraded = {str(r.real_id or r.spec): r.degraded for r in self.rooms if r.degraded and r.connected}
        return {"rooms": len(self.rooms), "connected": sum(r.connected for r in self.rooms), "degraded": degraded}

    def _age(self, room: _Room) -> float:
        st = room.stats
        if st is None or not st.last_message:
            return -1.0
        return max(0.0, time.monotonic() - st.last_message)
