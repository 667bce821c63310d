"""bench/cpu.py runs the e2e pipeline in one process (real nats-server) and prints CPU per event."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CPU = ROOT / "bench" / "cpu.py"
LINE = re.compile(r"^(?P<label>[^:]+): (?P<n>[\d,]+) events, .* (?P<us>[\d.]+) us cpu per event", re.M)


def run_cpu(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CPU), "--frames", "20", "--repeat", "1", *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)  # fmt: skip


@pytest.mark.parametrize(("args", "label"), [((), "full pipeline"), (("--without", "decode", "automod"),
                                                                     "without automod, decode"),
                                             (("--emit", "frame"), "full pipeline (emit_many per frame)")])
def test_cpu_bench_measures_the_pipeline(args, label):
    p = run_cpu(*args)
    assert p.returncode == 0, p.stderr
    m = LINE.search(p.stdout)
    assert m, p.stdout
    assert m["label"] == label
    assert int(m["n"].replace(",", "")) >= 20 * 8  # 20 frames of at least 8 traffic events
    assert float(m["us"]) > 0


def test_cpu_bench_needs_a_sink():
    p = run_cpu("--without", "nats", "file")
    assert p.returncode == 2 and "keep at least one of the sinks" in p.stderr


def test_cpu_bench_compares_with_blivedm_and_bilibili_api():
    p = run_cpu("--peers")
    assert p.returncode == 0, p.stderr
    ours = {m["label"]: int(m["n"].replace(",", "")) for m in LINE.finditer(p.stdout)}
    assert set(ours) == {"full pipeline", "livepipe, file sink only (decode + JSON lines)"}, p.stdout
    peers = re.findall(r"^(.+ \+ json\.dumps lines): ([\d,]+) messages, .* ([\d.]+) us cpu per message .*"
                       r"livepipe file-only ([\d.]+)x, full pipeline ([\d.]+)x$", p.stdout, re.M)
    assert [name for name, *_ in peers] == ["blivedm 0.1.1 + json.dumps lines",
                                            "bilibili-api LiveDanmaku + json.dumps lines"], p.stdout
    for _name, n, us, file_only, full in peers:
        assert int(n.replace(",", "")) == ours["full pipeline"]  # every message of the same frames, handed over
        assert float(us) > 0 and float(file_only) > 0 and float(full) > 0
