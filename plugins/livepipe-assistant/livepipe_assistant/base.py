"""What the three processors share: who they answer, when, and how fast they may speak.

* :class:`AssistantConfig`: the common settings (the bot's credential, other bots, ``when``,
  ``rooms``, the send budget ``interval`` / ``max_length`` and ``max_delay``);
* :class:`Gate`: never the bot itself or another listed bot; only while the room is live (unless
  ``when = "always"``), tracked from ``live`` / ``preparing`` events;
* :class:`Engine`: the pure, clock-free part of a processor: ``offer(event, now)`` queues, ``poll(now)``
  returns the ``action.send`` events due now (at most one per ``interval``), ``next_due(now)`` says
  when to poll again. ``livepipe assistant preview`` drives the same engines on recorded time;
* :class:`AssistantProcessor`: an engine in a pipeline, polled after each event and by a timer
  task on the context clock, so a merged thanks goes out when its window ends even if the chat is quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
from pydantic import field_validator

from livepipe.bilibili import actions as act
from livepipe.bilibili.credential import Credential, CredentialError
from livepipe.component import Emit, Processor
from livepipe.events import Event
from livepipe.lograte import RateLimitedLog
from livepipe.schema import ProcessorConfig, field
from livepipe.templating import Template, TemplateError, compile_template

#: Bilibili's home time zone (``now`` in templates).
DEFAULT_TIMEZONE = "Asia/Shanghai"

#: The event kinds that say whether a room is live.
STATUS_KINDS = ("live", "preparing")


def zone(name: str) -> tzinfo:
    """The time zone for an IANA name; ``ValueError`` naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as \"Asia/Shanghai\"") from None


#: Line breaks and tabs become spaces; other control characters and the bidirectional controls go
#: (a viewer named "\u202e..." would turn the rest of the bot's message around).
_PLAIN = {**dict.fromkeys([*range(0x00, 0x20), *range(0x7F, 0xA0)]),
          **dict.fromkeys(map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")),
          **{c: " " for c in map(ord, "\t\n\v\f\r\x85\u2028\u2029")}}


def plain(text: str) -> str:
    """``text`` as one line of chat: line breaks as spaces, no control or bidi characters, stripped."""
    return text.translate(_PLAIN).strip()


def viewer_name(event: Event) -> str:
    """The viewer's name as one line of chat (:func:`plain`); the uid when the name is blank."""
    return plain(event.uname or "") or (str(event.uid) if event.uid else "")


def check_template(source: str, names: Mapping[str, Any], what: str) -> Template:
    """Compile ``source`` against ``names``; a ``ValueError`` naming ``what`` and the template line if wrong."""
    try:
        return compile_template(source, names)
    except TemplateError as e:
        raise ValueError(f"{what}: {e}" if what else str(e)) from None


class AssistantConfig(ProcessorConfig):
    """Settings every assistant processor has."""

    credential: str | None = field(None, description="the `[credentials.NAME]` table of the account the bot "
                                   "speaks with: its uid is never answered (no thanks, welcome or reply to itself)")
    ignore_uids: list[int] = field(default_factory=list, description="uids never answered: other bots, the "
                                   "streamer's own accounts")
    when: Literal["live", "always"] = field("live", description="`live`: act only while the room is live (from "
                                            "`live` until `preparing`; a room not yet seen either way counts as "
                                            "live); `always`: also while offline")
    rooms: list[int] = field(default_factory=list, description="act only in these rooms (real ids); empty = "
                             "every room of the input")
    interval: float = field(1.5, description="seconds between two messages of this processor; keep it at or "
                            "above the bilibili.send sink's min_interval (and the sum of every processor's rate "
                            "within it), so messages never queue in the sink", ge=0.05)
    max_length: int = field(20, description="longest message the account may send (the sink's max_length); "
                            "merged lines are built to fit it", ge=5, le=200)
    timezone: str = field(DEFAULT_TIMEZONE, description="IANA time zone of `now` in templates")

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, v: str) -> str:
        zone(v)
        return v


def own_uids(config: AssistantConfig, credentials: Mapping[str, Mapping[str, Any]],
             config_dir: Any = None) -> set[int]:
    """The bot's uid (from its credential) and ``ignore_uids``."""
    uids = set(config.ignore_uids)
    if config.credential is not None:
        table = credentials.get(config.credential)
        if table is None:
            known = ", ".join(sorted(credentials)) or "none defined"
            raise ValueError(f"credential {config.credential!r} is not a [credentials.*] table ({known})")
        cred = Credential.from_table(config.credential, dict(table), config_dir)
        if cred.dedeuserid:
            uids.add(cred.dedeuserid)
    return uids


class Gate:
    """Decides whether an event may be answered: room, sender, live state."""

    def __init__(self, config: AssistantConfig, ignore: set[int]) -> None:
        self.config = config
        self.ignore = set(ignore) | set(config.ignore_uids)
        #: room id -> True (live) / False (preparing); rooms not seen yet count as live
        self.live: dict[int | None, bool] = {}

    def observe(self, event: Event) -> bool:
        """Note a ``live`` / ``preparing`` event; True when ``event`` was one."""
        if event.kind in STATUS_KINDS:
            self.live[event.room_id] = event.kind == "live"
            return True
        return False

    def is_live(self, room_id: int | None) -> bool:
        """Whether the processor may speak in ``room_id`` now."""
        return self.config.when == "always" or self.live.get(room_id, True)

    def allows(self, event: Event) -> bool:
        """True if ``event`` is from a room the processor serves, while live, and not from an ignored uid."""
        if self.config.rooms and event.room_id not in self.config.rooms:
            return False
        if event.uid is not None and event.uid in self.ignore:
            return False
        return self.is_live(event.room_id)


class Engine:
    """The pure part of a processor: queue on :meth:`offer`, speak on :meth:`poll`, at most once per interval.

    Subclasses implement :meth:`offer`, :meth:`compose` (the next message, or ``None``) and
    :meth:`times` (the moments something pending changes: becomes ready or expires).
    """

    #: counter name -> help; every engine counts these (the processor turns them into metrics)
    COUNTERS: ClassVar[dict[str, str]] = {
        "messages": "messages emitted (action.send)",
        "dropped_late": "answers dropped because they could not be sent within max_delay",
        "suppressed_cooldown": "answers not made because the viewer (or rule) was within its cooldown",
        "bad_events": "events skipped because their data could not be read (a count that is not a number)",
    }
    #: counters of trouble: the preview's summary shows them only when they are not zero
    TROUBLE: ClassVar[frozenset[str]] = frozenset({"bad_events", "state_errors", "regex_timeouts",
                                                   "template_errors"})

    def __init__(self, config: AssistantConfig, ignore: set[int] | None = None, name: str = "assistant") -> None:
        self.config = config
        self.name = name
        self.gate = Gate(config, ignore or set())
        self.tz = zone(config.timezone)
        self.next_slot = -math.inf
        self.counts: dict[str, int] = dict.fromkeys(self.COUNTERS, 0)
        self.log = logging.getLogger(f"livepipe.processor.{name}")
        self.errors = RateLimitedLog(self.log)

    def count(self, what: str, n: int = 1) -> None:
        """Add ``n`` to counter ``what``."""
        self.counts[what] = self.counts.get(what, 0) + n

    # ---- to implement -----------------------------------------------------------------------------

    def offer(self, event: Event, now: float) -> bool:
        """Queue what ``event`` asks for; False if the event is not for this engine."""
        raise NotImplementedError

    def expire(self, now: float) -> None:
        """Drop what can no longer be sent in time (count it ``dropped_late``)."""

    def compose(self, now: float) -> Event | None:
        """The next message to send now (removing what it covers from the queue), or ``None``."""
        raise NotImplementedError

    def times(self) -> list[float]:
        """The moments a pending answer becomes ready or expires."""
        return []

    # ---- shared ------------------------------------------------------------------------------------

    def take(self, event: Event, now: float) -> bool:
        """:meth:`offer`, except that an event whose data cannot be read is skipped, counted and logged.

        A ``gift`` whose ``num`` is ``"x"`` (from a replay file, another source, a NATS peer) must not
        fail the processor: it is counted as ``bad_events`` and logged (rate-limited), and the
        processor goes on.
        """
        try:
            return self.offer(event, now)
        except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as e:
            self.count("bad_events")
            self.errors.log(logging.WARNING, f"bad:{event.kind}", "%s: skipped a %s event whose data it cannot "
                            "read (%s: %s)", self.name, event.kind, type(e).__name__, e)
            return False

    def now_value(self, now: float) -> datetime:
        """``now`` as templates see it: a datetime in the configured zone."""
        return datetime.fromtimestamp(now, self.tz)

    def render(self, template: Template, values: Mapping[str, Any], what: str) -> str | None:
        """``template`` rendered, or ``None`` (logged, rate-limited, counted) when it fails."""
        try:
            return plain(template.render(values))
        except TemplateError as e:
            self.count("template_errors")
            self.errors.log(logging.ERROR, f"{what}:{e}", "%s: the %s template failed: %s", self.name, what, e)
            return None

    def send(self, text: str, now: float, *, room_id: int | None, reply_uid: int | None = None,
             rule: str, uids: list[int] | None = None) -> Event:
        """The ``action.send`` for ``text``; takes the send slot(s) it needs."""
        parts = max(1, math.ceil(len(text) / self.config.max_length))
        self.next_slot = now + self.config.interval * parts
        self.count("messages")
        ev = act.send(text, room_id=room_id, reply_uid=reply_uid, ts=now)
        data = {**ev.data, "rule": rule}
        if uids:
            data["viewers"] = uids
        return ev.replace(data=data)

    def poll(self, now: float) -> list[Event]:
        """Drop what is late; then the message due now, if the budget allows one."""
        self.expire(now)
        if now < self.next_slot:
            return []
        msg = self.compose(now)
        return [msg] if msg is not None else []

    def next_due(self, now: float) -> float | None:
        """When :meth:`poll` may do something next (``None``: nothing pending)."""
        pending = self.times()
        if not pending:
            return None
        if now < self.next_slot:
            return self.next_slot
        if min(pending) <= now:
            return now  # something is ready (or expired): poll now
        return min(pending)


class AssistantProcessor(Processor):
    """An :class:`Engine` in a pipeline: fed by :meth:`process`, polled after each event and by a timer."""

    Config = AssistantConfig
    #: upper bound of one timer sleep (seconds), so a moved clock is noticed
    TICK_MAX = 1.0

    def __init__(self, config: AssistantConfig, context: Any) -> None:
        super().__init__(config, context)
        self.engine = self.make_engine(config, set())
        self._emit: Emit | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = anyio.Event()
        self._reported: dict[str, int] = {}

    def make_engine(self, config: Any, ignore: set[int]) -> Engine:
        """The engine of this processor."""
        raise NotImplementedError

    async def start(self) -> None:
        """Learn the bot's uid from its credential; the timer starts with the first event (it needs emit).

        A credential whose cookie file cannot be read (none yet on this machine, a ``livepipe test``
        in CI) is a warning, as for a dry-run ``bilibili.send``: the processor starts without the
        bot's uid. A real send with that credential fails at its sink, which says so.
        """
        try:
            uids = own_uids(self.config, self.context.credentials, self.context.config_dir)
        except CredentialError as e:
            self.log.warning("%s: the bot's uid is unknown (%s); going on without it: the bot's own messages "
                             "are not told apart from viewers' (list its uid in ignore_uids to be sure)", self.name, e)
            uids = set(self.config.ignore_uids)
        self.engine.gate.ignore |= uids

    async def stop(self) -> None:
        """Stop the timer."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def process(self, event: Event, emit: Emit) -> None:
        """Queue what ``event`` asks for and send what is due."""
        self._emit = emit
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._timer(), name=f"livepipe:{self.name}:timer")
        now = self.context.clock.time()
        if not self.engine.take(event, now):
            self.metrics.discarded(intentional=True)
        await self._drain(now, emit)
        self._wake.set()

    async def _drain(self, now: float, emit: Emit) -> None:
        for msg in self.engine.poll(now):
            self.log.info("%s: %s", self.name, msg.text)
            await emit(msg)
        self._sync_metrics()

    def _sync_metrics(self) -> None:
        for what, n in self.engine.counts.items():
            delta = n - self._reported.get(what, 0)
            if delta:
                help_ = self.engine.COUNTERS.get(what, what.replace("_", " "))
                self.metrics.counter(f"assistant_{what}_total", help_).inc(delta)
                self._reported[what] = n

    async def _timer(self) -> None:
        clock = self.context.clock
        drained_at = None
        while True:
            now = clock.time()
            due = self.engine.next_due(now)
            wait = self.TICK_MAX if due is None else min(max(due - now, 0.0), self.TICK_MAX)
            if wait <= 0 and drained_at == now:
                wait = 0.01  # polled at this very moment already: let time move (never spin)
            if wait > 0:
                self._wake = anyio.Event()
                sleeper = asyncio.ensure_future(clock.sleep(wait))
                waker = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for t in (sleeper, waker):
                        t.cancel()
                continue
            emit = self._emit
            if emit is None:
                continue
            try:
                drained_at = now
                await self._drain(now, emit)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return  # the pipeline is shutting down: its outputs are closed
            except Exception as e:  # never let the timer die silently
                self.engine.errors.log(logging.ERROR, f"timer:{type(e).__name__}", "%s: timer failed: %s",
                                       self.name, e)
                await clock.sleep(self.TICK_MAX)
