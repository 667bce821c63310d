"""Precision and recall of the example rule file on the plugin's labelled corpus, per rule and per trick.

Run: python plugins/livepipe-automod/bench/eval.py [--rules FILE] [--corpus FILE]

The same report as ``livepipe automod eval``, plus the hand-written evaluation set of the early
tests (tests/data/eval.toml) and the segmenter's load time. Exit 1 below the plugin's bar: precision
0.99, recall 0.95 overall, 0.90 for every trick.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

PLUGIN = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PLUGIN / "tests"))

from evalset import run as run_evalset  # noqa: E402
from evalset import scores  # noqa: E402

from livepipe_automod import segment  # noqa: E402
from livepipe_automod.evaluate import Report, load_rules, read_corpus, run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rules", type=Path, default=PLUGIN / "examples" / "rules.toml")
    parser.add_argument("--corpus", type=Path, default=PLUGIN / "tests" / "corpus" / "corpus.jsonl")
    args = parser.parse_args()
    ruleset = load_rules(args.rules)
    cases = read_corpus(args.corpus)
    t0 = time.perf_counter()
    report = Report.of(run(ruleset, cases), ruleset)
    seconds = time.perf_counter() - t0
    for line in report.lines():
        print(line)
    print(f"\nword segmenter (jieba) loaded once in {segment.load_seconds() or 0:.2f} s; "
          f"{len(cases)} messages matched in {seconds:.2f} s (segmenter load included)")
    precision, recall = scores(run_evalset())
    print(f"hand-written evaluation set (tests/data/eval.toml): precision {precision:.3f}, recall {recall:.3f}")
    low = [t for t, s in report.per_trick.items() if s.tp + s.fn and s.recall < 0.90]
    ok = report.overall.precision >= 0.99 and report.overall.recall >= 0.95 and not low
    print("bar (precision >= 0.99, recall >= 0.95, every trick >= 0.90):", "met" if ok else f"NOT met {low}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
