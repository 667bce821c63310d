import pytest
from component_helpers import Recorder, build, ev, metric
from pydantic import ValidationError

from livepipe.clock import ManualClock
from livepipe.components.dedupe import Dedupe
from livepipe.components.throttle import Throttle


@pytest.mark.anyio
async def test_throttle_global_sliding_window():
    clock = ManualClock()
    t = build(Throttle, {"inputs": ["a"], "threshold": 2, "window": 10}, clock=clock)
    rec = Recorder()
    for i in range(3):
        await t.process(ev(text=str(i)), rec)  # t=0: 0, 1 pass; 2 dropped
    await clock.advance(5)
    await t.process(ev(text="3"), rec)  # t=5: still 2 in window -> dropped
    await clock.advance(5)
    await t.process(ev(text="4"), rec)  # t=10: the t=0 passes left the window -> passes
    await t.process(ev(text="5"), rec)  # passes (2 in window: 4, 5)
    await t.process(ev(text="6"), rec)  # dropped
    assert [e.text for e in rec.events()] == ["0", "1", "4", "5"]
    assert metric(t, "component_discarded_events_total", intentional="true") == 3
    assert metric(t, "throttled_events_total") == 3


@pytest.mark.anyio
async def test_throttle_per_key_and_reroute():
    clock = ManualClock()
    t = build(
        Throttle,
        {"inputs": ["a"], "threshold": 1, "window": 1.5, "key_field": "data.medal.room_id", "reroute_dropped": True},
        clock=clock,
    )
    assert t.output_names() == ("dropped",)
    rec = Recorder()
    await t.process(ev(text="a1", data={"medal": {"room_id": 1}}), rec)
    await t.process(ev(text="b1", data={"medal": {"room_id": "2"}}), rec)
    await t.process(ev(text="a2", data={"medal": {"room_id": "1"}}), rec)  # same key (numeric string)
    await t.process(ev(text="n1", data={}), rec)
    await t.process(ev(text="n2", data={}), rec)  # absent keys share one bucket
    await clock.advance(1.5)
    await t.process(ev(text="a3", data={"medal": {"room_id": 1}}), rec)
    assert [(o, e.text) for o, e in rec.items] == [
        (None, "a1"),
        (None, "b1"),
        ("dropped", "a2"),
        (None, "n1"),
        ("dropped", "n2"),
        (None, "a3"),
    ]
    assert metric(t, "component_discarded_events_total") == 0


@pytest.mark.anyio
async def test_throttle_memory_is_bounded():
    clock = ManualClock()
    t = build(Throttle, {"inputs": ["a"], "threshold": 1, "window": 10, "key_field": "uid", "max_keys": 3}, clock=clock)
    rec = Recorder()
    for uid in range(10):
        await t.process(ev(uid=uid), rec)
    assert len(t._log) == 3
    await clock.advance(11)
    await t.process(ev(uid=99), rec)
    assert list(t._log) == [("n", 99)]  # expired keys were swept


def test_throttle_validation():
    with pytest.raises(ValidationError, match="key_field"):
        Throttle.Config.model_validate(
            {"type": "throttle", "inputs": ["a"], "threshold": 1, "window": 1, "key_field": "user"}
        )
    with pytest.raises(ValidationError, match="window"):
        Throttle.Config.model_validate({"type": "throttle", "inputs": ["a"], "threshold": 1, "window": 0})


@pytest.mark.anyio
async def test_dedupe_by_id_with_window():
    clock = ManualClock()
    d = build(Dedupe, {"inputs": ["a"], "window": 60}, clock=clock)
    rec = Recorder()
    a, b = ev(id="A", text="a"), ev(id="B", text="b")
    for e in (a, b, a):
        await d.process(e, rec)
    await clock.advance(59)
    await d.process(a, rec)  # still within 60 s of the first a
    await clock.advance(1)
    await d.process(a, rec)  # window over (duplicates do not extend it)
    assert [e.text for e in rec.events()] == ["a", "b", "a"]
    assert metric(d, "component_discarded_events_total", intentional="true") == 2


@pytest.mark.anyio
async def test_dedupe_by_fields_and_cache_size():
    d = build(Dedupe, {"inputs": ["a"], "fields": ["uid", "text"], "cache_size": 2})
    rec = Recorder()
    seq = [(1, "hi"), (1, "hi"), ("1", "hi"), (2, "hi"), (1, "yo"), (1, "hi"), (None, None), (None, None)]
    for uid, text in seq:
        await d.process(ev(uid=uid, text=text), rec)
    # (1,hi) evicted by the time it comes back (cache holds 2 keys); all-absent keys are never dropped
    assert [(e.uid, e.text) for e in rec.events()] == [
        (1, "hi"),
        (2, "hi"),
        (1, "yo"),
        (1, "hi"),
        (None, None),
        (None, None),
    ]
    assert len(d._seen) == 2


def test_dedupe_validation():
    with pytest.raises(ValidationError, match="at least one field"):
        Dedupe.Config.model_validate({"type": "dedupe", "inputs": ["a"], "fields": []})
    with pytest.raises(ValidationError, match="must start with one of"):
        Dedupe.Config.model_validate({"type": "dedupe", "inputs": ["a"], "fields": ["medal"]})


@pytest.mark.anyio
async def test_throttle_window_slides_rather_than_resets():
    clock = ManualClock()
    t = build(Throttle, {"inputs": ["a"], "threshold": 2, "window": 10}, clock=clock)
    rec = Recorder()
    await t.process(ev(text="t0"), rec)
    await clock.advance(9)
    await t.process(ev(text="t9"), rec)
    await clock.advance(2)
    await t.process(ev(text="t11"), rec)  # t0 left the window: 1 in window -> passes
    await clock.advance(1)
    await t.process(ev(text="t12"), rec)  # t9 and t11 in the window -> dropped (a fixed window would pass it)
    assert [e.text for e in rec.events()] == ["t0", "t9", "t11"]
