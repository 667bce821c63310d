"""The open platform's (开放平台, 互动玩法) signed HTTP API, sans-I/O: signing, replies, error codes.

Every call is a ``POST`` of a JSON body to ``live-open.biliapi.com`` with these headers:

* ``x-bili-accesskeyid``: the developer's access key id;
* ``x-bili-content-md5``: hex MD5 of the exact body bytes;
* ``x-bili-signature-method``: ``HMAC-SHA256``; ``x-bili-signature-version``: ``1.0``;
* ``x-bili-signature-nonce``: a fresh random string per request (a repeated one is refused);
* ``x-bili-timestamp``: unix seconds (a stale one is refused);
* ``Authorization``: hex HMAC-SHA256, keyed with the access key secret, of the ``x-bili-*``
  headers as ``name:value`` lines, sorted by name, joined by ``\\n``.

Replies are ``{"code", "message", "request_id", "data"}``; :func:`check_reply` turns a non-zero
code into an :class:`OpenApiError` whose :class:`OpenOutcome` says what the caller should do. The
same functions serve the client (:mod:`livepipe.bilibili.open_source`) and the simulator's
verification (:func:`verify_request`). No sockets here.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from livepipe.errors import ServiceError

#: The real host of the open platform API.
OPEN_LIVE_URL = "https://live-open.biliapi.com"
PATH_START = "/v2/app/start"
PATH_HEARTBEAT = "/v2/app/heartbeat"
PATH_BATCH_HEARTBEAT = "/v2/app/batchHeartbeat"
PATH_END = "/v2/app/end"
#: most game ids one batchHeartbeat may carry (more: code 7004)
BATCH_HEARTBEAT_MAX = 200
#: a game whose heartbeats stop is closed by the platform after about this many seconds
SESSION_EXPIRY = 60.0
#: how far ``x-bili-timestamp`` may be from the server's clock (the simulator's check)
TIMESTAMP_WINDOW = 300.0

SIGNATURE_METHOD = "HMAC-SHA256"
SIGNATURE_VERSION = "1.0"


class OpenOutcome(enum.Enum):
    """What a caller does after an error reply."""

    #: transient (server trouble, clock skew, a repeated nonce): retry with backoff
    RETRY = "retry"
    #: the game (session) is gone: start a new one (``/v2/app/start``) and reconnect
    RESTART = "restart"
    #: the platform asks us to wait (cool-down, too many games): retry after ``wait`` seconds
    WAIT = "wait"
    #: this room cannot work as configured (the identity code is wrong): give up the room
    REJECTED = "rejected"
    #: the app's credentials are wrong: give up every room of this app
    FATAL = "fatal"


@dataclass(frozen=True)
class ErrorInfo:
    """How one error code reads and what to do about it."""

    meaning: str
    outcome: OpenOutcome
    fix: str = ""
    wait: float = 0.0


#: The platform's error codes we act on. Codes not listed fall back by range (see :func:`error_info`).
OPEN_ERRORS: dict[int, ErrorInfo] = {
    4000: ErrorInfo("parameters refused", OpenOutcome.FATAL,
                    "app_id must be the project's numeric id and code the streamer's identity code"),
    4001: ErrorInfo("invalid app: access_key_id unknown", OpenOutcome.FATAL,
                    "copy access_key_id from the open platform console (开发者密钥) and check the app is approved"),
    4002: ErrorInfo("signature refused", OpenOutcome.FATAL,
                    "access_key_secret does not belong to access_key_id; copy both from the open platform console"),
    4003: ErrorInfo("request expired (x-bili-timestamp too far from the server's clock)", OpenOutcome.RETRY,
                    "synchronise the system clock (NTP)"),
    4004: ErrorInfo("repeated request (nonce already used)", OpenOutcome.RETRY),
    4009: ErrorInfo("API rate limit", OpenOutcome.WAIT, "fewer rooms per app, or a longer heartbeat_interval", 30.0),
    5000: ErrorInfo("server error", OpenOutcome.RETRY),
    5001: ErrorInfo("server timeout", OpenOutcome.RETRY),
    5002: ErrorInfo("internal server error", OpenOutcome.RETRY),
    7000: ErrorInfo("the game is not running", OpenOutcome.RESTART),
    7001: ErrorInfo("cool-down: the room's previous game is still being settled", OpenOutcome.WAIT, "", 10.0),
    7002: ErrorInfo("the room already runs a game of this app", OpenOutcome.WAIT,
                    "stop the other instance using this app and room, or wait for its game to expire", 20.0),
    7003: ErrorInfo("the game expired (missed heartbeats) or its game_id is wrong", OpenOutcome.RESTART),
    7004: ErrorInfo("batchHeartbeat carried more than 200 game ids", OpenOutcome.RETRY),
    7005: ErrorInfo("batchHeartbeat carried a game id twice", OpenOutcome.RETRY),
    7007: ErrorInfo("the identity code (身份码) is wrong", OpenOutcome.REJECTED,
                    "ask the streamer for the current code (直播中心 > 我的直播间 > 身份码); it changes when reset"),
    7010: ErrorInfo("too many games of this app in the room (at most 5 at once)", OpenOutcome.WAIT,
                    "stop other instances using this app and room", 60.0),
}


def error_info(code: int) -> ErrorInfo:
    """The :class:`ErrorInfo` of ``code``; unknown codes: 4xxx/6xxx are refused requests (slow retry,
    reported), 5xxx and 7xxx are retried."""
    info = OPEN_ERRORS.get(code)
    if info is not None:
        return info
    if 4000 <= code < 5000 or 6000 <= code < 7000:
        return ErrorInfo("request refused", OpenOutcome.WAIT, "see the open platform's error code list", 300.0)
    return ErrorInfo("unexpected error", OpenOutcome.RETRY)


class OpenApiError(ServiceError):
    """An error reply (or an unusable reply) of the open platform API.

    ``str()`` names the endpoint, the code, its meaning and the fix; never a secret.
    """

    def __init__(self, endpoint: str, code: int, message: str, request_id: str = "",
                 http_status: int = 200) -> None:  # fmt: skip
        self.endpoint = endpoint
        self.code = code
        self.message = message
        self.request_id = request_id
        self.http_status = http_status
        self.info = error_info(code)
        text = f"{endpoint}: code {code} ({self.info.meaning})"
        if message and message not in self.info.meaning:
            text += f": {message}"
        if self.info.fix:
            text += f"; {self.info.fix}"
        super().__init__(text)

    @property
    def outcome(self) -> OpenOutcome:
        """What the caller should do."""
        return self.info.outcome


# ---- signing -------------------------------------------------------------------------------------


def content_md5(body: bytes) -> str:
    """Hex MD5 of the body bytes (``x-bili-content-md5``)."""
    return hashlib.md5(body).hexdigest()  # noqa: S324 - the platform's integrity check, not security


def string_to_sign(headers: Mapping[str, str]) -> str:
    """The ``x-bili-*`` headers as ``name:value`` lines, sorted by lower-case name, joined by ``\\n``."""
    items = sorted((k.lower(), v) for k, v in headers.items() if k.lower().startswith("x-bili-"))
    return "\n".join(f"{k}:{v}" for k, v in items)


def signature(secret: str, headers: Mapping[str, str]) -> str:
    """Hex HMAC-SHA256 of :func:`string_to_sign` keyed with the access key secret."""
    return hmac.new(secret.encode(), string_to_sign(headers).encode(), hashlib.sha256).hexdigest()


def signed_headers(access_key_id: str, secret: str, body: bytes, *, timestamp: int,
                   nonce: str | None = None) -> dict[str, str]:  # fmt: skip
    """Every header a call needs: the ``x-bili-*`` set, ``Authorization``, JSON content type and accept."""
    headers = {
        "x-bili-accesskeyid": access_key_id,
        "x-bili-content-md5": content_md5(body),
        "x-bili-signature-method": SIGNATURE_METHOD,
        "x-bili-signature-nonce": nonce if nonce is not None else secrets.token_hex(16),
        "x-bili-signature-version": SIGNATURE_VERSION,
        "x-bili-timestamp": str(int(timestamp)),
    }
    headers["Authorization"] = signature(secret, headers)
    headers["Content-Type"] = "application/json"
    headers["Accept"] = "application/json"
    return headers


def verify_request(headers: Mapping[str, str], body: bytes, secret_for: Callable[[str], str | None], *,
                   now: float, seen_nonce: Callable[[str], bool]) -> int:  # fmt: skip
    """The error code a server answers for a request, or 0 if it is properly signed.

    ``secret_for(access_key_id)`` gives the secret (None: unknown key); ``seen_nonce(nonce)`` says
    whether the nonce was used before (and records it). Header names are matched case-insensitively.
    """
    h = {k.lower(): v for k, v in headers.items()}
    key_id = h.get("x-bili-accesskeyid", "")
    secret = secret_for(key_id) if key_id else None
    if secret is None:
        return 4001
    if h.get("x-bili-signature-method", "").upper() != SIGNATURE_METHOD:
        return 4002
    if h.get("x-bili-signature-version") != SIGNATURE_VERSION:
        return 4002
    if h.get("x-bili-content-md5", "").lower() != content_md5(body):
        return 4002
    given = h.get("authorization", "")
    if not given or not hmac.compare_digest(given.lower(), signature(secret, h)):
        return 4002
    try:
        ts = int(h.get("x-bili-timestamp", ""))
    except ValueError:
        return 4003
    if abs(now - ts) > TIMESTAMP_WINDOW:
        return 4003
    nonce = h.get("x-bili-signature-nonce", "")
    if not nonce or seen_nonce(nonce):
        return 4004
    return 0


# ---- replies -------------------------------------------------------------------------------------


def check_reply(endpoint: str, status: int, body: Any) -> Any:
    """The ``data`` of a successful reply; raises :class:`OpenApiError` otherwise.

    A non-JSON or non-200 reply is a code ``5000`` error (retried).
    """
    if status != 200 or not isinstance(body, dict):
        raise OpenApiError(endpoint, 5000, f"HTTP {status}" if status != 200 else "reply is not a JSON object",
                           http_status=status)  # fmt: skip
    code = body.get("code")
    if type(code) is not int:
        raise OpenApiError(endpoint, 5000, "reply has no integer code")
    if code != 0:
        raise OpenApiError(endpoint, code, str(body.get("message") or ""), str(body.get("request_id") or ""))
    return body.get("data")


@dataclass(frozen=True)
class GameSession:
    """What ``/v2/app/start`` answers: the game and where its WebSocket is."""

    game_id: str
    auth_body: str
    wss_links: tuple[str, ...]
    room_id: int
    anchor_uid: int
    anchor_open_id: str
    anchor_uname: str


def parse_start(data: Any) -> GameSession:
    """The :class:`GameSession` in a ``/v2/app/start`` reply's ``data``; :class:`OpenApiError` (5000) if unusable."""
    try:
        game = data["game_info"]
        ws = data["websocket_info"]
        anchor = data.get("anchor_info") or {}
        links = ws.get("wss_link") or []
        if isinstance(links, str):
            links = [links]
        session = GameSession(
            game_id=str(game.get("game_id") or ""),
            auth_body=str(ws["auth_body"]),
            wss_links=tuple(str(u) for u in links if u),
            room_id=int(anchor.get("room_id") or 0),
            anchor_uid=int(anchor.get("uid") or 0),
            anchor_open_id=str(anchor.get("open_id") or ""),
            anchor_uname=str(anchor.get("uname") or ""),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise OpenApiError(PATH_START, 5000, f"unexpected reply shape ({type(e).__name__}: {e})") from None
    if not session.wss_links or not session.auth_body:
        raise OpenApiError(PATH_START, 5000, "reply has no websocket_info.wss_link / auth_body")
    return session


def parse_batch_heartbeat(data: Any) -> set[str]:
    """The game ids a ``/v2/app/batchHeartbeat`` reply lists as failed (``null`` means none)."""
    failed = data.get("failed_game_ids") if isinstance(data, dict) else None
    return {str(g) for g in failed} if isinstance(failed, list) else set()


def start_body(code: str, app_id: int) -> dict[str, Any]:
    """The ``/v2/app/start`` body."""
    return {"code": code, "app_id": app_id}


def batches(game_ids: list[str], size: int = BATCH_HEARTBEAT_MAX) -> list[list[str]]:
    """``game_ids`` without repeats, in batches of at most ``size`` (7004 / 7005 never happen)."""
    unique = list(dict.fromkeys(game_ids))
    return [unique[i : i + size] for i in range(0, len(unique), size)]
