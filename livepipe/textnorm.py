"""Text normalization: the forms a chat message is matched in, so that obfuscation does not hide a word.

One pass per message produces three forms (see :class:`Normalized`):

``clean``
    NFKC (full-width -> half-width, circled and styled letters -> plain), then every character mapped
    once through :data:`CHAR_MAP`: traditional -> simplified Chinese; letters and digits that look
    like ASCII ones -> those (Unicode's confusables table, the Unicode names of negative/squared
    letters and small capitals, the numeric values of dingbat and circled digits); accents stripped;
    case folded; invisible and zero-width characters removed. Spaces and symbols are still there.
``compact``
    ``clean`` without separators: spaces, punctuation, symbols and emoji between characters are gone.
``folded``
    ``compact`` with runs of one repeated character folded to one (``傻傻傻逼`` -> ``傻逼``).

Word lists are normalized with the very same function, so a word and its disguises meet in the
same form. Used by automod (word lists) and the assistant's keyword replies; automod adds pinyin
forms on top (``livepipe_automod.normalize``).

Every per-character decision is computed the first time the character is seen and cached in
:data:`CHAR_MAP` (a ``dict`` whose ``__missing__`` fills it), so the hot path is two
``str.translate`` calls, one ``unicodedata.normalize`` and one regex substitution.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from opencc import OpenCC

__all__ = ["CHAR_MAP", "COMPACT_MAP", "Normalized", "Run", "clean", "fold_repeats", "is_cjk", "is_separator",
           "normalize", "run_lengths", "runs"]

_T2S = OpenCC("t2s")

#: Characters that render as nothing but survive NFKC (zero-width, joiners, BOM, fillers, variation selectors).
_INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u206a\u206b\u206c\u206d\u206e\u206f"
    "\u3164\ufeff\uffa0"
)

#: A Latin letter named in a character's Unicode name: negative/squared/circled/regional-indicator letters
#: and small capitals, which NFKC leaves alone (``🄽``, ``ᴀ``, ``🇳``).
_LETTER_NAME = re.compile(r"(?:LATIN|REGIONAL INDICATOR SYMBOL)\b.*\bLETTER (?:SMALL CAPITAL )?([A-Z])(?: WITH .*)?$")


@functools.cache
def _confusable_latin() -> dict[str, str]:
    """Non-ASCII character -> the ASCII letter or digit Unicode's confusables.txt says it looks like.

    Read from the table the ``confusable_homoglyphs`` package ships (Unicode's confusables.txt as
    JSON): every single character listed as a homoglyph of an ASCII letter or digit.
    """
    import confusable_homoglyphs

    path = Path(confusable_homoglyphs.__file__).with_name("confusables.json")
    table = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for target, glyphs in table.items():
        if len(target) != 1 or not (target.isascii() and target.isalnum()):
            continue
        for g in glyphs:
            c = g["c"]
            if len(c) == 1 and not c.isascii() and not is_cjk(c):
                out.setdefault(c, target.lower())
    return out


def _latin_lookalike(ch: str) -> str | None:
    """The ASCII letter or digit ``ch`` (a letter, digit or symbol that is not CJK) stands for, if any."""
    cat = unicodedata.category(ch)
    if cat[0] in "LN":
        table = _confusable_latin()
        for c in (ch, ch.upper()):
            if c in table:
                return table[c]
    if cat[0] == "N":
        value = unicodedata.numeric(ch, None)
        if value is not None and value == int(value) and 0 <= value < 100:
            return str(int(value))
    m = _LETTER_NAME.search(unicodedata.name(ch, ""))
    return m.group(1).lower() if m else None


def is_separator(ch: str) -> bool:
    """Spaces, punctuation, symbols, emoji, controls and marks: what may sit between a word's characters."""
    cat = unicodedata.category(ch)
    return cat[0] in "PSZC" or cat in ("Mn", "Me", "Lm", "Sk")


def _map_char(ch: str) -> str | None:
    """What one (already NFKC-normalized) character becomes in ``clean``; None removes it.

    In order: invisible characters go; CJK characters become simplified; a character that looks like
    an ASCII letter or digit (Unicode's confusables, enclosed and styled letters, circled digits)
    becomes that letter or digit; accents are stripped; everything else is case folded.
    """
    if ch in _INVISIBLE or 0xFE00 <= ord(ch) <= 0xFE0F or 0xE0100 <= ord(ch) <= 0xE01EF:
        return None
    if is_cjk(ch):
        simple = _T2S.convert(ch)
        return simple if len(simple) == 1 else ch
    if ch.isascii():
        return ch.lower()
    if unicodedata.category(ch) == "Cf":
        return None
    latin = _latin_lookalike(ch)
    if latin is not None:
        return latin
    decomposed = unicodedata.normalize("NFD", ch)
    if len(decomposed) > 1 and all(unicodedata.category(c) == "Mn" for c in decomposed[1:]):
        return _latin_lookalike(decomposed[0]) or decomposed[0].casefold()
    return ch.casefold()


class _CleanMap(dict):
    """``str.translate`` table for ``clean``: filled on first sight of each code point."""

    def __missing__(self, code: int) -> str | None:
        value = _map_char(chr(code))
        self[code] = value
        return value


class _CompactMap(dict):
    """``str.translate`` table for ``compact``: like ``clean``, and what maps to separators is removed."""

    def __missing__(self, code: int) -> str | None:
        value = _map_char(chr(code))
        if value is not None and all(is_separator(c) for c in value):
            value = None
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
    """NFKC (case folding happens per character in the maps, after look-alikes are resolved)."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", text)


def clean(text: str) -> str:
    """The ``clean`` form: NFKC, case folding, the character map; separators kept."""
    return _nfkc_fold(text).translate(CHAR_MAP)


def fold_repeats(text: str) -> str:
    """Fold every run of one repeated character to a single character."""
    return _REPEATS.sub("", text)


def normalize(text: str) -> Normalized:
    """All forms of ``text``; cached per text (spam repeats, so repeats are cheap)."""
    return _normalize(text)


@functools.lru_cache(maxsize=8192)
def _normalize(text: str) -> Normalized:
    compact = _nfkc_fold(text).translate(COMPACT_MAP)
    return Normalized(text, compact, _REPEATS.sub("", compact))


normalize.cache_clear = _normalize.cache_clear  # type: ignore[attr-defined]  # bench/speed.py clears it


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
        if is_separator(ch):
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
