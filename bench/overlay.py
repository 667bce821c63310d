"""Benchmark: does the overlay page keep up with a busy room in a real browser, and stay bounded? (not a test)

    python bench/overlay.py [--duration 600] [--rate 200] [--sample 30] [--style default] [--max 30]
                            [--chromium PATH] [--json PATH]

Runs in this process the simulator (one room, ``--rate`` shown events per second: its traffic mix is
danmaku, gifts, super chats, guards and kinds the page does not show, so the simulator's own rate is
scaled up by the measured share) and a real pipeline (simulator -> bilibili.danmaku -> overlay), and
opens the page in Debian's headless chromium through Playwright. Every ``--sample`` seconds it reads,
from the page:

* received: cards the page got over SSE; rendered: cards it drew; skipped: cards it did not draw
  because more than ``max`` arrived within one frame (they would have scrolled off at once), hidden
  and duplicates (none expected here);
* frames: ``requestAnimationFrame`` callbacks, the frame gaps (p50, p99, worst) and the frames
  dropped (a gap of N frame intervals drops N-1 frames; the interval is the median gap);
* the same frame figures of an idle page in the same browser at the same time (the *peer*: what the
  machine's load costs any page);
* the DOM's element count and the JS heap, which must stay flat over a long run;

and prints one row per sample, then a summary with the CPU time of this process (simulator and
pipeline) and of the browser's processes, per second of run. The issue asks for 10 minutes
(``--duration 600``, the default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/nats.py shadows nats-py
sys.path.insert(0, str(HERE.parent))

from playwright.async_api import async_playwright  # noqa: E402

from livepipe import testing  # noqa: E402
from livepipe.sim import run_simulator  # noqa: E402
from tests.components.overlay_support import CHROMIUM_ARGS, PIPELINE  # noqa: E402

ROOM = 1000
#: share of the simulator's traffic that becomes a card on the page (measured on the simulator's mix, seed 1)
SHOWN_SHARE = 0.66


#: runs in the page before its own script: records every frame gap
FRAMES_JS = """
window.__frames = {gaps: [], last: 0};
(function tick(t) {
  const f = window.__frames;
  if (f.last) f.gaps.push(t - f.last);
  f.last = t;
  requestAnimationFrame(tick);
})(0);
"""

PEER_JS = "() => { const g = window.__frames.gaps; window.__frames.gaps = []; return g; }"

SAMPLE_JS = """() => {
  const gaps = window.__frames.gaps; window.__frames.gaps = [];
  return {stats: Object.assign({}, window.overlayStats), gaps,
          elements: document.getElementsByTagName('*').length, list: document.getElementById('list').childElementCount,
          heap: performance.memory ? performance.memory.usedJSHeapSize : null};
}"""


def _descendants(root: int) -> list[int]:
    """Pids of every process below ``root`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` (those still running)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def _frames(gaps: list[float]) -> dict[str, float]:
    if len(gaps) < 2:
        return {"frames": len(gaps), "p50": 0.0, "p99": 0.0, "worst": 0.0, "dropped": 0}
    gaps = sorted(gaps)
    interval = statistics.median(gaps)
    dropped = sum(max(0, round(g / interval) - 1) for g in gaps)
    return {"frames": len(gaps), "p50": interval, "p99": gaps[int(len(gaps) * 0.99) - 1], "worst": gaps[-1],
            "dropped": dropped}


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run the simulator, the pipeline and the browser for ``args.duration`` seconds; return the figures."""
    sim_rate = args.rate / SHOWN_SHARE
    rows: list[dict[str, Any]] = []
    async with run_simulator(rooms=[ROOM], rate=sim_rate, seed=1) as sim:
        with tempfile.TemporaryDirectory() as tmp:
            toml = PIPELINE.format(sim=sim.base_url, room=ROOM, port=0, options=f"history = 50\nmax = {args.max}")
            async with testing.running_pipeline(toml, Path(tmp)) as p:
                await sim.wait_for_clients(ROOM, timeout=30)
                sink = p.components["overlay"]
                async with async_playwright() as pw:
                    browser = await pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
                    page = await browser.new_page(viewport={"width": 600, "height": 900}, bypass_csp=True)

                    async def no_network(route: Any) -> None:  # gift images: there is no network here
                        await route.fulfill(status=404, body=b"")

                    await page.route("https://**", no_network)
                    await page.add_init_script(FRAMES_JS)
                    await page.goto(f"{sink.url}?style={args.style}")
                    await page.wait_for_function("window.overlayStats && overlayStats.connects === 1")
                    # the peer: an empty page in the same browser at the same time; its dropped frames are
                    # what the machine's load costs any page, whatever it draws
                    peer = await browser.new_page(viewport={"width": 600, "height": 900})
                    await peer.set_content("<p>idle</p>")
                    await peer.evaluate(FRAMES_JS)
                    browser_pids = _descendants(os.getpid())
                    cpu0, bcpu0, t0 = time.process_time(), _cpu_seconds(browser_pids), time.monotonic()
                    seq0 = sink.hub.seq
                    first = await page.evaluate(SAMPLE_JS)
                    await peer.evaluate(PEER_JS)
                    last_stats = first["stats"]
                    print(f"{'t (s)':>6} {'sent/s':>7} {'recv/s':>7} {'drawn/s':>7} {'skipped':>7} {'frames':>6} "
                          f"{'p50 ms':>6} {'p99 ms':>6} {'worst':>6} {'dropped':>7} {'peer dr':>7} {'elements':>8} "
                          f"{'heap MB':>7}")
                    end = t0 + args.duration
                    t_prev, seq_prev = t0, seq0
                    while time.monotonic() < end:
                        await asyncio.sleep(min(args.sample, max(0.0, end - time.monotonic())))
                        s = await page.evaluate(SAMPLE_JS)
                        peer_fr = _frames(await peer.evaluate(PEER_JS))
                        now = time.monotonic()
                        dt = now - t_prev
                        st = s["stats"]
                        fr = _frames(s["gaps"])
                        row = {"t": round(now - t0, 1), "sent_per_s": (sink.hub.seq - seq_prev) / dt,
                               "received_per_s": (st["received"] - last_stats["received"]) / dt,
                               "rendered_per_s": (st["rendered"] - last_stats["rendered"]) / dt,
                               "skipped": st["skipped"] - last_stats["skipped"], **fr,
                               "elements": s["elements"], "list": s["list"],
                               "heap_mb": (s["heap"] or 0) / 2**20, "peer_frames": peer_fr["frames"],
                               "peer_dropped": peer_fr["dropped"]}  # fmt: skip
                        rows.append(row)
                        print(f"{row['t']:>6.0f} {row['sent_per_s']:>7.1f} {row['received_per_s']:>7.1f} "
                              f"{row['rendered_per_s']:>7.1f} {row['skipped']:>7} {fr['frames']:>6} "
                              f"{fr['p50']:>6.1f} {fr['p99']:>6.1f} {fr['worst']:>6.1f} {fr['dropped']:>7} "
                              f"{peer_fr['dropped']:>7} "
                              f"{row['elements']:>8} {row['heap_mb']:>7.1f}", flush=True)
                        last_stats, t_prev, seq_prev = st, now, sink.hub.seq
                    wall = time.monotonic() - t0
                    cpu = time.process_time() - cpu0
                    bcpu = _cpu_seconds(_descendants(os.getpid())) - bcpu0
                    final = last_stats
                    await browser.close()
                sent = sink.hub.seq - seq0
                p.request_shutdown()
    frames_total = sum(r["frames"] for r in rows)
    return {
        "duration_s": round(wall, 1), "target_rate": args.rate, "simulator_rate": round(sim_rate, 1),
        "cards_sent": sent, "cards_received": final["received"] - first["stats"]["received"],
        "cards_rendered": final["rendered"] - first["stats"]["rendered"],
        "cards_skipped": final["skipped"] - first["stats"]["skipped"],
        "duplicates": final["duplicates"], "reconnects": final["connects"] - 1,
        "frames": frames_total, "frames_dropped": sum(r["dropped"] for r in rows),
        "peer_frames": sum(r["peer_frames"] for r in rows), "peer_frames_dropped": sum(r["peer_dropped"] for r in rows),
        "worst_frame_gap_ms": max((r["worst"] for r in rows), default=0.0),
        "elements_first": rows[0]["elements"] if rows else None, "elements_max": max(r["elements"] for r in rows),
        "elements_last": rows[-1]["elements"] if rows else None,
        "heap_mb_first": rows[0]["heap_mb"] if rows else None, "heap_mb_last": rows[-1]["heap_mb"] if rows else None,
        "cpu_share_pipeline_and_sim": cpu / wall, "cpu_share_browser": bcpu / wall, "rows": rows,
    }  # fmt: skip


def main() -> None:
    """Parse the arguments, measure, print the summary (and write JSON with ``--json``)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=600.0, help="seconds to run (default 600: 10 minutes)")
    ap.add_argument("--rate", type=float, default=200.0, help="cards per second the page should show (default 200)")
    ap.add_argument("--sample", type=float, default=30.0, help="seconds between samples (default 30)")
    ap.add_argument("--style", default="default", help="the page's style (default, bubble, compact)")
    ap.add_argument("--max", type=int, default=30, help="the page's max messages on screen (default 30)")
    ap.add_argument("--chromium", default="/usr/bin/chromium", help="chromium binary (default /usr/bin/chromium)")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = ap.parse_args()
    r = asyncio.run(measure(args))
    rendered_share = (r["cards_rendered"] + r["cards_skipped"]) / max(1, r["cards_received"])
    print(f"\n{r['duration_s']:.0f} s at {r['cards_sent'] / r['duration_s']:.0f} cards/s sent "
          f"(simulator {r['simulator_rate']:.0f} events/s): received {r['cards_received']}, "
          f"rendered {r['cards_rendered']}, skipped {r['cards_skipped']} ({rendered_share:.1%} handled), "
          f"duplicates {r['duplicates']}, reconnects {r['reconnects']}")
    print(f"frames {r['frames']}, dropped {r['frames_dropped']} ({r['frames_dropped'] / max(1, r['frames']):.2%}), "
          f"worst gap {r['worst_frame_gap_ms']:.0f} ms; the idle peer page at the same time: "
          f"frames {r['peer_frames']}, "
          f"dropped {r['peer_frames_dropped']} ({r['peer_frames_dropped'] / max(1, r['peer_frames']):.2%})")
    print(f"DOM elements: first sample {r['elements_first']}, max {r['elements_max']}, last {r['elements_last']}; "
          f"JS heap {r['heap_mb_first']:.1f} MB -> {r['heap_mb_last']:.1f} MB")
    print(f"CPU per second of run: pipeline + simulator {r['cpu_share_pipeline_and_sim']:.0%} of a core, "
          f"browser {r['cpu_share_browser']:.0%}")
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
