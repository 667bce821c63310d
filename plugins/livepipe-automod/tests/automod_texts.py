"""A large, varied set of chat texts for checking that two implementations read them the same way.

The automod corpus, the simulator's chat phrases, every string of the corpus vocabulary, the bench
rules' words with hard negatives around them, random mixtures of dictionary words, rule words, Latin
letters, digits, spaces and punctuation, and random runs of CJK characters (common and rare).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from livepipe.sim.population import PHRASES

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

CORPUS = Path(__file__).parent / "corpus"

RULE_WORDS = ["傻逼", "操你妈", "去死", "sb", "nmsl", "加微信", "代练", "刷单", "废物", "杀", "沙比", "煞笔", "尼玛"]
HARD_NEGATIVES = ["刷单曲", "杀必死", "去死皮", "代练习", "傻逼格", "加微信群", "纸张", "发菜", "真傻逼", "去死吧",
                  "单曲循环", "沙比克", "操你妈的", "傻 逼", "去死 去死"]  # fmt: skip
FILLERS = ["的", "了", "吗", "啊", "！", "？", " ", "，", "。", "~", "2333", "abc", "A", "1", "+", "#", "._%", "-",
           "\r\n", "\t", "（", "）", "😀", "🐴", "[妙]", "@", "ｓｂ", "Ⅻ", "〇"]  # fmt: skip


def _vocab_strings() -> list[str]:
    doc = tomllib.loads((CORPUS / "vocab.toml").read_text(encoding="utf-8"))
    out: list[str] = []

    def walk(v: object) -> None:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    walk(doc)
    return out


def texts(n_random: int = 6000, seed: int = 20) -> list[str]:
    """The texts (deterministic for a seed): fixed sources first, then ``n_random`` generated mixtures."""
    rng = random.Random(seed)
    corpus = [json.loads(line)["text"] for line in (CORPUS / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
              if line.strip()]  # fmt: skip
    vocab = _vocab_strings()
    fixed = corpus + list(PHRASES) + vocab + RULE_WORDS + HARD_NEGATIVES
    pieces = [*corpus, *PHRASES, *vocab, *RULE_WORDS, *HARD_NEGATIVES]
    common = "".join(sorted({c for t in fixed for c in t if "\u4e00" <= c <= "\u9fff"}))
    out = list(fixed)
    for w in RULE_WORDS:
        for neg in HARD_NEGATIVES:
            out += [w + neg, neg + w, f"{w}{rng.choice(FILLERS)}{neg}"]
    for _ in range(n_random):
        kind = rng.random()
        if kind < 0.5:  # words, rule words and fillers strung together
            extra = RULE_WORDS + FILLERS
            parts = [rng.choice(pieces if rng.random() < 0.7 else extra) for _ in range(rng.randint(1, 6))]
            out.append("".join(parts))
        elif kind < 0.8:  # random runs of characters seen in chat
            out.append("".join(rng.choice(common) for _ in range(rng.randint(1, 30))))
        else:  # any CJK character, rare ones included, with some Latin and punctuation
            chars = [chr(rng.randint(0x4E00, 0x9FFF)) if rng.random() < 0.8 else rng.choice(FILLERS)
                     for _ in range(rng.randint(1, 20))]  # fmt: skip
            out.append("".join(chars))
    return out
