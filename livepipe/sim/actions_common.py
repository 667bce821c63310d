"""Shared plumbing of the simulator's action (write) endpoints.

Reply envelopes in the three styles the real hosts use, form parsing (urlencoded or multipart, plus
query parameters), the login / csrf gate every write endpoint starts with, the tunable
:class:`ActionSettings` and the per-app :class:`ActionStore` that keeps what the endpoints remember
beyond :mod:`livepipe.sim.state` (rate-limit clocks, QR keys, video danmaku, ...).
"""

from __future__ import annotations

import json
import secrets
import time
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from aiohttp import web

from livepipe.sim.context import SimContext
from livepipe.sim.state import Account, Room, SimState

#: UTC+8: Bilibili formats wall-clock times (ban list ``ctime``) in China Standard Time.
CST_OFFSET = 8 * 3600


@dataclass
class ActionSettings:
    """Knobs of the action endpoints; ``POST /_sim/actions/settings`` changes them at run time."""

    #: msg/send: minimum seconds between two messages of one account (faster -> 10031)
    danmaku_min_interval: float = 1.0
    #: msg/send: code for "too fast": 10031 (default), 10030, or 0 for the silent ``"msg in 1s"``
    danmaku_rate_code: int = 10031
    #: msg/send: the same text from the same account within this many seconds -> ``"msg repeat"``
    repeat_window: float = 10.0
    #: msg/send: platform-filter words -> code 0 + ``"f"``; x/v2/dm/post -> 36701
    filter_words: list[str] = field(default_factory=lambda: ["违禁词", "sim-forbidden"])
    #: msg/send emoticons (dm_type=1): emoticon id -> display name; unknown ids are sent as is
    emoticons: dict[str, str] = field(
        default_factory=lambda: {"official_147": "[dog]", "official_103": "[doge]", "official_109": "[OK]"}
    )
    #: Room/update: seconds before the same room may be updated again (sooner -> -1)
    room_update_interval: float = 1.0
    #: child area ids that exist but are closed: Room/update and startLive answer 60009
    offline_areas: list[int] = field(default_factory=list)
    #: QR login: seconds a qrcode_key lives (then 86038)
    qr_ttl: float = 180.0
    #: cookie refresh: seconds a refresh_csrf stays usable
    refresh_csrf_ttl: float = 1200.0
    #: x/v2/dm/post cool-down with / without ``rnd`` (36703 when sooner)
    video_dm_interval_rnd: float = 5.0
    video_dm_interval_no_rnd: float = 90.0
    #: x/v2/dm/post: posts per account per day (36715 beyond)
    video_dm_daily_limit: int = 1000
    #: x/v2/dm/post: 36700 for every post while true
    video_dm_maintenance: bool = False
    #: x/v2/dm/post: cids that refuse danmaku (36711), are not yet audited (36704), are unpaid (36713)
    video_closed_cids: list[int] = field(default_factory=list)
    video_unaudited_cids: list[int] = field(default_factory=list)
    video_unpaid_cids: list[int] = field(default_factory=list)
    #: x/dm/recall: recall window in seconds (36301 after it) and recalls per account per day (36303)
    recall_window: float = 120.0
    recall_daily_limit: int = 3

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply ``changes`` (field name -> value); unknown names raise ``KeyError``, bad types ``ValueError``."""
        known = {f.name for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise KeyError(name)
            current = getattr(self, name)
            if isinstance(current, bool):
                value = bool(value)
            elif isinstance(current, int):
                value = int(value)
            elif isinstance(current, float):
                value = float(value)
            elif isinstance(current, list):
                value = [value] if isinstance(value, (str, int)) else list(value)
            elif isinstance(current, dict):
                value = dict(value)
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


@dataclass
class QrLogin:
    """One QR-login key and where it is in its life."""

    key: str
    created: float
    state: str = "new"  # new -> scanned -> confirmed -> consumed; or expired
    uid: int = 0


@dataclass
class ActionStore:
    """What the action endpoints remember between requests (one per simulator app)."""

    settings: ActionSettings = field(default_factory=ActionSettings)
    #: uid -> time of the last msg/send that passed validation (rate limit)
    last_send: dict[int, float] = field(default_factory=dict)
    #: uid -> [(time, text)] of recent msg/send texts (repeat detection)
    recent_texts: dict[int, list[tuple[float, str]]] = field(default_factory=dict)
    #: qrcode_key -> QrLogin
    qr: dict[str, QrLogin] = field(default_factory=dict)
    #: uid -> (refresh_csrf, issued at)
    refresh_csrf: dict[int, tuple[str, float]] = field(default_factory=dict)
    #: old refresh_token -> old SESSDATA, waiting for confirm/refresh
    pending_confirm: dict[str, str] = field(default_factory=dict)
    #: cid -> video danmaku records
    video_dm: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    #: uid -> time of the last accepted video danmaku
    video_last_post: dict[int, float] = field(default_factory=dict)
    #: (uid, day) -> count; for the daily video-danmaku and recall limits
    video_daily: dict[tuple[int, int], int] = field(default_factory=dict)
    recall_daily: dict[tuple[int, int], int] = field(default_factory=dict)


#: where add_routes keeps the store and the context on the application
STORE_KEY = web.AppKey("livepipe_sim_action_store", ActionStore)
CTX_KEY = web.AppKey("livepipe_sim_action_ctx", SimContext)


def reset(app: web.Application) -> None:
    """Forget everything the action endpoints remember and restore default settings.

    Also clears the per-room action switches (keyword shield, replay loop, face auth). The core's
    ``Simulator.reset`` should call this; ``POST /_sim/actions/reset`` does the same on its own.
    """
    action_store = app[STORE_KEY]
    fresh = ActionStore()
    for f in fields(ActionStore):
        setattr(action_store, f.name, getattr(fresh, f.name))
    for room in app[CTX_KEY].state.rooms.values():
        room.keyword_shield = []
        room.replay_loop = False
        room.needs_face_auth = False


def store_of(request: web.Request) -> ActionStore:
    """The :class:`ActionStore` of the app serving ``request``."""
    return request.app[STORE_KEY]


def ctx_of(request: web.Request) -> SimContext:
    """The :class:`SimContext` of the app serving ``request``."""
    return request.app[CTX_KEY]


# --- envelopes -------------------------------------------------------------------------------


def reply_live(code: int, message: str = "", data: Any = None) -> web.Response:
    """The ``{code, data, message, msg}`` envelope of msg/send and the ``room/v1`` endpoints."""
    body = {"code": code, "msg": message, "message": message, "data": [] if data is None else data}
    return web.json_response(body)


def reply_xlive(code: int, message: str | None = None, data: Any = None) -> web.Response:
    """The ``{code, message, ttl, data}`` envelope of the ``xlive`` endpoints (message "0" on success)."""
    body = {
        "code": code,
        "message": ("0" if code == 0 else str(code)) if message is None else message,
        "ttl": 1,
        "data": {} if data is None else data,
    }
    return web.json_response(body)


def reply_main(code: int, message: str | None = None, data: Any = None, *, with_data: bool = True) -> web.Response:
    """The ``{code, message, ttl, data?}`` envelope of api.bilibili.com and passport."""
    body: dict[str, Any] = {"code": code, "message": ("0" if code == 0 else str(code)) if message is None else message}
    body["ttl"] = 1
    if with_data:
        body["data"] = data
    return web.json_response(body)


# --- requests -------------------------------------------------------------------------------


async def params_of(request: web.Request) -> dict[str, str]:
    """Query parameters merged with the form body (urlencoded or multipart); the body wins."""
    merged: dict[str, str] = {k: v for k, v in request.query.items()}
    if request.method == "POST" and request.can_read_body:
        form = await request.post()
        for k, v in form.items():
            merged[k] = v if isinstance(v, str) else str(getattr(v, "filename", ""))
    return merged


def int_param(params: Mapping[str, str], name: str) -> int | None:
    """``params[name]`` as an int, or None when missing, empty or not an integer."""
    raw = params.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    try:
        return int(str(raw).strip())
    except ValueError:
        return None


@dataclass
class Gate:
    """Outcome of the login + csrf check: either an account or the error to return."""

    account: Account | None
    code: int = 0


def gate(request: web.Request, params: Mapping[str, str], *, unknown_session_code: int = -101) -> Gate:
    """Login then csrf: -101 without a SESSDATA cookie, ``unknown_session_code`` for an unknown or
    expired one, -111 when ``csrf`` (or ``csrf_token``) does not equal the ``bili_jct`` cookie."""
    ctx = ctx_of(request)
    if not request.cookies.get("SESSDATA"):
        return Gate(None, -101)
    acct = ctx.account(request)
    if acct is None:
        return Gate(None, unknown_session_code)
    given = params.get("csrf") or params.get("csrf_token") or ""
    cookie = request.cookies.get("bili_jct", "")
    if not given or given != cookie or cookie != acct.bili_jct:
        return Gate(acct, -111)
    return Gate(acct)


def can_moderate(state: SimState, acct: Account, room: Room) -> bool:
    """True if ``acct`` is the room's streamer or one of its admins."""
    return acct.uid == room.owner_uid or acct.uid in room.admins or room.room_id in acct.rooms


def own_room(state: SimState, acct: Account) -> Room | None:
    """The room whose streamer is ``acct`` (for endpoints that take the room from the cookie)."""
    for room in state.rooms.values():
        if room.owner_uid == acct.uid:
            return room
    return None


# --- small helpers --------------------------------------------------------------------------


def uid_hash(uid: int) -> int:
    """CRC32 of the decimal uid: ``info[0][7]`` (hex) and ``extra.user_hash`` (decimal) of DANMU_MSG."""
    return zlib.crc32(str(uid).encode()) & 0xFFFFFFFF


def new_id_str() -> str:
    """A danmaku ``id_str``: 34 to 36 lower-case hex characters, like the real ones."""
    return secrets.token_hex(17) + secrets.token_hex(1)[: secrets.randbelow(3)]


def cst_datetime(ts: float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in China Standard Time."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts + CST_OFFSET))


def cst_day(ts: float) -> int:
    """The CST calendar day number of ``ts`` (for daily limits)."""
    return int((ts + CST_OFFSET) // 86400)


def compact_json(obj: Any) -> str:
    """JSON with the compact separators and raw UTF-8 the real service uses inside strings."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
