"""Bilibili danmaku XML lines for the ``file`` sink's ``format = "xml"`` (no I/O besides :func:`reopen`).

The format recorders (blrec, BililiveRecorder) write and converters (DanmakuFactory) read::

    <?xml version="1.0" encoding="UTF-8"?>
    <i>
    <!-- livepipe start=1700000000.000: <d> times are seconds after this unix time -->
    <d p="12.345,1,25,16777215,1700000012345,0,1b9f3a2c,EVENT_ID" user="name">text</d>
    </i>

``p`` = time after the stream's start (s), mode, font size, colour (decimal RGB), the message's unix
time in milliseconds, pool (0), the CRC32 of the sender's uid in hex (as Bilibili's own XML; ``0`` when
unknown), the event id. Each ``<d>`` is one line: newlines in the text are written as ``&#10;``, and
characters XML 1.0 forbids (control characters, lone surrogates) are dropped.
"""

from __future__ import annotations

import errno
import os
import re
import zlib
from xml.sax.saxutils import escape, quoteattr

from livepipe.events import Event

HEADER = b'<?xml version="1.0" encoding="UTF-8"?>\n<i>\n'
FOOTER = b"</i>\n"
_START = re.compile(rb"<!-- livepipe start=(-?[0-9.]+):")
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ENTITIES = {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def clean(text: str) -> str:
    """``text`` escaped for XML character data on one line; characters XML 1.0 forbids removed."""
    return escape(_NOT_XML.sub("", text), _ENTITIES)


def uid_hash(uid: int | None) -> str:
    """The sender hash Bilibili's XML carries: CRC32 of the decimal uid, lowercase hex (``0`` if unknown)."""
    if not uid:
        return "0"
    return format(zlib.crc32(str(uid).encode()), "x")


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


def d_line(event: Event, start: float) -> bytes:
    """One ``<d>`` element (with its newline) for a ``danmaku`` event, timed from ``start``."""
    d = event.data
    p = ",".join((
        f"{max(event.ts - start, 0.0):.3f}",
        str(_int(d.get("mode"), 1)),
        str(_int(d.get("font_size"), 25)),
        str(_int(d.get("color"), 0xFFFFFF)),
        str(int(event.ts * 1000)),
        "0",
        uid_hash(event.uid),
        _NOT_XML.sub("", event.id).replace(",", "_"),
    ))
    user = quoteattr(clean(event.uname or ""), _ENTITIES)
    text = f'<d p="{p}" user={user}>{clean(event.text or "")}</d>\n'
    return text.encode("utf-8")


def start_comment(start: float) -> bytes:
    """The comment that records a file's start time (read back by :func:`reopen`)."""
    return f"<!-- livepipe start={start:.3f}: <d> times are seconds after this unix time -->\n".encode()


def live_start(event: Event) -> float:
    """When the stream of a ``live`` event started: its ``live_time`` if given, else the event's time."""
    t = event.data.get("live_time")
    return float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) and t > 0 else event.ts


def reopen(fd: int, size: int) -> tuple[int, float | None]:
    """Prepare an opened (``O_APPEND``) file for more ``<d>`` lines; return its size and recorded start.

    An empty file gets the header; a file ending with ``</i>`` (a clean stop) loses it, so lines can
    follow; a file without it (a crash) is appended to as it is. Raises ``OSError`` (``EINVAL``) for a
    file that is not danmaku XML, so nothing is appended to, say, a JSONL file.
    """
    if size == 0:
        os.write(fd, HEADER)
        return len(HEADER), None
    head = os.pread(fd, 4096, 0)
    if not head.startswith(HEADER[:5]) or b"<i>" not in head:
        raise OSError(errno.EINVAL, "not a danmaku XML file (no <?xml ...?> and <i> at its start); "
                      "choose another path for format = \"xml\"")
    if size >= len(FOOTER) and os.pread(fd, len(FOOTER), size - len(FOOTER)) == FOOTER:
        size -= len(FOOTER)
        os.ftruncate(fd, size)
    m = _START.search(head)
    return size, float(m.group(1)) if m else None
