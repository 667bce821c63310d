"""The processors in a pipeline's shoes: the timer on the context clock sends a thanks when its window ends,
even when no further event arrives; the bot's uid comes from its credential; metrics count."""

from __future__ import annotations

import logging

import anyio
import pytest
from assistant_support import gift
from livepipe_assistant.thanks import Thanks, ThanksConfig

from livepipe.clock import ManualClock
from livepipe.component import Context
from livepipe.events import Event
from livepipe.runtime.metrics import ComponentMetrics, MetricsRegistry

pytestmark = pytest.mark.anyio


def counter(registry: MetricsRegistry, name: str) -> float:
    text = registry.render_prometheus()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


async def test_the_timer_sends_when_the_window_ends_without_another_event(tmp_path):
    clock = ManualClock(start=1_700_000_000.0)
    registry = MetricsRegistry()
    cfg = ThanksConfig.model_validate({"type": "thanks", "inputs": ["src"], "window": 3, "credential": "bot"})
    creds = {"bot": {"sessdata": "s", "bili_jct": "j", "dedeuserid": "4242"}}
    ctx = Context("thanks", ComponentMetrics(registry, "thanks", "thanks"), logging.getLogger("test.thanks"),
                  clock=clock, credentials=creds, config_dir=tmp_path)
    proc = Thanks(cfg, ctx)
    await proc.start()
    out: list[Event] = []

    async def emit(ev: Event, output: str | None = None) -> None:
        out.append(ev)

    try:
        await proc.process(gift(4242, ts=clock.time()), emit)  # the bot itself: ignored
        for _ in range(3):
            await proc.process(gift(1, uname="小明", ts=clock.time()), emit)
            await clock.advance(0.5)
        assert out == []
        with anyio.fail_after(10):
            while not out:
                await clock.advance(0.5)
                await anyio.sleep(0)
        assert [e.text for e in out] == ["谢谢小明的小花花x3"]
        assert out[0].kind == "action.send" and out[0].room_id == 1000 and out[0].data["rule"] == "thanks:gift"
        assert counter(registry, "assistant_thanked_total") == 1
        assert counter(registry, "assistant_merged_total") == 2
        assert counter(registry, "assistant_messages_total") == 1
    finally:
        await proc.stop()


async def test_welcome_starts_on_a_corrupt_state_file_and_says_so(tmp_path, caplog):
    """A half-written state file (a power cut) never keeps the pipeline from running: moved aside, warned."""
    from assistant_support import user
    from livepipe_assistant.welcome import Welcome, WelcomeConfig

    state = tmp_path / "welcome-state.json"
    state.write_text('{"version": 1, "welcomed": {"1000:', encoding="utf-8")
    clock = ManualClock(start=1_700_000_000.0)
    cfg = WelcomeConfig.model_validate({"type": "welcome", "inputs": ["src"], "window": 1,
                                        "state_file": "welcome-state.json"})
    ctx = Context("welcome", ComponentMetrics(MetricsRegistry(), "welcome", "welcome"),
                  logging.getLogger("test.welcome"), clock=clock, credentials={}, config_dir=tmp_path)
    proc = Welcome(cfg, ctx)
    assert list(proc.preflight()) == []  # validate does not refuse the configuration for it
    with caplog.at_level(logging.WARNING):
        await proc.start()
    assert any("welcome-state.json" in r.getMessage() and "moved to" in r.getMessage() for r in caplog.records)
    out: list[Event] = []

    async def emit(ev: Event, output: str | None = None) -> None:
        out.append(ev)

    try:
        await proc.process(user("enter", 7, ts=clock.time()), emit)
        with anyio.fail_after(10):
            while not out:
                await clock.advance(0.5)
                await anyio.sleep(0)
        assert [e.text for e in out] == ["欢迎观众7"]
    finally:
        await proc.stop()
    assert "1000:7" in state.read_text(encoding="utf-8")


@pytest.mark.parametrize("table", [{"cookie_file": "no-such-cookies.json"},
                                   {"sessdata": "SESSDATA-SECRET-1", "bili_jct": "JCT-SECRET-2",
                                    "dedeuserid": "not-a-number"}], ids=["missing-file", "bad-uid"])
async def test_an_unreadable_bot_credential_is_a_warning_and_never_logs_its_values(tmp_path, caplog, table):
    """As for a dry-run bilibili.send: `livepipe test` in CI, with no cookies, still rehearses the bot."""
    clock = ManualClock(start=1_700_000_000.0)
    cfg = ThanksConfig.model_validate({"type": "thanks", "inputs": ["src"], "window": 1, "credential": "bot",
                                       "ignore_uids": [5]})
    ctx = Context("thanks", ComponentMetrics(MetricsRegistry(), "thanks", "thanks"), logging.getLogger("test.thanks"),
                  clock=clock, credentials={"bot": table}, config_dir=tmp_path)
    proc = Thanks(cfg, ctx)
    with caplog.at_level(logging.WARNING):
        await proc.start()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "uid is unknown" in warned[0]
    assert "SECRET" not in caplog.text
    assert proc.engine.gate.ignore == {5}
    out: list[Event] = []

    async def emit(ev: Event, output: str | None = None) -> None:
        out.append(ev)

    try:
        await proc.process(gift(1, uname="小明", ts=clock.time()), emit)
        with anyio.fail_after(10):
            while not out:
                await clock.advance(0.5)
                await anyio.sleep(0)
        assert [e.text for e in out] == ["谢谢小明的小花花x1"]
        assert "SECRET" not in repr(out[0]) and "SECRET" not in str(out[0].data)
    finally:
        await proc.stop()


async def test_an_unknown_credential_name_still_refuses_to_start(tmp_path):
    cfg = ThanksConfig.model_validate({"type": "thanks", "inputs": ["src"], "credential": "bott"})
    ctx = Context("thanks", ComponentMetrics(MetricsRegistry(), "thanks", "thanks"), logging.getLogger("test.thanks"),
                  credentials={"bot": {"cookie_file": "c.json"}}, config_dir=tmp_path)
    with pytest.raises(ValueError, match="'bott' is not a"):
        await Thanks(cfg, ctx).start()


async def test_an_event_with_unreadable_data_does_not_fail_the_processor(tmp_path):
    from livepipe.events import make_event

    clock = ManualClock(start=1_700_000_000.0)
    registry = MetricsRegistry()
    cfg = ThanksConfig.model_validate({"type": "thanks", "inputs": ["src"], "window": 1})
    ctx = Context("thanks", ComponentMetrics(registry, "thanks", "thanks"), logging.getLogger("test.thanks"),
                  clock=clock, config_dir=tmp_path)
    proc = Thanks(cfg, ctx)
    await proc.start()
    out: list[Event] = []

    async def emit(ev: Event, output: str | None = None) -> None:
        out.append(ev)

    try:
        await proc.process(make_event("gift", room_id=1000, uid=3, uname="坏", ts=clock.time(),
                                      data={"gift_name": "小花花", "num": "many", "coin_type": "gold"}), emit)
        await proc.process(gift(1, uname="小明", ts=clock.time()), emit)
        with anyio.fail_after(10):
            while not out:
                await clock.advance(0.5)
                await anyio.sleep(0)
        assert [e.text for e in out] == ["谢谢小明的小花花x1"]
        assert counter(registry, "assistant_bad_events_total") == 1
    finally:
        await proc.stop()
