"""The pipeline graph: which outputs exist, which consumer reads which output, and its checks.

Output ids: a source or processor ``x`` has the default output ``x``; every component may have named
outputs ``x.name`` (``route``'s routes, an action sink's ``results``, ``x.dead_letter`` when
``on_error = "dead_letter"``). ``inputs`` entries are output ids or shell-style wildcards over them
(``"automod.*"`` matches ``automod.ban`` and ``automod.warn``, not ``automod``).
"""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from livepipe.component import DEAD_LETTER_OUTPUT, Component, Context
from livepipe.config import ConfigIssue
from livepipe.registry import ComponentRegistry
from livepipe.runtime.metrics import ComponentMetrics, MetricsRegistry

if TYPE_CHECKING:
    from livepipe.config import ComponentSpec, PipelineConfig


@dataclass
class Graph:
    """Resolved wiring."""

    #: output id -> (producer component id, output name or None for the default output)
    outputs: dict[str, tuple[str, str | None]]
    #: consumer id -> output ids it reads, in the order written
    inputs: dict[str, list[str]]

    def consumers_of(self, output_id: str) -> list[str]:
        """Component ids reading ``output_id``."""
        return [c for c, outs in self.inputs.items() if output_id in outs]


def output_names(spec: ComponentSpec, instance: Component) -> list[str]:
    """Named outputs of one component instance (dead_letter included when configured)."""
    names = list(instance.output_names())
    if getattr(spec.config, "on_error", None) == "dead_letter" and DEAD_LETTER_OUTPUT not in names:
        names.append(DEAD_LETTER_OUTPUT)
    return names


def resolve(config: PipelineConfig, instances: dict[str, Component]) -> tuple[Graph, list[ConfigIssue]]:
    """Resolve every ``inputs`` entry and check the graph; returns the graph and its issues."""
    issues: list[ConfigIssue] = []
    outputs: dict[str, tuple[str, str | None]] = {}
    for cid, spec in config.components.items():
        if spec.role != "sink" and instances[cid].has_default_output:
            outputs[cid] = (cid, None)
        for name in output_names(spec, instances[cid]):
            outputs[f"{cid}.{name}"] = (cid, name)

    def add(spec: ComponentSpec, key: str | None, msg: str) -> None:
        issues.append(ConfigIssue(spec.file, config.line_of(spec, key), spec.qualified, key, msg))

    inputs: dict[str, list[str]] = {}
    for cid, spec in config.components.items():
        if spec.role == "source":
            continue
        wanted = list(getattr(spec.config, "inputs", []))
        if not wanted:
            add(spec, "inputs", f"this {spec.role} is fed by nothing: list at least one upstream component in inputs")
            continue
        got: list[str] = []
        for pattern in wanted:
            if any(ch in pattern for ch in "*?["):
                matches = [o for o in outputs if fnmatch.fnmatchcase(o, pattern) and outputs[o][0] != cid]
            else:
                matches = [pattern] if pattern in outputs else []
            if not matches:
                valid = ", ".join(sorted(o for o in outputs if outputs[o][0] != cid)) or "(none)"
                owner = config.components.get(pattern)
                if pattern == cid or pattern.startswith(cid + "."):
                    add(spec, "inputs", f"'{pattern}' is this component's own output; a component cannot read itself")
                elif owner is not None and owner.role != "sink":
                    named = ", ".join(o for o in outputs if outputs[o][0] == pattern) or "(none)"
                    add(spec, "inputs", f"'{pattern}' has no default output, only named ones: {named}")
                else:
                    add(spec, "inputs", f"'{pattern}' names no output; valid outputs: {valid}")
                continue
            for m in matches:
                if outputs[m][0] == cid:
                    add(spec, "inputs", f"'{m}' is this component's own output; a component cannot read itself")
                elif m not in got:
                    got.append(m)
        inputs[cid] = got

    # dead_letter configured but nobody reads it
    for cid, spec in config.components.items():
        if getattr(spec.config, "on_error", None) == "dead_letter":
            dl = f"{cid}.{DEAD_LETTER_OUTPUT}"
            if not any(dl in outs for outs in inputs.values()):
                add(spec, "on_error", f"on_error = \"dead_letter\" but no component reads '{dl}'; "
                                      f"add a sink with inputs = [\"{dl}\"]")

    # cycles (component level)
    edges: dict[str, set[str]] = {cid: set() for cid in config.components}
    for consumer, outs in inputs.items():
        for o in outs:
            edges[outputs[o][0]].add(consumer)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(edges[n]):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                cyc = visit(m)
                if cyc:
                    return cyc
        stack.pop()
        state[n] = 2
        return None

    for n in config.components:
        if n not in state:
            cyc = visit(n)
            if cyc:
                spec = config.components[cyc[0]]
                add(spec, "inputs", "the wiring has a cycle: " + " -> ".join(cyc) +
                    "; events would loop forever. Remove one of these inputs")
                break

    # references to credentials that do not exist
    for spec in config.components.values():
        cred = getattr(spec.config, "credential", None)
        if isinstance(cred, str) and cred and cred not in config.credentials:
            known = ", ".join(sorted(config.credentials)) or "(none defined)"
            add(spec, "credential", f"no [credentials.{cred}] table; defined credentials: {known}")

    return Graph(outputs, inputs), issues


def instantiate(
    config: PipelineConfig, registry: ComponentRegistry, metrics: MetricsRegistry, **context_args: object
) -> dict[str, Component]:
    """Create one instance per component (constructors must not do I/O)."""
    out: dict[str, Component] = {}
    failed: list[ConfigIssue] = []
    for cid, spec in config.components.items():
        reg = registry.get(spec.type, spec.role)
        assert reg is not None
        ctx = Context(
            name=cid,
            metrics=ComponentMetrics(metrics, cid, spec.type),
            log=logging.getLogger(f"livepipe.{spec.role}.{cid}"),
            credentials=config.credentials,
            config_dir=config.config_dir,
            **context_args,  # type: ignore[arg-type]
        )
        try:
            out[cid] = reg.cls(spec.config, ctx)
        except Exception as e:  # every component is tried, so validate reports all of them at once
            failed.append(ConfigIssue(spec.file, spec.line, spec.qualified, None,
                                      f"rejected its configuration: {type(e).__name__}: {e}"))
    if failed:
        from livepipe.config import ConfigError

        raise ConfigError(failed)
    return out


def check_graph(config: PipelineConfig, registry: ComponentRegistry) -> list[ConfigIssue]:
    """Validate the wiring (used by the config loader); instances made here are thrown away."""
    from livepipe.config import ConfigError

    try:
        instances = instantiate(config, registry, MetricsRegistry())
    except ConfigError as e:
        return e.issues
    _, issues = resolve(config, instances)
    return issues
