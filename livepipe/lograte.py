"""Rate-limited log lines: the first occurrence, then one line with a count every ``interval`` seconds.

A fault that repeats for every event (a full disk, a refused connection, a malformed frame in a
flood) must not write thousands of lines. :class:`RateLimitedLog` logs a line the first time its
key is seen, counts the repeats silently, and, on the first repeat once ``interval`` seconds have
passed, logs the message again with how many were suppressed since::

    errors = RateLimitedLog(log, interval=10)
    errors.log(logging.WARNING, "write", "cannot write to %s: %s", path, why)
    ...
    errors.close()  # at shutdown: one last line for repeats not yet reported

Keys are chosen by the caller (usually the kind of fault, not the event), so different faults are
reported independently.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

#: Seconds between two lines for the same key, unless the caller chooses otherwise.
DEFAULT_INTERVAL = 10.0

#: Distinct keys remembered per log; past this, every new key shares one (keys may come from user data).
MAX_KEYS = 100
_OVERFLOW = "\x00overflow"


@dataclass
class _Seen:
    last_logged: float
    suppressed: int = 0
    level: int = logging.WARNING
    msg: str = ""
    args: tuple[object, ...] = ()


class RateLimitedLog:
    """Log each key's first occurrence, then at most one line (with a repeat count) per ``interval``."""

    def __init__(self, logger: logging.Logger, interval: float = DEFAULT_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.logger = logger
        self.interval = interval
        self._clock = clock
        self._seen: dict[str, _Seen] = {}

    def log(self, level: int, key: str, msg: str, *args: object, exc_info: BaseException | None = None) -> bool:
        """Log ``msg % args`` unless ``key`` was logged less than ``interval`` ago; True when written.

        ``exc_info`` (an exception) adds its traceback to the line, when the line is written.
        """
        now = self._clock()
        seen = self._seen.get(key)
        if seen is None and len(self._seen) >= MAX_KEYS:
            key = _OVERFLOW
            seen = self._seen.get(key)
        if seen is None:
            self._seen[key] = _Seen(now, 0, level, msg, args)
            self.logger.log(level, msg, *args, exc_info=exc_info)
            return True
        if now - seen.last_logged < self.interval:
            seen.suppressed += 1
            seen.level, seen.msg, seen.args = level, msg, args
            return False
        suppressed, seen.suppressed, seen.last_logged = seen.suppressed, 0, now
        if suppressed:
            self.logger.log(level, msg + " (and %d more like this in the last %.0f s)", *args, suppressed,
                            self.interval, exc_info=exc_info)
        else:
            self.logger.log(level, msg, *args, exc_info=exc_info)
        return True

    def suppressed(self, key: str) -> int:
        """Repeats of ``key`` counted but not yet reported."""
        seen = self._seen.get(key)
        return seen.suppressed if seen is not None else 0

    def reset(self, key: str) -> None:
        """Forget ``key`` (the fault cleared): its next occurrence is logged at once."""
        self.close(key)
        self._seen.pop(key, None)

    def close(self, key: str | None = None) -> None:
        """Report repeats not yet reported (for ``key``, or every key), e.g. at shutdown."""
        for seen in list(self._seen.values()) if key is None else [self._seen.get(key)]:
            if seen is not None and seen.suppressed:
                self.logger.log(seen.level, seen.msg + " (and %d more like this since the last report)",
                                *seen.args, seen.suppressed)
                seen.suppressed = 0
                seen.last_logged = self._clock()
