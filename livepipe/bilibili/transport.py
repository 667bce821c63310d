"""How a Bilibili component reaches the network: User-Agent, extra headers, proxy.

:class:`TransportConfig` adds ``user_agent``, ``headers`` and ``proxy`` to a component's config
(the ``bilibili.danmaku`` source and every action sink). The proxy serves both the HTTP API
(httpx: ``http://``/``https://`` natively, ``socks5://``/``socks5h://`` through ``socksio``) and
the WebSocket (websockets' own proxy support: HTTP CONNECT, or SOCKS through ``python-socks``).

A proxy URL may carry ``user:password@``: the whole value is a declared secret (redacted in
``config show``), and :func:`proxy_label` is the only form that reaches logs and errors.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, field_validator

from livepipe.schema import Secret, field

PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")

#: headers a user may not override: the client sets them per request (cookies, the WebSocket upgrade)
RESERVED_HEADERS = frozenset({"cookie", "host", "connection", "upgrade", "content-length", "sec-websocket-key",
                              "sec-websocket-version", "sec-websocket-extensions"})  # fmt: skip


def check_proxy(url: str) -> str:
    """``url`` if it is a usable proxy URL (scheme, host and port), else ``ValueError`` with the fix."""
    parts = urlsplit(url)
    if parts.scheme not in PROXY_SCHEMES:
        raise ValueError(f"proxy must start with one of {', '.join(s + '://' for s in PROXY_SCHEMES)} "
                         f"(got {parts.scheme + '://' if parts.scheme else 'no scheme'})")  # fmt: skip
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ValueError(f"proxy must name a host and a port, e.g. {parts.scheme}://127.0.0.1:1080")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("proxy must be only scheme://[user:password@]host:port")
    return url


def proxy_label(url: str) -> str:
    """The proxy as logs and errors show it: ``scheme://host:port``, never the user or password."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{parts.port}"


def scrub(text: str, proxy: str | None) -> str:
    """``text`` (an error message) with the proxy URL's ``user:password@`` removed wherever it appears."""
    if not proxy:
        return text
    parts = urlsplit(proxy)
    for secret in (proxy, f"{parts.username}:{parts.password}" if parts.password else None, parts.password,
                   parts.username):  # fmt: skip
        if secret:
            text = text.replace(secret, proxy_label(proxy) if secret == proxy else "***")
    return text


class TransportConfig(BaseModel):
    """Config keys for how a Bilibili component talks to the network (mixed into its config)."""

    user_agent: str | None = field(
        None, description="User-Agent of every HTTP request and the WebSocket upgrade; unset = a current desktop "
        "Chrome (the token is tied to the UA, so both use the same one)", min_length=1,
    )
    headers: dict[str, str] = field(
        default_factory=dict, description="extra HTTP headers for every request and the WebSocket upgrade "
        "(e.g. `Accept-Language`); Cookie, Host and the upgrade headers cannot be set here",
    )
    proxy: Secret | None = field(
        None, secret=True, description="proxy for the HTTP API and the WebSocket: `http://host:port`, "
        "`https://…`, `socks5://host:port` or `socks5h://…` (DNS through the proxy); may carry "
        "`user:password@` (a secret: logs show only scheme://host:port)",
    )

    @field_validator("headers")
    @classmethod
    def _no_reserved_headers(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(k for k in value if k.lower() in RESERVED_HEADERS)
        if bad:
            raise ValueError(f"headers may not set {', '.join(bad)}: livepipe sets them itself")
        return value

    @field_validator("proxy")
    @classmethod
    def _usable_proxy(cls, value: Secret | None) -> Secret | None:
        if value is not None:
            check_proxy(value.get_secret_value())
        return value

    def proxy_url(self) -> str | None:
        """The proxy URL in clear (only for the HTTP and WebSocket clients), or None."""
        return self.proxy.get_secret_value() if self.proxy is not None else None


__all__ = ["PROXY_SCHEMES", "TransportConfig", "check_proxy", "proxy_label", "scrub"]


def tls_context(verify_tls: bool, ca_file: Path | None, simulator: Any = None) -> ssl.SSLContext | None:
    """The TLS context of a component's connections, or ``None`` for the system's certificates.

    ``verify_tls = false``: no verification; ``ca_file``: the system's certificates plus that PEM file;
    else an embedded TLS ``[simulator]`` (pass it only when the component uses it, i.e. has no ``base_url``
    of its own): its certificate.
    """
    if not verify_tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if ca_file is not None:
        return ssl.create_default_context(cafile=str(ca_file))
    if simulator is not None and hasattr(simulator, "client_ssl_context"):
        return simulator.client_ssl_context()
    return None
