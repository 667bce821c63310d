"""The simulator's open platform (开放平台, 互动玩法): signed ``/v2/app/*`` calls, games, and their WebSocket.

* Apps are registered through the control API (``POST /_sim/open-apps`` ->
  ``{app_id, access_key_id, access_key_secret}``); each room owner's identity code is the room's
  ``auth_code`` in ``GET /_sim/rooms/{id}``.
* ``/v2/app/start``, ``/heartbeat``, ``/batchHeartbeat`` and ``/end`` verify the signature as the
  platform does (:func:`livepipe.bilibili.open_api.verify_request`): unknown key 4001, wrong
  signature or body MD5 4002, stale timestamp 4003, repeated nonce 4004. A wrong identity code is
  7007, more than five running games of one app in a room 7010, a heartbeat for an ended or
  unknown game 7003.
* A game whose heartbeats stop for ``session_expiry`` seconds (60 by default, like the platform)
  ends: its WebSocket clients get ``LIVE_OPEN_PLATFORM_INTERACTION_END`` and are closed.
* The game's WebSocket (``wss_link``, path ``/open/sub``) speaks the same packet protocol as
  ``/sub`` and carries the room's traffic as ``LIVE_OPEN_PLATFORM_*`` messages
  (:mod:`livepipe.sim.open_messages`), zlib-wrapped.
* Every call is recorded (``GET /_sim/open-calls``); ``GET /_sim/open-games`` lists the games and
  ``POST /_sim/open-games/{game_id}/expire`` ends one as if its heartbeats had stopped.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import itertools
import json
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from livepipe.bilibili import open_api as O
from livepipe.bilibili import protocol as P
from livepipe.sim.control_body import NO_BODY, accepts
from livepipe.sim.http_read import area_names
from livepipe.sim.open_messages import interaction_end, open_id, to_open
from livepipe.sim.state import Room, encode_json
from livepipe.sim.ws import Client, Hub, encode_batch

if TYPE_CHECKING:
    from livepipe.sim.app import Simulator

#: running games one app may have in one room (one more: code 7010)
MAX_GAMES_PER_ROOM = 5
WS_PATH = "/open/sub"
_MESSAGES = {
    0: "0", 4000: "参数错误", 4001: "应用无效", 4002: "签名异常", 4003: "请求过期", 4004: "重复请求",
    7003: "心跳过期或GameId错误", 7004: "批量心跳超过最大值", 7005: "批量心跳ID重复", 7007: "身份码错误",
    7010: "超过上限：同一个应用单个直播间最多同时打开5个",
}  # fmt: skip


@dataclass
class OpenApp:
    """A registered open-platform app (project) and its developer key pair."""

    app_id: int
    access_key_id: str
    access_key_secret: str = field(repr=False)


@dataclass
class Game:
    """One game (场次): an app attached to a room between start and end (or expiry)."""

    game_id: str
    app_id: int
    room_id: int
    key: str = field(repr=False)
    started: float = field(default_factory=time.time)
    last_heartbeat: float = field(default_factory=time.monotonic)
    heartbeats: int = 0
    #: None while running; "end" (``/v2/app/end``) or "expired" (no heartbeat in time) after
    ended: str | None = None

    def view(self) -> dict[str, Any]:
        """JSON view for the control API (without the WebSocket key)."""
        out = asdict(self)
        out.pop("key")
        out.pop("last_heartbeat")
        return out


@dataclass(eq=False)
class OpenClient(Client):
    """A client of the open-platform WebSocket: belongs to one game."""

    game_id: str = ""


class OpenHub(Hub):
    """``/open/sub``: the web hub's connections, batching and heartbeats, with open-platform auth and messages."""

    def __init__(self, platform: OpenPlatform, sim: Simulator) -> None:
        super().__init__(sim.state, sim.faults, {}, batch_interval=sim.hub.batch_interval,
                         popularity=sim.popularity, stop_list_every=0)  # fmt: skip
        self.platform = platform

    #: the web hub takes the one-off faults (its malformed frame reaches this hub's clients too)
    takes_one_off_faults = False

    def _pending_item(self, room: Room, message: dict[str, Any]) -> tuple[dict[str, Any], bytes] | None:
        """The open-platform form of a broadcast, or None for what the open platform does not push."""
        om = to_open(message, room.room_id, self.platform.anchor(room), self.platform.open_id)
        return None if om is None else (om, encode_json(om))

    def _game_for(self, body: dict[str, Any]) -> Game | None:
        key = body.get("key")
        game = self.platform.games.get(self.platform.keys.get(str(key), "")) if key else None
        if game is None or game.ended is not None or self.faults.fail_auth:
            return None
        try:
            if int(body.get("roomid", 0)) != game.room_id:
                return None
        except (TypeError, ValueError):
            return None
        return game

    def _check_auth(self, body: dict[str, Any]) -> tuple[int, int] | None:
        game = self._game_for(body)
        if game is None:
            return None
        return self.state.rooms[game.room_id].owner_uid or 1, game.room_id

    def _new_client(self, ws: web.WebSocketResponse, body: dict[str, Any], who: tuple[int, int], peer: str) -> Client:
        game = self._game_for(body)
        return OpenClient(next(self._ids), ws, who[1], who[0], 2, peer, game_id=game.game_id if game else "")

    def end_game(self, game_id: str) -> int:
        """Tell the game's clients it ended (INTERACTION_END) and close them; returns how many."""
        frame = encode_batch([interaction_end(game_id)], P.VER_ZLIB)
        n = 0
        for c in self.all_clients():
            if isinstance(c, OpenClient) and c.game_id == game_id:
                c.send(frame, 1)
                c.close_soon()
                n += 1
        return n


class OpenPlatform:
    """Apps, games, the signed API, the game expiry loop and the open WebSocket of one simulator."""

    def __init__(self, sim: Simulator, *, session_expiry: float = O.SESSION_EXPIRY) -> None:
        self.sim = sim
        self.session_expiry = session_expiry
        self.apps: dict[str, OpenApp] = {}
        self.games: dict[str, Game] = {}
        self.keys: dict[str, str] = {}  # WebSocket key -> game id
        self.calls: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)
        self._nonces: dict[str, float] = {}
        self._app_ids = itertools.count(1_700_000_000_001)
        self.hub = OpenHub(self, sim)
        for room in sim.state.rooms.values():
            self.hub.attach(room)

    # ---- identities -------------------------------------------------------------------------

    def register_app(self) -> OpenApp:
        """A new app with a fresh key pair."""
        app = OpenApp(next(self._app_ids), secrets.token_hex(12), secrets.token_hex(16))
        self.apps[app.access_key_id] = app
        return app

    def auth_code(self, room: Room) -> str:
        """The room owner's identity code (身份码): 13 upper-case hex characters, stable for a seed."""
        return hashlib.sha256(f"authcode:{self.sim.seed}:{room.room_id}".encode()).hexdigest()[:13].upper()

    def open_id(self, uid: int) -> str:
        """The open_id the simulator gives ``uid``."""
        return open_id(self.sim.seed, uid)

    def anchor(self, room: Room) -> dict[str, Any]:
        """The streamer's info as ``anchor_info`` gives it (title and area name for LIVE_START/END)."""
        return {"uid": 0, "open_id": self.open_id(room.owner_uid), "union_id": "", "uname": room.owner_name,
                "uface": "", "title": room.title, "area_name": area_names(room.area_id)[0]}  # fmt: skip

    def _room_for_code(self, code: Any) -> Room | None:
        for room in self.sim.state.rooms.values():
            if isinstance(code, str) and code == self.auth_code(room):
                return room
        return None

    # ---- games ------------------------------------------------------------------------------

    def end_game(self, game: Game, reason: str) -> None:
        """End ``game`` (``"end"`` or ``"expired"``) and close its WebSocket clients."""
        if game.ended is None:
            game.ended = reason
            self.hub.end_game(game.game_id)

    def expire_due(self) -> None:
        """End every running game whose last heartbeat is older than ``session_expiry``."""
        now = time.monotonic()
        for game in self.games.values():
            if game.ended is None and now - game.last_heartbeat > self.session_expiry:
                self.end_game(game, "expired")

    async def run(self) -> None:
        """The open hub's flush loop and the expiry check; runs until cancelled."""
        hub_task = asyncio.ensure_future(self.hub.run())
        try:
            while True:
                await asyncio.sleep(min(1.0, max(0.05, self.session_expiry / 4)))
                self.expire_due()
        finally:
            hub_task.cancel()

    def _ws_link(self, request: web.Request) -> str:
        sim = self.sim
        host = sim.public_host(request)
        host = f"[{host}]" if ":" in host else host
        return f"{'wss' if sim.tls else 'ws'}://{host}:{sim.port}{WS_PATH}"

    # ---- the signed API ---------------------------------------------------------------------

    def _start(self, app: OpenApp, body: dict[str, Any], request: web.Request) -> tuple[int, Any]:
        if body.get("app_id") != app.app_id:
            return 4000, None
        room = self._room_for_code(body.get("code"))
        if room is None:
            return 7007, None
        running = [g for g in self.games.values() if g.app_id == app.app_id and g.room_id == room.room_id
                   and g.ended is None]  # fmt: skip
        if len(running) >= MAX_GAMES_PER_ROOM:
            return 7010, None
        game = Game(uuid.uuid4().hex, app.app_id, room.room_id, secrets.token_urlsafe(24))
        self.games[game.game_id] = game
        self.keys[game.key] = game.game_id
        auth = {"roomid": room.room_id, "protoover": 2, "uid": 0, "key": game.key, "group": "open"}
        anchor = self.anchor(room)
        return 0, {
            "game_info": {"game_id": game.game_id},
            "websocket_info": {"auth_body": json.dumps(auth, separators=(",", ":")),
                               "wss_link": [self._ws_link(request)]},
            "anchor_info": {"room_id": room.room_id, "uname": anchor["uname"], "uface": anchor["uface"], "uid": 0,
                            "open_id": anchor["open_id"], "union_id": ""},
        }  # fmt: skip

    def _beat(self, app: OpenApp, game_id: Any) -> bool:
        game = self.games.get(str(game_id))
        if game is None or game.app_id != app.app_id or game.ended is not None:
            return False
        game.last_heartbeat = time.monotonic()
        game.heartbeats += 1
        return True

    def _heartbeat(self, app: OpenApp, body: dict[str, Any], request: web.Request) -> tuple[int, Any]:
        self.expire_due()
        return (0, {}) if self._beat(app, body.get("game_id")) else (7003, None)

    def _batch_heartbeat(self, app: OpenApp, body: dict[str, Any], request: web.Request) -> tuple[int, Any]:
        self.expire_due()
        ids = body.get("game_ids")
        if not isinstance(ids, list):
            return 4000, None
        if len(ids) > O.BATCH_HEARTBEAT_MAX:
            return 7004, None
        if len(set(map(str, ids))) != len(ids):
            return 7005, None
        failed = [str(g) for g in ids if not self._beat(app, g)]
        return 0, {"failed_game_ids": failed or None}  # quirk: null, not [], when none failed

    def _end(self, app: OpenApp, body: dict[str, Any], request: web.Request) -> tuple[int, Any]:
        game = self.games.get(str(body.get("game_id")))
        if body.get("app_id") != app.app_id:
            return 4000, None
        if game is None or game.app_id != app.app_id or game.ended is not None:
            return 7003, None
        self.end_game(game, "end")
        return 0, {}

    def _seen_nonce(self, nonce: str) -> bool:
        now = time.monotonic()
        if len(self._nonces) > 50_000:
            self._nonces = {n: t for n, t in self._nonces.items() if now - t < 2 * O.TIMESTAMP_WINDOW}
        if nonce in self._nonces:
            return True
        self._nonces[nonce] = now
        return False

    def _secret_for(self, key_id: str) -> str | None:
        app = self.apps.get(key_id)
        return app.access_key_secret if app else None

    def add_routes(self, app: web.Application) -> None:
        """Register ``/v2/app/*``, ``/open/sub`` and the ``/_sim/open-*`` control routes."""
        handlers = {O.PATH_START: self._start, O.PATH_HEARTBEAT: self._heartbeat,
                    O.PATH_BATCH_HEARTBEAT: self._batch_heartbeat, O.PATH_END: self._end}  # fmt: skip

        def route(path: str, fn: Any) -> Any:
            async def handler(request: web.Request) -> web.Response:
                raw = await request.read()
                code = O.verify_request(request.headers, raw, self._secret_for, now=time.time(),
                                        seen_nonce=self._seen_nonce)  # fmt: skip
                key_app = self.apps.get(request.headers.get("x-bili-accesskeyid", ""))
                data: Any = None
                body: dict[str, Any] = {}
                if code == 0 and key_app is not None:
                    try:
                        parsed = json.loads(raw or b"{}")
                    except ValueError:
                        parsed = None
                    if isinstance(parsed, dict):
                        body = parsed
                        code, data = fn(key_app, body, request)
                    else:
                        code = 4000
                self.calls.append({"path": path, "time": time.time(), "code": code,
                                   "app_id": key_app.app_id if key_app else None,
                                   "game_id": body.get("game_id") or (data or {}).get("game_info", {}).get("game_id"),
                                   "game_ids": body.get("game_ids")})  # fmt: skip
                return web.json_response({"code": code, "message": _MESSAGES.get(code, "error"),
                                          "request_id": uuid.uuid4().hex, "data": data if code == 0 else {}})

            return handler

        for path, fn in handlers.items():
            app.router.add_post(path, route(path, fn))
        app.router.add_get(WS_PATH, self.hub.handle)

        @accepts(NO_BODY)
        async def new_app(request: web.Request, body: dict[str, Any]) -> web.Response:
            a = self.register_app()
            return web.json_response({"app_id": a.app_id, "access_key_id": a.access_key_id,
                                      "access_key_secret": a.access_key_secret})  # fmt: skip

        async def calls(request: web.Request) -> web.Response:
            return web.json_response({"calls": list(self.calls)})

        async def games(request: web.Request) -> web.Response:
            return web.json_response({"games": [g.view() for g in self.games.values()]})

        @accepts(NO_BODY)
        async def expire(request: web.Request, body: dict[str, Any]) -> web.Response:
            game = self.games.get(request.match_info["game_id"])
            if game is None:
                raise web.HTTPNotFound(text='{"error": "no such game"}', content_type="application/json")
            self.end_game(game, "expired")
            return web.json_response(game.view())

        app.router.add_post("/_sim/open-apps", new_app)
        app.router.add_get("/_sim/open-calls", calls)
        app.router.add_get("/_sim/open-games", games)
        app.router.add_post("/_sim/open-games/{game_id}/expire", expire)
