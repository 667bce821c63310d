"""Path templates of the ``file`` sink: the tokens, checking a template, filling one token, safe values."""

from __future__ import annotations

import re
import string
import time

__all__ = ["TOKENS", "fill_token", "safe_token", "template_tokens", "utc_date"]

#: The tokens a ``file`` sink's path template may use.
TOKENS = ("room_id", "kind", "date", "worker")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_token(value: str) -> str:
    """Make a template value safe as one path segment: only ``A-Z a-z 0-9 . _ -``, never ``.``/``..``."""
    s = _UNSAFE.sub("_", value)
    return "_" if s in ("", ".", "..") else s


def utc_date(ts: float) -> str:
    """``YYYY-MM-DD`` of a unix time in UTC (``unknown-date`` when the time is not representable)."""
    try:
        return time.strftime("%Y-%m-%d", time.gmtime(ts))
    except (OverflowError, ValueError, OSError):
        return "unknown-date"


def template_tokens(template: str) -> set[str]:
    """The token names used in a path template; ``ValueError`` for anything but the known tokens."""
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        raise ValueError(
            f"path template {template!r} is malformed ({e}); write a literal brace as {{{{ or }}}}"
        ) from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in TOKENS:
            raise ValueError(
                f"path template {template!r} uses unknown token {{{name}}}; known tokens: "
                + ", ".join("{" + t + "}" for t in TOKENS)
            )
        if spec or conversion:
            raise ValueError(f"path template {template!r}: token {{{name}}} takes no format spec or conversion")
        names.add(name)
    return names


def fill_token(template: str, name: str, value: str) -> str:
    """``template`` with every ``{name}`` replaced by ``value`` (escaped braces and other tokens kept)."""
    out = []
    for literal, token, _spec, _conversion in string.Formatter().parse(template):
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if token is not None:
            out.append(value.replace("{", "{{").replace("}", "}}") if token == name else "{" + token + "}")
    return "".join(out)
