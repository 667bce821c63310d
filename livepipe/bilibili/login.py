"""Account flows: web QR login, the login check, and the web cookie-refresh flow.

* :func:`qr_login`: ``qrcode/generate`` -> show the URL as a QR code -> ``qrcode/poll`` until the
  phone confirms; returns the session cookies and the refresh token.
* :func:`check_credential`: nav (logged in? which uid? does it match ``DedeUserID``?), csrf
  present, and ``cookie/info`` (does the session ask for a refresh?).
* :func:`refresh_credential`: when the refresh token is known, ``cookie/info`` ->
  ``/correspond/1/<path>`` (the path is ``refresh_<ms>`` encrypted with RSA-OAEP/SHA-256 under
  Bilibili's public key, hex) -> ``cookie/refresh`` (new cookies and refresh token) ->
  ``confirm/refresh`` (with the new cookies and the old token, which retires the old session).
  The new cookies are written back to the credential's cookie file atomically.

No secret value is ever logged or put in an exception message.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx

from livepipe.bilibili.api import USER_AGENT, ApiError, BilibiliAPI, Endpoints, Outcome
from livepipe.bilibili.cookies import write_cookie_file
from livepipe.bilibili.credential import Credential
from livepipe.errors import ServiceError

log = logging.getLogger("livepipe.bilibili.login")
logging.getLogger("httpcore").setLevel(logging.INFO)  # it logs Set-Cookie headers at DEBUG

#: Bilibili's public key for the correspondPath (JWK modulus and exponent, base64url).
_RSA_N = (
    "y4HdjgJHBlbaBN04VERG4qNBIFHP6a3GozCl75AihQloSWCXC5HDNgyinEnhaQ_4-gaMud_GF50elYXLlCToR9se9Z8z433U3KjM-3Yx7ptKkmQNAMgg"
    "QwAVKgq3zYAoidNEWuxpkY_mAitTSRLnsJW-NCTa0bqBFF6Wm1MxgfE"
)
_RSA_E = "AQAB"
_REFRESH_CSRF = re.compile(r'<div\s+id="1-name"\s*>\s*([^<\s]+)\s*</div>')

QR_WAITING = 86101
QR_SCANNED = 86090
QR_EXPIRED = 86038


class LoginError(ServiceError):
    """A login or refresh step failed; the message says which and what to do."""


def _b64url_int(s: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), "big")


def correspond_path(ts_ms: int | None = None) -> str:
    """``refresh_<ms>`` encrypted with RSA-OAEP (SHA-256) under Bilibili's key, as lower-case hex."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    ts_ms = int(time.time() * 1000) if ts_ms is None else ts_ms
    key = rsa.RSAPublicNumbers(_b64url_int(_RSA_E), _b64url_int(_RSA_N)).public_key()
    pad = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return key.encrypt(f"refresh_{ts_ms}".encode(), pad).hex()


def _http(verify: Any, user_agent: str | None = None, headers: Mapping[str, str] | None = None,
          proxy: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=15.0, verify=verify, follow_redirects=False, proxy=proxy,
        headers={"User-Agent": user_agent or USER_AGENT, "Referer": "https://www.bilibili.com/", **(headers or {})},
    )  # fmt: skip


def _cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}


def _envelope(resp: httpx.Response, endpoint: str) -> dict[str, Any]:
    if resp.status_code != 200:
        raise ApiError(-412 if resp.status_code == 412 else -resp.status_code, resp.reason_phrase or "", endpoint,
                       http_status=resp.status_code)  # fmt: skip
    try:
        body = resp.json()
    except ValueError:
        raise ApiError(-1001, "reply is not JSON", endpoint, outcome=Outcome.RETRY) from None
    if not isinstance(body, dict):
        raise ApiError(-1001, "reply is not an object", endpoint, outcome=Outcome.RETRY)
    code = int(body.get("code", -1))
    if code != 0:
        raise ApiError(code, str(body.get("message") or ""), endpoint)
    return body


# ---- QR login ---------------------------------------------------------------------------------


@dataclass
class LoginResult:
    """What a successful QR login gives: cookies (SESSDATA, bili_jct, DedeUserID, buvid3...) and the refresh token."""

    uid: int
    cookies: dict[str, str]
    refresh_token: str

    def __repr__(self) -> str:
        return f"<LoginResult uid={self.uid} cookies={sorted(self.cookies)}>"


async def qr_login(
    endpoints: Endpoints | None = None,
    *,
    show: Callable[[str], Any],
    on_state: Callable[[int], Any] | None = None,
    poll_interval: float = 2.0,
    timeout: float = 180.0,
    verify: Any = True,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    proxy: str | None = None,
) -> LoginResult:
    """Run the web QR login: ``show(url)`` draws the code; poll until confirmed, expired or ``timeout``.

    ``proxy``: an ``http(s)://`` or ``socks5(h)://`` proxy for every request (as a component's ``proxy`` key).
    """
    async with BilibiliAPI(None, endpoints, verify=verify, proxy=proxy) as api:
        gen = await api.qr_generate()
        url, key = str(gen.get("url", "")), str(gen.get("qrcode_key", ""))
        if not url or not key:
            raise LoginError("qrcode/generate returned no URL or key")
        show(url)
        deadline = time.monotonic() + timeout
        last = None
        while True:
            state, data, cookies = await api.qr_poll(key)
            if state != last and on_state is not None:
                on_state(state)
            last = state
            if state == 0:
                break
            if state == QR_EXPIRED:
                raise LoginError("the QR code expired before it was confirmed; run `livepipe login` again")
            if state not in (QR_WAITING, QR_SCANNED):
                raise LoginError(f"qrcode/poll answered state {state}")
            if time.monotonic() > deadline:
                raise LoginError(f"nobody confirmed the login within {timeout:g} s")
            await sleep(poll_interval)
        # Cookies come as Set-Cookie; the cross-domain URL carries the same values as a fallback.
        jar = {k: v for k, v in cookies.items() if k in ("SESSDATA", "bili_jct", "DedeUserID", "DedeUserID__ckMd5",
                                                         "sid")}
        q = parse_qs(urlsplit(str(data.get("url", ""))).query)
        for name in ("SESSDATA", "bili_jct", "DedeUserID", "DedeUserID__ckMd5"):
            if name not in jar and q.get(name):
                jar[name] = q[name][0]
        if not jar.get("SESSDATA") or not jar.get("bili_jct"):
            raise LoginError("the login succeeded but returned no SESSDATA/bili_jct cookie")
        try:
            b3, b4 = await api.buvid()
            if b3:
                jar["buvid3"] = b3
            if b4:
                jar["buvid4"] = b4
        except ApiError as e:  # not fatal: the source fetches one when missing
            log.warning("could not fetch a buvid3 device id now (%s); the source will fetch one", e)
        uid = int(jar["DedeUserID"]) if jar.get("DedeUserID", "").isdigit() else 0
        return LoginResult(uid=uid, cookies=jar, refresh_token=str(data.get("refresh_token") or ""))


def default_cookie_path(uid: int) -> Path:
    """``~/.config/livepipe/cookies-<uid>.json`` (``$XDG_CONFIG_HOME`` respected)."""
    import os

    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "livepipe" / f"cookies-{uid}.json"


# ---- check ------------------------------------------------------------------------------------


@dataclass
class CheckResult:
    """The state of one credential (no secret values)."""

    name: str
    logged_in: bool
    uid: int | None
    uname: str | None
    cookie_uid: int | None
    csrf_present: bool
    buvid3_present: bool
    refresh_token_known: bool
    needs_refresh: bool | None

    @property
    def uid_matches(self) -> bool:
        """True unless both uids are known and differ."""
        return self.uid is None or self.cookie_uid is None or self.uid == self.cookie_uid

    @property
    def ok(self) -> bool:
        """Logged in, uid consistent and csrf present."""
        return self.logged_in and self.uid_matches and self.csrf_present

    def lines(self) -> list[str]:
        """Human-readable report."""
        out = [f"credential {self.name}:"]
        if self.logged_in:
            out.append(f"  logged in: yes, uid {self.uid}" + (f" ({self.uname})" if self.uname else ""))
        else:
            out.append("  logged in: NO (cookies missing or expired; run `livepipe login`)")
        if not self.uid_matches:
            out.append(f"  DedeUserID cookie: {self.cookie_uid} -- does NOT match the session's uid {self.uid}; "
                       "export all cookies from the same browser session")
        out.append(f"  csrf (bili_jct): {'present' if self.csrf_present else 'MISSING (actions will fail with -111)'}")
        out.append(f"  buvid3: {'present' if self.buvid3_present else 'missing (fetched automatically)'}")
        if self.needs_refresh is None:
            out.append("  needs refresh: unknown")
        else:
            out.append(f"  needs refresh: {'yes' if self.needs_refresh else 'no'}"
                       + ("" if self.refresh_token_known or not self.needs_refresh
                          else " (no refresh token known: log in again)"))
        out.append(f"  refresh token: {'known' if self.refresh_token_known else 'not known'}")
        return out


async def check_credential(credential: Credential, endpoints: Endpoints | None = None, *,
                           verify: Any = True, proxy: str | None = None) -> CheckResult:  # fmt: skip
    """Ask nav and cookie/info about ``credential`` (through ``proxy`` when given)."""
    async with BilibiliAPI(credential, endpoints, verify=verify, proxy=proxy) as api:
        nav = await api.nav()
        logged_in = bool(nav.get("isLogin"))
        needs: bool | None = None
        if logged_in:
            try:
                info = await api.cookie_info()
                needs = bool((info or {}).get("refresh"))
            except ApiError as e:
                log.debug("cookie/info failed: %s", e)
        mid = nav.get("mid")
        return CheckResult(
            name=credential.name,
            logged_in=logged_in,
            uid=int(mid) if logged_in and isinstance(mid, int) else None,
            uname=str(nav.get("uname")) if logged_in and nav.get("uname") else None,
            cookie_uid=credential.dedeuserid,
            csrf_present=bool(credential.csrf),
            buvid3_present=bool(credential.buvid3),
            refresh_token_known=credential.refresh_token is not None,
            needs_refresh=needs,
        )


# ---- refresh ----------------------------------------------------------------------------------


async def refresh_credential(credential: Credential, endpoints: Endpoints | None = None, *, verify: Any = True,
                             force: bool = False, write_back: bool = True, user_agent: str | None = None,
                             headers: Mapping[str, str] | None = None,
                             proxy: str | None = None) -> Credential | None:  # fmt: skip
    """Refresh the cookies when the session asks for it (or ``force``); None when no refresh was needed.

    ``user_agent``, ``headers`` and ``proxy`` are those of the component that asks (see
    :mod:`livepipe.bilibili.transport`).

    Needs the refresh token. On success the returned credential carries the new cookies and refresh
    token, and (with ``write_back``) they are written to ``credential.cookie_file`` atomically.
    Raises :class:`LoginError` or :class:`~livepipe.bilibili.api.ApiError` when a step fails.
    """
    if credential.refresh_token is None:
        raise LoginError(f"credential {credential.name}: no refresh token known; log in again with `livepipe login`")
    ep = endpoints or Endpoints()
    old_token = credential.refresh_token.get_secret_value()
    cookies = credential.cookies()
    async with _http(verify, user_agent, headers, proxy) as http:
        info = _envelope(await http.get(f"{ep.passport}/x/passport-login/web/cookie/info",
                                        params={"csrf": credential.csrf or ""}, headers=_cookie_header(cookies)),
                         "cookie/info")  # fmt: skip
        if not force and not (info.get("data") or {}).get("refresh"):
            return None
        ts = int((info.get("data") or {}).get("timestamp") or time.time() * 1000)
        page = await http.get(f"{ep.www}/correspond/1/{correspond_path(ts)}", headers=_cookie_header(cookies))
        m = _REFRESH_CSRF.search(page.text) if page.status_code == 200 else None
        if m is None:
            raise LoginError(f"credential {credential.name}: the correspond page gave no refresh_csrf "
                             f"(HTTP {page.status_code}); the session may have expired")
        resp = await http.post(f"{ep.passport}/x/passport-login/web/cookie/refresh",
                               data={"csrf": credential.csrf or "", "refresh_csrf": m.group(1),
                                     "source": "main_web", "refresh_token": old_token},
                               headers=_cookie_header(cookies))  # fmt: skip
        body = _envelope(resp, "cookie/refresh")
        new_token = str((body.get("data") or {}).get("refresh_token") or "")
        fresh = {k: v for k, v in resp.cookies.items() if k in ("SESSDATA", "bili_jct", "DedeUserID",
                                                                  "DedeUserID__ckMd5", "sid")}
        if not fresh.get("SESSDATA") or not fresh.get("bili_jct") or not new_token:
            raise LoginError(f"credential {credential.name}: cookie/refresh returned no new cookies")
        new_cookies = {**cookies, **fresh}
        _envelope(await http.post(f"{ep.passport}/x/passport-login/web/confirm/refresh",
                                  data={"csrf": fresh["bili_jct"], "refresh_token": old_token},
                                  headers=_cookie_header(new_cookies)), "confirm/refresh")  # fmt: skip
    updated = credential.with_cookies(new_cookies, refresh_token=new_token)
    if write_back and credential.cookie_file is not None:
        write_cookie_file(credential.cookie_file, new_cookies, new_token)
        log.info("credential %s: cookies refreshed and written back to %s", credential.name, credential.cookie_file)
    else:
        log.info("credential %s: cookies refreshed (no cookie_file to write back to; they last until restart)",
                 credential.name)
    return updated
