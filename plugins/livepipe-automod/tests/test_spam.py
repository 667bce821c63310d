"""Spam detectors, driven with explicit times (the processor passes its clock's)."""

from __future__ import annotations

from livepipe.events import Event, make_event

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


def test_keys_without_a_message_within_the_window_are_forgotten():
    # The soak leak: every one-off text opened a flood wave holding its whole event, and nothing
    # dropped a wave until max_keys (20,000) of them had piled up. Now a table holds about one
    # window's worth of keys, however many distinct texts went by.
    window = 10
    flood = FloodDetector(count=3, window=window)
    repeat = RepeatDetector(count=3, window=window)
    rate = RateDetector(count=3, window=window)
    for i in range(5_000):
        now = i / 2  # two messages a second, each text and each user new
        for d in (flood, repeat, rate):
            d.check(now, 1, i, f"one-off text {i}", f"event {i}")
    per_window = 2 * window + 1
    assert len(flood._waves) <= per_window
    assert sum(len(w.posters) for w in flood._waves.values()) <= per_window
    assert len(repeat._seen) <= per_window and len(rate._seen) <= per_window


def test_expiry_keeps_keys_still_inside_the_window():
    d = FloodDetector(count=3, window=10)
    posts = {0: (1, "a"), 8: (2, "b"), 16: (3, "c"), 18: (4, "d")}
    out = []
    for step in range(37):  # a new text every half second expires in turn; the "ad" wave stays active
        now = step / 2
        d.check(now, 1, 1000 + step, f"noise {step}", step)
        if now in posts:
            uid, event = posts[now]
            out.append(d.check(now, 1, uid, "ad", event))
    assert out == [[], [], [], ["b", "c", "d"]]  # "a" left the window at 16, the wave did not
    assert len(d._waves) == 21 + 1  # the noise of 8 .. 18 (a message exactly one window old counts) and "ad"
    r = RepeatDetector(count=2, window=10)
    r.check(0, 1, 7, "hi", "x")
    r.check(10, 1, 8, "other", "y")
    assert r.check(10, 1, 7, "hi", "z") == ["z"]
    assert r.check(30, 1, 9, "later", "w") == [] and list(r._seen) == [(1, 9, "later")]


def test_waves_keep_small_events_that_still_say_who_posted_what():
    # A wave's earlier posters are kept for a minute: without raw and data (the received message,
    # 1-2 KB each), but with everything automod's actions and flagged events read from them.
    def post(uid: int, text: str) -> Event:
        return make_event("danmaku", cmd="DANMU_MSG", room_id=1, uid=uid, uname=f"u{uid}", text=text,
                          ts=100.0 + uid, data={"medal": {"level": 3}}, raw={"cmd": "DANMU_MSG", "info": [text]})

    flood, similar = FloodDetector(count=3, window=30), SimilarDetector(count=3, window=60, threshold=80)
    near = ["加v123456领福利x", "加v123456领福利y", "加v123456领福利z"]
    for d, texts in ((flood, ["加v123456领福利"] * 3), (similar, near)):
        posts = [post(uid, text) for uid, text in enumerate(texts, 1)]
        out = [d.check(i, 1, ev.uid, ev.text, ev) for i, ev in enumerate(posts)]
        assert out[:2] == [[], []]
        first, second, current = out[2]
        assert current is posts[2]  # the message being checked comes back as it came
        for kept, ev in ((first, posts[0]), (second, posts[1])):
            assert isinstance(kept, Event) and kept.raw is None and kept.data == {}
            assert kept[:8] == ev[:8]  # id, kind, cmd, room, time, user, name, text


def test_repeat_and_rate_keep_only_the_times_they_compare():
    repeat, rate = RepeatDetector(count=3, window=100), RateDetector(count=2, window=100)
    for t in range(10):
        repeat.check(t, 1, 7, "hi", t)
        rate.check(t, 1, 7, f"m{t}", t)
    assert repeat._seen[(1, 7, "hi")] == [7, 8, 9] and rate._seen[(1, 7)] == [7, 8, 9]
