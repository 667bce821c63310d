"""Load a configuration the way a run needs it: parsed and validated against the installed plugins'
registry (:func:`livepipe.config.parse_config`), its wiring checked (:func:`~livepipe.runtime.graph.check_graph`),
then shown to plugins through the ``livepipe_config_loaded`` hook.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from livepipe import plugins
from livepipe.config import ConfigError, ConfigText, PipelineConfig, parse_config
from livepipe.registry import ComponentRegistry
from livepipe.runtime.graph import check_graph
from livepipe.runtime.shard import shard_config


def load_config(
    paths: Iterable[str | Path | ConfigText],
    registry: ComponentRegistry | None = None,
    *,
    call_hooks: bool = True,
    check_env: bool = True,
    check_files: bool = True,
    worker: tuple[int, int] | None = None,
) -> PipelineConfig:
    """Parse, merge and validate TOML files, check the wiring (inputs, outputs, cycles) and call the
    ``livepipe_config_loaded`` hook (unless ``call_hooks=False``). Raises :class:`ConfigError` listing
    every problem; ``check_env`` and ``check_files`` are those of :func:`~livepipe.config.parse_config`.
    ``worker=(index, count)`` gives that worker's share (:func:`~livepipe.runtime.shard.shard_config`).
    """
    registry = registry or plugins.registry()
    config = parse_config(paths, registry, check_env=check_env, check_files=check_files)
    if worker is not None:
        config = shard_config(config, registry, *worker)
    graph_issues = check_graph(config, registry)
    if graph_issues:
        raise ConfigError(graph_issues)
    if call_hooks:
        try:
            plugins.manager().hook.livepipe_config_loaded(config=config)
        except ConfigError:
            raise
        except Exception as e:
            raise ConfigError(f"a plugin rejected the configuration: {type(e).__name__}: {e}") from e
    return config
