"""The processor acts on confidence (ban_from / below_ban) and reads super chats and user names."""

from __future__ import annotations

import pytest
from automod_support import rule
from livepipe.events import make_event

pytestmark = pytest.mark.anyio

BAN_AT_ONCE = rule("insult", words=["傻逼"], pinyin=True, ladder=["ban:24"], cooldown=0)


async def test_a_homophone_never_bans_by_default(harness):
    h = await harness(rules=[BAN_AT_ONCE])
    await h.say("沙比主播")
    assert h.out["ban"] == [] and h.out["warn"] == []
    (flag,) = h.out["flagged"]
    assert flag.data["confidence"] == "homophone" and flag.data["would"] == "flag"
    assert "may not ban" in flag.data["note"] and flag.data["strike"] == 0
    await h.say("傻 逼")  # a normalized hit bans, and the homophone left no strike behind
    (ban,) = h.out["ban"]
    assert ban.data["confidence"] == "normalized" and ban.data["strike"] == 1 and ban.data["scope"] == "danmaku"


async def test_below_ban_warn_and_a_rule_that_bans_on_sound(harness):
    h = await harness(rules=[{**BAN_AT_ONCE, "below_ban": "warn"}])
    await h.say("shabi")
    (warn,) = h.out["warn"]
    assert warn.data["confidence"] == "typed_pinyin" and h.out["ban"] == []
    h2 = await harness(rules=[{**BAN_AT_ONCE, "ban_from": "homophone"}])
    await h2.say("沙比")
    assert [b.data["confidence"] for b in h2.out["ban"]] == ["homophone"]
    await h2.say("s逼", uid=1002)  # fuzzy is weaker still
    assert len(h2.out["ban"]) == 1 and h2.out["flagged"][0].data["confidence"] == "fuzzy"


async def test_exact_only_rule(harness):
    h = await harness(rules=[rule("strict", words=["sb"], ladder=["ban:1"], ban_from="exact", cooldown=0)])
    await h.say("ＳＢ")
    assert h.out["ban"] == [] and h.out["flagged"][0].data["confidence"] == "normalized"
    await h.say("sb")
    assert len(h.out["ban"]) == 1


async def test_super_chat_text_is_read_by_default(harness):
    h = await harness(rules=[rule("insult", words=["傻逼"], ladder=["warn"]),
                             rule("only-danmaku", words=["傻逼"], ladder=["warn"], scope=["danmaku"])])
    ev = make_event("super_chat", room_id=76, uid=3003, uname="payer", text="主播傻逼", ts=0.0,
                    data={"price": 30, "user_level": 10, "guard_level": 0, "medal": None})
    await h.proc.process(ev, h.emit)
    assert [(w.data["rule"], w.data["scope"]) for w in h.out["warn"]] == [("insult", "super_chat")]


async def test_user_names_only_for_rules_that_opt_in(harness):
    names = rule("names", words=["加微信", "官方客服"], scope=["uname"], ladder=["flag"])
    h = await harness(rules=[names, rule("text", words=["傻逼"], ladder=["flag"])])
    await h.say("主播晚上好", uname="官方客服小美")
    await h.say("再来一首", uname="官方客服小美")  # the same name is read once
    await h.say("傻逼", uname="普通观众", uid=1002)
    flags = [(f.data["rule"], f.data["scope"], f.uname) for f in h.out["flagged"]]
    assert flags == [("names", "uname", "官方客服小美"), ("text", "danmaku", "普通观众")]
    enter = make_event("enter", room_id=76, uid=4004, uname="加 微 信 领福利", ts=0.0,
                       data={"user_level": 1, "guard_level": 0, "medal": None})
    await h.proc.process(enter, h.emit)
    assert h.out["flagged"][-1].data["rule"] == "names" and h.out["flagged"][-1].uid == 4004


async def test_names_are_not_read_without_a_name_rule(harness):
    h = await harness(rules=[rule("text", words=["傻逼"], ladder=["flag"])])
    await h.say("主播好", uname="傻逼")
    enter = make_event("enter", room_id=76, uid=4004, uname="傻逼", ts=0.0, data={})
    await h.proc.process(enter, h.emit)
    assert h.out["flagged"] == []


async def test_the_segmenter_load_time_is_reported_at_start(harness, caplog):
    caplog.set_level("INFO", logger="test.automod")
    await harness(rules=[rule("insult", words=["傻逼"])])
    (line,) = [r.getMessage() for r in caplog.records if "segmenter" in r.getMessage()]
    assert "one-time load took" in line and line.rstrip().endswith(" s")
    caplog.clear()
    await harness(rules=[rule("latin", words=["sb"])])  # no Chinese word: the segmenter is not needed
    assert not [r for r in caplog.records if "segmenter" in r.getMessage()]
