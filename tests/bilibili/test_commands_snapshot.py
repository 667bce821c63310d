"""Every cmd handler gives the events it gave when the snapshot was taken, for thousands of shapes.

Inputs: every fixture in tests/fixtures/bilibili (as the decoder hands it over, a ``RawMessage``, and as
a plain dict), and each fixture mutated path by path: a key missing, ``null``, wrong types, numeric
strings, huge integers, a lone surrogate, ... (``mutations``). For each fixture the events of all its
inputs are written out exactly (types, key order, ``1`` is not ``1.0`` nor ``True``; the
``data["error"]`` of a shape that could not be read) and hashed; the hashes are kept in
``tests/bilibili/commands_snapshot.json``.

A handler made faster must give the same events (issue 20 rewrote several): this test fails naming
the fixture whose events changed. When a change of events is intended (a new field, a fixed bug),
take the snapshot again and say so in the commit::

    LIVEPIPE_UPDATE_SNAPSHOT=1 python -m pytest tests/bilibili/test_commands_snapshot.py
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import livepipe.bilibili.commands as commands
from livepipe.bilibili.commands import chat, common, parse_command
from livepipe.events import RawMessage

from .conftest import FIXTURES, ROOM, load_fixture

SNAPSHOT = Path(__file__).with_name("commands_snapshot.json")
NOW = 1_700_000_000.5  # receive time, pinned: events without a time of their own hash the same

#: What a mutated value becomes (``MISSING`` deletes the key).
MISSING = object()
SUBSTITUTES: tuple[Any, ...] = (
    MISSING, None, 0, -1, 7, "7", "12.5", "abc", "", "x***", 1.5, -2.5, True, False, [], {}, [3], {"a": 1},
    2**70, 10**5000, "9" * 5000, "\ud800",
)  # fmt: skip


def canon(v: Any) -> str:
    """``v`` written out with every type and every dict's key order (integers in hex: no digit limit)."""
    t = type(v)
    if t is dict or t is RawMessage:
        return t.__name__ + "{" + ",".join(canon(k) + ":" + canon(x) for k, x in v.items()) + "}"
    if t is list or t is tuple:
        return t.__name__ + "[" + ",".join(canon(x) for x in v) + "]"
    if t is int:
        return f"int:{v:x}"
    return f"{t.__name__}:{v!r}"


def paths(v: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> Iterator[tuple[Any, ...]]:
    """Every key / index path inside ``v`` (dicts and lists, four levels deep, lists' first three items)."""
    if depth >= 4:
        return
    if type(v) is dict:
        for k, x in v.items():
            yield (*prefix, k)
            yield from paths(x, (*prefix, k), depth + 1)
    elif type(v) is list:
        for i, x in enumerate(v[:3]):
            yield (*prefix, i)
            yield from paths(x, (*prefix, i), depth + 1)


def mutations(msg: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``msg`` with one value replaced by each of :data:`SUBSTITUTES`, path by path (``cmd`` kept)."""
    for path in paths(msg):
        if path == ("cmd",):
            continue
        for sub in SUBSTITUTES:
            m = copy.deepcopy(msg)
            parent = m
            for k in path[:-1]:
                parent = parent[k]
            if sub is MISSING:
                if type(parent) is not dict:
                    continue
                del parent[path[-1]]
            else:
                parent[path[-1]] = sub
            yield m


def wire(msg: dict[str, Any]) -> RawMessage:
    """``msg`` as the decoder hands it to ``parse_command``: parsed from its JSON, a RawMessage."""
    body = orjson.dumps(msg)
    r = RawMessage(orjson.loads(body))
    r.json = body
    return r


def digest(name: str) -> str:
    """The hash of the events of fixture ``name`` and of all its mutations."""
    msg = load_fixture(name)
    h = hashlib.sha256()
    for m in (wire(msg), msg, *mutations(msg)):
        ev = parse_command(m, ROOM)
        h.update(canon(tuple(ev[:9])).encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch):
    for mod in (common, commands, chat):
        monkeypatch.setattr(mod, "_now", lambda: NOW)


def test_every_fixture_and_its_mutations_give_the_events_of_the_snapshot():
    names = sorted(p.stem for p in FIXTURES.glob("*.json"))
    assert len(names) > 60
    got = {n: digest(n) for n in names}
    if os.environ.get("LIVEPIPE_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", "utf-8")
    want = json.loads(SNAPSHOT.read_text("utf-8"))
    changed = sorted(n for n in names if want.get(n) != got[n])
    assert not changed, (f"the events of these fixtures changed: {', '.join(changed)} (intended? take the "
                         "snapshot again: LIVEPIPE_UPDATE_SNAPSHOT=1, see this module's docstring)")
