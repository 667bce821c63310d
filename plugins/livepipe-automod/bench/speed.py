"""Microseconds automod spends per danmaku with 1,000 words and 50 regexes (no pinyin, then with pinyin),
and the word segmenter's one-time load.

Run: python plugins/livepipe-automod/bench/speed.py [--messages N]

Times the whole ``AutoMod.process`` call (scope, normalization, matching, ladder) on generated chat
where most messages are clean and some break a rule, with every text distinct so that the
normalization cache does not help (spam waves repeat texts and are cheaper still). The figure is the
CPU time of this process (wall time beside it: on a shared machine other processes inflate wall
time, not CPU time). The word segmenter is loaded first, and its load time printed.
"""

from __future__ import annotations

import argparse
import logging
import random
import time

import anyio
from livepipe.clock import ManualClock
from livepipe.component import Context
from livepipe.events import make_event
from livepipe.runtime.metrics import ComponentMetrics, MetricsRegistry

from livepipe_automod import segment
from livepipe_automod.normalize import normalize
from livepipe_automod.processor import AutoMod, AutoModConfig

COMMON = (
    "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对"
    "小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动"
    "方期它头经长儿回位分爱老因很给名法间斯知世什两次使身者被高已亲其进此话常与活正感"
)
LATIN = ["gg", "lol", "nice", "hello", "wow", "666", "awsl", "yyds", "xswl", "hhh", "ok", "cool", "up", "live"]


def make_rules(rng: random.Random, pinyin: bool) -> list[dict]:
    words = set()
    while len(words) < 950:  # listed words are rarer characters than everyday chat
        words.add("".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(2, 4))))
    while len(words) < 1000:
        words.add("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 7))))
    words = sorted(words)
    regexes = [rf"(?:加|\+)(?:v|vx|q){i % 7}\d{{{5 + i % 4},}}" for i in range(25)]
    regexes += [rf"{chr(rng.randint(0x4E00, 0x9FA5))}.{{0,3}}{rng.choice(COMMON)}\d{{2,}}" for _ in range(15)]
    regexes += [rf"(?:https?|www)\S*{i}" for i in range(10)]
    rules = [{"id": f"words{i}", "words": words[i * 100:(i + 1) * 100], "regexes": regexes[i * 5:(i + 1) * 5],
              "ladder": ["flag"]} for i in range(10)]
    if pinyin:
        rules[0]["pinyin"] = True  # 100 of the 1,000 words also match by sound
    return rules, words


def make_chat(rng: random.Random, n: int, words: list[str]) -> list[str]:
    out = []
    for i in range(n):
        parts = [rng.choice(COMMON) for _ in range(rng.randint(4, 14))]
        if rng.random() < 0.3:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(LATIN))
        if rng.random() < 0.02:  # 2 % of the messages contain a listed word
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(words))
        out.append("".join(parts) + f" {i}")
    return out


async def measure(pinyin: bool, n: int) -> tuple[float, int]:
    rng = random.Random(7)
    rules, words = make_rules(rng, pinyin)
    config = AutoModConfig.model_validate({"type": "automod", "inputs": ["x"], "rules": rules})
    ctx = Context("automod", ComponentMetrics(MetricsRegistry(), "automod", "automod"),
                  logging.getLogger("bench"), clock=ManualClock())
    proc = AutoMod(config, ctx)
    await proc.start()
    chat = make_chat(rng, n, words)
    events = [make_event("danmaku", room_id=1, uid=1000 + i % 500, uname="u", text=t, ts=1.0,
                         data={"user_level": 10, "guard_level": 0, "medal": None})
              for i, t in enumerate(chat)]
    emitted = 0

    async def emit(event, output=None):
        nonlocal emitted
        emitted += 1

    for ev in events[:200]:  # warm the per-character caches
        await proc.process(ev, emit)
    normalize.cache_clear()
    t0, c0 = time.perf_counter(), time.process_time()
    for ev in events:
        await proc.process(ev, emit)
    return (time.perf_counter() - t0) / n * 1e6, (time.process_time() - c0) / n * 1e6, emitted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=50_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    segment.warm_up()
    print(f"word segmenter (jieba): loaded once, lazily, in {time.perf_counter() - t0:.2f} s")
    for pinyin in (False, True):
        wall, cpu, emitted = anyio.run(measure, pinyin, args.messages)
        label = "1,000 words + 50 regexes" + (" (100 words with pinyin)" if pinyin else "")
        print(f"{label:52} {cpu:6.2f} µs CPU per danmaku ({wall:6.2f} µs wall)  "
              f"({args.messages} messages, {emitted} flagged)")


if __name__ == "__main__":
    main()
