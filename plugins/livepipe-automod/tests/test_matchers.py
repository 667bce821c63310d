"""Word and regex matching details: token edges for Latin words, repeat counts, regex forms."""

from __future__ import annotations

from livepipe_automod.matchers import RegexMatcher, WordMatcher
from livepipe_automod.normalize import normalize


def found(matcher, text):
    return [h.rule for h in matcher.find(normalize(text))]


def test_latin_words_must_start_and_end_a_token():
    m = WordMatcher([("r", "sb", False)])
    assert found(m, "s b") == ["r"]
    assert found(m, "ssb!") == ["r"]
    assert found(m, "你是sb吧") == ["r"]
    assert found(m, "is back") == []
    assert found(m, "iss b") == []
    assert found(m, "usb") == []


def test_a_word_needs_its_own_repeats():
    m = WordMatcher([("r", "ass", False), ("m", "妈妈", False)])
    assert found(m, "as well") == []
    assert found(m, "asssss") == ["r"]
    assert found(m, "你妈") == []
    assert found(m, "妈 妈 妈") == ["m"]


def test_single_character_words():
    m = WordMatcher([("r", "屎", False)])
    assert found(m, "吃屎") == ["r"]
    assert found(m, "吃饭") == []


def test_one_hit_per_rule_and_hits_explain_themselves():
    m = WordMatcher([("r", "傻逼", False), ("r", "sb", False)])
    (hit,) = m.find(normalize("傻逼 sb"))
    assert hit.rule == "r" and "found as" in hit.why


def test_pinyin_only_for_words_marked_and_of_two_syllables():
    m = WordMatcher([("p", "傻逼", True), ("q", "屎", True), ("n", "约炮", False)])
    assert m.pinyin_size == 1
    assert found(m, "沙比") == ["p"]
    assert found(m, "使") == []
    assert found(m, "约袍") == []


def test_regex_forms():
    m = RegexMatcher([("c", r"v\d{6}", "compact"), ("f", r"^哈$", "folded"), ("k", r"\bq q\b", "clean")])
    assert found(m, "加 v 123 456") == ["c"]
    assert found(m, "哈哈哈") == ["f"]
    assert found(m, "加 q q") == ["k"]
    assert found(m, "hello") == []


def test_regexes_with_backreferences_still_work():
    m = RegexMatcher([("b", r"(\d)\1{5}", "compact"), ("x", r"(ab)c", "compact")])
    assert found(m, "111111") == ["b"]
    assert sorted(found(m, "abc 222222")) == ["b", "x"]
