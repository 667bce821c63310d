"""Print the evaluation set (tests/data/eval.toml), what automod caught, and precision and recall.

Run: python plugins/livepipe-automod/bench/eval.py
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from evalset import run, scores


def main() -> int:
    outcomes = run()
    print(f"{'ok':3} {'trick':14} {'expected':14} {'caught by':28} text")
    for o in outcomes:
        mark = "ok" if o.correct else "XX"
        print(f"{mark:3} {o.trick:14} {o.expected or '-':14} {','.join(o.caught_by) or '-':28} {o.text!r}")
    precision, recall = scores(outcomes)
    by_trick = Counter(o.trick for o in outcomes if o.expected)
    missed = Counter(o.trick for o in outcomes if o.expected and not o.correct)
    print()
    for trick, n in sorted(by_trick.items()):
        print(f"  {trick:14} {n - missed[trick]}/{n} caught")
    clean = [o for o in outcomes if not o.expected]
    print(f"  {'ordinary chat':14} {sum(1 for o in clean if o.correct)}/{len(clean)} left alone")
    print(f"\n{len(outcomes)} messages: precision {precision:.3f}, recall {recall:.3f}")
    return 0 if all(o.correct for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
