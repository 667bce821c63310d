"""``format = "xml"`` of the file sink: Bilibili danmaku XML, parsed back with the stdlib parser,
hostile text, stream-relative times, reopening, rotation, and a real ``livepipe run`` stopped by
SIGTERM (well-formed) and by SIGKILL (whole lines; well-formed after the next run)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
import zlib

import pytest
from component_helpers import Recorder, build, ev

from livepipe.components.file import FileSink, FileSinkError
from livepipe.events import make_event

T0 = 1_700_000_000.0
HOSTILE = ["<script>&amp;</script>", 'a "quoted" \'x\'', "line1\nline2\r\n\ttab", "\x00\x01\x1b[31mred\x7f",
           "\ud800 lone surrogate", "]]> <![CDATA[", "emoji 😀 中文", "", "&#x0;", "a,b,c"]


async def write(tmp_path, events, **config):
    s = build(FileSink, {"inputs": ["a"], "path": "dm.xml", "format": "xml", **config}, config_dir=tmp_path)
    await s.start()
    for e in events:
        await s.write(e, Recorder())
    await s.stop()
    return tmp_path / "dm.xml"


def ds(path):
    root = ET.parse(path).getroot()
    assert root.tag == "i"
    return root.findall("d")


@pytest.mark.anyio
async def test_hostile_text_parses_back(tmp_path):
    rng = random.Random(3)
    events = []
    for i in range(300):
        text = "".join(rng.choice(HOSTILE) for _ in range(rng.randrange(1, 4)))
        events.append(ev(text=text, uid=rng.randrange(1, 10**9), uname=rng.choice(HOSTILE), ts=T0 + i,
                         data={"mode": rng.choice([1, 4, 5]), "color": rng.randrange(0, 0xFFFFFF), "font_size": 25}))
    path = await write(tmp_path, events)
    got = ds(path)
    assert len(got) == 300
    illegal = str.maketrans("", "", "".join(chr(c) for c in range(32) if c not in (9, 10, 13)) + "\ud800")
    for d, e in zip(got, events, strict=True):
        want = e.text.translate(illegal).replace("\r\n", "\n")
        assert d.text in (want, None) if want == "" else d.text.replace("\r\n", "\n") == want
        p = d.get("p").split(",")
        assert len(p) == 8
        assert float(p[0]) == pytest.approx(e.ts - T0)
        assert (int(p[1]), int(p[2]), int(p[3])) == (e.data["mode"], 25, e.data["color"])
        assert int(p[4]) == int(e.ts * 1000)
        assert p[6] == format(zlib.crc32(str(e.uid).encode()), "x")
        assert p[7] == e.id
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[-1] == "</i>" and sum(line.startswith("<d ") for line in lines) == 300  # one line per <d>


@pytest.mark.anyio
async def test_times_count_from_the_rooms_live_event(tmp_path):
    live = make_event("live", room_id=1001, ts=T0 + 50, data={"live_time": int(T0)})
    events = [ev("enter", ts=T0 + 55), live, ev(text="a", ts=T0 + 60), ev("gift", ts=T0 + 61), ev(text="b", ts=T0 + 90)]
    got = ds(await write(tmp_path, events))
    assert [(d.text, float(d.get("p").split(",")[0])) for d in got] == [("a", 60.0), ("b", 90.0)]


@pytest.mark.anyio
async def test_without_live_the_first_danmaku_or_xml_start(tmp_path):
    events = [ev(text="a", ts=T0 + 10), ev(text="b", ts=T0 + 12.5)]
    assert [float(d.get("p").split(",")[0]) for d in ds(await write(tmp_path, events))] == [0.0, 2.5]
    os.remove(tmp_path / "dm.xml")
    got = ds(await write(tmp_path, events, xml_start=T0))
    assert [float(d.get("p").split(",")[0]) for d in got] == [10.0, 12.5]


@pytest.mark.anyio
async def test_reopening_appends_inside_the_root_with_the_same_start(tmp_path):
    await write(tmp_path, [ev(text="a", ts=T0)])
    path = await write(tmp_path, [ev(text="b", ts=T0 + 30)])
    got = ds(path)
    assert [(d.text, float(d.get("p").split(",")[0])) for d in got] == [("a", 0.0), ("b", 30.0)]
    assert path.read_text().count("</i>") == 1 and path.read_text().count("<?xml") == 1


@pytest.mark.anyio
async def test_size_rotation_leaves_every_file_well_formed(tmp_path):
    events = [ev(text=f"message {i}", ts=T0 + i) for i in range(200)]
    await write(tmp_path, events, max_bytes=4000)
    files = sorted(tmp_path.glob("dm*.xml"))
    assert len(files) > 3
    assert sum(len(ds(f)) for f in files) == 200


@pytest.mark.anyio
async def test_a_jsonl_file_is_not_appended_to(tmp_path):
    (tmp_path / "dm.xml").write_text('{"v": 1}\n')
    s = build(FileSink, {"inputs": ["a"], "path": "dm.xml", "format": "xml"}, config_dir=tmp_path)
    with pytest.raises(FileSinkError, match="not a danmaku XML file"):
        await s.write(ev(text="x"), Recorder())
    assert (tmp_path / "dm.xml").read_text() == '{"v": 1}\n'


CONFIG = """
[sources.in]
type = "replay"
path = "events.jsonl"
speed = 1

[sinks.xml]
type = "file"
inputs = ["in"]
path = "out/dm.xml"
format = "xml"
"""


def _run_and_signal(tmp_path, sig, n_lines):
    proc = subprocess.Popen([sys.executable, "-m", "livepipe", "run", "p.toml", "--quiet"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    out = tmp_path / "out/dm.xml"
    try:
        while not (out.exists() and out.read_bytes().count(b"<d ") >= n_lines):
            assert proc.poll() is None, proc.stderr.read().decode()
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc, out


def test_sigterm_leaves_a_well_formed_file_and_kill_9_whole_lines(tmp_path):
    events = [make_event("danmaku", room_id=1, ts=T0 + i * 0.002, uid=i, uname=f"u{i}", text=f"<{i}> & \"{i}\"")
              for i in range(20_000)]  # 40 s at real-time speed
    (tmp_path / "events.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    (tmp_path / "p.toml").write_text(textwrap.dedent(CONFIG))
    proc, out = _run_and_signal(tmp_path, signal.SIGTERM, 200)
    first = ds(out)
    assert 200 <= len(first) < 20_000
    proc, out = _run_and_signal(tmp_path, signal.SIGKILL, len(first) + 200)
    assert proc.returncode == -signal.SIGKILL
    raw = out.read_bytes()
    assert not raw.rstrip().endswith(b"</i>") and raw.endswith(b"</d>\n")  # no root end, but whole lines
    (tmp_path / "p.toml").write_text(textwrap.dedent(CONFIG.replace("speed = 1", "speed = 0")).replace(
        'path = "events.jsonl"', 'path = "few.jsonl"'))
    (tmp_path / "few.jsonl").write_text("".join(e.to_json() + "\n" for e in events[:3]))
    r = subprocess.run([sys.executable, "-m", "livepipe", "run", "p.toml", "--quiet"], cwd=tmp_path,
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    got = ds(out)  # the next run appended and closed it: well-formed again, nothing before lost
    assert len(got) == raw.count(b"<d ") + 3
