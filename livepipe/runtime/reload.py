"""Applying a changed configuration to a running pipeline (``SIGHUP``, ``livepipe reload``).

The files the pipeline was loaded from are read and validated again. An invalid configuration is
refused with the same messages ``livepipe validate`` gives, and the running one goes on. Otherwise
the difference is applied in place: components whose table is unchanged keep running with their
connections and state; a component whose table changed takes the new one in place if it can
(:meth:`~livepipe.component.Component.can_update_config`: the ``bilibili.danmaku`` source adds and
removes rooms while the other rooms stay connected); otherwise a processor or sink is replaced by a
new instance at its next event (the old one finishes its event, flushes and stops; the new one reads
the same input buffer, so nothing buffered is lost). A change that cannot be applied that way (a
component added or removed, different ``inputs`` or named outputs, ``[livepipe]`` settings or
credentials, a source table its source cannot take while running) is refused as a whole, naming each
change, and the running configuration goes on: restart to apply it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from livepipe.component import Component
from livepipe.config import ConfigError, PipelineConfig
from livepipe.errors import ConfigurationError
from livepipe.runtime.graph import instantiate_one, output_names
from livepipe.runtime.loading import load_config

if TYPE_CHECKING:
    from livepipe.runtime.pipeline import Pipeline

log = logging.getLogger("livepipe.reload")


class ReloadRefused(ConfigurationError):
    """The new configuration was not applied; ``reasons`` says why (one line each)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass
class Plan:
    """What a reload does: components updated in place, and processors/sinks replaced by new instances."""

    in_place: list[str] = field(default_factory=list)
    swaps: dict[str, Component] = field(default_factory=dict)

    @property
    def changed(self) -> list[str]:
        """Every component the reload changes."""
        return sorted([*self.in_place, *self.swaps])


def plan(pipeline: Pipeline, new: PipelineConfig) -> Plan:
    """What to do for ``new``; raises :class:`ReloadRefused` naming every change that needs a restart."""
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
    out = Plan()
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
        if comp.can_update_config(after.config):
            out.in_place.append(cid)
            continue
        if after.role == "source":
            problems.append(f"{after.qualified} ({after.type}) cannot take its changed settings while running: "
                            f"restart to apply them")
            continue
        try:
            replacement = instantiate_one(new, cid, pipeline.registry, pipeline.metrics, **pipeline._context_args)
        except ConfigError as e:
            problems.extend(str(i) for i in e.issues)
            continue
        if output_names(after, replacement) != output_names(before, comp):
            problems.append(f"{after.qualified}: its named outputs changed: restart to rewire")
            continue
        out.swaps[cid] = replacement
    if problems:
        raise ReloadRefused(problems)
    return out


def reload(pipeline: Pipeline) -> list[str]:
    """Re-read and apply the pipeline's configuration files; returns the ids of the updated components.

    Raises :class:`ReloadRefused` (after logging why) when nothing was applied.
    """
    files = pipeline.config.files
    try:
        new = load_config(files, worker=pipeline.config.worker)
    except ConfigError as e:
        reasons = [str(issue) for issue in e.issues]
        log.error("reload refused: the configuration is invalid (the running one goes on):\n  %s",
                  "\n  ".join(reasons))
        raise ReloadRefused(reasons) from None
    try:
        todo = plan(pipeline, new)
    except ReloadRefused as e:
        log.error("reload refused (the running configuration goes on):\n  %s", "\n  ".join(e.reasons))
        raise
    for cid in todo.in_place:
        pipeline.components[cid].update_config(new.components[cid].config)
    for replacement in todo.swaps.values():
        pipeline.swap_later(replacement)
    pipeline.config = new
    if not todo.changed:
        log.info("reloaded: nothing changed")
        return []
    parts = []
    if todo.in_place:
        parts.append(f"updated {', '.join(todo.in_place)} in place")
    if todo.swaps:
        parts.append(f"replacing {', '.join(todo.swaps)} (each at its next event)")
    log.info("reloaded: %s; every other component kept running", "; ".join(parts))
    return todo.changed
