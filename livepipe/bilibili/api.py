# Stays whole: one client class: every endpoint sits beside the error-code mapping it relies on, and the
# endpoints share one connection pool, signing and retry path.
"""The Bilibili HTTP API client (httpx): every endpoint livepipe uses, and error-code mapping.

One :class:`BilibiliAPI` per credential holds one connection pool, sends a browser User-Agent and
Referer, adds ``csrf``/``csrf_token`` to POSTs, signs WBI requests (keys cached ~12 h, refreshed
on -352), and turns every reply into data or an :class:`ApiError` whose ``outcome`` says what to do:

* ``success``: code 0 (and, for msg/send, no silent-failure message);
* ``retry``: later, with backoff (-352, -412 / HTTP 412, -509, -799, -1, 10030, 10031, HTTP 5xx,
  network errors);
* ``fatal``: this credential no longer works (-101, -111, 65530); stop using it, alert a human;
* ``rejected``: this request will never succeed as sent (everything else, including the silent
  failures of msg/send: code 0 with message ``f``, ``k``, ``msg in 1s`` or ``msg repeat``).

Base URLs are configuration (:class:`Endpoints`); the defaults are the real hosts, and
``Endpoints.at(url)`` points every host at one simulator.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import httpx

from livepipe.bilibili import wbi
from livepipe.bilibili.credential import Credential
from livepipe.bilibili.transport import proxy_label, scrub
from livepipe.errors import ServiceError

log = logging.getLogger("livepipe.bilibili.api")
logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines would print every URL

#: The default User-Agent: a current desktop Chrome (the token is tied to the UA, so the HTTP API
#: and the WebSocket send the same one). Sources and action sinks can set their own (``user_agent``).
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/143.0.0.0 Safari/537.36"
)
WBI_TTL = 11 * 3600 + 59 * 60  # keys rotate about daily; refresh a little under 12 h


def fingerprint_payload(user_agent: str, *, width: int = 1920, height: int = 1080) -> str:
    """The JSON text ExClimbWuzhi expects in ``payload``: a desktop browser's fingerprint.

    The keys are the short codes the web page uses; the values are those of an ordinary Windows
    Chrome window, with this process's User-Agent.
    """
    return json.dumps({
        "3064": 1, "5062": str(int(time.time() * 1000)), "03bf": "https://live.bilibili.com/", "39c8": "444.8.fp.risk",
        "34f1": "", "d402": "", "654a": "", "6e7c": f"{width}x{height}", "3c43": {
            "2673": 0, "5766": 24, "6527": 0, "7003": 1, "807e": 1, "b8ce": user_agent, "641c": 0,
            "07a4": "zh-CN", "1c57": 8, "0bd0": 8, "748e": [width, height], "d61f": [width, height - 40],
            "fc9d": -480, "6aa9": "Asia/Shanghai", "75b8": 1, "3b21": 1, "8a1c": 0, "d52f": "not available",
            "adca": "Win32", "80c9": [], "13ab": "", "bfe9": "", "a3c1": [], "6bc5": "", "ed31": 0, "72bd": 0,
            "097b": 0, "52cd": [0, 0, 0], "a658": [], "d02f": "",
        }, "54ef": "{}", "8b94": "", "df35": "", "07a4": "zh-CN", "5f45": None, "db46": 0,
    }, separators=(",", ":"))  # fmt: skip


class Outcome(str, Enum):
    """What a caller should do with a reply."""

    SUCCESS = "success"
    RETRY = "retry"
    FATAL = "fatal"
    REJECTED = "rejected"


RETRY_CODES = frozenset({-352, -412, -509, -799, -1, 10030, 10031})
FATAL_CODES = frozenset({-101, -111, 65530})
SILENT_FAILURES = {
    "f": "blocked by the platform's word filter (not shown to anyone)",
    "k": "blocked by the room's keyword shield",
    "msg in 1s": "sent faster than one message per second; dropped",
    "msg repeat": "same text as a recent message; dropped",
}

#: Messages for codes whose reply text is unhelpful, with what to do.
CODE_HINTS = {
    -101: "not logged in or the cookies expired: run `livepipe login` or refresh the credential",
    -111: "csrf check failed: bili_jct does not belong to this SESSDATA; export both from the same session",
    -352: "risk control: missing/bad WBI signature or buvid3, or the account/IP is flagged; backing off",
    -412: "the IP is rate-limited by risk control (HTTP 412); backing off for a long time",
    65530: "token error: the login session is no longer valid; log in again",
    60024: "face authentication required: start the stream once from the Bilibili app or desktop client, "
           "then try again (not retried)",
    100402: "invalid cover URL: the image must be uploaded to Bilibili first (an *.hdslb.com URL)",
    1003212: "the text is longer than this account may send",
    10031: "sending too fast; slowing down",
}


def classify(code: int, message: str = "", *, http_status: int = 200) -> Outcome:
    """The outcome of a reply code (and HTTP status)."""
    if http_status == 412:
        return Outcome.RETRY
    if http_status >= 500 or http_status == 429:
        return Outcome.RETRY
    if code == 0:
        return Outcome.REJECTED if message in SILENT_FAILURES else Outcome.SUCCESS
    if code in RETRY_CODES:
        return Outcome.RETRY
    if code in FATAL_CODES:
        return Outcome.FATAL
    return Outcome.REJECTED


class ApiError(ServiceError):
    """A failed request: the code and message Bilibili gave, the endpoint, and the outcome."""

    def __init__(self, code: int, message: str, endpoint: str, *, http_status: int = 200,
                 outcome: Outcome | None = None) -> None:
        self.code = code
        self.message = message
        self.endpoint = endpoint
        self.http_status = http_status
        self.outcome = outcome or classify(code, message, http_status=http_status)
        hint = SILENT_FAILURES.get(message) if code == 0 else CODE_HINTS.get(code)
        text = f"{endpoint}: code {code}"
        if message and message != str(code):
            text += f" ({message})"
        if hint:
            text += f": {hint}"
        if http_status != 200:
            text += f" [HTTP {http_status}]"
        super().__init__(text)

    @property
    def retryable(self) -> bool:
        """True when trying again later may succeed."""
        return self.outcome is Outcome.RETRY


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of the Bilibili hosts (no trailing slash)."""

    api_live: str = "https://api.live.bilibili.com"
    api: str = "https://api.bilibili.com"
    passport: str = "https://passport.bilibili.com"
    www: str = "https://www.bilibili.com"
    live: str = "https://live.bilibili.com"

    @classmethod
    def at(cls, base_url: str) -> Endpoints:
        """Every host at one base URL (the simulator)."""
        b = base_url.rstrip("/")
        return cls(api_live=b, api=b, passport=b, www=b, live=b)

    @property
    def fallback_ws(self) -> str:
        """The WebSocket URL a key-less connection uses when getDanmuInfo cannot be had.

        For the real hosts that is the default broadcast host (``broadcastlv.chat.bilibili.com``,
        wss on 443, as blivedm falls back to); for anything else, ``/sub`` on the api_live host.
        """
        if self.api_live == Endpoints.api_live:
            return "wss://broadcastlv.chat.bilibili.com:443/sub"
        parts = urlsplit(self.api_live)
        scheme = "wss" if parts.scheme in ("https", "wss") else "ws"
        return f"{scheme}://{parts.netloc}/sub"


class BilibiliAPI:
    """The HTTP API for one credential. Use as ``async with BilibiliAPI(...) as api:`` or call ``aclose``."""

    def __init__(
        self,
        credential: Credential | None = None,
        endpoints: Endpoints | None = None,
        *,
        timeout: float = 10.0,
        user_agent: str | None = None,
        headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
        verify: Any = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.credential = credential or Credential.anonymous()
        self.endpoints = endpoints or Endpoints()
        self.user_agent = user_agent or USER_AGENT
        self.proxy = proxy
        self._http = httpx.AsyncClient(
            timeout=timeout,
            headers={"User-Agent": self.user_agent, "Referer": "https://live.bilibili.com/",
                     "Origin": "https://live.bilibili.com", **(headers or {})},
            verify=verify,
            transport=transport,
            proxy=proxy if transport is None else None,
            follow_redirects=False,
        )
        self._wbi: tuple[str, str] | None = None
        self._wbi_at = 0.0

    async def __aenter__(self) -> BilibiliAPI:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def __repr__(self) -> str:
        via = f" via {proxy_label(self.proxy)}" if self.proxy else ""
        return f"<BilibiliAPI {self.credential!r} at {self.endpoints.api_live}{via}>"

    def _network_error(self, e: Exception) -> str:
        """What went wrong on the wire, naming the proxy (never its credentials) when one is set."""
        if not self.proxy:
            return f"network error: {type(e).__name__}: {e}"
        detail = scrub(str(e), self.proxy) or type(e).__name__
        if isinstance(e, (httpx.ProxyError, httpx.ConnectError, httpx.ConnectTimeout)):
            return (f"network error through the proxy {proxy_label(self.proxy)}: {type(e).__name__}: {detail} "
                    "(is the proxy running and reachable?)")
        return f"network error through the proxy {proxy_label(self.proxy)}: {type(e).__name__}: {detail}"

    def _cookie_header(self) -> dict[str, str]:
        cookies = self.credential.cookies()
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}

    # ---- the one request path ---------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        json_body: Any = None,
        wbi_sign: bool = False,
        csrf: bool = False,
        check_silent: bool = False,
        allow_codes: tuple[int, ...] = (),
        endpoint: str | None = None,
    ) -> Any:
        """Send one request; return the reply's ``data`` or raise :class:`ApiError`.

        ``allow_codes`` lists non-zero codes whose reply should be returned whole (as a dict with
        ``code``) instead of raising; nav's -101 is the usual one.
        """
        name = endpoint or url.split("?", 1)[0].rsplit("/", 1)[-1]
        data = dict(data) if data is not None else None
        if csrf:
            token = self.credential.csrf
            if not token:
                raise ApiError(-111, "no bili_jct cookie in this credential", name, outcome=Outcome.FATAL)
            data = data if data is not None else {}
            data.setdefault("csrf", token)
            data.setdefault("csrf_token", token)
        for attempt in (1, 2):
            q = dict(params or {})
            if wbi_sign:
                img, sub = await self.wbi_keys(force=attempt == 2)
                q = wbi.sign(q, img, sub)
            try:
                resp = await self._http.request(method, url, params=q or None, data=data, files=files,
                                                json=json_body, headers=self._cookie_header())
            except httpx.HTTPError as e:
                raise ApiError(-1000, self._network_error(e), name, http_status=0, outcome=Outcome.RETRY) from None
            if resp.status_code != 200:
                code = -412 if resp.status_code == 412 else -resp.status_code
                raise ApiError(code, resp.reason_phrase or "", name, http_status=resp.status_code)
            try:
                body = resp.json()
            except ValueError:
                raise ApiError(-1001, "reply is not JSON", name, outcome=Outcome.RETRY) from None
            if not isinstance(body, dict) or "code" not in body:
                raise ApiError(-1001, "reply has no code", name, outcome=Outcome.RETRY)
            code = body.get("code")
            try:
                code = int(code)
            except (TypeError, ValueError):
                raise ApiError(-1001, f"reply code is not a number: {code!r}", name, outcome=Outcome.RETRY) from None
            message = str(body.get("message") or body.get("msg") or "")
            if code == -352 and wbi_sign and attempt == 1:
                log.info("%s answered -352; refreshing WBI keys and trying once more", name)
                continue
            if code in allow_codes:
                return body
            if code != 0:
                raise ApiError(code, message, name)
            if check_silent and message in SILENT_FAILURES:
                raise ApiError(0, message, name, outcome=Outcome.REJECTED)
            return body.get("data")
        raise AssertionError("unreachable")  # pragma: no cover

    # ---- login state, WBI, device ids ----------------------------------------------------------

    async def nav(self) -> dict[str, Any]:
        """``x/web-interface/nav``: login state (``isLogin``, ``mid``, ``uname``) and ``wbi_img``.

        Returns the data even when not logged in (code -101 still carries ``wbi_img``).
        """
        body = await self.request("GET", f"{self.endpoints.api}/x/web-interface/nav", allow_codes=(-101,),
                                  endpoint="nav")
        if isinstance(body, dict) and "code" in body:  # the -101 reply, whole
            data = body.get("data") or {}
            data.setdefault("isLogin", False)
            return data
        return body or {}

    async def wbi_keys(self, force: bool = False) -> tuple[str, str]:
        """``(img_key, sub_key)`` from nav, cached for about 12 hours."""
        if self._wbi is None or force or time.monotonic() - self._wbi_at > WBI_TTL:
            data = await self.nav()
            img = (data.get("wbi_img") or {}).get("img_url", "")
            sub = (data.get("wbi_img") or {}).get("sub_url", "")
            if not img or not sub:
                raise ApiError(-1002, "nav carried no wbi_img keys", "nav", outcome=Outcome.RETRY)
            self._set_wbi(img, sub)
        return self._wbi

    def _set_wbi(self, img_url: str, sub_url: str) -> None:
        self._wbi = (wbi.key_from_url(img_url), wbi.key_from_url(sub_url))
        self._wbi_at = time.monotonic()

    async def gen_web_ticket(self) -> str:
        """``GenWebTicket``: a fresh ``bili_ticket`` cookie (a JWT valid ~3 days), as the web page gets it.

        The reply also carries the current WBI keys, which replace the cached ones. The ticket
        goes into :attr:`credential` (it is secret: it never appears in reprs or logs).
        """
        ts = int(time.time())
        data = await self.request(
            "POST", f"{self.endpoints.api}/bapis/bilibili.api.ticket.v1.Ticket/GenWebTicket",
            params={"key_id": "ec02", "hexsign": wbi.ticket_hexsign(ts), "context[ts]": ts,
                    "csrf": self.credential.csrf or ""},
            endpoint="GenWebTicket",
        ) or {}  # fmt: skip
        ticket = str(data.get("ticket") or "")
        if not ticket:
            raise ApiError(-1002, "GenWebTicket carried no ticket", "GenWebTicket", outcome=Outcome.RETRY)
        nav = data.get("nav") or {}
        if nav.get("img") and nav.get("sub"):
            self._set_wbi(str(nav["img"]), str(nav["sub"]))
        self.credential = self.credential.with_ticket(ticket)
        return ticket

    async def activate_buvid(self) -> None:
        """``ExClimbWuzhi``: report the browser fingerprint that "activates" the buvid3 in use.

        The web page posts this once per new device id; an unactivated buvid3 is more likely to
        meet -352. The payload is a plausible desktop-browser fingerprint (see
        :func:`fingerprint_payload`).
        """
        if not self.credential.buvid3:
            return
        await self.request(
            "POST", f"{self.endpoints.api}/x/internal/gaia-gateway/ExClimbWuzhi",
            json_body={"payload": fingerprint_payload(self.user_agent)}, endpoint="ExClimbWuzhi",
        )

    def reset_wbi(self) -> None:
        """Forget the cached WBI keys (after -352); the next signed request fetches them again."""
        self._wbi = None

    async def buvid(self) -> tuple[str, str]:
        """``x/frontend/finger/spi``: fresh device ids ``(buvid3, buvid4)``."""
        data = await self.request("GET", f"{self.endpoints.api}/x/frontend/finger/spi", endpoint="finger/spi")
        return str(data.get("b_3", "")), str(data.get("b_4", ""))

    async def ensure_buvid(self) -> Credential:
        """Fill in buvid3/buvid4 when the credential has none (getDanmuInfo requires buvid3)."""
        if not self.credential.buvid3:
            b3, b4 = await self.buvid()
            self.credential = self.credential.with_buvid(b3, b4)
        return self.credential

    # ---- rooms and the danmaku connection -------------------------------------------------------

    async def room_init(self, room_id: int) -> dict[str, Any]:
        """``room/v1/Room/room_init``: short or real id -> ``room_id`` (real), ``uid`` (owner), ``live_status``."""
        return await self.request("GET", f"{self.endpoints.api_live}/room/v1/Room/room_init",
                                  params={"id": room_id}, endpoint="room_init")

    async def room_info(self, room_id: int) -> dict[str, Any]:
        """``room/v1/Room/get_info``: title, area, live status, silence settings of a room."""
        return await self.request("GET", f"{self.endpoints.api_live}/room/v1/Room/get_info",
                                  params={"room_id": room_id}, endpoint="get_info")

    async def danmu_info(self, room_id: int) -> dict[str, Any]:
        """``getDanmuInfo`` (WBI-signed, needs buvid3): ``token`` and ``host_list`` for the WebSocket."""
        return await self.request(
            "GET", f"{self.endpoints.api_live}/xlive/web-room/v1/index/getDanmuInfo",
            params={"id": room_id, "type": 0, "web_location": "444.8"}, wbi_sign=True, endpoint="getDanmuInfo",
        )

    async def area_list(self) -> list[dict[str, Any]]:
        """``room/v1/Area/getList``: parent areas with their child areas (child ids are strings)."""
        return await self.request("GET", f"{self.endpoints.api_live}/room/v1/Area/getList", endpoint="Area/getList")

    # ---- live danmaku -------------------------------------------------------------------------

    async def send_danmaku(
        self, room_id: int, text: str, *, reply_uid: int = 0, emoticon: bool = False, mode: int = 1,
        color: int = 16777215, fontsize: int = 25,
    ) -> dict[str, Any]:
        """``msg/send``; silent failures (code 0 with ``f``/``k``/``msg in 1s``/``msg repeat``) raise."""
        form: dict[str, Any] = {
            "roomid": room_id, "msg": text, "rnd": int(time.time()), "fontsize": fontsize, "color": color,
            "mode": mode, "bubble": 0, "room_type": 0, "jumpfrom": 0, "reply_mid": reply_uid, "reply_attr": 0,
        }
        if emoticon:
            form["dm_type"] = 1
            form["emoticonOptions"] = "[object Object]"
        return await self.request("POST", f"{self.endpoints.api_live}/msg/send", data=form, csrf=True,
                                  check_silent=True, endpoint="msg/send") or {}

    # ---- moderation ---------------------------------------------------------------------------

    async def ban_user(self, room_id: int, uid: int, hours: int, msg: str = "") -> Any:
        """``AddSilentUser``: ban ``uid`` for ``hours`` (-1 permanent, 0 this stream). Always sends ``hour``."""
        form = {"room_id": room_id, "tuid": uid, "msg": msg, "mobile_app": "web", "hour": hours,
                "type": 2 if hours == 0 else 1, "visit_id": ""}
        return await self.request("POST", f"{self.endpoints.api_live}/xlive/web-ucenter/v1/banned/AddSilentUser",
                                  data=form, csrf=True, endpoint="AddSilentUser")

    async def banned_users(self, room_id: int, page: int = 1) -> dict[str, Any]:
        """``GetSilentUserList`` page ``page`` (the form field is called ``ps``)."""
        return await self.request("POST", f"{self.endpoints.api_live}/xlive/web-ucenter/v1/banned/GetSilentUserList",
                                  data={"room_id": room_id, "ps": page, "visit_id": ""}, csrf=True,
                                  endpoint="GetSilentUserList") or {}

    async def unban_user(self, room_id: int, uid: int) -> Any:
        """``DelSilentUser``: lift the ban of ``uid``."""
        return await self.request("POST", f"{self.endpoints.api_live}/xlive/web-ucenter/v1/banned/DelSilentUser",
                                  data={"room_id": room_id, "tuid": uid, "visit_id": ""}, csrf=True,
                                  endpoint="DelSilentUser")

    async def unban_record(self, room_id: int, record_id: int) -> Any:
        """``del_room_block_user`` (older endpoint): lift the ban with list record ``record_id``."""
        return await self.request("POST", f"{self.endpoints.api_live}/banned_service/v1/Silent/del_room_block_user",
                                  data={"roomid": room_id, "id": record_id, "visit_id": ""}, csrf=True,
                                  endpoint="del_room_block_user")

    # ---- room management ----------------------------------------------------------------------

    async def update_room(self, room_id: int, *, title: str | None = None, area_id: int | None = None,
                          add_tag: str | None = None, del_tag: str | None = None) -> Any:
        """``Room/update``: title (<= 40 characters), area, tags."""
        form: dict[str, Any] = {"room_id": room_id, "platform": "pc", "visit_id": ""}
        for k, v in (("title", title), ("area_id", area_id), ("add_tag", add_tag), ("del_tag", del_tag)):
            if v is not None:
                form[k] = v
        return await self.request("POST", f"{self.endpoints.api_live}/room/v1/Room/update", data=form, csrf=True,
                                  endpoint="Room/update")

    async def update_news(self, room_id: int, uid: int, content: str) -> Any:
        """``updateRoomNews``: the room announcement (<= 60 characters, may be empty)."""
        return await self.request("POST", f"{self.endpoints.api_live}/xlive/app-blink/v1/index/updateRoomNews",
                                  data={"room_id": room_id, "uid": uid, "content": content}, csrf=True,
                                  endpoint="updateRoomNews")

    async def update_prelive(self, *, cover: str | None = None, title: str | None = None) -> Any:
        """``UpdatePreLiveInfo``: cover (an ``*.hdslb.com`` URL) and/or title of the account's room."""
        form: dict[str, Any] = {"platform": "web", "mobi_app": "web", "build": 1, "visit_id": ""}
        if cover is not None:
            form["cover"] = cover
            form["coverVertical"] = ""
            form["liveDirectionType"] = 1
        if title is not None:
            form["title"] = title
        return await self.request("POST", f"{self.endpoints.api_live}/xlive/app-blink/v1/preLive/UpdatePreLiveInfo",
                                  data=form, csrf=True, endpoint="UpdatePreLiveInfo")

    async def start_live(self, room_id: int, area_id: int, *, platform: str = "pc_link",
                         version: str | None = "7.19.0.9432", build: int | None = 9432) -> dict[str, Any]:
        """``Room/startLive`` in child area ``area_id``; sends ``version``/``build`` (avoids most 60024)."""
        form: dict[str, Any] = {"room_id": room_id, "area_v2": area_id, "platform": platform}
        if version is not None:
            form["version"] = version
        if build is not None:
            form["build"] = build
        return await self.request("POST", f"{self.endpoints.api_live}/room/v1/Room/startLive", data=form, csrf=True,
                                  endpoint="startLive") or {}

    async def stop_live(self, room_id: int, *, platform: str = "pc_link") -> dict[str, Any]:
        """``Room/stopLive``."""
        return await self.request("POST", f"{self.endpoints.api_live}/room/v1/Room/stopLive",
                                  data={"room_id": room_id, "platform": platform}, csrf=True,
                                  endpoint="stopLive") or {}

    # ---- video danmaku ------------------------------------------------------------------------

    async def post_video_danmaku(
        self, cid: int, text: str, *, aid: int | None = None, bvid: str | None = None, progress_ms: int = 0,
        mode: int = 1, color: int = 16777215, fontsize: int = 25, pool: int = 0,
    ) -> dict[str, Any]:
        """``x/v2/dm/post``: a danmaku on a video (needs ``aid`` or ``bvid``); returns ``dmid``."""
        form: dict[str, Any] = {"type": 1, "oid": cid, "msg": text, "progress": progress_ms, "mode": mode,
                                "color": color, "fontsize": fontsize, "pool": pool, "rnd": int(time.time() * 1e6)}
        if aid is not None:
            form["aid"] = aid
        if bvid is not None:
            form["bvid"] = bvid
        return await self.request("POST", f"{self.endpoints.api}/x/v2/dm/post", data=form, csrf=True,
                                  endpoint="dm/post") or {}

    async def recall_video_danmaku(self, cid: int, dmid: int) -> Any:
        """``x/dm/recall``: take back one's own video danmaku."""
        return await self.request("POST", f"{self.endpoints.api}/x/dm/recall", data={"cid": cid, "dmid": dmid},
                                  csrf=True, endpoint="dm/recall")

    # ---- login and cookie refresh ----------------------------------------------------------------

    async def qr_generate(self) -> dict[str, Any]:
        """QR login step 1: ``url`` to show as a QR code and ``qrcode_key`` to poll with."""
        return await self.request("GET", f"{self.endpoints.passport}/x/passport-login/web/qrcode/generate",
                                  endpoint="qrcode/generate")

    async def qr_poll(self, qrcode_key: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        """QR login step 2: ``(state, data, cookies)``; state 0 = confirmed (cookies set), 86101 not scanned,
        86090 scanned but not confirmed, 86038 expired."""
        resp = await self._http.get(f"{self.endpoints.passport}/x/passport-login/web/qrcode/poll",
                                    params={"qrcode_key": qrcode_key})
        body = resp.json()
        data = body.get("data") or {}
        return int(data.get("code", body.get("code", -1))), data, dict(resp.cookies)

    async def cookie_info(self) -> dict[str, Any]:
        """Cookie refresh step 1: ``{refresh: bool, timestamp}``."""
        return await self.request("GET", f"{self.endpoints.passport}/x/passport-login/web/cookie/info",
                                  params={"csrf": self.credential.csrf or ""}, endpoint="cookie/info")
