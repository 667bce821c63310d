"""Decode + parse throughput: livepipe's ``decode_events`` against blivedm 0.1.1 on the same frames.

Builds realistic synthetic traffic (brotli bundles of mixed cmds, mostly DANMU_MSG, made from the
synthetic fixtures in tests/fixtures/bilibili with varied users, texts and times), then times:

* ``livepipe``: ``decode_events(frame, room_id)`` for every frame (frame -> packets -> JSON -> Event).
* ``blivedm``: ``BLiveClient._parse_ws_message(frame)``, blivedm's own receive path (brotli in
  the default thread executor, ``json.loads``, handler dispatch) with a ``BaseHandler`` that builds
  its model objects (DanmakuMessage, GiftMessage, ...).
* ``blivedm-inline``: the same, but with an executor that runs brotli inline (no thread hop), so
  the ratio is not flattered by blivedm's executor overhead.

Usage: ``python bench/decode.py [--frames N] [--repeat R] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import logging
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from livepipe.bilibili import decode_events  # noqa: E402
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


def bench_livepipe(frames: list[bytes], repeat: int) -> tuple[float, int]:
    best = float("inf")
    n = 0
    for _ in range(repeat):
        n = 0
        t = time.perf_counter()
        for f in frames:
            n += len(decode_events(f, ROOM_ID))
        best = min(best, time.perf_counter() - t)
    return best, n


class _InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs submitted work at once in the calling thread."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        fut: concurrent.futures.Future = concurrent.futures.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001
            fut.set_exception(e)
        return fut


def bench_blivedm(frames: list[bytes], repeat: int, inline: bool) -> tuple[float, int]:
    import aiohttp
    import blivedm

    logging.getLogger("blivedm").setLevel(logging.CRITICAL)
    counted = [0]

    class Handler(blivedm.BaseHandler):
        async def handle(self, client, command):  # type: ignore[no-untyped-def]
            counted[0] += 1
            await super().handle(client, command)

    async def run() -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        if inline:
            loop.set_default_executor(_InlineExecutor(max_workers=1))
        async with aiohttp.ClientSession() as session:
            client = blivedm.BLiveClient(ROOM_ID, session=session)
            client._room_id = ROOM_ID  # what init_room would have set; no network here
            client.add_handler(Handler())
            best = float("inf")
            n = 0
            for _ in range(repeat):
                counted[0] = 0
                t = time.perf_counter()
                for f in frames:
                    await client._parse_ws_message(f)
                best = min(best, time.perf_counter() - t)
                n = counted[0]
            return best, n

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1500, help="number of brotli frames (default 1500)")
    ap.add_argument("--repeat", type=int, default=5, help="best of R runs (default 5)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)

    frames, total = build_frames(args.frames)
    size = sum(len(f) for f in frames)
    print(f"{len(frames)} frames, {total} messages, {size / 1e6:.1f} MB brotli; best of {args.repeat}")

    results = {}
    t, n = bench_livepipe(frames, args.repeat)
    assert n == total, (n, total)
    results["livepipe"] = total / t
    for name, inline in (("blivedm", False), ("blivedm-inline", True)):
        t, n = bench_blivedm(frames, args.repeat, inline)
        assert n == total, (name, n, total)
        results[name] = total / t

    base = results["livepipe"]
    print(f"{'decoder':<16}{'msgs/s':>12}{'livepipe x':>12}")
    for name, rate in results.items():
        print(f"{name:<16}{rate:>12,.0f}{base / rate:>12.2f}")
    if args.json:
        out = {
            "frames": len(frames),
            "messages": total,
            "python": platform.python_version(),
            "msgs_per_s": results,
            "ratio_vs_blivedm": base / results["blivedm"],
            "ratio_vs_blivedm_inline": base / results["blivedm-inline"],
        }
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
