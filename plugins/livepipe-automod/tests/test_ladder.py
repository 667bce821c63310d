"""The action ladder: steps, decay, cooldown, bounded memory."""

from __future__ import annotations

import pytest

from livepipe_automod.ladder import Ladder, Step, parse_step

STEPS = [parse_step(s) for s in ("warn", "ban:1", "ban:24")]


def offend(ladder, now, uid=5, decay=3600.0, cooldown=0.0):
    return ladder.offend("r", 76, uid, STEPS, now=now, decay=decay, cooldown=cooldown)


def test_parse_step():
    assert parse_step("warn") == Step("warn")
    assert parse_step(" BAN:-1 ") == Step("ban", -1)
    assert str(parse_step("ban:0")) == "ban:0"
    for bad in ("kick", "ban:721", "ban:x", "ban"):
        with pytest.raises(ValueError):
            parse_step(bad)


def test_climbs_and_stays_on_the_last_step():
    lad = Ladder()
    assert [str(offend(lad, t).step) for t in (0, 1, 2, 3)] == ["warn", "ban:1", "ban:24", "ban:24"]


def test_one_step_forgotten_per_decay_period():
    lad = Ladder()
    offend(lad, 0)
    offend(lad, 1)  # strike 2
    d = offend(lad, 1 + 3600)  # one forgotten -> strike 2 again
    assert (d.strike, str(d.step)) == (2, "ban:1")
    d = offend(lad, 1 + 3600 + 3 * 3600)
    assert (d.strike, str(d.step)) == (1, "warn")


def test_cooldown_turns_a_burst_into_one_offence():
    lad = Ladder()
    assert offend(lad, 0, cooldown=10).step == Step("warn")
    d = offend(lad, 5, cooldown=10)
    assert d.cooling_down and d.step == Step("flag") and d.strike == 1
    assert offend(lad, 11, cooldown=10).step == Step("ban", 1)


def test_users_are_separate_and_memory_is_bounded():
    lad = Ladder(max_users=10)
    for uid in range(100):
        assert offend(lad, 0, uid=uid).strike == 1
    assert len(lad) == 10
