"""livepipe-assistant: a chat bot that thanks gifts, welcomes viewers and answers common questions.

Components (registered through the ``livepipe`` entry point ``assistant``):

* processor ``thanks`` (:mod:`livepipe_assistant.thanks`): gifts, combos, guards, super chats,
  follows and shares, merged and prioritised within the send budget;
* processor ``welcome`` (:mod:`livepipe_assistant.welcome`): entering viewers, filtered, once per
  viewer per cooldown (remembered across restarts), bursts merged into one line;
* processor ``autoreply`` (:mod:`livepipe_assistant.autoreply`): keyword and regex rules on the
  normalized text, with per-rule and per-viewer cooldowns.

All three emit ``action.send`` events for a ``bilibili.send`` sink. Command: ``livepipe assistant
preview`` (:mod:`livepipe_assistant.cli`).
"""

from __future__ import annotations

from typing import Any

from livepipe import hookimpl

__version__ = "0.1.0"


@hookimpl
def livepipe_register_components(registry: Any) -> None:
    """Register ``thanks``, ``welcome`` and ``autoreply``."""
    from livepipe_assistant.autoreply import AutoReply
    from livepipe_assistant.thanks import Thanks
    from livepipe_assistant.welcome import Welcome

    registry.register(Thanks)
    registry.register(Welcome)
    registry.register(AutoReply)


@hookimpl
def livepipe_register_commands(cli: Any) -> None:
    """Add ``livepipe assistant preview``."""
    from livepipe_assistant.cli import register

    register(cli)
