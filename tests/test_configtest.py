"""`livepipe test`: [[tests]] blocks in pipeline TOML."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PIPELINE = """
[sources.room]
type = "replay"
path = "never-read.jsonl"

[processors.chat]
type = "filter"
inputs = ["room"]
kinds = ["danmaku"]

[processors.split]
type = "route"
inputs = ["chat"]
[processors.split.routes.links]
where = [{ field = "text", regex = "https?://" }]

[sinks.log]
type = "file"
inputs = ["chat"]
path = "out.jsonl"
"""


def run(tmp_path: Path, tests: str, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "p.toml").write_text(PIPELINE + tests, encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "livepipe", "test", "p.toml", *extra], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_passing_tests_and_mocked_sink_is_never_called(tmp_path):
    r = run(tmp_path, """
[[tests]]
name = "links are routed"
mocks = ["log"]
[[tests.inputs]]
insert_at = "chat"
events = [{ kind = "danmaku", uid = 1, text = "see http://x.example" },
          { kind = "danmaku", uid = 2, text = "hello" }, { kind = "gift", uid = 3 }]
[[tests.outputs]]
extract_from = "split.links"
count = 1
conditions = [{ field = "uid", equals = 1 }, { field = "text", contains = "http" },
              { field = "text", matches = "x\\\\.example$" }]
[[tests.outputs]]
extract_from = "log"
count = 2
match = "any"
conditions = [{ field = "uid", equals = 2 }]
""")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok    links are routed" in r.stdout
    assert r.stdout.strip().endswith("1 passed, 0 failed")
    assert not (tmp_path / "out.jsonl").exists()  # the mocked file sink never wrote


def test_failure_shows_a_diff_and_exits_1(tmp_path):
    r = run(tmp_path, """
[[tests]]
name = "wrong expectation"
mocks = ["log"]
no_outputs_from = ["split.links"]
[[tests.inputs]]
insert_at = "room"
events = [{ kind = "danmaku", uid = 2, text = "hello" }]
[[tests.outputs]]
extract_from = "split._unmatched"
conditions = [{ field = "text", equals = "bye" }]
""")
    assert r.returncode == 1
    assert "FAIL  wrong expectation" in r.stdout
    assert "outputs[0] from split._unmatched: event 0: expected text == 'bye', got 'hello'" in r.stdout
    assert '{"kind": "danmaku", "uid": 2, "text": "hello"}' in r.stdout
    assert r.stdout.strip().endswith("0 passed, 1 failed")


def test_no_outputs_from_catches_output(tmp_path):
    r = run(tmp_path, """
[[tests]]
name = "links must not pass"
mocks = ["log"]
no_outputs_from = ["split.links"]
[[tests.inputs]]
insert_at = "chat"
events = [{ kind = "danmaku", text = "http://spam.example" }]
""")
    assert r.returncode == 1
    assert "no_outputs_from split.links: expected nothing, got 1 events" in r.stdout


def test_raw_bilibili_input_and_real_sink_and_json_subset(tmp_path):
    import tomli_w

    def no_nulls(v):  # TOML has no null; a user writes such messages without them too
        if isinstance(v, dict):
            return {k: no_nulls(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [no_nulls(x) for x in v if x is not None]
        return v

    msg = no_nulls(json.loads((ROOT / "examples/data/room_1001.jsonl").read_text().splitlines()[1]))
    assert msg["cmd"] == "DANMU_MSG"
    body = tomli_w.dumps({"tests": [{
        "name": "raw danmaku reaches the real file sink",
        "inputs": [{"insert_at": "room", "room_id": 1001, "bilibili": [msg]}],
        "outputs": [{"extract_from": "log", "count": 1, "conditions": [
            {"field": "room_id", "equals": 1001}, {"field": "kind", "equals": "danmaku"},
            {"field": "data", "json_subset": {"masked": False}}]}],
    }]})
    r = run(tmp_path, "\n" + body)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1  # not mocked: really written


def test_env_is_set_per_test(tmp_path, monkeypatch):
    monkeypatch.delenv("LP_TEST_PATH", raising=False)
    (tmp_path / "p.toml").write_text(PIPELINE.replace('path = "out.jsonl"', 'path = { env = "LP_TEST_PATH" }') + """
[[tests]]
name = "env"
env = { LP_TEST_PATH = "from-env.jsonl" }
[[tests.inputs]]
insert_at = "chat"
events = [{ kind = "danmaku", text = "x" }]
[[tests.outputs]]
extract_from = "log"
count = 1
""", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "livepipe", "test", "p.toml"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120, env={**__import__("os").environ, "LP_TEST_PATH": "outer.jsonl"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "from-env.jsonl").exists() and not (tmp_path / "outer.jsonl").exists()


def test_bad_test_definition_is_explained(tmp_path):
    r = run(tmp_path, """
[[tests]]
name = "typo"
[[tests.inputs]]
insert_at = "nope"
events = []
""")
    assert r.returncode == 1
    assert "[[tests]] 'typo': inputs[0]: insert_at = 'nope' names no component" in r.stdout


def test_no_tests_is_an_error(tmp_path):
    r = run(tmp_path, "")
    assert r.returncode == 1 and "no [[tests]] blocks" in r.stderr


def test_automod_example_tests_pass_and_a_broken_rule_fails_with_a_diff(tmp_path):
    """Issue 9 acceptance: `livepipe test examples/automod.toml` (the automod plugin must be installed)."""
    import shutil

    import livepipe_automod  # noqa: F401  (installed by the README's test command)

    r = subprocess.run([sys.executable, "-m", "livepipe", "test", "examples/automod.toml"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("3 passed, 0 failed")
    # break the ads rule in a copy: the ad is no longer banned, and the report says what differs
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("out"))
    broken = tmp_path / "examples" / "automod.toml"
    text = broken.read_text(encoding="utf-8")
    assert 'words = ["加微信", "代练", "约炮"]' in text
    broken.write_text(text.replace('ladder = ["ban:24", "ban:-1"]', 'ladder = ["ban:2", "ban:-1"]'), encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "livepipe", "test", str(broken)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1
    assert "FAIL  an ad from a newcomer is banned for a day" in r.stdout
    assert "expected data.hours == 24, got 2" in r.stdout
    assert r.stdout.strip().endswith("2 passed, 1 failed")
