"""The automod processor on a ManualClock: actions and their fields, dry_run, scope, spam, metrics, wiring."""

from __future__ import annotations

import pytest
from automod_support import rule
from livepipe import testing

pytestmark = pytest.mark.anyio

INSULTS = rule("insult", words=["傻逼"], ladder=["warn", "ban:1", "ban:-1"], cooldown=0)


async def test_ladder_warn_then_ban_with_reasons(harness):
    h = await harness(rules=[INSULTS])
    await h.say("主播傻\u200b逼", uname="troll")
    (warn,) = h.out["warn"]
    assert warn.kind == "action.send"
    assert warn.data["reply_uid"] == 1001 and warn.data["text"] == "请文明发言，再犯将被禁言"
    assert warn.data["rule"] == "insult" and warn.data["matched"] == "傻逼"
    assert warn.data["normalized"] == "傻逼" and "found as" in warn.data["why"] and warn.data["strike"] == 1
    await h.say("傻 逼")
    await h.say("傻.逼")
    bans = h.out["ban"]
    assert [(b.kind, b.data["hours"]) for b in bans] == [("action.ban", 1), ("action.ban", -1)]
    assert bans[0].data["uid"] == 1001 and bans[0].room_id == 76 and bans[0].data["text"] == "傻 逼"
    assert bans[0].data["reason"].startswith("automod insult:")
    assert h.counter("automod_hits_total", rule="insult") == 3
    assert h.counter("automod_actions_total", rule="insult", action="ban") == 2


async def test_dry_run_flags_instead_of_acting(harness):
    h = await harness(rules=[INSULTS], dry_run=True)
    await h.say("傻逼")
    await h.say("傻逼")
    assert h.out["ban"] == [] and h.out["warn"] == []
    assert [(f.kind, f.data["would"], f.data["dry_run"]) for f in h.out["flagged"]] == [
        ("automod.flagged", "warn", True), ("automod.flagged", "ban:1", True)]


async def test_masked_senders_are_flagged_only(harness):
    h = await harness(rules=[INSULTS])
    await h.say("傻逼", uid=None, uname="x***", uid_crc32="1a2b3c4d")
    (flag,) = h.out["flagged"]
    assert flag.data["note"].startswith("masked sender") and flag.data["would"] is None


async def test_cooldown_flags_a_burst(harness):
    h = await harness(rules=[rule("insult", words=["傻逼"], ladder=["ban:1"], cooldown=30)])
    await h.say("傻逼")
    await h.say("傻逼")
    assert len(h.out["ban"]) == 1 and "cooldown" in h.out["flagged"][0].data["note"]
    await h.clock.advance(31)
    await h.say("傻逼")
    assert len(h.out["ban"]) == 2


async def test_exempt_users_and_newcomer_rules(harness):
    h = await harness(rules=[INSULTS, rule("links", regexes=[r"https?\S+"], applies_to="newcomers",
                                           ladder=["flag"])],
                      streamer_uids=[9], newcomer_below_level=5)
    await h.say("傻逼", uid=9)
    await h.say("傻逼", guard_level=3)
    h.proc.scope.observe_admins(_admins([1001]))
    await h.say("傻逼")
    assert h.out == {"ban": [], "warn": [], "flagged": []}
    await h.say("see https://x.y", uid=2002, user_level=20)
    assert h.out["flagged"] == []
    await h.say("see https://x.y", uid=2003, user_level=1)
    assert [f.data["rule"] for f in h.out["flagged"]] == ["links"]


async def test_admins_events_are_consumed(harness):
    h = await harness(rules=[INSULTS])
    await h.proc.process(_admins([1001]), h.emit)
    await h.say("傻逼")
    assert h.out["warn"] == []


async def test_flood_bans_every_poster_of_the_wave(harness):
    h = await harness(rules=[rule("flood", kind="flood", count=3, window=60, ladder=["ban:24"])])
    ad = "加群领取免费皮肤啦"
    await h.say("晚上好", uid=1)
    await h.say(ad, uid=11)
    await h.clock.advance(5)
    await h.say("主播加油", uid=2)
    await h.say(ad.replace("啦", " 啦 "), uid=12)
    assert h.out["ban"] == []
    await h.say(ad, uid=13)
    await h.say(ad, uid=14)
    assert [b.data["uid"] for b in h.out["ban"]] == [11, 12, 13, 14]
    assert "3 users posted the same text" in h.out["ban"][0].data["why"]


async def test_repeat_and_rate_rules_use_the_clock(harness):
    h = await harness(rules=[rule("repeat", kind="repeat", count=3, window=10, ladder=["warn"]),
                             rule("rate", kind="rate", count=4, window=5, ladder=["flag"])])
    for _ in range(2):
        await h.say("主播主播看我")
        await h.clock.advance(20)
    await h.say("主播主播看我")
    assert h.out["warn"] == []
    await h.say("主播主播看我")
    await h.say("主播主播看我")
    assert len(h.out["warn"]) == 1
    for i in range(3):
        await h.say(f"刷屏{i}")
    assert [f.data["rule"] for f in h.out["flagged"]] == ["rate", "rate"]


async def test_other_events_are_ignored(harness):
    h = await harness(rules=[INSULTS])
    await h.proc.process(testing.Event.from_dict({"kind": "gift", "uid": 1, "text": "傻逼"}), h.emit)
    assert h.out == {"ban": [], "warn": [], "flagged": []}


def test_runs_in_a_pipeline_with_named_outputs(tmp_path):
    testing.run_pipeline_sync(
        """
        [sources.src]
        type = "testing.events"
        events = [
          { kind = "danmaku", room_id = 76, uid = 5, uname = "a", text = "ＳＢ", data = { user_level = 3 } },
          { kind = "danmaku", room_id = 76, uid = 6, uname = "b", text = "hello", data = { user_level = 3 } },
        ]

        [processors.mod]
        type = "automod"
        inputs = ["src"]

        [[processors.mod.rules]]
        id = "insult"
        words = ["sb"]
        ladder = ["ban:2"]

        [sinks.bans]
        type = "testing.capture"
        inputs = ["mod.ban"]

        [sinks.rest]
        type = "testing.capture"
        inputs = ["mod.warn", "mod.flagged"]
        """,
        tmp_path,
    )
    (ban,) = testing.captured["bans"]
    assert (ban.data["uid"], ban.data["hours"], ban.data["rule"]) == (5, 2, "insult")
    assert testing.captured["rest"] == []


def _admins(uids):
    from livepipe.events import make_event

    return make_event("admins", room_id=76, ts=1.0, data={"action": "list", "uids": uids})


async def test_flood_memory_follows_the_window_not_the_texts_seen(harness):
    # bench/run.py's soak grew ~13 MB/min: one-off texts each kept a flood wave with their event.
    h = await harness(rules=[rule("flood", kind="flood", count=5, window=60, min_length=8, ladder=["flag"])])
    assert h.proc.ruleset is not None
    ((_, flood),) = h.proc.ruleset.spam
    for second in range(600):  # ten minutes, a new text every second
        await h.say(f"第一次来点歌点歌{second}", uid=second)
        await h.clock.advance(1)
    assert len(flood._waves) <= 61
    assert h.out["flagged"] == []


async def test_a_regex_that_backtracks_for_ever_gives_up_and_the_others_still_work(harness, caplog):
    """A viewer's message that sends a careless regex into exponential backtracking must not freeze the
    pipeline: the search gives up (counted, one warning naming the rule), the message is read as not
    matched by that rule, and the other rules still act on it and on later messages."""
    h = await harness(rules=[INSULTS, rule("careless", regexes=[r"(a|aa)+c"], ladder=["ban:1"], cooldown=0),
                             rule("contact", regexes=[r"vx\d{6,}"], ladder=["ban:24"], cooldown=0)])
    hostile = "a" * 40 + "!"  # Fibonacci(40) ways to split the a's before the missing c: hours with `re`
    for i in range(3):
        await h.say(hostile + "傻逼", uid=2000 + i)
    assert [b.data["rule"] for b in h.out["ban"]] == []  # a warning each for the insult, no ban by 'careless'
    assert [w.data["rule"] for w in h.out["warn"]] == ["insult"] * 3
    assert h.counter("automod_regex_timeouts_total", rule="careless") >= 1
    warned = [r for r in caplog.records if "gave up" in r.getMessage()]
    assert len(warned) == 1 and "careless" in warned[0].getMessage() and "(a+)+" in warned[0].getMessage()  # the hint
    await h.say("加vx1234567", uid=3000)
    assert [b.data["rule"] for b in h.out["ban"]] == ["contact"]
    await h.say("aaac", uid=3001)  # the careless regex still matches where it can
    assert [b.data["rule"] for b in h.out["ban"]] == ["contact", "careless"]
