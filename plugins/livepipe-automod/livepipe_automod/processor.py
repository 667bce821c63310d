"""The ``automod`` processor: danmaku in; bans, warnings and flags out.

For each danmaku: skip exempt senders (scope.py), normalize the text once (normalize.py), find the
word and regex rules it breaks (ruleset.py), feed the spam detectors (spam.py), then move each
offender one step up the rule's ladder (ladder.py) and emit what that step says. Super-chat text is
read by the rules whose ``scope`` names ``super_chat`` (the default), user names (of danmaku senders,
once per name, and of entering viewers) by the rules that opt in with ``uname``. A hit less confident
than its rule's ``ban_from`` never bans: its rule's ``below_ban`` (``flag`` or ``warn``) is done instead.

* ``ban``: an ``action.ban`` (wire it to ``bilibili.ban``);
* ``warn``: an ``action.send`` @-replying to the user (wire it to ``bilibili.send``);
* ``flagged``: an ``automod.flagged`` event for humans: ladder steps ``flag``, hits within a
  rule's cooldown, masked senders (who cannot be banned) and, with ``dry_run``, every action.

Every emitted event carries ``data.rule``, ``data.matched`` (what matched), ``data.normalized``
(the normalized form it was found in), ``data.why``, ``data.confidence`` (how it matched) and
``data.scope`` (what was read). ``admins`` events update the room's admin
list; other events are ignored (counted as intentionally discarded).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from livepipe.bilibili import actions
from livepipe.component import Context, Emit, Processor
from livepipe.events import Event, make_event
from livepipe.lograte import RateLimitedLog
from livepipe.schema import ProcessorConfig, field

from livepipe_automod import segment
from livepipe_automod.ladder import Ladder, Step
from livepipe_automod.matchers import RANK, REGEX_TIMEOUT, Hit
from livepipe_automod.normalize import normalize
from livepipe_automod.rules import RuleConfig, RuleError, RuleSource
from livepipe_automod.ruleset import RuleSet
from livepipe_automod.scope import Scope, ScopeSettings

if TYPE_CHECKING:
    from livepipe_automod.normalize import Normalized

FLAGGED_KIND = "automod.flagged"


class AutoModConfig(ProcessorConfig):
    """Config of the ``automod`` processor."""

    rules: list[RuleConfig] = field(default_factory=list, description="rules as `[[processors.NAME.rules]]` "
                                    "tables (see docs/automod.md)")
    rules_file: str | None = field(None, description="a TOML file of `[[rules]]` tables, reloaded when it (or "
                                   "a words_file it names) changes; relative to the config file")
    reload_interval: float = field(5.0, description="seconds between two checks of the rule files' "
                                   "modification times", gt=0)
    substitutions: dict[str, str] = field(default_factory=dict, description="what chat writes -> what it "
                                          "stands for, added to the default table (`\"🐴\" = \"妈\"`, "
                                          "`nm = \"你妈\"`); an empty value removes a default entry")
    dry_run: bool = field(False, description="emit nothing on `ban` and `warn`: every action becomes an "
                          "`automod.flagged` event with `data.dry_run = true` and what would have been done")
    streamer_uids: list[int] = field(default_factory=list, description="uids never moderated (the streamer)")
    admins: list[int] = field(default_factory=list, description="uids of room admins, exempt like those "
                              "learnt from ROOM_ADMINS events and the danmaku's is_admin flag")
    exempt_admins: bool = field(True, description="room admins are never moderated")
    exempt_guards: bool = field(True, description="guards (captain, admiral, governor) are never moderated")
    exempt_medal_level: int = field(0, description="fans with this room's medal at this level or above are "
                                    "never moderated; 0 = off", ge=0)
    exempt_user_level: int = field(0, description="users at this user level (UL) or above are never "
                                   "moderated; 0 = off", ge=0)
    newcomer_below_level: int = field(0, description="a user below this user level is a newcomer (rules with "
                                      "`applies_to = \"newcomers\"` apply); 0 = off", ge=0)
    newcomer_without_medal: bool = field(False, description="a user without this room's fan medal is a newcomer")
    newcomer_first_messages: int = field(0, description="a user's first N messages seen by this processor count "
                                         "as a newcomer's; 0 = off", ge=0)
    max_users: int = field(100_000, description="most users remembered (message counts, ladder steps); the "
                           "least recently seen are forgotten first", ge=100)


@dataclass(frozen=True, slots=True)
class Offence:
    """One rule broken by one message: the rule, the message and the match."""

    rule: RuleConfig
    event: Event
    hit: Hit
    scope: str = "danmaku"


class AutoMod(Processor):
    """Moderates danmaku: normalized word/regex rules, spam detection, exemptions and an action ladder."""

    type_name = "automod"
    Config = AutoModConfig
    outputs = ("ban", "warn", "flagged")
    has_default_output = False

    def __init__(self, config: AutoModConfig, context: Context) -> None:
        super().__init__(config, context)
        self.config: AutoModConfig = config
        self.clock = context.clock
        self.scope = Scope(ScopeSettings(
            streamer_uids=frozenset(config.streamer_uids), admins=frozenset(config.admins),
            exempt_admins=config.exempt_admins, exempt_guards=config.exempt_guards,
            exempt_medal_level=config.exempt_medal_level, exempt_user_level=config.exempt_user_level,
            newcomer_below_level=config.newcomer_below_level,
            newcomer_without_medal=config.newcomer_without_medal,
            newcomer_first_messages=config.newcomer_first_messages, max_users=config.max_users,
        ))
        # whether any newcomer setting is on (if none is, nobody is a newcomer: no message counting at all)
        self._newcomers = bool(config.newcomer_below_level or config.newcomer_without_medal
                               or config.newcomer_first_messages)
        self.ladder = Ladder(config.max_users)
        rules_file = context.path(config.rules_file) if config.rules_file else None
        self.source = RuleSource(list(config.rules), rules_file, context.config_dir, build=self._build,
                                 now=self.clock.monotonic, interval=config.reload_interval)
        self.ruleset: RuleSet | None = None
        self._slow_regexes = RateLimitedLog(self.log)
        self._names_seen: OrderedDict[tuple[int | None, str], None] = OrderedDict()

    def _build(self, rules: list[RuleConfig], words: dict[str, list[str]]) -> RuleSet:
        return RuleSet.build(rules, words, previous=self.source.current_set, substitutions=self.config.substitutions,
                             on_regex_timeout=self._regex_timed_out)

    def _regex_timed_out(self, rule: str) -> None:
        self.metrics.counter("automod_regex_timeouts_total", "messages a rule's regex gave up on (read as no match)",
                             rule=rule).inc()
        self._slow_regexes.log(logging.WARNING, rule, "automod %r: a regex of rule %s searched longer than %s s on "
                               "one message and gave up (read as no match) — simplify it: a repeat inside a "
                               "repeat, such as (a+)+ or (a|aa)+, can take forever", self.name, rule, REGEX_TIMEOUT)

    async def start(self) -> None:
        """Read the rule file(s) and compile the rules; a bad rule file stops the pipeline from starting."""
        try:
            self.ruleset = self.source.load()
        except RuleError as e:
            raise RuleError(f"automod {self.name!r}: {e}") from None
        self.log.info("automod: %d rules, %d words (%d with pinyin), %d regexes", len(self.ruleset.rules),
                      self.ruleset.words.size, self.ruleset.words.pinyin_size, self.ruleset.regexes.size)
        if any(m.words.needs_segmenter for m in self.ruleset.scopes.values()):
            # loaded once per process, off the event loop, before the first hit needs it
            seconds = segment.load_seconds()
            if seconds is None:
                seconds = await anyio.to_thread.run_sync(segment.warm_up)
            self.log.info("automod: word segmenter (jieba) ready; its one-time load took %.2f s", seconds)

    def _reload_failed(self, error: Exception) -> None:
        self.metrics.error("rules_reload")
        self.log.error("automod: rules not reloaded, the previous ones stay in use: %s", error)

    async def process(self, event: Event, emit: Emit) -> None:
        """Moderate one danmaku, super chat or entering viewer (or learn the admin list from ``admins``)."""
        kind = event.kind
        if kind != "danmaku" and kind != "super_chat" and kind != "enter":
            if kind == "admins":
                self.scope.observe_admins(event)
            else:
                self.metrics.discarded(intentional=True)
            return
        ruleset = self.source.current(self._reload_failed)
        if ruleset is None:
            raise RuntimeError("automod used before start()")
        scope = self.scope
        if scope.exemption(event) is not None:
            return
        newcomer = False
        if self._newcomers:
            uid = event.uid
            nth = scope.count_message(uid) if kind == "danmaku" and uid is not None else 1
            newcomer = scope.newcomer(event, nth) is not None
        offences: list[Offence] = []
        if event.uname and self._new_name(ruleset, event):
            offences += self._offences(ruleset, event, normalize(event.uname), "uname", newcomer)
        text = event.text
        if kind != "enter" and text:
            norm = normalize(text)  # (one normalization for the rules and the spam key)
            offences += self._offences(ruleset, event, norm, kind, newcomer)
            if kind == "danmaku" and ruleset.spam:
                key = norm.folded
                if key:
                    offences += self._spam(ruleset, event, key, newcomer)
        for offence in offences:
            await self._act(offence, ruleset.ladders[offence.rule.id], emit)

    def _offences(self, ruleset: RuleSet, event: Event, text: Normalized, scope: str, newcomer: bool) -> list[Offence]:
        hits = ruleset.match(text, newcomer=newcomer, scope=scope)
        if not hits:
            return []
        return [Offence(ruleset.rules[h.rule], event, h, scope) for h in hits]

    def _new_name(self, ruleset: RuleSet, event: Event) -> bool:
        """Whether the sender's name should be read: a name rule exists and this (uid, name) is new."""
        matchers = ruleset.scopes["uname"]
        if not (matchers.words.size or matchers.regexes.size) or event.data.get("masked"):
            return False
        key = (event.uid, event.uname or "")
        if key in self._names_seen:
            self._names_seen.move_to_end(key)
            return False
        self._names_seen[key] = None
        if len(self._names_seen) > self.config.max_users:
            self._names_seen.popitem(last=False)
        return True

    def _spam(self, ruleset: RuleSet, event: Event, key: str, newcomer: bool) -> list[Offence]:
        now = self.clock.monotonic()
        who = event.uid if event.uid is not None else _masked_key(event)
        out: list[Offence] = []
        for rule, detector in ruleset.spam:
            if rule.applies_to == "newcomers" and not newcomer:
                continue
            if rule.kind != "rate" and len(key) < rule.min_length:
                continue
            for ev in detector.check(now, event.room_id, who, key, event):
                why = _SPAM_WHY[rule.kind].format(r=rule)
                out.append(Offence(rule, ev, Hit(rule.id, ev.text or "", normalize(ev.text or "").folded, why)))
        return out

    async def _act(self, offence: Offence, steps: list[Step], emit: Emit) -> None:
        rule, ev = offence.rule, offence.event
        self.metrics.counter("automod_hits_total", "messages that broke an automod rule", rule=rule.id).inc()
        if ev.uid is None:
            await self._flag(offence, None, "masked sender: cannot be warned or banned", emit)
            return
        may_ban = RANK[offence.hit.confidence] <= RANK[rule.ban_from]
        decision = self.ladder.offend(rule.id, ev.room_id, ev.uid, steps, now=self.clock.monotonic(),
                                      decay=rule.decay, cooldown=rule.cooldown, may_ban=may_ban)
        step = decision.step
        if decision.held_back:
            note = (f"a {offence.hit.confidence} match may not ban (the rule bans from {rule.ban_from}): "
                    f"{rule.below_ban} instead of {step}")
            if rule.below_ban == "flag" or self.config.dry_run:
                await self._flag(offence, Step(rule.below_ban), note, emit, strike=decision.strike)
                return
            step = Step("warn")
        if decision.cooling_down:
            await self._flag(offence, None, f"within the {rule.cooldown:g} s cooldown after the last action",
                             emit, strike=decision.strike)
            return
        if step.action == "flag" or self.config.dry_run:
            await self._flag(offence, step, "dry_run" if self.config.dry_run else "ladder step flag", emit,
                             strike=decision.strike)
            return
        action = self._action(offence, step, decision.strike)
        self.metrics.counter("automod_actions_total", "actions automod emitted", rule=rule.id,
                             action=step.action).inc()
        await emit(action, step.action)

    def _details(self, offence: Offence, strike: int | None) -> dict[str, Any]:
        hit = offence.hit
        return {"rule": offence.rule.id, "matched": hit.matched, "normalized": hit.normalized, "why": hit.why,
                "confidence": hit.confidence, "scope": offence.scope, "strike": strike}

    def _action(self, offence: Offence, step: Step, strike: int) -> Event:
        rule, ev = offence.rule, offence.event
        assert ev.uid is not None
        now = self.clock.time()
        if step.action == "ban":
            assert step.hours is not None
            reason = rule.reason or f"automod {rule.id}: {offence.hit.why}"
            action = actions.ban(ev.uid, step.hours, reason=reason, text=ev.text, rule=rule.id, cause=ev, ts=now)
        else:
            reply = rule.reply.replace("{uname}", ev.uname or "").replace("{rule}", rule.id)
            action = actions.send(reply, reply_uid=ev.uid, cause=ev, ts=now)
        return action.replace(data={**action.data, **self._details(offence, strike)})

    async def _flag(self, offence: Offence, step: Step | None, note: str, emit: Emit,
                    strike: int | None = None) -> None:
        ev = offence.event
        data = {**self._details(offence, strike), "would": str(step) if step else None, "note": note,
                "dry_run": self.config.dry_run, "cause_id": ev.id}
        flagged = make_event(FLAGGED_KIND, room_id=ev.room_id, uid=ev.uid, uname=ev.uname, text=ev.text,
                             ts=self.clock.time(), data=data)
        self.metrics.counter("automod_actions_total", "actions automod emitted", rule=offence.rule.id,
                             action="flag").inc()
        await emit(flagged, "flagged")


_SPAM_WHY = {
    "repeat": "the same text {r.count} times within {r.window:g} s",
    "flood": "{r.count} users posted the same text within {r.window:g} s",
    "similar": "{r.count} messages at least {r.threshold:g}% alike within {r.window:g} s",
    "rate": "more than {r.count} messages within {r.window:g} s",
}


def _masked_key(event: Event) -> int:
    """A stand-in id for a masked sender (from the uid CRC32 Bilibili still sends), for spam counting only."""
    crc = event.data.get("uid_crc32")
    try:
        return -int(str(crc), 16) - 1
    except ValueError:
        return -1
