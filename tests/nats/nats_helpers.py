"""Shared pieces of the NATS tests: a paced generator source, waiting on conditions, reading a stream."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from livepipe import plugins
from livepipe.component import Emit, Source
from livepipe.events import make_event
from livepipe.hookspecs import hookimpl
from livepipe.schema import SourceConfig, field


class GenSource(Source):
    """Emits ``count`` danmaku events with ids ``e<n>`` over ``rooms`` rooms, ``chunk`` at a time."""

    type_name = "t.natsgen"

    class Config(SourceConfig):
        count: int = field(1000, description="how many")
        rooms: int = field(2, description="rooms to spread over")
        chunk: int = field(0, description="sleep `pause` s after this many (0 = never)")
        pause: float = field(0.0, description="pause between chunks")

    async def run(self, emit: Emit) -> None:
        c = self.config
        for n in range(c.count):
            await emit(make_event("danmaku", id=f"e{n}", room_id=1000 + n % c.rooms, ts=1.0 + n, uid=n,
                                  text=f"message {n}", data={"n": n}))
            if c.chunk and (n + 1) % c.chunk == 0:
                await anyio.sleep(c.pause)


class _P:
    @hookimpl
    def livepipe_register_components(self, registry: Any) -> None:
        registry.register(GenSource)


def install() -> None:
    if plugins.manager().get_plugin("tests_nats") is None:
        plugins.register_plugin(_P(), "tests_nats")


async def wait_until(cond: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``cond`` (cheaply, yielding to the loop) until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await anyio.sleep(0.01)


async def stream_ids(url: str, stream: str, subject: str = ">") -> list[str]:
    """Every message's Nats-Msg-Id in a stream, in stream order (ephemeral consumer, no acks)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        total = info.state.messages
        sub = await js.pull_subscribe(subject, stream=stream, config=ConsumerConfig(
            ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=30.0))
        ids: list[str] = []
        while len(ids) < total:
            msgs = await sub.fetch(1000, timeout=5)
            ids.extend((m.headers or {}).get("Nats-Msg-Id", "") for m in msgs)
        return ids
    finally:
        await nc.close()
