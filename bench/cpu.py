"""CPU per event of the end-to-end pipeline, in one process, without the simulator's limits.

    python bench/cpu.py [--frames 2000] [--repeat 3] [--without decode|automod|nats|file ...] [--profile OUT]
                        [--emit event|frame] [--peers]

``bench/run.py e2e`` measures the real thing (simulator and nats-server in their own processes,
WebSocket in between), but its figure also depends on how fast the simulator can generate and
send on the other core. This script isolates the pipeline's own cost: it builds brotli frames
from the simulator's traffic generator (the same message mix as ``livepipe sim``), then runs the
e2e pipeline of ``bench/run.py`` (``automod`` with the same rules, ``nats`` and ``file`` sinks, a
real nats-server) with a source that decodes those frames with ``decode_events`` as fast as the
pipeline takes them. It prints the CPU time per event of the whole process (every thread), from
the source's first event to the end of the drain (start-up, such as compiling the rules, is not
counted).

``--without`` drops parts to see what each costs (``decode``: the source emits events decoded
beforehand). ``--profile OUT`` writes a cProfile of the run. ``--emit frame`` has the source hand
each frame's events over in one call (``livepipe.component.emit_many``) instead of one ``emit`` per
event (``event``, the default, is what ``bilibili.danmaku`` does).

``--peers`` then does the comparable thing three more ways in the same process, on the same frames
(``repeat`` times): livepipe's pipeline with the ``file`` sink alone (receive + decode + write JSON
lines), and blivedm 0.1.1 and bilibili-api's ``LiveDanmaku`` receiving each frame through their own
receive paths (as ``bench/decode.py`` drives them: blivedm's ``_parse_ws_message`` with brotli in its
executor thread, bilibili-api's ``__handle_data`` with a coroutine listener on ``"ALL"``) and
writing every message they hand over as a JSON line (``json.dumps`` into a buffered file, the
usual way; livepipe's file sink writes through no user-space buffer). Each prints CPU per message
and messages per CPU-second, and livepipe's figures as a multiple of theirs. Pin it to one CPU for steady figures
(``taskset -c 0 python bench/cpu.py``); the nats-server it starts is moved to the machine's other CPUs
(as bench/run.py does), so it does not share the pipeline's (it would inherit the pin).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/nats.py shadows nats-py
sys.path.insert(0, str(ROOT))

from livepipe.bilibili import decode_events  # noqa: E402
from livepipe.bilibili import protocol as P  # noqa: E402
from livepipe.bilibili.source import tune_gc  # noqa: E402
from livepipe.component import Emit, Source, emit_many  # noqa: E402
from livepipe.events import Event  # noqa: E402
from livepipe.schema import SourceConfig, field  # noqa: E402
from livepipe.sim.app import Simulator  # noqa: E402
from livepipe.sim.ws import encode_batch  # noqa: E402
from livepipe.testing import NatsServer, register, run_pipeline_sync  # noqa: E402

ROOM = 100_000
FRAMES: list[bytes] = []
EVENTS: list[list[Event]] = []  # per frame
#: (process time, wall time) when the source began emitting: start-up (rule compilation) is not counted
STARTED: list[tuple[float, float]] = []
#: user and system CPU seconds of the last run (from the source's first event), for the split line
SPLIT: list[float] = []


def build_frames(n: int, per_frame: int = 8) -> list[bytes]:
    """``n`` brotli frames of ``per_frame`` traffic events each, from the simulator's generator."""
    sim = Simulator(rooms=[ROOM], seed=1)
    gen = sim.generators[ROOM]
    t0 = time.time()
    frames = []
    for i in range(n):
        msgs: list[dict[str, Any]] = []
        for _ in range(per_frame):
            msgs.extend(gen.next_messages(t0 + i * 0.05))
        frames.append(encode_batch(msgs, P.VER_BROTLI))
    return frames


class FramesSource(Source):
    """Decodes :data:`FRAMES` (``repeat`` times) and emits the events; or emits :data:`EVENTS`."""

    type_name = "bench.frames"

    class Config(SourceConfig):
        """Config of the bench.frames source."""

        repeat: int = field(1, description="passes over the frames", ge=1)
        decode: bool = field(True, description="decode the frames here (else emit pre-decoded events)")
        per_frame: bool = field(False, description="emit each frame's events in one call (emit_many)")

    async def run(self, emit: Emit) -> None:
        """Emit every frame's events, ``repeat`` times."""
        tune_gc()  # as the bilibili.danmaku source does
        STARTED.append((time.process_time(), time.perf_counter()))
        SPLIT[:] = os.times()[:2]
        for _ in range(self.config.repeat):
            frames = (decode_events(f, ROOM) for f in FRAMES) if self.config.decode else EVENTS
            if self.config.per_frame:
                for events in frames:
                    await emit_many(emit, events)
            else:
                for events in frames:
                    for ev in events:
                        await emit(ev)


def _off_our_cpus(pid: int) -> None:
    """Move process ``pid`` (the nats-server, which inherits a ``taskset`` pin) to the CPUs this one may not use."""
    if not hasattr(os, "sched_setaffinity"):
        return
    others = set(range(os.cpu_count() or 1)) - os.sched_getaffinity(0)
    if others:
        os.sched_setaffinity(pid, others)


def pipeline_toml(nats_url: str, out: Path, repeat: int, without: set[str], per_frame: bool = False) -> str:
    """bench/run.py's e2e pipeline with :class:`FramesSource` as its source, minus ``without``."""
    spec = importlib.util.spec_from_file_location("bench_run", HERE / "run.py")
    assert spec is not None and spec.loader is not None
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    tail = "[processors.automod]" + run.PIPELINE.split("[processors.automod]", 1)[1]
    automod, sinks = tail.split("[sinks.bus]", 1)
    bus, archive = ("[sinks.bus]" + sinks).split("[sinks.archive]", 1)
    archive = "[sinks.archive]" + archive
    decode = "false" if "decode" in without else "true"
    batched = "true" if per_frame else "false"
    parts = [f'[sources.live]\ntype = "bench.frames"\nrepeat = {repeat}\ndecode = {decode}\nper_frame = {batched}\n']
    if "automod" not in without:
        parts.append(automod)
    if "nats" not in without:
        parts.append(bus)
    if "file" not in without:
        parts.append(archive)
    text = "\n".join(parts)
    if "automod" in without:
        text = text.replace('inputs = ["live", "automod.flagged"]', 'inputs = ["live"]')
    return text.replace("{nats}", nats_url).replace("{out}", str(out)).replace("{{", "{").replace("}}", "}")


def run_once(a: argparse.Namespace, without: set[str]) -> tuple[int, float, float]:
    """One pipeline run over :data:`FRAMES`: ``(events, cpu seconds, wall seconds)`` from the first event."""
    EVENTS[:] = [decode_events(f, ROOM) for f in FRAMES] if "decode" in without else []
    n = sum(len(decode_events(f, ROOM)) for f in FRAMES) * a.repeat
    STARTED.clear()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        server = NatsServer(tmp / "nats", jetstream=False).start()
        _off_our_cpus(server.proc.pid)
        try:
            toml = pipeline_toml(server.url, tmp / "out" / "events.jsonl", a.repeat, without, a.emit == "frame")
            if a.profile:
                import cProfile

                cProfile.runctx("run_pipeline_sync(toml, tmp)", globals(), {"toml": toml, "tmp": tmp}, a.profile)
            else:
                run_pipeline_sync(toml, tmp)
            c0, t0 = STARTED[0]
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
            user, system = os.times()[:2]
            SPLIT[:] = [user - SPLIT[0], system - SPLIT[1]]
        finally:
            server.stop()
    return n, cpu, wall


def blivedm_jsonl(frames: list[bytes], out: Path) -> tuple[int, float, float]:
    """blivedm's receive path over ``frames``, every message written as a JSON line: ``(messages, cpu, wall)``."""
    import asyncio
    import json
    import logging

    import aiohttp
    import blivedm

    logging.getLogger("blivedm").setLevel(logging.CRITICAL)
    counted = 0
    with open(out, "a", encoding="utf-8") as f:

        class Handler(blivedm.BaseHandler):  # type: ignore[misc]
            async def handle(self, client: Any, command: dict[str, Any]) -> None:
                nonlocal counted
                counted += 1
                f.write(json.dumps(command, ensure_ascii=False) + "\n")

        async def run() -> tuple[float, float]:
            async with aiohttp.ClientSession() as session:
                client = blivedm.BLiveClient(ROOM, session=session)
                client._room_id = ROOM  # what init_room would have set; no network here
                client.add_handler(Handler())
                parse = client._parse_ws_message
                c, w = time.process_time(), time.perf_counter()
                for frame in frames:
                    await parse(frame)
                f.flush()
                return time.process_time() - c, time.perf_counter() - w

        cpu, wall = asyncio.run(run())
    return counted, cpu, wall


def bilibili_api_jsonl(frames: list[bytes], out: Path) -> tuple[int, float, float]:
    """bilibili-api's ``LiveDanmaku`` receive path over ``frames``, every message a JSON line."""
    import asyncio
    import json

    from bilibili_api.live import LiveDanmaku

    counted = 0
    with open(out, "a", encoding="utf-8") as f:

        async def run() -> tuple[float, float]:
            room = LiveDanmaku(ROOM)
            room._LiveDanmaku__room_real_id = ROOM  # what connect() would fetch; no network here

            @room.on("ALL")
            async def on_all(event: dict[str, Any]) -> None:
                nonlocal counted
                counted += 1
                f.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")

            handle = room._LiveDanmaku__handle_data
            pending = room._AsyncEvent__tasks
            c, w = time.process_time(), time.perf_counter()
            for frame in frames:
                await handle(frame)
                await asyncio.sleep(0)  # the listener tasks of this frame run
            while pending:
                await asyncio.sleep(0)
            f.flush()
            return time.process_time() - c, time.perf_counter() - w

        cpu, wall = asyncio.run(run())
    return counted, cpu, wall


def _line(label: str, n: int, cpu: float, wall: float, unit: str = "events") -> str:
    return (f"{label}: {n:,} {unit}, {cpu:.2f} s cpu, {wall:.2f} s wall; "
            f"{1e6 * cpu / n:.1f} us cpu per {unit[:-1]} ({n / cpu:,.0f} {unit} per cpu-second)")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--frames", type=int, default=2000, help="frames of 8 traffic events (default 2000)")
    ap.add_argument("--repeat", type=int, default=3, help="passes over the frames (default 3)")
    ap.add_argument("--without", nargs="+", default=[], choices=["decode", "automod", "nats", "file"])
    ap.add_argument("--profile", help="write a cProfile of the run here")
    ap.add_argument("--emit", choices=["event", "frame"], default="event",
                    help="the source emits one event per call (as bilibili.danmaku does today, default) or a frame's "
                         "events per call (livepipe.component.emit_many)")
    ap.add_argument("--peers", action="store_true",
                    help="also livepipe with the file sink alone, blivedm and bilibili-api writing JSON lines")
    a = ap.parse_args(argv)
    without = set(a.without)
    if {"nats", "file"} <= without:
        ap.error("keep at least one of the sinks")
    FRAMES[:] = build_frames(a.frames)
    register(FramesSource, plugin="bench")
    n, cpu, wall = run_once(a, without)
    label = "full pipeline" if not without else "without " + ", ".join(sorted(without))
    if a.emit == "frame":
        label += " (emit_many per frame)"
    print(_line(label, n, cpu, wall))
    print(f"  of which user {1e6 * SPLIT[0] / n:.1f} us, system (kernel: socket and file writes) "
          f"{1e6 * SPLIT[1] / n:.1f} us per event")
    if not a.peers:
        return 0
    ours_n, ours_cpu, ours_wall = run_once(a, {"automod", "nats"})
    print(_line("livepipe, file sink only (decode + JSON lines)", ours_n, ours_cpu, ours_wall))
    ours = ours_n / ours_cpu
    frames = FRAMES * a.repeat
    peers = [("blivedm 0.1.1 + json.dumps lines", blivedm_jsonl)]
    try:
        import bilibili_api  # noqa: F401

        peers.append(("bilibili-api LiveDanmaku + json.dumps lines", bilibili_api_jsonl))
    except ImportError:
        print("bilibili-api: not installed, skipped")
    with tempfile.TemporaryDirectory() as d:
        for name, fn in peers:
            m, pcpu, pwall = fn(frames, Path(d) / "peer.jsonl")
            print(_line(name, m, pcpu, pwall, "messages") +
                  f"; livepipe file-only {ours / (m / pcpu):.2f}x, full pipeline {n / cpu / (m / pcpu):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
