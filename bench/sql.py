"""Events per second into SQLite through the ``sql`` sink (goal: 10,000/s on one core).

Two figures, each the median of ``--rounds`` runs into a fresh database file:

* ``sink``: the sink alone: ``write`` for every event and ``stop`` (the last commit and close),
  driven by one asyncio loop, ``batch_size`` rows per transaction. Realistic events: danmaku with a
  fan medal and emote fields in ``data``, gifts, enters; ``include_raw = false`` (the default).
* ``pipeline``: a real ``livepipe run`` of a ``replay`` source (as fast as possible) into the sink,
  in a child process; events/s = events / wall time of the whole process (start-up included, so a
  lower bound).

Both count CPU time too (``time.process_time`` of this process for ``sink``, the child's user+system
time for ``pipeline``): the events/s per CPU-second is the "one core" figure, independent of how
busy the shared machine is. Every run checks that the table holds exactly the events sent.

* ``postgres`` (with ``--postgres URL``): the sink alone into that PostgreSQL database (its ``events``
  table dropped before each run), the same events; CPU time is this process's (the client side: the
  server's work is not counted), wall time includes the server's.

Usage: ``python bench/sql.py [--events N] [--rounds R] [--batch-size B] [--postgres URL] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from livepipe.clock import Clock
from livepipe.component import Context
from livepipe.components.sql import SqlSink
from livepipe.events import Event, make_event
from livepipe.runtime.metrics import ComponentMetrics, MetricsRegistry

GOAL = 10_000


def events(n: int) -> list[Event]:
    """``n`` varied events shaped like a busy room's traffic (70 % danmaku, 15 % gifts, 15 % enters)."""
    out = []
    for i in range(n):
        uid = 100_000 + (i * 7919) % 50_000
        medal = {"name": "粉丝团", "level": i % 30, "target_id": 12345, "guard_level": i % 4}
        if i % 20 < 14:
            out.append(make_event("danmaku", room_id=1000 + i % 4, ts=1.7e9 + i / 1000, uid=uid, uname=f"观众{uid}",
                                  text=f"弹幕内容 {i} 哈哈哈哈", data={"medal": medal, "mode": 1, "color": 16777215,
                                                                    "emoticon": None, "guard_level": i % 4}))
        elif i % 20 < 17:
            out.append(make_event("gift", room_id=1000 + i % 4, ts=1.7e9 + i / 1000, uid=uid, uname=f"观众{uid}",
                                  data={"gift_name": "小花花", "gift_id": 31036, "num": 1 + i % 5, "price": 100,
                                        "total_coin": 100 * (1 + i % 5), "coin_type": "gold", "medal": medal}))
        else:
            out.append(make_event("enter", room_id=1000 + i % 4, ts=1.7e9 + i / 1000, uid=uid, uname=f"观众{uid}",
                                  data={"medal": medal}))
    return out


def rows_in(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(DISTINCT id) FROM events").fetchone()[0]
    finally:
        con.close()


async def _sink_run(evs: list[Event], path: Path, batch_size: int, url: str | None = None) -> None:
    ctx = Context(name="db", metrics=ComponentMetrics(MetricsRegistry(), "db", "sql"),
                  log=logging.getLogger("bench.sql"), clock=Clock(), config_dir=path.parent)
    where = {"url": url} if url else {"path": path.name}
    sink = SqlSink(SqlSink.Config.model_validate({"type": "sql", "inputs": ["x"], **where,
                                                  "batch_size": batch_size}), ctx)
    await sink.start()

    async def emit(*_a: object, **_k: object) -> None:
        raise AssertionError("the sql sink emits nothing")

    for e in evs:
        await sink.write(e, emit)
    await sink.stop()


def bench_sink(evs: list[Event], batch_size: int) -> tuple[float, float]:
    """(events/s wall, events per CPU-second) for one run of the sink alone."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.sqlite"
        c0, w0 = time.process_time(), time.perf_counter()
        asyncio.run(_sink_run(evs, path, batch_size))
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        assert rows_in(path) == len(evs), "rows missing"
    return len(evs) / wall, len(evs) / cpu


def bench_postgres(evs: list[Event], batch_size: int, url: str) -> tuple[float, float]:
    """(events/s wall, events per client CPU-second) for one run of the sink alone into PostgreSQL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS events")
    c0, w0 = time.process_time(), time.perf_counter()
    asyncio.run(_sink_run(evs, Path(tempfile.gettempdir()) / "unused", batch_size, url))
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(DISTINCT id) FROM events").fetchone()[0] == len(evs), "rows missing"
    return len(evs) / wall, len(evs) / cpu


def bench_pipeline(evs: list[Event], batch_size: int) -> tuple[float, float]:
    """(events/s wall, events per CPU-second) of a whole ``livepipe run`` (replay -> sql) child process."""
    with tempfile.TemporaryDirectory() as d:
        dd = Path(d)
        (dd / "events.jsonl").write_text("".join(e.to_json() + "\n" for e in evs), encoding="utf-8")
        (dd / "p.toml").write_text(
            '[sources.in]\ntype = "replay"\npath = "events.jsonl"\n\n'
            f'[sinks.db]\ntype = "sql"\ninputs = ["in"]\npath = "bench.sqlite"\nbatch_size = {batch_size}\n')
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "livepipe", "run", "p.toml", "--quiet"], cwd=dd,
                           capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        wall = time.perf_counter() - w0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            raise SystemExit(f"livepipe run failed: {r.stderr.decode()[-2000:]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        assert rows_in(dd / "bench.sqlite") == len(evs), "rows missing"
    return len(evs) / wall, len(evs) / cpu


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and optionally save) the medians."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--postgres", metavar="URL", help="also measure the sink into this PostgreSQL database")
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    evs = events(a.events)
    result: dict[str, dict[str, float]] = {}
    runs_of: list[tuple[str, Any]] = [("sink", bench_sink), ("pipeline", bench_pipeline)]
    if a.postgres:
        runs_of.append(("postgres", lambda e, b: bench_postgres(e, b, a.postgres)))
    for name, fn in runs_of:
        runs = [fn(evs, a.batch_size) for _ in range(a.rounds)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        result[name] = {"events_per_s_wall": round(wall), "events_per_cpu_s": round(cpu)}
        verdict = "met" if cpu >= GOAL else "MISSED"
        print(f"{name:9s} {wall:10,.0f} events/s wall  {cpu:10,.0f} events per CPU-second  "
              f"(goal {GOAL:,}/s on one core: {verdict})")
    if a.json:
        a.json.write_text(json.dumps({"events": a.events, "batch_size": a.batch_size, **result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
