"""The Event type and its JSON form (the public contract for NATS consumers and JSONL files)."""

from __future__ import annotations

import copy
import json
import pickle

import orjson
import pytest

from livepipe.events import JSON_MEMO_SIZE, SCHEMA_VERSION, Event, RawMessage, make_event, make_id


def sample() -> Event:
    return make_event("danmaku", room_id=1001, ts=1_700_000_000.25, uid=42, uname="小明", text="你好 world",
                      data={"medal": {"level": 21, "name": "粉丝"}, "masked": False}, raw={"cmd": "DANMU_MSG"},
                      cmd="DANMU_MSG")


def test_json_round_trip_is_exact():
    e = sample()
    text = e.to_json()
    assert json.loads(text)["v"] == SCHEMA_VERSION == 1
    assert list(json.loads(text)) == ["v", "id", "kind", "cmd", "room_id", "ts", "uid", "uname", "text", "data", "raw"]
    assert Event.from_json(text) == e
    assert Event.from_json(e.to_json_bytes()) == e
    assert "你好" in text  # UTF-8, not \\u escapes


def test_immutable_and_replace():
    e = sample()
    with pytest.raises(AttributeError):
        e.text = "x"  # type: ignore[misc]
    f = e.replace(text="changed")
    assert f.text == "changed" and e.text == "你好 world" and f.id == e.id


def test_ids_are_stable_and_content_based():
    a, b = sample(), sample()
    assert a.id == b.id and len(a.id) == 24
    assert make_id(1, "X", 1.0, {"a": 1, "b": 2}) == make_id(1, "X", 1.0, {"b": 2, "a": 1})  # key order ignored
    assert make_id(1, "X", 1.0, {"a": 1}) != make_id(2, "X", 1.0, {"a": 1})
    assert make_event("x", id="given", ts=1.0).id == "given"


def test_values_orjson_cannot_encode_still_serialize():
    big = make_event("danmaku", uid=2**70, ts=1.0)
    assert json.loads(big.to_json())["uid"] == 2**70
    odd = make_event("danmaku", text="bad \ud800 x", ts=1.0)  # a lone surrogate from odd input
    assert Event.from_json(odd.to_json_bytes()).text == odd.text
    assert odd.id == make_event("danmaku", text="bad \ud800 x", ts=1.0).id


def test_without_raw():
    assert json.loads(sample().to_json(include_raw=False))["raw"] is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1]", "an event must be a JSON object"),
        ('{"v": 2, "kind": "x"}', "unsupported event version v=2"),
        ('{"v": 1}', "needs a non-empty string 'kind'"),
        ('{"v": 1, "kind": "x", "data": 5}', "'data' must be an object"),
        ("{nope", "not valid JSON"),
    ],
)
def test_bad_input_is_a_clear_value_error(text, message):
    with pytest.raises(ValueError, match=message):
        Event.from_json(text)


def raw_message_event() -> Event:
    text = b'{"cmd":"DANMU_MSG","info":[[0,1,25],"\\u4f60\\u597d",[7,"x"]]}'  # as a server may escape it
    return make_event("danmaku", ts=1.0, raw=RawMessage.of(orjson.loads(text), text), cmd="DANMU_MSG")


def test_raw_message_is_written_as_received():
    e = raw_message_event()
    out = e.to_json_bytes()
    assert out.endswith(b',"raw":' + e.raw.json + b"}")  # the received text, not a re-encoding
    assert Event.from_json(out) == e.replace(raw=dict(e.raw))  # the same values as a plain dict
    assert json.loads(out)["raw"]["info"][1] == "你好"
    assert json.loads(e.to_json(include_raw=False))["raw"] is None


def test_raw_message_is_read_only_and_copies_keep_the_text():
    raw = raw_message_event().raw
    assert isinstance(raw, dict) and raw["cmd"] == "DANMU_MSG"
    for mutate in (lambda: raw.__setitem__("cmd", "X"), lambda: raw.pop("cmd"), lambda: raw.update(a=1),
                   lambda: raw.clear(), lambda: raw.setdefault("a", 1), lambda: raw.__delitem__("cmd")):
        with pytest.raises(TypeError, match="read-only"):
            mutate()
    assert raw["cmd"] == "DANMU_MSG" and len(raw) == 2
    for twin in (pickle.loads(pickle.dumps(raw)), copy.deepcopy(raw), copy.copy(raw)):
        assert type(twin) is RawMessage and twin == raw and twin.json == raw.json


def test_an_event_is_serialized_once_for_every_sink():
    e = sample()
    first = e.to_json_bytes()
    assert e.to_json_bytes() is first  # the second sink gets the same bytes object
    assert e.to_json_bytes(include_raw=False) is not first
    assert sample().to_json_bytes() == first  # an equal event built again encodes equally
    for i in range(JSON_MEMO_SIZE + 1):  # the memo is bounded: old entries go
        make_event("x", ts=float(i)).to_json_bytes()
    assert e.to_json_bytes() is not first and e.to_json_bytes() == first


def test_a_raw_message_without_its_text_serializes_as_a_dict():
    e = make_event("danmaku", ts=1.0, raw=RawMessage({"cmd": "X"}))  # built without .json: still valid JSON
    assert json.loads(e.to_json_bytes())["raw"] == {"cmd": "X"}


def test_a_lone_surrogate_in_cmd_still_gives_an_id():
    """Found by fuzz/run.py command: any str field of a message may hold a lone surrogate."""
    a = make_event("raw", cmd="room_admin\udd22", ts=1.0, raw={"cmd": "room_admin\udd22"})
    assert a.id == make_event("raw", cmd="room_admin\udd22", ts=1.0, raw={"cmd": "room_admin\udd22"}).id
    assert a.id != make_event("raw", cmd="room_admin\udd23", ts=1.0, raw={"cmd": "room_admin\udd22"}).id
    assert Event.from_json(a.to_json_bytes()).cmd == "room_admin\udd22"
