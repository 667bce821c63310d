"""Word and regex matching over normalized text, compiled once per rule set.

* :class:`WordMatcher` finds every listed word in a message's ``folded`` form with one pass over
  the message: each position's two characters are looked up in a hash table of the words' first
  two characters (one-character words: a set intersection), so the cost grows with the message
  length, not the number of words. (A regex alternation of 1,000 words tries them one by one; an
  Aho-Corasick automaton, pyahocorasick, measured 2x slower here on short Chinese messages, its
  root node having a child per distinct first character.) Words marked for pinyin are looked up
  the same way, token by token, in the message's pinyin form.
  A candidate is then checked on the slow path (rare by construction): the message must repeat each
  character at least as often as the word does (``ass`` is not found in ``as``), a character doubled
  into an ordinary word is that word (``他妈妈的`` does not hold ``他妈的``), a two-character Chinese word
  must not cut a word of the segmentation (``刷单`` is not in ``刷单曲``, segment.py), and a word that
  starts or ends with a Latin letter or digit must start or end a token of the message (``sb`` is not
  found in ``is back``, but is in ``s b`` and ``你是sb``).
* :class:`RegexMatcher` runs a rule's regexes on the form the rule chose. All regexes of one form are
  first tried together as one alternation (a single scan finds nothing in most messages); only when
  that finds something is each regex run on its own to tell which rules matched. Regexes run on the
  ``regex`` library (``re``'s syntax) with a time limit per message (:data:`REGEX_TIMEOUT`): a pattern
  that backtracks without end on some message (``(a+)+b``, ``^(a|aa)+$``) gives up on that message,
  which counts as no match, instead of freezing the pipeline; ``on_timeout`` is told which rule.
  A pattern that cannot backtrack without end (:mod:`livepipe_automod.regex_cost`) searches a
  message of up to 200 characters without the limit, which costs more than such a search.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import regex

from livepipe_automod import regex_cost
from livepipe_automod.normalize import (
    Normalized,
    Run,
    clean,
    is_cjk,
    normalize,
    pinyin_form,
    pinyin_tokens,
    pinyin_variant_kinds,
    run_lengths,
    runs,
    syllable_edges,
)
from livepipe_automod.segment import COMMON_FREQ, cuts_a_word, frequency, starts_a_word

#: How a hit matched, strongest first. ``exact``: the word as listed is in the message (case aside);
#: ``normalized``: found once the message is normalized (width, case, look-alikes, separators, repeats,
#: traditional characters, a word typed several times); ``substituted``: found once the substitution
#: table is applied (``🐴`` -> ``妈``, ``nm`` -> ``你妈``); ``typed_pinyin``: the word's syllables typed out
#: in full (``shabi``, ``cao你妈``); ``homophone``: other characters of the same sound (``沙比``);
#: ``fuzzy``: a syllable given by its initial only (``s逼``, ``傻b``).
CONFIDENCE = ("exact", "normalized", "substituted", "typed_pinyin", "homophone", "fuzzy")
RANK = {c: i for i, c in enumerate(CONFIDENCE)}


def weaker(a: str, b: str) -> str:
    """The weaker of two confidence levels."""
    return a if RANK[a] >= RANK[b] else b


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule matching one message: what matched, in which form, how surely and why."""

    rule: str
    matched: str
    normalized: str
    why: str
    confidence: str = "normalized"


@dataclass(frozen=True, slots=True)
class _Word:
    rule: str
    word: str
    key: str
    lengths: tuple[int, ...]
    latin_start: bool
    latin_end: bool
    short_cjk: bool  # two CJK characters: checked against the word segmentation


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


class WordMatcher:
    """Finds listed words (normalized like the messages) in a :class:`Normalized` text."""

    def __init__(self, words: Iterable[tuple[str, str, bool]], allow: Mapping[str, Iterable[str]] | None = None,
                 ) -> None:
        """``words``: ``(rule_id, word, pinyin)`` triples (words that normalize to nothing are ignored);
        ``allow``: per rule, compounds inside which its words are not hits (``刷单曲`` for ``刷单``)."""
        self._bigrams: dict[str, list[_Word]] = {}
        self._singles: dict[str, list[_Word]] = {}
        # pinyin forms by their first two tokens (one-token forms by their only token)
        self._sounds: dict[tuple[str, ...], list[tuple[tuple[str, ...], str, _Word]]] = {}
        self._typed: dict[str, list[tuple[str, _Word]]] = {}
        self._allow = {rule: [k for c in compounds if (k := normalize(c).folded)]
                       for rule, compounds in (allow or {}).items()}
        self.size = 0
        self.pinyin_size = 0
        for rule, word, use_pinyin in words:
            key = normalize(word).folded
            if not key:
                continue
            short = len(key) == 2 and all(is_cjk(c) for c in key) and len(normalize(word).compact) == 2
            w = _Word(rule, word, key, run_lengths(word), _latin(key[0]), _latin(key[-1]), short)
            table = self._singles if len(key) == 1 else self._bigrams
            table.setdefault(key[:2], []).append(w)
            self.size += 1
            kinds = pinyin_variant_kinds(word) if use_pinyin else {}
            if kinds and len(pinyin_form(key).split()) >= 2:  # one syllable alone would match far too much
                for sound, kind in kinds.items():
                    tokens = tuple(sound.split())
                    self._sounds.setdefault(tokens[:2], []).append((tokens, kind, w))
                    if len(tokens) == 1 and kind == "typed_pinyin":  # fully typed: also inside longer pinyin
                        typed = tokens[0][1:]
                        self._typed.setdefault(typed[:2], []).append((typed, w))
                self.pinyin_size += 1
        self._single_chars = frozenset(self._singles)
        #: Whether some hit will be checked against the word segmentation (two-character words, pinyin).
        self.needs_segmenter = bool(self.pinyin_size) or any(w.short_cjk for ws in self._bigrams.values() for w in ws)

    def find(self, text: Normalized) -> list[Hit]:
        """Every rule one of whose words occurs in ``text``: one hit per rule, the most confident one."""
        hits: dict[str, Hit] = {}
        s = text.folded
        bigrams = self._bigrams
        for i in range(len(s) - 1):
            ws = bigrams.get(s[i : i + 2])
            if ws is not None:
                for w in ws:
                    if s.startswith(w.key, i) and self._confirm(text, w, i, i + len(w.key)):
                        self._keep(hits, self._plain_hit(text, w))
        if self._single_chars and not self._single_chars.isdisjoint(s):
            for i, ch in enumerate(s):
                for w in self._singles.get(ch, ()):
                    if self._confirm(text, w, i, i + 1):
                        self._keep(hits, self._plain_hit(text, w))
        if self.pinyin_size:
            self._find_sounds(text, hits)
        return list(hits.values())

    def _find_sounds(self, text: Normalized, hits: dict[str, Hit]) -> None:
        s = text.folded
        names, starts = pinyin_tokens(s)
        sounds = self._sounds
        n = len(names)
        for i, tok in enumerate(names):
            one = sounds.get((tok,))
            two = sounds.get((tok, names[i + 1])) if i + 1 < n else None
            if one is None and two is None:
                continue
            for want, kind, w in (one or []) + (two or []):
                if _better(hits, w.rule, kind) and tuple(names[i : i + len(want)]) == want:
                    start, end = starts[i], starts[i + len(want)]
                    if kind == "homophone" and not _plausible_homophone(s[start:end], w.key):
                        continue
                    if text.compact != s and _doubled_word(runs(text.original)[1][start:end], w.key):
                        continue
                    if not self._allowed(w.rule, s, start, end) and not _cuts(text, start, end, inside_ok=False):
                        heard = " ".join(want).replace("'", "")
                        hits[w.rule] = Hit(w.rule, w.word, heard, f"word {w.word!r} heard as pinyin {heard!r} "
                                           f"({kind.replace('_', ' ')})", kind)
        if not self._typed:
            return
        for name in names:
            tok = name[1:]
            if name[0] != "'" or len(tok) < 4 or not tok.isalpha() or not tok.isascii():
                continue
            for j in range(len(tok) - 3):
                for typed, w in self._typed.get(tok[j : j + 2], ()):
                    if tok.startswith(typed, j) and len(typed) < len(tok) and _better(hits, w.rule, "typed_pinyin"):
                        heads, tails = syllable_edges(tok)
                        if j in heads and j + len(typed) in tails:
                            hits[w.rule] = Hit(w.rule, w.word, typed, f"word {w.word!r} typed as pinyin {typed!r} "
                                               f"inside {tok!r}", "typed_pinyin")

    def _plain_hit(self, text: Normalized, w: _Word) -> Hit:
        exact = w.word.casefold() in text.original.casefold()
        return Hit(w.rule, w.word, w.key, f"word {w.word!r} found as {w.key!r}", "exact" if exact else "normalized")

    @staticmethod
    def _keep(hits: dict[str, Hit], hit: Hit) -> None:
        if _better(hits, hit.rule, hit.confidence):
            hits[hit.rule] = hit

    def _allowed(self, rule: str, s: str, start: int, end: int) -> bool:
        """Whether ``s[start:end]`` lies inside one of the rule's allowed compounds."""
        for compound in self._allow.get(rule, ()):
            i = s.find(compound, max(0, end - len(compound)))
            while 0 <= i <= start:
                if i + len(compound) >= end:
                    return True
                i = s.find(compound, i + 1)
        return False

    def _confirm(self, text: Normalized, w: _Word, start: int, end: int) -> bool:
        """The slow check of a candidate found in ``folded[start:end]`` (see the module docstring)."""
        s = text.folded
        if self._allowed(w.rule, s, start, end):
            return False
        if w.short_cjk and _cuts(text, start, end, inside_ok=True):
            return False
        if w.lengths and all(n == 1 for n in w.lengths) and not (w.latin_start or w.latin_end) and (
                text.compact == s):
            return True
        c, rs = runs(text.original)
        span = rs[start:end]
        if any(r.count < n for r, n in zip(span, w.lengths, strict=False)):
            return False
        if all(n == 1 for n in w.lengths) and _doubled_word(span, w.key):
            return False
        if w.latin_start and not _token_edge(c, span[0].positions[: len(span[0].positions) - w.lengths[0] + 1], -1):
            return False
        return not (w.latin_end and not _token_edge(c, span[-1].positions[w.lengths[-1] - 1 :], +1))


def _cuts(text: Normalized, start: int, end: int, *, inside_ok: bool) -> bool:
    """Whether ``folded[start:end]`` cuts a word of the segmentation of the message's ``clean`` form.

    The clean form keeps separators, which a reader sees as boundaries (``去死 去死`` is two words,
    while its folded ``去死去死`` holds ``死去``); folded positions are mapped to it through the runs.
    The span is read tight, from the last copy of its first character to the first copy of its last
    (``你妈`` in ``你妈妈好`` cuts ``妈妈``), and the whole run must cut too, if the span spans
    more than one copy (``去去去死死`` is a disguise, not ``死死``).
    """
    c, rs = runs(text.original)
    first, last = rs[start].positions, rs[end - 1].positions
    if not cuts_a_word(c, first[-1], last[0] + 1, inside_ok=inside_ok):
        return False
    if len(first) == 1 and len(last) == 1:
        return True
    return cuts_a_word(c, first[0], last[-1] + 1, inside_ok=inside_ok) or not _repeats_elsewhere(rs[start:end])


def _repeats_elsewhere(span: list[Run]) -> bool:
    """Whether the span repeats more than one character, or one more than twice (a disguise, not a word)."""
    repeated = [r for r in span if r.count > 1]
    return len(repeated) > 1 or any(r.count > 2 for r in repeated)


def _doubled_word(span: list[Run], key: str) -> bool:
    """Whether the only repeat in ``span`` is an inner character of the word doubled into an ordinary word.

    ``妈妈`` in ``他妈妈的`` is a word, not ``妈`` typed twice to hide ``他妈的``; a doubled first or last
    character (``杂种种``) is a stutter, the repeats in ``去去去死死`` are a disguise, and so is ``沙沙`` in
    ``沙沙比`` (沙 is not a character of 傻逼).
    """
    repeated = [i for i, r in enumerate(span) if r.count > 1]
    if len(repeated) != 1 or not 0 < repeated[0] < len(span) - 1:
        return False
    r = span[repeated[0]]
    return r.count == 2 and r.char in key and frequency(r.char * 2) >= COMMON_FREQ


def _plausible_homophone(heard: str, key: str) -> bool:
    """Whether characters sounding like the word ``key`` are likely its disguise rather than another word.

    Two syllables match by chance often. A two-character sound that is an ordinary dictionary word is
    that word (``纸张`` is not ``智障``, ``出生`` not ``畜生``), and so is one that begins a longer
    dictionary word (``见人`` of ``见人说人话``, ``指掌`` of ``指掌图``): an ordinary pair of characters.
    Rare spellings the dictionary holds (``沙比``, ``煞笔``) and pairs it does not know (``约袍``,
    ``杀碧``) are disguises. Three syllables rarely meet by chance (``草泥马`` is the insult's
    best-known disguise).
    """
    if len(heard) > 2:
        return True
    freq = frequency(heard)
    return 0 < freq < COMMON_FREQ or not starts_a_word(heard)


def _better(hits: dict[str, Hit], rule: str, confidence: str) -> bool:
    """Whether a hit of ``confidence`` would be more confident than the one ``rule`` already has."""
    old = hits.get(rule)
    return old is None or RANK[confidence] < RANK[old.confidence]


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


#: Seconds the regexes of one form may search one message (the prefilter, then each regex) before giving up.
REGEX_TIMEOUT = 0.1


class RegexMatcher:
    """Runs every rule's regexes on the rule's chosen form of the text, each search time-limited."""

    def __init__(self, regexes: Iterable[tuple[str, str, str]],
                 on_timeout: Callable[[str], None] | None = None, timeout: float = REGEX_TIMEOUT) -> None:
        """``regexes``: ``(rule_id, pattern, form)`` triples; patterns must already be valid.

        ``on_timeout(rule_id)`` is called when a rule's regex gives up on a message, which then counts
        as not matched by it. (When the combined prefilter gives up, each regex is run on its own.)
        """
        # per form: (rule, pattern, compiled, whether a short subject may be searched untimed)
        self._by_form: dict[str, list[tuple[str, str, regex.Pattern[str], bool]]] = {}
        self._prefilter: dict[str, tuple[regex.Pattern[str], bool] | None] = {}
        self._on_timeout = on_timeout
        self.timeout = timeout
        self.size = 0
        for rule, pattern, form in regexes:
            self._by_form.setdefault(form, []).append(
                (rule, pattern, regex.compile(pattern), regex_cost.untimed_ok(pattern)))
            self.size += 1
        for form, items in self._by_form.items():
            if len(items) == 1 or any(_BACKREF.search(p) for _, p, _, _ in items):
                self._prefilter[form] = None  # one regex: no need; backrefs: group numbers would shift
            else:
                joined = "|".join(f"(?:{p})" for _, p, _, _ in items)
                self._prefilter[form] = (regex.compile(joined), regex_cost.untimed_ok(joined))

    def find(self, text: Normalized) -> list[Hit]:
        """Every rule one of whose regexes matches (at most one hit per rule)."""
        hits: dict[str, Hit] = {}
        timeout = self.timeout
        for form, items in self._by_form.items():
            subject = self._form(text, form)
            short = len(subject) <= regex_cost.MAX_UNTIMED_LENGTH
            pre = self._prefilter[form]
            if pre is not None:
                rx, untimed = pre
                try:
                    if (rx.search(subject) if untimed and short else rx.search(subject, timeout=timeout)) is None:
                        continue
                except TimeoutError:
                    pass  # one of them backtracks: each regex on its own finds out which
            for rule, pattern, rx, untimed in items:
                if rule in hits:
                    continue
                try:
                    m = rx.search(subject) if untimed and short else rx.search(subject, timeout=timeout)
                except TimeoutError:
                    if self._on_timeout is not None:
                        self._on_timeout(rule)
                    continue
                if m is not None:
                    hits[rule] = Hit(rule, m.group(0), subject, f"regex {pattern!r} matched {m.group(0)!r} in "
                                     f"the {form} text", "normalized")
        return list(hits.values())

    @staticmethod
    def _form(text: Normalized, form: str) -> str:
        if form == "compact":
            return text.compact
        if form == "folded":
            return text.folded
        return clean(text.original)
