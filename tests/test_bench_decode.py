"""bench/decode.py runs end to end on a few frames, with its bilibili-api side, and writes its JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DECODE = ROOT / "bench" / "decode.py"

pytest.importorskip("blivedm")  # the script's blivedm sides are not optional


def run_decode(tmp_path: Path, *python_args: str) -> tuple[dict, str]:
    out = tmp_path / "decode.json"
    p = subprocess.run(
        [sys.executable, *python_args, "--frames", "20", "--rounds", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    return json.loads(out.read_text()), p.stdout


def test_decode_bench_compares_with_bilibili_api(tmp_path):
    pytest.importorskip("bilibili_api.live")
    r, stdout = run_decode(tmp_path, str(DECODE))
    # Every frame holds only OP_COMMAND packets with a cmd (no heartbeat replies, no auth reply), so
    # bilibili-api's "ALL" listener fires once per message, as often as livepipe builds events.
    assert r["messages"] > 0
    assert r["messages_per_pass"]["bilibili-api"] == r["messages_per_pass"]["livepipe"] == r["messages"]
    assert r["ratio_vs_bilibili_api"] > 0
    med = r["msgs_per_s_median"]
    sides = {"livepipe", "livepipe-raw", "blivedm", "blivedm-inline", "bilibili-api"}
    assert set(med) == (sides | {"livepipe-pure"} if r["compiled"] else sides)
    assert r["messages_per_pass"]["livepipe-raw"] == r["messages"]  # events whose raw was read, all of them
    assert set(med["bilibili-api"]) == {"cpu", "wall"} and med["bilibili-api"]["cpu"] > 0
    assert r["ratio_vs_bilibili_api"] == pytest.approx(med["livepipe"]["cpu"] / med["bilibili-api"]["cpu"])
    for key in ("ratio_vs_blivedm", "ratio_vs_blivedm_inline", "ratio_vs_blivedm_wall", "ratio_vs_blivedm_inline_wall"):
        assert r[key] > 0
    assert "bilibili-api" in stdout
    if r["compiled"]:  # both decoders, side by side, with their ratios
        assert r["messages_per_pass"]["livepipe-pure"] == r["messages"]
        assert r["pure_ratio_vs_blivedm"] == pytest.approx(med["livepipe-pure"]["cpu"] / med["blivedm"]["cpu"])
        pure = med["livepipe-pure"]["cpu"]
        assert r["pure_ratio_vs_bilibili_api"] == pytest.approx(pure / med["bilibili-api"]["cpu"])
        assert "livepipe (compiled):" in stdout and "livepipe-pure (pure Python):" in stdout


def test_decode_bench_without_the_compiled_decoder(tmp_path):
    """LIVEPIPE_PURE_PYTHON=1: one livepipe side (pure Python), said so, no pure ratios."""
    out = tmp_path / "decode.json"
    p = subprocess.run(
        [sys.executable, str(DECODE), "--frames", "10", "--rounds", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env={**os.environ, "LIVEPIPE_PURE_PYTHON": "1"},
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    r = json.loads(out.read_text())
    assert r["compiled"] is False and r["pure_ratio_vs_blivedm"] is None
    assert "livepipe-pure" not in r["msgs_per_s_median"]
    assert "livepipe decoder: pure Python (LIVEPIPE_PURE_PYTHON=1" in p.stdout


def test_decode_bench_skips_bilibili_api_when_not_importable(tmp_path):
    # sys.modules[name] = None makes `import bilibili_api...` raise ImportError in that process.
    code = (
        "import runpy, sys; sys.modules['bilibili_api'] = None; "
        f"sys.argv = [{str(DECODE)!r}] + sys.argv[1:]; "
        f"runpy.run_path({str(DECODE)!r}, run_name='__main__')"
    )
    r, stdout = run_decode(tmp_path, "-c", code)
    assert r["ratio_vs_bilibili_api"] is None
    assert "bilibili-api" not in r["msgs_per_s_median"]
    assert "bilibili-api side skipped" in stdout
    assert r["ratio_vs_blivedm"] > 0
