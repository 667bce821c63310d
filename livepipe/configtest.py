"""``livepipe test``: run the ``[[tests]]`` blocks of a pipeline configuration.

A test inserts events at a component and checks what comes out of another, with every source
replaced and chosen sinks mocked, so nothing touches the network or an account::

    [[tests]]
    name = "links get flagged"
    mocks = ["ban", "say"]                 # these sinks become captures (never called)
    env = { AUTOMOD_LEVEL = "strict" }     # set while this test's config is loaded and run
    # allow_actions = ["ban"]              # opt in: these action sinks act for real (default: dry run)

    [[tests.inputs]]
    insert_at = "automod"                  # a source, processor or sink id
    events = [{ kind = "danmaku", uid = 7, uname = "x", text = "加我 qq 12345", room_id = 1 }]
    # or raw Bilibili cmd messages:  bilibili = [{ cmd = "DANMU_MSG", info = [...] }], room_id = 1

    [[tests.outputs]]
    extract_from = "automod.flagged"       # an output id, a component id, or a sink id (what it received)
    count = 1                              # optional: exactly this many events
    match = "all"                          # conditions must hold for "all" events (default) or "any"
    conditions = [
        { field = "kind", equals = "danmaku" },
        { field = "text", contains = "qq" },
        { field = "text", matches = "\\\\d{5}" },
        { field = "data", json_subset = { masked = false } },
    ]

    no_outputs_from = ["automod.ban"]      # these produce nothing in this test

Action sinks (``bilibili.ban``, ``bilibili.send``, ``bilibili.room`` and every plugin sink that
declares ``action = True``) that a test does not mock run with ``dry_run = true``: they validate
each action and report outcome ``dry_run`` on their ``results`` output, but never act on a room.
A test that must really act (against a simulator) lists those sinks in ``allow_actions``.

Each test loads the configuration anew (with its ``env``), so tests never share state.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from livepipe.config import ConfigError, tomllib
from livepipe.errors import ConfigurationError
from livepipe.runtime.loading import load_config

TEST_KEYS = {"name", "inputs", "outputs", "no_outputs_from", "mocks", "env", "allow_actions"}
INPUT_KEYS = {"insert_at", "events", "bilibili", "room_id"}
OUTPUT_KEYS = {"extract_from", "conditions", "count", "match"}
CONDITION_TYPES = ("equals", "contains", "matches", "json_subset")


@dataclass
class TestResult:
    """The outcome of one ``[[tests]]`` block."""

    name: str
    failures: list[str] = field(default_factory=list)
    #: action sinks that ran with dry_run = true in this test
    dry_run: list[str] = field(default_factory=list)
    #: action sinks that really acted (the test listed them in allow_actions)
    acted: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every expectation held."""
        return not self.failures


class TestDefinitionError(ConfigurationError, ValueError):
    """A ``[[tests]]`` block is malformed; the message names the test and the key."""


@contextlib.contextmanager
def _environment(env: dict[str, Any]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update({k: str(v) for k, v in env.items()})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _merged_tables(paths: list[Path]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for p in paths:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
        for top, value in data.items():
            if top == "tests":
                merged.setdefault("tests", []).extend(value)
            elif isinstance(value, dict):
                merged.setdefault(top, {}).update(value)
            else:
                merged[top] = value
    return merged


def _get(event: dict[str, Any], path: str) -> Any:
    cur: Any = event
    for part in path.split("."):
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
    return cur


def _subset(want: Any, got: Any) -> bool:
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and _subset(v, got[k]) for k, v in want.items())
    if isinstance(want, list):
        if not (isinstance(got, list) and len(want) == len(got)):
            return False
        return all(_subset(a, b) for a, b in zip(want, got, strict=True))
    return want == got


def _check_condition(cond: dict[str, Any], event: dict[str, Any]) -> str | None:
    """None when ``cond`` holds for ``event``, else a short reason."""
    path = cond["field"]
    value = _get(event, path)
    if "equals" in cond:
        if value != cond["equals"]:
            return f"{path} == {cond['equals']!r}, got {value!r}"
    elif "contains" in cond:
        want = cond["contains"]
        if not (isinstance(value, (str, list)) and want in value):
            return f"{path} contains {want!r}, got {value!r}"
    elif "matches" in cond:
        if not (isinstance(value, str) and re.search(cond["matches"], value)):
            return f"{path} matches /{cond['matches']}/, got {value!r}"
    elif "json_subset" in cond:
        if not _subset(cond["json_subset"], value):
            return f"{path} contains {json.dumps(cond['json_subset'], ensure_ascii=False)}, got " \
                   f"{json.dumps(value, ensure_ascii=False, default=str)}"
    return None


def action_sinks(tables: dict[str, Any]) -> set[str]:
    """Ids of the sinks whose type declares ``action = True`` (they act on a live service)."""
    from livepipe import plugins

    registry = plugins.registry()
    out = set()
    for sid, table in (tables.get("sinks") or {}).items():
        reg = registry.get(table.get("type", ""), "sink") if isinstance(table, dict) else None
        if reg is not None and getattr(reg.cls, "action", False):
            out.add(sid)
    return out


def _validate(test: dict[str, Any], index: int, ids: set[str], actions: set[str]) -> str:
    name = str(test.get("name") or f"test #{index + 1}")
    where = f"[[tests]] '{name}'"
    unknown = set(test) - TEST_KEYS
    if unknown:
        raise TestDefinitionError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                                  f"valid keys: {', '.join(sorted(TEST_KEYS))}")
    for i, inp in enumerate(test.get("inputs", [])):
        bad = set(inp) - INPUT_KEYS
        if bad:
            raise TestDefinitionError(f"{where}: inputs[{i}]: unknown key(s) {', '.join(sorted(bad))}; "
                                      f"valid keys: {', '.join(sorted(INPUT_KEYS))}")
        if inp.get("insert_at") not in ids:
            raise TestDefinitionError(f"{where}: inputs[{i}]: insert_at = {inp.get('insert_at')!r} names no "
                                      f"component; components: {', '.join(sorted(ids))}")
        if "bilibili" in inp and "room_id" not in inp:
            raise TestDefinitionError(f"{where}: inputs[{i}]: raw bilibili messages need room_id")
    for i, out in enumerate(test.get("outputs", [])):
        bad = set(out) - OUTPUT_KEYS
        if bad:
            raise TestDefinitionError(f"{where}: outputs[{i}]: unknown key(s) {', '.join(sorted(bad))}; "
                                      f"valid keys: {', '.join(sorted(OUTPUT_KEYS))}")
        if "extract_from" not in out:
            raise TestDefinitionError(f"{where}: outputs[{i}]: extract_from is required")
        for j, cond in enumerate(out.get("conditions", [])):
            kinds = [t for t in CONDITION_TYPES if t in cond]
            if "field" not in cond or len(kinds) != 1:
                raise TestDefinitionError(
                    f"{where}: outputs[{i}].conditions[{j}]: give a field and exactly one of "
                    f"{', '.join(CONDITION_TYPES)}")
    for m in test.get("mocks", []):
        if m not in ids:
            raise TestDefinitionError(f"{where}: mocks: {m!r} names no component")
    for a in test.get("allow_actions", []):
        if a not in actions:
            raise TestDefinitionError(f"{where}: allow_actions: {a!r} is not an action sink; action sinks in this "
                                      f"config: {', '.join(sorted(actions)) or '(none)'}")
        if a in test.get("mocks", []):
            raise TestDefinitionError(f"{where}: {a!r} is in both mocks and allow_actions; keep one")
    return name


def _events_for(inp: dict[str, Any]) -> list[dict[str, Any]]:
    out = [{"v": 1, **e} for e in inp.get("events", [])]
    if "bilibili" in inp:
        from livepipe.bilibili.commands import parse_command

        out += [parse_command(m, int(inp["room_id"])).to_dict() for m in inp["bilibili"]]
    return out


def build_test_config(tables: dict[str, Any], test: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The pipeline tables for one test, and capture sink id -> what it extracts.

    Action sinks neither mocked nor listed in ``allow_actions`` get ``dry_run = true``.
    """
    t = json.loads(json.dumps({k: v for k, v in tables.items() if k != "tests"}))
    t.pop("simulator", None)
    sources = t.get("sources", {})
    processors = t.get("processors", {})
    sinks = t.get("sinks", {})
    inserted: dict[str, list[dict[str, Any]]] = {}
    for inp in test.get("inputs", []):
        inserted.setdefault(inp["insert_at"], []).extend(_events_for(inp))
    # every source is replaced: it emits what the test inserts at it, or nothing
    for sid in list(sources):
        sources[sid] = {"type": "testing.events", "events_json": json.dumps(inserted.pop(sid, []))}
    for n, (cid, events) in enumerate(inserted.items()):
        feed = f"__test_input_{n}"
        sources[feed] = {"type": "testing.events", "events_json": json.dumps(events)}
        target = processors.get(cid) or sinks.get(cid)
        target["inputs"] = [*target.get("inputs", []), feed]
    for m in test.get("mocks", []):
        if m in sinks:
            sinks[m] = {"type": "testing.capture", "inputs": sinks[m].get("inputs", [])}
    for sid in action_sinks(t) - set(test.get("allow_actions", [])):
        sinks[sid]["dry_run"] = True
    captures: dict[str, str] = {}
    wanted = [o["extract_from"] for o in test.get("outputs", [])] + list(test.get("no_outputs_from", []))
    for n, what in enumerate(dict.fromkeys(wanted)):
        cap = f"__test_capture_{n}"
        inputs = sinks[what].get("inputs", []) if what in sinks else [what]
        sinks[cap] = {"type": "testing.capture", "inputs": inputs}
        captures[what] = cap
    t["sources"], t["processors"], t["sinks"] = sources, processors, sinks
    return t, captures


def run_test(paths: list[Path], tables: dict[str, Any], test: dict[str, Any], index: int) -> TestResult:
    """Run one test block and collect its failures."""
    import tomli_w

    from livepipe import testing
    from livepipe.runner import run_config
    from livepipe.runtime.pipeline import PipelineError

    ids = {*tables.get("sources", {}), *tables.get("processors", {}), *tables.get("sinks", {})}
    actions = action_sinks(tables)
    name = _validate(test, index, ids, actions)
    rehearsed = actions - set(test.get("mocks", [])) - set(test.get("allow_actions", []))
    result = TestResult(name, dry_run=sorted(rehearsed), acted=sorted(test.get("allow_actions", [])))
    config_tables, captures = build_test_config(tables, test)
    testing.install()
    with _environment(test.get("env", {})), tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "test.toml"
        path.write_text(tomli_w.dumps(config_tables), encoding="utf-8")
        try:
            config = load_config([path])
        except ConfigError as e:
            result.failures.append("the test pipeline is invalid:\n" + "\n".join(f"  {i}" for i in e.issues))
            return result
        config.files = list(paths)  # relative paths resolve against the real config's directory
        testing.captured.clear()
        try:
            anyio.run(lambda: run_config(config), backend="asyncio")
        except (PipelineError, ConfigError) as e:
            result.failures.append(f"the test pipeline could not run: {e}\n      fix that component's configuration, "
                                   "or list it in this test's mocks to replace it with a capture")
            return result
        got: dict[str, list[dict[str, Any]]] = {
            what: [e.to_dict() for e in testing.captured.get(cap, [])] for what, cap in captures.items()
        }
    for i, out in enumerate(test.get("outputs", [])):
        what = out["extract_from"]
        events = got[what]
        label = f"outputs[{i}] from {what}"
        if "count" in out and len(events) != out["count"]:
            result.failures.append(f"{label}: expected {out['count']} events, got {len(events)}"
                                   + _show(events))
            continue
        if not events and out.get("count") != 0:
            result.failures.append(f"{label}: expected events, got none")
            continue
        conds = out.get("conditions", [])
        if out.get("match", "all") == "any":
            if conds and not any(all(_check_condition(c, e) is None for c in conds) for e in events):
                reasons = [r for e in events[:1] for c in conds if (r := _check_condition(c, e))]
                result.failures.append(f"{label}: no event meets every condition; first event: "
                                       + "; ".join(reasons) + _show(events))
        else:
            for n, e in enumerate(events):
                reasons = [r for c in conds if (r := _check_condition(c, e))]
                if reasons:
                    result.failures.append(f"{label}: event {n}: expected " + "; ".join(reasons) + _show([e]))
                    break
    for what in test.get("no_outputs_from", []):
        if got[what]:
            result.failures.append(f"no_outputs_from {what}: expected nothing, got {len(got[what])} events"
                                   + _show(got[what]))
    return result


def _show(events: list[dict[str, Any]], limit: int = 3) -> str:
    if not events:
        return ""
    lines = []
    for e in events[:limit]:
        brief = {k: e.get(k) for k in ("kind", "uid", "uname", "text", "room_id") if e.get(k) is not None}
        if e.get("data"):
            brief["data"] = e["data"]
        lines.append("      " + json.dumps(brief, ensure_ascii=False, default=str)[:300])
    more = f"\n      ... and {len(events) - limit} more" if len(events) > limit else ""
    return "\n" + "\n".join(lines) + more


def run_tests(paths: list[Path], out: Any = None) -> tuple[int, int]:
    """Run every ``[[tests]]`` block of the merged files; print a report; return (passed, failed)."""
    out = out or sys.stdout
    tables = _merged_tables(paths)
    tests = tables.get("tests", [])
    passed = failed = 0
    for i, test in enumerate(tests):
        try:
            res = run_test(paths, tables, test, i)
        except TestDefinitionError as e:
            res = TestResult(str(test.get("name") or f"test #{i + 1}"), [str(e)])
        notes = [f"dry run: {', '.join(res.dry_run)}"] if res.dry_run else []
        notes += [f"allowed to act: {', '.join(res.acted)}"] if res.acted else []
        dry = f"  ({'; '.join(notes)})" if notes else ""
        if res.passed:
            passed += 1
            print(f"  ok    {res.name}{dry}", file=out)
        else:
            failed += 1
            print(f"  FAIL  {res.name}{dry}", file=out)
            for f in res.failures:
                print(f"    {f}", file=out)
    print(f"{passed} passed, {failed} failed", file=out)
    return passed, failed
