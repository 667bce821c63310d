"""livepipe-automod: moderation for Bilibili live rooms that spammers cannot dodge.

The ``automod`` processor (processor.py) matches danmaku against word, regex and spam rules on a
normalized text, so full-width letters, zero-width characters, separators, homophones,
traditional characters and repeated characters do not hide a listed word. See README.md.

This module is the plugin's entry point (``[project.entry-points.livepipe] automod``): it only
registers the component type.
"""

from __future__ import annotations

from typing import Any

from livepipe import hookimpl

from livepipe_automod.processor import AutoMod

__all__ = ["AutoMod", "livepipe_register_commands", "livepipe_register_components"]
__version__ = "0.1.0"


@hookimpl
def livepipe_register_components(registry: Any) -> None:
    """Register the ``automod`` processor."""
    registry.register(AutoMod)


@hookimpl
def livepipe_register_commands(cli: Any) -> None:
    """Add ``livepipe automod eval`` and ``livepipe automod diff``."""
    from livepipe_automod.cli import register

    register(cli)
