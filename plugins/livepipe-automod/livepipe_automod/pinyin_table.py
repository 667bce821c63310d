"""Toneless pinyin of single characters, read from pypinyin's character table without importing pypinyin.

automod asks pypinyin for one character at a time (``lazy_pinyin(ch, style=Style.NORMAL)``): the
first reading of the character's entry in pypinyin's ``pinyin_dict``, tone marks dropped and ``ü``
written ``v`` (pypinyin's phrase table holds no one-character phrases, so it never changes a single
character's reading). Importing pypinyin loads that phrase table (37 MB in a Python process) and a
copy of the character table; this module reads the character table's JSON file (found beside
pypinyin's modules, without importing the package) into a dict of code point -> syllable (about
4 MB). tests/test_pinyin_same.py checks every CJK character against ``lazy_pinyin``.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
import unicodedata
from pathlib import Path


def _json_path() -> Path:
    spec = importlib.util.find_spec("pypinyin")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pypinyin is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pinyin_dict.json"


def _toneless(reading: str) -> str:
    """``lǜ`` -> ``lv``, ``shǎ`` -> ``sha``: as pypinyin's ``Style.NORMAL`` writes a reading."""
    decomposed = unicodedata.normalize("NFD", reading).replace("u\u0308", "v")
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.cache
def _tables() -> tuple[dict[int, str], frozenset[str]]:
    raw: dict[str, str] = json.loads(_json_path().read_text(encoding="utf-8"))
    first: dict[int, str] = {}
    syllables: set[str] = set()
    for key, readings in raw.items():
        first[int(key)] = sys.intern(_toneless(readings.split(",", 1)[0]))
        for r in readings.split(","):
            plain = "".join(c for c in unicodedata.normalize("NFD", r) if not unicodedata.combining(c))
            if plain.isascii() and any(v in plain for v in "aeiouv"):
                syllables.add(plain)
    return first, frozenset(syllables)


def reading(ch: str) -> str:
    """The toneless pinyin of the character ``ch`` (its first reading), or ``ch`` itself if it has none."""
    return _tables()[0].get(ord(ch), ch)


def all_syllables() -> frozenset[str]:
    """Every toneless syllable with a vowel among the readings of the table (``ü`` dropped to ``u``)."""
    return _tables()[1]
