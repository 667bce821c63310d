"""chat_commands without a simulator: parsing, who may command, replies, outputs."""

from __future__ import annotations

from typing import Any

import pytest
import tomli_w
from livepipe_roomctl.commands import CommandError, parse, split_command

from livepipe import testing

STREAMER, MOD, ADMIN, VIEWER = 100, 200, 300, 400


def danmaku(text: str, uid: int | None, **data: Any) -> dict[str, Any]:
    return {"kind": "danmaku", "room_id": 7, "uid": uid, "uname": f"u{uid}", "text": text, "data": data}


def admins(action: str, uids: list[int]) -> dict[str, Any]:
    return {"kind": "admins", "room_id": 7, "data": {"action": action, "uids": uids}}


def run(tmp_path, events: list[dict[str, Any]], **options: Any) -> dict[str, list]:
    doc = {
        "sources": {"src": {"type": "testing.events", "events": events}},
        "processors": {"cmd": {"type": "chat_commands", "inputs": ["src"], "streamer_uid": STREAMER,
                               "moderators": [MOD], "language": "en", **options}},
        "sinks": {n: {"type": "testing.capture", "inputs": [f"cmd.{n}"]} for n in ("update", "ban", "say")},
    }
    testing.run_pipeline_sync(tomli_w.dumps(doc), tmp_path)
    return {n: list(testing.captured[n]) for n in ("update", "ban", "say")}


@pytest.mark.parametrize("text,expected", [
    ("!title Hello world", ("title", "Hello world")),
    ("！TITLE  spaced  ", ("title", "spaced")),
    ("!ban 123 2", ("ban", "123 2")),
    ("!news", ("news", "")),
    ("! title x", None),
    ("hello !title x", None),
    ("!", None),
])
def test_split_command(text, expected):
    assert split_command(text, ["!", "！"]) == expected


def test_parse_checks_arguments():
    assert parse("title", "Hi").text == "Hi"
    assert parse("ban", "@42 -1").hours == -1
    assert parse("unban", "42").uid == 42
    assert parse("area", "86").area_id == 86
    assert parse("news", "").text == ""
    for name, rest, key in [("title", "", "usage.title"), ("title", "x" * 41, "too_long.title"),
                            ("news", "x" * 61, "too_long.news"), ("area", "music", "bad.area"),
                            ("area", "", "usage.area"), ("ban", "42", "usage.ban"), ("ban", "abc 1", "bad.uid"),
                            ("ban", "42 721", "bad.hours"), ("ban", "42 soon", "bad.hours"),
                            ("unban", "", "usage.unban"), ("unban", "0", "bad.uid")]:
        with pytest.raises(CommandError) as e:
            parse(name, rest)
        assert e.value.key == key, (name, rest)


def test_who_may_command(tmp_path):
    out = run(tmp_path, [
        danmaku("!title by viewer", VIEWER),
        danmaku("!title by masked", 0, masked=True),
        danmaku("!title by streamer", STREAMER),
        danmaku("!title by config mod", MOD),
        danmaku("!title by flagged admin", ADMIN, is_admin=True),
        danmaku("!title before list", ADMIN),
        admins("list", [ADMIN]),
        danmaku("!title after list", ADMIN),
        admins("revoke", [ADMIN]),
        danmaku("!title after revoke", ADMIN),
        admins("add", [VIEWER]),
        danmaku("!title viewer promoted", VIEWER),
    ])
    assert [e.data["title"] for e in out["update"]] == [
        "by streamer", "by config mod", "by flagged admin", "after list", "viewer promoted"]
    assert all(e.room_id == 7 for e in out["update"])
    assert len(out["say"]) == 5 and all(s.data["text"].startswith("OK, title:") for s in out["say"])


def test_room_admins_off_trusts_only_the_config(tmp_path):
    out = run(tmp_path, [admins("list", [ADMIN]), danmaku("!title a", ADMIN, is_admin=True),
                         danmaku("!title b", MOD)], room_admins=False)
    assert [e.data["title"] for e in out["update"]] == ["b"]


def test_every_command_becomes_its_action_with_an_acknowledgement(tmp_path):
    out = run(tmp_path, [
        danmaku("!news Tonight 20:00", MOD),
        danmaku("!news", MOD),
        danmaku("!area 86", MOD),
        danmaku("!ban 555 2", MOD),
        danmaku("!ban 556 -1", MOD),
        danmaku("!unban 555", MOD),
        danmaku("!title A very long title that is cut in the ack", MOD),
    ])
    assert [e.data.get("news", e.data.get("area_id", e.data.get("title"))) for e in out["update"]] == [
        "Tonight 20:00", "", 86, "A very long title that is cut in the ack"]
    assert [(e.kind, e.data["uid"], e.data.get("hours")) for e in out["ban"]] == [
        ("action.ban", 555, 2), ("action.ban", 556, -1), ("action.unban", 555, None)]
    assert out["ban"][0].data["rule"] == "chat_commands" and out["ban"][0].data["reason"] == "chat command"
    assert [s.data["text"] for s in out["say"]] == [
        "OK, announcement set", "OK, announcement cleared", "OK, area 86", "OK, banned 555 (2h)",
        "OK, banned 556 (permanent)", "OK, unbanned 555", "OK, title: A very long…"]
    assert all(s.data["reply_uid"] == MOD for s in out["say"])


def test_helpful_replies_and_refusals(tmp_path):
    out = run(tmp_path, [
        danmaku("!ban 555", MOD),
        danmaku("!ban 555 9999", MOD),
        danmaku("!ban 200 1", STREAMER),  # a moderator
        danmaku("!area 33", MOD),
        danmaku("!title", MOD),
        danmaku("!unknown stuff", MOD),  # not ours: ignored silently
        danmaku("!ban 555 1", VIEWER),  # not authorized: no reply at all
    ], allowed_areas=[86])
    assert not out["update"] and not out["ban"]
    assert [s.data["text"] for s in out["say"]] == [
        "Usage: !ban UID HOURS", "HOURS: -1 forever, 0 this stream, 1-720", "200 is a moderator; not banned",
        "Area 33 not allowed here", "Usage: !title TEXT"]


def test_options(tmp_path):
    out = run(tmp_path, [danmaku("#title x", MOD), danmaku("#ban 5 1", MOD), danmaku("!title y", MOD),
                         danmaku("#title " + "z" * 50, MOD)],
              prefix="#", commands=["title"], acknowledge=False, mention=False)
    assert [e.data["title"] for e in out["update"]] == ["x"]
    assert not out["ban"]
    assert [s.data.get("reply_uid") for s in out["say"]] == [None]  # only the error reply


def test_chinese_replies(tmp_path):
    out = run(tmp_path, [danmaku("!title " + "长" * 41, MOD), danmaku("!ban 5 0", MOD)], language="zh")
    assert [s.data["text"] for s in out["say"]] == ["标题最多40字，当前41字", "已禁言 5（本场）"]


def test_ignored_commands_are_logged_once_per_sender_with_the_reason(tmp_path, caplog):
    caplog.set_level("DEBUG")
    other = 401
    events = [danmaku(f"!title spam {i}", VIEWER) for i in range(50)]
    events += [danmaku("!news hi", other), danmaku("!ban 1 1", other), danmaku("plain chat", 402)]
    events += [danmaku("!title by streamer", STREAMER)]
    out = run(tmp_path, events)
    assert [e.data["title"] for e in out["update"]] == ["by streamer"]
    info = [r.getMessage() for r in caplog.records if r.levelname == "INFO" and "ignored" in r.getMessage()]
    assert len(info) == 2, info  # one per sender, whatever the number of commands
    viewer_line, other_line = info
    assert f"from {VIEWER} (u{VIEWER}) in room 7" in viewer_line and "!title" in viewer_line
    assert f"not the streamer_uid ({STREAMER})" in viewer_line and "not in moderators" in viewer_line
    assert "not a room admin" in viewer_line
    assert f"from {other} " in other_line and "!news" in other_line
    debug = [r for r in caplog.records if r.levelname == "DEBUG" and "ignored !title" in r.getMessage()]
    assert len(debug) == 49
    assert not any("402" in m for m in info)  # plain chat is not a command: never logged


def test_ignored_reason_says_when_room_admins_are_not_trusted(tmp_path, caplog):
    caplog.set_level("INFO")
    run(tmp_path, [danmaku("!title a", ADMIN, is_admin=True)], room_admins=False)
    (line,) = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert "room_admins = false" in line
