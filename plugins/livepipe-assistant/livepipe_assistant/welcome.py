"""The ``welcome`` processor: greet entering viewers, once per viewer per cooldown, bursts in one line.

Entries (``enter`` events: INTERACT_WORD and ENTRY_EFFECT) pass the filters (guard level, this
room's medal level, user level), wait ``window`` seconds for company, and go out as one line per
send slot: ``欢迎小明、小红、小刚`` as many names as fit ``max_length``. A viewer welcomed within
``cooldown`` (a day by default) is not welcomed again, also after a restart: whom it welcomed and
when is kept in ``state_file`` (a small JSON file, written atomically after each welcome). An
entry that cannot be welcomed within ``max_delay`` is dropped, not greeted late.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from livepipe.events import Event
from livepipe.preflight import Problems, writable_file
from livepipe.schema import field
from livepipe.views import Medal
from livepipe_assistant import statefile
from livepipe_assistant.base import AssistantConfig, AssistantProcessor, Engine, check_template, viewer_name

GUARD_NAMES = {1: "总督", 2: "提督", 3: "舰长"}

#: Names of the ``single`` template.
SINGLE_NAMES: dict[str, Any] = {
    "uname": str, "uid": int | None, "room_id": int | None, "guard_level": int, "guard_name": str | None,
    "medal_level": int, "medal_name": str | None, "now": datetime}
#: Names of the ``merged`` template.
MERGED_NAMES: dict[str, Any] = {"unames": list, "items": list, "count": int, "room_id": int | None, "now": datetime}


class WelcomeTemplates(BaseModel):
    """The welcome texts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    single: str = Field("欢迎{{ uname|short(8) }}", description="one viewer; names: uname, uid, guard_level, "
                        "guard_name, medal_level, medal_name, room_id, now")
    merged: str = Field("欢迎{{ unames|join('、') }}", description="several viewers in one line; names: unames, "
                        "items (each with the single names), count, room_id, now")

    @field_validator("single")
    @classmethod
    def _check_single(cls, v: str) -> str:
        check_template(v, SINGLE_NAMES, "")
        return v

    @field_validator("merged")
    @classmethod
    def _check_merged(cls, v: str) -> str:
        check_template(v, MERGED_NAMES, "")
        return v


class WelcomeConfig(AssistantConfig):
    """Config of the ``welcome`` processor."""

    guard_levels: list[int] = field(default_factory=list, description="welcome only these guard levels (1 "
                                    "governor, 2 admiral, 3 captain); empty = everyone")
    min_medal_level: int = field(0, description="welcome only viewers wearing this room's fan medal at this level "
                                 "or above; 0 = no medal needed", ge=0)
    min_user_level: int = field(0, description="welcome only viewers whose user level (UL) is at least this, when "
                                "the entry carries it (an entry without it passes only when this is 0)", ge=0)
    cooldown: float = field(86400.0, description="seconds before the same viewer is welcomed again (default a "
                            "day), kept across restarts in state_file", ge=0)
    state_file: str | None = field("welcome-state.json", description="where whom was welcomed when is kept "
                                   "(relative to the config file); unset = in memory only")
    window: float = field(3.0, description="seconds an entry waits for others to share its line", ge=0)
    max_delay: float = field(20.0, description="an entry not welcomed within this many seconds is dropped", gt=0)
    templates: WelcomeTemplates = field(default_factory=WelcomeTemplates, description="the texts "
                                        "(`[processors.NAME.templates]`)")

    @field_validator("guard_levels")
    @classmethod
    def _check_levels(cls, v: list[int]) -> list[int]:
        if any(x not in (1, 2, 3) for x in v):
            raise ValueError("guard levels are 1 (governor), 2 (admiral) and 3 (captain)")
        return v

    @model_validator(mode="after")
    def _check_delay(self) -> WelcomeConfig:
        if self.max_delay <= self.window + self.interval:
            raise ValueError(f"max_delay ({self.max_delay} s) must be longer than window + interval "
                             f"({self.window} + {self.interval} s), or no entry could be welcomed in time")
        return self


@dataclass
class Entry:
    """A viewer waiting to be welcomed."""

    room_id: int | None
    uid: int
    uname: str
    guard_level: int
    medal_level: int
    medal_name: str | None
    origin: float

    def values(self) -> dict[str, Any]:
        """The single template's names (``now`` aside)."""
        return {"uname": self.uname, "uid": self.uid, "room_id": self.room_id, "guard_level": self.guard_level,
                "guard_name": GUARD_NAMES.get(self.guard_level), "medal_level": self.medal_level,
                "medal_name": self.medal_name}


class WelcomeEngine(Engine):
    """Filters, cooldown memory, merging and deadlines of ``welcome`` (no I/O but the state file)."""

    COUNTERS: ClassVar[dict[str, str]] = {
        **Engine.COUNTERS,
        "welcomed": "viewers welcomed",
        "merged": "viewers welcomed in a line shared with others, or repeated entries folded into a pending one",
        "filtered": "entries that did not pass guard_levels, min_medal_level or min_user_level",
        "state_errors": "state files that could not be read (moved aside) or written (retried)",
    }
    #: seconds between two tries to write a state file that could not be written
    SAVE_RETRY = 10.0

    def __init__(self, config: WelcomeConfig, ignore: set[int] | None = None, name: str = "welcome",
                 state_path: Path | None = None) -> None:
        super().__init__(config, ignore, name)
        self.config: WelcomeConfig = config
        self.single = check_template(config.templates.single, SINGLE_NAMES, "single")
        self.merged = check_template(config.templates.merged, MERGED_NAMES, "merged")
        self.state_path = state_path
        #: "room:uid" -> unix time welcomed
        self.welcomed: dict[str, float] = {}
        self.pending: dict[str, Entry] = {}
        self.dirty = False
        self.retry_save_at = -math.inf
        #: most entries that could be welcomed within max_delay (lines of at most max_length names, one
        #: per interval); more waiting would only be dropped later, and every poll would look at them all
        self.capacity = (math.ceil(config.max_delay / config.interval) + 1) * config.max_length

    @staticmethod
    def key(room_id: int | None, uid: int) -> str:
        """The state key of a viewer in a room."""
        return f"{room_id}:{uid}"

    def load(self, now: float) -> None:
        """Read the state file (entries older than the cooldown are forgotten)."""
        if self.state_path is None:
            return
        try:
            data = statefile.load(self.state_path)
        except (ValueError, OSError) as e:
            self._set_aside(e)
            return
        seen = data.get("welcomed", {})
        if isinstance(seen, dict):
            self.welcomed = {str(k): float(v) for k, v in seen.items()
                             if isinstance(v, (int, float)) and now - float(v) < self.config.cooldown}

    def save(self, now: float) -> None:
        """Write the state file when something changed."""
        if self.state_path is None or not self.dirty:
            return
        if now < self.retry_save_at:
            return
        self.welcomed = {k: t for k, t in self.welcomed.items() if now - t < self.config.cooldown}
        try:
            statefile.save(self.state_path, {"version": 1, "welcomed": self.welcomed})
        except OSError as e:  # a full disk, a directory made read-only: welcoming goes on, remembered in memory
            self.count("state_errors")
            self.retry_save_at = now + self.SAVE_RETRY
            self.errors.log(logging.ERROR, f"save:{type(e).__name__}", "%s: cannot write the state file %s (%s); "
                            "whom it welcomed is kept in memory only (a restart would welcome them again) "
                            "until the file can be written — check the disk and the directory's permissions",
                            self.name, self.state_path, e)
            return
        self.dirty = False

    def _set_aside(self, problem: Exception) -> None:
        """A state file that cannot be read: move it aside (if it is there), start with no memory, say so."""
        assert self.state_path is not None
        self.count("state_errors")
        kept = self.state_path.with_name(self.state_path.name + ".corrupt")
        try:
            os.replace(self.state_path, kept)
            where = f"it was moved to {kept}"
        except OSError as e:
            where = f"it could not be moved aside ({e.strerror or e})"
        self.log.warning("%s: %s; starting with no memory of whom was welcomed (viewers seen within the cooldown "
                         "may be welcomed once more); %s", self.name, problem, where)

    def _passes(self, event: Event) -> bool:
        d = event.data
        guard = int(d.get("guard_level") or 0)
        if self.config.guard_levels and guard not in self.config.guard_levels:
            return False
        if self.config.min_medal_level:
            medal = Medal.of(d.get("medal"))
            if medal is None or medal.level < self.config.min_medal_level or medal.room_id != event.room_id:
                return False
        if self.config.min_user_level:
            ul = d.get("user_level")
            if not isinstance(ul, int) or ul < self.config.min_user_level:
                return False
        return True

    def offer(self, event: Event, now: float) -> bool:
        """Queue a welcome for an ``enter`` event that passes the filters and the cooldown."""
        if self.gate.observe(event) or event.kind != "enter" or not event.uid or not self.gate.allows(event):
            return False
        key = self.key(event.room_id, event.uid)
        if key in self.pending:
            self.count("merged")  # INTERACT_WORD and ENTRY_EFFECT of one entrance, or a quick re-entry
            return True
        last = self.welcomed.get(key)
        if last is not None and now - last < self.config.cooldown:
            self.count("suppressed_cooldown")
            return True
        if not self._passes(event):
            self.count("filtered")
            return True
        if len(self.pending) >= self.capacity:
            self.count("dropped_late")  # more are waiting than could be welcomed within max_delay
            return True
        medal = Medal.of(event.data.get("medal"))
        own = medal is not None and medal.room_id == event.room_id
        self.pending[key] = Entry(event.room_id, event.uid, viewer_name(event),
                                  int(event.data.get("guard_level") or 0), medal.level if own and medal else 0,
                                  medal.name if own and medal else None, now)
        return True

    def times(self) -> list[float]:
        """Ready times and deadlines of the pending entries."""
        out: list[float] = []
        for e in self.pending.values():
            out += [e.origin + self.config.window, self.deadline(e)]
        return out

    def deadline(self, entry: Entry) -> float:
        """The last moment ``entry`` may be emitted (one interval before ``max_delay``, for the sink)."""
        return entry.origin + self.config.max_delay - self.config.interval

    def expire(self, now: float) -> None:
        """Drop entries past their deadline."""
        for key, e in list(self.pending.items()):
            if now >= self.deadline(e):
                del self.pending[key]
                self.count("dropped_late")

    def compose(self, now: float) -> Event | None:
        """One line for the oldest ready entry and as many others of its room as fit."""
        waiting = sorted(self.pending.values(), key=lambda e: e.origin)
        if not waiting or waiting[0].origin + self.config.window > now:
            return None
        first = waiting[0]
        text = self.render(self.single, {**first.values(), "now": self.now_value(now)}, "single")
        group = [first]
        for other in waiting[1:]:  # a line going out takes along whoever waits, ready or not
            if other.room_id != first.room_id:
                continue
            trial = self._merged(group + [other], now)
            if trial is None or len(trial) > self.config.max_length:
                if len(group) > 1:
                    break  # the line is full
                continue
            group.append(other)
            text = trial
        for e in group:
            key = self.key(e.room_id, e.uid)
            self.pending.pop(key, None)
            self.welcomed[key] = now
        self.dirty = True
        if text is None:
            return None
        self.count("welcomed", len(group))
        self.count("merged", len(group) - 1)
        return self.send(text, now, room_id=first.room_id, rule="welcome", uids=[e.uid for e in group])

    def _merged(self, group: list[Entry], now: float) -> str | None:
        values = {"unames": [e.uname for e in group], "items": [e.values() for e in group], "count": len(group),
                  "room_id": group[0].room_id, "now": self.now_value(now)}
        return self.render(self.merged, values, "merged")

    def poll(self, now: float) -> list[Event]:
        """As :meth:`Engine.poll`, then the state file is written if someone was welcomed."""
        out = super().poll(now)
        self.save(now)
        return out


class Welcome(AssistantProcessor):
    """Welcomes entering viewers (``action.send``), filtered, once per cooldown, bursts merged."""

    type_name = "welcome"
    Config = WelcomeConfig

    def make_engine(self, config: WelcomeConfig, ignore: set[int]) -> WelcomeEngine:
        """A :class:`WelcomeEngine` with its state file."""
        path = self.context.path(config.state_file) if config.state_file else None
        return WelcomeEngine(config, ignore, self.name, path)

    def preflight(self) -> Problems:
        """The state file must be writable (or creatable in a writable directory).

        A state file that exists but cannot be read is not a problem here: ``start`` moves it aside
        with a warning and welcomes with no memory, rather than keep the whole pipeline from running.
        """
        if not self.config.state_file:
            return
        yield from writable_file(self.context.path(self.config.state_file), "state_file", "welcome state file")

    async def start(self) -> None:
        """Learn the bot's uid; read whom was welcomed within the cooldown."""
        await super().start()
        engine = self.engine
        assert isinstance(engine, WelcomeEngine)
        engine.load(self.context.clock.time())

    async def stop(self) -> None:
        """Stop the timer and write the state."""
        await super().stop()
        engine = self.engine
        assert isinstance(engine, WelcomeEngine)
        engine.save(self.context.clock.time())
