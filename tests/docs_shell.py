"""Run the shell blocks of the documentation as a new user would type them.

A *shell block* is a fenced block in ``console``, ``sh``, ``bash`` or ``shell``. With ``$ `` prompts,
the lines after a command are its documented output; without prompts every line is a command. A
trailing ``\\`` continues a command on the next line. ``$ echo $?`` after a command documents that
command's exit status; otherwise a command must exit 0. Every documented output line must appear in
what the command printed (stdout and stderr; whitespace runs count as one space; ``...`` or ``…``
stand for any text).

Each page runs in one session: a fresh directory holding a copy of ``examples/`` (and ``plugins/``,
linked), ``HOME`` pointing into it, the test's Python environment first on ``PATH``, ``TZ=UTC`` (the
docs show local times of a machine on UTC). HTML comments right above a block steer it:

* ``<!-- shell: skip REASON -->``: not run (needs the network, an account, installs packages...);
  the reason is required.
* ``<!-- shell: background ready="TEXT" -->``: every command of the block starts in the background
  and the session waits (bounded) until it has printed TEXT. A ``--port N`` in it gets a free port
  instead, and ``127.0.0.1:N`` / ``--port N`` in the page's later blocks follow. Background
  processes are stopped when the page ends.
* ``<!-- shell: wait="TEXT" -->``: before running the block, wait (bounded) until a background
  process has printed TEXT. Above a ``text`` block, that block is what a background process shows:
  each of its lines must be in their output.
* ``<!-- file: NAME -->`` above any other fenced block: the session saves the block as NAME, so
  "save this as pipeline.toml" steps happen as written. ``<!-- file: NAME ports="9464" -->``: the
  file listens on that port; the session uses a free port instead (in the file and in later blocks).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SHELL_LANGS = {"console", "sh", "bash", "shell"}
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<lang>[\w-]*)[^\n]*$")
_MARKER = re.compile(r"^\s*<!--\s*(?P<kind>shell|file):\s*(?P<body>.*?)\s*-->\s*$")
_ARG = re.compile(r'(\w[\w-]*)(?:="([^"]*)")?')

#: seconds a foreground command, a background readiness or a wait may take
COMMAND_TIMEOUT = 120.0
WAIT_TIMEOUT = 60.0


@dataclass
class Block:
    """One fenced block of a page, with the markers written above it."""

    page: Path
    line: int
    lang: str
    body: str
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def is_shell(self) -> bool:
        """A block the runner executes (unless skipped)."""
        return self.lang in SHELL_LANGS

    def where(self) -> str:
        """``docs/page.md:LINE`` for messages."""
        return f"{self.page}:{self.line}"


@dataclass
class Command:
    """One command of a shell block and the output and exit status the page documents for it."""

    text: str
    output: list[str]
    status: int = 0


def parse_blocks(page: Path, text: str) -> list[Block]:
    """Every fenced block of ``text`` with its markers (comment lines directly above, blank lines allowed)."""
    lines = text.splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group("indent"), m.group("fence"), m.group("lang")
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        i += 1
        markers: dict[str, str] = {}
        j = start - 1
        while j >= 0 and (not lines[j].strip() or _MARKER.match(lines[j])):
            mm = _MARKER.match(lines[j])
            if mm:
                if mm.group("kind") == "file":
                    name, _, rest = mm.group("body").partition(" ")
                    markers["file"] = name
                    markers.update(dict(_ARG.findall(rest)))
                else:
                    body_text = mm.group("body")
                    if body_text.startswith("skip"):
                        markers["skip"] = body_text[4:].strip()
                    else:
                        for key, value in _ARG.findall(body_text):
                            markers[key] = value
            j -= 1
        out.append(Block(page, start + 1, lang, "\n".join(body), markers))
    return out


def parse_commands(block: Block) -> list[Command]:
    """The commands of a shell block; ``echo $?`` lines become the previous command's status."""
    lines = block.body.splitlines()
    prompted = any(line.startswith("$ ") for line in lines)
    cmds: list[Command] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if prompted and not line.startswith("$ "):
            if cmds and line.strip():
                cmds[-1].output.append(line)
            i += 1
            continue
        text = line[2:] if prompted else line
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text[:-1] + " " + lines[i].strip()
        i += 1
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped == "echo $?" and cmds:
            status_lines = []
            while i < len(lines) and not lines[i].startswith("$ ") and lines[i].strip():
                status_lines.append(lines[i].strip())
                i += 1
            cmds[-1].status = int(status_lines[0])
            continue
        cmds.append(Command(text, []))
    return cmds


def _normalize(s: str) -> str:
    return " ".join(s.split())


def output_matches(documented: str, actual_lines: list[str]) -> bool:
    """Whether the documented line appears among the actual ones (``...``/``…`` match any text)."""
    parts = re.split(r"\.\.\.|…", _normalize(documented))
    pattern = re.compile(".*".join(re.escape(p) for p in parts))
    return any(pattern.fullmatch(_normalize(a)) for a in actual_lines)


def free_port() -> int:
    """A port nobody listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Session:
    """One page's run: its directory, environment, background processes and port substitutions."""

    def __init__(self, root: Path, workdir: Path) -> None:
        self.dir = workdir
        shutil.copytree(root / "examples", workdir / "examples",
                        ignore=shutil.ignore_patterns("__pycache__", "out", "*.pyc"))
        (workdir / "plugins").symlink_to(root / "plugins")  # pages name the plugins' example files
        (workdir / "home").mkdir()
        bindir = str(Path(sys.executable).parent)
        # (the pages show livepipe as installed: a LIVEPIPE_PURE_PYTHON=1 of the test run is not passed on)
        inherited = {k: v for k, v in os.environ.items() if k != "LIVEPIPE_PURE_PYTHON"}
        self.env = {**inherited, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
                    "HOME": str(workdir / "home"), "TZ": "UTC", "NO_COLOR": "1",
                    "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        self.ports: dict[str, str] = {}
        self.background: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.log: list[str] = []

    # ---- text ------------------------------------------------------------------------------------

    def substitute(self, text: str) -> str:
        """``text`` with the documented ports replaced by the ones this session uses."""
        for documented, used in self.ports.items():
            text = re.sub(rf"(?<=127\.0\.0\.1:){documented}\b", used, text)
            text = re.sub(rf"(?<=localhost:){documented}\b", used, text)
            text = re.sub(rf"(--port[ =]){documented}\b", rf"\g<1>{used}", text)
        return text

    def background_output(self) -> str:
        """Everything the background processes printed so far."""
        return "".join(p.read_text(encoding="utf-8", errors="replace") for _, p in self.background)

    # ---- running -----------------------------------------------------------------------------------

    def run_block(self, block: Block) -> None:
        """Run one block as its markers say; raise AssertionError naming the block on any difference."""
        if "file" in block.markers:
            for port in filter(None, block.markers.get("ports", "").split(",")):
                self.ports[port.strip()] = str(free_port())
            target = self.dir / block.markers["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(self.substitute(block.body) + "\n", encoding="utf-8")
            return
        if "skip" in block.markers:
            return
        if "wait" in block.markers:
            self._wait_for(block.markers["wait"], block)
            if not block.is_shell:  # what a background process shows: every line must be in its output
                lines = [self.substitute(line) for line in filter(str.strip, block.body.splitlines())]

                def first_missing() -> str | None:  # lines of concurrent work may come in any order
                    shown = self.background_output().splitlines()
                    return next((f"the documented line {line!r}" for line in lines
                                 if not output_matches(line, shown)), None)

                self._wait_until(first_missing, block)
                return
        if not block.is_shell:
            return
        for cmd in parse_commands(block):
            if "background" in block.markers:
                self._start_background(cmd, block)
            else:
                self._run(cmd, block)

    def _run(self, cmd: Command, block: Block) -> None:
        text = self.substitute(cmd.text)
        try:
            proc = subprocess.run(["bash", "-c", text], cwd=self.dir, env=self.env, capture_output=True,
                                  timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{block.where()}: `{text}` did not finish within {COMMAND_TIMEOUT:.0f} s") from None
        out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
        self.log.append(f"$ {text}\n{out}")
        assert proc.returncode == cmd.status, (
            f"{block.where()}: `{text}` exited {proc.returncode}, the page says {cmd.status}\n{out}"
        )
        actual = out.splitlines()
        for line in cmd.output:
            expected = self.substitute(line)
            assert output_matches(expected, actual), (
                f"{block.where()}: `{text}` did not print the documented line\n  {expected}\nit printed:\n{out}"
            )

    def _start_background(self, cmd: Command, block: Block) -> None:
        text = cmd.text.rstrip().removesuffix("&").rstrip()
        m = re.search(r"--port[ =](\d+)", text)
        if m and m.group(1) != "0":
            self.ports[m.group(1)] = str(free_port())
        text = self.substitute(text)
        logfile = self.dir / f"background-{len(self.background)}.log"
        with logfile.open("wb") as f:
            proc = subprocess.Popen(["bash", "-c", f"exec {text}"], cwd=self.dir, env=self.env, stdout=f,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.background.append((proc, logfile))
        ready = block.markers.get("ready")
        if ready:
            self._wait_for(ready, block, proc=proc)

    def _wait_for(self, text: str, block: Block, proc: subprocess.Popen[bytes] | None = None) -> None:
        self._wait_until(lambda: None if text in self.background_output() else repr(text), block, proc)

    def _wait_until(self, missing: Callable[[], str | None], block: Block,
                    proc: subprocess.Popen[bytes] | None = None) -> None:
        """Poll the background output until ``missing()`` is None (it names what has not been printed yet)."""
        deadline = time.monotonic() + WAIT_TIMEOUT
        while (what := missing()) is not None:
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"{block.where()}: background command exited {proc.returncode} before "
                                     f"printing {what}:\n{self.background_output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{block.where()}: no background process printed {what} within "
                                     f"{WAIT_TIMEOUT:.0f} s:\n{self.background_output()}")
            time.sleep(0.1)  # polling a log file written by another process; bounded by the deadline

    def close(self) -> None:
        """Stop the background processes this session started (SIGINT, then SIGKILL)."""
        for proc, _ in self.background:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
        for proc, _ in self.background:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
