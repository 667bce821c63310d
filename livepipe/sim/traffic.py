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
    ("entry_effect", 3),
    ("interaction", 1),
    ("pk", 2),
    ("lottery", 1),
    ("red_packet", 1),
    ("medal", 1),
]
#: progress messages of one PK battle before it ends
PK_STEPS = 4
LOTTERY_AWARDS = ["手绘头像", "定制明信片", "签名照", "舰长体验卡"]
_KINDS = [k for k, _ in MIX]
#: cumulative weights: ``choices`` with these draws exactly as with the plain weights, without
#: summing them again on every call
_CUM_WEIGHTS = list(itertools.accumulate(w for _, w in MIX))
_SUFFIXES = ["", "", "", "", "", "", ":4:0:2:2:2:0"]


class TrafficGenerator:
    """Endless deterministic traffic for one room."""

    def __init__(self, room: Room, population: Population, seed: int,
                 viewers: Callable[[], list[int]] | None = None) -> None:  # fmt: skip
        self.room = room
        #: uids of logged-in connections of this room (private MESSAGEBOX_* notes go to them)
        self.viewers = viewers or (lambda: [])
        self.pk: dict[str, Any] | None = None
        self.lottery: tuple[int, str] | None = None
        self.red_packet: int | None = None
        self.next_id = 1_000_000 + (room.room_id % 100_000) * 10_000  # battle, lottery and card ids
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

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

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
        """The next event of the room: usually one message, two for a guard purchase or a PK's end.

        PK battles, lotteries and red packets are sequences: a draw of ``pk`` starts a battle or
        moves the running one on (start, score updates, end + settle); ``lottery`` and
        ``red_packet`` alternate between a start and its winners. ``medal`` sends a private
        MESSAGEBOX_USER_MEDAL_CHANGE to a logged-in viewer, when there is one.
        """
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
        if kind == "entry_effect":
            return [M.entry_effect(self._user(), room, ts)]
        if kind == "interaction":
            t = r.choice([102, 103, 106])
            return [M.dm_interaction(self._id() * 1_000_000, t, count=r.randint(2, 40), text=self._text())]
        if kind == "pk":
            return self._pk(ts)
        if kind == "lottery":
            if self.lottery is None:
                self.lottery = (self._id(), r.choice(LOTTERY_AWARDS))
                return [M.anchor_lot_start(room, self.lottery[0], ts, self.lottery[1], self._text())]
            (lot_id, award), self.lottery = self.lottery, None
            users = self.population.users
            return [M.anchor_lot_award(lot_id, award, r.sample(users, min(2, len(users))))]
        if kind == "red_packet":
            if self.red_packet is None:
                self.red_packet = self._id()
                return [M.popularity_red_pocket_start(self._user(), self.red_packet, ts)]
            lot_id, self.red_packet = self.red_packet, None
            winners = [(self._user(), r.choice(M.RED_PACKET_GIFTS)[0]) for _ in range(r.randint(1, 4))]
            return [M.popularity_red_pocket_winner_list(lot_id, winners)]
        if kind == "medal":
            viewers = self.viewers()
            if not viewers:
                return [M.like_update(self.likes)]
            u = self._user()
            return [M.medal_change(r.choice(viewers), room, r.randint(2, 30), u.medal_name or "粉丝团")]
        return [M.room_admins(room)]

    def _pk(self, ts: float) -> list[dict[str, Any]]:
        """The next message of this room's PK battle: start, a few score updates, then end and settle."""
        r, room = self.rng, self.room
        if self.pk is None:
            self.pk = {"id": self._id(), "opponent": 40_000_000 + r.randrange(1_000_000), "votes": 0, "opp": 0,
                       "steps": 0}  # fmt: skip
            return [M.pk_battle_start_new(room, self.pk["id"], self.pk["opponent"], ts)]
        pk = self.pk
        if pk["steps"] < PK_STEPS:
            pk["steps"] += 1
            pk["votes"] += r.choice([0, 10, 100, 520])
            pk["opp"] += r.choice([0, 10, 100, 520])
            best = self._user().uname if pk["votes"] else ""
            return [M.pk_battle_process_new(room, pk["id"], pk["opponent"], ts, pk["votes"], pk["opp"], best)]
        self.pk = None
        helpers = r.sample(self.population.users, min(3, len(self.population.users)))
        return [M.pk_battle_end(room, pk["id"], pk["opponent"], ts, pk["votes"], pk["opp"]),
                M.pk_battle_settle_v2(pk["id"], ts, pk["votes"], pk["opp"], helpers)]


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
