"""``livepipe assistant preview CONFIG --replay FILE``: what the bot would have said, and when, sending nothing.

The ``thanks``, ``welcome`` and ``autoreply`` processors of the configuration are built as engines
(the same code the pipeline runs) and fed the recorded events at their recorded times; time moves
with the recording, so an evening previews in a second. Each message prints as
``HH:MM:SS  [processor] text`` in the processor's time zone, followed by a summary per processor
(messages, viewers thanked, merged, dropped late, suppressed by cooldown). Nothing is sent and no
state file is read or written.

Exit status: 0 done; 78 the configuration or the replay file cannot be used.
"""

from __future__ import annotations

import gzip
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from livepipe.config import ConfigError, PipelineConfig, load_config
from livepipe.errors import ConfigurationError
from livepipe.events import Event
from livepipe_assistant.autoreply import AutoReplyConfig, AutoReplyEngine
from livepipe_assistant.base import Engine, own_uids
from livepipe_assistant.thanks import ThanksConfig, ThanksEngine
from livepipe_assistant.welcome import WelcomeConfig, WelcomeEngine

EXIT_CONFIG = 78
TYPES = {"thanks": (ThanksConfig, ThanksEngine), "welcome": (WelcomeConfig, WelcomeEngine),
         "autoreply": (AutoReplyConfig, AutoReplyEngine)}


class UsageProblem(ConfigurationError):
    """The configuration or the replay file cannot be previewed; exit 78."""


@dataclass(frozen=True)
class Said:
    """One message the preview shows."""

    ts: float
    processor: str
    text: str
    reply_uid: int | None

    def line(self, engine: Engine) -> str:
        """``HH:MM:SS  [processor] text`` in the processor's time zone."""
        when = datetime.fromtimestamp(self.ts, engine.tz).strftime("%H:%M:%S")
        at = f" (@{self.reply_uid})" if self.reply_uid else ""
        return f"{when}  [{self.processor}] {self.text}{at}"


def engines_of(config: PipelineConfig, only: str | None = None) -> dict[str, Engine]:
    """One engine per assistant processor of ``config`` (or only the one named ``only``)."""
    out: dict[str, Engine] = {}
    noted: set[str] = set()
    for cid, spec in config.components.items():
        if spec.type not in TYPES or (only is not None and cid != only):
            continue
        _, engine_cls = TYPES[spec.type]
        cfg = spec.config
        try:
            ignore = own_uids(cfg, config.credentials, config.config_dir)
        except Exception as e:  # no cookies on this machine: the preview goes on without the bot's uid
            if cfg.credential not in noted:
                noted.add(cfg.credential)
                click.echo(f"note: credential {cfg.credential!r}: the bot's uid is unknown ({e}); its own "
                           "messages in the recording are not told apart", err=True)
            ignore = set()
        out[cid] = engine_cls(cfg, ignore, cid)
    if only is not None and not out:
        raise UsageProblem(f"no thanks, welcome or autoreply processor named {only!r}")
    if not out:
        raise UsageProblem("the configuration has no processor of type thanks, welcome or autoreply")
    return out


def read_events(path: Path) -> tuple[list[Event], int]:
    """The events of a JSONL recording (``.gz`` too) in time order, and how many lines were skipped."""
    opener: Any = gzip.open if path.suffix == ".gz" else open
    events: list[Event] = []
    bad = 0
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    events.append(Event.from_json(line))
                except (ValueError, TypeError):
                    bad += 1
    except OSError as e:
        raise UsageProblem(f"cannot read the replay file {path}: {e}") from None
    events.sort(key=lambda e: e.ts)  # stable: equal times keep the file's order
    return events, bad


def simulate(engines: dict[str, Engine], events: list[Event]) -> list[Said]:
    """Feed ``events`` to every engine at their recorded times; what each would have sent, in time order."""
    said: list[Said] = []
    clock = {name: events[0].ts if events else 0.0 for name in engines}  # each engine's time so far

    def run(name: str, engine: Engine, now: float) -> None:
        clock[name] = now
        for msg in engine.poll(now):
            said.append(Said(now, name, msg.text or "", msg.data.get("reply_uid")))

    def poll_until(t: float) -> None:
        for name, engine in engines.items():
            polled = None
            while True:
                due = engine.next_due(clock[name])
                if due is not None and polled is not None and due <= polled:
                    due = polled + 0.01  # polled at this moment already: move on (never spin)
                if due is None or due > t:
                    break
                polled = max(due, clock[name])
                run(name, engine, polled)

    for ev in events:
        poll_until(ev.ts)
        for name, engine in engines.items():
            engine.take(ev, ev.ts)
            run(name, engine, ev.ts)
    poll_until(float("inf"))
    said.sort(key=lambda s: s.ts)
    return said


def summary(engines: dict[str, Engine]) -> list[str]:
    """One line of counts per processor."""
    return [f"{name}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in engine.counts.items()
                                    if v or k not in engine.TROUBLE)
            for name, engine in engines.items()]


@click.group("assistant")
def assistant_group() -> None:
    """The chat assistant (thanks, welcome, autoreply)."""


@assistant_group.command("preview")
@click.argument("config", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--replay", "replay", required=True, type=click.Path(exists=True, dir_okay=False),
              help="a recording of events (JSONL, as the file sink writes them; .gz too)")
@click.option("--processor", default=None, help="preview only this processor")
def preview_cmd(config: tuple[str, ...], replay: str, processor: str | None) -> None:
    """Print what the assistant would have said, and when, against a recorded evening, without sending."""
    try:
        try:
            cfg = load_config(config)
        except ConfigError as e:
            raise UsageProblem("invalid configuration:\n" + "\n".join(f"  {i}" for i in e.issues)) from None
        engines = engines_of(cfg, processor)
        events, bad = read_events(Path(replay))
    except UsageProblem as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    said = simulate(engines, events)
    for s in said:
        click.echo(s.line(engines[s.processor]))
    click.echo(f"-- {len(events)} events replayed" + (f", {bad} unreadable lines skipped" if bad else "")
               + f", {len(said)} messages; nothing was sent")
    for line in summary(engines):
        click.echo(line)


def register(cli: click.Group) -> None:
    """Add ``assistant`` to the ``livepipe`` command line."""
    cli.add_command(assistant_group, "assistant")
