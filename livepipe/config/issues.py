"""Config problems: :class:`ConfigIssue` (file, line, component, key, message), :class:`ConfigError` carrying
all of them, and the wording of a pydantic validation error as an issue message."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from livepipe.errors import ConfigurationError
from livepipe.schema import redact_urls


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in the configuration."""

    file: str | None
    line: int | None
    component: str | None  # "sinks.out"
    key: str | None  # "when_full" or "routes.gifts.kinds"
    message: str

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        comp = f"{self.component}: " if self.component else ""
        key = f"key '{self.key}': " if self.key else ""
        return f"{where}{comp}{key}{self.message}"


class ConfigError(ConfigurationError):
    """The configuration is invalid; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[ConfigIssue] | str) -> None:
        if isinstance(issues, str):
            issues = [ConfigIssue(None, None, None, None, issues)]
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


def _closest_key(name: str, model: type[BaseModel]) -> str | None:
    """The declared key ``name`` most likely means: a near spelling, or a name the schema lists under ``also``."""
    for key, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if name.lower() in [str(a).lower() for a in extra.get("also") or ()]:  # type: ignore[union-attr]
            return key
    close = difflib.get_close_matches(name.lower(), list(model.model_fields), n=1)
    return close[0] if close else None


def _describe_pydantic_error(err: dict[str, Any], model: type[BaseModel], secret_keys: set[str],
                             url_keys: set[str] = frozenset()) -> tuple[str, str]:  # type: ignore[assignment]
    loc = [str(x) for x in err.get("loc", ())]
    key = ".".join(loc)
    etype = err.get("type", "")
    top = loc[0] if loc else ""
    if etype == "extra_forbidden":
        valid = sorted(model.model_fields)
        close = _closest_key(loc[-1], model) if len(loc) == 1 else None
        hint = f"; did you mean '{close}'?" if close else ""
        msg = f"unknown key{hint} valid keys: {', '.join(valid)}" if len(loc) == 1 else "unknown key"
        return key, msg
    if etype == "missing":
        info = model.model_fields.get(top)
        desc = f" ({info.description})" if info and info.description and len(loc) == 1 else ""
        return key, f"required key is missing{desc}"
    msg = err.get("msg", "invalid value")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if etype == "literal_error":
        msg = msg.replace("Input should be", "must be")
    else:
        msg = msg.replace("Input should be", "expected")
    if top not in secret_keys and "input" in err and not isinstance(err["input"], (dict, list)):
        shown = repr(redact_urls(err["input"]) if top in url_keys else err["input"])
        if len(shown) > 60:
            shown = shown[:57] + "..."
        msg += f" (got {shown})"
    return key, msg
