"""A compiled rule set: one word automaton and one regex matcher for all word rules, a detector per spam rule."""

from __future__ import annotations

from dataclasses import dataclass, field

from livepipe_automod.ladder import Step, parse_step
from livepipe_automod.matchers import Hit, RegexMatcher, WordMatcher
from livepipe_automod.normalize import Normalized
from livepipe_automod.rules import RuleConfig
from livepipe_automod.spam import Detector, FloodDetector, RateDetector, RepeatDetector, SimilarDetector


def make_detector(rule: RuleConfig) -> Detector:
    """The spam detector for a ``repeat``, ``flood``, ``similar`` or ``rate`` rule."""
    if rule.kind == "repeat":
        return RepeatDetector(rule.count, rule.window)
    if rule.kind == "flood":
        return FloodDetector(rule.count, rule.window)
    if rule.kind == "similar":
        return SimilarDetector(rule.count, rule.window, rule.threshold)
    if rule.kind == "rate":
        return RateDetector(rule.count, rule.window)
    raise ValueError(f"rule {rule.id!r} of kind {rule.kind!r} has no detector")


@dataclass
class RuleSet:
    """Rules ready to match. Build it with :meth:`build`."""

    rules: dict[str, RuleConfig]
    ladders: dict[str, list[Step]]
    words: WordMatcher
    regexes: RegexMatcher
    spam: list[tuple[RuleConfig, Detector]] = field(default_factory=list)

    @classmethod
    def build(cls, rules: list[RuleConfig], words: dict[str, list[str]], previous: RuleSet | None = None) -> RuleSet:
        """Compile ``rules`` (``words`` maps a rule id to all its words, files included).

        Spam detectors of rules that did not change are taken over from ``previous``, so a reload
        does not forget a wave in progress.
        """
        kept: dict[str, tuple[RuleConfig, Detector]] = {r.id: (r, d) for r, d in previous.spam} if previous else {}
        word_rules = [r for r in rules if r.kind == "words"]
        spam: list[tuple[RuleConfig, Detector]] = []
        for r in rules:
            if r.kind == "words":
                continue
            old = kept.get(r.id)
            spam.append((r, old[1]) if old and old[0] == r else (r, make_detector(r)))
        return cls(
            rules={r.id: r for r in rules},
            ladders={r.id: [parse_step(s) for s in r.ladder] for r in rules},
            words=WordMatcher((r.id, w, r.pinyin) for r in word_rules for w in words.get(r.id, [])),
            regexes=RegexMatcher((r.id, p, r.regex_on) for r in word_rules for p in r.regexes),
            spam=spam,
        )

    def match(self, text: Normalized, *, newcomer: bool) -> list[Hit]:
        """Hits of the word and regex rules that apply (``newcomers`` rules only for a newcomer)."""
        hits = self.words.find(text)
        if self.regexes.size:
            seen = {h.rule for h in hits}
            hits += [h for h in self.regexes.find(text) if h.rule not in seen]
        if not newcomer:
            hits = [h for h in hits if self.rules[h.rule].applies_to == "everyone"]
        return hits
