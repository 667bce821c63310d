"""Secret references and redaction: ``{ env = "VAR" }`` / ``{ file = "path" }`` values resolved after parsing
(never by text substitution), and the declared secret and URL keys hidden in what ``config show`` displays."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livepipe.schema import REDACTED, redact_urls


def _is_ref(v: Any) -> bool:
    if not (isinstance(v, dict) and len(v) == 1):
        return False
    ((k, val),) = v.items()
    return k in ("env", "file") and isinstance(val, str)


@dataclass
class _Refs:
    """How ``{env=..}`` / ``{file=..}`` references are resolved, and what resolving them found."""

    check_env: bool = True  # an unset variable is an error (else: a placeholder, not validated)
    check_files: bool = True  # a missing secret file is an error (else: a placeholder, not validated)
    unresolved: set[str] = field(default_factory=set)  # dotted keys given placeholders


def _resolve_refs(
    value: Any, path: list[str], on_error: Any, base_dir: Path, found: set[str], refs: _Refs | None = None
) -> Any:
    """Replace ``{env=..}`` / ``{file=..}`` tables by their values; ``found`` collects dotted keys."""
    refs = refs or _Refs()
    if _is_ref(value):
        (kind, name), = value.items()
        key = ".".join(path)
        found.add(key)
        if kind == "env":
            if name not in os.environ:
                if refs.check_env:
                    on_error(path, f"environment variable {name} is not set; export it or use {{ file = \"...\" }}")
                refs.unresolved.add(key)
                return ""
            return os.environ[name]
        p = Path(name).expanduser()
        if not p.is_absolute():
            p = base_dir / p
        try:
            return p.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as e:
            if refs.check_files:
                on_error(path, f"cannot read secret file {name}: {e.strerror or e}; check the path (relative to "
                               "the config file)")
            refs.unresolved.add(key)
            return ""
    if isinstance(value, dict):
        return {k: _resolve_refs(v, [*path, k], on_error, base_dir, found, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_refs(v, [*path, str(i)], on_error, base_dir, found, refs) for i, v in enumerate(value)]
    return value


def _at_unresolved(err: dict[str, Any], prefix: str, unresolved: set[str]) -> bool:
    """True when a validation error is about a value that is only a placeholder for an unresolved reference."""
    loc = [str(x) for x in err.get("loc", ())]
    return any(".".join([prefix, *loc[:n]]) in unresolved for n in range(1, len(loc) + 1))


def _matches(path: list[str], patterns: set[str]) -> bool:
    """``path`` is one of ``patterns`` (dotted; a ``*`` segment matches any one key or index)."""
    key = ".".join(path)
    if key in patterns:
        return True
    return any("*" in p and len(parts := p.split(".")) == len(path)
               and all(a == "*" or a == b for a, b in zip(parts, path, strict=True)) for p in patterns)


def _redact(value: Any, path: list[str], secret_paths: set[str], url_paths: set[str]) -> Any:
    if _is_ref(value):
        return value
    if _matches(path, secret_paths):
        return REDACTED
    if _matches(path, url_paths):
        return redact_urls(value)
    if isinstance(value, dict):
        return {k: _redact(v, [*path, k], secret_paths, url_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, [*path, str(i)], secret_paths, url_paths) for i, v in enumerate(value)]
    return value
