"""The thanks engine on a fake clock: merging, thresholds, priorities, cooldown and max_delay."""

from __future__ import annotations

from typing import Any

import pytest
from assistant_support import ROOM, Driver, combo, gift, guard, sc, user
from livepipe_assistant.thanks import ThanksConfig, ThanksEngine

from livepipe.events import make_event


def engine(**config: Any) -> ThanksEngine:
    cfg = ThanksConfig.model_validate({"type": "thanks", "inputs": ["src"], **config})
    return ThanksEngine(cfg, {999})


def test_a_burst_of_one_gift_is_one_thanks_after_the_window():
    d = Driver(engine(window=3))
    for _ in range(20):
        d.offer(gift(1, "小心心", coin="silver", price=0, uname="小明"))
        d.advance(0.2)
    assert d.texts() == []  # still inside the window after each gift
    d.advance(2.9)
    assert d.texts() == [], "free gifts are not thanked unless silver = true"

    d = Driver(engine(window=3, silver=True))
    for _ in range(20):
        d.offer(gift(1, "小心心", coin="silver", price=0, uname="小明"))
        d.advance(0.2)
    d.advance(2.5)
    assert d.texts() == []
    d.advance(0.6)
    assert d.texts() == ["谢谢小明的小心心x20"]
    assert d.engine.counts["merged"] == 19 and d.engine.counts["thanked"] == 1


def test_a_combo_end_thanks_at_once_and_its_summary_is_not_thanked_twice():
    d = Driver(engine(window=10))
    for _ in range(5):
        d.offer(gift(1, "打call", price=500, uname="小明"))
    d.offer(combo(1, "打call", 5, price=500, uname="小明"))
    assert d.texts() == ["谢谢小明的打callx5"]
    d.offer(combo(1, "打call", 5, price=500, uname="小明"))  # a repeated summary
    d.advance(15)
    assert d.texts() == ["谢谢小明的打callx5"]


def test_blind_box_gifts_are_thanked_by_what_came_out():
    d = Driver(engine(window=1))
    d.offer(gift(1, "浪漫城堡", price=3000, uname="小明", blind_gift={"original_gift_name": "心动盲盒",
                                                                     "original_gift_price": 1500}))
    d.advance(1.1)
    assert d.texts() == ["谢谢小明的浪漫城堡x1"]
    e = engine(window=1, templates={"gift": "{{ uname }}{% if blind %}从{{ blind }}{% endif %}开出{{ gift }}"})
    d = Driver(e)
    d.offer(gift(1, "浪漫城堡", price=3000, uname="小明", blind_gift={"original_gift_name": "心动盲盒"}))
    d.advance(1.1)
    assert d.texts() == ["小明从心动盲盒开出浪漫城堡"]


def test_several_viewers_small_gifts_share_a_line_when_it_fits():
    d = Driver(engine(window=1, max_length=30, interval=5))
    d.offer(gift(1, uname="甲"))
    d.offer(gift(2, uname="乙"))
    d.offer(gift(3, uname="丙"))
    d.advance(1.1)
    assert d.texts() == ["谢谢甲、乙、丙的礼物"]
    assert d.engine.counts["thanked"] == 3 and d.engine.counts["merged"] == 2
    assert d.sent[0][1].data["viewers"] == [1, 2, 3]


def test_a_merged_line_never_exceeds_max_length():
    d = Driver(engine(window=1, max_length=20, interval=1, max_delay=60))
    for uid in range(1, 21):
        d.offer(gift(uid, uname=f"长名字观众{uid}"))
    d.advance(40)
    assert d.texts() and all(len(t) <= 20 for t in d.texts())
    thanked = [u for _, m in d.sent for u in m.data["viewers"]]
    assert sorted(thanked) == list(range(1, 21))


def test_priority_super_chat_and_guard_before_large_before_small_before_follows():
    d = Driver(engine(window=1, interval=2, max_delay=60, large_yuan=10, cooldown=0))
    d.offer(user("follow", 5))
    d.offer(gift(4, uname="小礼物"))                     # ¥0.1
    d.offer(gift(3, "告白气球", price=52000, uname="大礼物"))  # ¥52: large
    d.offer(guard(2))
    d.offer(sc(1, 30))
    d.advance(20)
    kinds = [m.data["rule"] for _, m in d.sent]
    assert kinds[:2] == ["thanks:super_chat", "thanks:guard"]
    assert kinds[2:] == ["thanks:gift", "thanks:gift", "thanks:follow"]
    assert "大礼物" in d.texts()[2] and "小礼物" in d.texts()[3]


def test_a_super_chat_jumps_the_queue_of_pending_gifts():
    d = Driver(engine(window=0.5, interval=2, max_delay=60, max_length=12))
    for uid in range(1, 11):
        d.offer(gift(uid, uname=f"观众名{uid}"))
    d.advance(3)  # the first thanks went out; the rest wait for slots
    assert len(d.sent) == 2
    d.offer(sc(77, 100))
    d.advance(2.01)
    assert d.sent[2][1].data["rule"] == "thanks:super_chat"


def test_nothing_is_sent_later_than_max_delay_and_the_rest_is_counted_dropped():
    d = Driver(engine(window=1, interval=2, max_delay=10, max_length=12))
    for uid in range(1, 31):
        d.offer(gift(uid, uname=f"观众名{uid}"))
    start = d.now
    d.advance(60)
    assert d.sent
    assert all(t - start <= 10 - 2 + 1e-9 for t, _ in d.sent)  # one interval is left for the sink
    gaps = [b - a for (a, _), (b, _) in zip(d.sent, d.sent[1:], strict=False)]
    assert all(g >= 2 - 1e-9 for g in gaps)
    thanked = sum(len(m.data["viewers"]) for _, m in d.sent)
    assert thanked + d.engine.counts["dropped_late"] == 30
    assert d.engine.counts["dropped_late"] > 0


def test_per_viewer_cooldown_suppresses_small_gifts_not_large_ones():
    d = Driver(engine(window=1, cooldown=60, large_yuan=10))
    d.offer(gift(1, uname="小明"))
    d.advance(2)
    d.offer(gift(1, uname="小明"))
    d.advance(2)
    assert d.texts() == ["谢谢小明的小花花x1"]
    assert d.engine.counts["suppressed_cooldown"] == 1
    d.offer(gift(1, "告白气球", price=52000, uname="小明"))
    d.advance(2)
    assert d.texts()[-1] == "谢谢小明的告白气球x1"
    d.advance(60)
    d.offer(gift(1, uname="小明"))
    d.advance(2)
    assert len(d.texts()) == 3


def test_thresholds_in_yuan():
    d = Driver(engine(window=1, min_yuan=1))
    d.offer(gift(1, uname="少"))             # ¥0.1
    d.offer(gift(2, num=10, uname="够"))     # ¥1.0 in one message
    d.advance(3)
    assert d.texts() == ["谢谢够的小花花x10"]
    assert d.engine.counts["below_threshold"] == 1


def test_guard_and_its_toast_are_thanked_once():
    d = Driver(engine())
    d.offer(guard(1, 3))
    d.offer(guard(1, 3, toast=True))
    d.advance(10)
    d.offer(guard(1, 3, toast=True))  # a late toast
    d.advance(10)
    assert d.texts() == ["谢谢观众1开通舰长"]


def test_own_account_other_bots_and_offline_rooms_are_not_thanked():
    e = ThanksEngine(ThanksConfig.model_validate({"type": "thanks", "inputs": ["s"], "ignore_uids": [5]}), {999})
    d = Driver(e)
    d.offer(gift(999))
    d.offer(gift(5))
    d.offer(make_event("preparing", room_id=ROOM))
    d.offer(gift(1))
    d.advance(10)
    assert d.texts() == []
    d.offer(make_event("live", room_id=ROOM))
    d.offer(gift(2))
    d.advance(10)
    assert d.texts() == ["谢谢观众2的小花花x1"]


def test_when_always_thanks_offline_too():
    d = Driver(engine(when="always"))
    d.offer(make_event("preparing", room_id=ROOM))
    d.offer(user("follow", 1))
    d.advance(5)
    assert d.texts() == ["谢谢观众1的关注"]


@pytest.mark.parametrize(("template", "message"), [
    ("{{ uname }} {{ gift|shrot }}", "shrot"),
    ("{{ unmae }}", "did you mean 'uname'"),
    ("{% if %}", "templates.gift"),
])
def test_bad_templates_fail_validation(template, message):
    with pytest.raises(ValueError, match=message):
        ThanksConfig.model_validate({"type": "thanks", "inputs": ["s"], "templates": {"gift": template}})


def test_templates_see_the_first_event_and_its_typed_view():
    medal = {"level": 12, "name": "小鱼", "room_id": ROOM, "streamer_uid": 1, "guard_level": 0, "is_lighted": True}
    e = engine(window=1, templates={"gift": "{% if event.gift.medal %}{{ event.gift.medal.name }}{{ "
                                            "event.gift.medal.level }}级{% endif %}{{ uname }}x{{ num }}"})
    d = Driver(e)
    d.offer(gift(1, uname="小明", medal=medal))
    d.offer(gift(1, uname="小明", medal=medal))
    d.advance(2)
    d.offer(gift(2, uname="小红"))
    d.advance(2)
    assert d.texts() == ["小鱼12级小明x2", "小红x1"]
    with pytest.raises(ValueError, match="unknown field 'event.gift.nmae'"):
        engine(templates={"gift": "{{ event.gift.nmae }}"})


def test_a_max_delay_that_leaves_no_time_is_refused():
    with pytest.raises(ValueError, match="more than twice interval"):
        engine(interval=5, max_delay=10)


@pytest.mark.parametrize("name, said", [
    ("小\n明", "谢谢小 明的小花花x1"),                   # a line break: one line of chat
    ("\u202e明小", "谢谢明小的小花花x1"),                 # a right-to-left override would turn the rest around
    ("\u2066小明\u2069\u200f", "谢谢小明的小花花x1"),     # isolates and marks
    ("\x00\x07小明\x1b[31m", "谢谢小明[31m的小花花x1"),   # NUL, bell, escape
    ("x" * 500, "谢谢xxxxxx…的小花花x1"),
    ("😀👨\u200d👩\u200d👧", "谢谢😀👨\u200d👩\u200d👧的小花花x1"),  # the joiner of a family emoji stays
    ("  \n ", "谢谢42的小花花x1"),                       # nothing left: the uid
])
def test_viewer_names_become_one_plain_line(name, said):
    d = Driver(engine())
    d.offer(gift(42, uname="placeholder").replace(uname=name))
    d.advance(10)
    assert d.texts() == [said]


def test_a_gift_whose_data_cannot_be_read_is_skipped_and_counted(caplog):
    e = engine()
    d = Driver(e)
    for data in ({"gift_name": "小花花", "num": "x", "coin_type": "gold"}, {"num": [1]}):
        assert e.take(make_event("gift", room_id=ROOM, uid=5, uname="坏", data=data), d.now) is False
    assert e.take(make_event("super_chat", room_id=ROOM, uid=6, uname="坏", data={"price": "abc"}), d.now) is False
    d.offer(gift(1, uname="小明"))
    d.advance(10)
    assert d.texts() == ["谢谢小明的小花花x1"]
    assert e.counts["bad_events"] == 3
    assert len([r for r in caplog.records if "cannot read" in r.getMessage()]) == 2  # once per kind (rate-limited)


def test_a_raid_of_follows_is_bounded_and_paid_thanks_still_get_through(caplog):
    """5,000 accounts follow within a second: at most MAX_PENDING thanks wait (memory and the work of each
    tick stay bounded), the rest are dropped and counted with one warning, and a super chat, a guard and a
    large gift arriving in the middle of it still get their thanks first."""
    from livepipe_assistant.thanks import MAX_PENDING

    d = Driver(engine(window=1, cooldown=0))
    for uid in range(10_000, 15_000):
        d.offer(user("follow", uid, uname=f"raid{uid}"))
    assert len(d.engine.pending) == MAX_PENDING
    assert d.engine.counts["dropped_full"] == 5_000 - MAX_PENDING
    for paid in (sc(1, price=50, text="顶住"), guard(2, level=3), gift(3, "告白气球", price=52_000, uname="大哥")):
        d.offer(paid)
        assert len(d.engine.pending) <= MAX_PENDING
    assert d.engine.counts["dropped_full"] > 5_000 - MAX_PENDING  # a follow made way for a paid thanks
    d.advance(10)
    texts = d.texts()
    assert texts[:3] == ["谢谢观众1的SC", "谢谢观众2开通舰长", "谢谢大哥的告白气球x1"], texts[:4]
    assert len([r for r in caplog.records if "thanks are waiting already" in r.getMessage()]) == 1
