"""Typed views (``ev.danmaku.text``, ``ev.gift.price``): every field reads the documented ``data`` key of
events the Bilibili parser makes from every fixture; the wrong kind raises a clear error; the event and
its JSON form are unchanged by reading views."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from livepipe import views
from livepipe.bilibili.commands import parse_command
from livepipe.events import _FIELDS, Event, make_event

FIXTURES = Path(__file__).parent / "fixtures" / "bilibili"

#: view property of Event -> (view class, kinds it serves)
PROPERTIES = {
    "danmaku": views.Danmaku, "gift": views.Gift, "gift_combo": views.GiftCombo, "super_chat": views.SuperChat,
    "guard": views.Guard, "enter": views.UserAction, "follow": views.UserAction, "share": views.UserAction,
    "like": views.UserAction, "block": views.Block, "silent": views.Silent, "room_change": views.RoomChange,
    "live": views.Live, "online_count": views.OnlineCount, "watched": views.Watched,
    "like_count": views.LikeCount, "popularity": views.Popularity, "dead_letter": views.DeadLetter,
}

#: fields whose name differs from the data key they read
RENAMED = {
    (views.Gift, "name"): "gift_name", (views.GiftCombo, "name"): "gift_name",
    (views.GiftCombo, "total_coin"): "combo_total_coin", (views.Guard, "level"): "guard_level",
    (views.Gift, "items"): "gifts", (views.Popularity, "value"): "popularity", (views.Watched, "text"): "text_large",
}
#: fields read from the event itself, not from data
FROM_EVENT = {"uid", "uname", "text"}


def _fixture_events() -> list[Event]:
    out = []
    for p in sorted(FIXTURES.glob("*.json")):
        msg = json.loads(p.read_text(encoding="utf-8"))
        for m in msg if isinstance(msg, list) else [msg]:
            out.append(parse_command(m, 1001))
    return out


EVENTS = _fixture_events()
VIEWED = [ev for ev in EVENTS if ev.kind in PROPERTIES]


def test_the_fixtures_cover_most_viewed_kinds():
    covered = {ev.kind for ev in VIEWED}
    # dead_letter and popularity are not Bilibili cmds; the rest must come from real-shaped messages
    assert set(PROPERTIES) - covered <= {"dead_letter", "popularity"}, set(PROPERTIES) - covered


def _expected(ev: Event, cls: type, name: str):
    if name in FROM_EVENT and cls is not views.Watched:
        value = getattr(ev, name)
        return (value or "") if name == "text" and cls in (views.Danmaku, views.SuperChat) else value
    return ev.data.get(RENAMED.get((cls, name), name))


@pytest.mark.parametrize("ev", VIEWED, ids=[f"{e.cmd}-{e.kind}-{i}" for i, e in enumerate(VIEWED)])
def test_every_field_of_the_view_reads_its_data_key(ev):
    view = getattr(ev, ev.kind)
    cls = PROPERTIES[ev.kind]
    assert type(view) is cls
    for f in dataclasses.fields(cls):
        got = getattr(view, f.name)
        want = _expected(ev, cls, f.name)
        if f.name == "medal":
            if want is None:
                assert got is None
            else:
                assert isinstance(got, views.Medal)
                assert dataclasses.asdict(got) == {k: want.get(k) for k in dataclasses.asdict(got)}
        elif f.name == "items":
            assert [dataclasses.astuple(i) for i in got] == [
                (g["gift_id"], g["gift_name"], g["num"], g["price"], g["total_coin"], g["coin_type"]) for g in want
            ]
        elif f.name == "text" and cls is views.Watched:
            assert got == (ev.data.get("text_large") or ev.data.get("text_small"))
        elif want is None and f.type in ("int", "bool"):
            assert got in (0, False), (f.name, got)
        else:
            assert got == want, (cls.__name__, f.name, got, want)


@pytest.mark.parametrize("cls", sorted(set(PROPERTIES.values()) - {views.DeadLetter, views.Popularity},
                                       key=lambda c: c.__name__))
def test_every_field_names_a_key_some_real_message_has(cls):
    """A field reading a misspelt key would be None for ever; each must be present in some fixture's data."""
    kinds = [k for k, c in PROPERTIES.items() if c is cls]
    data_keys = set().union(*(ev.data for ev in VIEWED if ev.kind in kinds))
    missing = [f.name for f in dataclasses.fields(cls)
               if f.name not in FROM_EVENT and RENAMED.get((cls, f.name), f.name) not in data_keys]
    assert not missing, f"{cls.__name__} fields with no data key in any fixture: {missing}"


def test_typed_accessors_on_the_common_kinds():
    dm = next(ev for ev in VIEWED if ev.kind == "danmaku" and ev.data.get("medal"))
    assert dm.danmaku.text == dm.text and dm.danmaku.medal.level == dm.data["medal"]["level"]
    gift = next(ev for ev in VIEWED if ev.kind == "gift")
    g = gift.gift
    assert (g.name, g.num, g.price) == (gift.data["gift_name"], gift.data["num"], gift.data["price"])
    assert g.paid == (gift.data["coin_type"] == "gold")
    assert g.yuan == (g.total_coin / 1000 if g.paid else 0.0)
    sc = next(ev for ev in VIEWED if ev.kind == "super_chat")
    assert (sc.super_chat.price, sc.super_chat.text) == (sc.data["price"], sc.text)
    guard = next(ev for ev in VIEWED if ev.kind == "guard")
    assert guard.guard.level in (1, 2, 3)
    assert guard.guard.level_name == {1: "governor", 2: "admiral", 3: "captain"}[guard.guard.level]


@pytest.mark.parametrize("prop", sorted(PROPERTIES))
def test_the_wrong_kind_raises_naming_both_kinds(prop):
    others = [ev for ev in EVENTS if ev.kind != prop] + [make_event("action.ban", uid=1)]
    assert len(others) > 40
    for ev in others:
        with pytest.raises(views.WrongKind) as info:
            getattr(ev, prop)
        assert str(info.value).startswith(f"event kind is {ev.kind!r}, not {prop!r}")
        assert isinstance(info.value, AttributeError)
        assert getattr(ev, prop, None) is None  # so hasattr / getattr with a default work


def test_views_of_hand_made_events_have_defaults_not_errors():
    assert make_event("gift").gift == views.Gift(None, None, 0, 0, 0, None, None, None, None, None, 0, (), None, False)
    d = make_event("danmaku", uid=5, uname="a", text="hi").danmaku
    assert (d.text, d.uid, d.uname, d.medal, d.is_admin, d.guard_level) == ("hi", 5, "a", None, False, 0)
    assert make_event("danmaku").danmaku.text == ""
    # a malformed medal (level 0, not a dict) is no medal
    assert make_event("danmaku", data={"medal": {"level": 0}}).danmaku.medal is None
    assert make_event("danmaku", data={"medal": [1, 2]}).danmaku.medal is None


def test_views_are_frozen():
    v = make_event("danmaku", text="x").danmaku
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.text = "y"  # type: ignore[misc]


def test_reading_views_leaves_the_event_and_its_json_unchanged():
    for ev in EVENTS:
        before = ev.to_json_bytes()
        as_dict = ev.to_dict()
        for prop in PROPERTIES:
            getattr(ev, prop, None)
        assert Event.from_json(before) == ev
        assert ev.to_dict() == as_dict
        assert list(as_dict) == ["v", *_FIELDS]


def test_dead_letter_view_reads_what_the_runtime_writes():
    failed = make_event("danmaku", text="boom")
    dl = make_event("dead_letter", data={"component": "p", "component_type": "python", "error_type": "KeyError",
                                         "error": "'x'", "traceback": "Traceback ...", "event": failed.to_dict()})
    v = dl.dead_letter
    assert (v.component, v.component_type, v.error_type, v.traceback) == ("p", "python", "KeyError", "Traceback ...")
    assert Event.from_dict(v.event) == failed
