"""``livepipe run --workers N``: sharding a config, merging expositions, and real runs against the simulator."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import anyio
import httpx
import pytest

from livepipe import plugins
from livepipe.runtime.exposition import merge_expositions
from livepipe.runtime.shard import shard_config, shard_problems, with_worker_suffix
from livepipe.testing import load_toml
from tests.child_support import sim_to_file, stop_and_time, until, worker_pids

# -- merging expositions ----------------------------------------------------------------------------

A = """# HELP component_received_events_total Events read.
# TYPE component_received_events_total counter
component_received_events_total{component_id="out",note="a}b,c=\\"d\\""} 3
component_received_events_total{component_id="live"} 5
# HELP up Up.
# TYPE up gauge
up 1
"""


def test_merge_labels_every_sample_and_keeps_each_family_in_one_block() -> None:
    merged = merge_expositions({"0": A, "1": A.replace(" 3\n", " 4\n")})
    lines = merged.splitlines()
    assert lines == [
        "# HELP component_received_events_total Events read.",
        "# TYPE component_received_events_total counter",
        'component_received_events_total{worker="0",component_id="out",note="a}b,c=\\"d\\""} 3',
        'component_received_events_total{worker="0",component_id="live"} 5',
        'component_received_events_total{worker="1",component_id="out",note="a}b,c=\\"d\\""} 4',
        'component_received_events_total{worker="1",component_id="live"} 5',
        "# HELP up Up.",
        "# TYPE up gauge",
        'up{worker="0"} 1',
        'up{worker="1"} 1',
    ]


def test_merge_keeps_histogram_samples_with_their_family_and_drops_eof() -> None:
    h = ('# HELP lat Latency.\n# TYPE lat histogram\nlat_bucket{le="1.0"} 2\nlat_bucket{le="+Inf"} 3\n'
         'lat_sum 1.5\nlat_count 3\n# EOF\n')  # fmt: skip
    merged = merge_expositions({"0": h, "1": h})
    lines = merged.splitlines()
    assert lines.count("# TYPE lat histogram") == 1 and "# EOF" not in lines
    assert lines[2:] == ['lat_bucket{worker="0",le="1.0"} 2', 'lat_bucket{worker="0",le="+Inf"} 3',
                         'lat_sum{worker="0"} 1.5', 'lat_count{worker="0"} 3',
                         'lat_bucket{worker="1",le="1.0"} 2', 'lat_bucket{worker="1",le="+Inf"} 3',
                         'lat_sum{worker="1"} 1.5', 'lat_count{worker="1"} 3']  # fmt: skip


def test_merged_openmetrics_with_the_worker_families_parses_and_has_one_eof() -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    from livepipe.runtime.exposition import worker_families

    h = ('# HELP lat Latency.\n# TYPE lat histogram\nlat_bucket{le="1.0"} 2\nlat_bucket{le="+Inf"} 3\n'
         'lat_sum 1.5\nlat_count 3\n# HELP c Events.\n# TYPE c counter\nc_total 4.0\n# EOF\n')  # fmt: skip
    page = merge_expositions({"0": h, "1": h}) + worker_families({"0": 1, "1": 0}, {"0": 0, "1": 2},
                                                                   openmetrics=True) + "# EOF\n"  # fmt: skip
    assert page.count("# EOF") == 1
    families = {f.name: f for f in text_string_to_metric_families(page)}
    assert [s.labels["worker"] for s in families["lat"].samples if s.name == "lat_count"] == ["0", "1"]
    assert [(s.name, s.labels, s.value) for s in families["livepipe_worker_restarts"].samples] == [
        ("livepipe_worker_restarts_total", {"worker": "0"}, 0), ("livepipe_worker_restarts_total", {"worker": "1"}, 2)]
    assert [s.value for s in families["livepipe_worker_up"].samples] == [1, 0]


# -- sharding ---------------------------------------------------------------------------------------

SHARDED = """
[sources.live]
type = "bilibili.danmaku"
room_ids = [11, 12, 13, 14, 15, 11]
[sources.bus]
type = "nats"
servers = ["nats://127.0.0.1:4222"]
subject = "in.>"
[processors.keep]
type = "filter"
inputs = ["bus"]
kinds = ["danmaku"]
[sinks.all]
type = "file"
inputs = ["live", "keep"]
path = "out/{room_id}.jsonl"
[sinks.per]
type = "file"
inputs = ["live"]
path = "w{worker}/events.jsonl"
[sinks.fromnats]
type = "file"
inputs = ["keep"]
path = "nats/events"
"""


def test_rooms_go_round_robin_and_unsplittable_sources_run_in_worker_zero(tmp_path: Path) -> None:
    cfg = load_toml(SHARDED, tmp_path)
    reg = plugins.registry()
    w0, w1 = shard_config(cfg, reg, 0, 2), shard_config(cfg, reg, 1, 2)
    assert w0.components["live"].config.room_ids == [11, 13, 15]  # duplicates left out, order kept
    assert w1.components["live"].config.room_ids == [12, 14]
    assert cfg.components["live"].config.room_ids == [11, 12, 13, 14, 15, 11]  # the original is untouched
    assert "bus" in w0.components and "bus" not in w1.components
    # what only the NATS source fed is left out of worker 1; a sink fed by both keeps its other input
    assert "keep" not in w1.components and "fromnats" not in w1.components
    assert w1.components["all"].config.inputs == ["live"] and w0.components["all"].config.inputs == ["live", "keep"]
    # paths: {worker} kept for the sink to fill; the others get .w{worker} before the extension
    assert w1.components["per"].config.path == "w{worker}/events.jsonl"
    assert w1.components["all"].config.path == "out/{room_id}.w{worker}.jsonl"
    assert w0.components["fromnats"].config.path == "nats/events.w{worker}"
    assert w0.settings.metrics.listen == "127.0.0.1:0" and w0.worker == (0, 2)


def test_worker_suffix_goes_before_the_extension_outside_tokens() -> None:
    assert with_worker_suffix("out/events.jsonl") == "out/events.w{worker}.jsonl"
    assert with_worker_suffix("out/{kind}") == "out/{kind}.w{worker}"
    assert with_worker_suffix("a.b/{room_id}.x.jsonl") == "a.b/{room_id}.x.w{worker}.jsonl"
    assert with_worker_suffix(".hidden") == ".hidden.w{worker}"
    assert with_worker_suffix("{worker}/e.jsonl") == "{worker}/e.jsonl"


def test_more_workers_than_rooms_is_a_config_error_naming_the_fix(tmp_path: Path) -> None:
    cfg = load_toml(SHARDED, tmp_path)
    assert shard_problems(cfg, plugins.registry(), 5) == []
    (problem,) = shard_problems(cfg, plugins.registry(), 6)
    assert "sources.live has 5 rooms" in str(problem) and "at most 5" in str(problem)
    only_nats = load_toml('[sources.bus]\ntype = "nats"\nservers = ["nats://127.0.0.1:4222"]\nsubject = "in.>"\n'
                          '[sinks.x]\ntype = "file"\ninputs = ["bus"]\npath = "x.jsonl"\n', tmp_path)  # fmt: skip
    (problem,) = shard_problems(only_nats, plugins.registry(), 2)
    assert "no source here can be split" in str(problem) and "workers = 1" in str(problem)
    (tmp_path / "p.toml").write_text(SHARDED, encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "livepipe", "run", "p.toml", "--workers", "6"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    # the count came from the command line: the message names the flag and its fix, not a key of p.toml
    assert r.returncode == 78 and "--workers 6, but sources.live has 5 rooms: worker 5 would read nothing; use " \
        "--workers 5 or fewer" in r.stderr and "p.toml" not in r.stderr, r.stderr
    (tmp_path / "p.toml").write_text("[livepipe]\nworkers = 6\n" + SHARDED, encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "livepipe", "validate", "p.toml", "--no-env"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    # the key's file and line, as every other configuration problem
    assert r.returncode == 78 and "p.toml:2: livepipe: key 'workers': workers = 6" in r.stderr, r.stderr
    assert "set workers to at most 5" in r.stderr, r.stderr


def test_the_file_sink_fills_worker_with_zero_in_one_process(tmp_path: Path) -> None:
    from livepipe.testing import run_pipeline_sync

    toml = textwrap.dedent("""
        [sources.src]
        type = "replay"
        path = "in.jsonl"
        speed = 0
        [sinks.out]
        type = "file"
        inputs = ["src"]
        path = "out/{worker}/{{worker}}.jsonl"
    """)
    line = '{"v": 1, "id": "a", "kind": "danmaku", "room_id": 1, "ts": 1.0, "text": "x", "data": {}}\n'
    (tmp_path / "in.jsonl").write_text(line, encoding="utf-8")
    run_pipeline_sync(toml, tmp_path)
    assert (tmp_path / "out" / "0" / "{worker}.jsonl").read_text(encoding="utf-8").count("\n") == 1


# -- real runs --------------------------------------------------------------------------------------

ROOMS = [4001, 4002, 4003, 4004, 4005]



def _by_room(files: list[Path]) -> dict[int, dict[str, list[int]]]:
    """room -> file name -> the message numbers in it (whole lines only: the workers are still writing)."""
    got: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for f in files:
        try:
            data = f.read_bytes()
        except FileNotFoundError:
            continue
        for line in data[: data.rfind(b"\n") + 1].splitlines():
            e = json.loads(line)
            if e["kind"] == "danmaku":
                room, n = e["text"].split("-")
                got[int(room)][f.name].append(int(n))
    return got


def _parent_port(err: Path) -> int | None:
    m = re.search(r"metrics of \d+ workers on http://127\.0\.0\.1:(\d+)/metrics", err.read_text(errors="replace"))
    return int(m.group(1)) if m else None


def _samples(text: str, name: str) -> dict[str, float]:
    """worker -> value of ``name{worker="i",component_id="out"}``."""
    out = {}
    for m in re.finditer(rf'^{name}{{worker="(\d+)",([^}}]*)}} (\S+)$', text, re.M):
        if 'component_id="out"' in m.group(2):
            out[m.group(1)] = float(m.group(3))
    return out


async def _inject_until(sim, injected: dict[int, int], rooms: list[int], cond, err: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{err.read_text(errors='replace')}")
        for room in rooms:
            sim.inject_danmaku(room, f"{room}-{injected[room]}")
            injected[room] += 1
        sim.hub.flush()
        await anyio.sleep(0.01)  # the pace of the traffic, not synchronisation


@pytest.mark.anyio
async def test_two_workers_share_the_rooms_exactly_once_with_one_metrics_and_stop_cleanly(tmp_path: Path) -> None:
    """5 rooms streaming from the simulator into `livepipe run --workers 2`: every room lands in exactly one
    worker's file, every message exactly once and in order; the parent's /metrics has both workers' series
    and their sum is what was sent; SIGTERM ends both workers and the parent with exit 0 within the bound."""
    from livepipe.sim import run_simulator

    async with run_simulator(rooms=ROOMS, rate=0, population_size=10) as sim:
        (tmp_path / "p.toml").write_text(sim_to_file(sim.base_url, ROOMS, shutdown_timeout=5), encoding="utf-8")
        err_path = tmp_path / "stderr.txt"
        files = [tmp_path / "out" / "events.w0.jsonl", tmp_path / "out" / "events.w1.jsonl"]
        injected: dict[int, int] = defaultdict(int)
        with err_path.open("wb") as err:
            proc = await anyio.open_process([sys.executable, "-m", "livepipe", "run", "p.toml", "--quiet", "--workers",
                                             "2"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
        try:
            for room in ROOMS:
                await sim.wait_for_clients(room, 1, timeout=60)
            await _inject_until(sim, injected, ROOMS, lambda: all(len(sum(_by_room(files)[r].values(), [])) >= 20
                                                                  for r in ROOMS), err_path, "traffic in the files")
            sim.hub.flush()
            await until(lambda: all(len(sum(_by_room(files)[r].values(), [])) == injected[r] for r in ROOMS), 60,
                         "every message", err_path)  # fmt: skip
            port = _parent_port(err_path)
            assert port is not None, err_path.read_text()
            async with httpx.AsyncClient(timeout=30) as http:
                text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                health = (await http.get(f"http://127.0.0.1:{port}/health")).json()
            received = _samples(text, "component_received_events_total")
            assert set(received) == {"0", "1"}, text
            for i, f in enumerate(files):  # each worker's series counts what is in its own file
                assert received[str(i)] == f.read_bytes().count(b"\n"), text
            assert 'livepipe_worker_up{worker="0"} 1' in text and 'livepipe_worker_up{worker="1"} 1' in text
            assert health["status"] == "ok" and set(health["workers"]) == {"0", "1"}
            pids = worker_pids(err_path)
            took = await stop_and_time(proc, 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    log = err_path.read_text(errors="replace")
    assert proc.returncode == 0, log
    assert took < 5 + 1 + 2, log  # shutdown_timeout + 1 s (one process's bound) + the parent's own margin
    assert "(2 workers)" in log and "0: exit 0" in log and "1: exit 0" in log, log
    lines = sum(f.read_bytes().count(b"\n") for f in files)  # danmaku and the rooms' status events
    assert f"accepted   {lines} events" in log and f"delivered  out {lines}" in log, log
    for pid in (p for ps in pids.values() for p in ps):  # no worker outlives the parent
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    got = _by_room(files)
    for room in ROOMS:
        (where,) = got[room].items()  # one file per room: rooms are not split between workers
        assert where[1] == list(range(injected[room])), room
    assert {next(iter(got[r])) for r in ROOMS} == {"events.w0.jsonl", "events.w1.jsonl"}


@pytest.mark.anyio
async def test_a_killed_worker_is_reported_and_started_again_and_sighup_reaches_every_worker(tmp_path: Path) -> None:
    """SIGKILL to worker 1: the parent logs it, starts it again, its rooms stream again, /metrics counts the
    restart. `livepipe reload` (SIGHUP to the parent) adds a room in the worker it falls to. The run then
    exits 1 (a worker was killed: what it held may be lost)."""
    from livepipe.sim import run_simulator

    rooms = ROOMS[:4]
    async with run_simulator(rooms=[*rooms, 4009], rate=0, population_size=10) as sim:
        cfg = tmp_path / "p.toml"
        cfg.write_text(sim_to_file(sim.base_url, rooms, shutdown_timeout=5), encoding="utf-8")
        err_path, pid_file = tmp_path / "stderr.txt", tmp_path / "run.pid"
        files = [tmp_path / "out" / "events.w0.jsonl", tmp_path / "out" / "events.w1.jsonl"]
        injected: dict[int, int] = defaultdict(int)
        with err_path.open("wb") as err:
            proc = await anyio.open_process([sys.executable, "-m", "livepipe", "run", "p.toml", "--quiet", "--workers",
                                             "2", "--pid-file", str(pid_file)], cwd=tmp_path,
                                            stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
        try:
            for room in rooms:
                await sim.wait_for_clients(room, 1, timeout=60)
            await until(lambda: len(worker_pids(err_path)[1]) == 1, 30, "worker 1's pid", err_path)
            (first,) = worker_pids(err_path)[1]
            os.kill(first, signal.SIGKILL)
            await until(lambda: len(worker_pids(err_path)[1]) == 2, 60, "worker 1 started again", err_path)
            assert f"worker 1 (pid {first}) was killed by SIGKILL" in err_path.read_text()
            # worker 1's rooms (4002, 4004) connect again and stream into worker 1's file
            for room in (4002, 4004):
                await sim.wait_for_clients(room, 1, timeout=60)
            before = {r: len(_by_room(files)[r].get("events.w1.jsonl", [])) for r in (4002, 4004)}
            await _inject_until(sim, injected, rooms, lambda: all(
                len(_by_room(files)[r].get("events.w1.jsonl", [])) > before[r] for r in (4002, 4004)),
                err_path, "worker 1's rooms again")  # fmt: skip
            port = _parent_port(err_path)
            async with httpx.AsyncClient(timeout=30) as http:
                text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            assert 'livepipe_worker_restarts_total{worker="1"} 1' in text, text
            assert 'livepipe_worker_restarts_total{worker="0"} 0' in text, text
            # reload: room 4009 is the 5th room, so it falls to worker 0
            cfg.write_text(sim_to_file(sim.base_url, [*rooms, 4009], shutdown_timeout=5), encoding="utf-8")
            r = subprocess.run([sys.executable, "-m", "livepipe", "reload", "p.toml", "--pid-file", str(pid_file)],
                               cwd=tmp_path, capture_output=True, text=True, timeout=60)  # fmt: skip
            assert r.returncode == 0, r.stderr
            await sim.wait_for_clients(4009, 1, timeout=60)
            await _inject_until(sim, injected, [4009], lambda: "events.w0.jsonl" in _by_room(files)[4009], err_path,
                                "the added room in worker 0")  # fmt: skip
            assert "events.w1.jsonl" not in _by_room(files)[4009]
            log = err_path.read_text(errors="replace")
            assert "[worker 0] livepipe.reload: reloaded: updated live in place" in log, log
            assert "[worker 1] livepipe.reload: reloaded: nothing changed" in log, log
            proc.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    log = err_path.read_text(errors="replace")
    assert proc.returncode == 1, log
    assert "1: killed by SIGKILL, exit 0, accepted" in log and "(1 run left no figures)" in log, log
