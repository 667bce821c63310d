"""Which rule regexes may search a short message without the time limit (livepipe_automod.regex_cost)."""

from __future__ import annotations

import random

import pytest
import regex

from livepipe_automod.matchers import RegexMatcher
from livepipe_automod.normalize import normalize
from livepipe_automod.regex_cost import MAX_UNTIMED_LENGTH, backtracking_degree, untimed_ok

# Patterns known to backtrack without end on some input (the usual ReDoS shapes), and regex-only syntax.
UNBOUNDED = [
    r"(a+)+b", r"(a*)*b", r"^(a|aa)+$", r"(a|a?)+c", r"([a-zA-Z]+)*x", r"(\w+\s?)+$", r"(x+x+)+y",
    r"(.*a){12}", r"^(([a-z])+.)+[A-Z]([a-z])+$", r"(?:ab?)*c", r"(\d*)*x", r"(?:a|b|ab)+c", r"((ab)*)+c",
    r"(a+)\1", r"(?P<x>a+)(?P=x)", r"(?(1)a|b)", r"\p{Han}+x", r"(?:abc){e<=1}", r"(?r)abc", r"(?V1)[[a-z]--[b]]+",
    r"(?:(?=a).)+b", r"(?:a{2})+b", r"\L<words>",
]

# What streamers write: one or two repeats, none inside another.
BOUNDED = [
    r"(?:加|\+)(?:v|vx|wx|q|qq|微信)\d{6,}", r"代.{0,4}练", r"加v\d{6,}", r"(?:vx|wx)\s*\d{5,}", r"https?://\S+",
    r"[0-9a-z]{6,}@qq\.com", r"^\d+$", r"(?:ab)+c", r"(?>a+)b", r"a{3}b", r"(?=.*约).*微信",
]


@pytest.mark.parametrize("pattern", UNBOUNDED)
def test_patterns_that_can_backtrack_without_end_keep_the_time_limit(pattern: str) -> None:
    assert backtracking_degree(pattern) is None
    assert not untimed_ok(pattern)


@pytest.mark.parametrize("pattern", BOUNDED)
def test_usual_patterns_search_short_messages_untimed(pattern: str) -> None:
    regex.compile(pattern)
    assert untimed_ok(pattern)


def test_the_degree_counts_repeats_in_a_row_and_the_longest_branch() -> None:
    assert backtracking_degree("abc") == 0
    assert backtracking_degree("a{4}") == 0
    assert backtracking_degree(r"\d+") == 1
    assert backtracking_degree(r".*a.*") == 2
    assert backtracking_degree(r"x+|y+z+") == 2
    assert backtracking_degree(r".*.*.*x") == 3
    assert not untimed_ok(r".*.*.*x")  # 3 > MAX_DEGREE: timed


# -- generated patterns: whatever the classifier lets through finishes at once on its worst subjects ----------

ATOMS = ["a", "b", ".", r"\d", "[ab]", "[^b]", r"\w", "(?:ab)"]
QUANTIFIERS = ["", "", "*", "+", "?", "{2,}", "{0,3}", "{2}", "*?", "++"]


def _piece(rng: random.Random, depth: int) -> str:
    roll = rng.random()
    if depth < 3 and roll < 0.25:
        inner = "".join(_piece(rng, depth + 1) for _ in range(rng.randint(1, 3)))
        return f"(?:{inner}){rng.choice(QUANTIFIERS)}"
    if depth < 3 and roll < 0.35:
        alts = "|".join("".join(_piece(rng, depth + 1) for _ in range(rng.randint(1, 2))) for _ in range(2))
        return f"(?:{alts}){rng.choice(QUANTIFIERS)}"
    return rng.choice(ATOMS) + rng.choice(QUANTIFIERS)


def _patterns(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        p = "".join(_piece(rng, 0) for _ in range(rng.randint(1, 4))) + rng.choice(["", "c", "$"])
        try:
            regex.compile(p)
        except regex.error:
            continue
        out.append(p)
    return out


def _worst_subjects() -> list[str]:
    n = MAX_UNTIMED_LENGTH
    return ["a" * n, "a" * (n - 1) + "!", "ab" * (n // 2), "ab" * (n // 2 - 1) + "a!", "1" * (n - 1) + "!"]


def test_generated_patterns_the_classifier_lets_through_never_hit_the_limit() -> None:
    patterns = _patterns(3000)
    untimed = [p for p in patterns if untimed_ok(p)]
    timed = [p for p in patterns if not untimed_ok(p)]
    # the generator makes both kinds in numbers, or this test proves nothing
    assert len(untimed) > 800 and len(timed) > 800, (len(untimed), len(timed))
    for p in untimed:
        rx = regex.compile(p)
        for subject in _worst_subjects():
            # 2 s: a bounded pattern takes well under a millisecond; an exponential one, years
            rx.search(subject, timeout=2.0)  # raises TimeoutError if the classifier were wrong


def test_a_nested_generated_pattern_is_really_slow_untimed() -> None:
    """The other side: a pattern of the kind the classifier refuses does exhaust the limit on such a subject."""
    assert not untimed_ok(r"^(a|aa)+$")
    with pytest.raises(TimeoutError):
        regex.compile(r"^(a|aa)+$").search("a" * 60 + "!", timeout=0.05)


# -- the matcher ----------------------------------------------------------------------------------------------


def test_the_matcher_searches_bounded_patterns_untimed_and_the_others_timed() -> None:
    m = RegexMatcher([("ads", r"加v\d{6,}", "compact"), ("careless", r"(a|aa)+c", "compact")])
    flags = {rule: untimed for rule, _, _, untimed in m._by_form["compact"]}
    assert flags == {"ads": True, "careless": False}
    prefilter = m._prefilter["compact"]
    assert prefilter is not None and prefilter[1] is False  # the alternation holds the careless one
    hits = m.find(normalize("加 Ｖ：１２３ ４５６"))
    assert [h.rule for h in hits] == ["ads"]


def test_a_long_subject_is_searched_timed_even_for_a_bounded_pattern(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []

    class Spy:
        def __init__(self, rx: regex.Pattern[str]) -> None:
            self.rx = rx

        def search(self, subject: str, timeout: object = None) -> object:
            calls.append(timeout)
            return self.rx.search(subject, timeout=timeout)

    m = RegexMatcher([("ads", r"加v\d{6,}", "compact")])
    m._by_form["compact"] = [(r, p, Spy(rx), u) for r, p, rx, u in m._by_form["compact"]]  # type: ignore[misc]
    m.find(normalize("你好" * 10))
    m.find(normalize("你好" * MAX_UNTIMED_LENGTH))
    assert calls == [None, m.timeout]
