"""Registers the Bilibili components (web and open-platform sources, the merge, action sinks) and the
``bilibili`` replay format (raw cmd messages) with livepipe."""

from __future__ import annotations

from livepipe.components.replay_formats import ReplayFormat
from livepipe.hookspecs import hookimpl
from livepipe.registry import ComponentRegistry


@hookimpl
def livepipe_register_components(registry: ComponentRegistry) -> None:
    """Register the built-in Bilibili component types."""
    from livepipe.bilibili.credential import BilibiliCredentialConfig
    from livepipe.bilibili.source import DanmakuSource

    registry.register_credentials(BilibiliCredentialConfig)

    registry.register(DanmakuSource)
    from livepipe.bilibili.open_source import OpenSource

    registry.register(OpenSource)
    from livepipe.bilibili.merge import MergeProcessor

    registry.register(MergeProcessor)
    from livepipe.bilibili.sinks.ban import BanSink
    from livepipe.bilibili.sinks.room import RoomSink
    from livepipe.bilibili.sinks.send import SendSink

    registry.register(BanSink)
    registry.register(SendSink)
    registry.register(RoomSink)


@hookimpl
def livepipe_replay_formats() -> list[ReplayFormat]:
    """The ``bilibili`` replay format: one raw cmd message per line, parsed like the live source's."""
    from livepipe.bilibili.commands import parse_command

    return [ReplayFormat(
        "bilibili", parse_command,
        "one raw Bilibili cmd message per line (`{\"cmd\": \"DANMU_MSG\", ...}`), parsed like the live source's "
        "with the source's `room_id`",
        detect=lambda obj: "cmd" in obj, needs_room_id=True,
    )]
