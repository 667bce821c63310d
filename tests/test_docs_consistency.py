"""Facts the pages repeat agree with the code: credential keys, the command table, the simulator's streamer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from livepipe.bilibili.credential import BilibiliCredentialConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: what a [credentials.NAME] table accepts: the declared credential schema (livepipe/bilibili/credential.py)
CREDENTIAL_KEYS = set(BilibiliCredentialConfig.model_fields)


def _toml_blocks() -> list[tuple[str, dict]]:
    out = []
    for page in [*sorted(DOCS.rglob("*.md")), *sorted((ROOT / "examples").rglob("*.md")), ROOT / "README.md"]:
        text = page.read_text(encoding="utf-8")
        for i, block in enumerate(re.findall(r"```toml\n(.*?)```", text, re.S)):
            try:
                out.append((f"{page.relative_to(ROOT)}#{i}", tomllib.loads(block)))
            except tomllib.TOMLDecodeError:
                continue  # fragments with placeholders; validated elsewhere when they are pipelines
    for path in sorted((ROOT / "examples").rglob("*.toml")):
        out.append((str(path.relative_to(ROOT)), tomllib.loads(path.read_text(encoding="utf-8"))))
    return out


def test_every_credential_table_in_docs_and_examples_uses_the_real_keys():
    seen = 0
    wrong = []
    for where, doc in _toml_blocks():
        for name, table in (doc.get("credentials") or {}).items():
            seen += 1
            bad = sorted(k for k in table if k not in CREDENTIAL_KEYS)
            if bad:
                wrong.append(f"{where}: [credentials.{name}] {bad}")
    assert seen >= 5
    assert not wrong, f"credential keys that livepipe/bilibili/credential.py does not accept: {wrong}"


def test_credential_key_names_on_the_credentials_page_are_the_real_ones():
    text = (DOCS / "credentials.md").read_text(encoding="utf-8")
    table = text.split("<!-- BEGIN GENERATED: credential-keys -->")[1]
    table = table.split("<!-- END GENERATED: credential-keys -->")[0]
    listed = set(re.findall(r"^\| `([a-z_0-9]+)`", table, re.M))
    assert listed == CREDENTIAL_KEYS, listed ^ CREDENTIAL_KEYS


def test_the_command_table_lists_every_command_the_cli_has():
    env_cmd = [sys.executable, "-m", "livepipe"]
    table = (DOCS / "cli.md").read_text(encoding="utf-8").split("<!-- BEGIN GENERATED: cli-commands -->")[1]
    table = table.split("<!-- END GENERATED: cli-commands -->")[0]
    rows = re.findall(r"^\| `(livepipe [^`]*)` \|", table, re.M)

    def commands(path: list[str]) -> list[list[str]]:
        out = subprocess.run([*env_cmd, *path[1:], "--help"], capture_output=True, text=True, timeout=60,
                             env={"LIVEPIPE_LOAD_PLUGINS": "", "PATH": "/usr/bin:/bin"}).stdout
        if "Commands:" not in out:
            return [path]
        names = re.findall(r"^  ([a-z][a-z-]*)\s", out.split("Commands:", 1)[1], re.M)
        return [leaf for n in names for leaf in commands([*path, n])]

    leaves = commands(["livepipe"])
    assert len(leaves) >= 9
    for leaf in leaves:
        assert any(row.startswith(" ".join(leaf) + " ") or row == " ".join(leaf) for row in rows), (
            f"{' '.join(leaf)} is missing from the command table of docs/cli.md"
        )
    assert len(rows) == len(leaves), (rows, leaves)


def test_the_documented_streamer_of_room_76_is_the_simulators():
    from livepipe.sim.app import Simulator

    for rooms in ([(76, 22000076)], None):  # `livepipe sim --rooms 76:22000076`, and the default rooms
        owner = Simulator(rooms).room(76).owner_uid
        assert f"streamer_uid = {owner}" in (ROOT / "examples" / "roomctl.toml").read_text(encoding="utf-8")
        page = (DOCS / "roomctl.md").read_text(encoding="utf-8")
        assert f"streamer_uid = {owner}" in page and f"uid **{owner}**" in page


@pytest.mark.parametrize("page", ["getting-started.md"])
def test_install_instructions_do_not_promise_an_index_package(page):
    text = (DOCS / page).read_text(encoding="utf-8")
    assert not re.search(r"^\$ pip install livepipe\b", text, re.M)
    assert "python -m build" in text and "pip install -e ." in text


def test_the_quickstart_writes_next_to_its_config_file_wherever_it_runs_from(tmp_path):
    """README: the demo writes examples/out/quickstart-<room>.jsonl, relative to the config file."""
    import shutil

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "examples/out/quickstart-<room>.jsonl" in readme and "relative to that\nfile" in readme
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("out"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = subprocess.run([sys.executable, "-m", "livepipe", "run", "--quiet", "--duration", "4",
                        str(Path("..") / "examples" / "quickstart.toml")], cwd=elsewhere, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    written = sorted((tmp_path / "examples" / "out").glob("quickstart-*.jsonl"))
    assert written and all(p.stat().st_size > 0 for p in written), r.stderr
    assert not list(elsewhere.rglob("*"))
