"""Normalization: each obfuscation trick meets the plain word in the same form."""

from __future__ import annotations

import pytest

from livepipe_automod.normalize import clean, fold_repeats, normalize, pinyin_form, pinyin_variants, runs


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("ＳＢ", "sb"),  # full-width
        ("傻\u200b逼", "傻逼"),  # zero-width space
        ("傻\u200d\ufeff\u2060逼", "傻逼"),  # joiner, BOM, word joiner
        ("傻 . 逼", "傻逼"),  # separators
        ("操★你★妈", "操你妈"),  # symbols
        ("滚😡出😡去", "滚出去"),  # emoji
        ("發財", "发财"),  # traditional
        ("傻傻傻逼逼", "傻逼"),  # repeats
        ("FuCk", "fuck"),  # case
        ("fuсk", "fuck"),  # Cyrillic с
        ("fück", "fuck"),  # accent
        ("①②③", "123"),  # circled digits
    ],
)
def test_tricks_normalize_to_the_plain_form(text, folded):
    assert normalize(text).folded == folded


def test_compact_keeps_repeats_and_clean_keeps_separators():
    n = normalize("加 V 1 1 1 2")
    assert n.compact == "加v1112"
    assert n.folded == "加v12"
    assert clean("加 Ｖ") == "加 v"


def test_fold_repeats():
    assert fold_repeats("aaabccd") == "abcd"
    assert fold_repeats("") == ""


def test_runs_map_folded_characters_back_to_clean_positions():
    c, rs = runs("is s b")
    assert c == "is s b"
    assert [(r.char, r.positions) for r in rs] == [("i", (0,)), ("s", (1, 3)), ("b", (5,))]


def test_pinyin_form_and_variants():
    assert pinyin_form("傻b逼") == " sha b bi "
    variants = pinyin_variants("傻逼")
    assert {" sha bi ", " shabi ", " sha b ", " s bi "} <= variants
    assert " sb " not in variants  # the bare abbreviation is a plain word to list, not a pinyin variant
    assert pinyin_variants("ok") == {" ok "}
