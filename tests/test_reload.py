"""Reload (SIGHUP, ``livepipe reload``): issue 16's acceptance with a real ``livepipe run`` against the
simulator, and the refusals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import anyio
import pytest

from livepipe.runtime.reload import ReloadRefused, plan
from livepipe.testing import load_toml
from tests.child_support import sim_to_file, until

UNTOUCHED = list(range(2001, 2011))
REMOVED, ADDED = 2011, 2012



def _by_room(out: Path) -> dict[int, list[int]]:
    got: dict[int, list[int]] = defaultdict(list)
    try:
        data = out.read_bytes()
    except FileNotFoundError:
        return got
    # The pipeline is still writing: a reader of a live file may catch a write half done (Linux does not
    # make a read atomic with a concurrent write), so only lines that end in a newline are complete.
    for line in data[: data.rfind(b"\n") + 1].splitlines():
        e = json.loads(line)
        if e["kind"] == "danmaku":
            room, n = e["text"].split("-")
            got[int(room)].append(int(n))
    return got


@pytest.mark.anyio
async def test_reload_adds_and_removes_a_room_while_ten_others_stream(tmp_path: Path) -> None:
    """10 rooms stream from the simulator; an invalid config on SIGHUP is refused (the old goes on),
    then `livepipe reload` adds one room and removes another. On the 10 untouched rooms every message
    arrives exactly once, in order, with no gap; the added room's messages arrive from its connection
    on; the removed room's connection closes."""
    from livepipe.sim import run_simulator

    async with run_simulator(rooms=[*UNTOUCHED, REMOVED, ADDED], rate=0, population_size=10) as sim:
        cfg = tmp_path / "p.toml"
        cfg.write_text(sim_to_file(sim.base_url, [*UNTOUCHED, REMOVED], "out.jsonl"), encoding="utf-8")
        out, err_path, pid_file = tmp_path / "out.jsonl", tmp_path / "stderr.txt", tmp_path / "run.pid"
        with err_path.open("wb") as err:
            proc = await anyio.open_process(
                [sys.executable, "-m", "livepipe", "run", "p.toml", "--quiet", "--pid-file", str(pid_file)],
                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
        injected: dict[int, int] = defaultdict(int)
        sending = anyio.Event()
        try:
            for room in [*UNTOUCHED, REMOVED]:
                await sim.wait_for_clients(room, 1, timeout=30)
            await until(lambda: pid_file.exists() and "running:" in err_path.read_text(), 30, "the pipeline", err_path)

            async def burst() -> None:
                while not sending.is_set():
                    for room in [*UNTOUCHED, REMOVED, ADDED]:
                        sim.inject_danmaku(room, f"{room}-{injected[room]}")
                        injected[room] += 1
                    sim.hub.flush()
                    await anyio.sleep(0.005)  # the pace of the traffic (about 2,400 messages/s), not synchronisation

            async with anyio.create_task_group() as tg:
                tg.start_soon(burst)
                await until(lambda: len(_by_room(out)[2001]) >= 50, 30, "traffic in the file", err_path)

                # an invalid configuration: refused with the validate message, the old one goes on
                invalid = sim_to_file(sim.base_url, [*UNTOUCHED, REMOVED], "out.jsonl") + "[sinks.bad]\ntype = 'file'\n"
                cfg.write_text(invalid, encoding="utf-8")
                r = subprocess.run([sys.executable, "-m", "livepipe", "reload", "p.toml", "--pid-file", str(pid_file)],
                                   cwd=tmp_path, capture_output=True, text=True, timeout=60)  # fmt: skip
                assert r.returncode == 78 and "sinks.bad" in r.stderr, r.stderr  # not even sent
                proc.send_signal(signal.SIGHUP)  # the running process checks it too
                await until(lambda: "reload refused: the configuration is invalid" in err_path.read_text(), 30,
                             "the refusal", err_path)  # fmt: skip
                assert "sinks.bad" in err_path.read_text()

                cfg.write_text(sim_to_file(sim.base_url, [*UNTOUCHED, ADDED], "out.jsonl"), encoding="utf-8")
                r = subprocess.run([sys.executable, "-m", "livepipe", "reload", "p.toml", "--pid-file", str(pid_file)],
                                   cwd=tmp_path, capture_output=True, text=True, timeout=60)  # fmt: skip
                assert r.returncode == 0, r.stderr
                await sim.wait_for_clients(ADDED, 1, timeout=30)
                await until(lambda: not sim.hub.clients.get(REMOVED), 30, "the removed room to close", err_path)
                await until(lambda: len(_by_room(out)[ADDED]) >= 50, 30, "the added room's traffic", err_path)
                sending.set()
            sim.hub.flush()
            await until(lambda: all(len(_by_room(out)[r]) == injected[r] for r in UNTOUCHED), 30,
                         "every message of the untouched rooms", err_path)  # fmt: skip
            proc.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    log = err_path.read_text(errors="replace")
    assert proc.returncode == 0, log
    assert "reloaded: updated live in place" in log
    got = _by_room(out)
    for room in UNTOUCHED:  # nothing lost, nothing duplicated, in order
        assert got[room] == list(range(injected[room])), room
    added = got[ADDED]
    assert added == list(range(added[0], added[0] + len(added))) and added[-1] == injected[ADDED] - 1
    removed = got[REMOVED]
    assert removed == list(range(len(removed))) and 0 < len(removed) < injected[REMOVED]
    assert not pid_file.exists()


def test_reload_refuses_what_it_cannot_apply_in_place(tmp_path: Path) -> None:
    """Added or removed components, changed inputs or settings, and a table its component cannot take
    while running: refused as a whole, each named, with 'restart'."""
    from livepipe.runtime.pipeline import Pipeline

    base = """
[sources.a]
type = "replay"
path = "in.jsonl"
[sinks.out]
type = "file"
inputs = ["a"]
path = "out.jsonl"
"""
    (tmp_path / "in.jsonl").write_text("")
    p = Pipeline(load_toml(base, tmp_path))
    assert plan(p, load_toml(base, tmp_path, "same.toml")).changed == []
    swapped = plan(p, load_toml(base.replace('path = "out.jsonl"', 'path = "b.jsonl"'), tmp_path, "b.toml"))
    assert list(swapped.swaps) == ["out"] and swapped.in_place == []
    changed = base.replace('path = "out.jsonl"', 'path = "other.jsonl"').replace("[sources.a]", "[livepipe]\n"
                                                                                 "shutdown_timeout = 3\n[sources.a]")
    changed += '[sinks.more]\ntype = "console"\ninputs = ["a"]\n'
    changed = changed.replace('path = "in.jsonl"', 'path = "in.jsonl"\nspeed = 2.0')
    with pytest.raises(ReloadRefused) as info:
        plan(p, load_toml(changed, tmp_path, "changed.toml"))
    reasons = info.value.reasons
    assert any("components added (more)" in r for r in reasons)
    assert any("[livepipe] settings changed" in r for r in reasons)
    assert any("sources.a (replay) cannot take its changed settings while running" in r for r in reasons)
    assert all("restart" in r for r in reasons)


@pytest.mark.anyio
async def test_a_changed_sink_is_replaced_mid_stream_without_losing_or_repeating_an_event(tmp_path: Path) -> None:
    """A file sink's path changes on reload while events flow: the old instance finishes and stops,
    the new one goes on from the same buffer. Old file + new file = every event once, in order."""
    from livepipe.runtime.reload import reload
    from livepipe.testing import running_pipeline, wait_until

    n = 20_000
    (tmp_path / "in.jsonl").write_text("".join(
        json.dumps({"v": 1, "id": f"e{i}", "kind": "danmaku", "room_id": 1, "ts": 1.0 + i, "text": str(i),
                    "data": {}}) + "\n" for i in range(n)), encoding="utf-8")  # fmt: skip
    text = """
[sources.src]
type = "replay"
path = "in.jsonl"
speed = 0
[sinks.out]
type = "file"
inputs = ["src"]
path = "a.jsonl"
buffer = 50
"""
    config = tmp_path / "pipeline.toml"
    async with running_pipeline(load_toml(text, tmp_path), tmp_path) as p:
        sent = lambda: p.metrics.value("component_sent_events_total", component_id="src")  # noqa: E731
        await wait_until(lambda: sent() >= 100, 10, "events to flow")
        config.write_text(text.replace("a.jsonl", "b.jsonl"), encoding="utf-8")
        assert reload(p) == ["out"]
        await wait_until(lambda: (tmp_path / "b.jsonl").exists(), 20, "the new instance to write")
    ids = [json.loads(line)["id"] for name in ("a.jsonl", "b.jsonl")
           for line in (tmp_path / name).read_bytes().splitlines()]  # fmt: skip
    assert ids == [f"e{i}" for i in range(n)]
    assert 0 < (tmp_path / "a.jsonl").read_bytes().count(b"\n") < n
    assert p.metrics.value("sink_delivered_events_total", component_id="out") == n
