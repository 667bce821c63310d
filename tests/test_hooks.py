"""Every hook in livepipe/hookspecs.py, called the way pluggy calls it.

One test per hook, named ``test_hook_<hook name>``; :func:`test_every_hook_spec_has_a_test` fails when a
hook spec is added without one.
"""

from __future__ import annotations

import sys

import click
import pytest
from click.testing import CliRunner

import livepipe
from livepipe import hookimpl, hookspecs, plugins
from livepipe.component import Emit, Processor
from livepipe.components.replay_formats import ReplayFormat, replay_formats
from livepipe.config import ConfigError
from livepipe.events import Event, make_event
from livepipe.schema import ProcessorConfig
from livepipe.testing import install, load_toml, run_pipeline

pytestmark = pytest.mark.anyio

PIPELINE = """
[sources.in]
type = "testing.events"
events = [{id = "a", kind = "danmaku", ts = 1.0, text = "hi"}]
[sinks.out]
type = "testing.capture"
inputs = ["in"]
"""


def _processor(type_name: str) -> type[Processor]:
    class Passthrough(Processor):
        """Passes events on unchanged."""

        class Config(ProcessorConfig):
            """No options."""

        async def process(self, event: Event, emit: Emit) -> None:
            await emit(event)

    Passthrough.type_name = type_name
    return Passthrough


def test_hookimpl_is_exported_from_the_package():
    assert livepipe.hookimpl is hookspecs.hookimpl
    assert "hookimpl" in livepipe.__all__


def test_hook_livepipe_register_components():
    """``specname=`` and ``tryfirst`` implementations register, attributed to their plugin."""
    install()
    first, renamed = _processor("hooks.first"), _processor("hooks.renamed")
    order: list[str] = []

    class TryFirst:
        @hookimpl(tryfirst=True)
        def livepipe_register_components(self, registry):
            order.append("tryfirst")
            registry.register(first)

    class SpecName:
        @hookimpl(specname="livepipe_register_components")
        def add_my_types(self, registry):
            order.append("specname")
            registry.register(renamed)

    plugins.register_plugin(TryFirst(), "hooks-tryfirst")
    plugins.register_plugin(SpecName(), "hooks-specname")
    reg = plugins.registry()
    assert reg.get("hooks.first", "processor").plugin == "hooks-tryfirst"
    assert reg.get("hooks.renamed", "processor").plugin == "hooks-specname"
    assert order == ["tryfirst", "specname"]  # each called once, on its own registration


def test_register_components_wrapper_is_refused_by_name():
    install()

    class Wrapper:
        @hookimpl(wrapper=True)
        def livepipe_register_components(self, registry):
            return (yield)

    with pytest.raises(plugins.PluginError, match="hooks-wrapper.*cannot be a hook wrapper"):
        plugins.register_plugin(Wrapper(), "hooks-wrapper")


def test_register_components_failure_names_the_plugin():
    install()

    class Broken:
        @hookimpl
        def livepipe_register_components(self, registry):
            registry.register(object)

    with pytest.raises(plugins.PluginError, match="hooks-broken.*not a Source, Processor or Sink"):
        plugins.register_plugin(Broken(), "hooks-broken")


def test_hook_livepipe_config_loaded(tmp_path):
    """Called with the merged config; a ConfigError it raises rejects the configuration."""
    install()
    seen: list[object] = []

    class Checker:
        @hookimpl
        def livepipe_config_loaded(self, config):
            seen.append(config)
            if "reject-me" in config.components:
                raise ConfigError("sources.reject-me: this plugin refuses it")

    plugins.register_plugin(Checker(), "hooks-config-loaded")
    try:
        cfg = load_toml(PIPELINE, tmp_path)
        assert seen == [cfg]
        with pytest.raises(ConfigError, match="this plugin refuses it"):
            load_toml(PIPELINE.replace("[sources.in]", "[sources.reject-me]").replace('["in"]', '["reject-me"]'),
                      tmp_path)
    finally:
        plugins.manager().unregister(name="hooks-config-loaded")


async def test_hook_livepipe_pipeline_started(tmp_path):
    """Called once, with the running pipeline, before events move."""
    install()
    calls: list[tuple[object, list[str]]] = []

    class Started:
        @hookimpl
        def livepipe_pipeline_started(self, pipeline):
            calls.append((pipeline, sorted(pipeline.components)))

    plugins.register_plugin(Started(), "hooks-started")
    try:
        p = await run_pipeline(PIPELINE, tmp_path)
    finally:
        plugins.manager().unregister(name="hooks-started")
    assert calls == [(p, ["in", "out"])]


async def test_hook_livepipe_pipeline_stopped(tmp_path):
    """Called once after the pipeline stopped; ``error`` is None after a clean run."""
    install()
    calls: list[tuple[object, object, int]] = []
    from livepipe.testing import captured

    class Stopped:
        @hookimpl
        def livepipe_pipeline_stopped(self, pipeline, error):
            calls.append((pipeline, error, len(captured["out"])))

    plugins.register_plugin(Stopped(), "hooks-stopped")
    try:
        p = await run_pipeline(PIPELINE, tmp_path)
    finally:
        plugins.manager().unregister(name="hooks-stopped")
    assert calls == [(p, None, 1)]  # after the sink had received the event


def test_hook_livepipe_register_commands(monkeypatch):
    """A plugin's command appears on the ``livepipe`` command line and runs."""
    from livepipe import cli as cli_module

    class Commands:
        @hookimpl
        def livepipe_register_commands(self, cli):
            @cli.command("hooks-hello")
            def hello() -> None:
                click.echo("hello from a plugin command")

    plugins.register_plugin(Commands(), "hooks-commands")
    try:
        monkeypatch.setattr(sys, "argv", ["livepipe"])
        result = CliRunner().invoke(click.Command("wrap", callback=lambda: cli_module.main(["hooks-hello"])))
    finally:
        plugins.manager().unregister(name="hooks-commands")
        cli_module.cli.commands.pop("hooks-hello", None)
    assert result.exit_code == 0, result.output
    assert "hello from a plugin command" in result.output


#: PIPELINE with a replay source reading chat.jsonl instead of testing.events
REPLAY_PIPELINE = PIPELINE.replace('type = "testing.events"\nevents = [{id = "a", kind = "danmaku", ts = 1.0, '
                                   'text = "hi"}]', 'type = "replay"\npath = "chat.jsonl"\nroom_id = 5')


def _chat_line(obj, room_id):
    return make_event("danmaku", room_id=room_id or 0, ts=obj["at"], uname=obj["who"], text=obj["said"])


async def test_hook_livepipe_replay_formats(tmp_path):
    """A format a plugin returns is one a replay source can name, and ``auto`` recognises its lines."""
    install()

    class Chat:
        @hookimpl
        def livepipe_replay_formats(self):
            return [ReplayFormat("hooks.chat", _chat_line, "one chat line {who, said, at} per line",
                                 detect=lambda obj: "said" in obj)]

    (tmp_path / "chat.jsonl").write_text('{"who": "ann", "said": "hi", "at": 1.5}\n'
                                         '{"v": 1, "id": "e", "kind": "gift", "ts": 2.0}\n', encoding="utf-8")
    replay = REPLAY_PIPELINE
    plugins.register_plugin(Chat(), "hooks-replay-formats")
    try:
        assert "hooks.chat" in replay_formats()
        from livepipe.testing import captured

        await run_pipeline(replay.replace('room_id = 5', 'room_id = 5\nformat = "hooks.chat"'), tmp_path)
        assert [(e.kind, e.room_id, e.uname, e.text) for e in captured["out"]] == [("danmaku", 5, "ann", "hi")]
        await run_pipeline(replay, tmp_path)  # auto: the event line is an event, the chat line is chat
        assert [e.kind for e in captured["out"]] == ["danmaku", "gift"]
    finally:
        plugins.manager().unregister(name="hooks-replay-formats")
    with pytest.raises(ConfigError) as info:  # the plugin is gone: its format is unknown again
        load_toml(replay.replace('room_id = 5', 'room_id = 5\nformat = "hooks.chat"'), tmp_path)
    assert "pipeline.toml:6: sources.in: key 'format': unknown replay format 'hooks.chat'" in str(info.value)
    assert "known formats: auto, events, bilibili" in str(info.value)


def test_replay_format_clash_names_both_plugins(tmp_path):
    install()

    class Clash:
        @hookimpl
        def livepipe_replay_formats(self):
            return [ReplayFormat("bilibili", _chat_line, "a second bilibili")]

    plugins.register_plugin(Clash(), "hooks-format-clash")
    try:
        with pytest.raises(plugins.PluginError, match="replay format 'bilibili' is registered twice") as info:
            replay_formats()
        assert "'livepipe.bilibili.components'" in str(info.value) and "'hooks-format-clash'" in str(info.value)
        # a config with a replay source says so at the source (at its format key when it names one), not
        # with a traceback
        with pytest.raises(ConfigError, match=r"pipeline.toml:2: sources.in: .*replay format 'bilibili' is "
                           "registered twice: .*; uninstall one of them"):
            load_toml(REPLAY_PIPELINE, tmp_path)
        with pytest.raises(ConfigError, match=r"pipeline.toml:6: sources.in: key 'format': replay format "
                           "'bilibili' is registered twice"):
            load_toml(REPLAY_PIPELINE.replace("room_id = 5", 'room_id = 5\nformat = "events"'), tmp_path)
    finally:
        plugins.manager().unregister(name="hooks-format-clash")


def test_a_failing_replay_formats_hook_is_named(tmp_path):
    install()

    class Failing:
        @hookimpl
        def livepipe_replay_formats(self):
            raise RuntimeError("no formats today")

    plugins.register_plugin(Failing(), "hooks-format-failing")
    try:
        with pytest.raises(ConfigError, match="sources.in: .*plugin 'hooks-format-failing': "
                           "livepipe_replay_formats failed: RuntimeError: no formats today"):
            load_toml(REPLAY_PIPELINE, tmp_path)
    finally:
        plugins.manager().unregister(name="hooks-format-failing")


def test_every_hook_spec_has_a_test():
    tested = {name.removeprefix("test_hook_") for name in globals() if name.startswith("test_hook_")}
    missing = sorted(set(hookspecs._all_hooks()) - tested)
    assert not missing, f"hook specs without a test_hook_<name> in {__file__}: {missing}"
