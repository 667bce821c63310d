"""The ``replay`` source: read events (or raw Bilibili messages) back from a JSONL file.

The file is read line by line (a 1 GB recording never sits in memory; ``.gz`` files are read
through gzip). With ``speed > 0`` the gaps between the events' ``ts`` are reproduced, divided by
``speed``, on ``context.clock``. A bad line is logged as ``file:line: reason``, counted as an
error (``error_type="invalid_line"``) and skipped.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, Literal

import anyio.lowlevel
from pydantic import ValidationInfo, field_validator

from livepipe.component import Context, Emit, Source
from livepipe.errors import DecodeError
from livepipe.events import Event
from livepipe.preflight import Problems, readable_file
from livepipe.schema import SourceConfig, field

#: Bad lines logged one by one before the source only counts them.
MAX_LOGGED_BAD_LINES = 20


class ReplayError(DecodeError):
    """A line of the replay file could not be turned into events."""


class ReplayConfig(SourceConfig):
    """Config of the ``replay`` source."""

    path: str = field(description="JSONL file to read (`.gz` is decompressed); relative to the config file")
    format: Literal["auto", "events", "bilibili"] = field(
        "auto",
        description="`events`: livepipe Event JSON per line; `bilibili`: one raw Bilibili cmd message per line; "
        "`auto`: decide per line (an object with `kind` is an event, one with only `cmd` a raw message)",
    )
    room_id: int | None = field(
        None,
        description='room id for raw Bilibili messages (required with `format = "bilibili"`)',
        ge=1,
        validate_default=True,
    )
    speed: float = field(
        0.0,
        description="0 = as fast as possible; 1 = real time by the gaps between the events' `ts`; "
        "2 = twice as fast, 0.5 = half speed",
        ge=0,
    )
    loop: bool = field(False, description="start again from the top at the end of the file (ids repeat)")

    @field_validator("room_id")
    @classmethod
    def _room_for_raw(cls, v: int | None, info: ValidationInfo) -> int | None:
        if v is None and info.data.get("format") == "bilibili":
            raise ValueError('room_id is required when format = "bilibili" (raw messages do not carry it)')
        return v


def _as_events(result: Any) -> list[Event]:
    if result is None:
        return []
    if isinstance(result, Event):
        return [result]
    if isinstance(result, Iterable) and not isinstance(result, (str, bytes, dict)):
        out = list(result)
        if all(isinstance(e, Event) for e in out):
            return out
    raise ReplayError(f"parse_command returned {type(result).__name__}, not events")


class Replay(Source):
    """Emit the events of a JSONL recording, optionally at the recorded pace and in a loop."""

    type_name = "replay"
    Config = ReplayConfig

    def __init__(self, config: ReplayConfig, context: Context) -> None:
        super().__init__(config, context)
        self.file = context.path(config.path)
        self._parse_command: Callable[..., Any] | None = None
        self.bad_lines = 0
        self.emitted = 0

    def preflight(self) -> Problems:
        """The recording must exist and be readable."""
        yield from readable_file(self.file, "path", "replay file")

    async def start(self) -> None:
        """Fail early, naming the path, when the file is missing."""
        if not self.file.is_file():
            raise FileNotFoundError(f"replay {self.name!r}: {self.file} does not exist or is not a file")

    def _open(self) -> IO[bytes]:
        if self.file.suffix == ".gz":
            return gzip.open(self.file, "rb")
        return open(self.file, "rb")

    def _raw_parser(self) -> Callable[..., Any]:
        if self._parse_command is None:
            try:
                from livepipe.bilibili.commands import parse_command
            except ImportError as e:
                raise RuntimeError(
                    f"replay {self.name!r}: raw Bilibili lines need livepipe.bilibili.commands ({e})"
                ) from e
            self._parse_command = parse_command
        return self._parse_command

    def parse_line(self, line: bytes) -> list[Event]:
        """Turn one non-blank line into events; raise :class:`ReplayError` with the reason."""
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ReplayError(f"not valid JSON: {e}") from None
        if not isinstance(obj, dict):
            raise ReplayError(f"expected a JSON object, got {type(obj).__name__}")
        fmt = self.config.format
        if fmt == "auto":
            if "kind" in obj:
                fmt = "events"
            elif "cmd" in obj:
                fmt = "bilibili"
            else:
                raise ReplayError("neither an event (no 'kind') nor a raw Bilibili message (no 'cmd')")
        if fmt == "events":
            try:
                return [Event.from_dict(obj)]
            except (ValueError, TypeError) as e:
                raise ReplayError(f"not a valid event: {e}") from None
        if self.config.room_id is None:
            raise ReplayError("a raw Bilibili message, but no room_id is configured for this replay source")
        parse = self._raw_parser()
        try:
            return _as_events(parse(obj, self.config.room_id))
        except ReplayError:
            raise
        except Exception as e:  # the parser is lenient, but one odd message must not stop the replay
            raise ReplayError(f"cannot parse Bilibili message ({type(e).__name__}: {e})") from None

    def _bad(self, lineno: int, reason: str) -> None:
        self.bad_lines += 1
        self.metrics.error("invalid_line")
        if self.bad_lines <= MAX_LOGGED_BAD_LINES:
            self.log.warning("%s:%d: %s (line skipped)", self.file, lineno, reason)
            if self.bad_lines == MAX_LOGGED_BAD_LINES:
                self.log.warning("%s: further bad lines are counted but not logged", self.file)

    def _lines(self, fh: IO[bytes]) -> Iterator[tuple[int, bytes]]:
        """Numbered lines; a truncated or corrupt ``.gz`` ends the pass with one error instead of a crash."""
        lineno = 0
        try:
            for lineno, line in enumerate(fh, 1):
                yield lineno, line
        except (EOFError, zlib.error, gzip.BadGzipFile) as e:
            self._bad(lineno + 1, f"compressed data is truncated or corrupt ({e}); the rest of the file is skipped")

    async def _replay_once(self, emit: Emit) -> int:
        clock = self.context.clock
        speed = self.config.speed
        prev_ts: float | None = None
        prev_at = 0.0
        count = 0
        await anyio.lowlevel.checkpoint()  # a loop over a tiny file must still let others run (and be cancelled)
        with self._open() as fh:
            for lineno, line in self._lines(fh):
                if lineno % 256 == 0:
                    await anyio.lowlevel.checkpoint()
                if not line.strip():
                    continue
                try:
                    events = self.parse_line(line)
                except ReplayError as e:
                    self._bad(lineno, str(e))
                    continue
                for event in events:
                    if speed > 0:
                        if prev_ts is not None:
                            wait = (event.ts - prev_ts) / speed - (clock.monotonic() - prev_at)
                            if wait > 0:
                                await clock.sleep(wait)
                        prev_ts = event.ts
                        prev_at = clock.monotonic()
                    await emit(event)
                    count += 1
                    self.emitted += 1
        return count

    async def run(self, emit: Emit) -> None:
        """Emit every event of the file (again and again with ``loop``)."""
        while True:
            count = await self._replay_once(emit)
            self.log.info("replayed %d events from %s (%d bad lines so far)", count, self.file, self.bad_lines)
            if not self.config.loop:
                return
            if count == 0:
                self.log.warning("%s has no events; not looping over an empty file", self.file)
                return


__all__ = ["Replay", "ReplayConfig", "ReplayError"]
