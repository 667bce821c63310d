"""pluggy hook specifications for livepipe plugins (project name ``"livepipe"``).

A plugin is a module (or object) with functions marked ``@livepipe.hookimpl`` and named like the
specs below; it is found through the ``livepipe`` entry-point group::

    [project.entry-points.livepipe]
    myplugin = "livepipe_myplugin"

Hooks are for registration and lifecycle only; events never pass through pluggy. Every hook may
declare fewer arguments than its spec (pluggy passes only those it names).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

__all__ = [
    "hookimpl",
    "hookspec",
    "livepipe_config_loaded",
    "livepipe_pipeline_started",
    "livepipe_pipeline_stopped",
    "livepipe_register_commands",
    "livepipe_register_components",
    "livepipe_replay_formats",
]

if TYPE_CHECKING:
    import click

    from livepipe.components.replay_formats import ReplayFormat
    from livepipe.config import PipelineConfig
    from livepipe.registry import ComponentRegistry
    from livepipe.runtime.pipeline import Pipeline

#: Marks a hook specification (livepipe's own; plugins do not need it).
hookspec = pluggy.HookspecMarker("livepipe")
#: Marks a plugin's hook implementation; also importable as ``from livepipe import hookimpl``.
hookimpl = pluggy.HookimplMarker("livepipe")


@hookspec
def livepipe_register_components(registry: ComponentRegistry) -> None:
    """Register source, processor and sink classes.

    Call ``registry.register(MyComponent)`` once per class. The class's ``type_name`` is the
    ``type = "..."`` users write in TOML; it must be unique across all installed plugins.

    :param registry: the :class:`~livepipe.registry.ComponentRegistry` to add classes to.
    """


@hookspec
def livepipe_config_loaded(config: PipelineConfig) -> None:
    """Called after the TOML files are parsed, merged and validated, before the pipeline is built.

    Use it to check cross-component settings. Raise :class:`livepipe.config.ConfigError` to reject
    the configuration with a message for the user.

    :param config: the merged :class:`~livepipe.config.PipelineConfig` (read-only).
    """


@hookspec
def livepipe_pipeline_started(pipeline: Pipeline) -> None:
    """Called once every component has started and events begin to move.

    :param pipeline: the running :class:`~livepipe.runtime.pipeline.Pipeline`; ``pipeline.components``
        maps ids to instances, ``pipeline.metrics`` is the metrics registry.
    """


@hookspec
def livepipe_pipeline_stopped(pipeline: Pipeline, error: BaseException | None) -> None:
    """Called after the pipeline has drained and every component has stopped.

    :param pipeline: the stopped :class:`~livepipe.runtime.pipeline.Pipeline`.
    :param error: the exception that stopped it, or ``None`` after a clean shutdown.
    """


@hookspec
def livepipe_register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``livepipe`` command line.

    ``cli`` is the top-level :class:`click.Group`; add commands with ``@cli.command()`` or groups
    with ``@cli.group()``. Names must not clash with built-in commands.

    :param cli: the ``livepipe`` click group.
    """


@hookspec
def livepipe_replay_formats() -> list[ReplayFormat]:
    """Return input formats for the ``replay`` source (``format = "NAME"`` in its table).

    Each is a :class:`~livepipe.components.replay_formats.ReplayFormat`: a name unique across all
    installed plugins (``auto`` and ``events`` are taken), a function turning the JSON object of one line
    into events, a one-line description, and optionally a ``detect`` function that lets
    ``format = "auto"`` recognise its lines. An unknown name in a config is a config error listing the
    known formats. The plugin authoring guide has a worked example.
    """


def _all_hooks() -> dict[str, Any]:
    """Hook name -> spec function, for docs and tests."""
    return {k: v for k, v in globals().items() if k.startswith("livepipe_") and callable(v)}
