"""Check a loaded configuration against this machine: every component's and credential's ``preflight()``.

``livepipe validate`` runs this after the configuration itself is valid, so what would make ``run``
fail (a missing replay file, a cookie file others can read, a sink directory that cannot be
written) is reported up front, in the same ``file:line: component: key: message`` form.
"""

from __future__ import annotations

import logging

from livepipe.config import ConfigIssue, PipelineConfig
from livepipe.registry import ComponentRegistry
from livepipe.runtime.graph import instantiate
from livepipe.runtime.metrics import MetricsRegistry

log = logging.getLogger("livepipe.validate")


def credentials_in_use(config: PipelineConfig) -> set[str]:
    """Credentials that a component will use for real: named by its ``credential`` key, without ``dry_run``.

    A sink in dry run tolerates an unreadable credential (it sends nothing), so ``run`` would not fail.
    """
    return {
        cred for spec in config.components.values()
        if isinstance(cred := getattr(spec.config, "credential", None), str)
        and not getattr(spec.config, "dry_run", False)
    }


def environment_issues(config: PipelineConfig, registry: ComponentRegistry) -> list[ConfigIssue]:
    """Every problem the preflight checks find; a check that crashes is reported, not raised."""
    issues: list[ConfigIssue] = []
    in_use = credentials_in_use(config)
    for name, cred in config.credential_specs.items():
        if name not in in_use:
            continue
        where = f"credentials.{name}"
        try:
            for p in cred.model.preflight(name, config.config_dir):
                line = _line(config, cred.file, ["credentials", name, p.key] if p.key else ["credentials", name])
                issues.append(ConfigIssue(cred.file, line or cred.line, where, p.key, p.message))
        except Exception as e:  # a check must never hide the others
            issues.append(ConfigIssue(cred.file, cred.line, where, None, _crashed(e)))
    for cid, comp in instantiate(config, registry, MetricsRegistry()).items():
        spec = config.components[cid]
        try:
            for p in comp.preflight():
                issues.append(ConfigIssue(spec.file, config.line_of(spec, p.key), spec.qualified, p.key, p.message))
        except Exception as e:
            issues.append(ConfigIssue(spec.file, spec.line, spec.qualified, None, _crashed(e)))
    return issues


def _line(config: PipelineConfig, file: str, path: list[str]) -> int | None:
    loc = config.locators.get(file)
    return loc.find(path) if loc is not None else None


def _crashed(e: Exception) -> str:
    log.debug("preflight check failed", exc_info=True)
    return f"its preflight check failed: {type(e).__name__}: {e} — report this to the plugin's author"
