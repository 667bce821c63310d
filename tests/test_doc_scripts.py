"""What the general runner of docs shell blocks (tests/docs_shell.py) cannot check on the Python pages.

* ``<!-- run: interrupt after N lines -->`` above a ``console`` block (with the runner's own markers
  below it): the command runs until it has printed N lines, then gets Ctrl-C (SIGINT) and must stop
  cleanly (exit 0, no traceback); its lines must start like the lines shown. The page's
  ``<!-- file: NAME -->`` blocks are saved beside it first.
* The "Coming from blivedm" page's two scripts run side by side against one simulator: each with its
  library's Bilibili hosts redirected to the simulator (blivedm's URL constants, livepipe's default
  endpoints) and nothing else changed, and for the same messages they must print the same lines, in
  the same order.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from livepipe.sim import messages
from livepipe.sim.app import run_simulator

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = ["python.md", "components/python.md"]

_FILE = re.compile(r"<!-- file: (\S+)[^>]*-->\s*```[\w-]*\n(.*?)```", re.S)
_RUN = re.compile(r"<!-- run: interrupt after (\d+) lines -->\s*(?:<!--[^>]*-->\s*)*```console\n(.*?)```", re.S)


def _files(page: str) -> dict[str, str]:
    return {name: body for name, body in _FILE.findall((DOCS / page).read_text(encoding="utf-8"))}


def _runs(page: str) -> list[tuple[int, list[str], list[str]]]:
    out = []
    for lines, block in _RUN.findall((DOCS / page).read_text(encoding="utf-8")):
        commands = [x[2:] for x in block.splitlines() if x.startswith("$ ")]
        shown = [x for x in block.splitlines() if x and not x.startswith("$ ") and x != "^C"]
        out.append((int(lines), commands, shown))
    return out


def _argv(command: str) -> list[str]:
    argv = shlex.split(command)
    if argv[0] == "livepipe":
        return [sys.executable, "-m", "livepipe", *argv[1:]]
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    raise AssertionError(f"don't know how to run {command!r}")


def _env() -> dict[str, str]:
    return {**os.environ, "LIVEPIPE_LOAD_PLUGINS": "", "PYTHONUNBUFFERED": "1"}


def _read_lines(proc: subprocess.Popen[str], n: int, timeout: float) -> list[str]:
    """The first ``n`` stdout lines of ``proc`` (fails after ``timeout`` s or at EOF)."""
    import threading

    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if len(lines) >= n:
                break
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(timeout), f"printed only {len(lines)} of {n} lines in {timeout:g} s: {lines}"
    assert len(lines) >= n, f"ended after {len(lines)} lines: {lines}"
    return lines[:n]


def _cases() -> list[tuple[str, int]]:
    return [(page, i) for page in PAGES for i in range(len(_runs(page)))]


def test_the_pages_have_scripts_and_commands():
    assert {"chat.py", "questions.py", "pipeline.toml"} <= set(_files("python.md"))
    assert {"handlers.py", "pipeline.toml"} <= set(_files("components/python.md"))
    assert len(_cases()) >= 1
    assert {"blivedm_example.py", "livepipe_example.py"} == set(_files("coming-from-blivedm.md"))


@pytest.mark.parametrize("page,index", _cases(), ids=[f"{p}#{i}" for p, i in _cases()])
def test_scripts_stop_cleanly_on_ctrl_c(page, index, tmp_path):
    for name, body in _files(page).items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    interrupt_after, commands, shown = _runs(page)[index]
    for command in commands:
        proc = subprocess.Popen(_argv(command), cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            lines = _read_lines(proc, interrupt_after, timeout=120)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, f"{command} did not stop cleanly on Ctrl-C ({proc.returncode}):\n{err}"
        assert "Traceback" not in err, err
        for got, want in zip(lines, shown, strict=True):
            assert got.split()[0] == want.split()[0], (got, want)


# ---- "Coming from blivedm": the same program both ways ------------------------------------------------

_REDIRECT = {
    # each library's Bilibili hosts -> the simulator; then the page's script runs unchanged
    "blivedm_example.py": (
        "import sys, runpy, blivedm.client as c\n"
        "base = sys.argv[1]\n"
        "c.ROOM_INIT_URL = base + '/xlive/web-room/v1/index/getInfoByRoom'\n"
        "c.DANMAKU_SERVER_CONF_URL = base + '/xlive/web-room/v1/index/getDanmuInfo'\n"
        "runpy.run_path(sys.argv[2], run_name='__main__')\n"
    ),
    "livepipe_example.py": (
        "import sys, runpy\n"
        "from livepipe.bilibili.api import Endpoints\n"
        "Endpoints.__init__.__defaults__ = (sys.argv[1],) * len(Endpoints.__init__.__defaults__)\n"
        "runpy.run_path(sys.argv[2], run_name='__main__')\n"
    ),
}


@pytest.mark.anyio
async def test_blivedm_and_livepipe_versions_print_the_same_lines(tmp_path):
    files = _files("coming-from-blivedm.md")
    for name, body in files.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    room = int(re.search(r"ROOM_ID = (\d+)", files["livepipe_example.py"]).group(1))
    # blivedm 0.1.1 predates WBI signing and buvid3, and only speaks wss://
    async with run_simulator(rooms=[room], rate=0, seed=11, tls=True, require_wbi=False,
                             require_buvid=False) as sim:
        env = {**_env(), "SSL_CERT_FILE": sim.cert_path}  # trust the simulator's certificate, as a system CA
        procs = {}
        for name, harness in _REDIRECT.items():
            procs[name] = await anyio.open_process(
                [sys.executable, "-c", harness, sim.base_url, str(tmp_path / name)], cwd=tmp_path, env=env)
        try:
            await sim.wait_for_clients(room, 2)
            real = sim.room(room)
            users = sim.populations[real.room_id].users
            batch = [
                sim.make_danmaku(room, "晚上好", uid=users[1].uid),
                messages.send_gift(users[2], real, time.time(), gift_index=0, num=5),
                sim.make_danmaku(room, "主播好 ?", uid=users[3].uid),
                messages.send_gift(users[4], real, time.time(), gift_index=4, num=1),
            ]
            sim.inject(room, batch)
            out = {}
            for name, proc in procs.items():
                buf = b""
                with anyio.fail_after(60):
                    while buf.count(b"\n") < len(batch):
                        buf += await proc.stdout.receive()
                out[name] = buf.decode().splitlines()
        finally:
            for proc in procs.values():
                if proc.returncode is None:
                    proc.send_signal(signal.SIGINT)
            with anyio.move_on_after(30):
                for proc in procs.values():
                    await proc.wait()
            for proc in procs.values():
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
    assert out["livepipe_example.py"] == out["blivedm_example.py"], out
    lines = out["livepipe_example.py"]
    assert lines[0].startswith(f"[{room}] ") and lines[0].endswith(": 晚上好")
    assert " gave 小花花 x5" in lines[1]
    assert procs["livepipe_example.py"].returncode == 0  # Ctrl-C: a clean stop
