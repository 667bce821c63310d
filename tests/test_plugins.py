"""Third-party plugins installed with pip: listed, runnable, and isolated from broken ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """pip-install the test plugins (without dependencies) into a private directory."""
    target = tmp_path_factory.mktemp("site")
    for name in ("livepipe-hello", "livepipe-broken"):
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
             "--target", str(target), str(PLUGINS / name)],
            check=True,
            capture_output=True,
        )
    return target


def livepipe(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ)
    e.pop("LIVEPIPE_LOAD_PLUGINS", None)
    e["PYTHONPATH"] = os.pathsep.join([str(site), e.get("PYTHONPATH", "")])
    e.update(env)
    return subprocess.run([sys.executable, "-m", "livepipe", *args], capture_output=True, text=True, env=e,
                          timeout=120)


def test_installed_plugin_is_listed_with_its_components(site):
    r = livepipe(site, "plugins", "--json")
    assert r.returncode == 0, r.stderr
    report = {p["name"]: p for p in json.loads(r.stdout)}
    hello = report["hello"]
    assert hello["version"] == "0.3.1"
    assert hello["builtin"] is False
    assert hello["error"] is None
    assert "livepipe_register_components" in hello["hooks"]
    (shout,) = hello["components"]
    assert shout["type"] == "hello.shout" and shout["role"] == "processor"
    assert {"name": "suffix", "type": "str", "required": False, "default": "!",
            "description": "appended to every text", "secret": False} in shout["config"]


def test_broken_plugin_reported_by_name_others_still_load(site):
    r = livepipe(site, "plugins", "--json")
    report = {p["name"]: p for p in json.loads(r.stdout)}
    assert "ModuleNotFoundError" in report["broken"]["error"]
    assert "this_module_does_not_exist" in report["broken"]["error"]
    assert report["hello"]["error"] is None
    assert "plugin 'broken'" in r.stderr


def test_plugin_component_runs_in_a_pipeline(site, tmp_path):
    (tmp_path / "in.jsonl").write_text('{"v":1,"id":"a","kind":"danmaku","ts":1.0,"text":"hi there"}\n')
    (tmp_path / "p.toml").write_text(
        """
[sources.in]
type = "replay"
path = "in.jsonl"
[processors.shout]
type = "hello.shout"
inputs = ["in"]
suffix = "!!"
[sinks.out]
type = "file"
inputs = ["shout"]
path = "out.jsonl"
"""
    )
    r = livepipe(site, "run", str(tmp_path / "p.toml"), "--quiet")
    assert r.returncode == 0, r.stderr
    (line,) = (tmp_path / "out.jsonl").read_text().splitlines()
    assert json.loads(line)["text"] == "HI THERE!!"


CHAT_PIPELINE = """
[sources.in]
type = "replay"
path = "chat.jsonl"
format = "hello.chat"
[processors.shout]
type = "hello.shout"
inputs = ["in"]
[sinks.out]
type = "file"
inputs = ["shout"]
path = "out.jsonl"
"""


def test_plugin_replay_format_runs_in_a_pipeline(site, tmp_path):
    (tmp_path / "chat.jsonl").write_text('{"who": "ann", "said": "hello", "at": 1700000000}\n'
                                         '{"who": "bob", "said": "hi", "at": 1700000001}\n')
    (tmp_path / "p.toml").write_text(CHAT_PIPELINE)
    r = livepipe(site, "run", str(tmp_path / "p.toml"), "--quiet")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(e["kind"], e["uname"], e["text"], e["ts"]) for e in lines] == [
        ("danmaku", "ann", "HELLO!", 1700000000.0), ("danmaku", "bob", "HI!", 1700000001.0)]
    report = {p["name"]: p for p in json.loads(livepipe(site, "plugins", "--json").stdout)}
    assert "livepipe_replay_formats" in report["hello"]["hooks"]


def test_unknown_replay_format_is_a_config_error_naming_the_closest(site, tmp_path):
    (tmp_path / "chat.jsonl").write_text("")
    (tmp_path / "p.toml").write_text(CHAT_PIPELINE.replace('"hello.chat"', '"hello.chta"'))
    r = livepipe(site, "validate", str(tmp_path / "p.toml"))
    assert r.returncode != 0
    assert (f"{tmp_path / 'p.toml'}:5: sources.in: key 'format': unknown replay format 'hello.chta'; "
            "did you mean 'hello.chat'? known formats: auto, events, hello.chat, bilibili") in r.stdout + r.stderr
    # without the plugin, its format is unknown, and the message says where formats come from
    (tmp_path / "p.toml").write_text(CHAT_PIPELINE.replace('type = "hello.shout"', 'type = "filter"'))
    r = livepipe(site, "validate", str(tmp_path / "p.toml"), LIVEPIPE_LOAD_PLUGINS="")
    assert r.returncode != 0
    assert "unknown replay format 'hello.chat'" in r.stdout + r.stderr
    assert "A format from a plugin needs that plugin installed" in r.stdout + r.stderr


def test_load_plugins_env_limits_entry_points(site):
    r = livepipe(site, "plugins", "--json", LIVEPIPE_LOAD_PLUGINS="hello")
    names = {p["name"] for p in json.loads(r.stdout)}
    assert "hello" in names and "broken" not in names
    r = livepipe(site, "plugins", "--json", LIVEPIPE_LOAD_PLUGINS="")
    names = {p["name"] for p in json.loads(r.stdout)}
    assert "hello" not in names and "livepipe.components" in names  # built-ins always load
