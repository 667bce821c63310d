"""The ``thanks`` processor: thank gifts, guards, super chats, follows and shares, merged and prioritised.

A gift does not get its own message: gifts of one viewer and one kind (a combo, or a burst of
``小心心``) gather in one pending thanks until ``window`` seconds pass without another (or the combo
ends, ``gift_combo``), then ``谢谢小明赠送的小心心x20`` goes out. When several viewers' small gifts (or
follows) are ready at once, they share one line (``谢谢小明、小红的礼物``) as long as it fits
``max_length``. Each send slot (one per ``interval``) goes to the most important ready thanks:
super chats and guards, then large gifts, then small gifts, then follows and shares (oldest first
within a class). A thanks that cannot be sent within ``max_delay`` of its first gift is dropped and
counted, never sent late.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from livepipe.events import Event
from livepipe.schema import field
from livepipe.templating import Template
from livepipe_assistant.base import AssistantConfig, AssistantProcessor, Engine, check_template, viewer_name

#: Priority classes, most important first.
SC_GUARD, LARGE, SMALL, SOCIAL = 0, 1, 2, 3
CLASS_NAMES = {SC_GUARD: "super chat / guard", LARGE: "large gift", SMALL: "small gift", SOCIAL: "follow / share"}
GUARD_NAMES = {1: "总督", 2: "提督", 3: "舰长"}
KINDS = ("gift", "gift_combo", "guard", "super_chat", "follow", "share")


@dataclass(frozen=True)
class Thanked:
    """What a per-kind template sees (each field is a name in the template)."""

    kind: str
    uid: int | None
    uname: str
    room_id: int | None
    gift: str | None
    num: int
    yuan: float
    paid: bool
    blind: str | None
    price: int
    text: str | None
    guard_level: int
    guard_name: str | None
    months: int
    count: int
    event: Event | None


def view_values(view: Thanked) -> dict[str, Any]:
    """The fields of ``view`` as template values (shallow: ``event`` stays an Event)."""
    return {f.name: getattr(view, f.name) for f in dataclasses.fields(view)}


#: Names of a per-kind template: the fields of :class:`Thanked` and ``now``.
ITEM_NAMES: dict[str, Any] = {
    "kind": str, "uid": int | None, "uname": str, "room_id": int | None, "gift": str | None, "num": int,
    "yuan": float, "paid": bool, "blind": str | None, "price": int, "text": str | None, "guard_level": int,
    "guard_name": str | None, "months": int, "count": int, "event": Event, "now": datetime}
assert set(ITEM_NAMES) == {f.name for f in dataclasses.fields(Thanked)} | {"now"}
#: Names of the ``merged`` template.
MERGED_NAMES: dict[str, Any] = {"items": list, "unames": list, "kind": str, "count": int, "now": datetime,
                                "room_id": int | None}


class ThanksTemplates(BaseModel):
    """One template per kind, and the one for several viewers in one line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gift: str = Field("谢谢{{ uname|short(6) }}的{{ gift }}x{{ num }}", description="a gift (or a viewer's merged "
                      "burst of one gift); names: uname, gift, num, yuan, paid, blind (the box of a blind-box gift), "
                      "count, uid, room_id, now, event (the first event: event.gift.medal.level, ...)")
    super_chat: str = Field("谢谢{{ uname|short(6) }}的SC", description="a super chat; also price (CNY) and text")
    guard: str = Field("谢谢{{ uname|short(6) }}开通{{ guard_name }}", description="a guard purchase; also "
                       "guard_level, guard_name (舰长/提督/总督), months")
    follow: str = Field("谢谢{{ uname|short(6) }}的关注", description="a follow")
    share: str = Field("谢谢{{ uname|short(6) }}的分享", description="a share")
    merged: str = Field("谢谢{{ unames|join('、') }}{% if kind == 'gift' %}的礼物{% elif kind == 'follow' %}的关注"
                        "{% else %}的分享{% endif %}", description="several viewers in one line; names: unames "
                        "(list of names), items (list, each with the per-kind names), kind, count, room_id, now")

    @field_validator("gift", "super_chat", "guard", "follow", "share")
    @classmethod
    def _check_item(cls, v: str) -> str:
        check_template(v, ITEM_NAMES, "")
        return v

    @field_validator("merged")
    @classmethod
    def _check_merged(cls, v: str) -> str:
        check_template(v, MERGED_NAMES, "")
        return v


class ThanksConfig(AssistantConfig):
    """Config of the ``thanks`` processor."""

    kinds: list[str] = field(default_factory=lambda: list(KINDS), description="event kinds to thank: gift, "
                             "gift_combo, guard, super_chat, follow, share")
    min_yuan: float = field(0.0, description="thank a viewer's paid gifts (merged burst) worth at least this many "
                            "yuan", ge=0)
    silver: bool = field(False, description="thank free (silver) gifts too, as small gifts")
    large_yuan: float = field(30.0, description="a merged burst worth at least this many yuan is a large gift "
                              "(thanked before small ones)", ge=0)
    window: float = field(4.0, description="seconds without another gift of the same kind from the same viewer "
                          "before their burst is thanked (a combo end thanks at once)", gt=0)
    max_delay: float = field(30.0, description="a thanks not sent within this many seconds of its first event is "
                             "dropped (counted in assistant_dropped_late_total)", gt=0)
    cooldown: float = field(60.0, description="seconds after thanking a viewer during which their further small "
                            "gifts, follows and shares are not thanked (super chats, guards and large gifts always "
                            "are)", ge=0)
    templates: ThanksTemplates = field(default_factory=ThanksTemplates, description="the texts "
                                       "(`[processors.NAME.templates]`)")

    @field_validator("kinds")
    @classmethod
    def _check_kinds(cls, v: list[str]) -> list[str]:
        bad = [k for k in v if k not in KINDS]
        if bad:
            raise ValueError(f"unknown kind(s) {', '.join(bad)}; thanks handles {', '.join(KINDS)}")
        return v

    @model_validator(mode="after")
    def _check_delay(self) -> ThanksConfig:
        if self.max_delay <= 2 * self.interval:
            raise ValueError(f"max_delay ({self.max_delay} s) must be more than twice interval ({self.interval} s): "
                             "a burst is thanked half way to max_delay, and one interval is kept for the sink")
        return self


@dataclass
class Pending:
    """A thanks waiting for its window to end and for a send slot."""

    key: tuple[Any, ...]
    kind: str
    room_id: int | None
    uid: int | None
    uname: str
    origin: float
    last: float
    gift: str | None = None
    num: int = 0
    coin: int = 0
    paid: bool = False
    blind: str | None = None
    price: int = 0
    text: str | None = None
    guard_level: int = 0
    months: int = 0
    events: int = 1
    closed: bool = False
    first: Event | None = None

    @property
    def yuan(self) -> float:
        """Worth in CNY (0 for free gifts)."""
        if self.kind == "super_chat":
            return float(self.price)
        if self.kind == "guard":
            return self.coin / 1000
        return self.coin / 1000 if self.paid else 0.0

    def view(self) -> Thanked:
        """The template's view."""
        return Thanked(self.kind, self.uid, self.uname, self.room_id, self.gift, self.num, self.yuan, self.paid,
                       self.blind, self.price, self.text, self.guard_level, GUARD_NAMES.get(self.guard_level),
                       self.months, self.events, self.first)


#: At most this many thanks wait at once (each is one viewer's burst, follow or share). Far more than can be
#: sent within ``max_delay`` at one line per ``interval``; it bounds memory and the work per tick in a raid
#: of follows from thousands of accounts. When full, a new thanks pushes out the least important waiting one
#: (the newest of the lowest class) if it is more important, and is dropped otherwise.
MAX_PENDING = 1000


class ThanksEngine(Engine):
    """Merging, thresholds, cooldowns, priorities and deadlines of ``thanks`` (no I/O, no clock)."""

    COUNTERS: ClassVar[dict[str, str]] = {
        **Engine.COUNTERS,
        "thanked": "viewers' thanks sent (one per viewer and gift in a message)",
        "merged": "events folded into another thanks (a burst, a combo, several viewers in one line)",
        "below_threshold": "gifts not thanked because they were worth less than the threshold",
        "dropped_full": "thanks not queued, or pushed out by a more important one, because MAX_PENDING were waiting",
    }

    def __init__(self, config: ThanksConfig, ignore: set[int] | None = None, name: str = "thanks") -> None:
        super().__init__(config, ignore, name)
        self.config: ThanksConfig = config
        t = config.templates
        self.templates: dict[str, Template] = {
            k: check_template(getattr(t, k), ITEM_NAMES, k) for k in ("gift", "super_chat", "guard", "follow", "share")}
        self.merged_template = check_template(t.merged, MERGED_NAMES, "merged")
        self.pending: dict[tuple[Any, ...], Pending] = {}
        #: (room, uid) -> when last thanked (small gifts, follows and shares)
        self.thanked_at: dict[tuple[int | None, int | None], float] = {}
        #: gift key -> when thanked: a late combo summary of a thanked burst is not thanked again
        self.recent: dict[tuple[Any, ...], float] = {}

    # ---- queueing ---------------------------------------------------------------------------------

    def offer(self, event: Event, now: float) -> bool:
        """Add ``event`` to a pending thanks (or start one)."""
        if self.gate.observe(event) or event.kind not in self.config.kinds or not self.gate.allows(event):
            return False
        uname = viewer_name(event)
        base = {"room_id": event.room_id, "uid": event.uid, "uname": uname, "first": event}
        d = event.data
        if event.kind in ("gift", "gift_combo"):
            name = d.get("gift_name")
            key = ("gift", event.room_id, event.uid, name)
            if event.kind == "gift_combo":
                total = int(d.get("total_num") or 0)
                item = self.pending.get(key)
                if item is None:
                    if now - self.recent.get(key, -1e18) <= self.config.max_delay:
                        self.count("merged")  # the summary of a burst already thanked
                        return True
                    coin = int(d.get("combo_total_coin") or 0)
                    item = Pending(key, "gift", origin=now, last=now, gift=name, num=total, coin=coin,
                                   paid=coin > 0, **base)
                    if not self._queue(item):
                        return True
                else:
                    self.count("merged")
                    item.events += 1
                    item.num = max(item.num, total)
                    item.coin = max(item.coin, int(d.get("combo_total_coin") or 0))
                item.closed = True
                return True
            blind = (d.get("blind_gift") or {}).get("original_gift_name") if isinstance(d.get("blind_gift"),
                                                                                       dict) else None
            num, coin, paid = int(d.get("num") or 0), int(d.get("total_coin") or 0), d.get("coin_type") == "gold"
            item = self.pending.get(key)
            if item is None:
                self._queue(Pending(key, "gift", origin=now, last=now, gift=name, num=num, coin=coin, paid=paid,
                                    blind=blind, **base))
            else:
                self.count("merged")
                item.events += 1
                item.num += num
                item.coin += coin
                item.last = now
                item.blind = item.blind or blind
            return True
        if event.kind == "guard":
            key = ("guard", event.room_id, event.uid, d.get("guard_level"))
            item = self.pending.get(key)
            months, coin = int(d.get("num") or 1), int(d.get("price") or 0) * int(d.get("num") or 1)
            if item is None:
                if now - self.recent.get(key, -1e18) <= self.config.max_delay:
                    self.count("merged")  # the toast of a purchase already thanked
                    return True
                self._queue(Pending(key, "guard", origin=now, last=now, guard_level=int(d.get("guard_level") or 3),
                                    months=months, coin=coin, **base))
            else:  # GUARD_BUY and its USER_TOAST_MSG: one purchase
                self.count("merged")
                item.events += 1
                item.months = max(item.months, months)
                item.coin = max(item.coin, coin)
            return True
        if event.kind == "super_chat":
            key = ("super_chat", event.room_id, d.get("sc_id") or event.id)
            if key in self.pending or key in self.recent:
                self.count("merged")
                return True
            self._queue(Pending(key, "super_chat", origin=now, last=now, price=int(d.get("price") or 0),
                                text=event.text, closed=True, **base))
            return True
        key = (event.kind, event.room_id, event.uid)
        if key in self.pending:
            self.count("merged")
            self.pending[key].events += 1
            return True
        self._queue(Pending(key, event.kind, origin=now, last=now, **base))
        return True

    def _queue(self, item: Pending) -> bool:
        """Add a new pending thanks within :data:`MAX_PENDING`; False (counted) if it was dropped."""
        if len(self.pending) >= MAX_PENDING:
            klass = self.klass
            worst = max(self.pending.values(), key=lambda p: (klass(p), p.origin))
            if klass(worst) <= klass(item):
                self.count("dropped_full")
                self._warn_full()
                return False
            del self.pending[worst.key]
            self.count("dropped_full")
            self._warn_full()
        self.pending[item.key] = item
        return True

    def _warn_full(self) -> None:
        self.errors.log(logging.WARNING, "full", "%s: %d thanks are waiting already; the least important are "
                        "dropped (counted in assistant_dropped_full_total) — a raid, or min_yuan/kinds thank too "
                        "much for one line every interval", self.name, MAX_PENDING)

    # ---- timing -----------------------------------------------------------------------------------

    def klass(self, item: Pending) -> int:
        """The priority class of ``item``."""
        if item.kind in ("super_chat", "guard"):
            return SC_GUARD
        if item.kind == "gift":
            return LARGE if item.paid and item.yuan >= self.config.large_yuan else SMALL
        return SOCIAL

    def ready_at(self, item: Pending) -> float:
        """When ``item`` may be thanked: its window over (at once for a super chat or an ended combo)."""
        if item.closed:
            return item.origin
        if item.kind in ("follow", "share", "guard"):
            return item.origin + min(self.config.window, 2.0)
        # a burst that goes on and on is thanked half way to its deadline, with what it has so far
        return min(item.last + self.config.window, item.origin + self.config.max_delay / 2)

    def deadline(self, item: Pending) -> float:
        """The last moment ``item`` may be emitted: ``max_delay`` after it began, less one interval for the sink."""
        return item.origin + self.config.max_delay - self.config.interval

    def times(self) -> list[float]:
        """Ready times and deadlines of everything pending."""
        out: list[float] = []
        for item in self.pending.values():
            out += [self.ready_at(item), self.deadline(item)]
        return out

    def expire(self, now: float) -> None:
        """Drop thanks past their deadline."""
        for key, item in list(self.pending.items()):
            if now >= self.deadline(item):
                del self.pending[key]
                self.count("dropped_late")
                self.errors.log(logging.WARNING, "late", "%s: dropped the thanks of %s (%s) that could not be sent "
                                "within max_delay %.0f s (too much to thank for the send budget)", self.name,
                                item.uname, item.kind, self.config.max_delay)

    def _wanted(self, item: Pending, now: float) -> bool:
        """False (and counted) for a gift below the threshold or a viewer within the cooldown."""
        if item.kind == "gift":
            if (not item.paid and not self.config.silver) or (item.paid and item.yuan < self.config.min_yuan):
                self.count("below_threshold")
                return False
        if self.klass(item) >= SMALL:
            last = self.thanked_at.get((item.room_id, item.uid))
            if last is not None and now - last < self.config.cooldown:
                self.count("suppressed_cooldown")
                return False
        return True

    # ---- composing ------------------------------------------------------------------------------------

    def compose(self, now: float) -> Event | None:
        """The most important ready thanks, with other viewers' thanks of its class when they fit in one line."""
        ready: list[Pending] = []
        for key, item in list(self.pending.items()):
            if self.ready_at(item) <= now:
                if self._wanted(item, now):
                    ready.append(item)
                else:
                    del self.pending[key]
        if not ready:
            return None
        ready.sort(key=lambda i: (self.klass(i), i.origin))
        first = ready[0]
        values = {**view_values(first.view()), "now": self.now_value(now)}
        text = self.render(self.templates[first.kind], values, first.kind)
        group = [first]
        cls = self.klass(first)
        if cls >= SMALL:
            for other in ready[1:]:
                if self.klass(other) != cls or other.kind != first.kind or other.uid == first.uid:
                    continue
                trial = self._merged(group + [other], now)
                if trial is not None and len(trial) <= self.config.max_length:
                    group.append(other)
                    text = trial
        for item in group:
            self.pending.pop(item.key, None)
            self.recent[item.key] = now
            if cls >= SMALL:
                self.thanked_at[(item.room_id, item.uid)] = now
        self._forget(now)
        if text is None:
            return None
        self.count("thanked", len(group))
        self.count("merged", len(group) - 1)
        return self.send(text, now, room_id=first.room_id, rule=f"thanks:{first.kind}",
                         uids=[i.uid for i in group if i.uid is not None])

    def _merged(self, group: list[Pending], now: float) -> str | None:
        views = [i.view() for i in group]
        values = {"items": views, "unames": [v.uname for v in views], "kind": group[0].kind, "count": len(group),
                  "now": self.now_value(now), "room_id": group[0].room_id}
        return self.render(self.merged_template, values, "merged")

    def _forget(self, now: float) -> None:
        horizon = max(self.config.cooldown, self.config.max_delay)
        if len(self.recent) > 4096:
            self.recent = {k: t for k, t in self.recent.items() if now - t <= self.config.max_delay}
        if len(self.thanked_at) > 4096:
            self.thanked_at = {k: t for k, t in self.thanked_at.items() if now - t <= horizon}


class Thanks(AssistantProcessor):
    """Thanks gifts, guards, super chats, follows and shares in chat (``action.send``), merged and prioritised."""

    type_name = "thanks"
    Config = ThanksConfig

    def make_engine(self, config: ThanksConfig, ignore: set[int]) -> ThanksEngine:
        """A :class:`ThanksEngine`."""
        return ThanksEngine(config, ignore, self.name)
