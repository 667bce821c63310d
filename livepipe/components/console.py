"""The ``console`` sink: one readable line per event on standard output."""

from __future__ import annotations

import re
import sys
import time
from typing import Any, Literal

from livepipe.component import Emit, Sink
from livepipe.events import Event
from livepipe.schema import SinkConfig, field

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SUMMARY_MAX = 160


class ConsoleConfig(SinkConfig):
    """Config of the ``console`` sink."""

    format: Literal["text", "json"] = field(
        "text", description="`text`: `12:00:01 room 1001 danmaku  Alice(123): hello`; `json`: the event's JSON form"
    )
    utc: bool = field(False, description="show times in UTC instead of local time (text format)")
    include_raw: bool = field(False, description="keep the original Bilibili message (`raw`) in json lines")


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

    async def write(self, event: Event, emit: Emit) -> None:
        """Print one line."""
        out = sys.stdout
        line = self._render(event) + "\n"
        try:
            out.write(line)
        except UnicodeEncodeError:  # a terminal that cannot show every character
            enc = getattr(out, "encoding", None) or "ascii"
            out.write(line.encode(enc, "replace").decode(enc))

    async def flush(self) -> None:
        """Flush standard output (the runtime calls this when the input runs empty, at most every 0.1 s)."""
        sys.stdout.flush()
