"""End-to-end acceptance of the core runtime through the real CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from livepipe.testing import parse_summary

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data" / "room_1001.jsonl"


def start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "livepipe", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(cond, timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``cond`` until it holds (a condition, not a fixed delay)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_replay_filter_route_file_is_byte_identical_across_runs(tmp_path):
    outputs = []
    for run in ("a", "b"):
        d = tmp_path / run
        (d / "examples").mkdir(parents=True)
        shutil.copytree(ROOT / "examples" / "data", d / "examples" / "data")
        shutil.copy(ROOT / "examples" / "pipeline.toml", d / "examples" / "pipeline.toml")
        r = subprocess.run([sys.executable, "-m", "livepipe", "run", "examples/pipeline.toml", "--quiet"],
                           cwd=d, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        files = sorted((d / "examples" / "out").rglob("*.jsonl"))
        outputs.append({str(f.relative_to(d)): f.read_bytes() for f in files})
    assert outputs[0] == outputs[1]
    names = sorted(outputs[0])
    assert len(names) == 2 and any("chat-" in n for n in names) and any("money-" in n for n in names)
    chat = next(v for k, v in outputs[0].items() if "chat-" in k).decode().splitlines()
    assert len(chat) == 76 and all(json.loads(line)["kind"] == "danmaku" for line in chat)


def test_sigterm_mid_run_loses_nothing_the_source_read(tmp_path):
    (tmp_path / "p.toml").write_text(textwrap.dedent(f"""
        [sources.loop]
        type = "replay"
        path = "{DATA}"
        format = "bilibili"
        room_id = 1001
        loop = true

        [sinks.out]
        type = "file"
        inputs = ["loop"]
        path = "out.jsonl"
        buffer = 50
    """))
    proc = start("run", "p.toml", "--quiet", cwd=tmp_path)
    out = tmp_path / "out.jsonl"
    try:
        wait_for(lambda: out.exists() and out.stat().st_size > 2_000_000, what="output to grow")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    summary = parse_summary(err)
    emitted, received, dropped = summary["accepted"], summary["delivered"]["out"], summary["lost"]
    lines = out.read_bytes().split(b"\n")
    assert lines[-1] == b""  # whole lines only
    lines = lines[:-1]
    assert emitted == received == len(lines) and dropped == 0
    # the file holds the replayed events in order: the input, cycled
    ids_in = [json.loads(line)["id"] for line in lines]
    from livepipe.bilibili.commands import parse_command

    cycle = [parse_command(json.loads(x), 1001).id for x in DATA.read_text().splitlines()]
    assert ids_in == [cycle[i % len(cycle)] for i in range(len(ids_in))]
    assert len(ids_in) > len(cycle)  # it was really mid-run, past the first pass


STUCK_RUNNER = """
import sys, anyio
from livepipe import plugins
from livepipe.component import Sink
from livepipe.schema import SinkConfig
from livepipe.hookspecs import hookimpl
from livepipe.config import load_config
from livepipe.runner import run_pipeline_blocking

class Stuck(Sink):
    type_name = "stuck"
    class Config(SinkConfig):
        pass
    async def write(self, event, emit):
        print("STUCK", flush=True)
        await anyio.sleep_forever()

class P:
    @hookimpl
    def livepipe_register_components(self, registry):
        registry.register(Stuck)

plugins.register_plugin(P(), "stuck")
sys.exit(run_pipeline_blocking(load_config([sys.argv[1]]), quiet=True))
"""


def test_second_signal_stops_at_once(tmp_path):
    (tmp_path / "p.toml").write_text(textwrap.dedent(f"""
        [livepipe]
        shutdown_timeout = 600
        [sources.loop]
        type = "replay"
        path = "{DATA}"
        format = "bilibili"
        room_id = 1001
        [sinks.stuck]
        type = "stuck"
        inputs = ["loop"]
    """))
    (tmp_path / "runner.py").write_text(STUCK_RUNNER)
    proc = subprocess.Popen([sys.executable, "runner.py", "p.toml"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _second_signal(proc)
    finally:
        proc.kill()
        proc.wait()


def _second_signal(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout.readline().strip() == "STUCK"
    proc.send_signal(signal.SIGINT)
    # wait until the first signal was handled: the pipeline is now draining, held by the stuck
    # sink (shutdown_timeout is 10 minutes)
    assert "SIGINT received: draining" in proc.stderr.readline()
    time_sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - time_sent < 30, err
    assert proc.returncode == 1
    m = re.search(r"second SIGINT: stopped before the drain finished; (\d+) accepted events lost: "
                  r"stuck 101 \(100 buffered, 1 being handled\)", err)
    assert m, err
    summary = parse_summary(err)
    # 100 buffered, 1 in write(), 1 the source was waiting to buffer: each counted once, log == summary
    assert summary["forced"] and summary["lost"] == int(m.group(1)) == 102
