"""The evaluation set: every obfuscated variant is caught by its rule, no ordinary message by any rule."""

from __future__ import annotations

import pytest
from evalset import run, scores

OUTCOMES = run()


@pytest.mark.parametrize("o", [o for o in OUTCOMES if o.expected], ids=lambda o: f"{o.trick}:{o.text!r}")
def test_obfuscated_variant_is_caught(o):
    assert o.expected in o.caught_by


@pytest.mark.parametrize("o", [o for o in OUTCOMES if not o.expected], ids=lambda o: repr(o.text))
def test_ordinary_chat_is_left_alone(o):
    assert o.caught_by == []


def test_every_trick_is_covered():
    tricks = {o.trick for o in OUTCOMES if o.expected}
    assert {"full-width", "zero-width", "separators", "homophone", "traditional", "repeats", "mixed case"} <= tricks
    assert scores(OUTCOMES) == (1.0, 1.0)
