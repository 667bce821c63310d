"""Retry pacing for the web source (sans-I/O apart from :meth:`TokenBucket.take`'s sleep).

* :func:`full_jitter` / :func:`equal_jitter`: one delay from a ceiling.
* :class:`TokenPacer`: how often one room may fetch a fresh ``getDanmuInfo`` token while its
  connections keep failing (exponential, equal jitter, reset by a healthy session).
* :func:`risk_delay`: the retry delay while risk control answers -352; it grows with how long
  the -352s have lasted (so a short episode is retried within seconds and a long one settles
  near ``ceiling_max``).
* :class:`TokenBucket`: a per-process budget of calls per second, so that many rooms retrying at
  once queue up instead of storming the API. Only retries spend it: a room's first connection is
  paced by the source's ``start_gap``.
"""

from __future__ import annotations

import random
import weakref
from dataclasses import dataclass

from livepipe.clock import Clock


def full_jitter(rng: random.Random, ceiling: float) -> float:
    """Uniform in ``[0, ceiling]`` (spreads retries the most; may be near zero)."""
    return rng.uniform(0.0, max(ceiling, 0.0))


def equal_jitter(rng: random.Random, ceiling: float) -> float:
    """Uniform in ``[ceiling / 2, ceiling]`` (spread, yet never shorter than half the ceiling)."""
    ceiling = max(ceiling, 0.0)
    return rng.uniform(ceiling / 2, ceiling)


@dataclass
class TokenPacer:
    """When a room may next call ``getDanmuInfo`` for a fresh token.

    The first fetch after a healthy session is allowed at once (an expired token is the usual
    cause of a refused AUTH); each further one waits an equal-jitter delay whose ceiling starts at
    ``initial`` and doubles up to ``maximum``. With the defaults (5 s, 60 s) a room that keeps
    failing fetches at most 5 tokens in its first minute. :meth:`reset` after a healthy session.
    """

    initial: float
    maximum: float
    level: int = 0
    not_before: float = 0.0

    def allowed(self, now: float) -> bool:
        """True when a fetch may happen at ``now``."""
        return now >= self.not_before

    def fetched(self, now: float, rng: random.Random) -> None:
        """Record a fetch at ``now``: the next one waits a longer delay."""
        ceiling = min(self.maximum, self.initial * (2 ** self.level))
        self.not_before = now + equal_jitter(rng, ceiling)
        self.level += 1

    def reset(self) -> None:
        """A healthy session: the next fetch is allowed at once and the delays start over."""
        self.level = 0
        self.not_before = 0.0


def risk_delay(rng: random.Random, lasted: float, *, initial: float, maximum: float) -> float:
    """Delay before the next try while -352 answers have gone on for ``lasted`` seconds.

    The ceiling is a fifth of ``lasted``, at least ``initial`` and at most ``maximum`` (equal
    jitter below it): after 30 s of -352 the next try is at most 6 s away, after five minutes
    up to a minute.
    """
    ceiling = min(maximum, max(initial, lasted / 5))
    return equal_jitter(rng, ceiling)


class TokenBucket:
    """``rate`` calls per second on average, bursts of up to ``burst``; :meth:`take` waits its turn.

    Waiters are served in arrival order (each reserves the next free slot), so 1,000 rooms asking
    at once spread over ``1000 / rate`` seconds.
    """

    def __init__(self, rate: float, burst: float, clock: Clock) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._tokens = burst
        self._at = clock.monotonic()
        self.waited = 0  # calls that had to wait (for metrics and tests)

    def _refill(self) -> None:
        now = self.clock.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    async def take(self) -> None:
        """Spend one token, sleeping until there is one."""
        self._refill()
        self._tokens -= 1.0  # reserve now, so later callers queue behind this one
        if self._tokens >= 0:
            return
        self.waited += 1
        await self.clock.sleep(-self._tokens / self.rate)


#: Process-wide budgets, one per clock (the real clock is one shared budget for the process).
_BUDGETS: weakref.WeakKeyDictionary[Clock, dict[str, TokenBucket]] = weakref.WeakKeyDictionary()
_REAL: dict[str, TokenBucket] = {}

#: name -> (calls per second, burst): ``danmu_info`` paces getDanmuInfo retries across every room
#: of the process; ``reconnect`` paces connection attempts that follow a failure.
BUDGETS = {"danmu_info": (5.0, 10.0), "reconnect": (20.0, 50.0)}


def budget(name: str, clock: Clock) -> TokenBucket:
    """The process-wide :class:`TokenBucket` called ``name`` (see :data:`BUDGETS`) for ``clock``."""
    table = _REAL if type(clock) is Clock else _BUDGETS.setdefault(clock, {})
    bucket = table.get(name)
    if bucket is None:
        rate, burst = BUDGETS[name]
        bucket = table[name] = TokenBucket(rate, burst, clock)
    return bucket


__all__ = ["BUDGETS", "TokenBucket", "TokenPacer", "budget", "equal_jitter", "full_jitter", "risk_delay"]
