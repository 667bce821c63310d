"""Merging several config files into one (:func:`merge_tables`), remembering which file set each key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from livepipe.config.files import _Loaded
from livepipe.config.refs import _is_ref, _Refs, _resolve_refs


def merge_tables(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base`` (neither is changed): tables merge key by key, recursively; any other
    value, arrays included, replaces the earlier one. A ``{ env = ... }`` / ``{ file = ... }`` reference
    counts as a value, so it replaces what was there instead of merging into it."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict) and not _is_ref(old) and not _is_ref(value):
            out[key] = merge_tables(old, value)
        else:
            out[key] = value
    return out


@dataclass
class _Merged:
    """A table built from one or more files: the merged keys and the file each top-level key came from."""

    src: _Loaded  # the file that defined the table first
    table: Any
    origins: dict[str, _Loaded]

    @classmethod
    def first(cls, src: _Loaded, table: Any) -> _Merged:
        return cls(src, table, {k: src for k in table} if isinstance(table, dict) else {})

    def add(self, src: _Loaded, table: dict[str, Any]) -> _Merged:
        """This table with ``table`` (from a later file ``src``) merged on top."""
        return _Merged(self.src, merge_tables(self.table, table), {**self.origins, **{k: src for k in table}})

    def origin(self, key: str | None) -> _Loaded:
        """The file that set ``key`` last (the defining file for the table itself)."""
        return self.origins.get(key or "", self.src)

    def resolve(self, path: list[str], on_error: Any, found: set[str], refs: _Refs | None = None) -> Any:
        """The table with its secret references resolved, each relative to the file that wrote it."""
        return {k: _resolve_refs(v, [*path, k], on_error, self.origin(k).path.parent, found, refs)
                for k, v in self.table.items()}
