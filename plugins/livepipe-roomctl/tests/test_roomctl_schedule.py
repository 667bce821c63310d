"""The timetable: intervals, cron in time zones (DST), rotation, preview, config errors."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from livepipe_roomctl.schedule import ScheduleConfig, make_plans, preview
from livepipe_roomctl.timeutil import check_template, parse_interval, render, zone

from livepipe.config import ConfigError
from livepipe.testing import load_toml

SH = ZoneInfo("Asia/Shanghai")


def cfg(**kw) -> ScheduleConfig:
    return ScheduleConfig.model_validate({"type": "schedule", **kw})


def ts(*args, tz=SH) -> float:
    return datetime(*args, tzinfo=tz).timestamp()


@pytest.mark.parametrize("text,seconds", [(30, 30.0), (1.5, 1.5), ("90s", 90.0), ("15m", 900.0), ("2h", 7200.0),
                                          ("1d", 86400.0), ("1h30m", 5400.0), (" 1h 30m ", 5400.0)])
def test_intervals(text, seconds):
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("bad", ["", "5", "5x", "m5", "1h30", 0, -3, "0s", True])
def test_bad_intervals(bad):
    with pytest.raises(ValueError):
        parse_interval(bad)


def test_every_fires_from_the_start_and_rotates_the_news_list():
    c = cfg(room_id=7, entries=[{"every": 1, "news": ["a", "b", "c"]}])
    firings = preview(c, 1000.0, 5)
    assert [f.ts for f in firings] == [1001.0, 1002.0, 1003.0, 1004.0, 1005.0]
    assert [f.action.data["news"] for f in firings] == ["a", "b", "c", "a", "b"]
    assert all(f.action.kind == "action.room_update" and f.action.room_id == 7 for f in firings)
    assert firings[0].action.data["rule"] == "schedule:entry1"


def test_cron_is_read_in_the_source_time_zone():
    c = cfg(timezone="Asia/Shanghai",
            entries=[{"name": "evening", "cron": "0 20 * * *", "title": "Evening {{ date }}"}])
    (first, second) = preview(c, ts(2025, 9, 17, 12, 0), 2)
    assert first.ts == ts(2025, 9, 17, 20, 0) and second.ts == ts(2025, 9, 18, 20, 0)
    assert first.action.data["title"] == "Evening 2025-09-17"
    c_utc = cfg(timezone="UTC", entries=[{"cron": "0 20 * * *", "title": "x"}])
    assert preview(c_utc, ts(2025, 9, 17, 12, 0), 1)[0].ts == ts(2025, 9, 17, 20, 0, tz=zone("UTC"))


def test_weekday_ranges_and_seconds_field():
    c = cfg(entries=[{"cron": "0 20 * * 1-5", "title": "weekday show"}])
    days = [datetime.fromtimestamp(f.ts, SH).strftime("%a") for f in preview(c, ts(2025, 9, 19, 21, 0), 5)]
    assert days == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    c6 = cfg(entries=[{"cron": "* * * * * */10", "news": "n"}])
    assert [f.ts - ts(2025, 1, 1, 0, 0) for f in preview(c6, ts(2025, 1, 1, 0, 0), 3)] == [10.0, 20.0, 30.0]


def test_daylight_saving_time():
    ber = ZoneInfo("Europe/Berlin")
    c = cfg(timezone="Europe/Berlin", entries=[{"cron": "30 2 * * *", "news": "n"}])
    # spring forward (2024-03-31): 02:30 does not exist that day; the entry fires once (at 03:00)
    spring = [datetime.fromtimestamp(f.ts, ber) for f in preview(c, ts(2024, 3, 30, 12, 0, tz=ber), 3)]
    assert [d.day for d in spring] == [31, 1, 2]
    # fall back (2024-10-27): 02:30 happens twice; a daily entry still fires once that day
    fall = [datetime.fromtimestamp(f.ts, ber) for f in preview(c, ts(2024, 10, 26, 12, 0, tz=ber), 3)]
    assert [(d.day, d.hour, d.minute) for d in fall][0] == (27, 2, 30)
    assert [d.day for d in fall] == [27, 28, 29]
    # an hourly entry runs on through the repeated hour (every real hour fires)
    hourly = cfg(timezone="Europe/Berlin", entries=[{"cron": "0 * * * *", "news": "n"}])
    f = preview(hourly, ts(2024, 10, 27, 1, 30, tz=ber), 3)
    assert [b.ts - a.ts for a, b in zip(f, f[1:], strict=False)] == [3600.0, 3600.0]


def test_entries_merge_in_time_order_and_start_uses_the_source_area():
    c = cfg(room_id=9, area_id=86, entries=[
        {"name": "on", "cron": "0 20 * * *", "start": True},
        {"name": "off", "cron": "0 22 * * *", "stop": True},
        {"name": "title", "cron": "0 20 * * *", "title": "Live!"},
    ])
    f = preview(c, ts(2025, 9, 17, 12, 0), 4)
    assert [x.entry for x in f] == ["on", "title", "off", "on"]
    assert f[0].action.data == {"area_id": 86, "start": True, "rule": "schedule:on"}
    assert f[2].action.data == {"stop": True, "rule": "schedule:off"}
    assert "start live" in f[0].describe(SH) and "2025-09-17 20:00:00 CST" in f[0].describe(SH)


def test_same_firing_same_action_id():
    c = cfg(room_id=1, entries=[{"every": "1m", "news": "x"}])
    a = preview(c, 0.0, 2)
    b = preview(c, 0.0, 2)
    assert [x.action.id for x in a] == [x.action.id for x in b]
    assert a[0].action.id != a[1].action.id


def test_missed_firings_are_skipped_once():
    c = cfg(entries=[{"every": 10, "news": ["a", "b"]}])
    (plan,) = make_plans(c, 0.0)
    firing, skipped = plan.fire(now=55.0)  # asleep from 10 to 55: fire once, skip 20..50
    assert (firing.ts, skipped, plan.next) == (10.0, 4, 60.0)
    (plan,) = make_plans(c, 0.0)
    _, skipped = plan.fire(now=55.0, skip_missed=False)
    assert (skipped, plan.next) == (0, 20.0)


@pytest.mark.parametrize("entry,message", [
    ({"news": "x"}, "exactly one of cron"),
    ({"cron": "0 20 * *", "news": "x"}, "not a valid cron"),
    ({"cron": "0 25 * * *", "news": "x"}, "not a valid cron"),
    ({"cron": "0 20 * * *", "every": 5, "news": "x"}, "exactly one of cron"),
    ({"every": "soon", "news": "x"}, "cannot read interval"),
    ({"every": 5}, "changes nothing"),
    ({"every": 5, "title": "x" * 41}, "at most 40"),
    ({"every": 5, "news": ["ok", "y" * 61]}, "at most 60"),
    ({"every": 5, "title": "{{ nope }}"}, "unknown name 'nope'"),
    ({"every": 5, "title": "{date}"}, "write {{ date }}"),
    ({"every": 5, "start": True, "stop": True}, "start and stop"),
    ({"every": 5, "start": True}, "no area is set"),
    ({"every": 5, "news": []}, "at least one item"),
    ({"every": 5, "news": "x", "colour": 1}, "unknown key"),
])
def test_config_errors_name_the_problem(tmp_path, entry, message):
    import tomli_w

    doc = {"sources": {"s": {"type": "schedule", "entries": [entry]}},
           "sinks": {"out": {"type": "testing.capture", "inputs": ["s"]}}}
    with pytest.raises(ConfigError) as e:
        load_toml(tomli_w.dumps(doc), tmp_path)
    assert message in str(e.value)
    assert "sources.s" in str(e.value)


def test_bad_time_zone(tmp_path):
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        cfg(timezone="Mars/Olympus", entries=[{"every": 5, "news": "x"}])


def test_templates():
    t = ts(2025, 9, 17, 20, 5)
    assert render('{{ weekday }} {{ date }} {{ time }} #{{ room_id }} {{ now|strftime("%m/%d") }}', t, SH, 76) \
        == "Wed 2025-09-17 20:05 #76 09/17"
    assert render("{literal} braces", t, SH) == "{literal} braces"  # single braces are plain text now
    with pytest.raises(ValueError, match="can be 41 characters"):
        check_template("{{ now|strftime('%A %B') }}" + "x" * 22, 40, "title")  # "Wednesday September" + 22
    with pytest.raises(ValueError, match="has no attribute 'yaer'"):
        check_template("{{ now.yaer }}", 40)
    with pytest.raises(ValueError, match="unknown name 'dat' \\(did you mean 'date'\\?\\)"):
        check_template("{{ dat }}", 40)
    with pytest.raises(ValueError, match="template line 2"):
        check_template("ok\n{% if %}", 40)


@pytest.mark.parametrize(("old", "new"), [
    ("Evening {date}", "Evening {{ date }}"),
    ("{weekday} {time}", "{{ weekday }} {{ time }}"),
    ("深夜 {now:%m月%d日}", '深夜 {{ now|strftime("%m月%d日") }}'),
    ("#{room_id}", "#{{ room_id }}"),
])
def test_old_style_templates_say_how_to_write_them_now(old, new):
    with pytest.raises(ValueError, match="old template style") as info:
        check_template(old, 40, "title")
    assert f"(that is {new!r})" in str(info.value)
    check_template(new, 40, "title")  # the suggestion is valid


def test_danmaku_entries():
    c = cfg(room_id=7, entries=[{"every": 60, "danmaku": ["关注主播", "{{ time }} 点歌请发弹幕"]}])
    firings = preview(c, ts(2025, 9, 17, 20, 0), 3)
    assert [f.action.kind for f in firings] == ["action.send"] * 3
    assert [f.action.data["text"] for f in firings] == ["关注主播", "20:02 点歌请发弹幕", "关注主播"]
    assert firings[0].action.room_id == 7 and firings[0].action.data["rule"] == "schedule:entry1"
    assert firings[0].describe(SH).endswith("entry1 room 7: danmaku='关注主播' (if live)")
    with pytest.raises(ValueError, match="an entry of its own"):
        cfg(room_id=7, entries=[{"every": 60, "danmaku": "x", "news": "y"}])
    with pytest.raises(ValueError, match="no room is set"):
        cfg(entries=[{"every": 60, "danmaku": "x"}])
    with pytest.raises(ValueError, match="old template style"):
        cfg(room_id=7, entries=[{"every": 60, "danmaku": "{time} 点歌"}])
