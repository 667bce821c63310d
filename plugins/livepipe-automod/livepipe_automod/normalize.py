"""Text normalization for automod: livepipe's forms (:mod:`livepipe.textnorm`) plus pinyin.

``clean``, ``compact`` and ``folded`` (and :func:`normalize`, :func:`clean`, :func:`runs` ...) live in
livepipe itself, :mod:`livepipe.textnorm`, shared with other plugins (the assistant's keyword
replies); they are re-exported here. This module adds :func:`pinyin_form` and the pinyin reading
of a form (homophones); it is expensive and only computed for rule sets that ask for it.
"""

from __future__ import annotations

import functools

from livepipe.textnorm import (
    CHAR_MAP,
    COMPACT_MAP,
    Normalized,
    Run,
    clean,
    fold_repeats,
    is_cjk,
    normalize,
    run_lengths,
    runs,
)

from livepipe_automod import pinyin_table

__all__ = [
    "CHAR_MAP",
    "COMPACT_MAP",
    "Normalized",
    "Run",
    "clean",
    "fold_repeats",
    "is_cjk",
    "normalize",
    "pinyin_form",
    "pinyin_syllables",
    "pinyin_tokens",
    "pinyin_variant_kinds",
    "pinyin_variants",
    "run_lengths",
    "runs",
    "syllable_edges",
]


class _PinyinMap(dict):
    """Character -> its default toneless pinyin syllable (``傻`` -> ``sha``); filled on first sight.

    The syllable is pypinyin's ``lazy_pinyin(ch, style=Style.NORMAL)``, read from its character table
    by :mod:`livepipe_automod.pinyin_table` without loading pypinyin's 37 MB phrase table.
    """

    def __missing__(self, ch: str) -> str:
        value = pinyin_table.reading(ch) if is_cjk(ch) else ch
        self[ch] = value
        return value


PINYIN: dict[str, str] = _PinyinMap()


class _SyllableMap(dict):
    """Character -> its syllable if it is CJK, else ``""``; filled on first sight (one lookup per character)."""

    def __missing__(self, ch: str) -> str:
        value = PINYIN[ch] if is_cjk(ch) else ""
        self[ch] = value
        return value


_SYLLABLE: dict[str, str] = _SyllableMap()


def pinyin_tokens(folded: str) -> tuple[list[str], list[int]]:
    """The pinyin tokens of ``folded`` and where each starts in it (plus the end, as a last offset).

    Each CJK character is its syllable; each run of other characters is one token marked as typed
    with a leading ``'`` (``傻b逼`` -> ``(["sha", "'b", "bi"], [0, 1, 2, 3])``): typed letters only
    ever match typed pinyin, never a character's syllable.
    """
    names: list[str] = []
    starts: list[int] = []
    run = -1
    syllable = _SYLLABLE
    for i, ch in enumerate(folded):
        syl = syllable[ch]
        if syl:
            if run >= 0:
                names.append("'" + folded[run:i])
                starts.append(run)
                run = -1
            names.append(syl)
            starts.append(i)
        elif run < 0:
            run = i
    if run >= 0:
        names.append("'" + folded[run:])
        starts.append(run)
    starts.append(len(folded))
    return names, starts


def pinyin_form(folded: str) -> str:
    """Space-separated pinyin tokens of ``folded``, padded with spaces: ``傻b逼`` -> `` sha b bi ``.

    Each CJK character becomes its syllable; each run of other characters stays one token. Matching a
    word's pinyin form (with its padding) inside a text's therefore aligns on syllables.
    """
    return " " + " ".join(t.lstrip("'") for t in pinyin_tokens(folded)[0]) + " "


def pinyin_variants(word: str, max_syllables: int = 4) -> set[str]:
    """The pinyin forms of a word's disguises, typed and character tokens alike (see :func:`pinyin_variant_kinds`)."""
    return {form.replace("'", "") for form in pinyin_variant_kinds(word, max_syllables)}


def pinyin_variant_kinds(word: str, max_syllables: int = 4) -> dict[str, str]:
    """The pinyin forms a word can take when its characters are swapped for homophones or typed out.

    Maps each form to how it disguises the word: ``homophone`` (every syllable a character of the
    same sound), ``typed_pinyin`` (some typed in full, the rest characters) or ``fuzzy`` (some
    syllable typed as its initial only: ``s逼``). In a form, a typed token is marked with a leading
    ``'`` (`` sha 'b ``): it only matches letters the message typed, never a character's syllable
    (so ``zai`` typed for ``z`` + ``ai`` is not ``在``). Typed letters next to each other form one
    token, as they do in :func:`pinyin_tokens`. The pure abbreviation (every syllable an initial,
    ``sb``) is left out: list it as a plain word if wanted. Words of more than ``max_syllables``
    syllables get only the all-characters and all-typed forms.
    """
    syllables = pinyin_form(normalize(word).folded).split()
    if not syllables or not all(s.isascii() and s.isalpha() for s in syllables):
        return {}
    choices = ("char", "full", "initial")
    combos: list[tuple[str, ...]] = [()]
    if len(syllables) <= max_syllables:
        for _ in syllables:
            combos = [(*c, x) for c in combos for x in choices]
    else:
        combos = [("char",) * len(syllables), ("full",) * len(syllables)]
    out: dict[str, str] = {}
    for combo in combos:
        if all(x == "initial" for x in combo):
            continue
        tokens: list[str] = []
        typing = ""
        for syl, how in zip(syllables, combo, strict=True):
            if how == "char":
                if typing:
                    tokens.append("'" + typing)
                    typing = ""
                tokens.append(syl)
            else:
                typing += syl if how == "full" else syl[0]
        if typing:
            tokens.append("'" + typing)
        kind = "fuzzy" if "initial" in combo else "typed_pinyin" if "full" in combo else "homophone"
        form = " " + " ".join(tokens) + " "
        if form not in out or _WEAKER[out[form]] > _WEAKER[kind]:
            out[form] = kind
    return out


_WEAKER = {"typed_pinyin": 0, "homophone": 1, "fuzzy": 2}


@functools.cache
def pinyin_syllables() -> frozenset[str]:
    """Every toneless pinyin syllable with a vowel (from pypinyin's character table)."""
    return pinyin_table.all_syllables()


@functools.lru_cache(maxsize=4096)
def syllable_edges(letters: str) -> tuple[frozenset[int], frozenset[int]]:
    """Where typed pinyin may start and end words: ``(heads, tails)`` of ``letters`` (a run of a-z).

    ``heads`` holds every offset ``i`` such that ``letters[:i]`` reads as whole pinyin syllables,
    ``tails`` every ``j`` such that ``letters[j:]`` does. Typed pinyin of a word found at
    ``letters[i:j]`` is read as that word only when ``i`` is a head and ``j`` a tail: ``wocaonima``
    holds ``caonima`` (wo | cao ni ma), ``dailiang`` does not hold ``dailian`` (its ``g`` is no syllable).
    """
    syl = pinyin_syllables()
    n = len(letters)
    longest = 6
    heads = {0}
    for i in range(n):
        if i in heads:
            for k in range(1, longest + 1):
                if i + k <= n and letters[i : i + k] in syl:
                    heads.add(i + k)
    tails = {n}
    for j in range(n - 1, -1, -1):
        if any(j + k in tails and letters[j : j + k] in syl for k in range(1, longest + 1) if j + k <= n):
            tails.add(j)
    return frozenset(heads), frozenset(tails)
