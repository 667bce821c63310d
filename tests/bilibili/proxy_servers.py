"""Small real proxies for tests: HTTP (CONNECT and absolute-form forwarding) and SOCKS5, on 127.0.0.1:0.

Each counts the connections it carried and to where, and can demand a user and password (HTTP
``Proxy-Authorization: Basic``, SOCKS5 method 2), so a test can prove traffic went through it and
that credentials in the proxy URL were used. Test-only: one connection per client connection,
bytes piped both ways until either side closes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import struct
from collections import Counter
from collections.abc import AsyncIterator


class _Proxy:
    def __init__(self, user: str | None, password: str | None) -> None:
        self.user = user
        self.password = password
        self.connections = 0  # client connections accepted
        self.tunnels: Counter[str] = Counter()  # "host:port" -> connections carried there
        self.refused = 0  # connections refused for bad or missing credentials
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and cut every open tunnel (idempotent)."""
        assert self._server is not None
        self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int,
                   first: bytes = b"") -> None:  # fmt: skip
        up_r, up_w = await asyncio.open_connection(host, port)
        self.tunnels[f"{host}:{port}"] += 1
        if first:
            up_w.write(first)

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        await asyncio.gather(copy(reader, up_w), copy(up_r, writer), return_exceptions=True)


class HttpProxy(_Proxy):
    """``CONNECT host:port`` tunnels, and ``GET http://host:port/...`` forwarded as they are."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        if self.user is not None:
            want = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            if headers.get("proxy-authorization") != want:
                self.refused += 1
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")  # fmt: skip
                await writer.drain()
                return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await self.pipe(reader, writer, host.strip("[]"), int(port))
            return
        # absolute-form: forward the request as it came (servers accept absolute-form targets)
        rest = target.split("://", 1)[1]
        hostport = rest.split("/", 1)[0]
        host, _, port = hostport.rpartition(":")
        kept = [ln for ln in lines if not ln.lower().startswith("proxy-authorization:")]
        await self.pipe(reader, writer, host.strip("[]"), int(port or 80), "\r\n".join(kept).encode("latin-1"))


class Socks5Proxy(_Proxy):
    """SOCKS5 CONNECT (RFC 1928), with user/password authentication (RFC 1929) when configured."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ver, n = await reader.readexactly(2)
        methods = await reader.readexactly(n)
        if ver != 5:
            return
        want = 2 if self.user is not None else 0
        if want not in methods:
            self.refused += 1
            writer.write(b"\x05\xff")
            return
        writer.write(bytes([5, want]))
        if want == 2:
            _, ulen = await reader.readexactly(2)
            user = (await reader.readexactly(ulen)).decode()
            (plen,) = await reader.readexactly(1)
            password = (await reader.readexactly(plen)).decode()
            ok = user == self.user and password == self.password
            writer.write(b"\x01\x00" if ok else b"\x01\x01")
            if not ok:
                self.refused += 1
                return
        _, cmd, _, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif atyp == 3:
            (hlen,) = await reader.readexactly(1)
            host = (await reader.readexactly(hlen)).decode()
        else:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if cmd != 1:
            writer.write(b"\x05\x07\x00\x01" + bytes(6))
            return
        writer.write(b"\x05\x00\x00\x01" + bytes(4) + struct.pack("!H", 0))
        await writer.drain()
        await self.pipe(reader, writer, host, port)


@contextlib.asynccontextmanager
async def running_proxy(kind: str, user: str | None = None, password: str | None = None) -> AsyncIterator[_Proxy]:
    """Start an ``"http"`` or ``"socks5"`` proxy on 127.0.0.1 (OS-chosen port) for the block."""
    proxy = HttpProxy(user, password) if kind == "http" else Socks5Proxy(user, password)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


def proxy_url(proxy: _Proxy, kind: str) -> str:
    """The URL a client uses for ``proxy`` (with its credentials, if any)."""
    auth = f"{proxy.user}:{proxy.password}@" if proxy.user is not None else ""
    return f"{kind}://{auth}{proxy.url_host}"
