"""The ``chat_commands`` processor: the streamer and moderators change the room from the chat.

``!title TEXT``, ``!news TEXT``, ``!area ID``, ``!ban UID HOURS``, ``!unban UID`` (prefix
configurable) typed by an authorized user become actions:

* ``action.room_update`` on the ``update`` output (wire it to a ``bilibili.room`` sink),
* ``action.ban`` / ``action.unban`` on ``ban`` (to a ``bilibili.ban`` sink),
* a short acknowledgement or a helpful error reply as ``action.send`` on ``say`` (to ``bilibili.send``).

Who is authorized: ``streamer_uid``, the uids in ``moderators``, and (with ``room_admins``) the
room's admins as the chat reports them: the ``admins`` events (ROOM_ADMINS and friends) and the
admin flag Bilibili sets on each danmaku. Everyone else is ignored without a reply, so viewers
cannot make the bot talk. Masked senders (an anonymous connection) are never authorized.

:func:`parse` is pure: text in, :class:`Command` or :class:`CommandError` out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import field_validator

from livepipe.bilibili import actions as act
from livepipe.bilibili.sinks.room import NEWS_MAX, TITLE_MAX
from livepipe.component import Emit, Processor
from livepipe.errors import ConfigurationError
from livepipe.events import Event
from livepipe.schema import ProcessorConfig, field

UPDATE, BAN, SAY = "update", "ban", "say"
COMMANDS = ("title", "news", "area", "ban", "unban")
#: how many (room, sender) pairs are remembered as already told why their command was ignored
_TOLD_LIMIT = 10_000

#: Replies per language. Short on purpose: ordinary accounts may send at most 20 characters
#: per danmaku (the bilibili.send sink splits longer text into several messages).
MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "ok.title": "OK, title: {value}",
        "ok.news": "OK, announcement set",
        "ok.news_clear": "OK, announcement cleared",
        "ok.area": "OK, area {value}",
        "ok.ban": "OK, banned {uid} ({hours})",
        "ok.unban": "OK, unbanned {uid}",
        "hours.-1": "permanent",
        "hours.0": "this stream",
        "hours.n": "{n}h",
        "usage.title": "Usage: {p}title TEXT",
        "usage.area": "Usage: {p}area AREA_ID",
        "usage.ban": "Usage: {p}ban UID HOURS",
        "usage.unban": "Usage: {p}unban UID",
        "too_long.title": "Title too long: {n}/{max} chars (max {max})",
        "too_long.news": "Announcement too long: {n}/{max} chars (max {max})",
        "bad.area": "Area must be a number, e.g. {p}area 86",
        "bad.area_not_allowed": "Area {value} not allowed here",
        "bad.uid": "UID must be a number, e.g. {p}ban 12345 1",
        "bad.hours": "HOURS: -1 forever, 0 this stream, 1-720",
        "bad.protected": "{uid} is a moderator; not banned",
    },
    "zh": {
        "ok.title": "标题已改为：{value}",
        "ok.news": "公告已更新",
        "ok.news_clear": "公告已清空",
        "ok.area": "分区已改为 {value}",
        "ok.ban": "已禁言 {uid}（{hours}）",
        "ok.unban": "已解除禁言 {uid}",
        "hours.-1": "永久",
        "hours.0": "本场",
        "hours.n": "{n}小时",
        "usage.title": "用法：{p}title 标题",
        "usage.area": "用法：{p}area 分区ID",
        "usage.ban": "用法：{p}ban UID 小时",
        "usage.unban": "用法：{p}unban UID",
        "too_long.title": "标题最多{max}字，当前{n}字",
        "too_long.news": "公告最多{max}字，当前{n}字",
        "bad.area": "分区ID须为数字，如 {p}area 86",
        "bad.area_not_allowed": "不允许的分区 {value}",
        "bad.uid": "UID须为数字，如 {p}ban 12345 1",
        "bad.hours": "小时：-1永久，0本场，1-720",
        "bad.protected": "{uid} 是房管，不能禁言",
    },
}


@dataclass(frozen=True)
class Command:
    """A parsed, valid command: its name and arguments."""

    name: str
    text: str | None = None  # title / news
    area_id: int | None = None
    uid: int | None = None
    hours: int | None = None


class CommandError(ConfigurationError, ValueError):
    """A command with bad arguments; ``key`` and ``values`` pick the reply from :data:`MESSAGES`."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def split_command(text: str, prefixes: list[str]) -> tuple[str, str] | None:
    """``(name, rest)`` when ``text`` starts with a prefix and a word, else ``None``. The name is lower-cased."""
    s = text.strip()
    for p in sorted(prefixes, key=len, reverse=True):
        if p and s.startswith(p):
            body = s[len(p):]
            if not body or body[0].isspace():
                return None
            name, _, rest = body.partition(" ")
            return name.lower(), rest.strip()
    return None


def _int(s: str) -> int | None:
    s = s.strip()
    return int(s) if s.lstrip("-").isdigit() and s not in ("-", "") else None


def parse(name: str, rest: str, *, title_max: int = TITLE_MAX, news_max: int = NEWS_MAX) -> Command:
    """Check the arguments of command ``name``; raise :class:`CommandError` with the reason."""
    if name == "title":
        if not rest:
            raise CommandError("usage.title")
        if len(rest) > title_max:
            raise CommandError("too_long.title", n=len(rest), max=title_max)
        return Command("title", text=rest)
    if name == "news":
        if len(rest) > news_max:
            raise CommandError("too_long.news", n=len(rest), max=news_max)
        return Command("news", text=rest)  # empty clears the announcement
    if name == "area":
        if not rest:
            raise CommandError("usage.area")
        area = _int(rest)
        if area is None or area <= 0:
            raise CommandError("bad.area")
        return Command("area", area_id=area)
    if name in ("ban", "unban"):
        args = rest.split()
        want = 2 if name == "ban" else 1
        if len(args) != want:
            raise CommandError(f"usage.{name}")
        uid = _int(args[0].lstrip("@"))
        if uid is None or uid <= 0:
            raise CommandError("bad.uid")
        if name == "unban":
            return Command("unban", uid=uid)
        try:
            hours = act.check_hours(args[1])
        except ValueError:
            raise CommandError("bad.hours") from None
        return Command("ban", uid=uid, hours=hours)
    raise ValueError(f"unknown command {name!r}")


def _shorten(text: str, n: int) -> str:
    """``text`` cut to ``n`` characters, with an ellipsis when cut (acknowledgements stay short)."""
    return text if len(text) <= n else text[: n - 1] + "…"


class ChatCommandsConfig(ProcessorConfig):
    """Config of the ``chat_commands`` processor."""

    prefix: str | list[str] = field(["!", "！"], description="what a command starts with; a list allows several "
                                    "(the default also accepts the full-width ！ of Chinese keyboards)")
    commands: list[Literal["title", "news", "area", "ban", "unban"]] = field(
        list(COMMANDS), description="the commands to accept; others are ignored")
    streamer_uid: int | None = field(None, description="uid of the streamer (always authorized)", gt=0)
    moderators: list[int] = field(default_factory=list, description="uids always authorized besides the streamer")
    room_admins: bool = field(True, description="also authorize the room's admins, as the chat reports them "
                              "(`admins` events and the admin flag of each danmaku)")
    acknowledge: bool = field(True, description="answer every accepted command with a short danmaku on `say`")
    reply_errors: bool = field(True, description="answer a command with bad arguments with a helpful danmaku "
                               "on `say`")
    mention: bool = field(True, description="@-mention the sender in replies")
    language: Literal["en", "zh"] = field("zh", description="language of the replies: `zh` or `en`")
    allowed_areas: list[int] = field(default_factory=list, description="child areas `!area` may pick; empty = any")
    ban_reason: str = field("chat command", description="reason recorded with bans made by command")

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, v: str | list[str]) -> str | list[str]:
        for p in [v] if isinstance(v, str) else v:
            if not p or p != p.strip():
                raise ValueError("a prefix must be non-empty, without spaces around it")
        if isinstance(v, list) and not v:
            raise ValueError("give at least one prefix")
        return v


class ChatCommands(Processor):
    """Turns chat commands of authorized users into room, ban and reply actions."""

    type_name = "chat_commands"
    Config = ChatCommandsConfig
    outputs = (UPDATE, BAN, SAY)
    has_default_output = False

    def __init__(self, config: ChatCommandsConfig, context: Any) -> None:
        super().__init__(config, context)
        self.config: ChatCommandsConfig = config
        self.prefixes = [config.prefix] if isinstance(config.prefix, str) else list(config.prefix)
        self.messages = MESSAGES[config.language]
        #: room id -> uids the chat says are admins there
        self.admins: dict[int | None, set[int]] = {}
        self._warned_masked = False
        #: (room, uid) of senders already told why their command was ignored (bounded)
        self._told_ignored: set[tuple[int | None, int | None]] = set()
        self._accepted = lambda name: self.metrics.counter("commands_total", "chat commands by outcome",
                                                            command=name, outcome="accepted")

    # ---- who may command -------------------------------------------------------------------------

    def authorized(self, event: Event) -> bool:
        """True when the sender of ``event`` may give commands in its room."""
        uid = event.uid
        if not uid or event.data.get("masked"):
            return False
        c = self.config
        if uid == c.streamer_uid or uid in c.moderators:
            return True
        if c.room_admins:
            return bool(event.data.get("is_admin")) or uid in self.admins.get(event.room_id, ())
        return False

    def unauthorized_reason(self, event: Event) -> str:
        """Why :meth:`authorized` said no, for the log."""
        if not event.uid or event.data.get("masked"):
            return ("the sender is masked (the bilibili.danmaku source reads the room anonymously; give it a "
                    "credential)")
        c = self.config
        who = [f"not the streamer_uid ({c.streamer_uid})" if c.streamer_uid else "no streamer_uid is set",
               "not in moderators"]
        if c.room_admins:
            who.append("not a room admin (no admin flag on the danmaku, not in the admin list seen)")
        else:
            who.append("room admins are not trusted (room_admins = false)")
        return ", ".join(who)

    def _log_ignored(self, name: str, event: Event) -> None:
        """Say once per sender and room (at INFO) why a command was ignored; repeats go to DEBUG."""
        key = (event.room_id, event.uid)
        reason = self.unauthorized_reason(event)
        if key in self._told_ignored:
            self.log.debug("ignored %s%s from %s in room %s: %s", self.prefixes[0], name, event.uid, event.room_id,
                           reason)
            return
        if len(self._told_ignored) >= _TOLD_LIMIT:
            self._told_ignored.clear()
        self._told_ignored.add(key)
        self.log.info("ignored %s%s from %s (%s) in room %s: %s; further commands from this sender are ignored "
                      "without a log line (counted in commands_total{outcome=\"unauthorized\"})",
                      self.prefixes[0], name, event.uid, event.uname, event.room_id, reason)

    def _protected(self, room_id: int | None, uid: int) -> bool:
        c = self.config
        return uid == c.streamer_uid or uid in c.moderators or uid in self.admins.get(room_id, ())

    def _track_admins(self, event: Event) -> None:
        uids = {int(u) for u in event.data.get("uids") or [] if isinstance(u, int) and not isinstance(u, bool)}
        action = event.data.get("action")
        current = self.admins.setdefault(event.room_id, set())
        if action == "list":
            current.clear()
            current.update(uids)
        elif action == "add":
            current.update(uids)
        elif action == "revoke":
            current.difference_update(uids)
        self.log.debug("room %s admins now: %s", event.room_id, sorted(current))

    # ---- events ----------------------------------------------------------------------------------

    def _say(self, key: str, event: Event, **values: Any) -> Event:
        text = self.messages[key].format(p=self.prefixes[0], **values)
        return act.send(text, reply_uid=event.uid if self.config.mention else None, cause=event)

    async def process(self, event: Event, emit: Emit) -> None:
        """Track admins; turn an authorized user's command into actions; ignore everything else."""
        if event.kind == "admins":
            self._track_admins(event)
            self.metrics.discarded(intentional=True)
            return
        if event.kind != "danmaku" or not event.text:
            self.metrics.discarded(intentional=True)
            return
        parts = split_command(event.text, self.prefixes)
        if parts is None or parts[0] not in self.config.commands:
            self.metrics.discarded(intentional=True)
            return
        name, rest = parts
        if not self.authorized(event):
            if (not event.uid or event.data.get("masked")) and not self._warned_masked:
                self._warned_masked = True
                self.log.warning("a command came from a masked sender; give the bilibili.danmaku source a "
                                 "credential so senders (and moderators) can be recognised")
            else:
                self._log_ignored(name, event)
            self.metrics.counter("commands_total", "chat commands by outcome", command=name,
                                 outcome="unauthorized").inc()
            self.metrics.discarded(intentional=True)
            return
        try:
            cmd = parse(name, rest)
            if cmd.name == "area" and self.config.allowed_areas and cmd.area_id not in self.config.allowed_areas:
                raise CommandError("bad.area_not_allowed", value=cmd.area_id)
            if cmd.name == "ban" and cmd.uid is not None and self._protected(event.room_id, cmd.uid):
                raise CommandError("bad.protected", uid=cmd.uid)
        except CommandError as e:
            self.metrics.counter("commands_total", "chat commands by outcome", command=name, outcome="invalid").inc()
            self.log.info("command %r from %s rejected: %s", event.text, event.uid, e.key)
            if self.config.reply_errors:
                await emit(self._say(e.key, event, **e.values), SAY)
            return
        self._accepted(name).inc()
        self.log.info("command from %s (%s) in room %s: %s", event.uid, event.uname, event.room_id, event.text)
        await self._carry_out(cmd, event, emit)

    async def _carry_out(self, cmd: Command, event: Event, emit: Emit) -> None:
        if cmd.name == "title":
            await emit(act.room_update(title=cmd.text, cause=event), UPDATE)
            ack = self._say("ok.title", event, value=_shorten(cmd.text or "", 12))
        elif cmd.name == "news":
            await emit(act.room_update(news=cmd.text, cause=event), UPDATE)
            ack = self._say("ok.news" if cmd.text else "ok.news_clear", event)
        elif cmd.name == "area":
            await emit(act.room_update(area_id=cmd.area_id, cause=event), UPDATE)
            ack = self._say("ok.area", event, value=cmd.area_id)
        elif cmd.name == "ban":
            assert cmd.uid is not None and cmd.hours is not None
            await emit(act.ban(cmd.uid, cmd.hours, reason=self.config.ban_reason, rule="chat_commands",
                               cause=event), BAN)
            h = self.messages["hours.n"].format(n=cmd.hours) if cmd.hours > 0 else self.messages[f"hours.{cmd.hours}"]
            ack = self._say("ok.ban", event, uid=cmd.uid, hours=h)
        else:
            assert cmd.uid is not None
            await emit(act.unban(cmd.uid, reason=self.config.ban_reason, cause=event), BAN)
            ack = self._say("ok.unban", event, uid=cmd.uid)
        if self.config.acknowledge:
            await emit(ack, SAY)
