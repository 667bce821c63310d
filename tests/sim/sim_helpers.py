"""Raw-protocol client helpers for the simulator core tests (no third-party Bilibili client)."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable
from typing import Any

import aiohttp

from livepipe.bilibili import protocol as P
from livepipe.bilibili import wbi
from livepipe.sim.app import Simulator


async def danmu_info(
    session: aiohttp.ClientSession, sim: Simulator, room_id: int, cookies: dict[str, str] | None = None,
    ssl_ctx: ssl.SSLContext | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Signed getDanmuInfo with a buvid3 cookie (plus ``cookies``); returns the JSON reply."""
    params = wbi.sign({"id": room_id, "type": 0}, sim.img_key, sim.sub_key)
    jar = {"buvid3": "SIMTEST-BUVID3infoc", **(cookies or {})}
    async with session.get(
        sim.base_url + "/xlive/web-room/v1/index/getDanmuInfo", params=params, cookies=jar, ssl=ssl_ctx or True
    ) as r:
        return await r.json()


def auth_packet(uid: int, room_id: int, key: str | None, protover: int = 3) -> bytes:
    """An AUTH packet like the web client's."""
    body: dict[str, Any] = {"uid": uid, "roomid": room_id, "protover": protover, "platform": "web", "type": 2,
                            "buvid": "SIMTEST-BUVID3infoc"}  # fmt: skip
    if key is not None:
        body["key"] = key
    return P.encode_packet(P.OP_AUTH, json.dumps(body))


async def connect(
    session: aiohttp.ClientSession, sim: Simulator, room_id: int, *, cookies: dict[str, str] | None = None,
    uid: int = 0, protover: int = 3, url: str | None = None, ssl_ctx: ssl.SSLContext | None = None,
) -> aiohttp.ClientWebSocketResponse:  # fmt: skip
    """Fetch a token, open /sub, authenticate; asserts the auth reply is ``{"code":0}``."""
    info = await danmu_info(session, sim, room_id, cookies, ssl_ctx)
    assert info["code"] == 0, info
    ws = await session.ws_connect(url or sim.ws_url, ssl=ssl_ctx or True)
    await ws.send_bytes(auth_packet(uid, room_id, info["data"]["token"], protover))
    msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.BINARY, msg
    assert msg.data == P.encode_packet(P.OP_AUTH_REPLY, b'{"code":0}', ver=1, seq=1)
    return ws


async def next_frame(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> bytes:
    """The next binary frame (fails on close or timeout)."""
    msg = await ws.receive(timeout=timeout)
    assert msg.type == aiohttp.WSMsgType.BINARY, f"expected a binary frame, got {msg.type}"
    return msg.data


async def wait_cmd(
    ws: aiohttp.ClientWebSocketResponse, pred: Callable[[dict[str, Any]], bool], timeout: float = 5.0
) -> dict[str, Any]:
    """Read frames until a command matching ``pred`` arrives."""

    async def _loop() -> dict[str, Any]:
        while True:
            for p in P.decode_frame(await next_frame(ws, timeout)):
                if p.op == P.OP_COMMAND:
                    cmd = json.loads(p.body)
                    if pred(cmd):
                        return cmd

    return await asyncio.wait_for(_loop(), timeout)


async def wait_closed(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> None:
    """Read (and discard) until the server closes the connection."""

    async def _loop() -> None:
        while True:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING,
                            aiohttp.WSMsgType.ERROR):  # fmt: skip
                return

    await asyncio.wait_for(_loop(), timeout)


def is_text(text: str) -> Callable[[dict[str, Any]], bool]:
    """Predicate: a DANMU_MSG whose text is ``text``."""
    return lambda c: str(c.get("cmd", "")).startswith("DANMU_MSG") and c["info"][1] == text
