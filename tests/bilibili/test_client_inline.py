"""Frames handled in the WebSocket's protocol callback and pushed on (DanmakuClient with ``push``)."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from livepipe.bilibili.client import DanmakuClient, auth_body
from livepipe.events import Event
from livepipe.sim import run_simulator

pytestmark = pytest.mark.anyio


async def test_pushed_events_follow_the_connect_events_and_a_full_receiver_pauses_reading() -> None:
    async with run_simulator(rooms=[1000], allow_keyless=True, batch_interval=0.01) as sim:
        log: list[str] = []
        paused: list[Callable[[], None]] = []
        full = True

        async def on_authenticated() -> None:
            # a frame that arrives while this runs is held, and pushed after it (after its events)
            st = client.stats
            others = st.decode.events - st.heartbeat_replies
            sim.inject(1000, sim.make_danmaku(1000, "m0"), ver=3)
            with anyio.fail_after(10):
                while st.decode.events - st.heartbeat_replies == others:  # (decoded, not yet pushed)
                    await anyio.lowlevel.checkpoint()
            log.append("connected")

        async def on_events(events: list[Event]) -> None:  # pragma: no cover - push takes every frame
            raise AssertionError("with push, on_events is not awaited")

        def push(events: list[Event], resume: Callable[[], None]) -> bool:
            texts = [str(ev.text) for ev in events if ev.kind == "danmaku"]
            log.extend(texts)
            if full and texts:
                paused.append(resume)
                return True
            return False

        client = DanmakuClient(1000, on_events, on_authenticated=on_authenticated, push=push)
        url = sim.base_url.replace("http://", "ws://") + "/sub"
        async with anyio.create_task_group() as tg:

            tg.start_soon(client.run, url, auth_body(0, 1000, "", ""))
            with anyio.fail_after(10):
                while not paused:
                    await anyio.lowlevel.checkpoint()
            assert log == ["connected", "m0"]
            inline = paused[0].__self__  # type: ignore[attr-defined]
            assert not inline.ws.transport.is_reading()  # the receiver is full: the socket reads nothing
            full = False
            for n in range(1, 20):
                sim.inject_danmaku(1000, f"m{n}")
            paused[0]()  # room again
            assert inline.ws.transport.is_reading()
            with anyio.fail_after(10):
                while len(log) < 21:
                    await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()
        assert log == ["connected"] + [f"m{n}" for n in range(20)]
        assert client.stats.session_frames >= 2 and client.stats.frames.value >= 3


async def test_the_frame_reader_takes_plain_frames_and_leaves_the_rest_to_websockets_in_order() -> None:
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    from livepipe.bilibili.frames import FrameConnection

    sent = [b"a" * 10, b"b" * 300, b"c" * 70_000]  # 7-, 16- and 64-bit lengths

    async def handler(ws) -> None:
        await ws.recv()  # "go": the client reads the frames itself by now
        for data in sent:
            await ws.send(data)
        await ws.send([b"frag", b"mented"])  # a fragmented message: websockets' way from here on
        await ws.ping()
        await ws.send(b"after")
        await ws.close()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = await connect(f"ws://127.0.0.1:{port}", create_connection=FrameConnection)
        got: list[bytes] = []
        ws.on_frame = got.append
        ws.read_frames()
        assert ws._own is not None  # reading frames itself
        await ws.send("go")
        with anyio.fail_after(10):
            with pytest.raises(ConnectionClosed):
                while True:
                    frame = await ws.recv(decode=False)
                    ws.queued -= 1
                    got.append(frame)
    assert got == [*sent, b"fragmented", b"after"]
    assert ws._own is None and ws.queued == 0  # websockets took the stream at the fragment
