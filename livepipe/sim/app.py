# Stays whole: the Simulator object: the wiring and life cycle of one aiohttp app and its in-process test API;
# its routes, state, traffic and messages live in their own modules.
"""The simulator application: wiring, lifecycle and the in-process API used by tests.

>>> async with run_simulator(rooms=[1000, (76, 22000076)], rate=5, seed=1) as sim:  # doctest: +SKIP
...     acct, cookies = sim.create_account_with_cookies(uname="mod")
...     sim.inject_danmaku(1000, "hello", uid=acct.uid)

One aiohttp application serves HTTP and the WebSocket ``/sub`` on one port; with ``tls=True`` that
port speaks HTTPS/WSS (self-signed certificate generated at start) and a second plain port serves
``ws://`` (reported as ``ws_port`` by getDanmuInfo).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import hashlib
import importlib
import logging
import random
import ssl
import sys
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from livepipe.bilibili import protocol as P
from livepipe.sim import control, http_read, messages, traffic
from livepipe.sim import tls as tls_mod
from livepipe.sim.context import SimContext
from livepipe.sim.faults import Faults
from livepipe.sim.open_platform import OpenPlatform
from livepipe.sim.population import Population, fake_face, invent_name, make_population
from livepipe.sim.state import Account, Room, SimState, SimUser
from livepipe.sim.ws import Hub

log = logging.getLogger("livepipe.sim")

RoomSpec = int | str | tuple[int, int]
#: default rooms: two plain ids and two with short ids (short 76 and 520 resolve to long ids)
DEFAULT_ROOMS: list[RoomSpec] = [1000, 1001, (76, 22000076), (520, 22000520)]
_WEB_PATH_PREFIXES_EXEMPT = ("/_sim", "/sub", "/open/sub")
#: messages of history kept over all rooms together (each room keeps 1,000 to 10,000)
HISTORY_BUDGET = 200_000


def parse_room_spec(spec: RoomSpec) -> tuple[int, int]:
    """``1000`` -> (0, 1000); ``"76:22000076"`` or ``(76, 22000076)`` -> (short, real)."""
    if isinstance(spec, tuple):
        return int(spec[0]), int(spec[1])
    if isinstance(spec, str) and ":" in spec:
        a, b = spec.split(":", 1)
        return int(a), int(b)
    return 0, int(spec)


def wbi_keys(seed: int) -> tuple[str, str]:
    """The simulator's WBI keys for ``seed`` (32 hex characters each)."""
    return (
        hashlib.md5(f"livepipe-sim-img:{seed}".encode()).hexdigest(),
        hashlib.md5(f"livepipe-sim-sub:{seed}".encode()).hexdigest(),
    )


@dataclass
class _RoomSnapshot:
    title: str
    news: str
    area_id: int
    parent_area_id: int
    cover: str
    tags: list[str]
    live_status: int
    live_time: float
    live_key: str
    sub_session_key: str
    admins: set[int]


class Simulator:
    """A configured simulator. Build with :func:`run_simulator` (or :meth:`start`/:meth:`stop`)."""

    def __init__(
        self,
        rooms: Sequence[RoomSpec] | None = None,
        *,
        rate: float = 0.0,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        faults: Faults | None = None,
        require_wbi: bool = True,
        require_buvid: bool = True,
        allow_keyless: bool = False,
        population_size: int = 150,
        batch_interval: float = 0.05,
        stop_list_every: float = 30.0,
        open_session_expiry: float = 60.0,
    ) -> None:
        self.seed = seed
        self.rate = rate
        self.host = host
        self.requested_port = port
        self.tls = tls
        self.require_wbi = require_wbi
        self.require_buvid = require_buvid
        self.faults = faults or Faults()
        self.state = SimState()
        self.tokens: dict[str, tuple[int, int]] = {}
        #: path -> HTTP requests received (faulted ones included; not /_sim/ and not /sub)
        self.http_calls: collections.Counter[str] = collections.Counter()
        #: buvid3 values activated through ExClimbWuzhi
        self.activated_buvids: set[str] = set()
        self.img_key, self.sub_key = wbi_keys(seed)
        #: room id -> (type, level, second) for room-wide silence (get_info room_silent_*)
        self.room_silent: dict[int, tuple[str, int, int]] = {}
        self.populations: dict[int, Population] = {}
        self.generators: dict[int, traffic.TrafficGenerator] = {}
        self.ctx = SimContext(
            state=self.state, messages=messages, faults=self.faults, img_key=self.img_key, sub_key=self.sub_key
        )
        # each room from its own seed: a room's streamer, title and area do not depend on which other
        # rooms are simulated (docs can name the streamer of room 76 whatever --rooms says)
        for spec in rooms if rooms is not None else DEFAULT_ROOMS:
            self.add_room(*parse_room_spec(spec), population_size=population_size)
        self._snapshots = {rid: self._snapshot(r) for rid, r in self.state.rooms.items()}
        self._size_histories()
        self.hub = Hub(
            self.state,
            self.faults,
            self.tokens,
            batch_interval=batch_interval,
            popularity=self.popularity,
            allow_keyless=allow_keyless,
            stop_list_every=stop_list_every,
        )
        for room in self.state.rooms.values():
            self.hub.attach(room)
        #: the open platform (开放平台): apps, games, /v2/app/*, /open/sub
        self.open = OpenPlatform(self, session_expiry=open_session_expiry)
        self.hub.fault_peers.append(self.open.hub)
        self.app = self.build_app()
        self.cert: tls_mod.CertFiles | None = None
        self.port = 0
        self.ws_port = 0
        self.wss_port = 0
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # --- construction --------------------------------------------------------------------------

    def add_room(self, short_id: int, room_id: int, *, rng: random.Random | None = None,
                 population_size: int = 150) -> Room:  # fmt: skip
        """Create a room with an invented streamer and a deterministic population."""
        rng = rng or random.Random(f"room:{self.seed}:{room_id}")
        owner_uid = rng.randint(100_000, 99_999_999)
        owner_name = invent_name(rng)
        area_id = rng.choice(list(http_read.AREA_NAMES))
        room = Room(
            room_id=room_id,
            short_id=short_id,
            owner_uid=owner_uid,
            owner_name=owner_name,
            title=f"{owner_name}的直播间",
            area_id=area_id,
            parent_area_id=http_read.AREA_NAMES[area_id][1],
            cover=f"https://i0.hdslb.com/bfs/live/new_room_cover/{hashlib.sha1(str(room_id).encode()).hexdigest()}.jpg",
            live_status=1,
        )
        if hasattr(room, "live_time"):
            room.live_time = time.time() - 3600
        self.state.rooms[room_id] = room
        pop = make_population(room, self.seed, size=population_size)
        room.admins = set(pop.admins)
        self.populations[room_id] = pop
        self.generators[room_id] = traffic.TrafficGenerator(room, pop, self.seed,
                                                            viewers=lambda rid=room_id: self._viewers(rid))
        self.ctx.users[owner_uid] = SimUser(uid=owner_uid, uname=owner_name, level=40, face=fake_face(owner_uid))
        for u in pop.users:
            self.ctx.users.setdefault(u.uid, u)
        if getattr(self, "hub", None) is not None:
            self.hub.attach(room)
            self.open.hub.attach(room)
            self._snapshots[room_id] = self._snapshot(room)
            self._size_histories()
        return room

    def _size_histories(self) -> None:
        """Share :data:`HISTORY_BUDGET` between the rooms' histories (1,000 to 10,000 each)."""
        limit = max(1_000, min(10_000, HISTORY_BUDGET // max(1, len(self.state.rooms))))
        for room in self.state.rooms.values():
            room.history.limit = limit

    @staticmethod
    def _snapshot(room: Room) -> _RoomSnapshot:
        return _RoomSnapshot(room.title, room.news, room.area_id, room.parent_area_id, room.cover,
                             list(room.tags), room.live_status, room.live_time, room.live_key,
                             room.sub_session_key, set(room.admins))  # fmt: skip

    def build_app(self) -> web.Application:
        """The aiohttp application: read endpoints, ``/sub``, control API, action endpoints."""
        app = web.Application(middlewares=[self._fault_middleware])
        http_read.add_routes(app, self)
        app.router.add_get("/sub", self.hub.handle)
        control.add_routes(app, self)
        self.open.add_routes(app)
        try:
            actions = importlib.import_module("livepipe.sim.actions")
        except ModuleNotFoundError as e:
            if e.name != "livepipe.sim.actions":
                raise
            actions = None
        if actions is not None and hasattr(actions, "add_routes"):
            actions.add_routes(app, self.state, self.ctx)
        return app

    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        if not path.startswith(_WEB_PATH_PREFIXES_EXEMPT):
            self.http_calls[path] += 1
            f = self.faults
            if f.http_delay > 0:
                await asyncio.sleep(f.http_delay)
            fault = f.http_fault_for(path)
            if fault == 412:
                return web.Response(status=412, text='{"code":-412,"message":"请求被拦截","ttl":1}',
                                    content_type="application/json")  # fmt: skip
            if fault == -352:
                return http_read.risk_352()
            if any(path.startswith(p) for p in f.hold_responses):
                response = await handler(request)
                while any(path.startswith(p) for p in f.hold_responses):
                    await asyncio.sleep(0.01)
                return response
        return await handler(request)

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the port(s) and start the background loops."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        ssl_ctx: ssl.SSLContext | None = None
        if self.tls:
            hosts = ["localhost", "127.0.0.1", "::1"]
            if self.host not in hosts and self.host not in ("0.0.0.0", "::"):
                hosts.append(self.host)
            self.cert = tls_mod.generate(hosts)
            ssl_ctx = self.cert.server_context()
        site = web.TCPSite(self._runner, self.host, self.requested_port, ssl_context=ssl_ctx)
        await site.start()
        self.port = self._bound_port(site)
        self.wss_port = self.ws_port = self.port
        if self.tls:
            plain = web.TCPSite(self._runner, self.host, 0)
            await plain.start()
            self.ws_port = self._bound_port(plain)
        self.ctx.base_url = self.base_url
        self._tasks = [
            asyncio.ensure_future(self.hub.run()),
            asyncio.ensure_future(self.open.run()),
            asyncio.ensure_future(
                # generate at least as often as the hub flushes, so a short batch interval is not
                # hidden behind 50 ms bursts of same-time messages
                traffic.run_traffic(self._traffic_rooms, lambda: self.rate, tick=min(0.05, self.hub.batch_interval))
            ),
        ]

    @staticmethod
    def _bound_port(site: web.TCPSite) -> int:
        server = site._server  # noqa: SLF001 - aiohttp exposes no public accessor for the bound port
        assert server is not None and server.sockets  # type: ignore[union-attr]
        return int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Close every connection, stop the loops and release the port."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []
        for c in self.hub.all_clients() + self.open.hub.all_clients():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(c.ws.close(), 1.0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.hub.detach_all()
        self.open.hub.detach_all()

    def _viewers(self, room_id: int) -> list[int]:
        hub = getattr(self, "hub", None)
        return sorted({c.uid for c in hub.clients.get(room_id, ()) if c.uid}) if hub is not None else []

    def _traffic_rooms(self) -> list[tuple[Room, traffic.TrafficGenerator]]:
        return [(r, self.generators[rid]) for rid, r in self.state.rooms.items() if rid in self.generators]

    # --- addresses -----------------------------------------------------------------------------

    @property
    def _url_host(self) -> str:
        h = "127.0.0.1" if self.host in ("0.0.0.0", "") else "::1" if self.host == "::" else self.host
        return f"[{h}]" if ":" in h else h

    @property
    def base_url(self) -> str:
        """``http(s)://host:port`` of the HTTP API (every Bilibili host maps here)."""
        return f"{'https' if self.tls else 'http'}://{self._url_host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """Plain ``ws://host:ws_port/sub`` (in TLS mode this is the second, plain port)."""
        return f"ws://{self._url_host}:{self.ws_port}/sub"

    @property
    def wss_url(self) -> str | None:
        """``wss://host:port/sub`` in TLS mode, else None."""
        return f"wss://{self._url_host}:{self.port}/sub" if self.tls else None

    @property
    def cert_path(self) -> str | None:
        """PEM path of the generated certificate (TLS mode)."""
        return str(self.cert.cert_path) if self.cert else None

    def client_ssl_context(self) -> ssl.SSLContext | None:
        """An SSL context trusting the simulator's certificate (TLS mode), else None."""
        return self.cert.client_context() if self.cert else None

    def public_host(self, request: Any = None) -> str:
        """The host name getDanmuInfo reports in ``host_list``."""
        if self.host in ("0.0.0.0", "::", "") and request is not None and request.url.host:
            return str(request.url.host)
        return self._url_host.strip("[]")

    # --- helpers for tests and the control API -------------------------------------------------

    def popularity(self, room: Room) -> int:
        """The heartbeat-reply popularity figure of ``room``."""
        pop = self.populations.get(room.room_id)
        return 1 + (len(pop.users) if pop else 0) * 7 + len(self.hub.clients.get(room.room_id, ()))

    def room(self, any_id: int | str) -> Room:
        """A room by real or short id; KeyError if unknown."""
        r = self.state.room(any_id)
        if r is None:
            raise KeyError(any_id)
        return r

    def create_account(self, uname: str | None = None, uid: int | None = None, admin_in: Iterable[int] = (),
                       owner_of: int | None = None) -> Account:  # fmt: skip
        """Register a logged-in account; optionally admin of rooms, or owner (streamer) of one."""
        if owner_of is not None:
            room = self.room(owner_of)
            uid, uname = room.owner_uid, uname or room.owner_name
        acct = self.ctx.create_account(uname=uname, uid=uid)
        for rid in admin_in:
            self.grant_admin(rid, acct.uid)
        return acct

    def cookies_for(self, acct: Account) -> dict[str, str]:
        """The cookies a browser logged in as ``acct`` would carry."""
        return {
            "SESSDATA": acct.sessdata,
            "bili_jct": acct.bili_jct,
            "DedeUserID": str(acct.uid),
            "buvid3": f"{hashlib.md5(f'buvid:{acct.uid}'.encode()).hexdigest().upper()[:32]}infoc",
        }

    def grant_admin(self, room_id: int | str, uid: int, revoke: bool = False) -> None:
        """Make ``uid`` a room admin (or revoke) and broadcast the admin change."""
        room = self.room(room_id)
        uid = int(uid)
        for acct in self.state.accounts.values():
            if acct.uid == uid:
                (acct.rooms.discard if revoke else acct.rooms.add)(room.room_id)
        if revoke:
            room.admins.discard(uid)
            room.broadcast({"cmd": "ROOM_ADMIN_REVOKE", "msg": "撤销房管", "uid": uid})
        else:
            room.admins.add(uid)
            room.broadcast(messages.room_admin_entrance(uid))
            room.broadcast(messages.room_admins(room))

    def make_danmaku(self, room_id: int | str, text: str, uid: int | None = None,
                     uname: str | None = None) -> dict[str, Any]:  # fmt: skip
        """A DANMU_MSG from ``uid`` (a known user, or an ad-hoc one named ``uname``)."""
        room = self.room(room_id)
        user = self.ctx.users.get(int(uid)) if uid is not None else None
        if user is None:
            uid = int(uid) if uid is not None else 10_000
            user = SimUser(uid=uid, uname=uname or f"user{uid}", level=10, face=fake_face(uid))
        elif uname and uname != user.uname:
            user = copy.copy(user)
            user.uname = uname
        return messages.danmaku(user, str(text), room, time.time())

    def inject(self, room_id: int | str, msgs: dict[str, Any] | list[dict[str, Any]],
               ver: int | None = None) -> int:  # fmt: skip
        """Broadcast message(s) into a room; returns how many clients the room has.

        With ``ver`` (0 plain, 2 zlib, 3 brotli) they are sent at once as one frame of that
        wrapping (and still recorded in the room's history) instead of the next batch.
        """
        room = self.room(room_id)
        batch = [msgs] if isinstance(msgs, dict) else list(msgs)
        if ver is None:
            for m in batch:
                room.broadcast(m)
            return len(self.hub.clients.get(room.room_id, ()))
        if int(ver) not in (P.VER_PLAIN_JSON, P.VER_ZLIB, P.VER_BROTLI):
            raise ValueError("ver must be 0, 2 or 3")
        room.history.extend(batch)
        return self.hub.send_now(room.room_id, batch, ver=int(ver))

    def inject_danmaku(self, room_id: int | str, text: str, uid: int | None = None,
                       uname: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Build and broadcast a danmaku; returns the message."""
        msg = self.make_danmaku(room_id, text, uid=uid, uname=uname)
        self.inject(room_id, msg)
        return msg

    def close_connections(self, room_id: int | str | None = None) -> int:
        """Close every WebSocket client (of one room, or all); returns how many."""
        if room_id is None:
            clients = self.hub.all_clients()
        else:
            clients = list(self.hub.clients.get(self.room(room_id).room_id, ()))
        for c in clients:
            c.close_soon()
        return len(clients)

    async def wait_for_clients(self, room_id: int | str, n: int = 1, timeout: float = 10.0) -> None:
        """Wait until room ``room_id`` has at least ``n`` authenticated clients."""
        rid = self.room(room_id).room_id

        async def _wait() -> None:
            while len(self.hub.clients.get(rid, ())) < n:
                self.hub.changed.clear()
                if len(self.hub.clients.get(rid, ())) >= n:
                    return
                await self.hub.changed.wait()

        await asyncio.wait_for(_wait(), timeout)

    async def wait_for_no_clients(self, room_id: int | str, timeout: float = 10.0) -> None:
        """Wait until room ``room_id`` has no clients."""
        rid = self.room(room_id).room_id

        async def _wait() -> None:
            while self.hub.clients.get(rid):
                self.hub.changed.clear()
                if not self.hub.clients.get(rid):
                    return
                await self.hub.changed.wait()

        await asyncio.wait_for(_wait(), timeout)

    def room_view(self, room: Room, full: bool = True) -> dict[str, Any]:
        """JSON view of a room for the control API."""
        name, pname = http_read.area_names(room.area_id)
        view: dict[str, Any] = {
            "room_id": room.room_id,
            "short_id": room.short_id,
            "owner_uid": room.owner_uid,
            "owner_name": room.owner_name,
            "title": room.title,
            "news": room.news,
            "area_id": room.area_id,
            "area_name": name,
            "parent_area_id": room.parent_area_id,
            "parent_area_name": pname,
            "cover": room.cover,
            "tags": list(room.tags),
            "live_status": room.live_status,
            "clients": len(self.hub.clients.get(room.room_id, ())),
            "history_len": len(room.history),
            "auth_code": self.open.auth_code(room),
        }
        if full:
            view.update(
                admins=sorted(room.admins),
                silent=[vars(s) for s in room.silent],
                sent_danmaku=list(room.sent_danmaku),
                connected=[c.info() for c in self.hub.clients.get(room.room_id, ())],
                population=len(self.populations.get(room.room_id, Population(room.room_id)).users),
            )
        return view

    def describe(self) -> dict[str, Any]:
        """Summary for ``GET /_sim``."""
        return {
            "base_url": self.base_url,
            "ws_url": self.ws_url,
            "wss_url": self.wss_url,
            "cert_path": self.cert_path,
            "rooms": [{"room_id": r.room_id, "short_id": r.short_id} for r in self.state.rooms.values()],
            "rate": self.rate,
            "seed": self.seed,
            "wbi": {"img_key": self.img_key, "sub_key": self.sub_key},
            "require_wbi": self.require_wbi,
            "require_buvid": self.require_buvid,
            "clients": len(self.hub.all_clients()),
            "faults": self.faults.as_dict(),
        }

    def stats(self, reset_max: bool = False) -> dict[str, Any]:
        """Throughput counters for ``GET /_sim/stats`` (diff two readings for rates).

        All are running totals except ``flush_lag_max_ms``, the worst flush-loop lag since the
        last reading that passed ``reset_max``.
        """
        out: dict[str, Any] = {
            "time": time.monotonic(),
            "cpu_seconds": time.process_time(),
            "generated": sum(r.broadcast_count for r in self.state.rooms.values()),
            "clients": len(self.hub.all_clients()),
        }
        out.update(self.hub.stats(reset_max=reset_max))
        out["http_calls"] = dict(self.http_calls)
        return out

    def reset(self) -> None:
        """Back to the start state: faults off, rooms as built (live state and stream keys included),
        accounts and histories cleared.

        Connections stay open; issued tokens stay valid.
        """
        self.faults.reset()
        for rid, snap in self._snapshots.items():
            room = self.state.rooms.get(rid)
            if room is None:
                continue
            room.title, room.news = snap.title, snap.news
            room.area_id, room.parent_area_id = snap.area_id, snap.parent_area_id
            room.cover, room.tags, room.live_status = snap.cover, list(snap.tags), snap.live_status
            room.live_time, room.live_key, room.sub_session_key = snap.live_time, snap.live_key, snap.sub_session_key
            room.admins = set(snap.admins)
            room.silent.clear()
            room.sent_danmaku.clear()
            room.history.clear()
            room.last_update = 0.0
        keep = self._population_uids()
        for acct in list(self.state.accounts.values()):
            if acct.uid not in keep:
                self.ctx.users.pop(acct.uid, None)
        self.state.accounts.clear()
        self.room_silent.clear()
        actions = sys.modules.get("livepipe.sim.actions")
        if actions is not None and hasattr(actions, "reset"):
            actions.reset(self.app)  # the action endpoints' own state (rate-limit clocks, QR keys, ...)

    def _population_uids(self) -> set[int]:
        out = {r.owner_uid for r in self.state.rooms.values()}
        for p in self.populations.values():
            out.update(u.uid for u in p.users)
        return out


@contextlib.asynccontextmanager
async def run_simulator(
    rooms: Sequence[RoomSpec] | None = None,
    *,
    rate: float = 0.0,
    seed: int = 0,
    tls: bool = False,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: Faults | None = None,
    require_wbi: bool = True,
    require_buvid: bool = True,
    allow_keyless: bool = False,
    population_size: int = 150,
    batch_interval: float = 0.05,
    stop_list_every: float = 30.0,
    open_session_expiry: float = 60.0,
) -> AsyncIterator[Simulator]:
    """Run a simulator for the duration of the ``async with`` block (asyncio event loop).

    ``rooms``: real ids, ``(short, real)`` tuples or ``"short:real"`` strings (default
    :data:`DEFAULT_ROOMS`). ``rate``: synthetic events per second per live room (0 = none).
    ``seed``: fixes the population, the traffic text and the WBI keys. ``port`` 0 picks a free one.
    ``require_wbi`` / ``require_buvid``: getDanmuInfo answers -352 without them (as since 2025);
    turn off to serve clients written before that. ``allow_keyless``: accept an AUTH without
    ``key`` as anonymous (old behaviour). ``open_session_expiry``: seconds without a heartbeat after
    which an open-platform game ends (60 on the real platform; short for tests).
    """
    sim = Simulator(
        rooms, rate=rate, seed=seed, host=host, port=port, tls=tls, faults=faults, require_wbi=require_wbi,
        require_buvid=require_buvid, allow_keyless=allow_keyless, population_size=population_size,
        batch_interval=batch_interval, stop_list_every=stop_list_every, open_session_expiry=open_session_expiry,
    )  # fmt: skip
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
