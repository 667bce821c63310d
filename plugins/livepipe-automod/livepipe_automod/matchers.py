"""Word and regex matching over normalized text, compiled once per rule set.

* :class:`WordMatcher` finds every listed word in a message's ``folded`` form with one pass over
  the message: each position's two characters are looked up in a hash table of the words' first
  two characters (one-character words: a set intersection), so the cost grows with the message
  length, not the number of words. (A regex alternation of 1,000 words tries them one by one; an
  Aho-Corasick automaton, pyahocorasick, measured 2x slower here on short Chinese messages, its
  root node having a child per distinct first character.) Words marked for pinyin are looked up
  the same way, token by token, in the message's pinyin form.
  A candidate is then checked on the slow path (rare by construction): the message must repeat each
  character at least as often as the word does (``ass`` is not found in ``as``), and a word that
  starts or ends with a Latin letter or digit must start or end a token of the message (``sb`` is not
  found in ``is back``, but is in ``s b`` and ``你是sb``).
* :class:`RegexMatcher` runs a rule's regexes on the form the rule chose. All regexes of one form are
  first tried together as one alternation (a single scan finds nothing in most messages); only when
  that finds something is each regex run on its own to tell which rules matched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from livepipe_automod.normalize import Normalized, clean, normalize, pinyin_form, pinyin_variants, run_lengths, runs


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule matching one message: what matched, in which form, and why."""

    rule: str
    matched: str
    normalized: str
    why: str


@dataclass(frozen=True, slots=True)
class _Word:
    rule: str
    word: str
    key: str
    lengths: tuple[int, ...]
    latin_start: bool
    latin_end: bool
    pinyin: bool = False


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


class WordMatcher:
    """Finds listed words (normalized like the messages) in a :class:`Normalized` text."""

    def __init__(self, words: Iterable[tuple[str, str, bool]]) -> None:
        """``words``: ``(rule_id, word, pinyin)`` triples. Words that normalize to nothing are ignored."""
        self._bigrams: dict[str, list[_Word]] = {}
        self._singles: dict[str, list[_Word]] = {}
        self._sounds: dict[str, list[tuple[tuple[str, ...], _Word]]] = {}
        self.size = 0
        self.pinyin_size = 0
        for rule, word, use_pinyin in words:
            key = normalize(word).folded
            if not key:
                continue
            w = _Word(rule, word, key, run_lengths(word), _latin(key[0]), _latin(key[-1]))
            table = self._singles if len(key) == 1 else self._bigrams
            table.setdefault(key[:2], []).append(w)
            self.size += 1
            variants = pinyin_variants(word) if use_pinyin else set()
            if variants and len(pinyin_form(key).split()) >= 2:  # one syllable alone would match far too much
                for sound in variants:
                    tokens = tuple(sound.split())
                    self._sounds.setdefault(tokens[0], []).append((tokens, w))
                self.pinyin_size += 1
        self._single_chars = frozenset(self._singles)

    def find(self, text: Normalized) -> list[Hit]:
        """Every rule one of whose words occurs in ``text`` (at most one hit per rule)."""
        hits: dict[str, Hit] = {}
        s = text.folded
        bigrams = self._bigrams
        for i in range(len(s) - 1):
            ws = bigrams.get(s[i : i + 2])
            if ws is not None:
                for w in ws:
                    if w.rule not in hits and s.startswith(w.key, i) and self._confirm(text, w, i, i + len(w.key)):
                        hits[w.rule] = Hit(w.rule, w.word, w.key, f"word {w.word!r} found as {w.key!r}")
        if self._single_chars and not self._single_chars.isdisjoint(s):
            for i, ch in enumerate(s):
                for w in self._singles.get(ch, ()):
                    if w.rule not in hits and self._confirm(text, w, i, i + 1):
                        hits[w.rule] = Hit(w.rule, w.word, w.key, f"word {w.word!r} found as {w.key!r}")
        if self.pinyin_size:
            tokens = pinyin_form(s).split()
            sounds = self._sounds
            for i, tok in enumerate(tokens):
                for want, w in sounds.get(tok, ()):
                    if w.rule not in hits and tuple(tokens[i : i + len(want)]) == want:
                        heard = " ".join(want)
                        hits[w.rule] = Hit(w.rule, w.word, heard, f"word {w.word!r} heard as pinyin {heard!r} "
                                           "(homophone)")
        return list(hits.values())

    @staticmethod
    def _confirm(text: Normalized, w: _Word, start: int, end: int) -> bool:
        """The slow check of a candidate found in ``folded[start:end]`` (see the module docstring)."""
        if w.lengths and all(n == 1 for n in w.lengths) and not (w.latin_start or w.latin_end):
            return True
        c, rs = runs(text.original)
        span = rs[start:end]
        if any(r.count < n for r, n in zip(span, w.lengths, strict=False)):
            return False
        if w.latin_start and not _token_edge(c, span[0].positions[: len(span[0].positions) - w.lengths[0] + 1], -1):
            return False
        return not (w.latin_end and not _token_edge(c, span[-1].positions[w.lengths[-1] - 1 :], +1))


def _token_edge(c: str, positions: tuple[int, ...], direction: int) -> bool:
    """Whether a token of ``c`` starts (direction -1) or ends (+1) at one of ``positions``.

    ``positions`` are the copies of one repeated character the word may start (end) with, nearest
    to the word first. Copies glued to each other count as one: ``ssb`` starts a token at its
    first ``s``, while ``iss b`` has no ``s`` starting one.
    """
    ordered = positions[::-1] if direction < 0 else positions
    for p in ordered:
        q = p + direction
        if q < 0 or q >= len(c) or not _latin(c[q]):
            return True
        if c[q] != c[p]:
            return False
    return False


#: The forms a regex can be run on.
REGEX_FORMS = ("compact", "folded", "clean")

_BACKREF = re.compile(r"\\[1-9]|\(\?P=")


class RegexMatcher:
    """Runs every rule's regexes on the rule's chosen form of the text."""

    def __init__(self, regexes: Iterable[tuple[str, str, str]]) -> None:
        """``regexes``: ``(rule_id, pattern, form)`` triples; patterns must already be valid."""
        self._by_form: dict[str, list[tuple[str, str, re.Pattern[str]]]] = {}
        self._prefilter: dict[str, re.Pattern[str] | None] = {}
        self.size = 0
        for rule, pattern, form in regexes:
            self._by_form.setdefault(form, []).append((rule, pattern, re.compile(pattern)))
            self.size += 1
        for form, items in self._by_form.items():
            if any(_BACKREF.search(p) for _, p, _ in items):
                self._prefilter[form] = None  # group numbers would shift inside one alternation
            else:
                self._prefilter[form] = re.compile("|".join(f"(?:{p})" for _, p, _ in items))

    def find(self, text: Normalized) -> list[Hit]:
        """Every rule one of whose regexes matches (at most one hit per rule)."""
        hits: dict[str, Hit] = {}
        for form, items in self._by_form.items():
            subject = self._form(text, form)
            pre = self._prefilter[form]
            if pre is not None and pre.search(subject) is None:
                continue
            for rule, pattern, rx in items:
                if rule in hits:
                    continue
                m = rx.search(subject)
                if m is not None:
                    hits[rule] = Hit(rule, m.group(0), subject, f"regex {pattern!r} matched {m.group(0)!r} in "
                                     f"the {form} text")
        return list(hits.values())

    @staticmethod
    def _form(text: Normalized, form: str) -> str:
        if form == "compact":
            return text.compact
        if form == "folded":
            return text.folded
        return clean(text.original)
