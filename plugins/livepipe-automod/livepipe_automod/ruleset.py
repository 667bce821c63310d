"""A compiled rule set: per scope a word and a regex matcher for its word rules; a detector per spam rule."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from livepipe_automod.ladder import Step, parse_step
from livepipe_automod.matchers import RANK, Hit, RegexMatcher, WordMatcher, weaker
from livepipe_automod.normalize import Normalized, normalize
from livepipe_automod.rules import SCOPES, RuleConfig
from livepipe_automod.spam import Detector, FloodDetector, RateDetector, RepeatDetector, SimilarDetector
from livepipe_automod.variants import DEFAULT_SUBSTITUTIONS, Rereader


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


@dataclass(frozen=True)
class Matchers:
    """The word and regex matchers of the rules that apply to one scope."""

    words: WordMatcher
    regexes: RegexMatcher

    def find(self, text: Normalized) -> dict[str, Hit]:
        """Rule id -> its most confident hit in ``text``."""
        hits = {h.rule: h for h in self.words.find(text)}
        if self.regexes.size:
            for h in self.regexes.find(text):
                if h.rule not in hits or RANK[h.confidence] < RANK[hits[h.rule].confidence]:
                    hits[h.rule] = h
        return hits


#: How many texts' hits a :class:`RuleSet` remembers.
MATCH_MEMO_SIZE = 8192


@dataclass
class RuleSet:
    """Rules ready to match. Build it with :meth:`build`."""

    rules: dict[str, RuleConfig]
    ladders: dict[str, list[Step]]
    scopes: dict[str, Matchers]
    rereader: Rereader
    spam: list[tuple[RuleConfig, Detector]] = field(default_factory=list)
    #: (text, newcomer, scope) -> its hits: matching depends on nothing else, and chat repeats itself
    _matched: dict[tuple[str, bool, str], tuple[Hit, ...]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def words(self) -> WordMatcher:
        """The word matcher of danmaku text."""
        return self.scopes["danmaku"].words

    @property
    def regexes(self) -> RegexMatcher:
        """The regex matcher of danmaku text."""
        return self.scopes["danmaku"].regexes

    @classmethod
    def build(cls, rules: list[RuleConfig], words: dict[str, list[str]], previous: RuleSet | None = None,
              substitutions: Mapping[str, str] | None = None,
              on_regex_timeout: Callable[[str], None] | None = None) -> RuleSet:
        """Compile ``rules`` (``words`` maps a rule id to all its words, files included).

        ``substitutions`` change or extend :data:`~livepipe_automod.variants.DEFAULT_SUBSTITUTIONS`
        (an empty value removes an entry). Spam detectors of rules that did not change are taken
        over from ``previous``, so a reload does not forget a wave in progress. ``on_regex_timeout(rule_id)``
        is called when a rule's regex gives up on a message (see :class:`~livepipe_automod.matchers.RegexMatcher`).
        """
        kept: dict[str, tuple[RuleConfig, Detector]] = {r.id: (r, d) for r, d in previous.spam} if previous else {}
        spam: list[tuple[RuleConfig, Detector]] = []
        for r in rules:
            if r.kind == "words":
                continue
            old = kept.get(r.id)
            spam.append((r, old[1]) if old and old[0] == r else (r, make_detector(r)))
        scopes = {}
        for scope in SCOPES:
            scoped = [r for r in rules if r.kind == "words" and scope in r.scope]
            scopes[scope] = Matchers(
                WordMatcher(((r.id, w, r.pinyin) for r in scoped for w in words.get(r.id, [])),
                            allow={r.id: r.allow for r in scoped if r.allow}),
                RegexMatcher(((r.id, p, r.regex_on) for r in scoped for p in r.regexes), on_regex_timeout),
            )
        return cls(
            rules={r.id: r for r in rules},
            ladders={r.id: [parse_step(s) for s in r.ladder] for r in rules},
            scopes=scopes,
            rereader=Rereader({**DEFAULT_SUBSTITUTIONS, **(substitutions or {})}),
            spam=spam,
        )

    def match(self, text: Normalized, *, newcomer: bool, scope: str = "danmaku") -> list[Hit]:
        """Hits of the word and regex rules of ``scope`` that apply (``newcomers`` rules only for a newcomer).

        The text is also read a second time with the substitution table applied and repeated words
        folded (variants.py); a hit found only that way is at most as confident as that reading.
        The hits of the last :data:`MATCH_MEMO_SIZE` texts are remembered (the rules of a set never
        change; a reload builds a new set).
        """
        key = (text.original, newcomer, scope)
        memo = self._matched
        known = memo.get(key)
        if known is not None:
            return list(known)
        out = self._match(text, newcomer, scope)
        if len(memo) >= MATCH_MEMO_SIZE:
            del memo[next(iter(memo))]  # the oldest
        memo[key] = tuple(out)
        return out

    def _match(self, text: Normalized, newcomer: bool, scope: str) -> list[Hit]:
        matchers = self.scopes[scope]
        hits = matchers.find(text)
        for again, how in self.rereader.reread(text):
            for rule, h in matchers.find(normalize(again)).items():
                conf = weaker(h.confidence, how)
                if rule not in hits or RANK[conf] < RANK[hits[rule].confidence]:
                    hits[rule] = Hit(h.rule, h.matched, h.normalized, f"{h.why} after reading {again!r}", conf)
        out = list(hits.values())
        if not newcomer:
            out = [h for h in out if self.rules[h.rule].applies_to == "everyone"]
        return out
