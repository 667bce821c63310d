"""Spam detectors: repeats, floods, near-duplicates and message rates, in bounded memory.

Each detector sees one message at a time as ``(now, room_id, uid, key, event)``, where ``key`` is
the normalized (folded) text and ``now`` comes from the context clock, and returns the events to
act on: empty when nothing is wrong, the current message when it crosses the line, and, when a
flood or a near-duplicate wave is first recognised, every message of the wave still in memory (the
first posters are as guilty as the last). Every table is bounded twice: a key without a message
within the window is forgotten (dropped from the least recently used end, amortised O(1) per
check), and beyond ``max_keys`` the least recently used key goes first. Memory thus follows the
traffic of one window, not the number of distinct texts ever seen. This matters most for floods:
a wave keeps its posters' events, and without the expiry every one-off text would hold on to its
event until ``max_keys`` of them had piled up.

What is kept is small (issue 20: at 2,000 messages a second these tables hold a minute of
traffic). Times are plain lists, not deques (a deque allocates a 64-slot block: about 600 bytes
per key against about 150). An :class:`~livepipe.events.Event` kept for later (a flood's or a
near-duplicate wave's earlier posters) is kept without ``raw`` and ``data``
(:func:`compact`): what automod builds from a reported event (the action, the ``flagged`` event,
the ladder's strike) reads only its id, room, user, name and text, and ``raw`` is the received
message, 1-2 KB each. The message being checked is returned as it came.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from livepipe.events import Event
from rapidfuzz import fuzz, process

#: Most keys (texts, users) a detector remembers.
MAX_KEYS = 20_000


class Detector(Protocol):
    """What the processor calls for every message a spam rule applies to."""

    def check(self, now: float, room_id: int | None, uid: int, key: str, event: Any) -> list[Any]:
        """The events to act on (empty when the message is fine)."""
        ...


def _expire(table: OrderedDict, now: float, window: float, last: Callable[[Any], float]) -> float:
    """Drop the least recently used entries whose latest message (``last(entry)``) is older than ``window``.

    Entries move to the end when touched, with a clock that only moves forward, so they are in
    order of their latest message: the scan stops at the first entry still inside the window.
    Returns that entry's latest message time (``now`` when the table is empty): no entry can
    expire before it does, so callers skip the scan until ``now`` is a window past it.
    """
    while table:
        oldest = last(next(iter(table.values())))
        if now - oldest <= window:
            return oldest
        table.popitem(last=False)
    return now


def _newest_time(times: list[float]) -> float:
    return times[-1] if times else float("-inf")


def compact(event: Any) -> Any:
    """``event`` as a detector keeps it for later: an :class:`Event` without ``raw`` and ``data``.

    Everything else is kept as it is (the tests drive the detectors with plain strings).
    """
    if type(event) is Event:
        return tuple.__new__(Event, (*event[:8], {}, None))
    return event


def _touch(table: OrderedDict, key: Any, factory: Any, limit: int) -> Any:
    """``table[key]`` (created by ``factory``), marked most recently used; evicts the oldest beyond ``limit``."""
    value = table.pop(key, None)
    if value is None:
        value = factory()
    table[key] = value
    if len(table) > limit:
        table.popitem(last=False)
    return value


class RepeatDetector:
    """One user posting the same text ``count`` times within ``window`` seconds."""

    def __init__(self, count: int, window: float, max_keys: int = MAX_KEYS) -> None:
        self.count, self.window, self.max_keys = count, window, max_keys
        self._seen: OrderedDict[tuple[int | None, int, str], list[float]] = OrderedDict()
        self._oldest = float("-inf")  # latest message of the least recently used key, at the last expiry

    def check(self, now: float, room_id: int | None, uid: int, key: str, event: Any) -> list[Any]:
        """The current event once the user has posted ``key`` ``count`` times within the window."""
        if now - self._oldest > self.window:
            self._oldest = _expire(self._seen, now, self.window, _newest_time)
        times = _touch(self._seen, (room_id, uid, key), list, self.max_keys)
        times.append(now)
        if len(times) > self.count:  # the last ``count`` times only
            del times[0]
        return [event] if len(times) == self.count and now - times[0] <= self.window else []


class RateDetector:
    """One user posting more than ``count`` messages within ``window`` seconds."""

    def __init__(self, count: int, window: float, max_keys: int = MAX_KEYS) -> None:
        self.count, self.window, self.max_keys = count, window, max_keys
        self._seen: OrderedDict[tuple[int | None, int], list[float]] = OrderedDict()
        self._oldest = float("-inf")  # latest message of the least recently used key, at the last expiry

    def check(self, now: float, room_id: int | None, uid: int, key: str, event: Any) -> list[Any]:
        """The current event when it is message ``count + 1`` (or later) within the window."""
        if now - self._oldest > self.window:
            self._oldest = _expire(self._seen, now, self.window, _newest_time)
        times = _touch(self._seen, (room_id, uid), list, self.max_keys)
        times.append(now)
        if len(times) > self.count + 1:  # the last ``count + 1`` times only
            del times[0]
        return [event] if len(times) > self.count and now - times[0] <= self.window else []


@dataclass
class _Wave:
    """Posters of one text (flood): uid -> (time, compact event), and whether the wave was already reported."""

    posters: OrderedDict[int, tuple[float, Any]] = field(default_factory=OrderedDict)
    reported: bool = False


def _newest_post(wave: _Wave) -> float:
    return next(reversed(wave.posters.values()))[0] if wave.posters else float("-inf")


class FloodDetector:
    """``count`` different users posting the same text within ``window`` seconds."""

    def __init__(self, count: int, window: float, max_keys: int = MAX_KEYS, max_posters: int = 1_000) -> None:
        self.count, self.window, self.max_keys, self.max_posters = count, window, max_keys, max_posters
        self._waves: OrderedDict[tuple[int | None, str], _Wave] = OrderedDict()
        self._oldest = float("-inf")  # latest post of the least recently used wave, at the last expiry

    def check(self, now: float, room_id: int | None, uid: int, key: str, event: Any) -> list[Any]:
        """Every poster of the wave when it reaches ``count`` users; afterwards each new post."""
        if now - self._oldest > self.window:
            self._oldest = _expire(self._waves, now, self.window, _newest_post)
        wave = _touch(self._waves, (room_id, key), _Wave, self.max_keys)
        posters = wave.posters
        while posters and now - next(iter(posters.values()))[0] > self.window:
            posters.popitem(last=False)
        posters.pop(uid, None)
        posters[uid] = (now, compact(event))
        if len(posters) > self.max_posters:
            posters.popitem(last=False)
        if len(posters) < self.count:
            wave.reported = False
            return []
        if wave.reported:
            return [event]
        wave.reported = True
        out = [ev for _, ev in posters.values()]
        out[-1] = event  # the message being checked, as it came
        return out


@dataclass
class _Recent:
    time: float
    uid: int
    event: Any
    reported: bool = False


class SimilarDetector:
    """``count`` messages (any users) at least ``threshold`` % alike within ``window`` seconds.

    Compares with the last ``max_recent`` messages of the room using rapidfuzz's ``ratio`` (a C
    implementation of normalized Levenshtein similarity), so bots appending random characters to one
    advert still form one wave.
    """

    def __init__(self, count: int, window: float, threshold: float, max_recent: int = 200,
                 max_rooms: int = 1_000) -> None:
        self.count, self.window, self.threshold = count, window, threshold
        self.max_recent, self.max_rooms = max_recent, max_rooms
        self._rooms: OrderedDict[int | None, tuple[deque[str], deque[_Recent]]] = OrderedDict()

    def check(self, now: float, room_id: int | None, uid: int, key: str, event: Any) -> list[Any]:
        """The not yet reported messages of the wave (with this one) once it has ``count`` members."""
        keys, items = _touch(self._rooms, room_id, lambda: (deque(maxlen=self.max_recent),
                                                            deque(maxlen=self.max_recent)), self.max_rooms)
        while items and now - items[0].time > self.window:
            items.popleft()
            keys.popleft()
        matches = process.extract(key, keys, scorer=fuzz.ratio, score_cutoff=self.threshold, limit=None)
        current = _Recent(now, uid, compact(event))
        keys.append(key)
        items.append(current)
        if len(matches) + 1 < self.count:
            return []
        wave = [items[i] for _, _, i in matches]
        out = [r.event for r in wave if not r.reported] + [event]  # the message being checked, as it came
        for r in wave:
            r.reported = True
        current.reported = True
        return out
