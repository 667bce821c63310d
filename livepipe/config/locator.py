"""Locating tables and keys in TOML text (tomllib gives no positions for values), for ``file:line`` messages."""

from __future__ import annotations

import re
from collections.abc import Sequence

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_\-]+)\s*(?:\.|=)""")


def _split_dotted(s: str) -> list[str]:
    parts, cur, quote = [], "", None
    for ch in s:
        if quote:
            if ch == quote:
                quote = None
            else:
                cur += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts


class Locator:
    """Finds the line of a table or key in one TOML file's text."""

    def __init__(self, text: str) -> None:
        self.headers: list[tuple[tuple[str, ...], int]] = []  # (path, line) in order
        self.lines = text.splitlines()
        for i, line in enumerate(self.lines, start=1):
            m = _HEADER.match(line)
            if m:
                self.headers.append((tuple(_split_dotted(m.group(2))), i))

    def _table_range(self, path: tuple[str, ...]) -> tuple[int, int] | None:
        for idx, (p, line) in enumerate(self.headers):
            if p == path:
                end = self.headers[idx + 1][1] if idx + 1 < len(self.headers) else len(self.lines) + 1
                return line, end
        return None

    def _key_line(self, start: int, end: int, key: str) -> int | None:
        for i in range(start, min(end, len(self.lines) + 1)):
            m = _KEY.match(self.lines[i - 1]) if i > start else None
            if m and m.group(1).strip("\"'") == key:
                return i
        return None

    def find(self, path: Sequence[str]) -> int | None:
        """Line of the deepest part of ``path`` that can be found (table header or key)."""
        path = tuple(str(p) for p in path)
        for cut in range(len(path), 0, -1):
            rng = self._table_range(path[:cut])
            if rng is None:
                continue
            if cut == len(path):
                return rng[0]
            return self._key_line(rng[0], rng[1], path[cut]) or rng[0]
        for header, line in self.headers:  # [a.b.c] defines a and a.b implicitly
            if header[: len(path)] == path:
                return line
        # keys of a parent table written with dotted keys (sources.x.type = ...) or top-level keys
        for cut in range(len(path) - 1, -1, -1):
            first_header = self.headers[0][1] if self.headers else len(self.lines) + 1
            rng = self._table_range(path[:cut]) if cut else (0, first_header)
            if rng is None:
                continue
            start, end = rng
            for i in range(max(start, 1), min(end, len(self.lines) + 1)):
                line = self.lines[i - 1]
                if _HEADER.match(line):
                    continue
                if "=" not in line:
                    continue
                keys = _split_dotted(line.split("=", 1)[0].strip())
                if keys[0] == path[cut]:
                    return i
        return None

    def line_within_value(self, key_line: int, inner_line: int) -> int:
        """The file line of line ``inner_line`` (1-based) of the string value whose key is on ``key_line``.

        A multi-line string whose opening triple quote ends the key's line begins on the next line
        (TOML drops that first newline); any other value begins on the key's line. Falls back to
        ``key_line`` when the line cannot be read.
        """
        if not 1 <= key_line <= len(self.lines) or inner_line < 1:
            return key_line
        _, _, value = self.lines[key_line - 1].partition("=")
        value = value.strip()
        for quote in ('"""', "'''"):
            if value.startswith(quote):
                first_on_next = not value[3:].strip()
                return min(key_line + inner_line - (0 if first_on_next else 1), len(self.lines))
        return key_line
