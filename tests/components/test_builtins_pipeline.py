"""Built-in components wired together by the real runtime (livepipe.testing.run_pipeline)."""

import json

import pytest

from livepipe import testing
from livepipe.events import make_event

TOML = """
[sources.rec]
type = "replay"
path = "rec.jsonl"

[processors.once]
type = "dedupe"
inputs = ["rec"]

[processors.chat]
type = "filter"
inputs = ["once"]
kinds = ["danmaku", "gift"]
where = [{ field = "text", regex = "(?i)spam", negate = true }]

[processors.by_kind]
type = "route"
inputs = ["chat"]
[processors.by_kind.routes.gifts]
kinds = ["gift"]

[processors.calm]
type = "throttle"
inputs = ["by_kind._unmatched"]
threshold = 2
window = 60
key_field = "uid"

[sinks.log]
type = "file"
inputs = ["calm"]
path = "out/{room_id}-{date}.jsonl"

[sinks.gifts]
type = "testing.capture"
inputs = ["by_kind.gifts"]
"""


@pytest.mark.anyio
async def test_replay_dedupe_filter_route_throttle_file(tmp_path):
    ts = 1_700_000_000.0
    events = [make_event("danmaku", room_id=5, ts=ts + i, uid=1, text=f"hello {i}") for i in range(4)]
    events.insert(1, events[0])  # a duplicate
    events.append(make_event("danmaku", room_id=5, ts=ts + 9, uid=2, text="SPAM here"))
    events.append(make_event("gift", room_id=5, ts=ts + 10, uid=3, data={"num": 1}))
    events.append(make_event("enter", room_id=5, ts=ts + 11, uid=4))
    (tmp_path / "rec.jsonl").write_text("".join(e.to_json() + "\n" for e in events) + "{broken\n")

    await testing.run_pipeline(TOML, tmp_path)

    lines = (tmp_path / "out/5-2023-11-14.jsonl").read_bytes().splitlines(keepends=True)
    # uid 1: the duplicate is dropped, then only 2 per minute pass; spam filtered; enter not a chat kind
    assert lines == [events[0].to_json().encode() + b"\n", events[2].to_json().encode() + b"\n"]
    assert [json.loads(x)["text"] for x in lines] == ["hello 0", "hello 1"]
    assert testing.captured["gifts"] == [events[-2]]
