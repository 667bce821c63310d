"""Unicode folding from Unicode's data, substitutions, repeated words, typed pinyin and the segmentation guards."""

from __future__ import annotations

import pytest

from livepipe_automod.matchers import CONFIDENCE, WordMatcher
from livepipe_automod.normalize import normalize, syllable_edges
from livepipe_automod.rules import validate_rules
from livepipe_automod.ruleset import RuleSet
from livepipe_automod.variants import Rereader


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("🄽🄼", "nm"),  # negative squared
        ("🅝🅜🅢🅛", "nmsl"),  # negative circled
        ("🄰🄱", "ab"),  # squared
        ("ᴀʙᴄ", "abc"),  # small capitals
        ("ˢᵇ", "sb"),  # superscripts
        ("𝐬𝐛", "sb"),  # mathematical bold
        ("🇳🇲", "nm"),  # regional indicators
        ("❶➋⓷④", "1234"),  # dingbat, sans-serif, double circled, circled digits
        ("⑬", "13"),  # a circled number
        ("ѕЬ", "sb"),  # Cyrillic dze and soft sign (Unicode's confusables)
        ("НАХ", "hax"),  # Cyrillic capitals
        ("ոмѕ", "nms"),  # Armenian vo, Cyrillic em, dze
        ("αβ", "ab"),  # Greek
        ("傻∣逼", "傻逼"),  # a symbol look-alike stays a separator
    ],
)
def test_unicode_forms_fold_to_latin(text, folded):
    assert normalize(text).folded == folded


def test_ascii_and_chinese_are_left_to_their_own_rules():
    assert normalize("l1I|0O").compact == "l1i0o"  # ASCII is never remapped (| is a separator)
    assert normalize("一二三").folded == "一二三"  # CJK numerals are not digits


def words(*entries, allow=None):
    return WordMatcher(entries, allow=allow)


def hits(matcher, text):
    return {h.rule: h.confidence for h in matcher.find(normalize(text))}


def test_confidence_levels_say_how_a_word_matched():
    m = words(("i", "傻逼", True), ("l", "nmsl", False))
    assert hits(m, "傻逼") == {"i": "exact"}
    assert hits(m, "傻 逼") == {"i": "normalized"}
    assert hits(m, "ＮＭＳＬ") == {"l": "normalized"}
    assert hits(m, "shabi") == {"i": "typed_pinyin"}
    assert hits(m, "沙比") == {"i": "homophone"}
    assert hits(m, "s逼") == {"i": "fuzzy"}
    assert CONFIDENCE[0] == "exact" and CONFIDENCE[-1] == "fuzzy"


def test_pinyin_compares_whole_syllables():
    m = words(("s", "做爱", True))
    for text in ("在爱你", "再爱一次", "zai ai", "在爱情面前"):
        assert hits(m, text) == {}, text
    assert hits(m, "作爱") == {"s": "homophone"}
    assert hits(m, "zuoai") == {"s": "typed_pinyin"}


def test_homophones_must_cover_whole_words():
    m = words(("i", "傻逼", True), ("m", "麦音", True), ("c", "草逼", True))
    assert hits(m, "杀必死技能") == {}  # 杀必死 is one word
    assert hits(m, "麦音量好小") == {}  # 麦 / 音量
    assert hits(m, "草，比分追上了") == {}  # 草 / 比分: the comma is a boundary too
    assert hits(m, "沙 比") == {"i": "homophone"}


def test_homophones_that_are_ordinary_words_are_those_words():
    m = words(("i", "智障", True), ("j", "畜生", True), ("k", "操你妈", True))
    assert hits(m, "纸张太薄") == {} and hits(m, "出生在上海") == {}
    assert hits(m, "草泥马") == {"k": "homophone"}  # three syllables: the disguise


def test_typed_pinyin_inside_more_pinyin_and_spaced():
    m = words(("i", "操你妈", True), ("s", "傻逼", True), ("d", "代练", True))
    assert hits(m, "wo cao ni ma") == {"i": "typed_pinyin"}
    assert hits(m, "wocaonimade") == {"i": "typed_pinyin"}
    assert hits(m, "s h a b i") == {"s": "typed_pinyin"}
    assert hits(m, "dailiang") == {}  # its g is no syllable: dai liang, not dai lian + g
    heads, tails = syllable_edges("wocaonima")
    assert 2 in heads and 9 in tails


def test_short_words_inside_ordinary_compounds_are_not_hits():
    m = words(("a", "刷单", False), ("s", "色情", False), ("q", "去死", False))
    assert hits(m, "刷单曲循环") == {}
    assert hits(m, "特色情歌") == {}
    assert hits(m, "去死海旅游") == {}
    assert hits(m, "刷单兼职") == {"a": "exact"}
    assert hits(m, "你去死吧") == {"q": "exact"}  # inside 去死吧, which holds the whole word
    assert hits(m, "去\u2060死 去\u2060死") == {"q": "normalized"}  # a space is a boundary


def test_allow_list_per_rule():
    m = words(("w", "废物", False), allow={"w": ["废物利用"]})
    assert hits(m, "废物利用小妙招") == {}
    assert hits(m, "你个废物") == {"w": "exact"}


def test_a_doubled_inner_character_is_a_word_not_a_disguise():
    m = words(("t", "他妈的", False), ("z", "杂种", False))
    assert hits(m, "他妈妈的手艺真好") == {}
    assert hits(m, "他妈妈妈的") == {"t": "normalized"}
    assert hits(m, "杂 种种种") == {"z": "normalized"}  # a tripled last character is a disguise
    n = words(("n", "你妈", False))
    assert hits(n, "你妈妈好年轻") == {} and hits(n, "看你妈妈") == {}  # 妈妈 is a word
    assert hits(n, "你你妈妈") == {"n": "exact"}


def rules(*tables, substitutions=None):
    rs = validate_rules(list(tables), "test")
    return RuleSet.build(rs, {r.id: list(r.words) for r in rs}, substitutions=substitutions)


def matched(ruleset, text, scope="danmaku"):
    return {h.rule: h.confidence for h in ruleset.match(normalize(text), newcomer=True, scope=scope)}


def test_substitution_table_defaults_and_overrides():
    rs = rules({"id": "i", "words": ["操你妈", "他妈的"]})
    assert matched(rs, "操你🐴") == {"i": "substituted"}
    assert matched(rs, "tm的") == {"i": "substituted"}
    assert matched(rs, "anmo按摩") == {}  # letters only as a whole token
    custom = rules({"id": "i", "words": ["操你妈"]}, substitutions={"🐴": "", "🦄": "妈"})
    assert matched(custom, "操你🐴") == {} and matched(custom, "操你🦄") == {"i": "substituted"}


def test_repeated_words_read_as_one():
    rs = rules({"id": "i", "words": ["nmsl", "sb"]})
    assert matched(rs, "nmslnmslnmsl") == {"i": "normalized"}
    assert matched(rs, "真sbsbsb") == {"i": "normalized"}
    assert Rereader({}).reread(normalize("hello")) == []
    assert Rereader({}).reread(normalize("hihihi")) == [("hi", "normalized")]


def test_scopes_keep_rules_apart():
    rs = rules({"id": "t", "words": ["傻逼"]}, {"id": "n", "words": ["官方"], "scope": ["uname"]})
    assert matched(rs, "傻逼") == {"t": "exact"}
    assert matched(rs, "傻逼", "super_chat") == {"t": "exact"}
    assert matched(rs, "傻逼", "uname") == {}
    assert matched(rs, "官方客服", "uname") == {"n": "exact"}
    assert matched(rs, "官方客服") == {}


def test_a_ruleset_remembers_the_hits_of_a_text(monkeypatch):
    """Chat repeats itself: a text already matched is not matched again, and the hits are the same."""
    from livepipe_automod import ruleset as ruleset_module

    rs = rules({"id": "i", "words": ["操你妈", "nmsl"], "pinyin": True},
               {"id": "n", "words": ["加微信"], "applies_to": "newcomers"})
    texts = ["操你🐴", "nmslnmsl", "cao ni ma", "加微信123", "你好", "操你🐴"]
    first = [(t, n, s, rs.match(normalize(t), newcomer=n, scope=s))
             for t in texts for n in (True, False) for s in ("danmaku", "uname")]
    calls = []
    real = rs._match
    monkeypatch.setattr(rs, "_match", lambda *a: calls.append(a) or real(*a))
    again = [(t, n, s, rs.match(normalize(t), newcomer=n, scope=s)) for t, n, s, _ in first]
    assert again == first and calls == []
    assert matched(rs, "加微信123") == {"n": "exact"} and matched(rs, "你好") == {}
    hits = rs.match(normalize("加微信123"), newcomer=True)
    hits.clear()  # the caller's list: clearing it changes nothing remembered
    assert matched(rs, "加微信123") == {"n": "exact"}
    monkeypatch.setattr(ruleset_module, "MATCH_MEMO_SIZE", 4)
    rs._matched.clear()
    for i in range(10):
        rs.match(normalize(f"text {i}"), newcomer=True)
    assert len(rs._matched) == 4
    assert calls and rs.match(normalize("text 9"), newcomer=True) == [] and len(calls) == 10  # the newest kept
