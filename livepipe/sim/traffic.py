"""Synthetic room traffic: a deterministic stream of cmd messages per room.

:class:`TrafficGenerator` is pure given its seed: the n-th message of a room depends only on
``(seed, room_id, n)`` and the time passed in. :func:`run_traffic` drives generators at a rate.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable
from typing import Any

from livepipe.sim import messages as M
from livepipe.sim.population import PHRASES, Population
from livepipe.sim.state import Room

#: (kind, weight): the mix of a busy room
MIX: list[tuple[str, int]] = [
    ("danmaku", 60),
    ("enter", 14),
    ("like_click", 6),
    ("gift", 7),
    ("gift_v2", 2),
    ("follow", 2),
    ("like_update", 2),
    ("online_count", 2),
    ("watched", 1),
    ("rank_v3", 1),
    ("super_chat", 1),
    ("guard", 1),
    ("admins", 1),
]
_KINDS = [k for k, _ in MIX]
#: cumulative weights: ``choices`` with these draws exactly as with the plain weights, without
#: summing them again on every call
_CUM_WEIGHTS = list(itertools.accumulate(w for _, w in MIX))
_SUFFIXES = ["", "", "", "", "", "", ":4:0:2:2:2:0"]


class TrafficGenerator:
    """Endless deterministic traffic for one room."""

    def __init__(self, room: Room, population: Population, seed: int) -> None:
        self.room = room
        self.population = population
        self.rng = random.Random(f"traffic:{seed}:{room.room_id}")
        self.count = 0
        self.likes = self.rng.randint(100, 5000)
        self.watched = self.rng.randint(1000, 50000)
        self.online = self.rng.randint(50, 3000)
        self.sc_id = self.rng.randint(1_000_000, 9_000_000)
        self.templates = M.DanmakuTemplates()
        # build every viewer's danmaku parts now, not during the first minute of traffic
        self.templates.prepare(population.users, room)

    def _user(self) -> Any:
        return self.rng.choice(self.population.users)

    def _text(self) -> str:
        r = self.rng
        text = r.choice(PHRASES)
        if r.random() < 0.3:
            text += r.choice(PHRASES)
        if r.random() < 0.1:
            text += str(r.randint(1, 999))
        return text[:20]

    def next_messages(self, ts: float) -> list[dict[str, Any]]:
        """The next event of the room: usually one message, two for a guard purchase."""
        r = self.rng
        self.count += 1
        kind = r.choices(_KINDS, cum_weights=_CUM_WEIGHTS)[0]
        room = self.room
        if kind == "danmaku":
            u = self._user()
            text = self._text()
            rnd = r.randint(1, 2**31 - 1)
            return [self.templates.build(u, text, room, ts, rnd=rnd, cmd_suffix=r.choice(_SUFFIXES))]
        if kind == "enter":
            return [M.interact_word_v2(self._user(), room, ts, msg_type=1)]
        if kind == "follow":
            return [M.interact_word_v2(self._user(), room, ts, msg_type=2)]
        if kind == "like_click":
            self.likes += 1
            return [M.like_click(self._user(), room, ts)]
        if kind == "like_update":
            self.likes += r.randint(0, 20)
            return [M.like_update(self.likes)]
        if kind == "gift":
            return [M.send_gift(self._user(), room, ts, gift_index=r.randrange(7), num=r.choice([1, 1, 1, 5, 10]),
                                rnd=r.randint(10**18, 2 * 10**18))]  # fmt: skip
        if kind == "gift_v2":
            return [M.send_gift_v2(self._user(), room, ts, gift_index=r.randrange(7), num=1,
                                   rnd=r.randint(10**18, 2 * 10**18))]  # fmt: skip
        if kind == "online_count":
            self.online = max(1, self.online + r.randint(-30, 30))
            return [M.online_rank_count(self.online)]
        if kind == "watched":
            self.watched += r.randint(0, 50)
            return [M.watched_change(self.watched)]
        if kind == "rank_v3":
            top = sorted(self.population.users, key=lambda u: (-u.guard_level, -u.medal_level, u.uid))[:3]
            return [M.online_rank_v3(top)]
        if kind == "super_chat":
            self.sc_id += 1
            return [M.super_chat(self._user(), room, ts, self._text(), r.choice([30, 50, 100, 500]), self.sc_id)]
        if kind == "guard":
            u = self._user()
            level = r.choice([3, 3, 3, 3, 2, 1])
            return [M.guard_buy(u, room, ts, level), M.user_toast_v2(u, room, ts, level)]
        return [M.room_admins(room)]


async def run_traffic(
    rooms: Callable[[], list[tuple[Room, TrafficGenerator]]],
    rate: Callable[[], float],
    tick: float = 0.05,
) -> None:
    """Broadcast ``rate()`` events per second per room until cancelled (fractions carry over)."""
    owed: dict[int, float] = {}
    last = time.monotonic()
    while True:
        await asyncio.sleep(tick)
        now = time.monotonic()
        dt, last = now - last, now
        r = rate()
        if r <= 0:
            continue
        ts = time.time()
        for room, gen in rooms():
            if room.live_status != 1:
                continue
            o = owed.get(room.room_id, 0.0) + r * dt
            n = int(o)
            owed[room.room_id] = o - n
            for _ in range(n):
                for msg in gen.next_messages(ts):
                    room.broadcast(msg)
