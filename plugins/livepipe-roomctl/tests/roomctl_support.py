"""Helpers for the simulator tests: a collecting sink to wait on, a request counter, config building."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import tomli_w
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from livepipe import hookimpl, plugins
from livepipe.component import Emit, Sink
from livepipe.config import PipelineConfig
from livepipe.events import Event
from livepipe.schema import SinkConfig
from livepipe.testing import load_toml

ROOM = 22000076
SHORT = 76

_STREAMS: dict[str, MemoryObjectSendStream[Event]] = {}


class CollectSink(Sink):
    """Hands every event to the test through a memory stream, so a test awaits events instead of sleeping."""

    type_name = "roomctl_test.collect"

    class Config(SinkConfig):
        """Config of roomctl_test.collect."""

    async def write(self, event: Event, emit: Emit) -> None:
        await _STREAMS[self.name].send(event)


class _Plugin:
    @hookimpl
    def livepipe_register_components(self, registry: Any) -> None:
        registry.register(CollectSink)


def install() -> None:
    """Register the collecting sink (idempotent)."""
    if plugins.manager().get_plugin("roomctl_test") is None:
        plugins.register_plugin(_Plugin(), "roomctl_test")


def collector(name: str) -> MemoryObjectReceiveStream[Event]:
    """The stream the ``roomctl_test.collect`` sink with id ``name`` sends to."""
    send, recv = anyio.create_memory_object_stream[Event](1000)
    _STREAMS[name] = send
    return recv


async def next_event(stream: MemoryObjectReceiveStream[Event], timeout: float = 15.0) -> Event:
    """The next collected event, or fail after ``timeout`` seconds (a safety net, not a synchronisation)."""
    with anyio.fail_after(timeout):
        return await stream.receive()


def count_requests(sim: Any) -> Counter[str]:
    """Count every HTTP request the simulator answers, by path (its fault check runs once per request)."""
    counts: Counter[str] = Counter()
    original = sim.faults.http_fault_for

    def counting(path: str) -> int | None:
        counts[path] += 1
        return original(path)

    sim.faults.http_fault_for = counting
    return counts


def credential_table(cookies: dict[str, str]) -> dict[str, str]:
    """A [credentials.NAME] table from the simulator's cookies."""
    return {"sessdata": cookies["SESSDATA"], "bili_jct": cookies["bili_jct"], "dedeuserid": cookies["DedeUserID"],
            "buvid3": cookies["buvid3"]}


def load(doc: dict[str, Any], tmp_path: Path) -> PipelineConfig:
    """Load a config given as a dict (written as TOML first, like a user's file)."""
    install()
    return load_toml(tomli_w.dumps(doc), tmp_path)
