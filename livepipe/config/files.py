"""Reading one config file (or a :class:`~livepipe.config.model.ConfigText`): TOML parsing with the line of a
syntax error, and the nesting limit (:data:`MAX_CONFIG_DEPTH`)."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livepipe.config.issues import ConfigIssue
from livepipe.config.locator import Locator
from livepipe.config.model import ConfigText

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class _Loaded:
    path: Path
    data: dict[str, Any]
    locator: Locator


def _read(source: Path | ConfigText, issues: list[ConfigIssue]) -> _Loaded | None:
    if isinstance(source, ConfigText):
        if source.tables is not None:
            return _Loaded(source.path, source.tables, Locator(""))
        path, text = source.path, source.text
    else:
        path, text = source, None
    shown = str(path)
    try:
        if text is None:
            text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        issues.append(ConfigIssue(shown, None, None, None, "file not found; check the path"))
        return None
    except (OSError, UnicodeDecodeError) as e:
        issues.append(ConfigIssue(shown, None, None, None, f"cannot read file: {e}"))
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"line (\d+)", msg)
        line = int(m.group(1)) if m else None
        issues.append(ConfigIssue(shown, line, None, None, f"invalid TOML: {msg}"))
        return None
    except RecursionError:  # tomllib parses arrays and inline tables recursively
        issues.append(ConfigIssue(shown, _most_nested_line(text), None, None, _TOO_DEEP))
        return None
    loaded = _Loaded(path, data, Locator(text))
    deep = _too_deep(data)
    if deep is not None:
        shown_path = ".".join(deep[:6]) + (" ..." if len(deep) > 6 else "")
        line = loaded.locator.find([p for p in deep if not p.startswith("[")]) or _most_nested_line(text)
        issues.append(ConfigIssue(shown, line, None, None, f"{_TOO_DEEP} (at {shown_path})"))
        return None
    return loaded


#: Deepest nesting of tables, arrays and inline tables a config file may have. Real configs need
#: about six (``processors.automod.rules[0].words[0]``); the limit keeps every later step (merging,
#: secrets, validation, ``config show``) far from Python's recursion limit.
MAX_CONFIG_DEPTH = 32
_TOO_DEEP = (f"tables, arrays or inline tables nested more than {MAX_CONFIG_DEPTH} levels deep; "
             "no livepipe setting needs that: flatten the value")  # fmt: skip


def _too_deep(data: dict[str, Any]) -> list[str] | None:
    """The key path where ``data`` nests deeper than :data:`MAX_CONFIG_DEPTH`, or ``None`` (iterative)."""
    stack: list[tuple[Any, list[str]]] = [(data, [])]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_CONFIG_DEPTH:
            return path
        if isinstance(value, dict):
            stack.extend((v, [*path, str(k)]) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, [*path, f"[{i}]"]) for i, v in enumerate(value))
    return None


def _most_nested_line(text: str) -> int | None:
    """The line with the most opening brackets and dots in keys: where deep nesting most likely is."""
    lines = text.splitlines()
    if not lines:
        return None
    scores = [ln.count("[") + ln.count("{") + ln.split("=", 1)[0].count(".") for ln in lines]
    return scores.index(max(scores)) + 1
