"""The ``schedule`` source: a timetable that emits ``action.room_update`` and ``action.send`` events.

Each entry fires on a cron expression or at a fixed interval, in the source's time zone, and asks
for a room change (the next announcement of a rotating list, a title for a time slot, starting
the stream in an area, or stopping it) or says something in the chat (``danmaku``, a timed
reminder, sent only while the room is live: the source asks Bilibili's ``room_init`` before each
one). :class:`Plan` computes the firings; the source and ``livepipe roomctl preview`` both use
it, so the preview shows exactly what the source will do.

Times come from ``context.clock`` (``time()`` and ``sleep()``), so tests move a manual clock
instead of waiting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from livepipe.bilibili import actions as act
from livepipe.bilibili.api import BilibiliAPI, Endpoints
from livepipe.bilibili.sinks.room import NEWS_MAX, TITLE_MAX
from livepipe.component import Emit, Source
from livepipe.events import Event, make_id
from livepipe.lograte import RateLimitedLog
from livepipe.schema import SourceConfig, Url, field
from livepipe_roomctl.timeutil import DEFAULT_TIMEZONE, check_template, parse_interval, render, zone

#: Tolerance when deciding that a firing is due (the clock may wake a hair early).
_EPSILON = 1e-6


class Entry(BaseModel):
    """One line of the timetable: when it fires and what it changes."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str | None = Field(None, description="a name for logs and the preview (default: entry1, entry2, ...)")
    cron: str | None = Field(None, description='cron expression in the source\'s time zone: "MIN HOUR DAY MONTH '
                             'WEEKDAY" (a sixth field adds seconds), e.g. "0 20 * * 1-5"')
    every: float | str | None = Field(None, description='fixed interval: seconds, or text such as "90s", "15m", '
                                      '"2h", "1h30m"; counted from the start of the pipeline')
    title: str | list[str] | None = Field(None, description="new title (at most 40 characters); a list rotates, "
                                          "one item per firing; a template such as \"晚间直播 {{ date }}\"")
    news: str | list[str] | None = Field(None, description="new announcement (at most 60 characters, \"\" clears "
                                         "it); a list rotates, one item per firing")
    area_id: int | None = Field(None, description="child area to move to (or to start in); default: the "
                                "source's area_id for start", gt=0)
    cover: str | None = Field(None, description="cover image URL (on hdslb.com)")
    danmaku: str | list[str] | None = Field(None, description="say this in the chat (a template; a list rotates), "
                                            "only while the room is live; an entry of its own")
    start: bool = Field(False, description="start the stream (in area_id)")
    stop: bool = Field(False, description="stop the stream")
    room_id: int | None = Field(None, description="room of this entry (default: the source's room_id)", gt=0)

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, v: str | None) -> str | None:
        if v is None:
            return v
        n = len(v.split())
        if n not in (5, 6) or not croniter.is_valid(v):
            raise ValueError(f"cron {v!r} is not a valid cron expression; write five fields \"MIN HOUR DAY MONTH "
                             "WEEKDAY\" (e.g. \"0 20 * * 1-5\"), or six with seconds last")
        return v

    @field_validator("every")
    @classmethod
    def _check_every(cls, v: float | str | None) -> float | str | None:
        if v is not None:
            parse_interval(v)
        return v

    @field_validator("title")
    @classmethod
    def _check_title(cls, v: str | list[str] | None) -> str | list[str] | None:
        for t in _items(v):
            if not t.strip():
                raise ValueError("a title may not be empty")
            check_template(t, TITLE_MAX, "title")
        return v

    @field_validator("news")
    @classmethod
    def _check_news(cls, v: str | list[str] | None) -> str | list[str] | None:
        for t in _items(v):
            check_template(t, NEWS_MAX, "news")
        return v

    @field_validator("danmaku")
    @classmethod
    def _check_danmaku(cls, v: str | list[str] | None) -> str | list[str] | None:
        for t in _items(v):
            if not t.strip():
                raise ValueError("a danmaku may not be empty")
            check_template(t, None, "danmaku")
        return v

    @model_validator(mode="after")
    def _check_entry(self) -> Entry:
        if (self.cron is None) == (self.every is None):
            raise ValueError("give exactly one of cron (e.g. \"0 20 * * *\") or every (e.g. \"15m\")")
        if self.start and self.stop:
            raise ValueError("start and stop in one entry; make two entries")
        if any(isinstance(v, list) and not v for v in (self.title, self.news, self.danmaku)):
            raise ValueError("a rotating list needs at least one item")
        changes = (self.title is not None or self.news is not None or self.area_id is not None or self.cover
                   or self.start or self.stop)
        if self.danmaku is not None and changes:
            raise ValueError("danmaku goes in an entry of its own (it is sent only while the room is live; room "
                             "changes are not): make two entries")
        if not changes and self.danmaku is None:
            raise ValueError("the entry changes nothing: give title, news, area_id, cover, start, stop or danmaku")
        return self


def _items(v: str | list[str] | None) -> list[str]:
    if v is None:
        return []
    return [v] if isinstance(v, str) else list(v)


class ScheduleConfig(SourceConfig):
    """Config of the ``schedule`` source."""

    entries: list[Entry] = field(description="the timetable: one table per entry (`[[sources.NAME.entries]]`)",
                                 min_length=1)
    room_id: int | None = field(None, description="room the actions are for (real id); unset = the sink's "
                                "room_id", gt=0)
    timezone: str = field(DEFAULT_TIMEZONE, description="IANA time zone of the cron expressions and templates")
    area_id: int | None = field(None, description="child area used by entries that start the stream without "
                                "their own area_id", gt=0)
    skip_missed: bool = field(True, description="when the process was busy or asleep past several firings of an "
                              "entry, fire once and skip the rest (false: fire every missed one, in order)")
    base_url: Url | None = field(None, description="where to ask whether the room is live before a danmaku entry "
                                 "(one base URL for every Bilibili host); unset = the real hosts, or the simulator "
                                 "of `--sim` / `[simulator]`")

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, v: str) -> str:
        zone(v)
        return v

    @model_validator(mode="after")
    def _check_all(self) -> ScheduleConfig:
        names = [e.name for e in self.entries if e.name]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"entry names must be unique; repeated: {', '.join(sorted(dup))}")
        for i, e in enumerate(self.entries):
            if e.start and e.area_id is None and self.area_id is None:
                raise ValueError(f"entries[{i}] starts the stream but no area is set: give area_id in the entry or "
                                 "in the source")
            if e.danmaku is not None and e.room_id is None and self.room_id is None:
                raise ValueError(f"entries[{i}] sends danmaku but no room is set: give room_id in the entry or in the "
                                 "source (the room is checked to be live before each one)")
        return self


@dataclass(frozen=True)
class Firing:
    """One firing of one entry: when, and the action it makes."""

    ts: float
    entry: str
    action: Event

    def describe(self, tz: tzinfo) -> str:
        """One line for the preview: local time, entry, and what changes."""
        when = datetime.fromtimestamp(self.ts, tz).strftime("%Y-%m-%d %H:%M:%S %Z")
        d = self.action.data
        if self.action.kind == act.SEND:
            room = f" room {self.action.room_id}" if self.action.room_id else ""
            return f"{when}  {self.entry}{room}: danmaku={d['text']!r} (if live)"
        parts = [f"{k}={d[k]!r}" for k in ("title", "news", "area_id", "cover") if k in d]
        if d.get("start"):
            parts.append("start live")
        if d.get("stop"):
            parts.append("stop live")
        room = f" room {self.action.room_id}" if self.action.room_id else ""
        return f"{when}  {self.entry}{room}: {', '.join(parts)}"


class Plan:
    """The firing times of one entry, and the action of each firing (rotation included)."""

    def __init__(self, entry: Entry, name: str, config: ScheduleConfig, start: float) -> None:
        self.entry = entry
        self.name = name
        self.tz = zone(config.timezone)
        self.room_id = entry.room_id or config.room_id
        self.area_id = entry.area_id if entry.area_id is not None else (config.area_id if entry.start else None)
        self.count = 0  # firings so far (drives the rotation)
        self._start = start
        self._interval = parse_interval(entry.every) if entry.every is not None else None
        self._cron: croniter | None = None
        self._fixed_hour = entry.cron is not None and not entry.cron.split()[1].startswith("*")
        self.next = self._first_after(start)

    def _first_after(self, t: float) -> float:
        if self._interval is not None:
            k = int((t - self._start) // self._interval) + 1
            nxt = self._start + k * self._interval
            return nxt if nxt > t + _EPSILON else nxt + self._interval
        assert self.entry.cron is not None
        self._cron = croniter(self.entry.cron, datetime.fromtimestamp(t, self.tz))
        return self._cron_next()

    def advance(self, now: float, skip_missed: bool = True) -> int:
        """Move past the current firing; with ``skip_missed``, also past every further firing due by ``now``.

        Returns how many firings were skipped.
        """
        self.next = self._after(self.next)
        skipped = 0
        if skip_missed:
            while self.next <= now + _EPSILON and skipped < 100_000:
                self.next = self._after(self.next)
                skipped += 1
            if self.next <= now + _EPSILON:  # asleep for ages: start afresh from now
                self.next = self._first_after(now)
        return skipped

    def _after(self, t: float) -> float:
        if self._interval is not None:
            return t + self._interval
        return self._cron_next()

    def _cron_next(self) -> float:
        """The cron's next time. When clocks fall back, an entry at a fixed hour fires once (as cron does):
        the second pass through the repeated hour is skipped; entries with ``*`` hours run on."""
        assert self._cron is not None
        while True:
            t = float(self._cron.get_next(float))
            if not self._fixed_hour or not datetime.fromtimestamp(t, self.tz).fold:
                return t

    def action(self, ts: float) -> Event:
        """The action of the firing at ``ts``: ``action.room_update``, or ``action.send`` for a danmaku entry
        (uses and does not change the rotation count)."""
        e = self.entry
        if e.danmaku is not None:
            text = render(_pick(e.danmaku, self.count) or "", ts, self.tz, self.room_id)
            ev = act.send(text, room_id=self.room_id, id=make_id(self.room_id, "roomctl.schedule", ts, self.name),
                          ts=ts)
            return ev.replace(data={**ev.data, "rule": f"schedule:{self.name}"})
        title = _pick(e.title, self.count)
        news = _pick(e.news, self.count)
        ev = act.room_update(
            self.room_id,
            title=render(title, ts, self.tz, self.room_id) if title is not None else None,
            news=render(news, ts, self.tz, self.room_id) if news is not None else None,
            area_id=self.area_id,
            cover=e.cover,
            start=e.start,
            stop=e.stop,
            # the same entry firing at the same time is the same action (JetStream de-duplicates it)
            id=make_id(self.room_id, "roomctl.schedule", ts, self.name),
            ts=ts,
        )
        return ev.replace(data={**ev.data, "rule": f"schedule:{self.name}"})

    def fire(self, now: float, skip_missed: bool = True) -> tuple[Firing, int]:
        """The current firing; then move on. Returns it with the number of firings skipped after it."""
        firing = Firing(self.next, self.name, self.action(self.next))
        self.count += 1
        return firing, self.advance(now, skip_missed)


def _pick(v: str | list[str] | None, n: int) -> str | None:
    if v is None or isinstance(v, str):
        return v
    return v[n % len(v)]


def make_plans(config: ScheduleConfig, start: float) -> list[Plan]:
    """One :class:`Plan` per entry, with firings strictly after ``start``."""
    return [Plan(e, e.name or f"entry{i + 1}", config, start) for i, e in enumerate(config.entries)]


def preview(config: ScheduleConfig, start: float, count: int) -> list[Firing]:
    """The next ``count`` firings after ``start`` across all entries, in time order (entry order on ties)."""
    plans = make_plans(config, start)
    out: list[Firing] = []
    while len(out) < count:
        plan = min(plans, key=lambda p: p.next)
        firing, _ = plan.fire(plan.next, skip_missed=False)
        out.append(firing)
    return out


class ScheduleSource(Source):
    """Emits ``action.room_update`` (and, while live, ``action.send``) events from a timetable."""

    type_name = "schedule"
    Config = ScheduleConfig
    #: danmaku entries' ``action.send`` go to ``NAME.say`` (for a bilibili.send sink); room changes to the default
    outputs = ("say",)

    def __init__(self, config: ScheduleConfig, context: Any) -> None:
        super().__init__(config, context)
        self.config: ScheduleConfig = config
        self.firings = self.metrics.counter("schedule_firings_total", "timetable entries fired")
        self.skipped = self.metrics.counter("schedule_skipped_total", "firings skipped because they were missed")
        self.api: BilibiliAPI | None = None
        self._check_errors = RateLimitedLog(self.log)

    async def start(self) -> None:
        """Open the HTTP pool for the live check when an entry sends danmaku."""
        if any(e.danmaku is not None for e in self.config.entries):
            base = self.config.base_url or str(self.context.settings.get("simulator_url") or "")
            self.api = BilibiliAPI(None, Endpoints.at(base) if base else Endpoints())

    async def stop(self) -> None:
        """Close the HTTP pool."""
        if self.api is not None:
            await self.api.aclose()
            self.api = None

    async def is_live(self, room_id: int) -> bool:
        """Whether ``room_id`` is live now (``room_init``); False, with a rate-limited warning, when unknown."""
        assert self.api is not None
        try:
            return int((await self.api.room_init(room_id)).get("live_status") or 0) == 1
        except Exception as e:
            self._check_errors.log(logging.WARNING, f"live:{room_id}", "schedule: cannot tell whether room %s is "
                                   "live (%s); its danmaku are not sent until it can", room_id, e)
            return False

    async def run(self, emit: Emit) -> None:
        """Sleep (on the context clock) until the next firing, emit its action, repeat until cancelled."""
        clock = self.context.clock
        plans = make_plans(self.config, clock.time())
        for p in plans:
            self.log.info("schedule entry %r: first firing at %s", p.name,
                          datetime.fromtimestamp(p.next, p.tz).isoformat(timespec="seconds"))
        while True:
            due = min(p.next for p in plans)
            wait = due - clock.time()
            if wait > _EPSILON:
                await clock.sleep(wait)
                continue  # re-check: the clock may have moved less (or more) than asked
            now = clock.time()
            for p in plans:
                while p.next <= now + _EPSILON:
                    firing, skipped = p.fire(now, self.config.skip_missed)
                    if skipped:
                        self.skipped.inc(skipped)
                        self.log.warning("schedule entry %r: skipped %d missed firing(s)", p.name, skipped)
                    if firing.action.kind == act.SEND and not await self.is_live(p.room_id or 0):
                        p.count -= 1  # the rotation goes on with this item next time
                        self.metrics.counter("schedule_danmaku_offline_total", "danmaku not sent because the room "
                                             "was not live").inc()
                        self.log.info("schedule entry %r: room %s is not live; danmaku not sent", p.name, p.room_id)
                        continue
                    self.firings.inc()
                    self.log.info("schedule: %s", firing.describe(p.tz))
                    await emit(firing.action, "say" if firing.action.kind == act.SEND else None)
