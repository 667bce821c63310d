"""Applying a changed configuration to a running pipeline (``SIGHUP``, ``livepipe reload``).

The files the pipeline was loaded from are read and validated again. An invalid configuration is
refused with the same messages ``livepipe validate`` gives, and the running one goes on. Otherwise
the difference is applied in place: components whose table is unchanged keep running with their
connections and state; a component whose table changed takes the new one if it can
(:meth:`~livepipe.component.Component.can_update_config`: the ``bilibili.danmaku`` source adds and
removes rooms while the other rooms stay connected). A change that cannot be applied in place
(a component added or removed, different ``inputs``, ``[livepipe]`` settings or credentials, or a
table its component cannot take while running) is refused as a whole, naming each change, and the
running configuration goes on: restart to apply it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from livepipe.config import ConfigError, PipelineConfig, load_config

if TYPE_CHECKING:
    from livepipe.runtime.pipeline import Pipeline

log = logging.getLogger("livepipe.reload")


class ReloadRefused(Exception):
    """The new configuration was not applied; ``reasons`` says why (one line each)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def plan(pipeline: Pipeline, new: PipelineConfig) -> list[str]:
    """Ids of the components whose table changed, all of them updatable in place; else ReloadRefused."""
    old = pipeline.config
    problems: list[str] = []
    added = sorted(set(new.components) - set(old.components))
    removed = sorted(set(old.components) - set(new.components))
    if added:
        problems.append(f"components added ({', '.join(added)}): restart to start them")
    if removed:
        problems.append(f"components removed ({', '.join(removed)}): restart to stop them")
    if new.settings != old.settings:
        problems.append("[livepipe] settings changed: restart to apply them")
    if new.credentials != old.credentials:
        problems.append("[credentials] changed: restart to apply them")
    changed: list[str] = []
    for cid in sorted(set(new.components) & set(old.components)):
        before, after = old.components[cid], new.components[cid]
        if (before.role, before.type) != (after.role, after.type):
            problems.append(f"{after.qualified}: type changed ({before.type} -> {after.type}): restart to apply it")
            continue
        if before.config == after.config:
            continue
        if getattr(before.config, "inputs", None) != getattr(after.config, "inputs", None):
            problems.append(f"{after.qualified}: inputs changed: restart to rewire")
            continue
        comp = pipeline.components[cid]
        if not comp.can_update_config(after.config):
            problems.append(f"{after.qualified} ({after.type}) cannot take its changed settings while running: "
                            f"restart to apply them")
            continue
        changed.append(cid)
    if problems:
        raise ReloadRefused(problems)
    return changed


def reload(pipeline: Pipeline) -> list[str]:
    """Re-read and apply the pipeline's configuration files; returns the ids of the updated components.

    Raises :class:`ReloadRefused` (after logging why) when nothing was applied.
    """
    files = pipeline.config.files
    try:
        new = load_config(files)
    except ConfigError as e:
        reasons = [str(issue) for issue in e.issues]
        log.error("reload refused: the configuration is invalid (the running one goes on):\n  %s",
                  "\n  ".join(reasons))
        raise ReloadRefused(reasons) from None
    try:
        changed = plan(pipeline, new)
    except ReloadRefused as e:
        log.error("reload refused (the running configuration goes on):\n  %s", "\n  ".join(e.reasons))
        raise
    for cid in changed:
        pipeline.components[cid].update_config(new.components[cid].config)
    pipeline.config = new
    if changed:
        log.info("reloaded: updated %s in place; every other component kept running", ", ".join(changed))
    else:
        log.info("reloaded: nothing changed")
    return changed
