"""`livepipe validate` catches what `run` would: missing files, open cookie files, unwritable sinks, unset
variables, unknown credential keys; `--offline` / `--no-env` skip the machine checks; plugins add their own."""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from livepipe import plugins
from livepipe.bilibili.credential import BilibiliCredentialConfig
from livepipe.cli import cli
from livepipe.component import Emit, Sink
from livepipe.events import Event
from livepipe.hookspecs import hookimpl
from livepipe.preflight import Problem, Problems
from livepipe.schema import SinkConfig, field, secret_fields

SOURCE = """
[sources.room]
type = "replay"
path = "{replay}"
"""

SINK = """
[sinks.out]
type = "file"
inputs = ["room"]
path = "{out}"
"""

CREDENTIAL = """
[credentials.main]
cookie_file = "{cookies}"

[sinks.ban]
type = "bilibili.ban"
inputs = ["room"]
credential = "main"
audit_log = "{audit}"
"""

GOOD = {"replay": "rec.jsonl", "out": "logs/{room_id}/events.jsonl", "cookies": "cookies.json",
        "audit": "audit/actions.jsonl"}


def _setup(tmp_path: Path) -> None:
    (tmp_path / "rec.jsonl").write_text('{"kind": "danmaku", "room_id": 1}\n')
    cookies = tmp_path / "cookies.json"
    cookies.write_text('{"SESSDATA": "s", "bili_jct": "j", "DedeUserID": "5"}\n')
    cookies.chmod(0o600)
    (tmp_path / "a-file").write_text("in the way")


def _validate(tmp_path: Path, text: str, *flags: str, env: dict[str, str] | None = None) -> Any:
    (tmp_path / "p.toml").write_text(text, encoding="utf-8")
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        return CliRunner().invoke(cli, ["validate", *flags, "p.toml"], env=env, catch_exceptions=False)
    finally:
        os.chdir(old)


def _config(**over: str) -> str:
    values = {**GOOD, **over}
    return (SOURCE + SINK + CREDENTIAL).format(**values)


def _line_of(text: str, needle: str, after: str = "") -> int:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines[start:], start + 1) if needle in line)


#: (what is broken, how, the component and key blamed, words of the message)
BROKEN = [
    ("replay file missing", {"replay": "missing.jsonl"}, "sources.room", "path",
     "replay file missing.jsonl does not exist"),
    ("replay path is a directory", {"replay": "logs-dir"}, "sources.room", "path", "is not a file"),
    ("replay in a missing directory", {"replay": "nowhere/rec.jsonl"}, "sources.room", "path", "does not exist"),
    ("sink directory blocked by a file", {"out": "a-file/{room_id}.jsonl"}, "sinks.out", "path",
     "a-file is not a directory"),
    ("sink file below a file", {"out": "a-file/sub/out.jsonl"}, "sinks.out", "path", "a-file is not a directory"),
    ("sink path is a directory", {"out": "logs-dir"}, "sinks.out", "path", "is a directory"),
    ("audit log below a file", {"audit": "a-file/audit.jsonl"}, "sinks.ban", "audit_log", "a-file is not a directory"),
    ("cookie file missing", {"cookies": "gone.json"}, "credentials.main", "cookie_file", "gone.json does not exist"),
    ("cookie file world readable", {"cookies": "open.json"}, "credentials.main", "cookie_file",
     "open to other users (mode 0644) — run `chmod 600"),
    ("cookie file group readable", {"cookies": "group.json"}, "credentials.main", "cookie_file",
     "open to other users (mode 0640)"),
    ("cookie file without cookies", {"cookies": "empty.json"}, "credentials.main", "cookie_file",
     "holds no Bilibili cookie"),
]


@pytest.mark.parametrize("case", BROKEN, ids=[c[0] for c in BROKEN])
def test_each_machine_problem_is_reported_with_place_and_fix(tmp_path, case):
    _name, over, component, key, words = case
    _setup(tmp_path)
    (tmp_path / "logs-dir").mkdir()
    for name, mode in (("open.json", 0o644), ("group.json", 0o640), ("empty.json", 0o600)):
        p = tmp_path / name
        p.write_text("{}\n" if name == "empty.json" else '{"SESSDATA": "s"}\n')
        p.chmod(mode)
    text = _config(**over)
    r = _validate(tmp_path, text)
    assert r.exit_code == 78, r.output
    lines = [x.strip() for x in r.output.splitlines()[1:]]
    assert len(lines) == 1, r.output  # only the broken thing, nothing else
    (msg,) = lines
    line = _line_of(text, f"{key} =", after=f"[{component}]")
    assert msg.startswith(f"p.toml:{line}: {component}: key '{key}': "), msg
    assert words in msg, msg
    assert " — " in msg  # what is wrong — the fix
    # --offline checks only the text: the same file is valid
    r = _validate(tmp_path, text, "--offline")
    assert r.exit_code == 0 and "not checked on this machine: --offline" in r.output, r.output


def test_a_good_machine_passes_and_validate_creates_nothing(tmp_path):
    _setup(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    r = _validate(tmp_path, _config())
    assert r.exit_code == 0, r.output
    assert "configuration is valid (1 sources, 0 processors, 2 sinks)" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "p.toml"])  # no logs/, no audit/


def test_a_credential_only_rehearsed_or_unused_is_not_checked(tmp_path):
    # run would not fail: a sink in dry run tolerates an unreadable credential, and nothing else uses it
    _setup(tmp_path)
    dry = _config(cookies="gone.json").replace('audit_log =', 'dry_run = true\naudit_log =')
    assert _validate(tmp_path, dry).exit_code == 0
    unused = dry.replace('credential = "main"', 'credential = "other"') + '[credentials.other]\nsessdata = "s"\n'
    r = _validate(tmp_path, unused.replace("dry_run = true\n", ""))
    assert r.exit_code == 0, r.output


def test_every_problem_is_listed_at_once(tmp_path):
    _setup(tmp_path)
    text = _config(replay="missing.jsonl", out="a-file/x.jsonl", cookies="gone.json", audit="a-file/a.jsonl")
    r = _validate(tmp_path, text)
    assert r.exit_code == 78
    assert "invalid configuration (4 problems)" in r.output


ENV_AND_FILES = SOURCE.format(replay="rec.jsonl") + """
[sinks.bus]
type = "nats"
inputs = ["room"]
subject = "x"
user = "alice"
password = { env = "LIVEPIPE_TEST_UNSET_PASSWORD" }

[sinks.bus2]
type = "nats"
inputs = ["room"]
subject = "x"
token = { file = "secrets/missing-token" }
"""


def test_unset_variable_and_missing_secret_file(tmp_path):
    _setup(tmp_path)
    os.environ.pop("LIVEPIPE_TEST_UNSET_PASSWORD", None)
    r = _validate(tmp_path, ENV_AND_FILES)
    assert r.exit_code == 78
    out = r.output
    assert f"p.toml:{_line_of(ENV_AND_FILES, 'password =')}: sinks.bus: key 'password': environment variable " \
           "LIVEPIPE_TEST_UNSET_PASSWORD is not set" in out
    assert f"p.toml:{_line_of(ENV_AND_FILES, 'token =')}: sinks.bus2: key 'token': cannot read secret file " \
           "secrets/missing-token" in out
    # --no-env: only the variable is excused
    r = _validate(tmp_path, ENV_AND_FILES, "--no-env")
    assert r.exit_code == 78 and "LIVEPIPE_TEST_UNSET_PASSWORD" not in r.output
    assert "missing-token" in r.output
    # --offline: neither
    r = _validate(tmp_path, ENV_AND_FILES, "--offline")
    assert r.exit_code == 0, r.output
    # set and present: valid without flags
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "missing-token").write_text("tok")
    r = _validate(tmp_path, ENV_AND_FILES, env={"LIVEPIPE_TEST_UNSET_PASSWORD": "pw"})
    assert r.exit_code == 0, r.output


def test_no_env_still_reports_real_mistakes_next_to_an_unset_variable(tmp_path):
    _setup(tmp_path)
    text = ENV_AND_FILES.replace('subject = "x"\nuser', 'subject = "x"\nreconnect_wait = "soon"\nuser')
    r = _validate(tmp_path, text, "--offline")
    assert r.exit_code == 78
    assert "sinks.bus: key 'reconnect_wait'" in r.output and "password" not in r.output


# ---- credential keys -------------------------------------------------------------------------------


def _misspellings(key: str) -> list[str]:
    """Typos of ``key``: a letter dropped, two letters swapped, a letter doubled."""
    out = set()
    for i in range(1, len(key) - 1):
        out.add(key[:i] + key[i + 1:])
        out.add(key[:i] + key[i + 1] + key[i] + key[i + 2:])
        out.add(key[:i] + key[i] + key[i:])
    return sorted(k for k in out if k != key and k not in BilibiliCredentialConfig.model_fields)


def test_unknown_credential_keys_are_rejected_with_the_closest_key(tmp_path):
    fields = list(BilibiliCredentialConfig.model_fields)
    cases = [(t, key) for key in fields for typo in _misspellings(key) for t in (typo, typo.upper())]
    cases += [("sesdata", "sessdata"), ("uid", "dedeuserid"), ("mid", "dedeuserid"), ("csrf", "bili_jct"),
              ("cookies", "cookie_file"), ("SESDATA", "sessdata")]
    assert len(cases) > 400
    right = wrong = 0
    misses = []
    for typo, key in cases:
        text = f'[credentials.main]\n{typo} = "v"\n' + SOURCE.format(replay="rec.jsonl")
        (tmp_path / "p.toml").write_text(text, encoding="utf-8")
        r = subprocess_free_validate(tmp_path)
        assert f"p.toml:2: credentials.main: key '{typo}': unknown key" in r, r
        if f"did you mean '{key}'?" in r:
            right += 1
        else:
            wrong += 1
            misses.append((typo, key, re.search(r"did you mean '(\w+)'", r)))
    # ambiguous typos may point at a sibling key one edit away (buvid3 / buvid4, code / codes); nothing else
    assert all(m is not None and _one_edit(m.group(1), k) for _t, k, m in misses), misses
    print(f"closest-key suggestions: {right}/{len(cases)} right, misses {misses}")
    assert right / len(cases) > 0.97, (right, wrong, misses[:10])


def _one_edit(a: str, b: str) -> bool:
    """``a`` and ``b`` differ by one inserted, deleted or replaced character."""
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    return any(b[:i] + b[i + 1:] == a for i in range(len(b)))


def subprocess_free_validate(tmp_path: Path) -> str:
    from livepipe.config import ConfigError, load_config

    try:
        load_config([tmp_path / "p.toml"])
    except ConfigError as e:
        return "\n".join(str(i).replace(str(tmp_path) + "/", "") for i in e.issues)
    return ""


def test_credential_keys_are_case_insensitive_and_uid_must_be_a_number(tmp_path):
    (tmp_path / "rec.jsonl").write_text("")
    ok = '[credentials.main]\nSESSDATA = "s"\nbili_jct = "j"\nDedeUserID = "12"\n' + SOURCE.format(replay="rec.jsonl")
    (tmp_path / "p.toml").write_text(ok)
    assert subprocess_free_validate(tmp_path) == ""
    dup = '[credentials.main]\nSESSDATA = "s"\nsessdata = "t"\n' + SOURCE.format(replay="rec.jsonl")
    (tmp_path / "p.toml").write_text(dup)
    assert "given twice" in subprocess_free_validate(tmp_path)
    bad = '[credentials.main]\ndedeuserid = "12a"\n' + SOURCE.format(replay="rec.jsonl")
    (tmp_path / "p.toml").write_text(bad)
    assert "p.toml:2: credentials.main: key 'dedeuserid': DedeUserID must be a number" in subprocess_free_validate(
        tmp_path)


def test_every_credential_field_is_declared_secret_or_not():
    secrets = secret_fields(BilibiliCredentialConfig)
    assert secrets == {"sessdata", "bili_jct", "refresh_token", "ac_time_value", "bili_ticket",
                       "access_key_id", "access_key_secret", "code", "codes"}
    for name, info in BilibiliCredentialConfig.model_fields.items():
        assert info.description, name
    close = difflib.get_close_matches("sesdata", list(BilibiliCredentialConfig.model_fields), n=1)
    assert close == ["sessdata"]


# ---- plugins add their own checks ---------------------------------------------------------------------


class GpuSink(Sink):
    """A plugin sink that needs a device file."""

    type_name = "t.device"

    class Config(SinkConfig):
        device: str = field(description="device file")
        explode: bool = field(False, description="make the check itself crash")

    def preflight(self) -> Problems:
        if self.config.explode:
            raise RuntimeError("the check broke")
        if not self.context.path(self.config.device).exists():
            yield Problem("device", f"device {self.config.device} is missing — plug it in")

    async def write(self, event: Event, emit: Emit) -> None:
        pass


class _Plugin:
    @hookimpl
    def livepipe_register_components(self, registry: Any) -> None:
        registry.register(GpuSink)


def test_a_plugin_components_preflight_is_called_and_a_crash_is_reported(tmp_path):
    if plugins.manager().get_plugin("tests.device") is None:
        plugins.register_plugin(_Plugin(), "tests.device")
    _setup(tmp_path)
    text = SOURCE.format(replay="rec.jsonl") + '\n[sinks.gpu]\ntype = "t.device"\ninputs = ["room"]\n' \
                                               'device = "dev0"\n'
    r = _validate(tmp_path, text)
    assert r.exit_code == 78
    assert f"p.toml:{_line_of(text, 'device =')}: sinks.gpu: key 'device': device dev0 is missing — plug it in" \
           in r.output
    (tmp_path / "dev0").write_text("")
    assert _validate(tmp_path, text).exit_code == 0
    r = _validate(tmp_path, text + "explode = true\n")
    assert r.exit_code == 78
    assert "sinks.gpu: its preflight check failed: RuntimeError: the check broke" in r.output


def test_validate_cli_exit_status_is_78_as_a_process(tmp_path):
    _setup(tmp_path)
    (tmp_path / "p.toml").write_text(_config(replay="missing.jsonl"))
    r = subprocess.run([sys.executable, "-m", "livepipe", "validate", "p.toml"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 78 and "replay file missing.jsonl does not exist" in r.stderr
