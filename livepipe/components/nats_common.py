"""What the ``nats`` sink and the ``nats`` source source share: connection options and the client.

The connection reconnects forever (``max_reconnect_attempts = -1``), including the first connect:
a component whose server is not up yet keeps trying (and logs each failure once per streak) instead
of failing the pipeline. Secrets (password, token, nkey seed) are ``Secret`` fields: they never
appear in logs, reprs, errors or ``livepipe config show``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS
from pydantic import BaseModel, model_validator

from livepipe.preflight import Problems, private_file, readable_file
from livepipe.schema import Secret, Url, field, redact_url

#: Default NATS URL when ``servers`` is not given.
DEFAULT_SERVER = "nats://127.0.0.1:4222"


class NatsConnectionConfig(BaseModel):
    """Connection options of every NATS component (mixed into their config tables)."""

    servers: list[Url] = field(
        default_factory=lambda: [DEFAULT_SERVER],
        description="NATS server URLs (`nats://host:4222`, `tls://host:4222`); the client picks one and "
        "fails over to the others",
    )
    name: str | None = field(None, description="client name shown by the server (default `livepipe:<component id>`)")
    user: str | None = field(None, description="user name (with `password`)")
    password: Secret | None = field(None, description="password for `user` (secret; may be `{ env = \"...\" }`)",
                                   secret=True)
    token: Secret | None = field(None, description="authentication token (secret)", secret=True)
    nkey_seed: Secret | None = field(
        None, description="NKEY seed (`SU...`) for nkey authentication (secret; may be `{ file = \"...\" }`)",
        secret=True,
    )
    creds_file: str | None = field(
        None, description="path to a `.creds` file (JWT + nkey seed) for decentralised auth; relative to the config"
    )
    tls_ca: str | None = field(None, description="CA certificate (PEM) to verify the server with")
    tls_cert: str | None = field(None, description="client certificate (PEM) for mutual TLS (with `tls_key`)")
    tls_key: str | None = field(None, description="client private key (PEM) for mutual TLS")
    tls_verify: bool = field(True, description="verify the server's certificate and host name (false: testing only)")
    tls_hostname: str | None = field(None, description="host name expected in the server's certificate")
    connect_timeout: float = field(2.0, description="seconds for one connection attempt", gt=0)
    reconnect_wait: float = field(
        1.0, description="seconds between reconnection attempts (the client reconnects forever)", gt=0
    )
    ping_interval: float = field(
        20.0, description="seconds between client PINGs; two missed PONGs mark the connection dead", gt=0
    )

    @model_validator(mode="after")
    def _check_auth(self) -> NatsConnectionConfig:
        if self.password is not None and self.user is None:
            raise ValueError("password is set but user is not; set both")
        methods = [
            n for n, v in (("user", self.user), ("token", self.token), ("nkey_seed", self.nkey_seed),
                           ("creds_file", self.creds_file)) if v is not None
        ]  # fmt: skip
        if len(methods) > 1:
            raise ValueError(f"choose one authentication method, not {' and '.join(methods)}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both for mutual TLS, or neither")
        if not self.servers:
            raise ValueError("servers must list at least one URL")
        return self


def tls_context(cfg: NatsConnectionConfig, resolve: Callable[[str], Path]) -> ssl.SSLContext | None:
    """An SSL context from the TLS options, or None when no TLS option is set (``tls://`` URLs still work)."""
    if cfg.tls_ca is None and cfg.tls_cert is None and cfg.tls_verify:
        if any(s.startswith("tls://") for s in cfg.servers):
            return ssl.create_default_context()
        return None
    ctx = ssl.create_default_context(cafile=str(resolve(cfg.tls_ca)) if cfg.tls_ca else None)
    if cfg.tls_cert and cfg.tls_key:
        ctx.load_cert_chain(str(resolve(cfg.tls_cert)), str(resolve(cfg.tls_key)))
    if not cfg.tls_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class NatsConnection:
    """One nats-py client with livepipe's defaults, state tracking and secret-safe logging.

    ``connected`` is an :class:`asyncio.Event` set while the client is connected. ``on_disconnect``
    and ``on_reconnect`` (set by the owner) run inside nats-py's callbacks.
    """

    def __init__(
        self,
        cfg: NatsConnectionConfig,
        *,
        component: str,
        log: logging.Logger,
        resolve: Callable[[str], Path],
        pending_size: int | None = None,
    ) -> None:
        self.cfg = cfg
        self.component = component
        self.log = log
        self.resolve = resolve
        self.pending_size = pending_size
        self.nc: NATS | None = None
        self.connected = asyncio.Event()
        self.on_disconnect: Callable[[], None] | None = None
        self.on_reconnect: Callable[[], None] | None = None
        #: called with the server's reason when it refuses the credentials (Authorization Violation)
        self.on_refused: Callable[[str], None] | None = None
        self.disconnects = 0
        self.closing = False
        self._connect_task: asyncio.Task[None] | None = None
        self._failed_once = False

    def options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`nats.connect` (secrets included: never log this)."""
        c = self.cfg
        opts: dict[str, Any] = {
            "servers": list(c.servers),
            "name": c.name or f"livepipe:{self.component}",
            "allow_reconnect": True,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": c.reconnect_wait,
            "connect_timeout": c.connect_timeout,
            "ping_interval": c.ping_interval,
            "max_outstanding_pings": 2,
            "error_cb": self._error_cb,
            "disconnected_cb": self._disconnected_cb,
            "reconnected_cb": self._reconnected_cb,
            "closed_cb": self._closed_cb,
        }
        if self.pending_size is not None:
            opts["pending_size"] = self.pending_size
        if c.user is not None:
            opts["user"] = c.user
            if c.password is not None:
                opts["password"] = c.password.get_secret_value()
        if c.token is not None:
            opts["token"] = c.token.get_secret_value()
        if c.nkey_seed is not None:
            opts["nkeys_seed_str"] = c.nkey_seed.get_secret_value()
        if c.creds_file is not None:
            opts["user_credentials"] = str(self.resolve(c.creds_file))
        ctx = tls_context(c, self.resolve)
        if ctx is not None:
            opts["tls"] = ctx
            if c.tls_hostname:
                opts["tls_hostname"] = c.tls_hostname
        return opts

    def preflight(self) -> Problems:
        """The credentials file and TLS files must exist and be readable (the ``.creds`` file private)."""
        c = self.cfg
        if c.creds_file:
            yield from private_file(self.resolve(c.creds_file), "creds_file", "NATS credentials file")
        for key in ("tls_ca", "tls_cert", "tls_key"):
            value = getattr(c, key)
            if value:
                yield from readable_file(self.resolve(value), key, "TLS file")

    @property
    def servers_text(self) -> str:
        """The configured servers, without credentials."""
        return ", ".join(redact_url(s) for s in self.cfg.servers)

    async def connect_forever(self) -> NATS:
        """Connect; nats-py itself retries every ``reconnect_wait`` seconds until it works."""
        nc = await nats.connect(**self.options())
        self.nc = nc
        self._failed_once = False
        self.connected.set()
        self.log.info("connected to NATS at %s", redact_url(nc.connected_url.geturl() if nc.connected_url else "?"))
        return nc

    def start_background(self) -> None:
        """Connect in a background task (the first connect also retries forever)."""
        if self._connect_task is None:
            self._connect_task = asyncio.get_running_loop().create_task(self.connect_forever())

    async def wait_connected(self, timeout: float | None = None) -> NATS:
        """Wait until connected (``TimeoutError`` after ``timeout`` seconds)."""
        if timeout is None:
            await self.connected.wait()
        else:
            await asyncio.wait_for(self.connected.wait(), timeout)
        assert self.nc is not None
        return self.nc

    async def close(self, drain: bool = True) -> None:
        """Stop connecting; drain (flush what is pending, end subscriptions) or close the client."""
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()
            try:
                await self._connect_task
            except BaseException:  # noqa: BLE001 - cancelled, or the last attempt's error
                pass
        nc = self.nc
        if nc is None or nc.is_closed:
            return
        self.closing = True
        try:
            if drain and nc.is_connected:
                await nc.drain()
            else:
                await nc.close()
        except Exception as e:
            self.log.debug("closing the NATS connection: %s", describe_error(e))
            try:
                await nc.close()
            except Exception:
                pass
        self.connected.clear()

    # -- nats-py callbacks (secrets never reach these messages) ------------------------------

    async def _error_cb(self, e: Exception) -> None:
        if self.on_refused is not None and is_auth_refusal(e):
            self.on_refused(describe_error(e))
        if not self.connected.is_set() and not self._failed_once:
            self._failed_once = True
            self.log.warning("cannot reach NATS at %s (%s); retrying every %g s",
                             self.servers_text, describe_error(e), self.cfg.reconnect_wait)
        else:
            self.log.debug("NATS client error: %s", describe_error(e))

    async def _disconnected_cb(self) -> None:
        if self.connected.is_set() and not self.closing:
            self.disconnects += 1
            self.log.warning("disconnected from NATS; reconnecting every %g s", self.cfg.reconnect_wait)
        self.connected.clear()
        if self.on_disconnect is not None:
            self.on_disconnect()

    async def _reconnected_cb(self) -> None:
        nc = self.nc
        url = nc.connected_url.geturl() if nc is not None and nc.connected_url else "?"
        self.log.info("reconnected to NATS at %s", redact_url(url))
        self._failed_once = False
        self.connected.set()
        if self.on_reconnect is not None:
            self.on_reconnect()

    async def _closed_cb(self) -> None:
        self.connected.clear()


def is_auth_refusal(e: BaseException) -> bool:
    """True when the server refused the credentials (nats-py reports it in two shapes)."""
    return isinstance(e, nats.errors.AuthorizationError) or "authorization violation" in str(e).lower()


def describe_error(e: BaseException) -> str:
    """A short, secret-free description of a client error (nats-py errors carry no credentials)."""
    text = str(e).strip()
    name = type(e).__name__
    return f"{name}: {text}" if text and text != name else name

