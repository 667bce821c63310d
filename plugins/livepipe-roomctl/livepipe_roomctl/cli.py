"""Command-line additions: ``livepipe roomctl preview`` and the one-off ``livepipe room ...`` commands.

``livepipe room title|news|area|start|stop`` run one ``action.room_update`` through a
``bilibili.room`` sink built from the config (its credential, room, base URL, limits and retry
policy), print the outcome and exit:

* 0: done (or ``--dry-run``);
* 1: Bilibili refused, or the request failed;
* 3: face authentication needed (startLive answered 60024): a human must act, nothing is retried;
* 78: the configuration (or the options) cannot work.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
import click

from livepipe.bilibili import actions as act
from livepipe.bilibili.sinks.room import RoomConfig, RoomSink
from livepipe.component import Context
from livepipe.config import ConfigError, PipelineConfig, load_config
from livepipe.errors import ConfigurationError
from livepipe.events import Event
from livepipe.runtime.metrics import ComponentMetrics, MetricsRegistry
from livepipe_roomctl.schedule import ScheduleConfig, preview
from livepipe_roomctl.timeutil import zone

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_FACE_AUTH = 3
EXIT_CONFIG = 78

FACE_AUTH_CODE = 60024
FACE_AUTH_MESSAGE = (
    "Bilibili wants face authentication before this account may start streaming (code 60024).\n"
    "Start the stream once from the Bilibili app or the desktop live client (直播姬) and complete the face "
    "check there; then run this command again. livepipe does not retry this by itself."
)


class UsageProblem(ConfigurationError):
    """The options and the config do not say enough (or contradict each other); exit 78."""


def _load(paths: tuple[str, ...]) -> PipelineConfig:
    try:
        return load_config(paths)
    except ConfigError as e:
        raise UsageProblem("invalid configuration:\n" + "\n".join(f"  {i}" for i in e.issues)) from None


# ---- livepipe roomctl preview ---------------------------------------------------------------------


def preview_lines(config: PipelineConfig, count: int, start: float, source: str | None = None) -> list[str]:
    """Lines of the preview: the next ``count`` firings of every ``schedule`` source, merged in time order."""
    specs = {cid: s for cid, s in config.components.items() if s.type == "schedule"}
    if source is not None:
        if source not in specs:
            raise UsageProblem(f"no schedule source named {source!r}; schedule sources: {', '.join(specs) or 'none'}")
        specs = {source: specs[source]}
    if not specs:
        raise UsageProblem("the configuration has no source of type \"schedule\"")
    rows: list[tuple[float, int, str]] = []
    for order, (cid, spec) in enumerate(specs.items()):
        cfg = spec.config
        assert isinstance(cfg, ScheduleConfig)
        tz = zone(cfg.timezone)
        for f in preview(cfg, start, count):
            rows.append((f.ts, order, f"{f.describe(tz)}  [{cid}]" if len(specs) > 1 else f.describe(tz)))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [line for _, _, line in rows[:count]]


def _parse_from(value: str | None, tz_name: str) -> float:
    if value is None:
        import time

        return time.time()
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date-time such as 2025-09-17T19:00") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone(tz_name))
    return dt.timestamp()


# ---- livepipe room ... ------------------------------------------------------------------------------


@dataclass
class RoomTarget:
    """Everything a one-off room action needs: the sink's config and what the credentials are."""

    sink_config: RoomConfig
    config: PipelineConfig
    room_id: int


def resolve_target(config: PipelineConfig, *, credential: str | None = None, room_id: int | None = None,
                   base_url: str | None = None, sink: str | None = None, dry_run: bool = False) -> RoomTarget:
    """The ``bilibili.room`` sink config to use: the config's sink (or ``sink``), with the options applied.

    Raises :class:`UsageProblem` when the config and the options leave something open.
    """
    sinks = {cid: s for cid, s in config.components.items() if s.type == "bilibili.room"}
    if sink is not None:
        if sink not in sinks:
            raise UsageProblem(f"no bilibili.room sink named {sink!r}; bilibili.room sinks: "
                               f"{', '.join(sinks) or 'none'}")
        chosen: dict[str, Any] = sinks[sink].config.model_dump()
    elif len(sinks) == 1:
        chosen = next(iter(sinks.values())).config.model_dump()
    elif len(sinks) > 1:
        raise UsageProblem(f"the configuration has several bilibili.room sinks ({', '.join(sinks)}); pick one "
                           "with --sink")
    else:
        chosen = {"type": "bilibili.room", "inputs": ["cli"]}
    if credential is not None:
        chosen["credential"] = credential
    if not chosen.get("credential"):
        known = ", ".join(config.credentials) or "none defined"
        raise UsageProblem(f"no credential: the config has no bilibili.room sink; pass --credential NAME "
                           f"([credentials.*] tables: {known})")
    if chosen["credential"] not in config.credentials:
        known = ", ".join(config.credentials) or "none defined"
        raise UsageProblem(f"credential {chosen['credential']!r} is not a [credentials.*] table ({known})")
    if base_url is not None:
        chosen["base_url"] = base_url
    if not chosen.get("base_url") and config.simulator is not None and config.simulator.url:
        chosen["base_url"] = config.simulator.url
    if not chosen.get("base_url") and config.simulator is not None:
        raise UsageProblem("this config embeds a [simulator], which runs only inside `livepipe run`; start "
                           "`livepipe sim` and pass its URL with --base-url (or set [simulator] url)")
    room = room_id or chosen.get("room_id")
    if room is None:
        rooms = {s.config.room_id for s in config.components.values()
                 if s.type == "schedule" and getattr(s.config, "room_id", None)}
        room = rooms.pop() if len(rooms) == 1 else None
    if room is None:
        raise UsageProblem("no room: pass --room ROOM_ID (or set room_id on the bilibili.room sink)")
    chosen["room_id"] = room
    chosen["dry_run"] = dry_run or bool(chosen.get("dry_run"))
    return RoomTarget(RoomConfig.model_validate(chosen), config, room)


@dataclass
class Outcome:
    """What one room action did."""

    exit_code: int
    message: str
    result: Event | None = None


async def run_room_action(target: RoomTarget, action: Event) -> Outcome:
    """Carry out ``action`` once through a ``bilibili.room`` sink; say how it went."""
    metrics = MetricsRegistry()
    ctx = Context(name="room-cli", metrics=ComponentMetrics(metrics, "room-cli", RoomSink.type_name),
                  log=logging.getLogger("livepipe.roomctl.cli"), credentials=target.config.credentials,
                  config_dir=target.config.config_dir)
    try:
        sink = RoomSink(target.sink_config, ctx)
    except ValueError as e:
        return Outcome(EXIT_CONFIG, str(e))
    results: list[Event] = []

    async def collect(event: Event, output: str | None = None, **_: Any) -> None:
        if event.kind == act.RESULT:
            results.append(event)

    try:
        await sink.start()
    except ValueError as e:
        return Outcome(EXIT_CONFIG, str(e))
    try:
        try:
            await sink.healthcheck()
        except RuntimeError as e:
            return Outcome(EXIT_FAILED, str(e))
        await sink.write(action, collect)
    finally:
        await sink.stop()
    if not results:  # pragma: no cover - the sink always reports
        return Outcome(EXIT_FAILED, "the sink reported nothing")
    res = results[-1]
    d = res.data
    if d["outcome"] in ("success", "dry_run"):
        return Outcome(EXIT_OK, str(d.get("message") or "done"), res)
    if d.get("code") == FACE_AUTH_CODE:
        return Outcome(EXIT_FACE_AUTH, FACE_AUTH_MESSAGE, res)
    return Outcome(EXIT_FAILED, f"{d['outcome']}: {d.get('message')}", res)


# ---- click wiring ---------------------------------------------------------------------------------


def _target_options(f: Any) -> Any:
    opts = [
        click.option("--config", "-c", "config", multiple=True, required=True, type=click.Path(dir_okay=False),
                     help="Config file(s) with the [credentials.*] table (and usually a bilibili.room sink)."),
        click.option("--credential", default=None, help="Name of the [credentials.NAME] table to act as "
                     "(default: the bilibili.room sink's)."),
        click.option("--room", "room_id", type=int, default=None, help="Room id (default: the sink's room_id)."),
        click.option("--base-url", default=None, help="One base URL for every Bilibili host, e.g. a running "
                     "`livepipe sim` (default: the sink's base_url, else the real hosts)."),
        click.option("--sink", default=None, help="Which bilibili.room sink of the config to take settings from."),
        click.option("--dry-run", is_flag=True, help="Say what would be done; send nothing."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _run(action_kwargs: dict[str, Any], *, config: tuple[str, ...], credential: str | None, room_id: int | None,
         base_url: str | None, sink: str | None, dry_run: bool) -> None:
    try:
        target = resolve_target(_load(config), credential=credential, room_id=room_id, base_url=base_url,
                                sink=sink, dry_run=dry_run)
        action = act.room_update(target.room_id, **action_kwargs)
    except (UsageProblem, ValueError) as e:
        click.echo(f"livepipe room: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    outcome = anyio.run(run_room_action, target, action, backend="asyncio")
    if outcome.exit_code == EXIT_OK:
        click.echo(f"livepipe room: {outcome.message}")
    else:
        click.echo(f"livepipe room: {outcome.message}", err=True)
    sys.exit(outcome.exit_code)


@click.group("room")
def room_group() -> None:
    """Change a live room once: title, announcement, area, start or stop the stream."""


@room_group.command("title")
@click.argument("text")
@_target_options
def room_title(text: str, **opts: Any) -> None:
    """Set the room title to TEXT (at most 40 characters)."""
    _run({"title": text}, **opts)


@room_group.command("news")
@click.argument("text")
@_target_options
def room_news(text: str, **opts: Any) -> None:
    """Set the announcement to TEXT (at most 60 characters; "" clears it)."""
    _run({"news": text}, **opts)


@room_group.command("area")
@click.argument("area_id", type=int)
@_target_options
def room_area(area_id: int, **opts: Any) -> None:
    """Move the room to child area AREA_ID."""
    _run({"area_id": area_id}, **opts)


@room_group.command("start")
@click.option("--area", "area_id", type=int, required=True, help="Child area to stream in (required by Bilibili).")
@_target_options
def room_start(area_id: int, **opts: Any) -> None:
    """Start the stream in --area. Face authentication (60024) exits 3 with what to do."""
    _run({"start": True, "area_id": area_id}, **opts)


@room_group.command("stop")
@_target_options
def room_stop(**opts: Any) -> None:
    """Stop the stream."""
    _run({"stop": True}, **opts)


@click.group("roomctl")
def roomctl_group() -> None:
    """livepipe-roomctl tools."""


@roomctl_group.command("preview")
@click.argument("config", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--count", "-n", type=click.IntRange(1, 10_000), default=10, show_default=True,
              help="How many firings to show.")
@click.option("--from", "start", default=None, help="Start from this ISO date-time (in the first schedule's "
              "time zone unless it names one); default: now.")
@click.option("--source", default=None, help="Only this schedule source.")
def preview_command(config: tuple[str, ...], count: int, start: str | None, source: str | None) -> None:
    """Show the next firings of the schedule sources in CONFIG and what each would change (sends nothing)."""
    try:
        cfg = _load(config)
        scheds = [s.config for s in cfg.components.values() if s.type == "schedule"]
        tz_name = scheds[0].timezone if scheds else "UTC"  # type: ignore[attr-defined]
        lines = preview_lines(cfg, count, _parse_from(start, tz_name), source)
    except UsageProblem as e:
        click.echo(f"livepipe roomctl preview: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    for line in lines:
        click.echo(line)


def register(cli: click.Group) -> None:
    """Add ``room`` and ``roomctl`` to the ``livepipe`` command line."""
    cli.add_command(room_group, "room")
    cli.add_command(roomctl_group, "roomctl")
