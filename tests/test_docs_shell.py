"""Every shell block in docs/ runs as written (or says why it cannot), page by page, as a new user would.

The walkthroughs of getting-started, roomctl (against ``livepipe sim``) and automod are among them.
How blocks are run, and the markers that steer them, is described in ``tests/docs_shell.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from docs_shell import Block, Command, Session, output_matches, parse_blocks, parse_commands

ROOT = Path(__file__).resolve().parent.parent
#: a line that types a livepipe command (``livepipe room: ...`` is output, not a command)
_COMMAND_LINE = re.compile(r"^\s*(\$ )?livepipe [a-z][a-z-]*(\s|$)")
DOCS = ROOT / "docs"


def _pages() -> dict[str, list[Block]]:
    out = {}
    for page in sorted(DOCS.rglob("*.md")):
        blocks = parse_blocks(page.relative_to(ROOT), page.read_text(encoding="utf-8"))
        if any(b.is_shell for b in blocks):
            out[str(page.relative_to(DOCS))] = blocks
    return out


PAGES = _pages()
RUNNABLE = sorted(name for name, blocks in PAGES.items()
                  if any(b.is_shell and "skip" not in b.markers for b in blocks))


def test_there_are_shell_blocks_to_run():
    assert {"getting-started.md", "roomctl.md", "automod.md", "cli.md"} <= set(RUNNABLE), RUNNABLE
    total = sum(1 for blocks in PAGES.values() for b in blocks if b.is_shell)
    skipped = [b for blocks in PAGES.values() for b in blocks if b.is_shell and "skip" in b.markers]
    assert total >= 20 and len(skipped) < total / 2, (total, [b.where() for b in skipped])


def test_every_skipped_block_says_why():
    bad = [b.where() for blocks in PAGES.values() for b in blocks
           if b.is_shell and "skip" in b.markers and len(b.markers["skip"]) < 10]
    assert not bad, f"<!-- shell: skip REASON --> needs a reason: {bad}"


def test_commands_are_not_hidden_in_text_blocks():
    """A command a user should type is in a shell block (so it runs here), not in a ``text`` block."""
    hidden = []
    for blocks in PAGES.values():
        for b in blocks:
            if b.lang in ("text", "") and any(_COMMAND_LINE.match(line) for line in b.body.splitlines()):
                hidden.append(b.where())
    assert not hidden, f"livepipe commands in non-shell blocks (use ```console): {hidden}"


@pytest.mark.parametrize("page", RUNNABLE)
def test_page_runs_as_written(page, tmp_path):
    session = Session(ROOT, tmp_path)
    try:
        for block in PAGES[page]:
            session.run_block(block)
    finally:
        session.close()


# ---- the runner itself --------------------------------------------------------------------------


def _block(body: str, lang: str = "console", **markers: str) -> Block:
    return Block(Path("docs/x.md"), 1, lang, body, dict(markers))


def test_commands_outputs_and_statuses_are_parsed():
    cmds = parse_commands(_block("$ livepipe validate a.toml \\\n    b.toml\nline one\n$ echo $?\n78\n$ ls\n"))
    assert cmds == [Command("livepipe validate a.toml  b.toml", ["line one"], 78), Command("ls", [], 0)]
    plain = parse_commands(_block("# a comment\npython x.py   # trailing\n\npython y.py\n", lang="sh"))
    assert [c.text for c in plain] == ["python x.py   # trailing", "python y.py"]


def test_markers_above_a_block_are_read():
    text = ('<!-- shell: background ready="serving" -->\n```console\n$ livepipe sim --port 8400\n```\n\n'
            "<!-- shell: skip needs a Bilibili account -->\n\n```sh\nlivepipe login\n```\n"
            "<!-- file: pipeline.toml -->\n```toml\n[a]\n```\n```console\n$ ls\n```\n")
    a, b, c, d = parse_blocks(Path("p.md"), text)
    assert a.markers == {"background": "", "ready": "serving"} and a.line == 2
    assert b.markers == {"skip": "needs a Bilibili account"}
    assert c.markers == {"file": "pipeline.toml"} and not c.is_shell and c.body == "[a]"
    assert d.markers == {}


@pytest.mark.parametrize(("doc", "actual", "ok"), [
    ("livepipe, version 0.1.0", ["livepipe, version 0.1.0"], True),
    ("a:20: key 'pth': unknown key; valid keys: ...", ["a:20: key 'pth': unknown key; valid keys: x, y"], True),
    ("08:00:00 room 1001   danmaku  Alice(123): hello", ["08:00:00 room 1001 danmaku Alice(123): hello"], True),
    ("livepipe, version 0.1.0", ["livepipe, version 0.2.0"], False),
    ("errors 0", ["dropped 0, errors 0"], False),  # a whole line, not a fragment
    ("a … b", ["a and b"], True),
])
def test_output_matching(doc, actual, ok):
    assert output_matches(doc, actual) is ok


def test_a_wrong_output_or_status_fails_the_page(tmp_path):
    session = Session(ROOT, tmp_path)
    with pytest.raises(AssertionError, match="did not print the documented line"):
        session.run_block(_block("$ echo hello\ngoodbye\n"))
    with pytest.raises(AssertionError, match="exited 3, the page says 0"):
        session.run_block(_block("$ exit 3\n"))
    session.run_block(_block("$ exit 3\n$ echo $?\n3\n"))
    session.run_block(_block("x = 1", lang="toml", file="sub/a.toml"))
    assert (tmp_path / "sub" / "a.toml").read_text() == "x = 1\n"
    session.run_block(_block("$ cat sub/a.toml\nx = 1\n"))


def test_background_ports_are_replaced_and_processes_stopped(tmp_path):
    session = Session(ROOT, tmp_path)
    try:
        session.run_block(_block("$ livepipe sim --rooms 76:22000076 --port 8400\n", background="",
                                 ready="livepipe sim serving"))
        used = session.ports["8400"]
        assert used != "8400" and f"http://127.0.0.1:{used}" in session.background_output()
        session.run_block(_block("$ curl -s -o /dev/null -w '%{http_code}\\n' http://127.0.0.1:8400/_sim\n200\n"))
    finally:
        session.close()
    assert all(p.poll() is not None for p, _ in session.background)
