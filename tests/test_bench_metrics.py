"""bench/metrics.py prints the per-update costs and the e2e figures of both trees with their ratio."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_metrics_bench_compares_both_trees():
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "metrics.py"), "--base", "HEAD", "--rounds", "1",
                        "--frames", "20", "--repeat", "1", "--calls", "10000"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"counter inc +[\d.]+ ns / +[\d.]+ ns", p.stdout), p.stdout
    assert re.search(r"histogram observe +[\d.]+ ns / +[\d.]+ ns", p.stdout), p.stdout
    m = re.search(r"base = merge-base with HEAD \(\w+\), median ([\d,]+), .* this tree median ([\d,]+), .*"
                  r"ratio this/base: median ([\d.]+)", p.stdout)
    assert m, p.stdout
    base, this = (float(m[i].replace(",", "")) for i in (1, 2))
    assert base > 0 and this > 0 and abs(float(m[3]) - this / base) < 0.002
