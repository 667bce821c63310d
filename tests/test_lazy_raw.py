"""LazyRaw: an event's raw kept as the received bytes behaves as the parsed dict did, and is written unparsed."""

from __future__ import annotations

import copy
import json
import pickle

import orjson
import pytest

from livepipe.components.conditions import compile_path
from livepipe.components.sql import event_row
from livepipe.events import Event, LazyRaw, RawMessage

BODY = '{"cmd":"DANMU_MSG","info":[[0,1,25],"大家好",[7,"晴天"]],"n":1.5,"u":"\\u00e9"}'.encode()


def events() -> tuple[Event, Event]:
    """The same event twice: raw as a LazyRaw (as the decoder makes it) and as a parsed RawMessage."""
    lazy = Event("id1", "danmaku", "DANMU_MSG", 5, 1.5, 7, "晴天", "大家好", {"mode": 1}, LazyRaw(BODY))
    eager = lazy.replace(raw=RawMessage.of(orjson.loads(BODY), BODY))
    return lazy, eager


def is_parsed(ev: Event) -> bool:
    return hasattr(tuple.__getitem__(ev, 9), "_message")


def test_raw_reads_as_the_parsed_message_parsed_once():
    lazy, eager = events()
    assert not is_parsed(lazy)
    raw = lazy.raw
    assert type(raw) is RawMessage and raw.json == BODY
    assert raw == eager.raw and raw["info"][1] == "大家好" and raw["u"] == "é"
    assert lazy.raw is raw and is_parsed(lazy)
    with pytest.raises(TypeError, match="read-only"):
        raw["cmd"] = "X"  # type: ignore[index]


def test_events_compare_equal_either_way_and_repr_is_the_same():
    lazy, eager = events()
    assert lazy == eager and eager == lazy
    assert lazy == events()[0]
    assert lazy != eager.replace(raw={"cmd": "OTHER"})
    assert repr(lazy) == repr(eager)


def test_the_tuple_slot_is_a_read_only_mapping_equal_to_the_dict():
    lazy, eager = events()
    slot = tuple.__getitem__(lazy, 9)
    assert isinstance(slot, LazyRaw)
    assert slot == eager.raw and eager.raw == slot
    assert slot["cmd"] == "DANMU_MSG" and slot.get("missing") is None and "info" in slot
    assert len(slot) == len(eager.raw) and list(slot) == list(eager.raw) and dict(slot) == dict(eager.raw)
    with pytest.raises(TypeError):
        hash(slot)


def test_json_form_writes_the_received_bytes_without_parsing():
    lazy, eager = events()
    out = lazy.to_json_bytes()
    assert not is_parsed(lazy)
    assert out == eager.to_json_bytes() and out.endswith(b',"raw":' + BODY + b"}")
    assert lazy.to_json(include_raw=False) == eager.to_json(include_raw=False)
    assert Event.from_json(out) == lazy


def test_dict_forms_hold_the_parsed_message():
    lazy, eager = events()
    d = lazy.to_dict()
    assert type(d["raw"]) is RawMessage and d == eager.to_dict()
    assert orjson.loads(orjson.dumps(d)) == json.loads(json.dumps(d, ensure_ascii=False))
    assert lazy._asdict()["raw"] == eager.raw and type(lazy._asdict()["raw"]) is RawMessage


def test_json_module_fallback_for_what_orjson_cannot_encode():
    lazy, eager = events()
    big = {"n": 2**70}  # beyond 64 bits: orjson refuses, the json module writes it
    assert lazy.replace(data=big).to_json_bytes() == eager.replace(data=big).to_json_bytes()


def test_pickle_copy_replace_keep_it():
    lazy, eager = events()
    back = pickle.loads(pickle.dumps(lazy))
    assert back == eager and type(tuple.__getitem__(back, 9)) is LazyRaw
    assert pickle.loads(pickle.dumps(tuple.__getitem__(lazy, 9))) == eager.raw
    assert copy.copy(lazy) == eager and copy.deepcopy(lazy) == eager
    changed = lazy.replace(text="x")
    assert type(tuple.__getitem__(changed, 9)) is LazyRaw and changed.raw == eager.raw
    assert lazy.replace(raw={"a": 1}).raw == {"a": 1}


def test_conditions_and_sql_read_it():
    lazy, eager = events()
    assert compile_path("raw.info.1")(lazy) == "大家好"
    assert compile_path("raw.info.0.2")(lazy) == 25
    assert compile_path("raw")(lazy) == eager.raw
    assert event_row(lazy, True) == event_row(eager, True)


def test_a_number_beyond_the_double_range_reads_as_the_json_module_reads_it():
    raw = LazyRaw(b'{"cmd":"X","n":1e400}')  # orjson refuses it; the json module (and Event.from_json) read inf
    assert raw == {"cmd": "X", "n": float("inf")}
