"""The ``autoreply`` processor: answer common questions in chat from keyword and regex rules.

Each rule has keywords (matched on the same normalized text automod uses, :mod:`livepipe.textnorm`:
``ＱＱ群``, ``q q 群`` and ``QQ群`` all contain the keyword ``qq群``) and/or a regular expression
(matched on the ``clean`` form: lower case, half-width, simplified), and a reply template (a list
rotates). A rule answers at most once per its ``cooldown``; a viewer gets at most one reply per
``viewer_cooldown``; ``at = true`` @-mentions the viewer. Replies share the send budget
(``interval``) and are dropped when they cannot go out within ``max_delay``.

Regular expressions run on the ``regex`` library (the ``re`` syntax) with a timeout of
:data:`REGEX_TIMEOUT` per message: a pattern that backtracks without end on some message (``^(a|aa)+$``)
gives up on that message, logged and counted, instead of stalling the pipeline. Only the first
:data:`MAX_TEXT` characters of a message are matched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import regex as re
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from livepipe.events import Event
from livepipe.schema import field
from livepipe.templating import EVENT_NAMES, Template, event_values
from livepipe.textnorm import clean, normalize
from livepipe_assistant.base import AssistantConfig, AssistantProcessor, Engine, check_template

#: Seconds a rule's regex may search one message before it gives up (counted as ``regex_timeouts``).
REGEX_TIMEOUT = 0.2
#: Characters of a message the rules look at (a question is short; a danmaku is at most a few dozen).
MAX_TEXT = 500


class Rule(BaseModel):
    """One question and its answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(None, description="a name for logs and metrics (default: rule1, rule2, ...)")
    keywords: list[str] = Field(default_factory=list, description="answer a message containing any of these "
                                "(normalized: case, width, spaces, traditional characters and look-alikes ignored)")
    regex: str | None = Field(None, description="answer a message this regular expression finds something in "
                              "(searched in the lower-case, half-width, simplified form)")
    reply: str | list[str] = Field(description="the reply template (names as in any event template: uname, text, "
                                   "event, now, ...); a list rotates, one per answer")
    cooldown: float = Field(30.0, description="seconds before this rule answers again (anyone)", ge=0)
    at: bool = Field(False, description="@-mention the viewer (reply_uid)")

    @field_validator("regex")
    @classmethod
    def _check_regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"regex {v!r} is not a valid regular expression: {e}") from None
        return v

    @model_validator(mode="after")
    def _check(self) -> Rule:
        if not self.keywords and self.regex is None:
            raise ValueError("a rule needs keywords or a regex")
        if any(not normalize(k).compact for k in self.keywords):
            raise ValueError("a keyword is empty once normalized (only spaces or symbols)")
        replies = [self.reply] if isinstance(self.reply, str) else self.reply
        if not replies:
            raise ValueError("reply needs at least one template")
        for i, r in enumerate(replies):
            check_template(r, EVENT_NAMES, "reply" if isinstance(self.reply, str) else f"reply[{i}]")
        return self


class AutoReplyConfig(AssistantConfig):
    """Config of the ``autoreply`` processor."""

    rules: list[Rule] = field(description="the rules, first match wins (`[[processors.NAME.rules]]`)", min_length=1)
    viewer_cooldown: float = field(60.0, description="seconds before the same viewer gets another reply", ge=0)
    max_delay: float = field(10.0, description="a reply not sent within this many seconds is dropped", gt=0)

    @model_validator(mode="after")
    def _check_all(self) -> AutoReplyConfig:
        ids = [r.id for r in self.rules if r.id]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"rule ids must be unique; repeated: {', '.join(dup)}")
        if self.max_delay <= self.interval:
            raise ValueError(f"max_delay ({self.max_delay} s) must be longer than interval ({self.interval} s)")
        return self


@dataclass
class Compiled:
    """A rule ready to match."""

    id: str
    rule: Rule
    keywords: list[str]
    regex: re.Pattern[str] | None
    replies: list[Template]
    used: int = 0
    last: float = -1e18

    def matches(self, text: str) -> bool:
        """True if ``text`` contains a keyword (normalized) or the regex finds something in its clean form.

        ``TimeoutError`` when the regex searched longer than :data:`REGEX_TIMEOUT`.
        """
        text = text[:MAX_TEXT]
        if self.keywords:
            compact = normalize(text).compact
            if any(k in compact for k in self.keywords):
                return True
        return self.regex is not None and self.regex.search(clean(text), timeout=REGEX_TIMEOUT) is not None


@dataclass
class Reply:
    """A reply waiting for a send slot."""

    rule: Compiled
    event: Event
    origin: float


class AutoReplyEngine(Engine):
    """Matching, cooldowns and deadlines of ``autoreply``."""

    COUNTERS: ClassVar[dict[str, str]] = {**Engine.COUNTERS, "replied": "replies sent", "matched": "messages a "
                                          "rule matched", "regex_timeouts": "messages a rule's regex gave up on "
                                          "(searched longer than 0.2 s): read as no match"}

    def __init__(self, config: AutoReplyConfig, ignore: set[int] | None = None, name: str = "autoreply") -> None:
        super().__init__(config, ignore, name)
        self.config: AutoReplyConfig = config
        self.rules: list[Compiled] = []
        for i, r in enumerate(config.rules):
            replies = [r.reply] if isinstance(r.reply, str) else list(r.reply)
            self.rules.append(Compiled(
                r.id or f"rule{i + 1}", r, [normalize(k).compact for k in r.keywords],
                re.compile(r.regex) if r.regex is not None else None,
                [check_template(t, EVENT_NAMES, "reply") for t in replies]))
        self.viewer_last: dict[tuple[int | None, int | None], float] = {}
        self.queue: list[Reply] = []

    def offer(self, event: Event, now: float) -> bool:
        """Queue the reply of the first rule matching a danmaku (cooldowns permitting)."""
        if self.gate.observe(event) or event.kind != "danmaku" or not event.text or not self.gate.allows(event):
            return False
        for rule in self.rules:
            try:
                if not rule.matches(event.text):
                    continue
            except TimeoutError:
                self.count("regex_timeouts")
                self.errors.log(logging.WARNING, f"regex-timeout:{rule.id}", "%s: the regex of rule %s searched "
                                "longer than %s s on one message and gave up (read as no match) — simplify it: "
                                "a repeat inside a repeat, such as (a+)+ or (a|aa)+, can take forever",
                                self.name, rule.id, REGEX_TIMEOUT)
                continue
            self.count("matched")
            viewer = (event.room_id, event.uid)
            if now - rule.last < rule.rule.cooldown or (
                    event.uid and now - self.viewer_last.get(viewer, -1e18) < self.config.viewer_cooldown):
                self.count("suppressed_cooldown")
                return True
            rule.last = now
            if event.uid:
                self.viewer_last[viewer] = now
            self.queue.append(Reply(rule, event, now))
            return True
        return True

    def times(self) -> list[float]:
        """Replies are ready at once; their deadlines."""
        return [t for r in self.queue for t in (r.origin, self.deadline(r))]

    def deadline(self, reply: Reply) -> float:
        """The last moment ``reply`` may be emitted."""
        return reply.origin + self.config.max_delay - self.config.interval

    def expire(self, now: float) -> None:
        """Drop replies past their deadline."""
        keep = [r for r in self.queue if now < self.deadline(r)]
        self.count("dropped_late", len(self.queue) - len(keep))
        self.queue = keep

    def compose(self, now: float) -> Event | None:
        """The oldest queued reply."""
        while self.queue:
            reply = self.queue.pop(0)
            rule = reply.rule
            template = rule.replies[rule.used % len(rule.replies)]
            rule.used += 1
            text = self.render(template, event_values(reply.event, self.now_value(now)), f"reply of {rule.id}")
            if not text:
                continue
            self.count("replied")
            ev = reply.event
            return self.send(text, now, room_id=ev.room_id, reply_uid=ev.uid if rule.rule.at and ev.uid else None,
                             rule=f"autoreply:{rule.id}", uids=[ev.uid] if ev.uid else None)
        return None


class AutoReply(AssistantProcessor):
    """Answers chat messages that match keyword or regex rules (``action.send``)."""

    type_name = "autoreply"
    Config = AutoReplyConfig

    def make_engine(self, config: AutoReplyConfig, ignore: set[int]) -> AutoReplyEngine:
        """An :class:`AutoReplyEngine`."""
        return AutoReplyEngine(config, ignore, self.name)
