import pytest
from component_helpers import Recorder, build, ev, metric
from pydantic import ValidationError

from livepipe.components.conditions import compile_path
from livepipe.components.filter import Filter

BASE = {"inputs": ["src"]}


async def run_filter(config, events):
    f = build(Filter, {**BASE, **config})
    rec = Recorder()
    await f.start()
    for e in events:
        await f.process(e, rec)
    await f.stop()
    return f, rec


def ids(rec):
    return [e.text for e in rec.events()]


@pytest.mark.anyio
async def test_kinds_cmds_rooms_and_discard_count():
    events = [
        ev("danmaku", text="a", cmd="DANMU_MSG", room_id=1),
        ev("gift", text="b", cmd="SEND_GIFT", room_id=1),
        ev("danmaku", text="c", cmd="DANMU_MSG", room_id=2),
        ev("action.ban", text="d", cmd=None, room_id=1),
    ]
    f, rec = await run_filter({"kinds": ["danmaku", "gift"], "room_ids": [1]}, events)
    assert ids(rec) == ["a", "b"]
    assert metric(f, "component_discarded_events_total", intentional="true") == 2
    _, rec = await run_filter({"kinds": ["action.*"]}, events)
    assert ids(rec) == ["d"]
    _, rec = await run_filter({"cmds": ["SEND_*"]}, events)
    assert ids(rec) == ["b"]


@pytest.mark.anyio
async def test_where_equals_regex_in_exists_min_max():
    events = [
        ev(text="buy followers now", uid=1, data={"medal": {"level": 21, "name": "x"}}),
        ev(text="hello", uid="2", data={"medal": {"level": "5"}}),
        ev(text="BUY cheap", uid=3, data={}),
        ev(text=None, uid=None, data={"medal": None}),
    ]
    _, rec = await run_filter({"where": [{"field": "text", "regex": "(?i)^buy"}]}, events)
    assert ids(rec) == ["buy followers now", "BUY cheap"]
    # in: numbers and numeric strings compare equal
    _, rec = await run_filter({"where": [{"field": "uid", "in": [2, 3]}]}, events)
    assert ids(rec) == ["hello", "BUY cheap"]
    _, rec = await run_filter({"where": [{"field": "uid", "equals": "1"}]}, events)
    assert ids(rec) == ["buy followers now"]
    _, rec = await run_filter({"where": [{"field": "data.medal.level", "min": 20}]}, events)
    assert ids(rec) == ["buy followers now"]
    _, rec = await run_filter({"where": [{"field": "data.medal.level", "max": 10}]}, events)
    assert ids(rec) == ["hello"]
    _, rec = await run_filter({"where": [{"field": "data.medal", "exists": False}]}, events)
    assert ids(rec) == ["BUY cheap", None]
    _, rec = await run_filter({"where": [{"field": "data.medal.name", "exists": True}]}, events)
    assert ids(rec) == ["buy followers now"]


@pytest.mark.anyio
async def test_all_conditions_must_hold_and_condition_negate():
    events = [ev(text="spam", uid=1), ev(text="spam", uid=2), ev(text="ok", uid=1)]
    cfg = {"where": [{"field": "text", "equals": "spam"}, {"field": "uid", "equals": 1, "negate": True}]}
    _, rec = await run_filter(cfg, events)
    assert [(e.text, e.uid) for e in rec.events()] == [("spam", 2)]


@pytest.mark.anyio
async def test_negate_inverts_the_whole_filter():
    events = [ev("danmaku", text="a"), ev("gift", text="b")]
    f, rec = await run_filter({"kinds": ["danmaku"], "negate": True}, events)
    assert ids(rec) == ["b"]
    assert metric(f, "component_discarded_events_total", intentional="true") == 1


@pytest.mark.anyio
async def test_empty_filter_passes_everything():
    _, rec = await run_filter({}, [ev(text="a"), ev("gift", text="b")])
    assert ids(rec) == ["a", "b"]


def test_paths():
    e = ev(data={"items": [{"n": 1}, {"n": 2}], "a": {"b": None}}, raw={"cmd": "X", "info": [0, "t"]})
    assert compile_path("data.items.1.n")(e) == 2
    assert compile_path("data.items.5.n")(e) is None
    assert compile_path("data.a.b.c")(e) is None
    assert compile_path("raw.info.1")(e) == "t"
    assert compile_path("room_id")(e) == 1001


@pytest.mark.parametrize(
    "where, message",
    [
        ({"field": "text", "regex": "("}, "does not compile"),
        ({"field": "nope", "equals": 1}, "must start with one of"),
        ({"field": "uid.x", "equals": 1}, "only 'data' and 'raw'"),
        ({"field": "data..x", "equals": 1}, "empty segment"),
        ({"field": "text"}, "needs at least one test"),
        ({"field": "text", "equal": 1}, "Extra inputs"),
    ],
)
def test_bad_conditions_are_validation_errors(where, message):
    with pytest.raises(ValidationError) as info:
        Filter.Config.model_validate({"type": "filter", **BASE, "where": [where]})
    assert message in str(info.value)
    assert "where.0" in str(info.value)


def test_unknown_key_rejected():
    with pytest.raises(ValidationError):
        Filter.Config.model_validate({"type": "filter", **BASE, "kind": ["danmaku"]})


def test_empty_lists_are_errors():
    for key in ("kinds", "cmds", "room_ids"):
        with pytest.raises(ValidationError) as info:
            Filter.Config.model_validate({"type": "filter", **BASE, key: []})
        assert f"{key} is empty" in str(info.value)
