"""The welcome engine: filters, merged bursts, the once-a-day memory across restarts."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from assistant_support import ROOM, Driver, user
from livepipe_assistant.welcome import WelcomeConfig, WelcomeEngine


def engine(tmp_path: Any = None, **config: Any) -> WelcomeEngine:
    cfg = WelcomeConfig.model_validate({"type": "welcome", "inputs": ["src"], "state_file": None, **config})
    path = tmp_path / "welcome.json" if tmp_path is not None else None
    e = WelcomeEngine(cfg, {999}, state_path=path)
    return e


def medal(level: int, room: int = ROOM) -> dict[str, Any]:
    return {"level": level, "name": "粉丝", "room_id": room, "streamer_uid": 1, "guard_level": 0, "is_lighted": True}


def test_a_burst_of_entries_is_merged_into_lines_that_fit():
    d = Driver(engine(max_length=20, window=2, interval=1.5))
    for uid in range(1, 7):
        d.offer(user("enter", uid, uname=f"观众{uid}"))
    d.advance(1.9)
    assert d.texts() == []
    d.advance(5)
    assert all(len(t) <= 20 for t in d.texts())
    welcomed = [u for _, m in d.sent for u in m.data["viewers"]]
    assert sorted(welcomed) == list(range(1, 7))
    assert d.texts()[0] == "欢迎观众1、观众2、观众3、观众4"


def test_entry_effect_and_interact_word_of_one_entrance_are_one_welcome():
    d = Driver(engine())
    d.offer(user("enter", 1))
    d.offer(user("enter", 1, effect=True))
    d.advance(5)
    assert d.texts() == ["欢迎观众1"]


def test_filters_guard_medal_user_level():
    d = Driver(engine(guard_levels=[1, 2, 3]))
    d.offer(user("enter", 1))
    d.offer(user("enter", 2, guard_level=3, uname="舰长A"))
    d.advance(5)
    assert d.texts() == ["欢迎舰长A"]
    assert d.engine.counts["filtered"] == 1

    d = Driver(engine(min_medal_level=10))
    d.offer(user("enter", 1, medal=medal(12), uname="粉丝A"))
    d.offer(user("enter", 2, medal=medal(5)))
    d.offer(user("enter", 3, medal=medal(20, room=42)))  # another room's medal
    d.offer(user("enter", 4))
    d.advance(5)
    assert d.texts() == ["欢迎粉丝A"]

    d = Driver(engine(min_user_level=20))
    d.offer(user("enter", 1, user_level=25, uname="老观众"))
    d.offer(user("enter", 2, user_level=3))
    d.offer(user("enter", 3))  # no level known
    d.advance(5)
    assert d.texts() == ["欢迎老观众"]


def test_once_per_cooldown_also_after_a_restart(tmp_path):
    e = engine(tmp_path, cooldown=3600)
    e.load(1000.0)
    d = Driver(e, start=1000.0)
    d.offer(user("enter", 1))
    d.advance(5)
    d.offer(user("enter", 1))
    d.advance(5)
    assert d.texts() == ["欢迎观众1"]
    assert e.counts["suppressed_cooldown"] == 1
    state = json.loads((tmp_path / "welcome.json").read_text(encoding="utf-8"))
    assert list(state["welcomed"]) == [f"{ROOM}:1"]

    again = engine(tmp_path, cooldown=3600)  # a new process reads the file
    again.load(2000.0)
    d = Driver(again, start=2000.0)
    d.offer(user("enter", 1))
    d.offer(user("enter", 2))
    d.advance(5)
    assert d.texts() == ["欢迎观众2"]

    later = engine(tmp_path, cooldown=3600)  # after the cooldown, welcomed again
    later.load(1000.0 + 3700)
    d = Driver(later, start=1000.0 + 3700)
    d.offer(user("enter", 1))
    d.advance(5)
    assert d.texts() == ["欢迎观众1"]


def test_the_state_file_is_replaced_whole(tmp_path):
    e = engine(tmp_path)
    d = Driver(e)
    for uid in range(1, 30):
        d.offer(user("enter", uid))
        d.advance(2)
    assert [p.name for p in tmp_path.iterdir()] == ["welcome.json"]  # no temporary file left behind
    json.loads((tmp_path / "welcome.json").read_text(encoding="utf-8"))


def test_late_entries_are_dropped_not_welcomed_late():
    d = Driver(engine(max_length=10, interval=2, max_delay=10, window=0))
    for uid in range(100, 140):
        d.offer(user("enter", uid))
    start = d.now
    d.advance(30)
    assert all(t - start <= 8 + 1e-9 for t, _ in d.sent)
    welcomed = sum(len(m.data["viewers"]) for _, m in d.sent)
    assert welcomed + d.engine.counts["dropped_late"] == 40 and d.engine.counts["dropped_late"] > 0


def test_a_max_delay_that_leaves_no_time_is_refused():
    with pytest.raises(ValueError, match="longer than window \\+ interval"):
        engine(window=5, interval=5, max_delay=10)


@pytest.mark.parametrize("content", ['{"version": 1, "welcomed": {"1000:1": 17', "\x00\x00garbage", "[1, 2]",
                                     ""], ids=["truncated", "binary", "not-an-object", "empty"])
def test_a_corrupt_state_file_is_moved_aside_and_welcoming_goes_on(tmp_path, caplog, content):
    (tmp_path / "welcome.json").write_text(content, encoding="utf-8")
    e = engine(tmp_path, cooldown=3600)
    with caplog.at_level(logging.WARNING):
        e.load(1000.0)  # does not raise
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "welcome.json" in warned[0] and "moved to" in warned[0]
    assert (tmp_path / "welcome.json.corrupt").read_text(encoding="utf-8") == content  # kept for a look
    assert not (tmp_path / "welcome.json").exists()
    assert e.counts["state_errors"] == 1
    d = Driver(e, start=1000.0)
    d.offer(user("enter", 1))
    d.advance(5)
    assert d.texts() == ["欢迎观众1"]
    assert list(json.loads((tmp_path / "welcome.json").read_text(encoding="utf-8"))["welcomed"]) == [f"{ROOM}:1"]


def test_a_state_file_that_cannot_be_written_is_logged_and_retried(tmp_path, caplog, monkeypatch):
    """Also as root: the write fails (a full disk, say); welcomes go on, the file is retried later, not per poll."""
    from livepipe_assistant import statefile

    real = statefile.save
    tries: list[float] = []

    def failing(path, data):
        tries.append(1)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(statefile, "save", failing)
    e = engine(tmp_path, cooldown=3600)
    d = Driver(e, start=1000.0)
    with caplog.at_level(logging.ERROR):
        d.offer(user("enter", 1))
        d.advance(5)
        d.offer(user("enter", 1))  # still remembered in memory
        d.advance(5)
    assert d.texts() == ["欢迎观众1"] and e.counts["suppressed_cooldown"] == 1
    assert e.counts["state_errors"] == len(tries) == 1  # one try in these 10 s, not one per poll
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "No space left" in errors[0] and "kept in memory" in errors[0]
    monkeypatch.setattr(statefile, "save", real)
    d.advance(e.SAVE_RETRY + 1)  # the disk has room again: the next try writes the file
    assert list(json.loads((tmp_path / "welcome.json").read_text(encoding="utf-8"))["welcomed"]) == [f"{ROOM}:1"]



def test_a_flood_of_entries_keeps_no_more_waiting_than_could_be_welcomed():
    """500 entries a second: at most capacity wait (each poll looks at every waiting entry, so an unbounded
    queue made a 16,000-entry flood cost ~58 s of CPU); the rest are dropped and counted at once."""
    e = engine(interval=1.5, max_delay=20, max_length=20)
    assert e.capacity == (14 + 1) * 20
    d = Driver(e, step=0.1)
    most = 0
    for uid in range(1, 2001):
        d.offer(user("enter", uid))
        most = max(most, len(e.pending))
        if uid % 50 == 0:
            d.advance(0.1)
    d.advance(30)
    assert most <= e.capacity
    assert e.counts["welcomed"] > 0 and e.counts["welcomed"] + e.counts["dropped_late"] == 1999  # 999 is the bot
    assert all(len(t) <= 20 for t in d.texts())
