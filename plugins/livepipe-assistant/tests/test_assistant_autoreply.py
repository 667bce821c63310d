"""The autoreply engine: normalized keywords, regexes, cooldowns, @-mentions."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from assistant_support import Driver, danmaku
from livepipe_assistant.autoreply import AutoReplyConfig, AutoReplyEngine


def engine(rules: list[dict[str, Any]], **config: Any) -> AutoReplyEngine:
    cfg = AutoReplyConfig.model_validate({"type": "autoreply", "inputs": ["src"], "rules": rules, **config})
    return AutoReplyEngine(cfg, {999})


QQ = {"id": "qq", "keywords": ["QQ群"], "reply": "粉丝群：123456", "cooldown": 0}


@pytest.mark.parametrize("text", ["QQ群多少", "ＱＱ群呢", "q q 群？", "有没有qq群", "Ｑ　Ｑ　群"])
def test_keywords_match_full_width_and_spaced_variants(text):
    d = Driver(engine([QQ], viewer_cooldown=0))
    d.offer(danmaku(1, text))
    assert d.texts() == ["粉丝群：123456"]


def test_regex_on_the_clean_form_and_templates_with_event_names():
    d = Driver(engine([{"regex": r"(几点|什么时候)(开播|播)", "reply": "{{ uname }}：每晚八点", "at": True}]))
    d.offer(danmaku(1, "明天幾點開播"))  # traditional characters
    assert d.texts() == ["观众1：每晚八点"]
    assert d.sent[0][1].data["reply_uid"] == 1


def test_rule_and_viewer_cooldowns():
    d = Driver(engine([{**QQ, "cooldown": 30}, {"keywords": ["歌单"], "reply": "歌单在简介", "cooldown": 0}],
                      viewer_cooldown=60))
    d.offer(danmaku(1, "qq群"))
    d.advance(2)
    d.offer(danmaku(2, "qq群"))  # the rule is cooling down
    d.advance(2)
    d.offer(danmaku(1, "歌单"))  # the viewer is cooling down
    d.advance(2)
    d.offer(danmaku(3, "歌单"))
    d.advance(2)
    assert d.texts() == ["粉丝群：123456", "歌单在简介"]
    assert d.engine.counts["suppressed_cooldown"] == 2


def test_the_bot_does_not_answer_itself():
    d = Driver(engine([QQ]))
    d.offer(danmaku(999, "qq群"))
    assert d.texts() == []


def test_rotating_replies():
    d = Driver(engine([{**QQ, "reply": ["一", "二"]}], viewer_cooldown=0, interval=1))
    for uid in (1, 2, 3):
        d.offer(danmaku(uid, "qq群"))
        d.advance(1.1)
    assert d.texts() == ["一", "二", "一"]


def test_bad_rules_are_refused():
    with pytest.raises(ValueError, match="keywords or a regex"):
        AutoReplyConfig.model_validate({"type": "autoreply", "inputs": ["s"], "rules": [{"reply": "x"}]})
    with pytest.raises(ValueError, match="not a valid regular expression"):
        AutoReplyConfig.model_validate({"type": "autoreply", "inputs": ["s"], "rules": [{"regex": "(", "reply": "x"}]})
    with pytest.raises(ValueError, match="unknown field 'event.gift.nmae'"):
        AutoReplyConfig.model_validate({"type": "autoreply", "inputs": ["s"],
                                        "rules": [{"keywords": ["a"], "reply": "{{ event.gift.nmae }}"}]})


def test_a_reply_that_fails_to_render_is_not_sent_and_is_counted(caplog):
    d = Driver(engine([{**QQ, "reply": "群号{{ data.group }}"}]))
    d.offer(danmaku(1, "qq群"))
    assert d.texts() == []
    assert d.engine.counts["template_errors"] == 1
    assert "the reply of qq template failed" in caplog.text and "group" in caplog.text


def test_a_catastrophic_regex_gives_up_on_the_message_instead_of_stalling(caplog):
    """^(a|aa)+$ on 'aaa…a!' backtracks ~2**40 ways with re; the timeout gives up, the next rule still answers."""
    e = engine([{"id": "slow", "regex": r"^(a|aa)+$", "reply": "slow", "cooldown": 0},
                {"id": "qq", "keywords": ["a!"], "reply": "fast", "cooldown": 0}], viewer_cooldown=0)
    d = Driver(e)
    with caplog.at_level(logging.WARNING):
        for uid in (1, 2):
            d.offer(danmaku(uid, "a" * 40 + "!"))
        d.advance(5)
    assert d.texts() == ["fast", "fast"]
    assert e.counts["regex_timeouts"] == 2
    warned = [r.getMessage() for r in caplog.records if "regex of rule slow" in r.getMessage()]
    assert len(warned) == 1 and "(a+)+" in warned[0]  # rate-limited: one line for the two messages


def test_only_the_first_500_characters_of_a_message_are_matched():
    d = Driver(engine([{"regex": "歌单", "reply": "歌单在简介", "cooldown": 0}], viewer_cooldown=0))
    d.offer(danmaku(1, "x" * 498 + "歌单"))  # ends at character 500: within
    d.offer(danmaku(2, "x" * 499 + "歌单"))  # ends at 501: cut
    d.advance(5)
    assert d.texts() == ["歌单在简介"]


def test_a_reply_quoting_the_message_is_one_plain_line():
    d = Driver(engine([{"keywords": ["歌单"], "reply": "{{ uname }}问：{{ text }}", "cooldown": 0}]))
    d.offer(danmaku(1, "歌单\n在哪\u202e里\x00"))
    d.advance(5)
    assert d.texts() == ["观众1问：歌单 在哪里"]
