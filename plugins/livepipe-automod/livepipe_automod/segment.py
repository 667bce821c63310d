"""Chinese word segmentation (jieba), so that a hit must cover whole words a reader would see.

``刷单`` is not found in ``刷单曲`` (刷 / 单曲) and the sound ``sha bi`` not in ``杀必死``: a hit whose
span cuts through a word of the segmentation is not a hit (see matchers.py for which hits are checked).

jieba's dictionary takes about a second to load, so it is loaded once, lazily, by the first hit that
needs it (or by :func:`warm_up`, which the processor calls from a worker thread at start), and
:func:`load_seconds` reports how long that took. Segmentation runs only on candidate hits, never on
every message, and uses jieba's dictionary alone (``HMM=False``): guessing new words would glue an
insult to its neighbour. ``data/chat_words.txt`` adds live-chat words jieba's dictionary lacks.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from pathlib import Path
from typing import Any

CHAT_WORDS = Path(__file__).with_name("data") / "chat_words.txt"

_lock = threading.Lock()
_tokenizer: Any = None
_load_seconds: float | None = None


def _get() -> Any:
    global _tokenizer, _load_seconds
    if _tokenizer is not None:
        return _tokenizer
    with _lock:
        if _tokenizer is None:
            t0 = time.perf_counter()
            import jieba

            jieba.setLogLevel(logging.WARNING)  # jieba logs "Building prefix dict" to stderr otherwise
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            tokenizer.load_userdict(str(CHAT_WORDS))
            _load_seconds = time.perf_counter() - t0
            _tokenizer = tokenizer
    return _tokenizer


def warm_up() -> float:
    """Load the segmenter now (if it is not loaded yet); returns the seconds the load took."""
    _get()
    assert _load_seconds is not None
    return _load_seconds


def load_seconds() -> float | None:
    """Seconds the segmenter took to load, or None while it has not been needed."""
    return _load_seconds


@functools.lru_cache(maxsize=4096)
def word_spans(text: str) -> tuple[tuple[int, int], ...]:
    """The ``(start, end)`` of every word of ``text`` in jieba's segmentation."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for token in _get().cut(text, HMM=False):
        spans.append((pos, pos + len(token)))
        pos += len(token)
    return tuple(spans)


#: Dictionary frequency from which a word counts as ordinary (``纸张`` 270, ``发菜`` 36); slang spellings
#: of insults that jieba's dictionary holds are rarer (``沙比`` 6, ``煞笔`` 3).
COMMON_FREQ = 10


def frequency(word: str) -> int:
    """How often ``word`` occurs in jieba's dictionary (0 when it is not a word there)."""
    return _get().FREQ.get(word) or 0


def starts_a_word(text: str) -> bool:
    """Whether ``text`` is a dictionary word or the start of one (jieba keeps every prefix of its words)."""
    return text in _get().FREQ


def cuts_a_word(text: str, start: int, end: int, *, inside_ok: bool) -> bool:
    """Whether ``text[start:end]`` cuts through an ordinary word of the segmentation.

    A word crossing either edge of the span is cut, if it is an ordinary word (a dictionary
    frequency of at least :data:`COMMON_FREQ`: ``单曲`` in ``刷单曲`` is, the rare ``真傻`` in ``真傻逼``
    is not). With ``inside_ok`` a word that holds the whole span is fine (``去死`` in ``去死吧``);
    without it, the span must be whole words (a sound heard inside one longer word is not that word).
    ``text`` should keep separators (a space is a boundary a reader sees: ``去死 去死``).
    """
    freq = _get().FREQ
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
