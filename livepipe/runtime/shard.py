"""One worker's share of a configuration, for ``livepipe run --workers N``.

Worker ``i`` of ``N`` runs the same pipeline over a share of the sources:

* a source whose type declares a :attr:`~livepipe.component.Source.shard_key` (``room_ids`` for
  ``bilibili.danmaku``) gets the entries ``i, i + N, i + 2N, ...`` of that list, in the order
  written, duplicates left out (round-robin: deterministic, and balanced to within one room);
* a source that cannot be split (NATS, replay, the open platform, a plugin's source without a
  ``shard_key``) runs in worker 0 only;
* a component left without any input in a worker (its only inputs were sources that worker does not
  run) is left out of that worker too, and so on downstream;
* path templates of sinks (:attr:`~livepipe.component.Sink.worker_paths`, the ``file`` sink's
  ``path``) take ``{worker}``; one without it gets ``.w{worker}`` before its file name's extension
  (``out/events.jsonl`` -> ``out/events.w0.jsonl``), so no two workers append to one file;
* ``[livepipe.metrics] listen`` becomes ``127.0.0.1:0``: the parent process serves the merged
  ``/metrics`` at the configured address and reads each worker's own endpoint.

:func:`shard_problems` says why a worker count cannot work (a worker would have nothing to read).
"""

from __future__ import annotations

import copy
import fnmatch
import string
from typing import Any

from livepipe.config import ConfigIssue, MetricsSettings, PipelineConfig
from livepipe.registry import ComponentRegistry

__all__ = ["shard_config", "shard_problems", "with_worker_suffix"]

#: The address a worker's own metrics endpoint listens on (the parent reads it there).
WORKER_LISTEN = "127.0.0.1:0"


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def with_worker_suffix(template: str) -> str:
    """``out/events.jsonl`` -> ``out/events.w{worker}.jsonl``; unchanged when ``{worker}`` is already used."""
    if any(name == "worker" for _, name, _, _ in string.Formatter().parse(template)):
        return template
    head, sep, name = template.rpartition("/")
    depth, dot = 0, -1
    for i, ch in enumerate(name):  # the last '.' outside a {token}
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        elif ch == "." and depth == 0 and i > 0:
            dot = i
    name = f"{name[:dot]}.w{{worker}}{name[dot:]}" if dot > 0 else f"{name}.w{{worker}}"
    return head + sep + name


def _shard_key(config: PipelineConfig, registry: ComponentRegistry, cid: str) -> str | None:
    spec = config.components[cid]
    if spec.role != "source":
        return None
    reg = registry.get(spec.type)
    return getattr(reg.cls, "shard_key", None) if reg is not None else None


def _kept_sources(config: PipelineConfig, registry: ComponentRegistry, index: int, count: int) -> dict[str, Any]:
    """Source id -> its share for worker ``index`` (None: the whole source, unsplit), for the sources it runs."""
    kept: dict[str, Any] = {}
    for cid, spec in config.of_role("source").items():
        key = _shard_key(config, registry, cid)
        if key is None:
            if index == 0:
                kept[cid] = None
            continue
        share = _unique(list(getattr(spec.config, key)))[index::count]
        if share:
            kept[cid] = share
    return kept


def _still_fed(pattern: str, components: dict[str, Any]) -> bool:
    """Whether an ``inputs`` entry (an output id or a wildcard) can still name an output of ``components``."""
    head = pattern.split(".", 1)[0]  # the producer's id (or a wildcard over ids): outputs are ``id[.name]``
    return head in components or any(fnmatch.fnmatchcase(c, head) for c in components)


def shard_problems(config: PipelineConfig, registry: ComponentRegistry, count: int, *,
                   flag: bool = False) -> list[ConfigIssue]:  # fmt: skip
    """Why ``count`` workers cannot run ``config`` (a worker would read nothing); empty when they can.

    ``flag``: the count came from ``livepipe run --workers`` (the message names that, not the file's key).
    """
    if count <= 1:
        return []
    splittable = {cid: len(_unique(list(getattr(spec.config, key))))
                  for cid, spec in config.of_role("source").items()
                  if (key := _shard_key(config, registry, cid)) is not None}  # fmt: skip
    most = max(splittable.values(), default=0)
    if most >= count:
        return []
    where, line = (None, None) if flag else _workers_key(config)
    asked = f"--workers {count}" if flag else f"workers = {count}"
    idle = f"worker {most}" if most == count - 1 else f"workers {most}..{count - 1}"
    if not splittable:
        fix = "leave out --workers" if flag else "set workers = 1"
        msg = (f"{asked}, but no source here can be split across workers (only sources with rooms, "
               f"such as bilibili.danmaku, can): every worker but the first would read nothing; {fix}")
    else:
        names = ", ".join(f"sources.{c} has {n} room{'s' if n != 1 else ''}" for c, n in splittable.items())
        fix = f"use --workers {most} or fewer" if flag else f"set workers to at most {most}"
        msg = f"{asked}, but {names}: {idle} would read nothing; {fix}"
    return [ConfigIssue(where, line, None if flag else "livepipe", None if flag else "workers", msg)]


def _workers_key(config: PipelineConfig) -> tuple[str | None, int | None]:
    """The file (its name) and line of the ``[livepipe] workers`` key; the first file alone if not found."""
    for path in config.files:
        loc = config.locators.get(str(path))
        line = loc.find(["livepipe", "workers"]) if loc is not None else None
        if line is not None:
            return path.name, line
    return (config.files[0].name if config.files else None), None


def shard_config(config: PipelineConfig, registry: ComponentRegistry, index: int, count: int) -> PipelineConfig:
    """Worker ``index`` of ``count``'s configuration (see the module docstring); ``config`` is not changed."""
    out = copy.copy(config)
    out.worker = (index, count)
    out.settings = config.settings.model_copy(update={"metrics": MetricsSettings(listen=WORKER_LISTEN)})
    kept = _kept_sources(config, registry, index, count)
    components: dict[str, Any] = {}
    for cid, spec in config.components.items():
        if spec.role == "source":
            if cid not in kept:
                continue
            key = _shard_key(config, registry, cid)
            if key is not None and count > 1:
                spec = copy.copy(spec)
                spec.config = spec.config.model_copy(update={key: kept[cid]})
        components[cid] = spec
    # leave out what has no input left, until nothing changes (a chain of processors)
    changed = True
    while changed:
        changed = False
        for cid, spec in list(components.items()):
            inputs = getattr(spec.config, "inputs", None)
            if spec.role == "source" or inputs is None:
                continue
            alive = [i for i in inputs if _still_fed(i, components)]
            if not alive:
                del components[cid]
                changed = True
            elif len(alive) != len(inputs):
                spec = copy.copy(spec)
                spec.config = spec.config.model_copy(update={"inputs": alive})
                components[cid] = spec
                changed = True
    if count > 1:
        for cid, spec in components.items():
            reg = registry.get(spec.type) if spec.role == "sink" else None
            fields = getattr(reg.cls, "worker_paths", ()) if reg is not None else ()
            update = {f: with_worker_suffix(getattr(spec.config, f)) for f in fields
                      if isinstance(getattr(spec.config, f, None), str)}  # fmt: skip
            if update:
                spec = copy.copy(spec)
                spec.config = spec.config.model_copy(update=update)
                components[cid] = spec
    out.components = components
    return out
