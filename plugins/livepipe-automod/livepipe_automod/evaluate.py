"""Scoring a rule file against a labelled corpus (``livepipe automod eval``) and comparing two rule files
on recorded chat (``livepipe automod diff``).

A corpus is JSON Lines, one message a line::

    {"text": "沙比主播", "label": "bad", "rule": "insults", "trick": "homophone"}
    {"text": "杀必死来了", "label": "good", "trick": "hard negative"}

``label`` is ``bad`` (some rule should catch it) or ``good`` (no rule should); ``rule`` (the rule
that should catch it), ``trick`` (a class to report separately) and ``scope`` (``danmaku``, the
default, ``super_chat`` or ``uname``) are optional. A message counts as *caught* when any rule hits
it, whatever the confidence; :attr:`Report.would_ban` counts separately the good messages a hit
strong enough to ban (the rule's ``ban_from``) would have banned.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livepipe.errors import ConfigurationError
from livepipe.events import Event

from livepipe_automod.matchers import RANK, Hit
from livepipe_automod.normalize import normalize
from livepipe_automod.rules import SCOPES, RuleError, RuleSource
from livepipe_automod.ruleset import RuleSet


class CorpusError(ConfigurationError, ValueError):
    """A corpus line cannot be used; the message names the file, the line and the fix."""


@dataclass(frozen=True, slots=True)
class Case:
    """One labelled message of a corpus."""

    text: str
    label: str
    rule: str | None = None
    trick: str | None = None
    scope: str = "danmaku"
    line: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """A case and the hits the rules found in it."""

    case: Case
    hits: tuple[Hit, ...]

    @property
    def caught(self) -> bool:
        """Some rule hit the message."""
        return bool(self.hits)

    @property
    def correct(self) -> bool:
        """Caught if bad, left alone if good."""
        return self.caught == (self.case.label == "bad")


def load_rules(path: Path, substitutions: Mapping[str, str] | None = None) -> RuleSet:
    """Compile a rule file (and the words files it names) as the processor would."""
    source = RuleSource([], path, path.parent, now=lambda: 0.0,
                        build=lambda rules, words: RuleSet.build(rules, words, substitutions=substitutions))
    return source.load()


def read_corpus(path: Path) -> list[Case]:
    """The cases of a JSONL corpus; raises :class:`CorpusError` naming the first bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise CorpusError(f"{path}: {e.strerror or e}") from None
    cases = []
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            d = json.loads(raw)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{path}:{n}: not JSON ({e.msg}); each line is one object like "
                              '{"text": "...", "label": "bad"}') from None
        if not isinstance(d, dict) or not isinstance(d.get("text"), str) or d.get("label") not in ("bad", "good"):
            raise CorpusError(f'{path}:{n}: a line needs "text" (a string) and "label" ("bad" or "good")')
        scope = d.get("scope", "danmaku")
        if scope not in SCOPES:
            raise CorpusError(f"{path}:{n}: scope {scope!r} is not one of {', '.join(SCOPES)}")
        cases.append(Case(d["text"], d["label"], d.get("rule"), d.get("trick"), scope, n))
    return cases


def run(ruleset: RuleSet, cases: Iterable[Case]) -> list[Outcome]:
    """Match every case (every rule applies: newcomer rules too)."""
    return [Outcome(c, tuple(ruleset.match(normalize(c.text), newcomer=True, scope=c.scope))) for c in cases]


@dataclass
class Score:
    """Counts of one slice of the corpus and the ratios they give."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        """Caught bad messages over all caught messages (1.0 when nothing was caught)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """Caught bad messages over all bad messages (1.0 when there are none)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Report:
    """Precision and recall overall, per rule and per trick, and every mistake."""

    outcomes: list[Outcome]
    overall: Score = field(default_factory=Score)
    per_rule: dict[str, Score] = field(default_factory=lambda: defaultdict(Score))
    per_trick: dict[str, Score] = field(default_factory=lambda: defaultdict(Score))
    would_ban: list[Outcome] = field(default_factory=list)
    confidence: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, outcomes: list[Outcome], ruleset: RuleSet) -> Report:
        """Score ``outcomes``."""
        r = cls(outcomes)
        for o in outcomes:
            bad = o.case.label == "bad"
            trick = r.per_trick[o.case.trick or ("-" if bad else "good")]
            for s in (r.overall, trick):
                if bad:
                    s.tp += o.caught
                    s.fn += not o.caught
                else:
                    s.fp += o.caught
                    s.tn += not o.caught
            hit_rules = {h.rule for h in o.hits}
            if bad and o.case.rule:
                rs = r.per_rule[o.case.rule]
                rs.tp += o.case.rule in hit_rules
                rs.fn += o.case.rule not in hit_rules
            for h in o.hits:
                r.confidence[h.confidence] += 1
                if not bad:
                    r.per_rule[h.rule].fp += 1
            if not bad and any(RANK[h.confidence] <= RANK[ruleset.rules[h.rule].ban_from] for h in o.hits):
                r.would_ban.append(o)
        return r

    @property
    def false_positives(self) -> list[Outcome]:
        """Good messages some rule hit."""
        return [o for o in self.outcomes if o.case.label == "good" and o.caught]

    @property
    def false_negatives(self) -> list[Outcome]:
        """Bad messages no rule hit."""
        return [o for o in self.outcomes if o.case.label == "bad" and not o.caught]

    def lines(self) -> Iterator[str]:
        """The report as text: totals, tables per rule and per trick, then every mistake."""
        o = self.overall
        bad = o.tp + o.fn
        yield (f"{len(self.outcomes)} messages ({bad} bad, {o.fp + o.tn} good): precision {o.precision:.3f}, "
               f"recall {o.recall:.3f}  (tp {o.tp}, fp {o.fp}, fn {o.fn})")
        yield f"good messages a ban-strength hit would have banned: {len(self.would_ban)}"
        yield "hits by confidence: " + ", ".join(f"{c} {self.confidence[c]}" for c in RANK if self.confidence[c])
        yield ""
        yield f"{'rule':16} {'recall':>8} {'caught':>9} {'false +':>8}"
        for rule, s in sorted(self.per_rule.items()):
            yield f"{rule:16} {s.recall:8.3f} {s.tp:>4}/{s.tp + s.fn:<4} {s.fp:8}"
        yield ""
        yield f"{'trick':18} {'recall':>8} {'caught':>9} {'false +':>8}"
        for trick, s in sorted(self.per_trick.items(), key=lambda kv: (kv[1].tp + kv[1].fn == 0, kv[0])):
            if s.tp + s.fn:
                yield f"{trick:18} {s.recall:8.3f} {s.tp:>4}/{s.tp + s.fn:<4} {'':8}"
            else:
                yield f"{trick:18} {'':8} {'':9} {s.fp:4}/{s.fp + s.tn:<4}"
        fps, fns = self.false_positives, self.false_negatives
        yield ""
        yield f"false positives ({len(fps)}):"
        for x in fps:
            for h in x.hits:
                yield (f"  line {x.case.line}: {x.case.text!r} [{x.case.trick or '-'}] -> {h.rule} "
                       f"({h.confidence}): {h.why}")
        yield f"false negatives ({len(fns)}):"
        for x in fns:
            yield (f"  line {x.case.line}: {x.case.text!r} [{x.case.trick or '-'}] should be caught by "
                   f"{x.case.rule or 'a rule'}; no rule matched")

    def to_dict(self) -> dict[str, Any]:
        """The numbers as a JSON-able dict."""
        def score(s: Score) -> dict[str, Any]:
            return {"precision": s.precision, "recall": s.recall, "tp": s.tp, "fp": s.fp, "fn": s.fn, "tn": s.tn}

        return {
            "overall": score(self.overall), "would_ban": len(self.would_ban),
            "per_rule": {k: score(v) for k, v in sorted(self.per_rule.items())},
            "per_trick": {k: score(v) for k, v in sorted(self.per_trick.items())},
            "false_positives": [{"line": x.case.line, "text": x.case.text, "hits": [_hit(h) for h in x.hits]}
                                for x in self.false_positives],
            "false_negatives": [{"line": x.case.line, "text": x.case.text, "rule": x.case.rule,
                                 "trick": x.case.trick} for x in self.false_negatives],
        }


def _hit(h: Hit) -> dict[str, str]:
    return {"rule": h.rule, "confidence": h.confidence, "matched": h.matched, "why": h.why}


# ---- diff ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """One recorded message whose verdict differs between two rule sets."""

    line: int
    scope: str
    text: str
    old: tuple[Hit, ...]
    new: tuple[Hit, ...]


def verdict(hits: Iterable[Hit]) -> str:
    """A verdict as text: ``-`` or ``rule (confidence), ...``."""
    return ", ".join(f"{h.rule} ({h.confidence})" for h in sorted(hits, key=lambda h: h.rule)) or "-"


def replay_texts(path: Path, errors: list[str]) -> Iterator[tuple[int, str, str]]:
    """``(line, scope, text)`` of every recorded danmaku and super chat text and user name.

    ``path`` holds events (JSON Lines, as the file sink writes them) or corpus lines (``{"text": ...}``,
    read as danmaku unless they name a ``scope``). A line that is neither is skipped and described in
    ``errors`` (the rest is still read).
    """
    try:
        handle = path.open(encoding="utf-8")
    except OSError as e:
        raise CorpusError(f"{path}: {e.strerror or e}") from None
    with handle:
        for n, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                d = json.loads(raw)
                if isinstance(d, dict) and "kind" not in d and isinstance(d.get("text"), str):
                    scope = d.get("scope", "danmaku")
                    yield n, scope if scope in SCOPES else "danmaku", d["text"]
                    continue
                ev = Event.from_dict(d)
            except (ValueError, TypeError, KeyError, AttributeError) as e:
                errors.append(f"{path}:{n}: not an event ({e}); skipped")
                continue
            if ev.kind in ("danmaku", "super_chat") and ev.text:
                yield n, ev.kind, ev.text
            if ev.kind in ("danmaku", "enter") and ev.uname:
                yield n, "uname", ev.uname


def diff(old: RuleSet, new: RuleSet, texts: Iterable[tuple[int, str, str]]) -> tuple[int, list[Change]]:
    """How many texts were compared, and those whose set of hit rules differs."""
    changes = []
    count = 0
    for n, scope, text in texts:
        count += 1
        norm = normalize(text)
        a = tuple(old.match(norm, newcomer=True, scope=scope))
        b = tuple(new.match(norm, newcomer=True, scope=scope))
        if {h.rule for h in a} != {h.rule for h in b}:
            changes.append(Change(n, scope, text, a, b))
    return count, changes


__all__ = ["Case", "Change", "CorpusError", "Outcome", "Report", "RuleError", "Score", "diff", "load_rules",
           "read_corpus", "replay_texts", "run", "verdict"]
