"""Logging repeated errors without one line per event.

:class:`ErrorLog` logs the first error of each kind (its ``key``) at once, and after that at most one
line per ``interval`` seconds saying how many more there were. The counts in the metrics stay exact;
only the log is thinned.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from time import monotonic
from typing import Any

#: Distinct keys remembered per log; past this, every new key counts as a repeat.
MAX_KEYS = 100

#: Longest traceback text kept in a dead-letter event (characters; the end is kept, where the error is).
TRACEBACK_MAX = 8000


def format_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` as text, at most :data:`TRACEBACK_MAX` characters (its last ones)."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return text if len(text) <= TRACEBACK_MAX else "...\n" + text[-TRACEBACK_MAX:]


class ErrorLog:
    """Rate-limited error logging for one component (see the module docstring)."""

    def __init__(self, log: logging.Logger, interval: float = 60.0, level: int = logging.ERROR,
                 now: Callable[[], float] = monotonic) -> None:
        self.log = log
        self.interval = interval
        self.level = level
        self._now = now
        self._keys: set[str] = set()
        self._repeats = 0
        self._last = now()

    def report(self, key: str, msg: str, *args: Any, exc_info: BaseException | None = None) -> bool:
        """Log ``msg % args`` if ``key`` is new; otherwise count it, and every ``interval`` s log the count.

        Returns True when this call wrote the message itself.
        """
        now = self._now()
        if key not in self._keys and len(self._keys) < MAX_KEYS:
            self._keys.add(key)
            self._last = now
            self.log.log(self.level, msg, *args, exc_info=exc_info)
            return True
        self._repeats += 1
        if now - self._last >= self.interval:
            self.log.log(self.level, "%s (%d errors like it in the last %.0f s, this one included; all are "
                         "counted in component_errors_total)", msg % args if args else msg, self._repeats,
                         now - self._last)
            self._repeats = 0
            self._last = now
        return False
