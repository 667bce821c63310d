"""The installed package: `pip install` registers the processors, `livepipe validate` refuses bad templates
(exit 78, file:line), `livepipe assistant preview` prints what would be said.

The package is pip-installed (without dependencies) from a copy into a private directory, as a
user would install it; the subprocess tests run ``python -m livepipe`` with that directory first
on PYTHONPATH, so the entry point, the components and the command come from the installed copy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from livepipe.config import load_config

PACKAGE = Path(__file__).resolve().parents[1]
ROOT = PACKAGE.parents[1]
EXAMPLE = ROOT / "examples" / "assistant.toml"
EVENING = ROOT / "examples" / "data" / "assistant-evening.jsonl"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """pip-install livepipe-assistant (no dependencies: they are in this environment) into a private directory."""
    src = tmp_path_factory.mktemp("src") / "livepipe-assistant"
    shutil.copytree(PACKAGE, src, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(src)],
                   check=True, capture_output=True)
    return target


def livepipe(site: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    env["LIVEPIPE_LOAD_PLUGINS"] = "assistant"
    env["TZ"] = "UTC"
    return subprocess.run([sys.executable, "-m", "livepipe", *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=cwd)


def test_pip_install_registers_the_processors(site):
    r = livepipe(site, "plugins", "--json")
    assert r.returncode == 0, r.stderr
    report = {p["name"]: p for p in json.loads(r.stdout)}
    assistant = report["assistant"]
    assert assistant["error"] is None and assistant["version"] == "0.1.0"
    assert str(site) in (assistant.get("location") or str(site))
    types = {c["type"]: c["role"] for c in assistant["components"]}
    assert types == {"thanks": "processor", "welcome": "processor", "autoreply": "processor"}
    assert "livepipe_register_commands" in assistant["hooks"]


def test_the_example_validates(site):
    # --offline: the example names the bot's cookie file, which only its owner's machine has
    r = livepipe(site, "validate", "--offline", str(EXAMPLE))
    assert r.returncode == 0, r.stderr


BAD = """\
[sources.chat]
type = "replay"
path = "chat.jsonl"

[processors.thanks]
type = "thanks"
inputs = ["chat"]

[processors.thanks.templates]
gift = "谢谢{{ uname }}的{{ gfit }}"
super_chat = \"\"\"
谢谢{{ uname }}
{% if price > %}大气{% endif %}
\"\"\"

[processors.faq]
type = "autoreply"
inputs = ["chat"]

[[processors.faq.rules]]
keywords = ["歌单"]
reply = "{{ event.danmaku.medal.levle }}"

[sinks.out]
type = "console"
inputs = ["thanks", "faq"]
"""


def test_bad_templates_fail_validate_with_78_and_the_place(site, tmp_path):
    cfg = tmp_path / "bot.toml"
    cfg.write_text(BAD, encoding="utf-8")
    r = livepipe(site, "validate", "--offline", str(cfg))
    assert r.returncode == 78, (r.stdout, r.stderr)
    err = r.stderr
    assert re.search(r"bot\.toml:10: .*templates\.gift.*template line 1: unknown name 'gfit' \(did you mean 'gift'\?\)",
                     err), err
    assert re.search(r"bot\.toml:11: .*templates\.super_chat.*template line 2: ", err), err
    assert re.search(r"bot\.toml:2[01]: .*unknown field 'event\.danmaku\.medal\.levle'.*did you mean 'level'", err), err


def test_preview_prints_what_would_be_said_and_when(site):
    r = livepipe(site, "assistant", "preview", str(EXAMPLE), "--replay", str(EVENING))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    said = [line for line in lines if re.match(r"\d\d:\d\d:\d\d  \[", line)]
    assert said == [
        "20:00:08  [welcome] 欢迎舰长阿强、提督小美",
        "20:00:20  [faq] 路人甲：工作日晚上8点开播 (@3002)",
        "20:00:25  [faq] 粉丝群在直播间简介里哦",
        "20:01:03  [thanks] 谢谢SC老板的50元SC",
        "20:01:06  [thanks] 谢谢小明的打callx12",
        "20:01:09  [thanks] 谢谢阿一、阿二、阿三的礼物",
        "20:01:32  [thanks] 感谢新舰长开通舰长！",
    ]
    assert "nothing was sent" in r.stdout
    assert "welcome: messages 1, dropped late 0, suppressed cooldown 1" in r.stdout


def test_preview_refuses_a_config_without_assistant_processors(site, tmp_path):
    cfg = tmp_path / "plain.toml"
    cfg.write_text('[sources.a]\ntype = "replay"\npath = "x.jsonl"\n[sinks.b]\ntype = "console"\ninputs = ["a"]\n',
                   encoding="utf-8")
    r = livepipe(site, "assistant", "preview", str(cfg), "--replay", str(EVENING))
    assert r.returncode == 78 and "no processor of type thanks, welcome or autoreply" in r.stderr


def test_pipelines_in_the_docs_page_validate(tmp_path):
    page = (ROOT / "docs" / "assistant.md").read_text(encoding="utf-8")
    # the pipelines marked no-validate (they need this plugin, which tests/test_docs.py does not load);
    # the page's deliberately broken example (saved as bot.toml) is checked by its shell block
    blocks = [b for b in re.findall(r"<!-- no-validate -->\n```toml\n(.*?)```", page, re.S)
              if "[sources." in b and "[sinks." in b]
    assert len(blocks) >= 5
    for i, block in enumerate(blocks):
        p = tmp_path / f"doc{i}.toml"
        p.write_text(block, encoding="utf-8")
        load_config([p])


def test_livepipe_test_rehearses_the_example_without_cookies_and_sends_nothing(site, tmp_path):
    """`livepipe test` on the example (no bot-cookies.json on this machine): the bilibili.send sink runs dry,
    the processors start without the bot's uid, and the answer is a dry_run result."""
    cfg = tmp_path / "bot.toml"
    text = EXAMPLE.read_text(encoding="utf-8").replace('state_file = "welcome-state.json"',
                                                       'state_file = "state/welcome.json"')
    cfg.write_text(text + '''
[[tests]]
name = "a question is answered, dry"

[[tests.inputs]]
insert_at = "chat"
events = [{ kind = "danmaku", room_id = 22000076, uid = 8, uname = "小红", text = "有ＱＱ群吗" }]

[[tests.outputs]]
extract_from = "say.results"
count = 1
conditions = [{ field = "data.outcome", equals = "dry_run" }, { field = "text", equals = "粉丝群在直播间简介里哦" }]
''', encoding="utf-8")
    r = livepipe(site, "test", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed" in r.stdout
    assert "uid is unknown" in r.stderr  # the processors said why they go on without it
    assert not (tmp_path / "bot-cookies.json").exists()
