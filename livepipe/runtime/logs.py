"""A logging filter that hides URL passwords in every log line, whoever wrote it.

Components log URLs through :func:`livepipe.schema.redact_url`; this filter is the safety net for
lines they do not control (nats-py, httpx, aiohttp): any ``scheme://user:password@`` in a message
loses its password before a handler formats it.
"""

from __future__ import annotations

import logging
import re

from livepipe.schema import REDACTED

_USERINFO = re.compile(
    r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)"
    r"(?:(?P<user>[^\s/@:'\"]*):(?P<pw>[^\s'\"]*)|(?P<token>[^\s/@:'\"]+))@"
)


def _hide(m: re.Match[str]) -> str:
    if m["token"] is not None or not m["user"]:
        return f"{m['scheme']}{REDACTED}@"
    return f"{m['scheme']}{m['user']}:{REDACTED}@"


def redact_text(text: str) -> str:
    """``text`` with every URL's ``user:password@`` shown as ``user:<redacted>@`` (a lone token: ``<redacted>@``)."""
    return _USERINFO.sub(_hide, text) if "://" in text else text


class UrlPasswordFilter(logging.Filter):
    """Rewrites a record's message (and exception text) so no URL password reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact; never drops a record."""
        message = record.getMessage()
        if "://" in message:
            record.msg, record.args = redact_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and "://" in record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


def install(handler: logging.Handler) -> None:
    """Add the filter to ``handler`` (once)."""
    if not any(isinstance(f, UrlPasswordFilter) for f in handler.filters):
        handler.addFilter(UrlPasswordFilter())
