"""Which rule regexes cannot backtrack without end, so may search a short message without a time limit.

A rule's regex runs on the ``regex`` library with a time limit per message (``matchers.REGEX_TIMEOUT``),
so a pattern such as ``(a+)+b`` gives up instead of freezing the pipeline. The limit is not free: the
library reads the process's CPU clock around a timed search, about 1.1 us per search against 0.2 us for
the search itself on a danmaku, and every danmaku is searched. Most real patterns (``加v\\d{6,}``,
``(?:vx|wx)\\s*\\d{5,}``, ``代.{0,4}练``) cannot take long on a message of a hundred characters, whatever
its text: they have no repeat inside a repeat and few repeats in a row.

:func:`backtracking_degree` reads a pattern with the standard library's parser (``re``'s syntax, which
the ``regex`` library shares) and bounds the work a search can do: on a subject of ``n`` characters, at
most about ``n ** (degree + 1)`` steps (one start position after another, each repeat trying at most
``n`` lengths). It returns ``None`` -- keep the time limit -- for anything it cannot bound or does not
know:

* a repeat of something that can itself match in more than one way (a repeat, an alternation, an
  optional part): ``(a+)+``, ``(a|aa)+``, ``(?:ab?)*``, the source of exponential backtracking;
* backreferences and conditionals (``(a+)\\1``, ``(?(1)a|b)``);
* any syntax only the ``regex`` library has (``\\p{Han}``, fuzzy ``{e<=1}``, ``(?r)``, recursion,
  named lists): the standard parser refuses it, or, for a brace that is not a repeat count, this
  module refuses it before parsing;
* a pattern the standard parser reads differently from ``regex``'s for other reasons: it does not
  matter there, because only the shape (repeats, alternations, groups) is read, and both libraries
  agree on what is a repeat and what is a group in ``re``'s syntax.

:func:`untimed_ok` then says yes for a degree of at most :data:`MAX_DEGREE` on a subject of at most
:data:`MAX_UNTIMED_LENGTH` characters (a danmaku is at most 40 on most accounts, a super chat 100 to
200): 200 ** 3 = 8 million steps at the very worst, against a pathological pattern's 2 ** 200.
Longer subjects, and every other pattern, search with the limit as before.
"""

from __future__ import annotations

import functools
import re
from typing import Any

try:  # Python 3.11+
    from re import _constants as _c
    from re import _parser as _parser
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _parser  # type: ignore[no-redef]

__all__ = ["MAX_DEGREE", "MAX_UNTIMED_LENGTH", "backtracking_degree", "untimed_ok"]

#: The most repeats in a row (of anything but a single fixed-length piece) a pattern searched untimed may have.
MAX_DEGREE = 2
#: The longest subject (characters) searched without the time limit.
MAX_UNTIMED_LENGTH = 200

# a brace that is not a repeat count ({m}, {m,}, {,n}, {m,n}): regex's fuzzy matching ({e<=1}) or a literal
_NOT_A_COUNT = re.compile(r"\{(?!\d*,?\d*\})")

# what matches exactly one character (or none, in place): costs nothing to repeat
_ONE_CHAR = {_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN, _c.AT, _c.CATEGORY}
_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT} | ({_c.POSSESSIVE_REPEAT} if hasattr(_c, "POSSESSIVE_REPEAT") else set())
_ATOMIC = getattr(_c, "ATOMIC_GROUP", None)


class _Unbounded(Exception):
    """The pattern has a part this module cannot bound."""


def _fixed(items: Any) -> bool:
    """Whether a sequence matches in one way only: single characters and groups of them, no repeat or choice."""
    for op, av in items:
        if op in _ONE_CHAR:
            continue
        if op is _c.SUBPATTERN and _fixed(av[-1]):
            continue
        return False
    return True


def _degree(items: Any) -> int:
    """The number of repeats in a row of ``items`` (a parsed sequence); raises :class:`_Unbounded`."""
    total = 0
    for op, av in items:
        if op in _ONE_CHAR:
            continue
        if op is _c.SUBPATTERN:
            total += _degree(av[-1])
        elif op is _ATOMIC:
            total += _degree(av)
        elif op is _c.BRANCH:
            total += max(_degree(branch) for branch in av[1])
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            total += _degree(av[1])  # run at each position it is reached from: its own repeats add up
        elif op in _REPEATS:
            low, high, item = av
            if high <= 1:  # optional: one more way to match, not a loop
                total += _degree(item)
            elif _fixed(item):
                total += low != high  # a{3} matches one way; a{2,}, a*, a{0,4} try several lengths
            else:
                raise _Unbounded  # a repeat of something that matches in more than one way
        else:  # backreferences, conditionals, anything new
            raise _Unbounded
    return total


@functools.lru_cache(maxsize=4096)
def backtracking_degree(pattern: str) -> int | None:
    """How many repeats in a row ``pattern`` has, or ``None`` when its backtracking cannot be bounded."""
    if _NOT_A_COUNT.search(pattern):
        return None
    try:
        parsed = _parser.parse(pattern)
    except (re.error, OverflowError, RecursionError, ValueError):
        return None  # regex-only syntax (\p{..}, (?r), ...), or beyond the standard parser
    try:
        return _degree(parsed)
    except (_Unbounded, RecursionError):
        return None


def untimed_ok(pattern: str) -> bool:
    """Whether ``pattern`` may search a subject of up to :data:`MAX_UNTIMED_LENGTH` characters untimed."""
    degree = backtracking_degree(pattern)
    return degree is not None and degree <= MAX_DEGREE
