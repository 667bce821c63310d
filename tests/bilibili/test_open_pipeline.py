"""examples/open.toml runs: the bilibili.open source in a whole pipeline against the embedded simulator."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import tomli_w

from livepipe.testing import load_toml, run_pipeline

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.anyio


async def test_the_open_example_shows_danmaku_and_ends_its_games_on_shutdown(tmp_path, capsys):
    shutil.copy(ROOT / "examples" / "open.toml", tmp_path / "open.toml")
    pipeline = await run_pipeline((tmp_path / "open.toml").read_text(), tmp_path, duration=3)
    source = pipeline.components["open"]
    assert source.ready
    sim = source.context.settings["simulator"]
    lines = [json.loads(x) for p in (tmp_path / "out").glob("open-*.jsonl") for x in p.read_text().splitlines()]
    danmaku = [e for e in lines if e["kind"] == "danmaku"]
    assert danmaku and all(e["cmd"] == "LIVE_OPEN_PLATFORM_DM" and e["data"]["open_id"] for e in danmaku)
    assert {e["room_id"] for e in lines if e["kind"] == "source.connected"} == {1000, 22000076}
    assert " danmaku " in capsys.readouterr().out
    games = {e["data"]["game_id"] for e in lines if e["kind"] == "source.connected"}
    ends = {c["game_id"] for c in sim.open.calls if c["path"] == "/v2/app/end" and c["code"] == 0}
    assert ends == games and all(sim.open.games[g].ended == "end" for g in games)


def test_config_show_and_reprs_redact_the_secret_and_the_identity_codes(tmp_path, monkeypatch):
    monkeypatch.setenv("T_OPEN_SECRET", "s3cr3t-value-0001")
    text = """
[sources.open]
type = "bilibili.open"
app_id = 17
access_key_id = "AKID"
access_key_secret = { env = "T_OPEN_SECRET" }
codes = ["CODEAAAAAAAA1", "CODEBBBBBBBB2"]

[sinks.out]
type = "console"
inputs = ["open"]
"""
    config = load_toml(text, tmp_path)
    spec = config.components["open"]
    shown = tomli_w.dumps(config.display)
    assert 'codes = "<redacted>"' in shown and 'access_key_id = "AKID"' in shown
    blob = shown + repr(spec.config) + str(spec.config.model_dump())
    for secret in ("s3cr3t-value-0001", "CODEAAAAAAAA1", "CODEBBBBBBBB2"):
        assert secret not in blob
    assert spec.config.codes[1].get_secret_value() == "CODEBBBBBBBB2"


def test_config_show_redacts_literal_identity_codes_in_a_credentials_table(tmp_path):
    text = """
[credentials.openapp]
app_id = 17
access_key_id = "AKID"
access_key_secret = "literal-secret-0002"
code = "CODECCCCCCCC3"
codes = ["CODEDDDDDDDD4"]

[sources.open]
type = "bilibili.open"
credential = "openapp"

[sinks.out]
type = "console"
inputs = ["open"]
"""
    config = load_toml(text, tmp_path)
    shown = tomli_w.dumps(config.display)
    assert "app_id = 17" in shown
    for secret in ("literal-secret-0002", "CODECCCCCCCC3", "CODEDDDDDDDD4", "AKID"):
        assert secret not in shown
    assert config.credentials["openapp"]["code"].get_secret_value() == "CODECCCCCCCC3"
