"""Decode + parse throughput: livepipe's ``decode_events`` against blivedm and bilibili-api on the same frames.

Builds realistic synthetic traffic (brotli bundles of mixed cmds, mostly DANMU_MSG, made from the
synthetic fixtures in tests/fixtures/bilibili with varied users, texts and times), then times:

* ``livepipe``: ``decode_events(frame, room_id)`` for every frame (frame -> packets -> JSON -> Event),
  with the compiled decoder (``livepipe.bilibili._cdecode``) when it is built and active.
  A danmaku's ``raw`` stays the received bytes until something reads ``event.raw`` (sinks write the
  bytes as they are), so this side does not parse it.
* ``livepipe-pure``: the same with the pure-Python decoder (the fallback: what runs when the
  extension is not built or ``LIVEPIPE_PURE_PYTHON=1``), in the same run, so that both paths get
  their ratios against the peers. Skipped, with a note, when the compiled decoder is not active.
* ``livepipe-raw``: the same, and every event's ``raw`` is read (parsed): what a pipeline pays
  when a processor reads ``raw``. Not a ratio column; its rate is printed beside the others.
* ``blivedm``: ``BLiveClient._parse_ws_message(frame)``, blivedm's own receive path (brotli in
  the default thread executor, ``json.loads``, handler dispatch) with a ``BaseHandler`` that builds
  its model objects (DanmakuMessage, GiftMessage, ...).
* ``blivedm-inline``: the same, but with an executor that runs brotli inline (no thread hop), so
  the ratio is not flattered by blivedm's executor overhead.
* ``bilibili-api``: ``LiveDanmaku``'s per-frame receive path (bilibili-api-python 17.x,
  ``bilibili_api.live``), the private ``__handle_data`` its WebSocket loop calls for every binary
  frame: ``__unpack`` (brotli inline, ``json.loads``), protobuf parse of INTERACT_WORD_V2 and
  ONLINE_RANK_V3, and ``AsyncEvent.dispatch`` to a coroutine listener on ``"ALL"`` (one
  ``asyncio.Task`` per message, run within the timed pass). No network: the constructor does no
  I/O and the real room id is set directly. Skipped, with a note, if ``bilibili_api`` is not
  importable (blivedm is required).

Robust to a shared machine: the sides run interleaved (A/B/C, B/C/A, ...) for ``--rounds`` rounds
after one warm-up pass each, each pass starts after ``gc.collect()``, and the figures are the
medians per side. The headline clock is CPU time (``time.process_time``, all threads of the
process: blivedm's brotli in its executor thread counts), which other processes on the machine
disturb far less than wall time; wall-time figures are printed too. The "livepipe x" columns are
livepipe's median rate over that side's median rate. Every pass of every side must count all
the built messages (blivedm: handler calls; bilibili-api: ``"ALL"`` listener calls).

JSON (``--json``): ``msgs_per_s_median`` / ``msgs_per_s_rounds`` per side (``{"cpu", "wall"}``),
``messages_per_pass`` per side, ``ratio_vs_blivedm``, ``ratio_vs_blivedm_inline`` (and ``_wall``
variants), ``ratio_vs_bilibili_api`` (cpu; ``null`` when that side is skipped), ``compiled`` (whether
the ``livepipe`` side is compiled) and ``pure_ratio_vs_blivedm`` / ``pure_ratio_vs_bilibili_api``
(the ``livepipe-pure`` side's; ``null`` when it is skipped).

Usage: ``python bench/decode.py [--frames N] [--rounds R] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import gc
import json
import logging
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import livepipe.bilibili as bilibili  # noqa: E402
from livepipe.bilibili import decode_events, fast  # noqa: E402
from livepipe.bilibili.protocol import OP_COMMAND, VER_PLAIN_JSON, encode_compressed, encode_packet  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "bilibili"
ROOM_ID = 30000003

# (fixture, weight): roughly what a busy room sends.
MIX = [
    ("danmu_msg", 60),
    ("danmu_msg_suffix", 10),
    ("danmu_msg_emoticon", 5),
    ("danmu_msg_reply", 3),
    ("send_gift", 5),
    ("combo_send", 1),
    ("interact_word_v2", 6),
    ("like_info_v3_click", 2),
    ("online_rank_count", 2),
    ("watched_change", 2),
    ("super_chat_message", 1),
    ("guard_buy", 1),
    ("stop_live_room_list", 1),
    ("online_rank_v2", 1),
]

WORDS = ["哈哈哈", "主播好", "666", "来了来了", "这波可以", "晚上好", "草", "?", "好耶", "前方高能", "yyds", "加油"]


def _load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))


def _vary(msg: dict[str, Any], i: int, rng: random.Random, t0: int) -> dict[str, Any]:
    """A copy of ``msg`` with its user, text, time and danmaku id changed."""
    m = json.loads(json.dumps(msg))
    uid = 10_000_000 + rng.randrange(50_000)
    if m["cmd"].startswith("DANMU_MSG"):
        info = m["info"]
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
        info[1] = text
        info[2][0] = uid
        info[2][1] = f"用户{uid}"
        info[0][4] = (t0 + i) * 1000 + rng.randrange(1000)
        mi = info[0][15]
        extra = json.loads(mi["extra"])
        extra["content"] = text
        if "[" not in text:
            extra["emots"] = None
        extra["id_str"] = f"{rng.getrandbits(128):032x}{i:02x}"[:34]
        mi["extra"] = json.dumps(extra, ensure_ascii=False, separators=(",", ":"))
        mi["user"]["uid"] = uid
    elif isinstance(m.get("data"), dict) and "uid" in m["data"]:
        m["data"]["uid"] = uid
        if "timestamp" in m["data"]:
            m["data"]["timestamp"] = t0 + i
    return m


def build_frames(n_frames: int, seed: int = 7) -> tuple[list[bytes], int]:
    """Brotli frames of 5-40 mixed messages each; returns (frames, total message count)."""
    rng = random.Random(seed)
    templates = [(_load(name), w) for name, w in MIX]
    population = [t for t, _ in templates]
    weights = [w for _, w in templates]
    frames = []
    total = 0
    i = 0
    t0 = 1767225600
    for _ in range(n_frames):
        k = rng.randint(5, 40)
        inner = []
        for msg in rng.choices(population, weights, k=k):
            body = json.dumps(_vary(msg, i, rng, t0), ensure_ascii=False, separators=(",", ":"))
            inner.append(encode_packet(OP_COMMAND, body, ver=VER_PLAIN_JSON, seq=0))
            i += 1
        frames.append(encode_compressed(b"".join(inner)))
        total += k
    return frames, total


class LivepipeSide:
    """livepipe's side: ``decode_events`` on every frame; with ``read_raw``, each event's ``raw`` is read too.

    ``pure``: the pure-Python decoder (``livepipe.bilibili._decode_events_pure``) instead of the active one.
    """

    def __init__(self, frames: list[bytes], read_raw: bool = False, pure: bool = False) -> None:
        self.frames = frames
        self.read_raw = read_raw
        self.decode = bilibili._decode_events_pure if pure else decode_events
        self.name = "livepipe-raw" if read_raw else "livepipe-pure" if pure else "livepipe"

    def run(self) -> tuple[float, float, int]:
        """One pass over the frames: ``(cpu_seconds, wall_seconds, events)``."""
        frames = self.frames
        decode_events = self.decode
        n = 0
        gc.collect()
        c, w = time.process_time(), time.perf_counter()
        if self.read_raw:
            for f in frames:
                for ev in decode_events(f, ROOM_ID):
                    ev.raw  # noqa: B018 - parses a danmaku's raw, left unparsed by the decoder
                    n += 1
        else:
            for f in frames:
                n += len(decode_events(f, ROOM_ID))
        return time.process_time() - c, time.perf_counter() - w, n

    def close(self) -> None:
        """Nothing to release."""


class _InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs submitted work at once in the calling thread."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        fut: concurrent.futures.Future = concurrent.futures.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001
            fut.set_exception(e)
        return fut


class BlivedmSide:
    """blivedm's side: its own receive path, ``BLiveClient._parse_ws_message``, on one event loop.

    The client and its loop live across rounds so that rounds can interleave with livepipe's.
    ``time.process_time`` counts every thread of the process, so the CPU the default executor
    spends on brotli is counted with the rest of blivedm's work.
    """

    def __init__(self, frames: list[bytes], inline: bool) -> None:
        import aiohttp
        import blivedm

        logging.getLogger("blivedm").setLevel(logging.CRITICAL)
        self.name = "blivedm-inline" if inline else "blivedm"
        self.frames = frames
        self.counted = 0
        side = self

        class Handler(blivedm.BaseHandler):
            async def handle(self, client, command):  # type: ignore[no-untyped-def]
                side.counted += 1
                await super().handle(client, command)  # builds DanmakuMessage, GiftMessage, ...

        self.loop = asyncio.new_event_loop()
        if inline:
            self.loop.set_default_executor(_InlineExecutor(max_workers=1))

        async def setup() -> tuple[Any, Any]:
            session = aiohttp.ClientSession()
            client = blivedm.BLiveClient(ROOM_ID, session=session)
            client._room_id = ROOM_ID  # what init_room would have set; no network here
            client.add_handler(Handler())
            return session, client

        self.session, self.client = self.loop.run_until_complete(setup())

    def run(self) -> tuple[float, float, int]:
        """One pass over the frames: ``(cpu_seconds, wall_seconds, messages handled)``."""

        async def once() -> tuple[float, float]:
            parse = self.client._parse_ws_message
            gc.collect()
            c, w = time.process_time(), time.perf_counter()
            for f in self.frames:
                await parse(f)
            return time.process_time() - c, time.perf_counter() - w

        self.counted = 0
        cpu, wall = self.loop.run_until_complete(once())
        return cpu, wall, self.counted

    def close(self) -> None:
        """Close the HTTP session and the loop."""
        self.loop.run_until_complete(self.session.close())
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()


class BilibiliApiSide:
    """bilibili-api's side: ``LiveDanmaku``'s own per-frame receive path on one event loop.

    ``LiveDanmaku(room_id)`` does no I/O (it builds an empty ``Credential`` and a logger); the real
    room id that ``connect()`` would have fetched is set directly. Every frame goes through the
    private ``__handle_data`` that its WebSocket loop calls for each binary frame: ``__unpack``
    (inline ``brotli.decompress``, ``struct.unpack`` of each header, ``json.loads``), the protobuf
    parse of ``INTERACT_WORD_V2`` / ``ONLINE_RANK_V3``, then ``AsyncEvent.dispatch`` of the cmd
    and of ``"ALL"``. The listener is a coroutine on ``"ALL"``, the way bilibili-api documents
    listeners, so each message costs the ``asyncio.Task`` that ``dispatch`` creates for it; the
    loop yields once after each frame (as the receive loop does at ``ws_recv``) and the tasks run
    inside the timed pass.
    """

    name = "bilibili-api"

    def __init__(self, frames: list[bytes]) -> None:
        from bilibili_api.live import LiveDanmaku

        self.frames = frames
        self.counted = 0
        self.loop = asyncio.new_event_loop()
        room = LiveDanmaku(ROOM_ID)
        room._LiveDanmaku__room_real_id = ROOM_ID  # type: ignore[attr-defined]  # what connect() would fetch
        side = self

        @room.on("ALL")
        async def on_all(event: dict[str, Any]) -> None:
            side.counted += 1

        self.room = room

    def run(self) -> tuple[float, float, int]:
        """One pass over the frames: ``(cpu_seconds, wall_seconds, messages handled)``."""

        async def once() -> tuple[float, float]:
            handle = self.room._LiveDanmaku__handle_data  # type: ignore[attr-defined]
            pending = self.room._AsyncEvent__tasks  # type: ignore[attr-defined]  # live dispatch tasks
            gc.collect()
            c, w = time.process_time(), time.perf_counter()
            for f in self.frames:
                await handle(f)
                await asyncio.sleep(0)  # the listener tasks of this frame run
            while pending:  # the last frame's tasks and done-callbacks
                await asyncio.sleep(0)
            return time.process_time() - c, time.perf_counter() - w

        self.counted = 0
        cpu, wall = self.loop.run_until_complete(once())
        return cpu, wall, self.counted

    def close(self) -> None:
        """Close the loop."""
        self.loop.close()


def run_rounds(
    sides: list[Any], rounds: int, total: int, counts: dict[str, int] | None = None
) -> dict[str, dict[str, list[float]]]:
    """Run every side once per round, interleaved (A/B/C, then B/C/A, ...); rates per round.

    Every pass must count ``total`` messages; ``counts``, if given, receives each side's count.
    """
    rates: dict[str, dict[str, list[float]]] = {s.name: {"cpu": [], "wall": []} for s in sides}
    for s in sides:  # warm-up pass (imports, caches, branch of every cmd) outside the figures
        s.run()
    for r in range(rounds):
        k = r % len(sides)
        for s in sides[k:] + sides[:k]:
            cpu, wall, n = s.run()
            assert n == total, (s.name, n, total)
            if counts is not None:
                counts[s.name] = n
            rates[s.name]["cpu"].append(total / cpu)
            rates[s.name]["wall"].append(total / wall)
    return rates


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1000, help="number of brotli frames (default 1000)")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds per side (default 7)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)

    frames, total = build_frames(args.frames)
    size = sum(len(f) for f in frames)
    print(
        f"{len(frames)} frames, {total} messages, {size / 1e6:.1f} MB brotli; "
        f"{args.rounds} interleaved rounds, medians; Python {platform.python_version()}"
    )
    print(f"livepipe decoder: {fast.decoder_description()}")
    sides: list[Any] = [LivepipeSide(frames), LivepipeSide(frames, read_raw=True), BlivedmSide(frames, inline=False),
                        BlivedmSide(frames, inline=True)]  # fmt: skip
    if fast.COMPILED:
        sides.insert(1, LivepipeSide(frames, pure=True))
    else:
        print("livepipe-pure side skipped: the livepipe side is the pure-Python decoder already")
    try:
        sides.append(BilibiliApiSide(frames))
    except ImportError as e:
        print(f"bilibili-api side skipped: bilibili_api.live is not importable ({e})")
    counts: dict[str, int] = {}
    try:
        rates = run_rounds(sides, args.rounds, total, counts)
    finally:
        for s in sides:
            s.close()

    med = {name: {clock: statistics.median(v) for clock, v in r.items()} for name, r in rates.items()}
    base = med["livepipe"]
    head = ("decoder", "msgs/s (cpu)", "min..max", "livepipe x", "msgs/s (wall)", "livepipe x")
    print(f"{head[0]:<16}{head[1]:>14}{head[2]:>20}{head[3]:>12}{head[4]:>15}{head[5]:>12}")
    for name, m in med.items():
        lo, hi = min(rates[name]["cpu"]), max(rates[name]["cpu"])
        print(
            f"{name:<16}{m['cpu']:>14,.0f}{f'{lo:,.0f}..{hi:,.0f}':>20}{base['cpu'] / m['cpu']:>12.2f}"
            f"{m['wall']:>15,.0f}{base['wall'] / m['wall']:>12.2f}"
        )
    per_msg = ", ".join(f"{name} {1e6 / m['cpu']:.1f} us" for name, m in med.items())
    print(f"per message (cpu): {per_msg}")
    print("messages per pass: " + ", ".join(f"{name} {n}" for name, n in counts.items()) + f" (built: {total})")
    bapi = med.get("bilibili-api")
    pure = med.get("livepipe-pure")
    for label, m in (("livepipe" + (" (compiled)" if fast.COMPILED else " (pure Python)"), base),
                     ("livepipe-pure (pure Python)", pure)):
        if m is None:
            continue
        vs_bapi = f", {m['cpu'] / bapi['cpu']:.2f}x bilibili-api" if bapi is not None else ""
        print(f"{label}: {1e6 / m['cpu']:.1f} us per message (cpu), {m['cpu'] / med['blivedm']['cpu']:.2f}x blivedm"
              f"{vs_bapi}")
    if args.json:
        out = {
            "frames": len(frames),
            "messages": total,
            "rounds": args.rounds,
            "python": platform.python_version(),
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
            "msgs_per_s_median": med,
            "msgs_per_s_rounds": rates,
            "messages_per_pass": counts,
            "ratio_vs_blivedm": base["cpu"] / med["blivedm"]["cpu"],
            "ratio_vs_blivedm_inline": base["cpu"] / med["blivedm-inline"]["cpu"],
            "ratio_vs_blivedm_wall": base["wall"] / med["blivedm"]["wall"],
            "ratio_vs_blivedm_inline_wall": base["wall"] / med["blivedm-inline"]["wall"],
            "ratio_vs_bilibili_api": base["cpu"] / bapi["cpu"] if bapi is not None else None,
            "compiled": fast.COMPILED,
            "pure_ratio_vs_blivedm": pure["cpu"] / med["blivedm"]["cpu"] if pure is not None else None,
            "pure_ratio_vs_bilibili_api": pure["cpu"] / bapi["cpu"] if pure is not None and bapi is not None else None,
        }
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
