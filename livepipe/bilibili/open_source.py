"""The ``bilibili.open`` source: a room's events through the open platform (开放平台, 互动玩法).

Per room (one streamer identity code each): ``/v2/app/start`` (a game: ``game_id``, the
WebSocket's ``wss_link`` list and ``auth_body``) -> the WebSocket, authenticated with
``auth_body`` as it is, read by the same :class:`~livepipe.bilibili.client.DanmakuClient` as the
web source (packets, heartbeats, liveness) -> events in the web source's kinds
(:mod:`livepipe.bilibili.open_commands`). One task per source keeps every game alive:
``/v2/app/heartbeat`` every ``heartbeat_interval`` (``/v2/app/batchHeartbeat`` when the source has
several games, at most 200 ids a call). A game the platform ends (heartbeat error 7003, or
``LIVE_OPEN_PLATFORM_INTERACTION_END`` on the socket) is started again, forever, with the web
source's backoff and status events. On shutdown every running game gets ``/v2/app/end``.

Error codes map to outcomes (:mod:`livepipe.bilibili.open_api`): a wrong access key or secret
gives up the whole source with an error naming the app and the fix; a wrong identity code gives
up that room; cool-downs wait as the platform asks; everything else is retried.
"""

from __future__ import annotations

import logging
import random
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import orjson
from pydantic import SecretStr, model_validator

from livepipe.bilibili import open_api as O
from livepipe.bilibili.api import USER_AGENT
from livepipe.bilibili.client import AuthFailed, ConnectionEnded, ConnectionStats, DanmakuClient
from livepipe.bilibili.open_commands import INTERACTION_END
from livepipe.bilibili.protocol import ProtocolError
from livepipe.bilibili.source import SIMULATOR_CREDENTIAL, DanmakuSource, tune_gc
from livepipe.bilibili.transport import TransportConfig, proxy_label, scrub
from livepipe.component import Emit, Source
from livepipe.errors import ConfigurationError
from livepipe.events import Event, make_event
from livepipe.schema import Secret, SourceConfig, Url
from livepipe.schema import field as cfg_field

#: the keys a ``[credentials.NAME]`` table for the open platform may hold
CREDENTIAL_KEYS = ("app_id", "access_key_id", "access_key_secret", "code", "codes")


class OpenSourceConfig(SourceConfig, TransportConfig):
    """Config of the bilibili.open source."""

    app_id: int | None = cfg_field(None, description="the open platform project's id (项目ID); or in `credential`")
    access_key_id: str | None = cfg_field(None, description="the developer's access_key_id; or in `credential`")
    access_key_secret: Secret | None = cfg_field(
        None, description="the developer's access_key_secret (use `{ env = \"...\" }`); or in `credential`", secret=True
    )
    codes: list[Secret] = cfg_field(
        default_factory=list, secret=True,
        description="the streamers' identity codes (身份码), one room each (use `{ env = \"...\" }`); "
        "or in `credential`",
    )  # fmt: skip
    credential: str | None = cfg_field(
        None, description="name of a `[credentials.NAME]` table holding `app_id`, `access_key_id`, "
        "`access_key_secret` and `code` (or `codes`); keys given here win. With an embedded `[simulator]`, an "
        "empty `[credentials.simulator]` registers a demo app watching every simulated room",
    )
    base_url: Url | None = cfg_field(
        None, description="base URL of the open platform API (a simulator); unset = live-open.biliapi.com, or the "
        "embedded `[simulator]` when the config has one",
    )
    verify_tls: bool = cfg_field(True, description="verify TLS certificates (HTTP API and wss://)")
    ca_file: str | None = cfg_field(None, description="PEM file of extra CA certificates to trust")
    heartbeat_interval: float = cfg_field(20.0, description="seconds between game heartbeats (the platform ends "
                                          "a game after about 60 s without one)", gt=0)  # fmt: skip
    ws_heartbeat_interval: float = cfg_field(30.0, description="seconds between WebSocket heartbeats", gt=0)
    liveness_timeout: float = cfg_field(40.0, description="reconnect when no frame arrives for this many seconds",
                                        gt=0)  # fmt: skip
    heartbeat_timeout: float = cfg_field(70.0, description="reconnect when WebSocket heartbeats go unanswered "
                                         "for this many seconds", gt=0)  # fmt: skip
    connect_timeout: float = cfg_field(10.0, description="limit for one attempt: open the socket and get the "
                                       "auth reply", gt=0)  # fmt: skip
    http_timeout: float = cfg_field(10.0, description="limit for one open platform API call, seconds", gt=0)
    backoff_initial: float = cfg_field(1.0, description="first retry delay ceiling, seconds (full jitter)", gt=0)
    backoff_max: float = cfg_field(60.0, description="largest retry delay ceiling, seconds", gt=0)
    backoff_multiplier: float = cfg_field(2.0, description="ceiling growth per failed attempt", ge=1)
    healthy_after: float = cfg_field(
        10.0, description="seconds an authenticated connection must stay up to count as healthy; only a healthy "
        "session resets the reconnect backoff", ge=0,
    )
    restart_after: int = cfg_field(3, description="end the game and start a new one after this many failed "
                                   "WebSocket attempts in a row", ge=1)  # fmt: skip
    start_gap: float = cfg_field(0.25, description="seconds between starting consecutive rooms", ge=0)
    status_events: bool = cfg_field(True, description="emit `source.connected` / `source.disconnected` events")
    jitter_seed: int | None = cfg_field(None, description="seed for the backoff jitter (tests); unset = random")

    @model_validator(mode="after")
    def _app_is_given(self) -> OpenSourceConfig:
        """Without a ``credential`` table, the source's own keys must name the app and at least one room."""
        if self.credential is None:
            missing = [k for k in ("app_id", "access_key_id", "access_key_secret", "codes") if not getattr(self, k)]
            if missing:
                raise ValueError(f"missing {', '.join(missing)}: give them here, or name a `credential` table "
                                 "holding them")  # fmt: skip
        return self


class OpenPlatformError(ConfigurationError):
    """The app's keys or identity codes are missing, or were refused so that every room gave up."""


class SessionEnded(ConnectionEnded):
    """The platform ended the game (7003 on a heartbeat, or INTERACTION_END): start a new one."""

    reason = "session_ended"


@dataclass
class _App:
    app_id: int
    access_key_id: str
    secret: SecretStr


class _Room:
    """One identity code's room: its game, its connection state."""

    def __init__(self, index: int, code: SecretStr) -> None:
        self.index = index
        self.code = code
        self.room_id: int | None = None
        self.game: O.GameSession | None = None
        self.game_lost: str | None = None  # why the platform ended the game
        self.scope: anyio.CancelScope | None = None
        self.connected = False
        self.connected_since = 0.0
        self.lost_at: float | None = None  # clock.monotonic() when the connection was lost (None: connected)
        self.lasted: float | None = None  # seconds the last attempt stayed authenticated (None: it never was)
        self.link_index = 0
        self.gave_up: str | None = None
        self.last_error: str | None = None
        self.stats: ConnectionStats | None = None

    @property
    def label(self) -> str:
        return f"room {self.room_id}" if self.room_id else f"identity code #{self.index + 1}"

    def lose_game(self, why: str, game_id: str | None = None) -> None:
        """The platform ended this room's game (``game_id``, if given, must still be the room's current one):
        stop its connection so the room starts a new one."""
        if game_id is not None and (self.game is None or self.game.game_id != game_id):
            return  # a report about a game the room already replaced
        self.game_lost = why
        if self.scope is not None:
            self.scope.cancel()


class OpenSource(Source):
    """Live events of Bilibili rooms through the open platform, in the same kinds as ``bilibili.danmaku``.

    See the module docstring and docs/components/bilibili-open.md.
    """

    type_name = "bilibili.open"
    Config = OpenSourceConfig

    # the web source's helpers, shared (they read only config.backoff_* / verify_tls / ca_file / base_url)
    _backoff = DanmakuSource._backoff
    _ssl_context = DanmakuSource._ssl_context
    _age = DanmakuSource._age
    preflight = DanmakuSource.preflight  # the extra CA file must be readable

    def __init__(self, config: Any, context: Any) -> None:
        super().__init__(config, context)
        self.config: OpenSourceConfig = config
        self.ready = False
        self.clock = context.clock
        self.rng = random.Random(config.jitter_seed)
        self.app: _App | None = None
        self.rooms: list[_Room] = []
        self.http: httpx.AsyncClient | None = None
        self._ssl: ssl.SSLContext | None = None
        self._user_agent = config.user_agent or USER_AGENT
        self.base_url = (config.base_url or context.settings.get("simulator_url") or O.OPEN_LIVE_URL).rstrip("/")
        m = self.metrics
        m.gauge("bilibili_connected_rooms", "rooms with an authenticated connection",
                fn=lambda: sum(r.connected for r in self.rooms))  # fmt: skip
        self.m_connects = m.counter("bilibili_connects_total", "authenticated connections made")
        self.m_frames = m.counter("bilibili_frames_total", "WebSocket frames received")
        self.m_bytes = m.counter("bilibili_received_bytes_total", "WebSocket payload bytes received")
        self.m_decode_errors = m.counter("bilibili_decode_errors_total", "frames that could not be decoded (skipped)")
        self.m_games = m.counter("bilibili_open_games_started_total", "games started (/v2/app/start)")
        self.m_reconnect_seconds = m.reconnect_duration()

    # ---- set-up -----------------------------------------------------------------------------

    async def _simulator_app(self) -> dict[str, Any]:
        """An empty ``[credentials.simulator]`` with an embedded ``[simulator]``: a fresh app of that simulator,
        watching every simulated room unless ``codes`` are given."""
        url = str(self.context.settings["simulator_url"]).rstrip("/")
        async with httpx.AsyncClient(timeout=10, verify=self._ssl or True) as http:
            app = (await http.post(f"{url}/_sim/open-apps")).raise_for_status().json()
            rooms = (await http.get(f"{url}/_sim/rooms")).raise_for_status().json()
        self.log.info("embedded simulator: open platform app %s", app["app_id"])
        return {**app, "codes": [SecretStr(r["auth_code"]) for r in rooms]}

    async def _load_app(self) -> tuple[_App, list[SecretStr]]:
        c = self.config
        table: dict[str, Any] = {}
        if c.credential:
            found = self.context.credentials.get(c.credential)
            if found is None:
                raise OpenPlatformError(f"no [credentials.{c.credential}] table")
            if not found and c.credential == SIMULATOR_CREDENTIAL:
                if not self.context.settings.get("simulator_url"):
                    raise OpenPlatformError(
                        f"[credentials.{SIMULATOR_CREDENTIAL}] is empty: an empty table named "
                        f"'{SIMULATOR_CREDENTIAL}' is only filled in by an embedded [simulator]; give app_id, "
                        "access_key_id, access_key_secret and code instead")  # fmt: skip
                found = await self._simulator_app()
            unknown = sorted(set(found) - set(CREDENTIAL_KEYS))
            if unknown:
                raise OpenPlatformError(f"[credentials.{c.credential}]: unknown key(s) {', '.join(unknown)} for the "
                                        f"open platform (expected {', '.join(CREDENTIAL_KEYS)})")  # fmt: skip
            table = dict(found)

        def plain(v: Any) -> Any:
            return v.get_secret_value() if isinstance(v, SecretStr) else v

        app_id = c.app_id if c.app_id is not None else plain(table.get("app_id"))
        key_id = c.access_key_id or plain(table.get("access_key_id"))
        secret = c.access_key_secret or table.get("access_key_secret")
        codes: list[Any] = list(c.codes)
        if not codes:
            raw = table.get("codes") if table.get("codes") is not None else table.get("code")
            codes = list(raw) if isinstance(raw, list) else [raw] if raw else []
        missing = [k for k, v in (("app_id", app_id), ("access_key_id", key_id), ("access_key_secret", secret),
                                  ("codes", codes)) if not v]  # fmt: skip
        if missing:
            where = f" or in [credentials.{c.credential}]" if c.credential else " (or name a `credential` table)"
            raise OpenPlatformError(f"missing {', '.join(missing)}: give them in the source's table{where}")
        try:
            app_id = int(plain(app_id))
        except (TypeError, ValueError):
            raise OpenPlatformError("app_id must be the project's numeric id") from None
        secret = secret if isinstance(secret, SecretStr) else SecretStr(str(secret))
        codes = [x if isinstance(x, SecretStr) else SecretStr(str(x)) for x in codes]
        return _App(app_id, str(plain(key_id)), secret), codes

    async def start(self) -> None:
        """Check the app's keys and identity codes are all given; open the HTTP client."""
        tune_gc()
        self._ssl = self._ssl_context()
        self.app, codes = await self._load_app()
        seen: set[str] = set()
        for i, code in enumerate(codes):
            if code.get_secret_value() not in seen:
                seen.add(code.get_secret_value())
                self.rooms.append(_Room(i, code))
        self.http = httpx.AsyncClient(timeout=self.config.http_timeout, verify=self._ssl or True,
                                      headers={"User-Agent": self._user_agent, **self.config.headers},
                                      proxy=self.config.proxy_url())  # fmt: skip

    async def stop(self) -> None:
        """End every running game (``/v2/app/end``, bounded by a few seconds) and close the HTTP client."""
        with anyio.CancelScope(shield=True):
            if self.http is None:
                return
            with anyio.move_on_after(5):
                async with anyio.create_task_group() as tg:
                    for room in self.rooms:
                        tg.start_soon(self._end_game, room)
            await self.http.aclose()

    # ---- the signed calls -------------------------------------------------------------------

    async def _call(self, path: str, body: dict[str, Any]) -> Any:
        """One signed POST; the reply's ``data``. Raises :class:`OpenApiError` (transport trouble: code 5000)."""
        assert self.http is not None and self.app is not None
        raw = orjson.dumps(body)
        headers = O.signed_headers(self.app.access_key_id, self.app.secret.get_secret_value(), raw,
                                   timestamp=int(self.clock.time()))  # fmt: skip
        try:
            resp = await self.http.post(self.base_url + path, content=raw, headers=headers)
            reply = resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as e:
            proxy = self.config.proxy_url()
            via = f" through the proxy {proxy_label(proxy)} (is the proxy running and reachable?)" if proxy else ""
            raise O.OpenApiError(path, 5000, f"{type(e).__name__}{via}: {scrub(str(e), proxy)}") from None
        try:
            return O.check_reply(path, resp.status_code, reply)
        except O.OpenApiError as e:
            self.metrics.counter("bilibili_open_api_errors_total", "open platform calls answered with an error",
                                 endpoint=path, code=e.code).inc()  # fmt: skip
            raise

    async def _end_game(self, room: _Room) -> None:
        game, room.game = room.game, None
        if game is None or room.game_lost is not None or self.app is None:
            return
        try:
            await self._call(O.PATH_END, {"app_id": self.app.app_id, "game_id": game.game_id})
            self.log.info("%s: game ended (/v2/app/end)", room.label)
        except O.OpenApiError as e:
            if e.code not in (7000, 7003):  # already over: fine
                self.log.warning("%s: /v2/app/end failed: %s", room.label, e)

    async def _heartbeats(self) -> None:
        """Keep every running game alive; a game the platform reports gone is restarted by its room."""
        failures = 0
        while True:
            await self.clock.sleep(self.config.heartbeat_interval)
            games = {r.game.game_id: r for r in self.rooms if r.game is not None and r.game_lost is None}
            if not games:
                continue
            try:
                if len(games) == 1:
                    [(game_id, room)] = games.items()
                    try:
                        await self._call(O.PATH_HEARTBEAT, {"game_id": game_id})
                    except O.OpenApiError as e:
                        if e.outcome is not O.OpenOutcome.RESTART:
                            raise
                        room.lose_game(str(e), game_id)
                else:
                    for batch in O.batches(list(games)):
                        failed = O.parse_batch_heartbeat(await self._call(O.PATH_BATCH_HEARTBEAT,
                                                                          {"game_ids": batch}))
                        for game_id in failed:
                            if game_id in games:
                                games[game_id].lose_game(f"{O.PATH_BATCH_HEARTBEAT}: game {game_id} failed "
                                                         "(expired or ended)", game_id)
                failures = 0
            except O.OpenApiError as e:
                failures += 1
                self.log.log(logging.WARNING if failures in (1, 3) or failures % 30 == 0 else logging.DEBUG,
                             "game heartbeat failed (%d in a row): %s", failures, e)  # fmt: skip

    # ---- the run loop -----------------------------------------------------------------------

    async def run(self, emit: Emit) -> None:
        """Run every room until cancelled (shutdown); raises :class:`OpenPlatformError` once every room gave up."""
        if self.http is None:
            await self.start()
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._heartbeats)
            async with anyio.create_task_group() as rooms:
                for room in self.rooms:
                    rooms.start_soon(self._room_loop, room, emit)
            tg.cancel_scope.cancel()  # every room gave up
        reasons = sorted({r.gave_up for r in self.rooms if r.gave_up})
        raise OpenPlatformError("; ".join(reasons) or "no rooms")

    def _give_up(self, room: _Room, e: O.OpenApiError) -> None:
        assert self.app is not None
        app_level = e.outcome is O.OpenOutcome.FATAL
        who = f"open platform app {self.app.app_id}" if app_level else f"{room.label} (app {self.app.app_id})"
        room.gave_up = f"{who}: {e} -- giving up"
        self.log.error("%s", room.gave_up)
        self.metrics.counter("bilibili_open_gave_up_total", "rooms given up (wrong keys or identity code)").inc()
        if app_level:  # the same keys sign every room's calls: none of them can work
            for other in self.rooms:
                if other.gave_up is None:
                    other.gave_up = room.gave_up
                    other.lose_game("gave up")
        if not self.ready and all(r.connected or r.gave_up for r in self.rooms) and not app_level:
            self.ready = True  # every room that can work is connected

    async def _room_loop(self, room: _Room, emit: Emit) -> None:
        if room.index and self.config.start_gap:
            await self.clock.sleep(room.index * self.config.start_gap)
        attempt = 0  # failed attempts in a row
        ws_fails = 0  # failed WebSocket attempts on the current game
        total = 0
        while room.gave_up is None:
            if room.game is None or room.game_lost is not None:
                room.game, room.game_lost, ws_fails = None, None, 0
                try:
                    await self._start_game(room)
                except O.OpenApiError as e:
                    attempt += 1
                    if e.outcome in (O.OpenOutcome.FATAL, O.OpenOutcome.REJECTED):
                        if room.gave_up is None:
                            self._give_up(room, e)
                        return
                    delay = e.info.wait if e.outcome is O.OpenOutcome.WAIT else self._backoff(attempt)
                    # once per new error, then every 10th repeat: never a line per retry
                    repeat = str(e) == room.last_error
                    room.last_error = str(e)
                    self.log.log(logging.DEBUG if repeat and attempt % 10 else logging.WARNING,
                                 "%s: %s; retrying in %.1f s (attempt %d)", room.label, e, delay, attempt)  # fmt: skip
                    await self.clock.sleep(delay)
                    continue
            total += 1
            ended = await self._connect_once(room, emit, attempt, total)
            # A session that got frames is not a failed attempt (restart_after counts those), but only one that
            # stayed up healthy_after seconds resets the backoff: a server that drops at once is not hammered.
            got_frames = room.stats is not None and room.stats.session_frames > 0
            ws_fails = 0 if got_frames else ws_fails + 1
            healthy = room.lasted is not None and room.lasted >= self.config.healthy_after
            attempt = 0 if healthy else attempt + 1
            if isinstance(ended, SessionEnded):
                self.log.info("%s: %s; starting a new game", room.label, ended)
                room.game = None  # the platform ended it: no /v2/app/end
            elif ws_fails >= self.config.restart_after or isinstance(ended, AuthFailed):
                await self._end_game(room)
            room.link_index += 1
            if room.gave_up is None:
                await self.clock.sleep(self._backoff(attempt))

    async def _start_game(self, room: _Room) -> None:
        assert self.app is not None
        data = await self._call(O.PATH_START, O.start_body(room.code.get_secret_value(), self.app.app_id))
        game = O.parse_start(data)
        room.last_error = None
        room.game, room.game_lost, room.link_index = game, None, 0
        if room.room_id != game.room_id:
            self.log.info("identity code #%d is room %s (%s)", room.index + 1, game.room_id, game.anchor_uname)
        room.room_id = game.room_id
        self.m_games.inc()

    # ---- one connection ---------------------------------------------------------------------

    async def _connect_once(self, room: _Room, emit: Emit, attempt: int, total: int) -> ConnectionEnded:
        game = room.game
        assert game is not None
        room_id = game.room_id
        if room.stats is None:
            room.stats = ConnectionStats(frames=self.m_frames, bytes=self.m_bytes, decode_errors=self.m_decode_errors)
            self.metrics.gauge("bilibili_last_message_age_seconds", "seconds since the room's last frame",
                               fn=lambda r=room: self._age(r), room_id=room_id)  # fmt: skip
        url = game.wss_links[room.link_index % len(game.wss_links)]

        async def on_authenticated() -> None:
            room.connected = True
            room.connected_since = self.clock.monotonic()
            if room.lost_at is not None:  # connected again: how long the room was without a connection
                self.m_reconnect_seconds.observe(room.connected_since - room.lost_at)
                room.lost_at = None
            self.m_connects.inc()
            if not self.ready and all(r.connected or r.gave_up for r in self.rooms):
                self.ready = True
                self.log.info("all %d room(s) connected through the open platform", len(self.rooms))
            self.log.info("room %s connected (open platform, game %s)", room_id, game.game_id)
            if self.config.status_events:
                await emit(make_event("source.connected", room_id=room_id, data={
                    "source": self.name, "room_id": room_id, "attempt": attempt + 1, "connections": total,
                    "host": _host(url), "uid": 0, "anonymous": False, "game_id": game.game_id}))  # fmt: skip

        async def on_events(events: list[Event]) -> None:
            for ev in events:
                if ev.cmd == INTERACTION_END and ev.data.get("game_id") in (None, game.game_id):
                    room.lose_game(f"{INTERACTION_END} for game {game.game_id}", game.game_id)
                    continue
                await emit(ev)

        def on_decode_error(e: ProtocolError) -> None:
            self.log.warning("room %s: skipped a frame that cannot be decoded: %s", room_id, e)

        client = DanmakuClient(
            room_id, on_events, on_authenticated=on_authenticated, on_decode_error=on_decode_error,
            heartbeat_interval=self.config.ws_heartbeat_interval, liveness_timeout=self.config.liveness_timeout,
            heartbeat_timeout=self.config.heartbeat_timeout, connect_timeout=self.config.connect_timeout,
            ssl_context=self._ssl, user_agent=self._user_agent, headers=self.config.headers,
            proxy=self.config.proxy_url(), stats=room.stats,
        )  # fmt: skip
        ended: ConnectionEnded = SessionEnded("the platform ended the game")
        with anyio.CancelScope() as scope:
            room.scope = scope
            if room.game_lost is not None:
                scope.cancel()
            try:
                await client.run(url, game.auth_body.encode())
            except ConnectionEnded as e:
                ended = e
        room.scope = None
        if room.game_lost is not None:
            ended = SessionEnded(room.game_lost)
        self.metrics.counter("bilibili_disconnects_total", "connection attempts that ended, by reason",
                             reason=ended.reason).inc()  # fmt: skip
        was_connected, room.connected = room.connected, False
        room.lasted = None
        if was_connected:
            room.lost_at = self.clock.monotonic()
            lasted = room.lasted = room.lost_at - room.connected_since
            self.log.info("room %s disconnected (%s: %s) after %.1f s", room_id, ended.reason, ended, lasted)
            if self.config.status_events:
                await emit(make_event("source.disconnected", room_id=room_id, data={
                    "source": self.name, "room_id": room_id, "reason": ended.reason, "error": str(ended),
                    "attempt": attempt + 1, "connected_for": round(lasted, 3)}))  # fmt: skip
        elif not isinstance(ended, SessionEnded):
            self.log.info("room %s: attempt %d failed (%s: %s)", room_id, attempt + 1, ended.reason, ended)
        return ended


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


__all__ = ["OpenPlatformError", "OpenSource", "OpenSourceConfig", "SessionEnded"]
