"""Time zones, intervals and text templates shared by the schedule and the reactions.

Templates are livepipe's one template language (Jinja2, sandboxed; :mod:`livepipe.templating`)
over a fixed set of names, rendered in the configured time zone: ``{{ date }}`` (2025-09-17),
``{{ time }}`` (20:00), ``{{ weekday }}`` (Wed), ``{{ now }}`` (a datetime: ``{{ now|strftime("%m月%d日") }}``)
and ``{{ room_id }}``. A template in the old ``str.format`` style (``{date}``) is refused with the
way to write it now.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from livepipe.templating import Template, TemplateError, compile_template

#: Bilibili's home time zone; the default wherever a time zone can be configured.
DEFAULT_TIMEZONE = "Asia/Shanghai"

#: The names a template may use, with their types (checked when the configuration is validated).
TEMPLATE_NAMES: dict[str, Any] = {"date": str, "time": str, "weekday": str, "now": datetime, "room_id": Any}

#: A placeholder of the old ``str.format`` templates: ``{date}``, ``{now:%m月%d日}`` (not ``{{ date }}``).
_OLD_STYLE = re.compile(r"(?<!\{)\{(date|time|weekday|now|room_id)(?::([^{}]*))?\}(?!\})")

#: Rendering this moment gives the longest month and weekday names, for the length check.
_SAMPLE = datetime(2025, 9, 17, 23, 59, 59, tzinfo=timezone.utc)  # a Wednesday in September

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_INTERVAL = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")


def zone(name: str) -> tzinfo:
    """The ``ZoneInfo`` for an IANA name such as ``Asia/Shanghai``; ``UTC`` works too.

    Raises ``ValueError`` naming the zone when it is unknown.
    """
    if name.upper() == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as \"Asia/Shanghai\" or "
                         "\"Europe/Berlin\"") from None


def parse_interval(value: float | int | str) -> float:
    """Seconds from a number (seconds) or text such as ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1h30m"``.

    Raises ``ValueError`` for anything else, or for an interval that is not positive.
    """
    if isinstance(value, bool):
        raise ValueError("an interval must be seconds (a number) or text such as \"15m\"")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = value.strip().lower().replace(" ", "")
        pos, seconds = 0, 0.0
        for m in _INTERVAL.finditer(text):
            if m.start() != pos:
                break
            seconds += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if not text or pos != len(text):
            raise ValueError(f"cannot read interval {value!r}: write seconds (30) or text such as \"90s\", "
                             "\"15m\", \"2h\", \"1d\" or \"1h30m\"")
    if seconds <= 0:
        raise ValueError(f"an interval must be positive, got {value!r}")
    return seconds


def template_values(ts: float, tz: tzinfo, room_id: int | None = None) -> dict[str, Any]:
    """The values a template sees at unix time ``ts`` in ``tz``."""
    now = datetime.fromtimestamp(ts, tz)
    return _values(now, room_id)


def _values(now: datetime, room_id: int | None) -> dict[str, Any]:
    return {"date": now.strftime("%Y-%m-%d"), "time": now.strftime("%H:%M"), "weekday": now.strftime("%a"),
            "now": now, "room_id": room_id if room_id is not None else ""}


@lru_cache(maxsize=256)
def compiled(template: str) -> Template:
    """``template`` compiled and checked against :data:`TEMPLATE_NAMES` (``TemplateError`` if wrong)."""
    return compile_template(template, TEMPLATE_NAMES)


def render(template: str, ts: float, tz: tzinfo, room_id: int | None = None) -> str:
    """``template`` filled in for unix time ``ts`` (see the module docstring for the names)."""
    return compiled(template).render(template_values(ts, tz, room_id))


def _old_style_fix(m: re.Match[str]) -> str:
    name, fmt = m.group(1), m.group(2)
    if fmt:
        return "{{ " + name + '|strftime("' + fmt + '") }}'
    return "{{ " + name + " }}"


def check_template(template: str, limit: int | None = None, what: str = "text") -> str:
    """Validate a template; return it. ``ValueError`` on an old-style placeholder, bad syntax, an unknown
    name, or a text over ``limit``.

    The length check renders the template for a Wednesday in September at 23:59 (the longest
    names) and room 2147483647, so a template that passes stays within the limit on any day.
    """
    m = _OLD_STYLE.search(template)
    if m:
        raise ValueError(f"{what} {template!r}: {m.group(0)} is the old template style; templates are Jinja2 now: "
                         f"write {_old_style_fix(m)} (that is {_OLD_STYLE.sub(_old_style_fix, template)!r})")
    try:
        sample = compiled(template).render(_values(_SAMPLE, 2147483647))
    except TemplateError as e:
        raise ValueError(f"{what} {template!r}: {e}") from None
    if limit is not None and len(sample) > limit:
        raise ValueError(f"{what} {template!r} can be {len(sample)} characters long (e.g. {sample!r}); "
                         f"Bilibili allows at most {limit}")
    return template
