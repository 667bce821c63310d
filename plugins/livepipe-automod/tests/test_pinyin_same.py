"""automod's pinyin, read from pypinyin's character table, is exactly what pypinyin gives."""

from __future__ import annotations

import unicodedata

from automod_texts import texts
from livepipe.textnorm import is_cjk
from pypinyin import Style, lazy_pinyin

from livepipe_automod import pinyin_table
from livepipe_automod.normalize import normalize, pinyin_form, pinyin_syllables, pinyin_tokens

CJK = [chr(c) for r in ((0x3400, 0xA000), (0xF900, 0xFB00), (0x20000, 0x31350)) for c in range(*r) if is_cjk(chr(c))]


def _old_reading(ch: str) -> str:
    """How normalize.py read a character before (pypinyin itself)."""
    return lazy_pinyin(ch, style=Style.NORMAL, errors="default")[0] if is_cjk(ch) else ch


def test_every_cjk_character_reads_as_pypinyin_says() -> None:
    assert len(CJK) > 90000
    differ = [(ch, _old_reading(ch), pinyin_table.reading(ch)) for ch in CJK
              if _old_reading(ch) != pinyin_table.reading(ch)]  # fmt: skip
    assert differ == []
    assert pinyin_table.reading("绿") == "lv" and pinyin_table.reading("傻") == "sha"


def test_syllables_are_those_of_pypinyins_table() -> None:
    from pypinyin.pinyin_dict import pinyin_dict

    old: set[str] = set()
    for readings in pinyin_dict.values():
        for r in readings.split(","):
            plain = "".join(c for c in unicodedata.normalize("NFD", r) if not unicodedata.combining(c))
            if plain.isascii() and any(v in plain for v in "aeiouv"):
                old.add(plain)
    assert pinyin_syllables() == frozenset(old)


def test_pinyin_forms_of_texts_are_unchanged() -> None:
    for text in texts(n_random=3000):
        folded = normalize(text).folded
        names, _ = pinyin_tokens(folded)
        expected: list[str] = []
        run = ""
        for ch in folded:
            if is_cjk(ch):
                if run:
                    expected.append("'" + run)
                    run = ""
                expected.append(_old_reading(ch))
            else:
                run += ch
        if run:
            expected.append("'" + run)
        assert names == expected, text
        assert pinyin_form(folded) == " " + " ".join(t.lstrip("'") for t in expected) + " "
