"""The CLI: preview, one-off room commands (face authentication 60024 included), and a real pip install.

The package is pip-installed (without dependencies) from a copy into a private directory, as a
user would install it; the subprocess tests run ``python -m livepipe`` with that directory first
on PYTHONPATH, so the entry point, the components and the commands come from the installed copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
import tomli_w
from livepipe_roomctl.cli import EXIT_FACE_AUTH, UsageProblem, preview_lines, resolve_target, run_room_action
from roomctl_support import ROOM, SHORT, count_requests, credential_table, load

from livepipe.bilibili import actions as act
from livepipe.config import load_config
from livepipe.sim import run_simulator

PACKAGE = Path(__file__).resolve().parents[1]
EXAMPLE = PACKAGE.parents[1] / "examples" / "roomctl.toml"
START_LIVE = "/room/v1/Room/startLive"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """pip-install livepipe-roomctl (no dependencies: they are in this environment) into a private directory."""
    src = tmp_path_factory.mktemp("src") / "livepipe-roomctl"
    shutil.copytree(PACKAGE, src, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(src)],
                   check=True, capture_output=True)
    return target


def cli_env(site: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    env["LIVEPIPE_LOAD_PLUGINS"] = "roomctl"
    return env


def livepipe(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "livepipe", *args], capture_output=True, text=True,
                          env=cli_env(site), timeout=120)


def test_pip_install_lists_the_components(site):
    r = livepipe(site, "plugins", "--json")
    assert r.returncode == 0, r.stderr
    report = {p["name"]: p for p in json.loads(r.stdout)}
    roomctl = report["roomctl"]
    assert roomctl["error"] is None and roomctl["version"] == "0.1.0"
    types = {c["type"]: c["role"] for c in roomctl["components"]}
    assert types == {"schedule": "source", "chat_commands": "processor", "room_reactions": "processor"}
    assert "livepipe_register_commands" in roomctl["hooks"]
    r = livepipe(site, "plugins")
    assert "schedule" in r.stdout and "chat_commands" in r.stdout


def test_cli_help_lists_the_plugin_commands(site):
    r = livepipe(site, "--help")
    assert "room" in r.stdout and "roomctl" in r.stdout
    r = livepipe(site, "room", "--help")
    for sub in ("title", "news", "area", "start", "stop"):
        assert sub in r.stdout


def test_example_validates_with_the_plugin(site):
    # --offline: the example names the streamer's cookie file, which only their machine has
    r = livepipe(site, "validate", "--offline", str(EXAMPLE))
    assert r.returncode == 0, r.stderr


def test_preview_of_the_example(site):
    r = livepipe(site, "roomctl", "preview", str(EXAMPLE), "--count", "6", "--from", "2025-09-15T12:00")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 6
    assert lines[0].startswith("2025-09-15 ")
    assert all("CST" in line for line in lines)
    stamps = [line[:19] for line in lines]
    assert stamps == sorted(stamps)


def test_preview_in_process(tmp_path):
    config = load({
        "sources": {"a": {"type": "schedule", "timezone": "UTC", "entries": [{"every": "1h", "news": ["x", "y"]}]},
                    "b": {"type": "schedule", "timezone": "UTC", "area_id": 86,
                          "entries": [{"name": "go", "cron": "30 * * * *", "start": True}]}},
        "sinks": {"out": {"type": "testing.capture", "inputs": ["a", "b"]}},
    }, tmp_path)
    lines = preview_lines(config, 4, 0.0)
    assert lines == [
        "1970-01-01 00:30:00 UTC  go: area_id=86, start live  [b]",
        "1970-01-01 01:00:00 UTC  entry1: news='x'  [a]",
        "1970-01-01 01:30:00 UTC  go: area_id=86, start live  [b]",
        "1970-01-01 02:00:00 UTC  entry1: news='y'  [a]",
    ]
    assert preview_lines(config, 1, 0.0, source="a") == ["1970-01-01 01:00:00 UTC  entry1: news='x'"]
    with pytest.raises(UsageProblem, match="no schedule source named 'c'"):
        preview_lines(config, 1, 0.0, source="c")


def test_target_resolution_explains_what_is_missing(tmp_path):
    base = {"credentials": {"me": {"sessdata": "s", "bili_jct": "j"}},
            "sources": {"s": {"type": "schedule", "entries": [{"every": 5, "news": "x"}]}},
            "sinks": {"out": {"type": "testing.capture", "inputs": ["s"]}}}
    config = load(base, tmp_path)
    with pytest.raises(UsageProblem, match="pass --credential NAME"):
        resolve_target(config)
    with pytest.raises(UsageProblem, match="not a \\[credentials"):
        resolve_target(config, credential="other")
    with pytest.raises(UsageProblem, match="no room"):
        resolve_target(config, credential="me")
    t = resolve_target(config, credential="me", room_id=5, base_url="http://127.0.0.1:1")
    assert (t.room_id, t.sink_config.base_url, t.sink_config.credential) == (5, "http://127.0.0.1:1", "me")
    with_sim = load({**base, "simulator": {"rooms": [5]}}, tmp_path)
    with pytest.raises(UsageProblem, match="--base-url"):
        resolve_target(with_sim, credential="me", room_id=5)
    # [simulator] url (a running simulator) is the base URL unless --base-url says otherwise
    with_url = load({**base, "simulator": {"url": "http://127.0.0.1:2"}}, tmp_path)
    assert resolve_target(with_url, credential="me", room_id=5).sink_config.base_url == "http://127.0.0.1:2"
    t = resolve_target(with_url, credential="me", room_id=5, base_url="http://127.0.0.1:3")
    assert t.sink_config.base_url == "http://127.0.0.1:3"


def room_config(tmp_path: Path, sim, streamer) -> Path:
    """A config without [simulator]: a credential and a bilibili.room sink (the base URL comes from --base-url)."""
    doc = {
        "credentials": {"streamer": credential_table(sim.cookies_for(streamer))},
        "sources": {"timetable": {"type": "schedule", "room_id": ROOM, "entries": [{"cron": "0 20 * * *",
                                                                                     "news": "x"}]}},
        "sinks": {"room": {"type": "bilibili.room", "inputs": ["timetable"], "credential": "streamer",
                           "room_id": ROOM, "max_attempts": 3}},
    }
    p = tmp_path / "room.toml"
    p.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return p


@pytest.mark.anyio
async def test_face_authentication_is_a_clear_message_and_not_retried(tmp_path):
    async with run_simulator(rooms=[(SHORT, ROOM)], rate=0) as sim:
        streamer = sim.create_account(owner_of=ROOM)
        streamer.needs_face_auth = True
        streamer.face_auth_persistent = True  # 60024 even though version and build are sent
        sim.room(ROOM).live_status = 0
        counts = count_requests(sim)
        config = load_config([room_config(tmp_path, sim, streamer)])
        target = resolve_target(config, base_url=sim.base_url)
        outcome = await run_room_action(target, act.room_update(ROOM, start=True, area_id=86))
        assert outcome.exit_code == EXIT_FACE_AUTH
        assert "face authentication" in outcome.message and "60024" in outcome.message
        assert "does not retry" in outcome.message
        assert counts[START_LIVE] == 1
        assert sim.room(ROOM).live_status == 0


@pytest.mark.anyio
async def test_room_commands_through_the_installed_cli(site, tmp_path):
    async with run_simulator(rooms=[(SHORT, ROOM)], rate=0) as sim:
        streamer = sim.create_account(owner_of=ROOM)
        room = sim.room(ROOM)
        room.live_status = 0
        counts = count_requests(sim)
        path = room_config(tmp_path, sim, streamer)

        async def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
            return await anyio.run_process([sys.executable, "-m", "livepipe", "room", *args, "--config", str(path),
                                            "--base-url", sim.base_url], env=cli_env(site), check=False)

        r = await cli("title", "Set from the CLI")
        assert r.returncode == 0, r.stderr.decode()
        assert room.title == "Set from the CLI"
        r = await cli("news", "Announcement from the CLI")
        assert r.returncode == 0, r.stderr.decode()
        assert room.news == "Announcement from the CLI"
        r = await cli("title", "x" * 41)
        assert r.returncode == 1 and "at most 40" in r.stderr.decode()
        r = await cli("start", "--area", "86")
        assert r.returncode == 0, r.stderr.decode()
        assert room.live_status == 1 and room.area_id == 86
        r = await cli("stop")
        assert r.returncode == 0 and room.live_status == 0
        streamer.needs_face_auth = streamer.face_auth_persistent = True
        before = counts[START_LIVE]
        r = await cli("start", "--area", "86")
        err = r.stderr.decode()
        assert r.returncode == EXIT_FACE_AUTH, err
        assert "face authentication" in err and "60024" in err
        assert counts[START_LIVE] - before == 1  # asked once, never again
        r = await cli("start")  # --area is required
        assert r.returncode == 2 and "--area" in r.stderr.decode()


def test_pipelines_in_the_docs_page_validate(tmp_path):
    import re

    page = (PACKAGE.parents[1] / "docs" / "roomctl.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```toml\n(.*?)```", page, re.S) if "[sources." in b and "[sinks." in b]
    assert blocks
    for i, block in enumerate(blocks):
        p = tmp_path / f"doc{i}.toml"
        p.write_text(block, encoding="utf-8")
        load_config([p])
