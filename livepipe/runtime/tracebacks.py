"""Tracebacks as text for dead-letter events: bounded, keeping the end (where the error is)."""

from __future__ import annotations

import traceback

#: Longest traceback text kept in a dead-letter event (characters; the end is kept, where the error is).
TRACEBACK_MAX = 8000


def format_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` as text, at most :data:`TRACEBACK_MAX` characters (its last ones)."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return text if len(text) <= TRACEBACK_MAX else "...\n" + text[-TRACEBACK_MAX:]
