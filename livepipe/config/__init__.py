"""TOML files -> one validated pipeline configuration.

Layout of a config file::

    [livepipe]            # globals (GlobalConfig)
    [credentials.NAME]    # cookies / tokens shared by components
    [simulator]           # optional: run the built-in Bilibili simulator in-process, or point at one (url)
    [sources.ID]          # type = "..."
    [processors.ID]       # type = "...", inputs = [...]
    [sinks.ID]            # type = "...", inputs = [...]
    [[tests]]             # config unit tests (``livepipe test``)

Several files merge into one, in order (:func:`merge_tables`): a later file may add components and
set or replace keys of a table an earlier file defined (``[sinks.ban] dry_run = false``); tables merge
key by key, any other value (arrays included) is replaced. A later file may not change a component's
``type`` or move an id to another section. Any value may be given as
``{ env = "VAR" }`` or ``{ file = "path" }``; these are resolved after parsing (never by text
substitution) and their values never appear in ``config show``, logs or errors.

Every problem becomes a :class:`ConfigIssue` naming the file, the line (where one can be found),
the component and the key, and what would be valid; :class:`ConfigError` carries all of them.

The package's modules, one seam each (every name below is also importable from ``livepipe.config``, where
plugins and tests have always imported it):

* :mod:`~livepipe.config.parse`: :func:`parse_config` (parse, merge and validate: the issue list) and
  :func:`load_config` (the whole load, handed down by the runtime); ``SECTIONS``, ``TOP_LEVEL``;
* :mod:`~livepipe.config.model`: the result, :class:`PipelineConfig` with its :class:`ComponentSpec` and
  :class:`CredentialSpec` entries, and :class:`ConfigText` (a config given in memory);
* :mod:`~livepipe.config.settings`: ``[livepipe]`` (:class:`GlobalConfig`), ``[livepipe.metrics]``
  (:class:`MetricsSettings`) and ``[simulator]`` (:class:`SimulatorSettings`);
* :mod:`~livepipe.config.issues`: :class:`ConfigIssue`, :class:`ConfigError` and the wording of
  validation errors;
* :mod:`~livepipe.config.files`: reading one file (TOML, the nesting limit :data:`MAX_CONFIG_DEPTH`);
* :mod:`~livepipe.config.locator`: :class:`Locator`, the ``file:line`` of a table or key;
* :mod:`~livepipe.config.merge`: :func:`merge_tables`, several files into one;
* :mod:`~livepipe.config.refs`: ``{ env }`` / ``{ file }`` references and the redaction of secrets.
"""

from __future__ import annotations

from livepipe.config.files import MAX_CONFIG_DEPTH, tomllib
from livepipe.config.issues import ConfigError, ConfigIssue
from livepipe.config.locator import Locator
from livepipe.config.merge import merge_tables
from livepipe.config.model import ComponentSpec, ConfigText, CredentialSpec, PipelineConfig
from livepipe.config.parse import SECTIONS, TOP_LEVEL, load_config, parse_config
from livepipe.config.settings import GlobalConfig, MetricsSettings, SimulatorSettings

__all__ = [
    "MAX_CONFIG_DEPTH",
    "SECTIONS",
    "TOP_LEVEL",
    "ComponentSpec",
    "ConfigError",
    "ConfigIssue",
    "ConfigText",
    "CredentialSpec",
    "GlobalConfig",
    "Locator",
    "MetricsSettings",
    "PipelineConfig",
    "SimulatorSettings",
    "load_config",
    "merge_tables",
    "parse_config",
    "tomllib",
]
