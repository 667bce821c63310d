"""examples/quickstart.toml (the README's demo) runs on a fresh machine: embedded simulator, danmaku out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from livepipe.testing import run_pipeline

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.anyio


async def test_quickstart_shows_live_danmaku_from_the_embedded_simulator(tmp_path, capsys):
    shutil.copy(ROOT / "examples" / "quickstart.toml", tmp_path / "quickstart.toml")
    pipeline = await run_pipeline((tmp_path / "quickstart.toml").read_text(), tmp_path, duration=3)
    source = pipeline.components["live"]
    assert source.ready
    out = capsys.readouterr().out
    assert " danmaku " in out
    lines = [json.loads(x) for p in (tmp_path / "out").glob("quickstart-*.jsonl") for x in p.read_text().splitlines()]
    danmaku = [e for e in lines if e["kind"] == "danmaku"]
    assert danmaku and all(not e["data"]["masked"] and e["uid"] for e in danmaku)  # the demo account: real uids
    assert {e["room_id"] for e in lines if e["kind"] == "source.connected"} == {1000, 22000076}
