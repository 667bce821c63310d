"""Config loading: every invalid case names the file, the line, the component and the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from livepipe import plugins
from livepipe.component import Emit, Sink
from livepipe.config import ConfigError, load_config
from livepipe.events import Event
from livepipe.hookspecs import hookimpl
from livepipe.schema import Secret, SinkConfig, field
from livepipe.testing import install

GOOD = """
[sources.src]
type = "testing.events"

[sinks.out]
type = "testing.capture"
inputs = ["src"]
"""


class TokenSink(Sink):
    """A sink with a secret field."""

    type_name = "t.token"

    class Config(SinkConfig):
        token: Secret = field(description="API token")
        url: str = field("http://x", description="where")

    async def write(self, event: Event, emit: Emit) -> None:
        pass


class _P:
    @hookimpl
    def livepipe_register_components(self, registry: Any) -> None:
        registry.register(TokenSink)


@pytest.fixture(autouse=True)
def _setup() -> None:
    install()
    if plugins.manager().get_plugin("test_config") is None:
        plugins.register_plugin(_P(), "test_config")


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def issues_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as ei:
        load_config([write(tmp_path, text)])
    return [str(i) for i in ei.value.issues]


def test_good_config_loads(tmp_path):
    cfg = load_config([write(tmp_path, GOOD)])
    assert list(cfg.components) == ["src", "out"]
    assert cfg.components["out"].config.when_full == "block"


def test_broken_toml_names_file_and_line(tmp_path):
    (msg,) = issues_of(tmp_path, "[sources.src]\ntype = \n")
    assert msg.startswith(f"{tmp_path / 'p.toml'}:2: invalid TOML")


def test_unknown_key(tmp_path):
    (msg,) = issues_of(tmp_path, GOOD + "when_ful = \"block\"\n")
    assert f"{tmp_path / 'p.toml'}:8: sinks.out: key 'when_ful': unknown key; did you mean 'when_full'?" in msg
    assert "valid keys:" in msg and "buffer" in msg


def test_wrong_type(tmp_path):
    (msg,) = issues_of(tmp_path, GOOD + "buffer = \"many\"\n")
    assert f"{tmp_path / 'p.toml'}:8: sinks.out: key 'buffer': expected a valid integer (got 'many')" == msg


def test_bad_choice_lists_valid_values(tmp_path):
    (msg,) = issues_of(tmp_path, GOOD + "when_full = \"dropnew\"\n")
    assert ":8: sinks.out: key 'when_full': must be 'block', 'drop_newest' or 'drop_oldest'" in msg


def test_missing_required_field(tmp_path):
    (msg,) = issues_of(tmp_path, GOOD + "[sinks.tok]\ntype = \"t.token\"\ninputs = [\"src\"]\n")
    assert ":8: sinks.tok: key 'token': required key is missing (API token)" in msg


def test_unknown_type_suggests(tmp_path):
    (msg,) = issues_of(tmp_path, GOOD.replace('"testing.capture"', '"testing.captur"'))
    assert ":6: sinks.out: key 'type': unknown sink type 'testing.captur'; did you mean 'testing.capture'?" in msg
    assert "livepipe plugins" in msg


def test_type_in_wrong_section(tmp_path):
    (msg,) = issues_of(tmp_path, "[sources.src]\ntype = \"testing.capture\"\n")
    assert ":2: sources.src: key 'type': 'testing.capture' is a sink, not a source: move it to [sinks.src]" in msg


def test_inputs_naming_nothing(tmp_path):
    (msg,) = issues_of(tmp_path, GOOD.replace('inputs = ["src"]', 'inputs = ["scr"]'))
    assert ":7: sinks.out: key 'inputs': 'scr' names no output; valid outputs: src" in msg


def test_wildcard_matching_nothing(tmp_path):
    (msg,) = issues_of(tmp_path, GOOD.replace('inputs = ["src"]', 'inputs = ["automod.*"]'))
    assert "sinks.out: key 'inputs': 'automod.*' names no output" in msg


def test_sink_fed_by_nothing(tmp_path):
    (msg,) = issues_of(tmp_path, GOOD.replace('inputs = ["src"]', "inputs = []"))
    assert ":7: sinks.out: key 'inputs': this sink is fed by nothing" in msg


def test_missing_inputs_key(tmp_path):
    (msg,) = issues_of(tmp_path, GOOD.replace('inputs = ["src"]\n', ""))
    assert ":5: sinks.out: key 'inputs': required key is missing" in msg


def test_cycle(tmp_path):
    text = """
[sources.src]
type = "testing.events"
[processors.a]
type = "dedupe"
inputs = ["src", "b"]
[processors.b]
type = "dedupe"
inputs = ["a"]
[sinks.out]
type = "testing.capture"
inputs = ["b"]
"""
    try:
        plugins.registry().get("dedupe") or pytest.skip("dedupe not registered yet")
    except Exception:
        pytest.skip("dedupe not registered yet")
    msgs = issues_of(tmp_path, text)
    assert any("the wiring has a cycle: a -> b -> a" in m and "processors.a" in m for m in msgs), msgs


def test_reading_own_output_is_rejected(tmp_path):
    msgs = issues_of(tmp_path, GOOD.replace('inputs = ["src"]', 'inputs = ["out"]'))
    assert any("sinks.out: key 'inputs': 'out'" in m for m in msgs), msgs


def test_duplicate_id_across_sections_and_files(tmp_path):
    a = write(tmp_path, GOOD, "a.toml")
    b = write(tmp_path, "[processors.out]\ntype = \"filter\"\ninputs = [\"src\"]\n", "b.toml")
    with pytest.raises(ConfigError) as ei:
        load_config([a, b])
    (msg,) = [str(i) for i in ei.value.issues]
    assert msg.startswith(f"{b}:1: processors.out: component id 'out' is defined twice (also as [sinks.out] in {a})")


def test_a_later_file_sets_and_overrides_keys_of_a_component(tmp_path):
    a = write(tmp_path, GOOD + "[sinks.tok]\ntype = \"t.token\"\ninputs = [\"src\"]\ntoken = \"t1\"\n"
                               "[livepipe]\nshutdown_timeout = 3\n[livepipe.metrics]\nlisten = \"127.0.0.1:1\"\n",
              "a.toml")
    b = write(tmp_path, "[sinks.tok]\nurl = \"http://override\"\n\n[sinks.out]\ninputs = [\"src\", \"src\"]\n"
                        "when_full = \"drop_newest\"\n[livepipe]\nstatus_interval = 2\n", "b.toml")
    cfg = load_config([a, b])
    tok = cfg.components["tok"]
    assert tok.config.url == "http://override" and tok.config.token.get_secret_value() == "t1"
    out = cfg.components["out"]
    assert out.type == "testing.capture" and out.config.when_full == "drop_newest"
    assert out.config.inputs == ["src", "src"]  # arrays are replaced, not appended
    assert cfg.settings.shutdown_timeout == 3 and cfg.settings.status_interval == 2
    assert cfg.settings.metrics.listen == "127.0.0.1:1"  # nested tables merge key by key
    assert cfg.display["sinks"]["tok"] == {"type": "t.token", "inputs": ["src"], "token": "<redacted>",
                                           "url": "http://override"}


def test_an_override_without_the_defining_file_names_the_missing_type(tmp_path):
    b = write(tmp_path, GOOD + "[sinks.tok]\nurl = \"http://override\"\n", "b.toml")
    (msg,) = issues_of_files([b])
    assert "sinks.tok: key 'type': required key is missing" in msg


def test_a_later_file_may_not_change_the_type(tmp_path):
    a = write(tmp_path, GOOD, "a.toml")
    b = write(tmp_path, "[sinks.out]\ntype = \"console\"\n", "b.toml")
    (msg,) = issues_of_files([a, b])
    assert msg.startswith(f"{b}:2: sinks.out: key 'type': a later file may set keys of [sinks.out] (defined in {a})")
    assert "'testing.capture' to 'console'" in msg


def test_an_error_in_an_overriding_key_names_the_file_that_wrote_it(tmp_path):
    a = write(tmp_path, GOOD, "a.toml")
    b = write(tmp_path, "# override\n[sinks.out]\nwhen_full = \"sometimes\"\n", "b.toml")
    (msg,) = issues_of_files([a, b])
    assert msg.startswith(f"{b}:3: sinks.out: key 'when_full'"), msg


def test_credentials_merge_key_by_key_and_secret_files_resolve_next_to_their_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "jct.txt").write_text("jct-from-file\n")
    a = write(tmp_path, GOOD + "[credentials.me]\nsessdata = \"s1\"\nbili_jct = \"old\"\n", "a.toml")
    b = write(tmp_path / "sub", "[credentials.me]\nbili_jct = { file = \"jct.txt\" }\n", "b.toml")
    cfg = load_config([a, b])
    me = cfg.credentials["me"]
    assert me["sessdata"].get_secret_value() == "s1" and me["bili_jct"].get_secret_value() == "jct-from-file"
    assert cfg.display["credentials"]["me"]["bili_jct"] == {"file": "jct.txt"}


def test_files_merge(tmp_path):
    a = write(tmp_path, "[sources.src]\ntype = \"testing.events\"\n", "a.toml")
    b = write(tmp_path, "[sinks.out]\ntype = \"testing.capture\"\ninputs = [\"src\"]\n", "b.toml")
    cfg = load_config([a, b])
    assert set(cfg.components) == {"src", "out"}


def test_unknown_section(tmp_path):
    (msg,) = issues_of(tmp_path, GOOD + "[sink.x]\ntype = \"file\"\n")
    assert ":8: unknown section [sink]; did you mean [sinks]?" in msg


def test_all_problems_reported_at_once(tmp_path):
    msgs = issues_of(tmp_path, GOOD + "buffer = -1\nfoo = 1\n")
    assert len(msgs) == 2


def test_global_settings_validated(tmp_path):
    (msg,) = issues_of(tmp_path, "[livepipe]\nshutdown_timout = 3\n" + GOOD)
    assert ":2: livepipe: key 'shutdown_timout': unknown key; did you mean 'shutdown_timeout'?" in msg


def test_env_secret_resolved_and_never_shown(tmp_path, monkeypatch):
    monkeypatch.setenv("LP_TEST_TOKEN", "s3cr3t-value-123")
    cfg = load_config([write(tmp_path, GOOD + "[sinks.tok]\ntype = \"t.token\"\ninputs = [\"src\"]\n"
                                              "token = { env = \"LP_TEST_TOKEN\" }\n")])
    tok = cfg.components["tok"].config.token
    assert tok.get_secret_value() == "s3cr3t-value-123"
    assert "s3cr3t" not in repr(cfg.components["tok"].config)
    assert "s3cr3t" not in repr(cfg.components["tok"])
    assert cfg.display["sinks"]["tok"]["token"] == {"env": "LP_TEST_TOKEN"}


def test_missing_env_secret_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("LP_TEST_MISSING", raising=False)
    (msg,) = issues_of(tmp_path, GOOD + "[sinks.tok]\ntype = \"t.token\"\ninputs = [\"src\"]\n"
                                        "token = { env = \"LP_TEST_MISSING\" }\n")
    assert ":11: sinks.tok: key 'token': environment variable LP_TEST_MISSING is not set" in msg


def test_file_secret(tmp_path):
    (tmp_path / "tok.txt").write_text("from-file-secret\n")
    cfg = load_config([write(tmp_path, GOOD + "[sinks.tok]\ntype = \"t.token\"\ninputs = [\"src\"]\n"
                                              "token = { file = \"tok.txt\" }\n")])
    assert cfg.components["tok"].config.token.get_secret_value() == "from-file-secret"


def test_literal_secret_redacted_in_display(tmp_path):
    cfg = load_config([write(tmp_path, GOOD + "[sinks.tok]\ntype = \"t.token\"\ninputs = [\"src\"]\n"
                                              "token = \"literal-secret-xyz\"\n"
                                              "[credentials.main]\nSESSDATA = \"sess-abc-999\"\ndedeuserid = 5\n")])
    assert cfg.display["sinks"]["tok"]["token"] == "<redacted>"
    assert cfg.display["credentials"]["main"]["SESSDATA"] == "<redacted>"
    assert cfg.display["credentials"]["main"]["dedeuserid"] == 5
    assert "sess-abc-999" not in repr(cfg.credentials)


def test_secret_of_wrong_type_does_not_echo_value(tmp_path):
    (msg,) = issues_of(tmp_path, GOOD + "[sinks.tok]\ntype = \"t.token\"\ninputs = [\"src\"]\ntoken = 123456789\n")
    assert "123456789" not in msg
    assert "sinks.tok: key 'token'" in msg


def test_unknown_credential_reference(tmp_path):
    class CredSink(Sink):
        """uses a credential"""

        type_name = "t.cred"

        class Config(SinkConfig):
            credential: str = field(description="credential name")

        async def write(self, event: Event, emit: Emit) -> None:
            pass

    if plugins.registry().get("t.cred") is None:
        plugins.registry().register(CredSink)
    (msg,) = issues_of(tmp_path, GOOD + "[sinks.c]\ntype = \"t.cred\"\ninputs = [\"src\"]\ncredential = \"bot\"\n")
    assert "sinks.c: key 'credential': no [credentials.bot] table; defined credentials: (none defined)" in msg


# ---- the CLI: exit codes and secrets ------------------------------------------------------------


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "livepipe", *args], capture_output=True, text=True, env=e,
                          timeout=120)


REAL_GOOD = """
[sources.src]
type = "replay"
path = "events.jsonl"

[sinks.out]
type = "file"
inputs = ["src"]
path = "out.jsonl"
"""


def test_cli_validate_exit_codes(tmp_path):
    good = write(tmp_path, REAL_GOOD, "good.toml")
    r = cli("validate", str(good))
    assert r.returncode == 78 and "replay file" in r.stderr  # the recording is not there yet
    (tmp_path / "events.jsonl").write_text("")
    r = cli("validate", str(good))
    assert r.returncode == 0, r.stderr
    bad = write(tmp_path, REAL_GOOD.replace('path = "out.jsonl"', 'path = "out.jsonl"\nbufer = 3'), "bad.toml")
    r = cli("validate", str(bad))
    assert r.returncode == 78
    assert f"{bad}:10: sinks.out: key 'bufer': unknown key; did you mean 'buffer'?" in r.stderr


def test_cli_config_show_and_errors_never_print_secrets(tmp_path):
    secret = "SESSDATA-VERY-SECRET-0042"
    text = REAL_GOOD + "[credentials.main]\nSESSDATA = { env = \"LP_SESS\" }\nbili_jct = { env = \"LP_JCT\" }\n"
    p = write(tmp_path, text)
    env = {"LP_SESS": secret, "LP_JCT": "JCT-SECRET-77"}
    r = cli("config", "show", str(p), env=env)
    assert r.returncode == 0, r.stderr
    assert secret not in r.stdout + r.stderr and "JCT-SECRET-77" not in r.stdout + r.stderr
    assert 'env = "LP_SESS"' in r.stdout
    # an error elsewhere in the same file: the message names the problem, never the secret
    bad = write(tmp_path, text.replace('type = "file"', 'type = "file"\nwhen_full = 5'), "bad.toml")
    r = cli("validate", str(bad), env=env)
    assert r.returncode == 78
    assert secret not in r.stdout + r.stderr
    # and a run (logs included) never prints it either
    (tmp_path / "events.jsonl").write_text('{"v":1,"kind":"danmaku","id":"1","ts":1.0}\n')
    r = cli("run", str(p), "--duration", "5", "--log-level", "debug", env=env)
    assert r.returncode == 0, r.stderr
    assert secret not in r.stdout + r.stderr and "JCT-SECRET-77" not in r.stdout + r.stderr


def test_route_has_no_default_output(tmp_path):
    msgs = issues_of(tmp_path, """
[sources.src]
type = "testing.events"
[processors.r]
type = "route"
inputs = ["src"]
[processors.r.routes.chat]
kinds = ["danmaku"]
[sinks.out]
type = "testing.capture"
inputs = ["r"]
""")
    assert any("sinks.out: key 'inputs': 'r' has no default output, only named ones: r.chat, r._unmatched" in m
               for m in msgs), msgs


def test_validator_message_has_no_pydantic_prefix(tmp_path):
    msgs = issues_of(tmp_path, """
[sources.src]
type = "testing.events"
[processors.f]
type = "filter"
inputs = ["src"]
where = [{ field = "text", regex = "(" }]
[sinks.out]
type = "testing.capture"
inputs = ["f"]
""")
    assert msgs and not any("Value error" in m for m in msgs), msgs
    assert any("processors.f: key 'where" in m for m in msgs), msgs


def issues_of_files(paths: list[Path]) -> list[str]:
    with pytest.raises(ConfigError) as ei:
        load_config(paths)
    return [str(i) for i in ei.value.issues]


def test_simulator_url_points_every_component_at_a_running_simulator(tmp_path):
    import anyio

    from livepipe.runner import embedded_simulator

    cfg = load_config([write(tmp_path, "[simulator]\nurl = \"http://127.0.0.1:8400/\"\n" + GOOD)])
    assert cfg.simulator.url == "http://127.0.0.1:8400/"

    async def settings() -> dict:
        async with embedded_simulator(cfg) as extra:
            return extra

    assert anyio.run(settings, backend="asyncio") == {"simulator_url": "http://127.0.0.1:8400"}


@pytest.mark.parametrize(("table", "fragment"), [
    ("url = \"127.0.0.1:8400\"", "url must be an http:// or https:// base URL"),
    ("url = \"http://127.0.0.1:1\"\nrate = 3", "rate describes an embedded simulator and cannot be combined with url"),
    ("url = \"http://127.0.0.1:1\"\nrooms = [1]\nseed = 2", "rooms, seed describe an embedded simulator"),
])
def test_simulator_url_is_checked(tmp_path, table, fragment):
    (msg,) = issues_of(tmp_path, f"[simulator]\n{table}\n" + GOOD)
    assert "simulator" in msg and fragment in msg, msg


def test_use_simulator_at_replaces_the_table_and_checks_the_url(tmp_path):
    cfg = load_config([write(tmp_path, "[simulator]\nrate = 1\n" + GOOD)])
    cfg.use_simulator_at("http://127.0.0.1:9")
    assert cfg.simulator.url == "http://127.0.0.1:9"
    with pytest.raises(ConfigError, match="--sim: url must be an http"):
        cfg.use_simulator_at("localhost:9")


def test_simulator_table_is_validated(tmp_path):
    (msg,) = issues_of(tmp_path, "[simulator]\nrooms = [1000]\nrat = 5\n" + GOOD)
    assert ":3: simulator: key 'rat': unknown key; did you mean 'rate'?" in msg
    cfg = load_config([write(tmp_path, "[simulator]\nrooms = [1000, \"76:22000076\"]\nrate = 2\n" + GOOD)])
    assert cfg.simulator.run_kwargs()["rooms"] == [1000, (76, 22000076)]


async def _run_with_sim(cfg):
    from livepipe.runner import embedded_simulator

    async with embedded_simulator(cfg) as extra:
        import httpx

        async with httpx.AsyncClient() as c:
            r = await c.get(extra["simulator_url"] + "/room/v1/Room/room_init", params={"id": 76})
        return r.json()["data"]["room_id"]


def test_embedded_simulator_starts(tmp_path):
    import anyio

    cfg = load_config([write(tmp_path, "[simulator]\nrooms = [\"76:22000076\"]\nrate = 0\n" + GOOD)])
    assert anyio.run(_run_with_sim, cfg, backend="asyncio") == 22000076


def test_optional_secret_fields_are_secret():
    from livepipe.schema import SinkConfig, secret_fields

    class C(SinkConfig):
        a: Secret | None = field(None, description="optional secret")
        b: list[Secret] = field(default_factory=list, description="several")
        c: str = field("", description="plain")

    assert secret_fields(C) == {"a", "b"}


def test_a_source_and_a_sink_may_share_a_type_name(tmp_path):
    """`nats` is both a source and a sink; the section decides which one is meant."""
    cfg = load_config([write(tmp_path, """
[sources.in]
type = "nats"
subject = "livepipe.>"
[sinks.out]
type = "nats"
inputs = ["in"]
subject = "copy.{kind}"
""")])
    assert type(cfg.components["in"].config).__name__ != type(cfg.components["out"].config).__name__
    reg = plugins.registry()
    assert reg.roles_of("nats") == ["source", "sink"]
    (msg,) = issues_of(tmp_path, "[processors.p]\ntype = \"nats\"\ninputs = []\n")
    assert "'nats' is a source, not a processor" in msg


def test_env_value_in_a_plain_field_of_a_dotted_id_is_not_echoed(tmp_path, monkeypatch):
    """Found by fuzzing: the id error and the type error of the same table must not print the value."""
    monkeypatch.setenv("LP_LEAK", "leaky-secret-value-55")
    msgs = issues_of(tmp_path, GOOD + "[processors.\"c.d\"]\ntype = \"dedupe\"\ninputs = [\"src\"]\n"
                                      "buffer = { env = \"LP_LEAK\" }\n")
    assert any("key 'buffer'" in m for m in msgs), msgs
    assert not any("leaky-secret-value-55" in m for m in msgs), msgs


def test_run_sim_option_rejects_a_url_that_is_not_http(tmp_path):
    from click.testing import CliRunner

    from livepipe.cli import cli

    path = write(tmp_path, GOOD)
    result = CliRunner().invoke(cli, ["run", "--sim", "127.0.0.1:8400", str(path)])
    assert result.exit_code == 78
    assert "--sim: url must be an http:// or https:// base URL, got '127.0.0.1:8400'" in result.output
