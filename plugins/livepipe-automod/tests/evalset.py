"""The evaluation set (tests/data/eval.toml): load it, run it, score it. Used by the tests and bench/eval.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tomllib

from livepipe_automod.normalize import normalize
from livepipe_automod.rules import validate_rules
from livepipe_automod.ruleset import RuleSet

EVAL_FILE = Path(__file__).parent / "data" / "eval.toml"


@dataclass
class Outcome:
    text: str
    expected: str | None  # the rule that must catch it, or None for ordinary chat
    trick: str
    caught_by: list[str]

    @property
    def correct(self) -> bool:
        return self.expected in self.caught_by if self.expected else not self.caught_by


def load_ruleset(path: Path = EVAL_FILE) -> tuple[RuleSet, dict]:
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    rules = validate_rules(doc["rules"], str(path))
    return RuleSet.build(rules, {r.id: list(r.words) for r in rules}), doc


def run(path: Path = EVAL_FILE) -> list[Outcome]:
    ruleset, doc = load_ruleset(path)
    out = []
    for case in doc["caught"]:
        hits = ruleset.match(normalize(case["text"]), newcomer=True)
        out.append(Outcome(case["text"], case["rule"], case["trick"], sorted(h.rule for h in hits)))
    for text in doc["clean"]:
        hits = ruleset.match(normalize(text), newcomer=True)
        out.append(Outcome(text, None, "ordinary chat", sorted(h.rule for h in hits)))
    return out


def scores(outcomes: list[Outcome]) -> tuple[float, float]:
    """(precision, recall) of "this message is caught" over the whole set."""
    tp = sum(1 for o in outcomes if o.expected and o.expected in o.caught_by)
    fn = sum(1 for o in outcomes if o.expected and o.expected not in o.caught_by)
    fp = sum(1 for o in outcomes if not o.expected and o.caught_by)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall
