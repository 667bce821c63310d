"""`livepipe test` never acts on a room: action sinks run dry unless a test lists them in allow_actions."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from livepipe import plugins
from livepipe.component import Emit, Sink
from livepipe.configtest import run_tests
from livepipe.events import Event
from livepipe.hookspecs import hookimpl
from livepipe.registry import ComponentRegistry, RegistryError
from livepipe.schema import SinkConfig, field
from livepipe.sim import run_simulator

ROOM = 1000

#: a source (replaced in every test) and a ban sink acting as the credential "mod"
SOURCE_AND_BAN = """
[sources.room]
type = "replay"
path = "never-read.jsonl"

[sinks.ban]
type = "bilibili.ban"
inputs = ["room"]
credential = "mod"
room_id = {room}
"""

#: one pipeline, several sinks that act: a ban sink, a send sink, a room sink, and a plugin's action sink
PIPELINE = """
[credentials.mod]
sessdata = "{sessdata}"
bili_jct = "{bili_jct}"
dedeuserid = {uid}
""" + SOURCE_AND_BAN + """base_url = "{base_url}"
verify_login = false
max_attempts = 1

[sinks.say]
type = "bilibili.send"
inputs = ["room"]
credential = "mod"
base_url = "{base_url}"
room_id = {room}
verify_login = false

[sinks.webhook]
type = "t.webhook"
inputs = ["room"]
"""

BAN_TEST = """
[[tests]]
name = "{name}"
{extra}
[[tests.inputs]]
insert_at = "ban"
events = [{events}]
[[tests.inputs]]
insert_at = "say"
events = [{{ kind = "action.send", room_id = {room}, text = "hello from a config test" }}]
[[tests.inputs]]
insert_at = "webhook"
events = [{{ kind = "action.notify", text = "ping" }}]
[[tests.outputs]]
extract_from = "ban.results"
count = {count}
conditions = [{{ field = "data.outcome", equals = "{outcome}" }}]
"""

#: what the plugin action sink did for real (dry runs are recorded separately)
FIRED: list[dict[str, Any]] = []


class WebhookSink(Sink):
    """A plugin's action sink: it declares itself an action and honours dry_run."""

    type_name = "t.webhook"
    action = True

    class Config(SinkConfig):
        dry_run: bool = field(False, description="log instead of acting")

    async def write(self, event: Event, emit: Emit) -> None:
        FIRED.append({"dry_run": self.config.dry_run, "text": event.text})


class _Plugin:
    @hookimpl
    def livepipe_register_components(self, registry: Any) -> None:
        registry.register(WebhookSink)


@pytest.fixture(autouse=True)
def _plugin() -> None:
    if plugins.manager().get_plugin("tests.webhook") is None:
        plugins.register_plugin(_Plugin(), "tests.webhook")
    FIRED.clear()


def _write(tmp_path: Path, sim: Any, cookies: dict[str, str], tests: str) -> Path:
    text = PIPELINE.format(sessdata=cookies["SESSDATA"], bili_jct=cookies["bili_jct"], uid=cookies["DedeUserID"],
                           base_url=sim.base_url, room=ROOM) + tests
    path = tmp_path / "pipeline.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _ban_test(name: str, uids: list[int], outcome: str, extra: str = "") -> str:
    events = ", ".join(f'{{ kind = "action.ban", room_id = {ROOM}, data = {{ uid = {u}, hours = 1 }} }}'
                       for u in uids)
    return BAN_TEST.format(name=name, extra=extra, events=events, room=ROOM, count=len(uids), outcome=outcome)


async def _run(path: Path) -> tuple[int, int, str]:
    out = io.StringIO()
    passed, failed = await anyio.to_thread.run_sync(lambda: run_tests([path], out))
    return passed, failed, out.getvalue()


@pytest.mark.anyio
async def test_config_test_pointed_at_the_simulator_acts_on_nobody(tmp_path):
    async with run_simulator(rooms=[ROOM]) as sim:
        moderator = sim.create_account(owner_of=ROOM)
        viewers = [u.uid for u in sim.populations[ROOM].users[:5]]
        path = _write(tmp_path, sim, sim.cookies_for(moderator),
                      _ban_test("bans are only rehearsed", viewers, "dry_run"))
        passed, failed, report = await _run(path)
        assert (passed, failed) == (1, 0), report
        assert sim.room(ROOM).silent == []  # nobody was banned
        assert "ok    bans are only rehearsed  (dry run: ban, say, webhook)" in report
        assert sim.room(ROOM).sent_danmaku == []  # no danmaku was sent either
        assert FIRED == [{"dry_run": True, "text": "ping"}]  # the plugin's sink was told to rehearse


@pytest.mark.anyio
async def test_allow_actions_really_acts_and_only_for_the_listed_sinks(tmp_path):
    async with run_simulator(rooms=[ROOM]) as sim:
        moderator = sim.create_account(owner_of=ROOM)
        viewers = [u.uid for u in sim.populations[ROOM].users[:3]]
        path = _write(tmp_path, sim, sim.cookies_for(moderator),
                      _ban_test("bans for real", viewers, "success", extra='allow_actions = ["ban", "webhook"]'))
        passed, failed, report = await _run(path)
        assert (passed, failed) == (1, 0), report
        assert sorted(r.tuid for r in sim.room(ROOM).silent) == sorted(viewers)
        assert sim.room(ROOM).sent_danmaku == []  # say was not allowed: still a rehearsal
        assert "ok    bans for real  (dry run: say; allowed to act: ban, webhook)" in report
        assert FIRED == [{"dry_run": False, "text": "ping"}]


@pytest.mark.anyio
async def test_allow_actions_names_must_be_action_sinks(tmp_path):
    async with run_simulator(rooms=[ROOM]) as sim:
        moderator = sim.create_account(owner_of=ROOM)
        for extra, expect in [
            ('allow_actions = ["room"]', "allow_actions: 'room' is not an action sink; action sinks in this config: "
                                         "ban, say, webhook"),
            ('allow_actions = ["ban"]\nmocks = ["ban"]', "'ban' is in both mocks and allow_actions"),
        ]:
            path = _write(tmp_path, sim, sim.cookies_for(moderator), _ban_test("bad", [1], "dry_run", extra=extra))
            passed, failed, report = await _run(path)
            assert failed == 1 and expect in report, report
        assert sim.room(ROOM).silent == []


def test_sink_that_cannot_start_is_a_clear_failure_not_a_traceback(tmp_path):
    (tmp_path / "p.toml").write_text("""
[credentials.mod]
cookie_file = "cookies/missing.json"
""" + SOURCE_AND_BAN.format(room=ROOM) + """
[[tests]]
name = "bans for real"
allow_actions = ["ban"]
[[tests.inputs]]
insert_at = "ban"
events = [{ kind = "action.ban", data = { uid = 5, hours = 1 } }]
[[tests.outputs]]
extract_from = "ban.results"
count = 1
""", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "livepipe", "test", "p.toml"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert "FAIL  bans for real" in r.stdout
    # the component, what failed, and the fix
    assert "sink 'ban' (bilibili.ban) failed to start" in r.stdout
    assert "cookies/missing.json does not exist; create it with `livepipe login" in r.stdout
    assert "list it in this test's mocks" in r.stdout


def test_action_sink_without_dry_run_cannot_be_registered():
    class Reckless(Sink):
        """Acts, but cannot rehearse."""

        type_name = "t.reckless"
        action = True

    with pytest.raises(RegistryError, match="declares action = True but its Config has no dry_run key"):
        ComponentRegistry().register(Reckless)


def test_builtin_action_sinks_declare_themselves():
    registry = plugins.registry()
    actions = {name for name, reg in registry.items() if reg.role == "sink" and getattr(reg.cls, "action", False)}
    assert {"bilibili.ban", "bilibili.send", "bilibili.room"} <= actions
    assert not {"file", "nats", "console"} & actions
    json.dumps(sorted(actions))
