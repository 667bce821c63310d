"""room_reactions: once per change of state, templates in the configured time zone."""

from __future__ import annotations

import re

import pytest
import tomli_w

from livepipe import testing
from livepipe.config import ConfigError


def ev(kind: str, room: int = 7) -> dict:
    return {"kind": kind, "room_id": room, "data": {}}


def run(tmp_path, events, **options):
    doc = {
        "sources": {"src": {"type": "testing.events", "events": events}},
        "processors": {"react": {"type": "room_reactions", "inputs": ["src"], **options}},
        "sinks": {"out": {"type": "testing.capture", "inputs": ["react"]}},
    }
    testing.run_pipeline_sync(tomli_w.dumps(doc), tmp_path)
    return list(testing.captured["out"])


def test_live_twice_reacts_once_and_preparing_restores_the_announcement(tmp_path):
    out = run(tmp_path, [ev("live"), ev("live"), ev("danmaku"), ev("preparing"), ev("preparing"), ev("live", 8)],
              on_live={"title": "Live {{ weekday }} {{ date }}", "news": "On air now"},
              on_preparing={"news": "Next stream Friday 20:00"})
    assert [(e.room_id, e.data.get("news")) for e in out] == [
        (7, "On air now"), (7, "Next stream Friday 20:00"), (8, "On air now")]
    assert out[0].kind == "action.room_update" and out[0].data["rule"] == "room_reactions:on_live"
    assert re.fullmatch(r"Live (Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{4}-\d{2}-\d{2}", out[0].data["title"])
    assert "title" not in out[1].data


def test_rooms_filter_and_missing_side(tmp_path):
    out = run(tmp_path, [ev("live", 7), ev("live", 8), ev("preparing", 8), ev("live", 8)],
              on_live={"area_id": 86}, rooms=[8])
    # room 7 is filtered out; room 8 reacts on live, and again after a preparing (no on_preparing given)
    assert [(e.room_id, e.data["area_id"]) for e in out] == [(8, 86), (8, 86)]


@pytest.mark.parametrize("options,message", [
    ({}, "give on_live and/or on_preparing"),
    ({"on_live": {}}, "changes nothing"),
    ({"on_live": {"title": "{{ now|strftime('%A %B %d %Y') }} and some more words"}}, "at most 40"),
    ({"on_live": {"news": "{{ when }}"}}, "unknown name 'when'"),
    ({"on_live": {"title": "Live {weekday}"}}, r"templates are Jinja2 now: write \{\{ weekday \}\}"),
    ({"on_live": {"news": "x"}, "timezone": "Nowhere/Special"}, "unknown time zone"),
])
def test_config_errors(tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        run(tmp_path, [ev("live")], **options)
