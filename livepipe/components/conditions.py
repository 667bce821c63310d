"""The condition language shared by ``filter`` and ``route`` (and field paths used by ``throttle``/``dedupe``).

A *match spec* is a TOML table with optional keys::

    kinds    = ["danmaku", "action.*"]      # kind is one of these (shell-style wildcards allowed)
    cmds     = ["DANMU_MSG", "SEND_GIFT*"]  # cmd is one of these (wildcards allowed)
    room_ids = [1001, 1002]                 # room_id is one of these
    where    = [                            # every condition must hold
        { field = "text", regex = "(?i)free gift" },
        { field = "data.medal.level", min = 20 },
        { field = "uid", in = [1, 2, 3] },
    ]

An event matches when *all* given keys hold (a spec with no keys matches everything). Inside one
list (``kinds``, ``in``) any element may match. Specs are compiled once into plain closures.

Field paths name a top-level event field (``id kind cmd room_id ts uid uname text``) or walk into
``data`` / ``raw`` with dots (``data.medal.level``; list elements by index: ``data.items.0``). A
missing key, a wrong-typed step or a JSON ``null`` all read as *absent*.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

from livepipe.events import Event
from livepipe.schema import field

#: Top-level event fields a path may start with.
TOP_LEVEL_FIELDS = ("id", "kind", "cmd", "room_id", "ts", "uid", "uname", "text", "data", "raw")
_INDEX = {name: i for i, name in enumerate(TOP_LEVEL_FIELDS)}

Getter = Callable[[Event], Any]
Predicate = Callable[[Event], bool]


def check_path(path: str) -> str:
    """Validate a field path; raise ``ValueError`` with a message for the user when it is malformed."""
    if not isinstance(path, str) or not path:
        raise ValueError("a field path must be a non-empty string such as 'uid' or 'data.medal.level'")
    parts = path.split(".")
    if any(p == "" for p in parts):
        raise ValueError(f"field path {path!r} has an empty segment (two dots, or a leading/trailing dot)")
    head = parts[0]
    if head not in _INDEX:
        raise ValueError(
            f"field path {path!r} must start with one of {', '.join(TOP_LEVEL_FIELDS)} "
            "(use 'data.<key>' for kind-specific fields)"
        )
    if len(parts) > 1 and head not in ("data", "raw"):
        raise ValueError(f"field path {path!r}: only 'data' and 'raw' have sub-fields")
    return path


def compile_path(path: str) -> Getter:
    """Compile a (checked) field path into a function ``event -> value`` (``None`` when absent)."""
    check_path(path)
    parts = path.split(".")
    index = _INDEX[parts[0]]
    rest = parts[1:]
    # raw through its property: the decoder may hold it unparsed (a LazyRaw) in the tuple
    top: Getter = (lambda event: event.raw) if parts[0] == "raw" else (lambda event: event[index])
    if not rest:
        return top
    steps: list[tuple[str, int | None]] = [(p, int(p) if p.lstrip("-").isdigit() else None) for p in rest]

    def get(event: Event) -> Any:
        value: Any = top(event)
        for key, pos in steps:
            if isinstance(value, dict):
                value = value.get(key)
            elif isinstance(value, list) and pos is not None:
                try:
                    value = value[pos]
                except IndexError:
                    return None
            else:
                return None
            if value is None:
                return None
        return value

    return get


_NUM_RE = re.compile(r"-?\d+(\.\d+)?\Z")


def normalize(value: Any) -> Any:
    """A hashable comparison key that treats ``1001``, ``1001.0`` and ``"1001"`` as equal.

    Bilibili swaps ints and numeric strings between messages, so conditions compare loosely.
    Booleans stay booleans; lists and dicts become their canonical JSON text.
    """
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int):
        return ("n", value)
    if isinstance(value, float):
        return ("n", int(value)) if value.is_integer() else ("n", value)
    if isinstance(value, str):
        if _NUM_RE.match(value):
            return normalize(float(value)) if "." in value else ("n", int(value))
        return ("s", value)
    if isinstance(value, (list, dict)):
        return ("j", json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")))
    return ("o", repr(value))


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=False)


class Condition(_Strict):
    """One ``where`` condition: a field path plus one or more tests, all of which must hold."""

    path: str = field(alias="field", description="field path: `uid`, `text`, `data.medal.level`, ...")
    equals: Any = field(None, description="the value equals this (numbers and numeric strings compare equal)")
    in_: list[Any] | None = field(None, alias="in", description="the value is one of these")
    regex: str | None = field(
        None, description="the value (as text) contains a match of this Python regular expression; anchor with ^ $"
    )
    exists: bool | None = field(None, description="true: the field is present and not null; false: it is absent")
    min_: float | None = field(None, alias="min", description="the value is a number (or numeric string) >= this")
    max_: float | None = field(None, alias="max", description="the value is a number (or numeric string) <= this")
    negate: bool = field(False, description="invert this condition")

    @field_validator("path")
    @classmethod
    def _check_path(cls, v: str) -> str:
        return check_path(v)

    @field_validator("regex")
    @classmethod
    def _check_regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"regex {v!r} does not compile: {e}") from None
        return v

    @model_validator(mode="after")
    def _needs_a_test(self) -> Condition:
        if all(x is None for x in (self.equals, self.in_, self.regex, self.exists, self.min_, self.max_)):
            raise ValueError(
                f"condition on {self.path!r} needs at least one test: equals, in, regex, exists, min or max"
            )
        return self


class MatchSpec(_Strict):
    """The keys shared by ``filter`` and each ``route``: kinds, cmds, room_ids and where conditions."""

    kinds: list[str] | None = field(
        None, description='event kinds to match; shell-style wildcards allowed (`"action.*"`)'
    )
    cmds: list[str] | None = field(None, description='Bilibili cmds to match; wildcards allowed (`"SEND_GIFT*"`)')
    room_ids: list[int] | None = field(None, description="room ids to match")
    where: list[Condition] = field(
        default_factory=list, description="field conditions, all of which must hold (see the condition table)"
    )

    @field_validator("kinds", "cmds", "room_ids")
    @classmethod
    def _not_empty(cls, v: list[Any] | None, info: ValidationInfo) -> list[Any] | None:
        if v is not None and not v:
            raise ValueError(f"{info.field_name} is empty, so nothing would match; leave the key out to match any")
        return v


def _compile_names(names: list[str], getter: Getter) -> Predicate:
    exact = frozenset(n for n in names if not any(c in n for c in "*?["))
    patterns = [re.compile(fnmatch.translate(n)) for n in names if n not in exact]
    if not patterns:
        return lambda event: getter(event) in exact

    def pred(event: Event) -> bool:
        v = getter(event)
        if v in exact:
            return True
        return isinstance(v, str) and any(p.match(v) for p in patterns)

    return pred


def compile_condition(cond: Condition) -> Predicate:
    """Compile one ``where`` condition into ``event -> bool``."""
    get = compile_path(cond.path)
    tests: list[Callable[[Any], bool]] = []
    if cond.exists is not None:
        want = cond.exists
        tests.append(lambda v: (v is not None) == want)
    if cond.equals is not None:
        key = normalize(cond.equals)
        tests.append(lambda v: v is not None and normalize(v) == key)
    if cond.in_ is not None:
        keys = frozenset(normalize(x) for x in cond.in_)
        tests.append(lambda v: v is not None and normalize(v) in keys)
    if cond.regex is not None:
        rx = re.compile(cond.regex)

        def test_regex(v: Any) -> bool:
            if v is None:
                return False
            return rx.search(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) is not None

        tests.append(test_regex)
    if cond.min_ is not None or cond.max_ is not None:
        lo = cond.min_ if cond.min_ is not None else float("-inf")
        hi = cond.max_ if cond.max_ is not None else float("inf")

        def test_range(v: Any) -> bool:
            n = _as_number(v)
            return n is not None and lo <= n <= hi

        tests.append(test_range)
    negate = cond.negate
    if len(tests) == 1:
        only = tests[0]
        return lambda event: only(get(event)) != negate

    def pred(event: Event) -> bool:
        v = get(event)
        return all(t(v) for t in tests) != negate

    return pred


def compile_match(spec: MatchSpec) -> Predicate:
    """Compile a match spec (or any model with its keys) into one ``event -> bool`` function."""
    preds: list[Predicate] = []
    if spec.kinds is not None:
        preds.append(_compile_names(spec.kinds, lambda e: e.kind))
    if spec.cmds is not None:
        preds.append(_compile_names(spec.cmds, lambda e: e.cmd))
    if spec.room_ids is not None:
        rooms = frozenset(spec.room_ids)
        preds.append(lambda e: e.room_id in rooms)
    preds.extend(compile_condition(c) for c in spec.where)
    if not preds:
        return lambda event: True
    if len(preds) == 1:
        return preds[0]
    return lambda event: all(p(event) for p in preds)
