"""Text normalization: the forms a danmaku is matched in, so that obfuscation does not hide a word.

One pass per message produces three forms (see :class:`Normalized`):

``clean``
    NFKC (full-width -> half-width, circled and styled letters -> plain), case folded, then every
    character mapped once through :data:`CHAR_MAP`: traditional -> simplified Chinese, accents
    stripped, a few look-alike Cyrillic/Greek letters -> Latin, invisible and zero-width characters
    removed. Spaces and symbols are still there.
``compact``
    ``clean`` without separators: spaces, punctuation, symbols and emoji between characters are gone.
``folded``
    ``compact`` with runs of one repeated character folded to one (``傻傻傻逼`` -> ``傻逼``).

Word lists are normalized with the very same function, so a word and its disguises meet in the
same form. :func:`pinyin_form` gives the pinyin reading of a form (homophones); it is expensive and
only computed for rule sets that ask for it.

Every per-character decision is computed the first time the character is seen and cached in
:data:`CHAR_MAP` (a ``dict`` whose ``__missing__`` fills it), so the hot path is two
``str.translate`` calls, one ``unicodedata.normalize`` and one regex substitution.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from opencc import OpenCC

_T2S = OpenCC("t2s")

#: Characters that render as nothing but survive NFKC (zero-width, joiners, BOM, fillers, variation selectors).
_INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u206a\u206b\u206c\u206d\u206e\u206f"
    "\u3164\ufeff\uffa0"
)

#: Cyrillic and Greek letters that look like Latin ones (after case folding).
_LOOKALIKE = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d", "ӏ": "l",
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x",
}


def _is_separator(ch: str) -> bool:
    """Spaces, punctuation, symbols, emoji, controls and marks: what may sit between a word's characters."""
    cat = unicodedata.category(ch)
    return cat[0] in "PSZC" or cat in ("Mn", "Me", "Lm", "Sk")


def _map_char(ch: str) -> str | None:
    """What one (already NFKC-normalized, case-folded) character becomes in ``clean``; None removes it."""
    if ch in _INVISIBLE or 0xFE00 <= ord(ch) <= 0xFE0F or 0xE0100 <= ord(ch) <= 0xE01EF:
        return None
    if ch in _LOOKALIKE:
        return _LOOKALIKE[ch]
    if unicodedata.category(ch) == "Cf":
        return None
    if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0003134f":
        simple = _T2S.convert(ch)
        return simple if len(simple) == 1 else ch
    decomposed = unicodedata.normalize("NFD", ch)
    if len(decomposed) > 1 and all(unicodedata.category(c) == "Mn" for c in decomposed[1:]):
        return decomposed[0]
    return ch


class _CleanMap(dict):
    """``str.translate`` table for ``clean``: filled on first sight of each code point."""

    def __missing__(self, code: int) -> str | None:
        value = _map_char(chr(code))
        self[code] = value
        return value


class _CompactMap(dict):
    """``str.translate`` table for ``compact``: like ``clean``, and separators are removed."""

    def __missing__(self, code: int) -> str | None:
        ch = chr(code)
        value = None if _is_separator(ch) else _map_char(ch)
        self[code] = value
        return value


#: Per-code-point table used to build ``clean``.
CHAR_MAP: dict[int, str | None] = _CleanMap()
#: Per-code-point table used to build ``compact`` (separators removed too).
COMPACT_MAP: dict[int, str | None] = _CompactMap()

#: A character followed by itself: deleting every match folds runs (a lookahead is 4x faster than ``(.)\1+``).
_REPEATS = re.compile(r"(.)(?=\1)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Normalized:
    """The forms of one text (see the module docstring). ``original`` is the text as received."""

    original: str
    compact: str
    folded: str

    @property
    def clean(self) -> str:
        """NFKC + case folding + character map, separators kept (computed on demand)."""
        return clean(self.original)


def _nfkc_fold(text: str) -> str:
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", text).casefold()


def clean(text: str) -> str:
    """The ``clean`` form: NFKC, case folding, the character map; separators kept."""
    return _nfkc_fold(text).translate(CHAR_MAP)


def fold_repeats(text: str) -> str:
    """Fold every run of one repeated character to a single character."""
    return _REPEATS.sub("", text)


@functools.lru_cache(maxsize=8192)
def normalize(text: str) -> Normalized:
    """All forms of ``text``; cached per text (spam repeats, so repeats are cheap)."""
    compact = _nfkc_fold(text).translate(COMPACT_MAP)
    return Normalized(text, compact, _REPEATS.sub("", compact))


@dataclass(frozen=True, slots=True)
class Run:
    """One run of a repeated character in ``compact``: its copies sit at ``positions`` in ``clean``."""

    char: str
    positions: tuple[int, ...]

    @property
    def count(self) -> int:
        """How many copies."""
        return len(self.positions)


def runs(text: str) -> tuple[str, list[Run]]:
    """``clean`` and the runs of ``compact`` (one per ``folded`` character) with their place in ``clean``.

    Slow (pure Python); only used to check a match found in ``folded``.
    """
    c = clean(text)
    out: list[Run] = []
    for i, ch in enumerate(c):
        if _is_separator(ch):
            continue
        if out and out[-1].char == ch:
            out[-1] = Run(ch, (*out[-1].positions, i))
        else:
            out.append(Run(ch, (i,)))
    return c, out


def run_lengths(word: str) -> tuple[int, ...]:
    """How many times each character of ``folded`` repeats in ``compact`` (the word's own spelling)."""
    return tuple(r.count for r in runs(word)[1])


def is_cjk(ch: str) -> bool:
    """True for a CJK unified ideograph (the characters pinyin applies to)."""
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0003134f"


class _PinyinMap(dict):
    """Character -> its default toneless pinyin syllable (``傻`` -> ``sha``); filled on first sight."""

    def __missing__(self, ch: str) -> str:
        from pypinyin import Style, lazy_pinyin

        value = lazy_pinyin(ch, style=Style.NORMAL, errors="default")[0] if is_cjk(ch) else ch
        self[ch] = value
        return value


PINYIN: dict[str, str] = _PinyinMap()


def pinyin_form(folded: str) -> str:
    """Space-separated pinyin tokens of ``folded``, padded with spaces: ``傻b逼`` -> `` sha b bi ``.

    Each CJK character becomes its syllable; each run of other characters stays one token. Matching a
    word's pinyin form (with its padding) inside a text's therefore aligns on syllables.
    """
    tokens: list[str] = []
    other = ""
    for ch in folded:
        if is_cjk(ch):
            if other:
                tokens.append(other)
                other = ""
            tokens.append(PINYIN[ch])
        else:
            other += ch
    if other:
        tokens.append(other)
    return " " + " ".join(tokens) + " "


def pinyin_variants(word: str, max_syllables: int = 4) -> set[str]:
    """The pinyin forms a word can take when its characters are swapped for homophones or typed out.

    Each syllable may stay a (homophone) character, be typed in full or be typed as its initial;
    typed letters next to each other form one token, as they do in :func:`pinyin_form`. The pure
    abbreviation (every syllable an initial, ``sb``) is left out: list it as a plain word if wanted.
    Words of more than ``max_syllables`` syllables get only the all-characters and all-typed forms.
    """
    syllables = pinyin_form(normalize(word).folded).split()
    if not syllables or not all(s.isascii() and s.isalpha() for s in syllables):
        return set()
    choices = ("char", "full", "initial")
    combos: list[tuple[str, ...]] = [()]
    if len(syllables) <= max_syllables:
        for _ in syllables:
            combos = [(*c, x) for c in combos for x in choices]
    else:
        combos = [("char",) * len(syllables), ("full",) * len(syllables)]
    out: set[str] = set()
    for combo in combos:
        if all(x == "initial" for x in combo):
            continue
        tokens: list[str] = []
        typing = ""
        for syl, how in zip(syllables, combo, strict=True):
            if how == "char":
                if typing:
                    tokens.append(typing)
                    typing = ""
                tokens.append(syl)
            else:
                typing += syl if how == "full" else syl[0]
        if typing:
            tokens.append(typing)
        out.add(" " + " ".join(tokens) + " ")
    return out
