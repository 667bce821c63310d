"""CPU per event of the end-to-end pipeline, in one process, without the simulator's limits.

    python bench/cpu.py [--frames 2000] [--repeat 3] [--without decode|automod|nats|file ...] [--profile OUT]

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
beforehand). ``--profile OUT`` writes a cProfile of the run. Pin it to one CPU for steady figures
(``taskset -c 0 python bench/cpu.py``); the nats-server it starts runs on the CPUs it is allowed.
"""

from __future__ import annotations

import argparse
import importlib.util
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
from livepipe.component import Emit, Source  # noqa: E402
from livepipe.events import Event  # noqa: E402
from livepipe.schema import SourceConfig, field  # noqa: E402
from livepipe.sim.app import Simulator  # noqa: E402
from livepipe.sim.ws import encode_batch  # noqa: E402
from livepipe.testing import NatsServer, register, run_pipeline_sync  # noqa: E402

ROOM = 100_000
FRAMES: list[bytes] = []
EVENTS: list[Event] = []
#: (process time, wall time) when the source began emitting: start-up (rule compilation) is not counted
STARTED: list[tuple[float, float]] = []


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

    async def run(self, emit: Emit) -> None:
        """Emit every frame's events, ``repeat`` times."""
        tune_gc()  # as the bilibili.danmaku source does
        STARTED.append((time.process_time(), time.perf_counter()))
        for _ in range(self.config.repeat):
            if self.config.decode:
                for f in FRAMES:
                    for ev in decode_events(f, ROOM):
                        await emit(ev)
            else:
                for ev in EVENTS:
                    await emit(ev)


def pipeline_toml(nats_url: str, out: Path, repeat: int, without: set[str]) -> str:
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
    parts = [f'[sources.live]\ntype = "bench.frames"\nrepeat = {repeat}\ndecode = {decode}\n']
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


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--frames", type=int, default=2000, help="frames of 8 traffic events (default 2000)")
    ap.add_argument("--repeat", type=int, default=3, help="passes over the frames (default 3)")
    ap.add_argument("--without", nargs="+", default=[], choices=["decode", "automod", "nats", "file"])
    ap.add_argument("--profile", help="write a cProfile of the run here")
    a = ap.parse_args(argv)
    without = set(a.without)
    if {"nats", "file"} <= without:
        ap.error("keep at least one of the sinks")
    FRAMES[:] = build_frames(a.frames)
    EVENTS[:] = [ev for f in FRAMES for ev in decode_events(f, ROOM)] if "decode" in without else []
    n = sum(len(decode_events(f, ROOM)) for f in FRAMES) * a.repeat
    register(FramesSource, plugin="bench")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        server = NatsServer(tmp / "nats", jetstream=False).start()
        try:
            toml = pipeline_toml(server.url, tmp / "out" / "events.jsonl", a.repeat, without)
            if a.profile:
                import cProfile

                cProfile.runctx("run_pipeline_sync(toml, tmp)", globals(), {"toml": toml, "tmp": tmp}, a.profile)
            else:
                run_pipeline_sync(toml, tmp)
            c0, t0 = STARTED[0]
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        finally:
            server.stop()
    label = "full pipeline" if not without else "without " + ", ".join(sorted(without))
    print(f"{label}: {n:,} events, {cpu:.2f} s cpu, {wall:.2f} s wall; "
          f"{1e6 * cpu / n:.1f} us cpu per event ({n / cpu:,.0f} events per cpu-second)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
