import gzip
import json
import logging
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from component_helpers import build, ev, metric
from pydantic import ValidationError

from livepipe import hookimpl, plugins
from livepipe.clock import ManualClock
from livepipe.components.replay import Replay
from livepipe.components.replay_formats import ReplayFormat, replay_formats
from livepipe.events import make_event


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


async def collect(src, limit=None):
    got = []
    with anyio.CancelScope() as scope:

        async def emit(event, output=None):
            assert output is None
            got.append(event)
            if limit is not None and len(got) >= limit:
                scope.cancel()
            await anyio.lowlevel.checkpoint()  # like a real edge's send

        await src.start()
        await src.run(emit)
    await src.stop()
    return got


async def settle(predicate, rounds=200):
    for _ in range(rounds):
        if predicate():
            return
        await anyio.sleep(0)
    raise AssertionError("condition not reached")


@pytest.mark.anyio
async def test_events_and_bad_lines(tmp_path, caplog):
    events = [ev(text="a", ts=1.0), ev("gift", text="b", ts=2.0, data={"n": 1}), ev(text="c", ts=3.0)]
    p = write_lines(
        tmp_path / "rec.jsonl",
        [
            events[0].to_json(),
            "{not json",
            "",
            events[1].to_json(),
            "[1, 2]",
            '{"v": 1, "id": "x"}',
            '{"v": 99, "kind": "danmaku"}',
            events[2].to_json(),
        ],
    )
    src = build(Replay, {"path": "rec.jsonl"}, config_dir=tmp_path)
    with caplog.at_level(logging.WARNING):
        got = await collect(src)
    assert got == events
    assert metric(src, "component_errors_total", error_type="invalid_line") == 4
    msgs = [r.getMessage() for r in caplog.records]
    assert any(m.startswith(f"{p}:2: not valid JSON") for m in msgs)
    assert any(m.startswith(f"{p}:5: expected a JSON object") for m in msgs)
    assert any(m.startswith(f"{p}:6: neither an event") for m in msgs)
    assert any(m.startswith(f"{p}:7: not a valid event: unsupported event version") for m in msgs)


@pytest.mark.anyio
async def test_gzip(tmp_path):
    e = ev(text="zipped")
    with gzip.open(tmp_path / "rec.jsonl.gz", "wt") as fh:
        fh.write(e.to_json() + "\n")
    assert await collect(build(Replay, {"path": str(tmp_path / "rec.jsonl.gz")})) == [e]


@pytest.mark.anyio
async def test_missing_file_fails_at_start(tmp_path):
    src = build(Replay, {"path": "nope.jsonl"}, config_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        await src.start()


@pytest.mark.anyio
@pytest.mark.parametrize("speed, first_gap, second_gap", [(1, 10.0, 5.0), (2, 5.0, 2.5), (0.5, 20.0, 10.0)])
async def test_speed_reproduces_gaps_on_the_clock(tmp_path, speed, first_gap, second_gap):
    events = [ev(text="a", ts=100.0), ev(text="b", ts=110.0), ev(text="c", ts=115.0), ev(text="d", ts=90.0)]
    write_lines(tmp_path / "rec.jsonl", [e.to_json() for e in events])
    clock = ManualClock()
    src = build(Replay, {"path": "rec.jsonl", "speed": speed}, clock=clock, config_dir=tmp_path)
    got = []

    async def emit(event, output=None):
        got.append(event.text)

    async with anyio.create_task_group() as tg:
        await src.start()
        tg.start_soon(src.run, emit)
        await settle(lambda: got == ["a"] and clock._waiters)
        await clock.advance(first_gap - 0.01)
        assert got == ["a"]
        await clock.advance(0.01)
        await settle(lambda: got == ["a", "b"] and clock._waiters)
        await clock.advance(second_gap - 0.01)
        assert got == ["a", "b"]
        await clock.advance(0.01)
        # d goes back in time: emitted at once after c
        await settle(lambda: got == ["a", "b", "c", "d"])


@pytest.mark.anyio
async def test_speed_zero_never_sleeps(tmp_path):
    events = [ev(text=str(i), ts=1000.0 * i) for i in range(5)]
    write_lines(tmp_path / "rec.jsonl", [e.to_json() for e in events])
    # ManualClock.sleep would block forever: finishing proves no sleep happened
    got = await collect(build(Replay, {"path": "rec.jsonl"}, config_dir=tmp_path))
    assert [e.text for e in got] == ["0", "1", "2", "3", "4"]


@pytest.mark.anyio
async def test_loop(tmp_path):
    events = [ev(text="a"), ev(text="b")]
    write_lines(tmp_path / "rec.jsonl", [e.to_json() for e in events])
    got = await collect(build(Replay, {"path": "rec.jsonl", "loop": True}, config_dir=tmp_path), limit=5)
    assert [e.text for e in got] == ["a", "b", "a", "b", "a"]


@pytest.mark.anyio
async def test_loop_over_a_file_without_events_stops(tmp_path):
    write_lines(tmp_path / "rec.jsonl", ["", "{bad"])
    assert await collect(build(Replay, {"path": "rec.jsonl", "loop": True}, config_dir=tmp_path)) == []


@pytest.fixture
def fake_format():
    """A replay format ``fake`` registered by a plugin: lines with a ``cmd``, like raw Bilibili messages."""
    calls = []

    def parse(message, room_id):
        calls.append((message["cmd"], room_id))
        if message["cmd"] == "DANMU_MSG":
            return make_event("danmaku", cmd="DANMU_MSG", room_id=room_id, ts=1.0, text=message["info"][1])
        if message["cmd"] == "TWO":
            return [make_event("raw", cmd="TWO", room_id=room_id, ts=1.0, text=str(i)) for i in range(2)]
        if message["cmd"] == "BOOM":
            raise KeyError("info")
        if message["cmd"] == "ODD":
            return "not events"
        return None

    class FakePlugin:
        @hookimpl(tryfirst=True)  # called before the built-in bilibili format, so `auto` picks it for cmd lines
        def livepipe_replay_formats(self):
            return [ReplayFormat("fake", parse, "cmd lines, parsed by the test", detect=lambda obj: "cmd" in obj,
                                 needs_room_id=True)]

    plugins.manager().register(FakePlugin(), name="test-replay-fake-format")
    try:
        yield calls
    finally:
        plugins.manager().unregister(name="test-replay-fake-format")


@pytest.mark.anyio
async def test_lines_of_a_plugin_format(tmp_path, fake_format, caplog):
    event = ev(text="already an event")
    write_lines(
        tmp_path / "raw.jsonl",
        [
            json.dumps({"cmd": "DANMU_MSG", "info": [[], "hi"]}),
            json.dumps({"cmd": "IGNORED"}),
            json.dumps({"cmd": "TWO"}),
            json.dumps({"cmd": "BOOM"}),
            event.to_json(),
            json.dumps({"cmd": "ODD"}),
        ],
    )
    src = build(Replay, {"path": "raw.jsonl", "room_id": 42}, config_dir=tmp_path)
    with caplog.at_level(logging.WARNING):
        got = await collect(src)
    assert [(e.kind, e.room_id, e.text) for e in got] == [
        ("danmaku", 42, "hi"),
        ("raw", 42, "0"),
        ("raw", 42, "1"),
        ("danmaku", 1001, "already an event"),
    ]
    assert fake_format == [("DANMU_MSG", 42), ("IGNORED", 42), ("TWO", 42), ("BOOM", 42), ("ODD", 42)]
    msgs = [r.getMessage() for r in caplog.records]
    assert any(":4: cannot parse this fake line (KeyError" in m for m in msgs)
    assert any(":6: the format's parser returned str, not events" in m for m in msgs)
    assert metric(src, "replay_bad_lines_total", reason="bad_message") == 2

    # format = "events" treats the other lines as bad events; auto without room_id reports the missing room_id
    src = build(Replay, {"path": "raw.jsonl", "format": "events"}, config_dir=tmp_path)
    assert await collect(src) == [event]
    assert metric(src, "component_errors_total", error_type="invalid_line") == 5
    src = build(Replay, {"path": "raw.jsonl"}, config_dir=tmp_path)
    with caplog.at_level(logging.WARNING):
        assert await collect(src) == [event]
    assert any("format 'fake' (no room id of its own), but no room_id is configured" in r.getMessage()
               for r in caplog.records)

    # named, the format gets every line, the event's too (its cmd is null: the fake parser gives nothing)
    fake_format.clear()
    src = build(Replay, {"path": "raw.jsonl", "format": "fake", "room_id": 7}, config_dir=tmp_path)
    assert [e.text for e in await collect(src)] == ["hi", "0", "1"]
    assert [cmd for cmd, _ in fake_format] == ["DANMU_MSG", "IGNORED", "TWO", "BOOM", None, "ODD"]
    assert metric(src, "replay_bad_lines_total", reason="bad_message") == 2
    with pytest.raises(ValidationError, match='room_id is required when format = "fake"'):
        Replay.Config.model_validate({"type": "replay", "path": "x", "format": "fake"})


def test_unknown_format_names_the_closest_and_lists_the_known():
    with pytest.raises(ValidationError) as info:
        Replay.Config.model_validate({"type": "replay", "path": "x", "format": "bilibli"})
    msg = str(info.value)
    assert "unknown replay format 'bilibli'; did you mean 'bilibili'?" in msg
    assert "known formats: auto, events, bilibili" in msg


def test_the_built_in_formats_come_from_their_layers():
    formats = replay_formats()
    assert list(formats)[:2] == ["events", "bilibili"]
    from livepipe.bilibili.commands import parse_command

    assert formats["bilibili"].parse is parse_command and formats["bilibili"].needs_room_id


def test_bilibili_format_needs_room_id():
    with pytest.raises(ValidationError, match="room_id is required"):
        Replay.Config.model_validate({"type": "replay", "path": "x", "format": "bilibili"})
    with pytest.raises(ValidationError):
        Replay.Config.model_validate({"type": "replay", "path": "x", "speed": -1})


@pytest.mark.anyio
async def test_raw_lines_through_the_real_parser(tmp_path):
    fixtures = Path(__file__).parent.parent / "fixtures" / "bilibili"
    messages = [json.loads((fixtures / name).read_text(encoding="utf-8")) for name in ("danmu_msg.json",)]
    messages.append({"cmd": "SOMETHING_NEW", "data": {"x": 1}})
    write_lines(tmp_path / "raw.jsonl", [json.dumps(m, ensure_ascii=False) for m in messages])
    src = build(Replay, {"path": "raw.jsonl", "format": "bilibili", "room_id": 1001}, config_dir=tmp_path)
    got = await collect(src)
    assert [(e.kind, e.room_id) for e in got] == [("danmaku", 1001), ("raw", 1001)]
    assert got[0].cmd == "DANMU_MSG" and got[0].text
    assert metric(src, "component_errors_total") == 0


@pytest.mark.anyio
async def test_reads_lazily_line_by_line(tmp_path, monkeypatch):
    events = [ev(text=str(i)) for i in range(50)]
    read = []

    class Lines:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def __iter__(self):
            for e in events:
                read.append(e)
                yield (e.to_json() + "\n").encode()

    (tmp_path / "rec.jsonl").write_text("")
    src = build(Replay, {"path": "rec.jsonl"}, config_dir=tmp_path)
    monkeypatch.setattr(src, "_open", Lines)
    seen = []

    async def emit(event, output=None):
        seen.append(event)
        assert len(read) == len(seen)  # never more than one line ahead of what was emitted

    await src.start()
    await src.run(emit)
    assert seen == events


@pytest.mark.anyio
async def test_truncated_gzip_keeps_what_it_could_read(tmp_path, caplog):
    events = [ev(text=f"{i} " + "x" * 2000) for i in range(200)]
    data = gzip.compress("".join(e.to_json() + "\n" for e in events).encode())
    (tmp_path / "rec.jsonl.gz").write_bytes(data[: len(data) // 2])
    src = build(Replay, {"path": "rec.jsonl.gz"}, config_dir=tmp_path)
    with caplog.at_level(logging.WARNING):
        got = await collect(src)
    assert 0 < len(got) < len(events)
    assert got == events[: len(got)]
    assert metric(src, "component_errors_total", error_type="invalid_line") >= 1
    assert any("truncated or corrupt" in r.getMessage() for r in caplog.records)
