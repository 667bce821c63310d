"""One bad line never stops a replay (issue 16, point 4).

A file of good events mixed with poisoned lines, generated from templates and by hypothesis: every
good line arrives, in order, and every bad one is skipped and counted under its reason; the log
names the first ones with file:line and the fix, then only summarises. Schema-invalid events never
reach a sink, and what does reach one always serializes.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from pathlib import Path

import pytest
from component_helpers import build, metric
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livepipe.clock import ManualClock
from livepipe.components.replay import FIXES, MAX_LOGGED_BAD_LINES, TICK, Replay
from livepipe.events import Event, make_event
from livepipe.testing import run_pipeline

GOOD_KEYS = {"v": 1, "id": "e1", "kind": "danmaku", "cmd": "DANMU_MSG", "room_id": 7, "ts": 1.5, "uid": 3,
             "uname": "u", "text": "t", "data": {}, "raw": None}  # fmt: skip

#: (reason, line template): the poisoned lines.
POISON: list[tuple[str, str]] = [
    ("too_deep", "[" * 100_000),
    ("too_deep", "[" * 100_000 + "]" * 100_000),
    ("too_deep", '{"a":' * 5_000 + "1" + "}" * 5_000),
    ("too_deep", json.dumps({**GOOD_KEYS, "data": {"x": json.loads("[" * 200 + "]" * 200)}})),
    ("bad_json", "{not json"),
    ("bad_json", '{"v": 1, "kind": "danmaku"'),
    ("bad_json", '{"v": 1, "kind": "danmaku", "text": "cut'),
    ("bad_json", "\x00\x01garbage"),
    ("bad_json", "NaNx"),
    ("bad_json", '{"v": 1, "kind": "danmaku", "data": {"x": NaN}}'),
    ("bad_json", '{"v": 1, "kind": "danmaku", "ts": Infinity}'),
    ("bad_json", '{"kind": "danmaku"} trailing'),
    ("not_object", "[1, 2, 3]"),
    ("not_object", '"just a string"'),
    ("not_object", "42"),
    ("not_object", "null"),
    ("unknown_shape", '{"v": 1, "id": "x"}'),
    ("unknown_shape", "{}"),
    ("no_room_id", '{"cmd": "DANMU_MSG", "info": []}'),
    ("invalid_event", json.dumps({**GOOD_KEYS, "id": 5})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "id": ""})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "id": ["a"]})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "room_id": "abc"})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "room_id": 1.5})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "room_id": True})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "room_id": {"id": 1}})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "kind": None})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "kind": ""})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "kind": 3})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "ts": "yesterday"})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "ts": False})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "uid": "3"})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "uid": 3.0})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "uname": 12})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "text": ["t"]})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "cmd": {"c": 1}})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "data": [1]})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "data": "x"})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "raw": "x"})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "raw": [1]})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "v": 2})),
    ("invalid_event", json.dumps({**GOOD_KEYS, "v": "1"})),
    ("invalid_event", '{"v": 1, "kind": "danmaku", "ts": 1e999}'),
]
BAD_UTF8 = b'{"v": 1, "kind": "danmaku", "text": "\xff\xfe"}'


def good_event(i: int, rng: random.Random) -> Event:
    kind = rng.choice(["danmaku", "gift", "enter", "action.ban", "action.send", "custom.plugin"])
    return make_event(kind, room_id=rng.choice([None, 1, 10**12]), ts=1_700_000_000 + i * 0.25,
                      uid=rng.choice([None, 0, 2**40]), uname=rng.choice([None, "名字", ""]),
                      text=rng.choice([None, "", "你好 [doge]", "x" * 300]),
                      data={"n": i, "nested": {"list": [1, {"a": None}]}},
                      raw=rng.choice([None, {"cmd": "X", "info": [[1], "y"]}]))  # fmt: skip


def poisoned_file(path: Path, n_good: int, seed: int) -> tuple[list[Event], Counter[str]]:
    """Write good events and every poison template (several times, shuffled) to ``path``."""
    rng = random.Random(seed)
    good = [good_event(i, rng) for i in range(n_good)]
    bad = [(r, t.encode()) for r, t in POISON * 3] + [("bad_json", BAD_UTF8)] * 2
    lines: list[tuple[str | None, bytes]] = [(None, e.to_json_bytes()) for e in good] + bad
    rng.shuffle(lines)
    # keep the good ones in their original order (the shuffle only interleaves them with the bad ones)
    it = iter(good)
    ordered = [(r, b if r is not None else next(it).to_json_bytes()) for r, b in lines]
    path.write_bytes(b"".join(b + b"\n" for _, b in ordered))
    return good, Counter(r for r, _ in bad)


async def replay_all(src: Replay) -> list[Event]:
    got: list[Event] = []

    async def emit(event: Event, output: str | None = None) -> None:
        got.append(event)

    await src.start()
    await src.run(emit)
    return got


@pytest.mark.anyio
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_every_good_line_arrives_and_every_bad_one_is_counted_by_reason(tmp_path, caplog, seed):
    good, expected = poisoned_file(tmp_path / "rec.jsonl", 400, seed)
    src = build(Replay, {"path": "rec.jsonl"}, config_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="test.x"):
        got = await replay_all(src)
    assert got == good
    assert set(expected) <= set(FIXES)
    for reason, n in expected.items():
        assert metric(src, "replay_bad_lines_total", reason=reason) == n, reason
    total_bad = sum(expected.values())
    assert metric(src, "replay_bad_lines_total") == total_bad == src.bad_lines
    assert metric(src, "component_errors_total", error_type="invalid_line") == total_bad
    # rate-limited: the first lines one by one (file:line, reason, fix), then one summary for the rest
    msgs = [r.getMessage() for r in caplog.records]
    assert len(msgs) == MAX_LOGGED_BAD_LINES + 2
    for m in msgs[:MAX_LOGGED_BAD_LINES]:
        assert m.startswith(f"{tmp_path / 'rec.jsonl'}:") and "(line skipped; " in m
        reason_fix = m.rsplit("(line skipped; ", 1)[1][:-1]
        assert reason_fix in FIXES.values()
    assert f"{total_bad - MAX_LOGGED_BAD_LINES} more bad lines skipped" in msgs[-1]


@pytest.mark.anyio
async def test_the_summary_repeats_only_every_report_interval(tmp_path, caplog):
    from livepipe.clock import ManualClock
    from livepipe.components import replay

    lines = ["{bad"] * (MAX_LOGGED_BAD_LINES + 500)
    (tmp_path / "rec.jsonl").write_text("\n".join(lines) + "\n")
    clock = ManualClock()
    src = build(Replay, {"path": "rec.jsonl"}, clock=clock, config_dir=tmp_path)
    seen = 0
    real_bad = src._bad

    def bad_and_tick(lineno, error):  # time moves 0.1 s per bad line: 50 s over the file
        nonlocal seen
        seen += 1
        clock._now += 0.1
        real_bad(lineno, error)

    src._bad = bad_and_tick
    with caplog.at_level(logging.WARNING, logger="test.x"):
        await replay_all(src)
    summaries = [r.getMessage() for r in caplog.records if "more bad lines skipped" in r.getMessage()]
    assert 4 <= len(summaries) <= 6  # every 10 s of 50 s, plus the one at the end of the file
    assert sum(int(m.split(": ", 1)[1].split()[0]) for m in summaries) == 500
    assert metric(src, "replay_bad_lines_total", reason="bad_json") == len(lines) == seen
    assert replay.BAD_LINE_REPORT_EVERY == 10.0


@pytest.mark.anyio
async def test_schema_invalid_events_never_reach_a_sink(tmp_path):
    good, expected = poisoned_file(tmp_path / "rec.jsonl", 200, 9)
    toml = f"""
[sources.rec]
type = "replay"
path = "{tmp_path / 'rec.jsonl'}"

[sinks.out]
type = "file"
inputs = ["rec"]
path = "{tmp_path / 'out.jsonl'}"
"""
    pipeline = await run_pipeline(toml, tmp_path)
    written = [Event.from_json(line) for line in (tmp_path / "out.jsonl").read_bytes().splitlines()]
    assert written == good
    assert pipeline.metrics.value("replay_bad_lines_total") == sum(expected.values())
    assert pipeline.metrics.value("component_errors_total", component_id="out") == 0


_json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
_json = st.recursive(
    _json_leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3), max_leaves=8
)
_keys = st.sampled_from(["v", "id", "kind", "cmd", "room_id", "ts", "uid", "uname", "text", "data", "raw"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(_keys, _json, max_size=4), drop=st.lists(_keys, max_size=3))
def test_an_event_from_outside_is_rejected_or_has_the_schema_types(changes, drop):
    d = {**GOOD_KEYS, **changes}
    for k in drop:
        d.pop(k, None)
    try:
        e = Event.from_json(json.dumps(d))
    except ValueError:
        return
    assert type(e.id) is str and e.id and type(e.kind) is str and e.kind
    assert all(v is None or type(v) is t for v, t in
               [(e.cmd, str), (e.room_id, int), (e.uid, int), (e.uname, str), (e.text, str)])  # fmt: skip
    assert type(e.ts) is float and isinstance(e.data, dict) and (e.raw is None or isinstance(e.raw, dict))
    assert Event.from_json(e.to_json_bytes()) == e  # what is accepted serializes and reads back


def test_poison_templates_are_what_they_claim():
    """Each template really fails for its reason (else the big test would count the wrong thing)."""
    for reason, text in POISON:
        src = build(Replay, {"path": "x"})
        with pytest.raises(Exception) as info:
            src.parse_line(text.encode())
        assert getattr(info.value, "reason", None) == reason, text[:60]


class LaggyClock(ManualClock):
    """A virtual clock where every sleep oversleeps by ``lag`` and every emit costs ``cost`` seconds,
    as a busy event loop does: a replay that paces by sleeping per event drifts by that much per
    event; one that paces by an absolute schedule does not."""

    def __init__(self, lag: float, cost: float) -> None:
        super().__init__(start=0.0)  # small numbers: no float rounding in the sums
        self.lag, self.cost, self.sleeps = lag, cost, 0

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self._now += max(seconds, 0.0) + self.lag


@pytest.mark.anyio
@pytest.mark.parametrize("speed", [1, 5, 20])
async def test_speed_n_delivers_n_times_the_recorded_rate(tmp_path, speed):
    n, step = 4000, 0.001  # recorded at 1,000 events/s
    events = [make_event("danmaku", ts=1_700_000_000 + i * step, text=str(i)) for i in range(n)]
    (tmp_path / "rec.jsonl").write_bytes(b"".join(e.to_json_bytes() + b"\n" for e in events))
    clock = LaggyClock(lag=0.001, cost=0.00002)  # 1 ms late from every sleep, 20 µs per emit
    src = build(Replay, {"path": "rec.jsonl", "speed": speed}, clock=clock, config_dir=tmp_path)
    at: list[float] = []

    async def emit(event: Event, output: str | None = None) -> None:
        clock._now += clock.cost
        at.append(clock.monotonic())

    await src.start()
    await src.run(emit)
    assert len(at) == n
    wanted = (n - 1) * step / speed
    took = at[-1] - at[0]
    assert wanted - TICK <= took <= wanted + clock.lag + n * clock.cost / speed + 0.01, (took, wanted)
    # every event is on its schedule: at most a tick early, at most one oversleep (plus the emits since) late
    for i in range(0, n, 97):
        due = i * step / speed
        assert due - TICK - clock.cost <= at[i] - at[0] <= due + clock.lag + 0.01, (i, at[i] - at[0], due)
    # events due within the same tick go out together: far fewer sleeps than events at high speed
    assert clock.sleeps <= n * step / speed / 0.001 + 1
