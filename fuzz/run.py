"""Coverage-guided fuzzing (atheris, libFuzzer) of the three parsers that take outside input.

    pip install atheris
    python fuzz/run.py frame  [-max_total_time=60] [other libFuzzer flags]
    python fuzz/run.py command [-max_total_time=60]
    python fuzz/run.py config  [-max_total_time=60]

Targets and what must hold for every input (a violation is a crash that libFuzzer reports with
the input saved as ``crash-*``):

* ``frame``: ``decode_events(data, room)`` raises nothing but ``ProtocolError``, and every event
  it returns serializes (``to_json_bytes``) and parses back (``Event.from_json``).
* ``command``: any JSON object, given to ``parse_command``, becomes an event without an exception
  (a shape it cannot read becomes a ``raw`` event), and that event serializes and parses back.
* ``config``: any text, loaded as a pipeline TOML file, either loads or raises ``ConfigError``.

The seed corpus is built from ``tests/fixtures/bilibili`` (frames and messages) and
``examples/*.toml`` on each start. The hypothesis tests in ``tests/`` run in CI; this is for
longer runs by hand (``docs/reliability.md``, fuzzing).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports():
    from livepipe.bilibili import decode_events, parse_command
    from livepipe.bilibili.protocol import OP_COMMAND, VER_BROTLI, ProtocolError, encode_compressed, encode_packet
    from livepipe.config import ConfigError, load_config
    from livepipe.events import Event

ROOM = 30000003
FIXTURES = ROOT / "tests" / "fixtures" / "bilibili"
_TMP = Path(tempfile.mkdtemp(prefix="livepipe-fuzz-"))


def _round_trip(event: Event) -> None:
    Event.from_json(event.to_json_bytes())


def fuzz_frame(data: bytes) -> None:
    """decode_events: only ProtocolError escapes; every event round-trips through its JSON form."""
    try:
        events = decode_events(data, ROOM)
    except ProtocolError:
        return
    for ev in events:
        _round_trip(ev)


def fuzz_command(data: bytes) -> None:
    """parse_command: every JSON object becomes an event that round-trips through its JSON form."""
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):
        return
    if isinstance(message, dict):
        _round_trip(parse_command(message, ROOM))


def fuzz_config(data: bytes) -> None:
    """load_config: any text loads or raises ConfigError."""
    path = _TMP / "pipeline.toml"
    path.write_bytes(data)
    try:
        load_config([path])
    except ConfigError:
        pass


TARGETS = {"frame": fuzz_frame, "command": fuzz_command, "config": fuzz_config}


def seed_corpus(target: str) -> Path:
    """A directory of seed inputs for ``target``."""
    d = _TMP / f"seeds-{target}"
    d.mkdir(exist_ok=True)
    messages = [p.read_bytes() for p in sorted(FIXTURES.glob("*.json"))]
    if target == "frame":
        packets = [encode_packet(OP_COMMAND, m, ver=0, seq=0) for m in messages]
        bundles = [b"".join(packets[i : i + 5]) for i in range(0, len(packets), 5)]
        seeds = packets + [encode_compressed(b, ver=VER_BROTLI) for b in bundles]
    elif target == "command":
        seeds = messages
    else:
        seeds = [p.read_bytes() for p in sorted((ROOT / "examples").glob("*.toml"))]
    for i, s in enumerate(seeds):
        (d / f"seed-{i}").write_bytes(s)
    return d


def main() -> None:
    """``python fuzz/run.py TARGET [libFuzzer flags]``."""
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: python fuzz/run.py {{{','.join(TARGETS)}}} [libFuzzer flags]")
    target = sys.argv[1]
    corpus = seed_corpus(target)
    atheris.Setup([sys.argv[0], *sys.argv[2:], str(corpus)], TARGETS[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
