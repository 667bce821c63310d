"""Resident memory of automod with bench/run.py's rules loaded and its segmenter and pinyin warmed.

Run: ``python plugins/livepipe-automod/bench/memory.py`` (from the repository root). Prints the RSS
after importing the plugin, after building the rule set, after warming the segmenter and after
matching a few messages, plus the time per segmentation and per pinyin reading.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import tomllib


def rss_mb() -> float:
    """Current resident set size in MB (from /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
    import run  # bench/run.py: its AUTOMOD block holds the benchmark's rules

    print(f"start            {rss_mb():7.1f} MB")
    from livepipe_automod import segment
    from livepipe_automod.normalize import normalize, pinyin_form
    from livepipe_automod.rules import validate_rules
    from livepipe_automod.ruleset import RuleSet

    print(f"imported         {rss_mb():7.1f} MB")
    table = tomllib.loads(run.AUTOMOD.replace("{{", "{").replace("}}", "}"))["processors"]["automod"]
    rules = validate_rules(table["rules"], "bench")
    rs = RuleSet.build(rules, {r.id: list(r.words) for r in rules})
    print(f"rules built      {rss_mb():7.1f} MB")
    t0 = time.perf_counter()
    segment.warm_up()
    print(f"segmenter warm   {rss_mb():7.1f} MB  (load {time.perf_counter() - t0:.2f} s)")
    texts = ["主播好厉害", "你是傻逼吗", "刷单曲的来了", "杀必死", "加微信12345678", "沙比主播", "去死吧你", "煞笔"]
    for t in texts:
        rs.match(normalize(t), newcomer=True)
    print(f"matched          {rss_mb():7.1f} MB")
    sample = "今天的直播真的太好看了主播唱的单曲我刷了好多遍杀必死"
    n = 2000
    t0 = time.perf_counter()
    for i in range(n):
        segment.word_spans.__wrapped__(sample[i % 7:])
    seg_us = (time.perf_counter() - t0) / n * 1e6
    n2 = 20000
    t0 = time.perf_counter()
    for i in range(n2):
        pinyin_form(sample[i % 20:])
    py_us = (time.perf_counter() - t0) / n2 * 1e6
    from livepipe_automod import normalize as nz

    fresh = [chr(c) for c in range(0x4E00, 0x4E00 + 5000)]
    nz.PINYIN.clear()
    t0 = time.perf_counter()
    for ch in fresh:
        nz.PINYIN[ch]
    first_us = (time.perf_counter() - t0) / len(fresh) * 1e6
    print(f"segmentation {seg_us:.1f} us/call ({len(sample)}-char text); pinyin_form {py_us:.1f} us/call "
          f"(characters seen before); a character's first pinyin {first_us:.1f} us")


if __name__ == "__main__":
    main()
