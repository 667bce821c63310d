"""The ``console`` sink: one readable line per event on standard output.

Standard output can be a slow pipe or a paused terminal, and a blocking write there would stop the
whole event loop (every source and sink with it). So lines are collected and written by a worker
thread, a chunk at a time: a slow terminal slows only this sink, whose input buffer then fills and
(by default, ``when_full = "drop_oldest"``) drops the oldest lines, counted.
"""

from __future__ import annotations

import asyncio
import queue
import re
import sys
import threading
import time
from typing import Any, Literal

from livepipe.component import Emit, Sink
from livepipe.events import Event
from livepipe.schema import SinkConfig, WhenFull, field

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SUMMARY_MAX = 160
#: Lines are handed to the writer thread in chunks of about this many characters.
_CHUNK = 64 * 1024


class ConsoleConfig(SinkConfig):
    """Config of the ``console`` sink."""

    format: Literal["text", "json"] = field(
        "text", description="`text`: `12:00:01 room 1001 danmaku  Alice(123): hello`; `json`: the event's JSON form"
    )
    utc: bool = field(False, description="show times in UTC instead of local time (text format)")
    include_raw: bool = field(False, description="keep the original Bilibili message (`raw`) in json lines")
    when_full: WhenFull = field(
        "drop_oldest",
        description="when the terminal or pipe is slower than the events: `drop_oldest` (default: show the newest, "
        "count the dropped), `drop_newest`, or `block` (hold the producer back: the source slows to the "
        "terminal's pace)",
    )


def _clean(value: Any) -> str:
    """Text on one line: control characters (newlines, terminal escapes) become single spaces."""
    return _CONTROL.sub(" ", str(value))


def _summary(data: dict[str, Any]) -> str:
    parts = [f"{k}={_clean(v)}" for k, v in data.items() if isinstance(v, (str, int, float, bool))]
    s = " ".join(parts)
    return s if len(s) <= _SUMMARY_MAX else s[: _SUMMARY_MAX - 3] + "..."


def format_text(event: Event, *, utc: bool = False) -> str:
    """The text line for an event: time, room, kind, user, then text (or a summary of ``data``)."""
    try:
        t = time.strftime("%H:%M:%S", time.gmtime(event.ts) if utc else time.localtime(event.ts))
    except (OverflowError, ValueError, OSError):
        t = "??:??:??"
    room = "-" if event.room_id is None else event.room_id
    line = f"{t} room {room} {event.kind:<8} "
    if event.uname is not None:
        user = _clean(event.uname) + (f"({event.uid})" if event.uid is not None else "")
    elif event.uid is not None:
        user = f"uid {event.uid}"
    else:
        user = ""
    body = _clean(event.text) if event.text is not None else _summary(event.data)
    if user:
        line += f"{user}: {body}" if body else user
    else:
        line += body
    return line.rstrip()


class ConsoleSink(Sink):
    """Print each event as a readable line (or as JSON) on standard output."""

    type_name = "console"
    Config = ConsoleConfig

    def _render(self, event: Event) -> str:
        if self.config.format == "json":
            return event.to_json(include_raw=self.config.include_raw)
        return format_text(event, utc=self.config.utc)

    def __init__(self, config: ConsoleConfig, context: Any) -> None:
        super().__init__(config, context)
        self._pending: list[str] = []
        self._size = 0
        self._writer = _StdoutWriter()

    async def write(self, event: Event, emit: Emit) -> None:
        """Queue one line (written by a worker thread once a chunk is full, or at the next flush)."""
        line = self._render(event) + "\n"
        self._pending.append(line)
        self._size += len(line)
        if self._size >= _CHUNK:
            await self.flush()

    async def flush(self) -> None:
        """Write the queued lines and flush standard output, in a worker thread (the loop never blocks)."""
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._size = 0
        await self._writer.write(text)


class _StdoutWriter:
    """Writes chunks to standard output in a daemon thread.

    A daemon thread, so that a pipe nobody reads holds up neither the event loop nor the end of
    the process (the shutdown deadline abandons what it still holds).
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[str, asyncio.AbstractEventLoop, asyncio.Future[None]]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None

    async def write(self, text: str) -> None:
        """Write ``text`` and flush; returns once it was written (raises what the write raised)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="livepipe console writer", daemon=True)
            self._thread.start()
        self._queue.put((text, loop, done))
        await done

    def _run(self) -> None:
        while True:
            text, loop, done = self._queue.get()
            error: BaseException | None = None
            try:
                _write_out(text)
            except BaseException as e:  # noqa: BLE001 - handed to the waiting coroutine
                error = e
            try:
                loop.call_soon_threadsafe(_settle, done, error)
            except RuntimeError:  # the loop is gone (the process is ending)
                pass


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


def _write_out(text: str) -> None:
    """Write ``text`` to standard output and flush it (blocking; runs in a worker thread)."""
    out = sys.stdout
    try:
        out.write(text)
    except UnicodeEncodeError:  # a terminal that cannot show every character
        enc = getattr(out, "encoding", None) or "ascii"
        out.write(text.encode(enc, "replace").decode(enc))
    out.flush()
