"""Spam detectors, driven with explicit times (the processor passes its clock's)."""

from __future__ import annotations

from livepipe_automod.spam import FloodDetector, RateDetector, RepeatDetector, SimilarDetector


def test_repeat_needs_count_within_window():
    d = RepeatDetector(count=3, window=10)
    assert d.check(0, 1, 7, "hello", "e1") == []
    assert d.check(1, 1, 7, "hello", "e2") == []
    assert d.check(2, 1, 8, "hello", "other user") == []
    assert d.check(3, 1, 7, "hello", "e3") == ["e3"]
    assert RepeatDetector(3, 10).check(0, 1, 7, "x", "a") == []
    slow = RepeatDetector(count=2, window=10)
    slow.check(0, 1, 7, "hi", "a")
    assert slow.check(11, 1, 7, "hi", "b") == []


def test_rate_counts_any_text():
    d = RateDetector(count=2, window=5)
    assert [d.check(t, 1, 7, f"m{t}", t) for t in (0, 1, 2)] == [[], [], [2]]
    assert d.check(10, 1, 7, "late", "late") == []


def test_flood_reports_the_whole_wave_then_each_newcomer_to_it():
    d = FloodDetector(count=3, window=30)
    assert d.check(0, 1, 1, "ad", "a") == []
    assert d.check(1, 1, 2, "ad", "b") == []
    assert d.check(1, 2, 3, "ad", "other room") == []
    assert d.check(2, 1, 2, "ad", "b again") == []  # the same user twice is one poster
    assert d.check(3, 1, 3, "ad", "c") == ["a", "b again", "c"]
    assert d.check(4, 1, 4, "ad", "d") == ["d"]


def test_flood_forgets_posts_older_than_the_window():
    d = FloodDetector(count=2, window=10)
    d.check(0, 1, 1, "ad", "a")
    assert d.check(20, 1, 2, "ad", "b") == []


def test_similar_groups_near_duplicates_of_any_users():
    d = SimilarDetector(count=3, window=60, threshold=80)
    assert d.check(0, 1, 1, "加v123456领福利x", "a") == []
    assert d.check(1, 1, 2, "今天天气不错", "n") == []
    assert d.check(2, 1, 3, "加v123456领福利yz", "b") == []
    assert d.check(3, 1, 4, "加v123456领福利q", "c") == ["a", "b", "c"]
    assert d.check(4, 1, 5, "加v123456领福利w", "d") == ["d"]


def test_memory_is_bounded():
    d = RepeatDetector(count=2, window=10, max_keys=100)
    for uid in range(1000):
        d.check(0, 1, uid, "x", uid)
    assert len(d._seen) == 100
    f = FloodDetector(count=2, window=10, max_keys=50, max_posters=5)
    for i in range(500):
        f.check(0, 1, i, f"t{i % 60}", i)
    assert len(f._waves) == 50 and all(len(w.posters) <= 5 for w in f._waves.values())
    s = SimilarDetector(count=2, window=10, threshold=90, max_recent=20)
    for i in range(100):
        s.check(0, 1, i, f"message number {i}", i)
    assert len(s._rooms[1][1]) == 20
