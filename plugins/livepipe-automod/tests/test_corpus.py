"""The labelled corpus (tests/corpus/): generated, as committed, big and varied enough, and scored.

The acceptance bar of the plugin: on this corpus with the example rule file, precision >= 0.99 and
recall >= 0.95 overall, and no obfuscation class below 0.90 recall.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from livepipe_automod.evaluate import Report, load_rules, read_corpus, run
from livepipe_automod.normalize import PINYIN, is_cjk

PLUGIN = Path(__file__).resolve().parent.parent
CORPUS = PLUGIN / "tests" / "corpus" / "corpus.jsonl"
RULES = PLUGIN / "examples" / "rules.toml"
sys.path.insert(0, str(PLUGIN / "tests" / "corpus"))

import generate  # noqa: E402


@pytest.fixture(scope="module")
def report() -> Report:
    ruleset = load_rules(RULES)
    return Report.of(run(ruleset, read_corpus(CORPUS)), ruleset)


def test_committed_corpus_is_the_generators_output():
    assert CORPUS.read_text(encoding="utf-8") == generate.render(), \
        "corpus.jsonl is stale: run python plugins/livepipe-automod/tests/corpus/generate.py"


def test_corpus_size_and_mix():
    lines = [json.loads(x) for x in CORPUS.read_text(encoding="utf-8").splitlines()]
    assert len(lines) >= 3000
    tricks = Counter(x["trick"] for x in lines)
    assert tricks["ordinary"] >= len(lines) / 2 - tricks["hard negative"]
    assert sum(1 for x in lines if x["label"] == "good") >= len(lines) / 2
    bad_classes = Counter(x["trick"] for x in lines if x["label"] == "bad")
    assert len(bad_classes) >= 19 and min(bad_classes.values()) >= 30
    assert {"homophone", "typed pinyin", "spaced pinyin", "enclosed letters", "circled digits", "look-alike", "emoji",
            "abbreviation", "repeated word"} <= set(bad_classes)
    assert len({x["text"] for x in lines}) == len(lines)


def test_every_listed_chinese_word_has_hard_negatives():
    """Each listed Chinese word shares a character, or the sound of one, with hard negatives labelled good."""
    good = [x["text"] for x in map(json.loads, CORPUS.read_text(encoding="utf-8").splitlines())
            if x["trick"] == "hard negative"]
    sounds = [{PINYIN[c] for c in t if is_cjk(c)} for t in good]
    words = [w for ws in generate.Gen().words.values() for w in ws if not w.isascii()]
    def near(w: str) -> int:
        return sum(1 for t, s in zip(good, sounds, strict=True) if set(w) & set(t) or {PINYIN[c] for c in w} & s)

    lacking = [w for w in words if near(w) < 3]
    assert lacking == []


def test_precision_and_recall_meet_the_bar(report):
    assert report.overall.precision >= 0.99, list(report.lines())[:40]
    assert report.overall.recall >= 0.95
    low = {t: s.recall for t, s in report.per_trick.items() if s.tp + s.fn and s.recall < 0.90}
    assert low == {}
    assert report.would_ban == []  # no ordinary line meets a hit strong enough to ban


def test_false_positives_and_negatives_name_rule_and_match(report):
    text = "\n".join(report.lines())
    for o in report.false_positives:
        assert f"line {o.case.line}:" in text and o.hits[0].rule in text
    for o in report.false_negatives:
        assert f"line {o.case.line}:" in text
    assert "per" not in text.splitlines()[0]


def test_livepipe_automod_eval_prints_the_numbers():
    r = subprocess.run([sys.executable, "-m", "livepipe", "automod", "eval", str(RULES), str(CORPUS),
                        "--min-precision", "0.99", "--min-recall", "0.95"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    n = len(CORPUS.read_text(encoding="utf-8").splitlines())
    assert first.startswith(f"{n} messages") and "precision 0.99" in first
    assert "homophone" in r.stdout and "false negatives (" in r.stdout
    assert "word segmenter (jieba) loaded once in" in r.stdout
