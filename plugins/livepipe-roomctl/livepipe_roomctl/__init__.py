"""livepipe-roomctl: change a Bilibili live room on a schedule, on chat commands and on room events.

Components (registered through the ``livepipe`` entry point ``roomctl``):

* source ``schedule`` (:mod:`livepipe_roomctl.schedule`): a timetable of room changes;
* processor ``chat_commands`` (:mod:`livepipe_roomctl.commands`): ``!title``, ``!news``, ``!area``,
  ``!ban``, ``!unban`` from the streamer and moderators;
* processor ``room_reactions`` (:mod:`livepipe_roomctl.reactions`): title/announcement on live/preparing.

Commands: ``livepipe roomctl preview`` and ``livepipe room title|news|area|start|stop``
(:mod:`livepipe_roomctl.cli`).
"""

from __future__ import annotations

from typing import Any

from livepipe import hookimpl

__version__ = "0.1.0"


@hookimpl
def livepipe_register_components(registry: Any) -> None:
    """Register ``schedule``, ``chat_commands`` and ``room_reactions``."""
    from livepipe_roomctl.commands import ChatCommands
    from livepipe_roomctl.reactions import RoomReactions
    from livepipe_roomctl.schedule import ScheduleSource

    registry.register(ScheduleSource)
    registry.register(ChatCommands)
    registry.register(RoomReactions)


@hookimpl
def livepipe_register_commands(cli: Any) -> None:
    """Add ``livepipe room ...`` and ``livepipe roomctl preview``."""
    from livepipe_roomctl.cli import register

    register(cli)
