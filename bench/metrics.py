"""What the metrics cost: one update, and the end-to-end pipeline against a base revision, in CPU time.

    python bench/metrics.py [--base main] [--rounds 5] [--frames 1000] [--repeat 2] [--calls N] [--micro-only]

``micro``: CPU time of one counter increment and one histogram observation, livepipe's in-process
objects (what components and the runtime update per event; prometheus_client reads them through a
collector at scrape time) against prometheus_client's own ``Counter`` / ``Histogram`` (a lock per
update), each with its labels already bound.

``e2e``: ``bench/cpu.py`` (the e2e pipeline in one process: decode, automod, nats and file sinks,
a real nats-server) run alternately from this working tree and from the commit where it left
``--base`` (``git merge-base HEAD BASE``, extracted with ``git archive``; so the comparison is with
the code before this branch's changes, not with whatever main merged since), ``--rounds`` times
each, interleaved so that both see the same machine load. It prints each tree's median and best
events per CPU-second and their ratios (this tree / base), and the median of each round's ratio
(the two runs of a round ran back to back, under about the same load). On a shared machine single runs vary by
±20 %: use enough rounds.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/nats.py shadows nats-py
sys.path.insert(0, str(ROOT))

from livepipe.runtime.metrics import LATENCY_BUCKETS, MetricsRegistry  # noqa: E402

RATE = re.compile(r"\(([\d,]+) events per cpu-second\)")


def per_call(fn, n: int) -> float:
    """CPU nanoseconds per call of ``fn`` (the loop's own cost subtracted)."""
    t0 = time.process_time()
    for _ in range(n):
        pass
    empty = time.process_time() - t0
    t0 = time.process_time()
    for _ in range(n):
        fn()
    return max(time.process_time() - t0 - empty, 0.0) / n * 1e9


def micro(n: int) -> None:
    """Print the CPU cost of one update, livepipe's objects against prometheus_client's."""
    import prometheus_client as pc

    ours = MetricsRegistry()
    labels = {"component_id": "out", "component_type": "file"}
    c = ours.counter("bench_events_total", "events", **labels)
    h = ours.histogram("bench_latency_seconds", "latency", LATENCY_BUCKETS, **labels)
    reg = pc.CollectorRegistry()
    pc_c = pc.Counter("bench_events", "events", list(labels), registry=reg).labels(**labels)
    pc_h = pc.Histogram("bench_latency_seconds", "latency", list(labels), buckets=LATENCY_BUCKETS,
                        registry=reg).labels(**labels)
    rows = [
        ("counter inc", per_call(c.inc, n), per_call(pc_c.inc, n)),
        ("histogram observe", per_call(lambda: h.observe(0.003), n), per_call(lambda: pc_h.observe(0.003), n)),
    ]
    print(f"micro ({n:,} calls each, CPU ns per call): livepipe in-process / prometheus_client")
    for what, a, b in rows:
        print(f"  {what:18s} {a:7.1f} ns / {b:7.1f} ns  (prometheus_client costs {b / a:.1f}x)")


def run_cpu(tree: Path, frames: int, repeat: int) -> float:
    """Events per CPU-second of one ``bench/cpu.py`` run of ``tree``."""
    p = subprocess.run([sys.executable, str(tree / "bench" / "cpu.py"), "--frames", str(frames), "--repeat",
                        str(repeat)], capture_output=True, text=True, timeout=600, cwd=tree)  # fmt: skip
    m = RATE.search(p.stdout)
    if p.returncode != 0 or m is None:
        raise SystemExit(f"bench/cpu.py of {tree} failed:\n{p.stdout}\n{p.stderr[-3000:]}")
    return float(m[1].replace(",", ""))


def e2e(base: str, rounds: int, frames: int, repeat: int) -> None:
    """Print both trees' median events per CPU-second and their ratio."""
    rev = subprocess.run(["git", "merge-base", "HEAD", base], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout.strip()[:12]
    with tempfile.TemporaryDirectory() as d:
        base_tree = Path(d) / "base"
        base_tree.mkdir()
        archive = subprocess.run(["git", "archive", rev], capture_output=True, cwd=ROOT, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base_tree)], input=archive, check=True)
        rates: dict[str, list[float]] = {"base": [], "this": []}
        trees = {"base": base_tree, "this": ROOT}
        for r in range(rounds):
            order = ("base", "this") if r % 2 == 0 else ("this", "base")
            for which in order:
                rates[which].append(run_cpu(trees[which], frames, repeat))
            print(f"  round {r + 1}: base {rates['base'][-1]:,.0f}, this {rates['this'][-1]:,.0f} events/cpu-s",
                  flush=True)
    b, t = statistics.median(rates["base"]), statistics.median(rates["this"])
    bb, tb = max(rates["base"]), max(rates["this"])
    paired = statistics.median(t_ / b_ for t_, b_ in zip(rates["this"], rates["base"], strict=True))
    print(f"e2e (bench/cpu.py, {rounds} interleaved rounds), events per cpu-second: base = merge-base with "
          f"{base} ({rev}), median {b:,.0f}, best {bb:,.0f}; this tree median {t:,.0f}, best {tb:,.0f}; "
          f"ratio this/base: median {t / b:.3f}, best {tb / bb:.3f}, median of the rounds' ratios {paired:.3f}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--base", default="main", help="compare with the merge-base of HEAD and this (default main)")
    ap.add_argument("--rounds", type=int, default=5, help="runs of each tree, interleaved (default 5)")
    ap.add_argument("--frames", type=int, default=1000, help="bench/cpu.py --frames (default 1000)")
    ap.add_argument("--repeat", type=int, default=2, help="bench/cpu.py --repeat (default 2)")
    ap.add_argument("--calls", type=int, default=1_000_000, help="calls per micro figure (default 1,000,000)")
    ap.add_argument("--micro-only", action="store_true", help="only the per-update figures")
    a = ap.parse_args(argv)
    micro(a.calls)
    if not a.micro_only:
        e2e(a.base, a.rounds, a.frames, a.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
