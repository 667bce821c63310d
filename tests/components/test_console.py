import json

import pytest
from component_helpers import Recorder, build, ev

from livepipe.components.console import ConsoleSink

TS = 1_700_000_000.0  # 22:13:20 UTC


async def printed(capsys, config, events):
    s = build(ConsoleSink, {"inputs": ["a"], **config})
    for e in events:
        await s.write(e, Recorder())
    await s.flush()
    return capsys.readouterr().out.splitlines()


@pytest.mark.anyio
async def test_text_lines(capsys):
    lines = await printed(
        capsys,
        {"utc": True},
        [
            ev("danmaku", ts=TS, uid=123, uname="Alice", text="hello"),
            ev("danmaku", ts=TS + 1, uid=5, uname="Bob", text="two\nlines\x1b[31m"),
            ev("gift", ts=TS, uid=7, data={"gift_name": "heart", "num": 3, "medal": {"level": 1}}),
            ev("online_count", ts=TS, room_id=None, data={"count": 42}),
            ev("super_chat_delete", ts=TS, data={}),
        ],
    )
    assert lines == [
        "22:13:20 room 1001 danmaku  Alice(123): hello",
        "22:13:21 room 1001 danmaku  Bob(5): two lines [31m",
        "22:13:20 room 1001 gift     uid 7: gift_name=heart num=3",
        "22:13:20 room - online_count count=42",
        "22:13:20 room 1001 super_chat_delete",
    ]


@pytest.mark.anyio
async def test_local_time_by_default(capsys, monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        lines = await printed(capsys, {}, [ev(ts=TS, text="x")])
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert lines == ["06:13:20 room 1001 danmaku  x"]


@pytest.mark.anyio
async def test_json_lines(capsys):
    e = ev(text="hi", raw={"cmd": "DANMU_MSG"})
    lines = await printed(capsys, {"format": "json"}, [e])
    assert lines == [e.to_json(include_raw=False)]
    assert json.loads(lines[0])["raw"] is None
    lines = await printed(capsys, {"format": "json", "include_raw": True}, [e])
    assert json.loads(lines[0])["raw"] == {"cmd": "DANMU_MSG"}
