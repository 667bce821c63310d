import pytest
from component_helpers import Recorder, build, ev
from pydantic import ValidationError

from livepipe.components.route import Route

ROUTES = {
    "gifts": {"kinds": ["gift", "guard"]},
    "fans": {"where": [{"field": "data.medal.level", "min": 20}]},
}


async def run_route(config, events):
    r = build(Route, {"inputs": ["src"], **config})
    rec = Recorder()
    for e in events:
        await r.process(e, rec)
    return r, rec


@pytest.mark.anyio
async def test_multi_match_and_unmatched():
    big_gift = ev("gift", text="g", data={"medal": {"level": 25}})
    chat = ev("danmaku", text="c", data={"medal": {"level": 3}})
    fan_chat = ev("danmaku", text="f", data={"medal": {"level": 30}})
    r, rec = await run_route({"routes": ROUTES}, [big_gift, chat, fan_chat])
    assert r.output_names() == ("gifts", "fans", "_unmatched")
    assert [(o, e.text) for o, e in rec.items] == [("gifts", "g"), ("fans", "g"), ("_unmatched", "c"), ("fans", "f")]
    assert rec.events(None) == []  # no default output


@pytest.mark.anyio
async def test_exclusive_first_match_wins():
    big_gift = ev("gift", text="g", data={"medal": {"level": 25}})
    _, rec = await run_route({"routes": ROUTES, "exclusive": True}, [big_gift])
    assert rec.outputs() == ["gifts"]


@pytest.mark.parametrize(
    "routes, message",
    [
        ({}, "at least one route"),
        ({"_x": {}}, "must start with a letter"),
        ({"a.b": {}}, "must start with a letter"),
        ({"dead_letter": {}}, "reserved"),
        ({"ok": {"where": [{"field": "text", "regex": "["}]}}, "does not compile"),
    ],
)
def test_bad_routes(routes, message):
    with pytest.raises(ValidationError) as info:
        Route.Config.model_validate({"type": "route", "inputs": ["a"], "routes": routes})
    assert message in str(info.value)
