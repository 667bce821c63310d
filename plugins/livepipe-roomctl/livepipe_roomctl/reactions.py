"""The ``room_reactions`` processor: change the room when the stream starts or ends.

On a ``live`` event it can set a title from a template (``"{{ weekday }} stream {{ date }}"``) and an
announcement; on ``preparing`` it can put the offline announcement (and title) back. Bilibili sends
LIVE twice at the start of a stream, so the processor reacts only when a room's state changes:
the second LIVE of a stream (or a repeated PREPARING) does nothing.

It emits ``action.room_update`` on its default output; wire it to a ``bilibili.room`` sink.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from livepipe.bilibili import actions as act
from livepipe.bilibili.sinks.room import NEWS_MAX, TITLE_MAX
from livepipe.component import Emit, Processor
from livepipe.events import Event
from livepipe.schema import ProcessorConfig, field
from livepipe_roomctl.timeutil import DEFAULT_TIMEZONE, check_template, render, zone


class Reaction(BaseModel):
    """What to change when the stream starts (``on_live``) or ends (``on_preparing``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    title: str | None = Field(None, description="title template, e.g. \"{{ weekday }} stream {{ date }}\" (at most 40 "
                              "characters once filled in)")
    news: str | None = Field(None, description="announcement template (at most 60 characters; \"\" clears it)")
    area_id: int | None = Field(None, description="child area to move the room to", gt=0)
    cover: str | None = Field(None, description="cover image URL (on hdslb.com)")

    @field_validator("title")
    @classmethod
    def _check_title(cls, v: str | None) -> str | None:
        if v is not None:
            if not v.strip():
                raise ValueError("a title may not be empty")
            check_template(v, TITLE_MAX, "title")
        return v

    @field_validator("news")
    @classmethod
    def _check_news(cls, v: str | None) -> str | None:
        if v is not None:
            check_template(v, NEWS_MAX, "news")
        return v

    @model_validator(mode="after")
    def _check_any(self) -> Reaction:
        if self.title is None and self.news is None and self.area_id is None and self.cover is None:
            raise ValueError("the reaction changes nothing: give title, news, area_id or cover")
        return self


class RoomReactionsConfig(ProcessorConfig):
    """Config of the ``room_reactions`` processor."""

    on_live: Reaction | None = field(None, description="changes when the stream starts (a `live` event)")
    on_preparing: Reaction | None = field(None, description="changes when the stream ends (a `preparing` event)")
    timezone: str = field(DEFAULT_TIMEZONE, description="IANA time zone of the templates' date, time, weekday "
                          "and now")
    rooms: list[int] = field(default_factory=list, description="react only in these rooms (real ids); empty = "
                             "every room the input carries")

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, v: str) -> str:
        zone(v)
        return v

    @model_validator(mode="after")
    def _check_any(self) -> RoomReactionsConfig:
        if self.on_live is None and self.on_preparing is None:
            raise ValueError("give on_live and/or on_preparing; without them the processor does nothing")
        return self


class RoomReactions(Processor):
    """Emits ``action.room_update`` when a room goes live or stops."""

    type_name = "room_reactions"
    Config = RoomReactionsConfig

    def __init__(self, config: RoomReactionsConfig, context: Any) -> None:
        super().__init__(config, context)
        self.config: RoomReactionsConfig = config
        self.tz = zone(config.timezone)
        #: room id -> "live" or "preparing", the last state reacted to
        self.state: dict[int | None, str] = {}

    async def process(self, event: Event, emit: Emit) -> None:
        """React to the first ``live`` / ``preparing`` of each change; ignore everything else."""
        reaction = {"live": self.config.on_live, "preparing": self.config.on_preparing}.get(event.kind)
        if event.kind not in ("live", "preparing") or (self.config.rooms and event.room_id not in self.config.rooms):
            self.metrics.discarded(intentional=True)
            return
        if self.state.get(event.room_id) == event.kind:
            self.metrics.discarded(intentional=True)  # the second LIVE of a start, or a repeat
            return
        self.state[event.room_id] = event.kind
        if reaction is None:
            self.metrics.discarded(intentional=True)
            return
        now = self.context.clock.time()
        title = render(reaction.title, now, self.tz, event.room_id) if reaction.title is not None else None
        news = render(reaction.news, now, self.tz, event.room_id) if reaction.news is not None else None
        update = act.room_update(title=title, news=news, area_id=reaction.area_id, cover=reaction.cover,
                                 cause=event, ts=now)
        update = update.replace(data={**update.data, "rule": f"room_reactions:on_{event.kind}"})
        self.log.info("room %s is %s: %s", event.room_id, event.kind,
                      ", ".join(f"{k}={v!r}" for k, v in update.data.items() if k in ("title", "news", "area_id")))
        self.metrics.counter("reactions_total", "room changes made on live/preparing", on=event.kind).inc()
        await emit(update)
