"""CPU per event with many quiet rooms against one busy room, at the same total rate (not a test).

    python bench/rooms.py [--rooms 1000] [--rate 2] [--seconds 20] [--rounds 1] [--profile OUT.svg]

Both sides run ``bench/run.py``'s e2e pipeline (``bilibili.danmaku`` logged in -> ``automod`` ->
``nats`` and ``file`` sinks) as a ``livepipe run`` process pinned to CPU 0, against the
``livepipe sim`` CLI and a nats-server on the other CPU:

* **many**: ``--rooms`` rooms at ``--rate`` events/s each (1,000 x 2 = 2,000 events/s). The
  simulator flushes every 50 ms, so most frames carry one event: per-frame and per-connection work
  (reading, heartbeats, bookkeeping) is what this side adds;
* **one**: one room at ``rooms x rate`` events/s (2,000), about 100 events per frame.

The rooms connect with the traffic off, then the rate is set, then after a 5 s warm-up the pipeline
process's CPU time (``/proc/PID/stat``) and the source's ``component_sent_events_total`` are read
over ``--seconds``. The figure is CPU per event of each side and their ratio (issue 20's target:
many <= 1.3 x one), plus the RSS of the many-rooms pipeline (target <= 250 MB). Sides alternate
with ``--rounds`` > 1; medians. ``--profile OUT.svg`` records each window with py-spy
(``OUT-one.svg``, ``OUT-many.svg``; collapsed stacks for a ``.txt`` name).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/nats.py shadows nats-py
sys.path.insert(0, str(HERE.parent))

_spec = importlib.util.spec_from_file_location("bench_run", HERE / "run.py")
assert _spec is not None and _spec.loader is not None
run = importlib.util.module_from_spec(_spec)
sys.modules["bench_run"] = run
_spec.loader.exec_module(run)

WARMUP = 5.0


def side(rooms: int, rate: float, seconds: float, profile: str | None = None) -> dict[str, Any]:
    """One pipeline over ``rooms`` rooms at ``rate`` events/s each: CPU per event over the window."""
    room_ids = [100_000 + i for i in range(rooms)]
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sim = run.start_sim(stack, room_ids, 0)
        nats = run.start_nats(stack, tmp)
        p = run.Pipeline(stack, tmp, sim, nats, room_ids)
        connect = p.wait_connected(rooms, 300)
        run.set_rate(sim, rate)
        time.sleep(WARMUP)
        spy = None
        if profile:
            fmt = ["--format", "raw"] if profile.endswith(".txt") else []
            spy = subprocess.Popen(["py-spy", "record", "-o", profile, "-p", str(p.proc.pid), "-d", str(int(seconds)),
                                    "-r", "200", "--nonblocking", *fmt], stdout=subprocess.DEVNULL)  # fmt: skip
        c0, e0, t0 = p.cpu_seconds(), p.value("component_sent_events_total", component_id="live"), time.monotonic()
        time.sleep(seconds)
        c1, e1, t1 = p.cpu_seconds(), p.value("component_sent_events_total", component_id="live"), time.monotonic()
        rss = p.rss_mb()
        if spy is not None:
            spy.wait(60)
    events = e1 - e0
    return {"rooms": rooms, "rate": rate, "connect_s": connect, "events": events, "per_s": events / (t1 - t0),
            "cpu_us": 1e6 * (c1 - c0) / events if events else float("nan"), "cpu_share": (c1 - c0) / (t1 - t0),
            "rss_mb": rss}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rooms", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=2.0, help="events/s per room of the many-rooms side")
    ap.add_argument("--seconds", type=float, default=20.0, help="measuring window")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--profile", help="py-spy flame graphs of each window: OUT-one.svg, OUT-many.svg (collapsed "
                    "stacks with a .txt name)")
    a = ap.parse_args(argv)
    total = a.rooms * a.rate
    res: dict[str, list[dict[str, Any]]] = {"one": [], "many": []}
    for i in range(a.rounds):
        order = ("one", "many") if i % 2 == 0 else ("many", "one")
        for name in order:
            prof = None
            if a.profile:
                out = Path(a.profile)
                prof = str(out.with_name(f"{out.stem}-{name}{out.suffix}"))
            r = side(1, total, a.seconds, prof) if name == "one" else side(a.rooms, a.rate, a.seconds, prof)
            res[name].append(r)
            print(f"  {name}: {r['rooms']} room(s) x {r['rate']:g}/s: {r['per_s']:,.0f} events/s, {r['cpu_us']:.1f} us "
                  f"CPU per event ({100 * r['cpu_share']:.0f} % of a core), RSS {r['rss_mb']:.0f} MB, connected in "
                  f"{r['connect_s']:.1f} s", flush=True)  # fmt: skip
    one = statistics.median(r["cpu_us"] for r in res["one"])
    many = statistics.median(r["cpu_us"] for r in res["many"])
    rss = max(r["rss_mb"] for r in res["many"])
    rss_one = max(r["rss_mb"] for r in res["one"])
    print(f"one room: {one:.1f} us CPU per event; {a.rooms} rooms: {many:.1f} us; ratio {many / one:.2f}x "
          f"(target <= 1.3x); RSS with {a.rooms} rooms {rss:.0f} MB (target <= 250 MB), with one room "
          f"{rss_one:.0f} MB; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
