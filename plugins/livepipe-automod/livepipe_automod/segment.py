"""Chinese word segmentation (jieba's), so that a hit must cover whole words a reader would see.

``刷单`` is not found in ``刷单曲`` (刷 / 单曲) and the sound ``sha bi`` not in ``杀必死``: a hit whose
span cuts through a word of the segmentation is not a hit (see matchers.py for which hits are checked).

The segmentation is jieba's ``Tokenizer().cut(text, HMM=False)`` after ``load_userdict(chat_words.txt)``
(``data/chat_words.txt`` adds live-chat words jieba's dictionary lacks): its dictionary alone, since
guessing new words would glue an insult to its neighbour. jieba itself is not imported here: it
and its dictionary (a dict of 498,000 entries) take 74 MB, so the same words and frequencies are read
from a compact table (:mod:`livepipe_automod.wordfreq`, 3.3 MB) and :func:`cut` runs jieba's
algorithm (``get_DAG``, ``calc``, ``__cut_DAG_NO_HMM``) over it; tests/test_segment_same.py checks that
it cuts exactly as jieba does. The table is loaded once, lazily, by the first hit that needs it (or by
:func:`warm_up`, which the processor calls from a worker thread at start), and :func:`load_seconds`
reports how long that took. Segmentation runs only on candidate hits, never on every message.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Iterator
from math import log

from livepipe_automod import wordfreq
from livepipe_automod.wordfreq import WordFreq

_lock = threading.Lock()
_table: WordFreq | None = None
_load_seconds: float | None = None

# jieba's own patterns (jieba/__init__.py: re_han_default, re_skip_default, re_eng)
_RE_HAN = re.compile("([\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+)", re.U)
_RE_SKIP = re.compile("(\r\n|\\s)", re.U)
_RE_ENG = re.compile("[a-zA-Z0-9]", re.U)


def _get() -> WordFreq:
    global _table, _load_seconds
    if _table is not None:
        return _table
    with _lock:
        if _table is None:
            t0 = time.perf_counter()
            table = wordfreq.load()
            _load_seconds = time.perf_counter() - t0
            _table = table
    return _table


def warm_up() -> float:
    """Load the segmenter now (if it is not loaded yet); returns the seconds the load took."""
    _get()
    assert _load_seconds is not None
    return _load_seconds


def load_seconds() -> float | None:
    """Seconds the segmenter took to load, or None while it has not been needed."""
    return _load_seconds


def cut(text: str, freq: WordFreq | None = None) -> Iterator[str]:
    """The words of ``text``, as jieba's ``cut(text, HMM=False)`` gives them (``freq``: the word table)."""
    freq = freq if freq is not None else _get()
    for block in _RE_HAN.split(text):
        if not block:
            continue
        if _RE_HAN.match(block):
            yield from _cut_block(block, freq)
        else:
            for x in _RE_SKIP.split(block):
                if _RE_SKIP.match(x):
                    yield x
                else:
                    yield from x


def _cut_block(sentence: str, freq: WordFreq) -> Iterator[str]:
    # jieba's get_DAG (every end i such that sentence[k:i+1] is a word with a frequency, else k alone),
    # keeping each word's frequency for calc (``FREQ.get(word) or 1``; a lone character's may be 0 or none)
    n = len(sentence)
    dag: list[list[tuple[int, int]]] = []
    for k in range(n):
        ends = [(k + length - 1, f) for length, f in freq.prefixes(sentence[k:]) if f]
        dag.append(ends or [(k, freq.get(sentence[k]) or 1)])
    # jieba's calc: the most probable route, from the end
    route: list[tuple[float, int]] = [(0, 0)] * (n + 1)
    logtotal = log(freq.total)
    for idx in range(n - 1, -1, -1):
        route[idx] = max((log(f) - logtotal + route[x + 1][0], x) for x, f in dag[idx])
    # jieba's __cut_DAG_NO_HMM: single Latin letters and digits run together
    x = 0
    buf = ""
    while x < n:
        y = route[x][1] + 1
        word = sentence[x:y]
        if _RE_ENG.match(word) and len(word) == 1:
            buf += word
        else:
            if buf:
                yield buf
                buf = ""
            yield word
        x = y
    if buf:
        yield buf


@functools.lru_cache(maxsize=4096)
def word_spans(text: str) -> tuple[tuple[int, int], ...]:
    """The ``(start, end)`` of every word of ``text`` in jieba's segmentation."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for token in cut(text):
        spans.append((pos, pos + len(token)))
        pos += len(token)
    return tuple(spans)


#: Dictionary frequency from which a word counts as ordinary (``纸张`` 270, ``发菜`` 36); slang spellings
#: of insults that jieba's dictionary holds are rarer (``沙比`` 6, ``煞笔`` 3).
COMMON_FREQ = 10


def frequency(word: str) -> int:
    """How often ``word`` occurs in jieba's dictionary (0 when it is not a word there)."""
    return _get().get(word) or 0


def starts_a_word(text: str) -> bool:
    """Whether ``text`` is a dictionary word or the start of one (jieba keeps every prefix of its words)."""
    return text in _get()


def cuts_a_word(text: str, start: int, end: int, *, inside_ok: bool) -> bool:
    """Whether ``text[start:end]`` cuts through an ordinary word of the segmentation.

    A word crossing either edge of the span is cut, if it is an ordinary word (a dictionary
    frequency of at least :data:`COMMON_FREQ`: ``单曲`` in ``刷单曲`` is, the rare ``真傻`` in ``真傻逼``
    is not). With ``inside_ok`` a word that holds the whole span is fine (``去死`` in ``去死吧``);
    without it, the span must be whole words (a sound heard inside one longer word is not that word).
    ``text`` should keep separators (a space is a boundary a reader sees: ``去死 去死``).
    """
    freq = _get()
    for s, e in word_spans(text):
        if e <= start or s >= end:
            continue
        if s >= start and e <= end:
            continue
        if inside_ok and s <= start and e >= end:
            continue
        if (freq.get(text[s:e]) or 0) >= COMMON_FREQ or (not inside_ok and s <= start and e >= end):
            return True
    return False
