"""The benchmark suite of issue 10: one command, a table of figures against their targets, and JSON.

    python bench/run.py [--quick] [--soak-minutes 10] [--soak-rooms-minutes 60] [--only NAME ...] [--json PATH]

Benchmarks (each prints its figure beside its target, ``met`` or ``MISSED``):

1. ``decode``: decode + parse throughput against blivedm and bilibili-api's ``LiveDanmaku`` on the
   same frames, by running ``bench/decode.py --json`` (interleaved rounds, CPU-time medians; see
   docs/performance.md). Target (issue 20): at least 6x blivedm and 5x bilibili-api.
2. ``e2e``: events per second through a whole pipeline on one core. The simulator (the real
   ``livepipe sim`` CLI, a few rooms at a high ``--rate``) and a nats-server run as their own
   processes; ``livepipe run`` runs ``bilibili.danmaku -> automod`` with ``nats`` and ``file``
   sinks, pinned to one CPU. The figure is the file sink's received-events counter (scraped
   from the pipeline's ``/metrics``) over a fixed window. Target: at least 20,000 events/s.
3. ``latency``: source-to-sink latency at a steady 2,000 events/s. The simulator runs in its own
   process with a 2 ms batching interval (the CLI's is 50 ms, which would dominate), so it also
   generates traffic every 2 ms; each ``DANMU_MSG`` carries the time the simulator generated it
   (``info[0][4]``, ms), which becomes the event's ``ts``. This process tails the file sink's
   output every millisecond and records (time the line appeared) - ``ts``: an upper bound of
   source-to-sink latency (it adds the simulator's flush wait, brotli and the WebSocket hop).
   Target: p99 at most 20 ms.
4. ``rooms``: 1,000 rooms in one process: the time from starting ``livepipe run`` until all
   1,000 connections are authenticated, and the pipeline's RSS once they are. Target: RSS at
   most 300 MB.
5. ``soak``: the ``e2e`` pipeline at 2,000 events/s for ``--soak-minutes``; RSS sampled every
   few seconds. The baseline is the RSS after the first fifth of the run (warm-up); the figure
   is the largest deviation from it afterwards. Target: within +-5 %.
6. ``replay``: the ``replay`` source with ``speed`` 1, 5 and 20 on the real clock, in this
   process: events per second delivered against speed x the recording's rate. Target: within 5 %.
7. ``soak-rooms`` (only with ``--only soak-rooms``): the ``rooms`` pipeline, 1,000 rooms at 0.5
   events/s each, for ``--soak-rooms-minutes`` (60); RSS every 10 s, also appended as it is taken
   to ``<json>.rss.jsonl`` so an interrupted run keeps its samples. The figure is the growth over
   the last 40 minutes (the last two thirds of a shorter run). Target: at most 5 %.

On a machine with two or more CPUs the pipeline is pinned to CPU 0 and everything else (the
simulator, nats-server, this process) to the other CPUs, so "one core" is literal. Every
process started here is stopped again, also on errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# bench/nats.py shadows nats-py when bench/ is on sys.path (it is, as the script's directory).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from livepipe.testing import NatsServer  # noqa: E402

CPUS = sorted(os.sched_getaffinity(0))
PIPELINE_CPUS = {CPUS[0]}
OTHER_CPUS = set(CPUS[1:]) or PIPELINE_CPUS
NAMES = ["decode", "e2e", "latency", "rooms", "soak", "replay", "soak-rooms"]
#: Run only when named with --only (an hour by default).
OPTIONAL = {"soak-rooms"}
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# ---- processes ----------------------------------------------------------------------------------


def _pin(cpus: set[int]) -> Callable[[], None]:
    def pre() -> None:
        os.sched_setaffinity(0, cpus)

    return pre


def _stop(proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Terminate ``proc`` (SIGTERM, then SIGKILL after ``timeout``) and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _drain(stream: Any) -> None:
    threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()


def start_sim(stack: contextlib.ExitStack, rooms: list[int], rate: float, batch_interval: float | None = None) -> str:
    """Start the simulator as its own process on the non-pipeline CPUs; returns its base URL.

    Without ``batch_interval`` this is the ``livepipe sim`` CLI; with it, ``run_simulator`` with that
    batching interval (the CLI has no option for it), run by this file's hidden ``_sim`` command.
    """
    if batch_interval is None:
        cmd = [sys.executable, "-m", "livepipe", "sim", "--rooms", ",".join(map(str, rooms)),
               "--rate", str(rate), "--seed", "1"]  # fmt: skip
    else:
        cmd = [sys.executable, __file__, "_sim", json.dumps({"rooms": rooms, "rate": rate, "batch": batch_interval})]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, preexec_fn=_pin(OTHER_CPUS))
    stack.callback(_stop, proc)
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    if not first.startswith("livepipe sim serving "):
        raise RuntimeError(f"the simulator did not start: {first!r}")
    _drain(proc.stdout)
    return first.rsplit(" ", 1)[1]


def _sim_child(spec: str) -> None:
    """Hidden ``_sim`` command: ``run_simulator`` with a chosen batching interval, until SIGTERM."""
    import asyncio
    import signal

    from livepipe.sim import run_simulator

    a = json.loads(spec)

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with run_simulator(rooms=a["rooms"], rate=a["rate"], seed=1, port=0, batch_interval=a["batch"]) as sim:
            print(f"livepipe sim serving {sim.base_url}", flush=True)
            await stop.wait()

    asyncio.run(main())


def start_nats(stack: contextlib.ExitStack, tmp: Path) -> str:
    """A nats-server (core NATS, no JetStream) on the non-pipeline CPUs; returns its URL."""
    server = NatsServer(tmp / "nats", jetstream=False).start()
    stack.callback(server.stop)
    os.sched_setaffinity(server.proc.pid, OTHER_CPUS)
    return server.url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: The automod processor and its four rules (words with pinyin, regex, flood, repeat) of the e2e
#: pipeline; a template like PIPELINE (braces doubled). bench/workers.py uses the same block.
AUTOMOD = """\
[processors.automod]
type = "automod"
inputs = ["live"]

[[processors.automod.rules]]
id = "insults"
words = ["傻逼", "操你妈", "去死", "sb", "nmsl"]
pinyin = true
ladder = ["warn", "ban:1", "ban:24"]

[[processors.automod.rules]]
id = "ads"
words = ["加微信", "代练"]
regexes = ['(?:加|\\+)(?:v|vx|wx|q|qq|微信)\\d{{6,}}']
ladder = ["ban:24"]

[[processors.automod.rules]]
id = "flood"
kind = "flood"
count = 5
window = 60
min_length = 8
ladder = ["flag"]

[[processors.automod.rules]]
id = "repeat"
kind = "repeat"
count = 4
window = 30
ladder = ["warn"]

"""

PIPELINE = """\
[livepipe]
shutdown_timeout = 5

[livepipe.metrics]
listen = "127.0.0.1:{port}"

[credentials.main]
cookie_file = "cookies.json"

[sources.live]
type = "bilibili.danmaku"
room_ids = {rooms}
base_url = "{sim}"
credential = "main"
start_gap = {start_gap}

""" + AUTOMOD + """\
[sinks.bus]
type = "nats"
inputs = ["live", "automod.flagged"]
servers = ["{nats}"]
subject = "bench.{{room_id}}.{{kind}}"

[sinks.archive]
type = "file"
inputs = ["live", "automod.flagged"]
path = "{out}"
"""


class Pipeline:
    """A ``livepipe run`` process pinned to the pipeline CPU, with its metrics endpoint."""

    def __init__(self, stack: contextlib.ExitStack, tmp: Path, sim: str, nats: str, rooms: list[int],
                 start_gap: float = 0.0) -> None:  # fmt: skip
        self.port = _free_port()
        self.out = tmp / "out" / "events.jsonl"
        cfg = tmp / "pipeline.toml"
        cookies = _sim_post(sim, "/_sim/accounts", {"uname": "bench"})["cookies"]  # a logged-in viewer
        (tmp / "cookies.json").write_text(json.dumps(cookies))
        (tmp / "cookies.json").chmod(0o600)
        cfg.write_text(PIPELINE.format(port=self.port, rooms=json.dumps(rooms), sim=sim, start_gap=start_gap,
                                       nats=nats, out=self.out), encoding="utf-8")  # fmt: skip
        self.t_start = time.monotonic()
        cmd = [sys.executable, "-m", "livepipe", "run", "-q", "--log-level", "warning", str(cfg)]
        self.proc = subprocess.Popen(cmd, preexec_fn=_pin(PIPELINE_CPUS))
        stack.callback(_stop, self.proc, 20)

    def metrics(self) -> dict[str, float]:
        """Scrape ``/metrics``: ``{"name{labels}": value}`` (labels as the server prints them)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            text = r.read().decode()
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def value(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        total = 0.0
        for key, v in self.metrics().items():
            base = key.split("{", 1)[0]
            if base == name and all(f'{k}="{val}"' in key for k, val in labels.items()):
                total += v
        return total

    def archived(self) -> float:
        """Events the file sink received so far."""
        return self.value("component_received_events_total", component_id="archive")

    def wait_connected(self, n: int, timeout: float) -> float:
        """Wait until ``n`` rooms are connected; returns seconds since the process started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"livepipe run exited with {self.proc.returncode}")
            try:
                if self.value("bilibili_connected_rooms") >= n:
                    return time.monotonic() - self.t_start
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"only {self.value('bilibili_connected_rooms'):.0f} of {n} rooms connected in {timeout} s")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the pipeline process."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_mb(self) -> float:
        """Resident set size of the pipeline process, MB (10^6 bytes)."""
        return int(Path(f"/proc/{self.proc.pid}/statm").read_text().split()[1]) * PAGE / 1e6


def _sim_stats(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(base + "/_sim/stats", timeout=60) as r:
        return json.loads(r.read())


def _sim_post(base: str, path: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def set_rate(base: str, rate: float) -> None:
    """Change the simulator's traffic rate (events/s per room)."""
    _sim_post(base, "/_sim/rate", {"rate": rate})


# ---- the benchmarks -----------------------------------------------------------------------------


def bench_decode(quick: bool) -> dict[str, Any]:
    """bench/decode.py as a subprocess with ``--json``."""
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "decode.json"
        args = ["--frames", "300", "--rounds", "3"] if quick else []
        subprocess.run([sys.executable, str(HERE / "decode.py"), *args, "--json", str(out)], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        r = json.loads(out.read_text())
    med = r["msgs_per_s_median"]
    return {
        "livepipe_msgs_per_s_cpu": med["livepipe"]["cpu"],
        "blivedm_msgs_per_s_cpu": med["blivedm"]["cpu"],
        "ratio_vs_blivedm": r["ratio_vs_blivedm"],
        "ratio_vs_blivedm_inline": r["ratio_vs_blivedm_inline"],
        "bilibili_api_msgs_per_s_cpu": (med.get("bilibili-api") or {}).get("cpu"),
        "ratio_vs_bilibili_api": r.get("ratio_vs_bilibili_api"),
        "frames": r["frames"],
        "rounds": r["rounds"],
        "livepipe_raw_read_msgs_per_s_cpu": (med.get("livepipe-raw") or {}).get("cpu"),
        "figure": r["ratio_vs_blivedm"],
        "target": ">= 6x blivedm and >= 5x bilibili-api (issue 20)",
        "met": r["ratio_vs_blivedm"] >= 6.0 and (r.get("ratio_vs_bilibili_api") or 0.0) >= 5.0,
    }


def bench_e2e(quick: bool, rooms: int = 4, rate_per_room: float = 8000) -> dict[str, Any]:
    """Events/s through source -> automod -> nats + file on one core, over a fixed window."""
    warmup, window = (3.0, 10.0) if quick else (5.0, 30.0)
    room_ids = [100_000 + i for i in range(rooms)]
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sim = start_sim(stack, room_ids, 0)  # no traffic while connecting: a busy simulator answers HTTP late
        nats = start_nats(stack, tmp)
        p = Pipeline(stack, tmp, sim, nats, room_ids)
        p.wait_connected(rooms, 30)
        set_rate(sim, rate_per_room)
        time.sleep(warmup)
        s0, n0, c0, t0 = _sim_stats(sim), p.archived(), p.cpu_seconds(), time.monotonic()
        time.sleep(window)
        s1, n1, c1, t1 = _sim_stats(sim), p.archived(), p.cpu_seconds(), time.monotonic()
        rss = p.rss_mb()
    dt = t1 - t0
    rate = (n1 - n0) / dt
    cpu = (c1 - c0) / dt
    return {
        "rooms": rooms,
        "offered_per_s": rooms * rate_per_room,
        "sim_generated_per_s": (s1["generated"] - s0["generated"]) / dt,
        "sim_cpu_share": (s1.get("cpu_seconds", 0) - s0.get("cpu_seconds", 0)) / dt,
        "window_s": round(dt, 2),
        "events_per_s": rate,
        "pipeline_cpu_share": cpu,
        "events_per_cpu_second": (n1 - n0) / (c1 - c0) if c1 > c0 else None,
        "rss_mb": rss,
        "figure": rate,
        "target": ">= 20,000 events/s",
        "met": rate >= 20_000,
    }


def _tail(path: Path, stop: threading.Event, lat: list[tuple[float, float]]) -> None:
    """Poll ``path`` every millisecond; append ``(ts, now - ts)`` of every new DANMU_MSG line to ``lat``."""
    while not path.exists() and not stop.is_set():
        time.sleep(0.001)
    buf = b""
    loads, now = orjson.loads, time.time
    with open(path, "rb") as fh:
        while not stop.is_set():
            chunk = fh.read()
            if not chunk:
                time.sleep(0.001)
                continue
            t = now()
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if b'"cmd":"DANMU_MSG"' in line:
                    ts = loads(line)["ts"]
                    lat.append((ts, t - ts))


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))]


def bench_latency(quick: bool, rate: float = 2000, rooms: int = 4) -> dict[str, Any]:
    """Simulator generation time -> line in the file sink's output, at a steady ``rate`` events/s."""
    warmup, window = (3.0, 10.0) if quick else (5.0, 60.0)
    room_ids = [100_000 + i for i in range(rooms)]
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sim = start_sim(stack, room_ids, 0, batch_interval=0.002)
        nats = start_nats(stack, tmp)
        p = Pipeline(stack, tmp, sim, nats, room_ids)
        p.wait_connected(rooms, 30)
        set_rate(sim, rate / rooms)
        lat: list[tuple[float, float]] = []
        stop = threading.Event()
        th = threading.Thread(target=_tail, args=(p.out, stop, lat), daemon=True)
        th.start()
        stack.callback(th.join, 5)
        stack.callback(stop.set)
        time.sleep(warmup)
        k0, n0, t0 = len(lat), p.archived(), time.monotonic()
        time.sleep(window)
        k1, n1, t1 = len(lat), p.archived(), time.monotonic()
    sample = [d for _, d in lat[k0:k1]]
    p50, p99 = _pct(sample, 0.5) * 1000, _pct(sample, 0.99) * 1000
    return {
        "target_rate": rate,
        "events_per_s": (n1 - n0) / (t1 - t0),
        "sim_batch_interval_ms": 2,
        "samples": len(sample),
        "p50_ms": p50,
        "p90_ms": _pct(sample, 0.9) * 1000,
        "p99_ms": p99,
        "max_ms": max(sample) * 1000,
        "mean_ms": statistics.fmean(sample) * 1000,
        "figure": p99,
        "target": "p99 <= 20 ms",
        "met": p99 <= 20,
    }


def bench_rooms(quick: bool, rooms: int = 1000) -> dict[str, Any]:
    """1,000 rooms in one pipeline process: time until all are connected, and RSS then."""
    settle = 5.0 if quick else 20.0
    room_ids = [100_000 + i for i in range(rooms)]
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sim = start_sim(stack, room_ids, 0)
        nats = start_nats(stack, tmp)
        p = Pipeline(stack, tmp, sim, nats, room_ids)
        connect = p.wait_connected(rooms, 300)
        set_rate(sim, 0.5)
        rss_connected = p.rss_mb()
        time.sleep(settle)
        rss = p.rss_mb()
        n = p.archived()
    return {
        "rooms": rooms,
        "rate_per_room": 0.5,
        "start_gap": 0.0,
        "connect_s": connect,
        "rss_mb_at_connected": rss_connected,
        "rss_mb": rss,
        "settle_s": settle,
        "events_archived": n,
        "figure": rss,
        "target": "<= 300 MB RSS",
        "met": rss <= 300,
    }


def _or_none(scrape: Callable[[], float]) -> float | None:
    """``scrape()``, or ``None`` when the pipeline is too busy to answer ``/metrics`` in time (a soak goes on)."""
    try:
        return scrape()
    except OSError:
        return None


def _rss_over_time(p: Pipeline, total: float, every: float, progress: Path | None = None) -> list[tuple[float, float]]:
    """RSS of the pipeline every ``every`` seconds for ``total`` seconds: ``[(seconds, MB), ...]``.

    With ``progress``, each sample is also appended to that file as a JSON line as it is taken,
    so a run that is stopped early still leaves its measurements.
    """
    samples: list[tuple[float, float]] = []
    t0 = time.monotonic()
    while True:
        t = time.monotonic() - t0
        samples.append((round(t, 1), p.rss_mb()))
        if progress is not None:
            archived = _or_none(p.archived)
            with progress.open("a") as fh:
                fh.write(json.dumps({"t": samples[-1][0], "rss_mb": samples[-1][1], "archived": archived}) + "\n")
        if t >= total:
            return samples
        time.sleep(min(every, total - t))


def _soak(rooms: int, rate_per_room: float, total: float, every: float, *, connect_timeout: float,
          progress: Path | None = None) -> tuple[list[tuple[float, float]], float, tuple[float, float]]:  # fmt: skip
    """The bench pipeline over ``rooms`` rooms at ``rate_per_room`` for ``total`` seconds, RSS every ``every``.

    Returns the RSS samples, the events archived meanwhile, and (seconds to connect, rooms
    connected at the end).
    """
    room_ids = [100_000 + i for i in range(rooms)]
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sim = start_sim(stack, room_ids, 0)  # no traffic while connecting
        nats = start_nats(stack, tmp)
        p = Pipeline(stack, tmp, sim, nats, room_ids)
        connect = p.wait_connected(rooms, connect_timeout)
        set_rate(sim, rate_per_room)
        if progress is not None:
            progress.parent.mkdir(parents=True, exist_ok=True)
            progress.write_text("")
        n0 = _or_none(p.archived)
        samples = _rss_over_time(p, total, every, progress)
        n1 = _or_none(p.archived)
        events = n1 - n0 if n0 is not None and n1 is not None else float("nan")
        return samples, events, (connect, _or_none(lambda: p.value("bilibili_connected_rooms")) or float("nan"))


def bench_soak(minutes: float, rate: float = 2000, rooms: int = 4) -> dict[str, Any]:
    """The e2e pipeline at ``rate`` events/s for ``minutes``; RSS drift after a warm-up fifth."""
    total = minutes * 60
    samples, events, _ = _soak(rooms, rate / rooms, total, max(1.0, min(10.0, total / 60)), connect_timeout=30)
    after = [(t, r) for t, r in samples if t >= total / 5]
    base = after[0][1]
    dev = max((r - base for _, r in after), key=abs) / base * 100
    end = (after[-1][1] - base) / base * 100
    return {
        "minutes": minutes,
        "rate": rate,
        "events_archived": events,
        "rss_mb_first": samples[0][1],
        "rss_mb_baseline": base,
        "rss_mb_end": after[-1][1],
        "rss_mb_max": max(r for _, r in after),
        "drift_end_pct": end,
        "max_deviation_pct": dev,
        "samples": samples,
        "figure": dev,
        "target": "RSS within +-5 % after warm-up",
        "met": abs(dev) <= 5,
    }


def growth_over_last(samples: list[tuple[float, float]], window: float) -> tuple[float, float, float, float]:
    """RSS growth over the last ``window`` seconds of ``samples`` (or their last two thirds, if shorter):
    ``(percent, MB at the window's start, MB at the end, the window's length in seconds)``. The start
    is the median of the samples of the window's first minute, so one sample's noise does not decide."""
    end_t = samples[-1][0]
    start_t = end_t - window if end_t > window * 1.5 else end_t / 3
    head = sorted(r for t, r in samples if start_t <= t < start_t + 60) or [next(r for t, r in samples if t >= start_t)]
    base = head[len(head) // 2]
    end = samples[-1][1]
    return (end - base) / base * 100, base, end, end_t - start_t


def bench_soak_rooms(minutes: float, rooms: int = 1000, rate_per_room: float = 0.5,
                     progress: Path | None = None) -> dict[str, Any]:  # fmt: skip
    """The ``rooms`` pipeline (1,000 rooms at 0.5 events/s each) for ``minutes``, RSS every 10 s.

    The figure is the growth over the last 40 minutes (the last two thirds of a shorter run):
    after the first 20 minutes every buffer, cache and table should have reached its size.
    """
    samples, events, (connect, connected) = _soak(rooms, rate_per_room, minutes * 60, 10.0, connect_timeout=600,
                                                  progress=progress)  # fmt: skip
    growth, base, end, window = growth_over_last(samples, 40 * 60)
    return {
        "minutes": minutes,
        "rooms": rooms,
        "rate_per_room": rate_per_room,
        "connect_s": connect,
        "connected_at_end": connected,
        "events_archived": events,
        "rss_mb_first": samples[0][1],
        "rss_mb_window_start": base,
        "rss_mb_end": end,
        "rss_mb_max": max(r for _, r in samples),
        "growth_window_min": round(window / 60, 1),
        "growth_pct": growth,
        "samples": samples,
        "figure": growth,
        "target": "RSS growth <= 5 % over the last 40 min",
        "met": growth <= 5,
    }


def bench_replay(quick: bool, recorded_rate: float = 200.0) -> dict[str, Any]:
    """``replay`` with ``speed`` 1, 5 and 20 on the real clock: events per second delivered vs requested.

    A recording at ``recorded_rate`` events/s is replayed in this process for about three seconds per
    speed (two with ``--quick``); the rate is (events - 1) / (last emit - first emit).
    """
    import logging

    import anyio

    from livepipe.component import Context
    from livepipe.components.replay import Replay
    from livepipe.events import make_event
    from livepipe.runtime.metrics import ComponentMetrics, MetricsRegistry

    seconds = 2.0 if quick else 3.0
    rows = {}
    with tempfile.TemporaryDirectory() as d:
        for speed in (1, 5, 20):
            n = int(seconds * recorded_rate * speed)
            path = Path(d) / f"rec{speed}.jsonl"
            path.write_bytes(b"".join(make_event("danmaku", room_id=1, ts=1e9 + i / recorded_rate, text=str(i))
                                      .to_json_bytes() + b"\n" for i in range(n)))  # fmt: skip
            ctx = Context(name="r", metrics=ComponentMetrics(MetricsRegistry(), "r", "replay"),
                          log=logging.getLogger("bench.replay"), config_dir=Path(d))  # fmt: skip
            src = Replay(Replay.Config.model_validate({"type": "replay", "path": str(path), "speed": speed}), ctx)
            times: list[float] = []

            async def emit(event: Any, output: str | None = None, times: list[float] = times) -> None:
                times.append(time.monotonic())
                await anyio.lowlevel.checkpoint()

            anyio.run(src.run, emit)
            rate = (len(times) - 1) / (times[-1] - times[0])
            rows[speed] = {"events": len(times), "requested_per_s": recorded_rate * speed, "delivered_per_s": rate,
                           "ratio": rate / (recorded_rate * speed)}  # fmt: skip
    worst = min(r["ratio"] for r in rows.values())
    return {"speeds": rows, "figure": worst, "target": "delivered rate within 5 % of speed x recorded rate",
            "met": abs(worst - 1) <= 0.05 and all(abs(r["ratio"] - 1) <= 0.05 for r in rows.values())}  # fmt: skip


# ---- table and main -----------------------------------------------------------------------------


def _figure_text(name: str, r: dict[str, Any]) -> tuple[str, str]:
    if "error" in r:
        return "error", r["error"]
    if name == "decode":
        api = r.get("ratio_vs_bilibili_api")
        return (f"{r['ratio_vs_blivedm']:.2f}x blivedm",
                f"{r['livepipe_msgs_per_s_cpu']:,.0f} msgs/s cpu; {r['ratio_vs_blivedm_inline']:.2f}x blivedm-inline; "
                + (f"{api:.2f}x bilibili-api" if api else "bilibili-api not installed"))  # fmt: skip
    if name == "e2e":
        return (f"{r['events_per_s']:,.0f} events/s",
                f"sim generated {r['sim_generated_per_s']:,.0f}/s of {r['offered_per_s']:,.0f}; pipeline cpu "
                f"{r['pipeline_cpu_share']:.0%}; {r['events_per_cpu_second'] or 0:,.0f} events/cpu-s")  # fmt: skip
    if name == "latency":
        return (f"p50 {r['p50_ms']:.1f} / p99 {r['p99_ms']:.1f} ms",
                f"{r['events_per_s']:,.0f} events/s, {r['samples']:,} danmaku, p90 {r['p90_ms']:.1f} ms, "
                f"max {r['max_ms']:.1f} ms")
    if name == "rooms":
        return (f"{r['rss_mb']:.0f} MB RSS",
                f"{r['rooms']} rooms connected in {r['connect_s']:.1f} s; "
                f"{r['rss_mb_at_connected']:.0f} MB then")  # fmt: skip
    if name == "replay":
        return (f"{r['figure']:.3f}x requested (worst)",
                "; ".join(f"speed {k}: {v['delivered_per_s']:,.0f}/s of {v['requested_per_s']:,.0f}"
                          for k, v in r["speeds"].items()))  # fmt: skip
    if name == "soak-rooms":
        return (f"{r['growth_pct']:+.1f} % in the last {r['growth_window_min']:g} min",
                f"{r['rooms']} rooms, {r['minutes']:g} min; {r['rss_mb_first']:.0f} MB at start, "
                f"{r['rss_mb_window_start']:.0f} -> {r['rss_mb_end']:.0f} MB; {r['events_archived']:,.0f} events")
    if name == "soak":
        return (f"{r['max_deviation_pct']:+.1f} % max",
                f"{r['minutes']:g} min; {r['rss_mb_baseline']:.0f} -> {r['rss_mb_end']:.0f} MB "
                f"(end {r['drift_end_pct']:+.1f} %), {r['events_archived']:,.0f} events")  # fmt: skip
    return "?", ""


def table(results: dict[str, dict[str, Any]]) -> str:
    """The results as a fixed-width table: benchmark, figure, target, met/MISSED, details."""
    rows = [("benchmark", "figure", "target", "status", "details")]
    for name, r in results.items():
        fig, det = _figure_text(name, r)
        status = "error" if "error" in r else ("met" if r["met"] else "MISSED")
        rows.append((name, fig, r.get("target", ""), status, det))
    w = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(f"{a:<{w[0]}}  {b:<{w[1]}}  {c:<{w[2]}}  {d:<{w[3]}}  {e}" for a, b, c, d, e in rows)


def machine() -> dict[str, Any]:
    """nproc, CPU model, Python, kernel."""
    model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")), platform.processor())  # fmt: skip
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "platform": platform.platform(), "load_avg": os.getloadavg()}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_sim"]:
        _sim_child(argv[1])
        return 0
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs (about two minutes in all)")
    ap.add_argument("--soak-minutes", type=float, default=None, help="soak length (default 10; 1 with --quick)")
    ap.add_argument("--soak-rooms-minutes", type=float, default=60.0, help="soak-rooms length (default 60)")
    ap.add_argument("--only", nargs="+", choices=NAMES, help="run only these benchmarks (soak-rooms runs only so)")
    ap.add_argument("--json", default=str(HERE / "results" / "latest.json"), help="where to write the JSON")
    a = ap.parse_args(argv)
    soak = a.soak_minutes if a.soak_minutes is not None else (1.0 if a.quick else 10.0)
    os.sched_setaffinity(0, OTHER_CPUS)
    runs: dict[str, Callable[[], dict[str, Any]]] = {
        "decode": lambda: bench_decode(a.quick),
        "e2e": lambda: bench_e2e(a.quick),
        "latency": lambda: bench_latency(a.quick),
        "rooms": lambda: bench_rooms(a.quick),
        "soak": lambda: bench_soak(soak),
        "replay": lambda: bench_replay(a.quick),
        "soak-rooms": lambda: bench_soak_rooms(a.soak_rooms_minutes, progress=Path(a.json).with_suffix(".rss.jsonl")),
    }
    results: dict[str, dict[str, Any]] = {}
    started = time.time()
    for name in a.only or [n for n in NAMES if n not in OPTIONAL]:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        t = time.monotonic()
        try:
            results[name] = runs[name]()
        except Exception as e:  # noqa: BLE001 - one failed benchmark must not hide the others
            results[name] = {"error": f"{type(e).__name__}: {e}"}
        results[name]["seconds"] = round(time.monotonic() - t, 1)
    print(table(results))
    out = {"started": started, "quick": a.quick, "machine": machine(), "results": results}
    path = Path(a.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwritten {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
