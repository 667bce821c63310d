"""Registers the Bilibili components (web and open-platform sources, the merge, action sinks) with livepipe."""

from __future__ import annotations

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
