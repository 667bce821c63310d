"""The ``replay`` source: read events (or lines of another registered format) back from a JSONL file.

What a line holds is its ``format``: ``events`` is built in, others are registered by plugins
(:mod:`livepipe.components.replay_formats`; the Bilibili layer registers ``bilibili``, raw cmd messages),
so this generic component knows no service.

The file is read line by line (a 1 GB recording never sits in memory; ``.gz`` files are read
through gzip). With ``speed > 0`` every event is due at a fixed point of an absolute schedule,
``start + (ts - first_ts) / speed`` on ``context.clock``, so time spent emitting or oversleeping
never accumulates; events already due are emitted together without sleeping.

One bad line never stops a replay: a line that is not JSON, nests too deeply, is not an object, or
is not a valid event (``docs/event.schema.json``: an integer ``id``, a string ``room_id``, no
``kind``, ...) is skipped and counted by reason (``replay_bad_lines_total{reason}``, and
``component_errors_total{error_type="invalid_line"}``), and the rest of the file is read. The log
names ``file:line``, the reason and the fix for the first :data:`MAX_LOGGED_BAD_LINES` bad lines,
then at most one summary line every :data:`BAD_LINE_REPORT_EVERY` seconds.
"""

from __future__ import annotations

import gzip
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import IO, Any

import anyio.lowlevel
from pydantic import ValidationInfo, field_validator

from livepipe.component import Context, Emit, Source
from livepipe.components.replay_formats import AUTO, EVENTS, ReplayFormat, find_format, replay_formats
from livepipe.errors import DecodeError, PluginError
from livepipe.events import Event, JsonDepthError, loads_json
from livepipe.preflight import Problems, readable_file
from livepipe.schema import SourceConfig, field

#: Bad lines logged one by one before the source logs only a summary.
MAX_LOGGED_BAD_LINES = 20
#: After that, at most one summary line (counts by reason, the latest place) this often, in seconds.
BAD_LINE_REPORT_EVERY = 10.0
#: Replay with ``speed > 0`` sleeps only when the next event is due at least this far ahead
#: (seconds); events due sooner are emitted at once, in one batch.
TICK = 0.001

#: reason of a bad line -> what to do about it (said in the log).
FIXES: dict[str, str] = {
    "bad_json": "each line must be one JSON object; repair or delete the line",
    "too_deep": "no event nests this deeply; delete the line",
    "not_object": "each line must be a JSON object, not an array or a value",
    "unknown_shape": "an event needs a 'kind' (a raw Bilibili message a 'cmd'); or name the line's format "
                     "with format = \"NAME\"",
    "invalid_event": "make the line match the event schema, docs/event.schema.json",
    "no_room_id": "set room_id on this replay source (lines of this format do not carry one)",
    "bad_message": "the line cannot be parsed in its format; delete the line",
    "corrupt_file": "the compressed file is damaged; recompress what can be read",
}


class ReplayError(DecodeError):
    """A line of the replay file could not be turned into events; ``reason`` is a key of :data:`FIXES`."""

    def __init__(self, message: str, reason: str = "invalid_event") -> None:
        super().__init__(message)
        self.reason = reason


class ReplayConfig(SourceConfig):
    """Config of the ``replay`` source."""

    path: str = field(description="JSONL file to read (`.gz` is decompressed); relative to the config file")
    format: str = field(
        AUTO,
        description="what each line holds: `events` (livepipe Event JSON), `bilibili` (one raw Bilibili cmd "
        "message), a format a plugin registers, or `auto`: decide per line (an object with `kind` is an event, "
        "one with only `cmd` a raw message, others as the registered formats recognise them)",
    )
    room_id: int | None = field(
        None,
        description='room id for formats whose lines carry none (required with `format = "bilibili"`)',
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

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        try:
            find_format(v)  # an unknown name: a config error naming the closest known format
        except PluginError as e:  # a broken format plugin: said at the key that needs the formats
            raise ValueError(str(e)) from None
        return v

    @field_validator("room_id")
    @classmethod
    def _room_for_raw(cls, v: int | None, info: ValidationInfo) -> int | None:
        fmt = info.data.get("format")
        if v is None and fmt not in (None, AUTO) and find_format(fmt).needs_room_id:  # type: ignore[union-attr]
            raise ValueError(f'room_id is required when format = "{fmt}" (its lines do not carry one)')
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
    raise ReplayError(f"the format's parser returned {type(result).__name__}, not events", "bad_message")


class Replay(Source):
    """Emit the events of a JSONL recording, optionally at the recorded pace and in a loop."""

    type_name = "replay"
    Config = ReplayConfig

    def __init__(self, config: ReplayConfig, context: Context) -> None:
        super().__init__(config, context)
        self.file = context.path(config.path)
        formats = replay_formats()
        #: the configured format (None: decide per line among :attr:`_auto`, the formats that can detect)
        self._format: ReplayFormat | None = find_format(config.format, formats)
        #: the other formats ``auto`` can recognise, in order (events come first, checked inline)
        self._auto = [(f, f.detect) for f in formats.values() if f.detect is not None and f is not EVENTS]
        self.bad_lines = 0
        self.emitted = 0
        self._unreported: Counter[str] = Counter()
        self._last_bad = ""
        self._reported_at = 0.0

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

    def parse_line(self, line: bytes) -> list[Event]:
        """Turn one non-blank line into events; raise :class:`ReplayError` with the reason."""
        try:
            obj = loads_json(line)
        except JsonDepthError as e:
            raise ReplayError(str(e), "too_deep") from None
        except ValueError as e:
            raise ReplayError(str(e), "bad_json") from None
        if not isinstance(obj, dict):
            raise ReplayError(f"expected a JSON object, got {type(obj).__name__}", "not_object")
        fmt = self._format
        if fmt is None:  # auto: events are recognised inline (the common case), others by their detect
            fmt = EVENTS if "kind" in obj else self._detect(obj)
        if fmt is EVENTS:
            try:
                return [Event.from_dict(obj)]
            except (ValueError, TypeError) as e:
                raise ReplayError(f"not a valid event: {e}") from None
        if fmt.needs_room_id and self.config.room_id is None:
            raise ReplayError(f"a line of format {fmt.name!r} (no room id of its own), but no room_id is configured "
                              "for this replay source", "no_room_id")
        try:
            return _as_events(fmt.parse(obj, self.config.room_id))
        except ReplayError:
            raise
        except Exception as e:  # a parser may be lenient or not: one odd line must not stop the replay
            raise ReplayError(f"cannot parse this {fmt.name} line ({type(e).__name__}: {e})", "bad_message") from None

    def _detect(self, obj: dict[str, Any]) -> ReplayFormat:
        """The format of a line without a ``kind`` under ``format = "auto"``: the first whose ``detect`` accepts it."""
        for fmt, detect in self._auto:
            if detect(obj):
                return fmt
        others = ", ".join(f.name for f, _ in self._auto) or "none installed"
        raise ReplayError(f"neither an event (no 'kind') nor a line another format recognises ({others})",
                          "unknown_shape")

    def _bad(self, lineno: int, error: ReplayError) -> None:
        """Count a bad line by reason; log it (the first ones), or fold it into a periodic summary."""
        reason = error.reason
        self.bad_lines += 1
        self.metrics.error("invalid_line")
        self.metrics.counter("replay_bad_lines_total", "lines a replay source skipped, by reason", reason=reason).inc()
        where = f"{self.file}:{lineno}"
        if self.bad_lines <= MAX_LOGGED_BAD_LINES:
            self.log.warning("%s: %s (line skipped; %s)", where, error, FIXES.get(reason, "delete the line"))
            if self.bad_lines == MAX_LOGGED_BAD_LINES:
                self.log.warning("%s: further bad lines are counted (replay_bad_lines_total) and summarised "
                                 "every %g s", self.file, BAD_LINE_REPORT_EVERY)  # fmt: skip
                self._reported_at = self.context.clock.monotonic()
            return
        self._unreported[reason] += 1
        self._last_bad = f"{where}: {error}"
        if self.context.clock.monotonic() - self._reported_at >= BAD_LINE_REPORT_EVERY:
            self._report_bad()

    def _report_bad(self) -> None:
        """Log the bad lines counted since the last summary (nothing when there are none)."""
        if not self._unreported:
            return
        n = sum(self._unreported.values())
        reasons = ", ".join(f"{r} {c}" for r, c in self._unreported.most_common())
        self.log.warning("%s: %d more bad lines skipped (%s); the latest: %s", self.file, n, reasons, self._last_bad)
        self._unreported.clear()
        self._reported_at = self.context.clock.monotonic()

    def _lines(self, fh: IO[bytes]) -> Iterator[tuple[int, bytes]]:
        """Numbered lines; a truncated or corrupt ``.gz`` ends the pass with one error instead of a crash."""
        lineno = 0
        try:
            for lineno, line in enumerate(fh, 1):
                yield lineno, line
        except (EOFError, zlib.error, gzip.BadGzipFile) as e:
            msg = f"compressed data is truncated or corrupt ({e}); the rest of the file is skipped"
            self._bad(lineno + 1, ReplayError(msg, "corrupt_file"))

    async def _replay_once(self, emit: Emit) -> int:
        clock = self.context.clock
        speed = self.config.speed
        first_ts: float | None = None  # the schedule: event due at start + (ts - first_ts) / speed
        start = 0.0
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
                    self._bad(lineno, e)
                    continue
                except Exception as e:  # noqa: BLE001 - whatever one line does, the rest of the file is read
                    self._bad(lineno, ReplayError(f"unexpected {type(e).__name__}: {e}", "bad_message"))
                    continue
                for event in events:
                    if speed > 0:
                        if first_ts is None:
                            first_ts, start = event.ts, clock.monotonic()
                        else:
                            wait = start + (event.ts - first_ts) / speed - clock.monotonic()
                            if wait >= TICK:
                                await clock.sleep(wait)
                    await emit(event)
                    count += 1
                    self.emitted += 1
        self._report_bad()
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
