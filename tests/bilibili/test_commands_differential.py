"""The cmd handlers made cheaper for issue 20 give exactly the events the previous ones gave.

The oracle is :mod:`.commands_reference`, the previous code frozen: the restructured handlers
(``SEND_GIFT``, ``COMBO_SEND``, ``GUARD_BUY``, ``SUPER_CHAT_MESSAGE``, ``INTERACT_WORD_V2``,
``LIKE_INFO_V3_CLICK``, ``WATCHED_CHANGE``, ``ONLINE_RANK_COUNT``, ``ONLINE_RANK_V2/V3``, the notices)
and the shared helpers that changed (``_mk``, ``_user``, ``_medal_from_dict``, ``_secs``, ``_ms``,
``_ns``), which are patched into every handler module so that the other cmds are checked too.
"Exactly" means: the same id, kind, cmd, room id, time, user, text, ``raw`` object and ``data``
compared with its types and key order (``1`` is not ``1.0`` nor ``True``), and the same ``data["error"]``
where a shape could not be read. Inputs: every fixture, the traffic ``bench/decode.py`` generates and
mutated shapes of all of them (a key missing, ``null``, wrong types, numeric strings, huge ints, ...).
"""

from __future__ import annotations

import base64
import copy
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import livepipe.bilibili.commands as commands
from livepipe.bilibili import pb
from livepipe.bilibili.commands import chat, common, gifts, notices, parse_command, room, users
from livepipe.bilibili.protocol import OP_COMMAND, decode_frame
from livepipe.events import RawMessage

from . import commands_reference as ref
from .conftest import FIXTURES, ROOM, load_fixture

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_700_000_000.5  # receive time, pinned: events without a time of their own compare equal
HANDLER_MODULES = (common, chat, gifts, notices, room, users)

#: What a mutated value becomes (``MISSING`` deletes the key).
MISSING = object()
SUBSTITUTES: tuple[Any, ...] = (
    MISSING, None, 0, -1, 7, "7", "12.5", "abc", "", "x***", 1.5, -2.5, True, False, [], {}, [3], {"a": 1},
    2**70, 10**5000, "9" * 5000, "\ud800",
)  # fmt: skip


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch):
    for mod in (common, commands, chat, ref):
        monkeypatch.setattr(mod, "_now", lambda: NOW)


@pytest.fixture
def old_parse(monkeypatch):
    """``message -> Event`` of the previous code: reference handlers and helpers patched in."""

    def run(messages: list[dict[str, Any]]) -> list[Any]:
        with monkeypatch.context() as m:
            for mod in HANDLER_MODULES:
                for name, helper in ref.HELPERS.items():
                    if hasattr(mod, name):
                        m.setattr(mod, name, helper)
            for cmd, h in ref.HANDLERS.items():
                m.setitem(commands._DISPATCH, cmd, (h, cmd))
            return [parse_command(msg, ROOM) for msg in messages]

    return run


def typed(v: Any) -> Any:
    """``v`` with every type and every dict's key order made part of what ``==`` compares."""
    t = type(v)
    if t is dict or t is RawMessage:
        return (t.__name__, [(k, typed(x)) for k, x in v.items()])
    if t is list or t is tuple:
        return (t.__name__, [typed(x) for x in v])
    return (t.__name__, repr(v) if t is float else v)  # (repr: nan equals nan)


def assert_same(messages: list[dict[str, Any]], old_parse) -> None:
    """Old and new code give the same events for ``messages``; at least one per kind of outcome is checked."""
    old = old_parse(messages)
    new = [parse_command(m, ROOM) for m in messages]
    for msg, a, b in zip(messages, old, new, strict=True):
        assert typed(tuple(b[:9])) == typed(tuple(a[:9])), msg
        assert b.raw is a.raw is msg


def wire(msg: dict[str, Any]) -> RawMessage:
    """``msg`` as the decoder hands it to ``parse_command``: parsed from its JSON, a RawMessage."""
    body = orjson.dumps(msg)
    r = RawMessage(orjson.loads(body))
    r.json = body
    return r


def paths(v: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> Iterator[tuple[Any, ...]]:
    """Every key / index path inside ``v`` (dicts and lists, four levels deep, lists' first items)."""
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


def fixture_names(cmds: set[str] | None = None) -> list[str]:
    names = []
    for p in sorted(FIXTURES.glob("*.json")):
        if cmds is None or orjson.loads(p.read_bytes()).get("cmd") in cmds:
            names.append(p.stem)
    return names


def interact_word_v2(**changes: Any) -> dict[str, Any]:
    """The ``INTERACT_WORD_V2`` fixture with fields of its protobuf payload changed (``None``: removed)."""
    msg = load_fixture("interact_word_v2")
    w = pb.decode_pb_field(msg["data"]["pb"], pb.INTERACT_WORD_EVENT)
    for path, v in changes.items():
        *parents, key = path.split("__")
        d = w
        for k in parents:
            d = d[k]
        d[key] = v
    msg["data"]["pb"] = base64.b64encode(pb.encode_interact_word(w)).decode()
    return msg


# --- the samples ------------------------------------------------------------------------------------


def test_every_fixture_gives_the_same_event(old_parse):
    names = fixture_names()
    assert len(names) > 60
    assert_same([wire(load_fixture(n)) for n in names], old_parse)
    assert_same([load_fixture(n) for n in names], old_parse)  # plain dicts (replay, tests) too


def test_the_benchmark_traffic_gives_the_same_events(old_parse):
    spec = importlib.util.spec_from_file_location("bench_decode", ROOT / "bench" / "decode.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    frames, total = bench.build_frames(80, seed=13)
    messages = []
    for f in frames:
        for p in decode_frame(f):
            if p[0] == OP_COMMAND:
                r = RawMessage(orjson.loads(p[3]))
                r.json = p[3]
                messages.append(r)
    assert len(messages) == total
    assert {m["cmd"] for m in messages} >= {"SEND_GIFT", "INTERACT_WORD_V2", "ONLINE_RANK_V2", "GUARD_BUY"}
    assert_same(messages, old_parse)


@pytest.mark.parametrize("name", fixture_names(set(ref.HANDLERS)))
def test_mutated_shapes_of_the_restructured_cmds_give_the_same_events(name, old_parse):
    msgs = list(mutations(load_fixture(name)))
    assert len(msgs) > 20
    assert_same(msgs, old_parse)
    events = [parse_command(m, ROOM) for m in msgs]
    # the mutations reach the fallback: some shapes become raw events with an error, as before
    assert any(e.kind == "raw" and "error" in e.data for e in events)


@pytest.mark.parametrize("name", sorted(set(fixture_names()) - set(fixture_names(set(ref.HANDLERS)))))
def test_mutated_shapes_of_the_other_cmds_give_the_same_events_with_the_new_helpers(name, old_parse):
    assert_same(list(mutations(load_fixture(name))), old_parse)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"uid": 0},
        {"uname": "x***"},
        {"uname": "", "uinfo__base__name": "from_base"},
        {"uname": "", "uinfo": None},
        {"fans_medal": None},
        {"fans_medal__medal_level": 0},
        {"fans_medal__guard_level": 2, "privilege_type": 0},
        {"fans_medal__target_id": 0, "fans_medal__anchor_roomid": 0, "fans_medal__is_lighted": 0},
        {"privilege_type": 3},
        {"trigger_time": 0},
        {"trigger_time": 0, "timestamp": 0},
        {"msg_type": 2},
        {"msg_type": 9},
        {"uinfo__base__face": ""},
        {"uid": 2**63 - 1},
    ],
)
def test_interact_word_v2_payload_shapes_give_the_same_events(changes, old_parse):
    assert_same([wire(interact_word_v2(**changes))], old_parse)


@pytest.mark.parametrize(
    ("payload", "broken"),
    [(None, True), ("!!!", True), ("/w==", True), (5, True), (["x"], True), ("", False), ("CAE=", False)],
)
def test_odd_interact_word_v2_payloads_give_the_same_event(payload, broken, old_parse):
    msg = {"cmd": "INTERACT_WORD_V2", "data": {"pb": payload}}
    assert_same([msg], old_parse)
    ev = parse_command(msg, ROOM)
    assert ev.kind == "raw" and ("error" in ev.data) is broken  # an empty payload is a message of defaults


@pytest.mark.parametrize("data", [None, [], "x", 5, {}])
def test_a_data_that_is_not_an_object_gives_the_same_events(data, old_parse):
    assert_same([{"cmd": cmd, "data": data} for cmd in ref.HANDLERS], old_parse)
    assert_same([{"cmd": cmd, "data": data, "send_time": 1767225600123} for cmd in ref.HANDLERS], old_parse)


def outcome(fn: Any, *args: Any) -> Any:
    """What ``fn(*args)`` gives: its value (typed), or the exception it raises (type and message)."""
    try:
        return ("value", typed(fn(*args)))
    except Exception as e:  # noqa: BLE001 - the exception is the outcome compared
        return ("raises", type(e).__name__, str(e))


def test_the_shared_helpers_agree_with_the_reference_over_odd_values():
    values = [v for v in SUBSTITUTES if v is not MISSING] + [5, 1767225600, "1767225600", 2**64]
    for v in values:
        for name in ("_secs", "_ms", "_ns"):
            assert outcome(getattr(common, name), v) == outcome(ref.HELPERS[name], v), (name, v)
        for u in values:
            assert outcome(common._user, v, u) == outcome(ref._user, v, u), (v, u)
    base = load_fixture("send_gift")["data"]["medal_info"]
    medals = [None, [], "x", base, *mutations(base)]
    assert len(medals) > 100
    for m in medals:
        assert outcome(common._medal_from_dict, m) == outcome(ref._medal_from_dict, m), m
    assert outcome(common._user, 1, 10**5000)[0] == "raises"  # the comparison covers raising too
