import errno
import itertools
import os
import stat
import time

import pytest
from component_helpers import Recorder, build, ev, metric
from pydantic import ValidationError

from livepipe.components.file import FileSink, FileSinkError

DAY1 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
DAY2 = DAY1 + 86_400  # 2023-11-15


def line(e, include_raw=True):
    return e.to_json(include_raw=include_raw).encode() + b"\n"


async def sink(tmp_path, **config):
    s = build(FileSink, {"inputs": ["a"], **config}, config_dir=tmp_path)
    await s.healthcheck()
    await s.start()
    return s


async def write_all(s, events):
    rec = Recorder()
    for e in events:
        await s.write(e, rec)
    assert rec.items == []


def files(tmp_path):
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())


@pytest.mark.anyio
async def test_lines_are_byte_exact(tmp_path):
    e1 = ev(text="你好\nworld", uid=1, raw={"cmd": "DANMU_MSG"})
    e2 = ev("gift", data={"n": 2})
    s = await sink(tmp_path, path="out/events.jsonl")
    await write_all(s, [e1, e2])
    await s.stop()
    assert (tmp_path / "out/events.jsonl").read_bytes() == line(e1) + line(e2)
    s = await sink(tmp_path, path="out/events.jsonl", include_raw=False)
    await write_all(s, [e1])
    await s.stop()
    assert (tmp_path / "out/events.jsonl").read_bytes() == line(e1) + line(e2) + line(e1, include_raw=False)


@pytest.mark.anyio
async def test_template_tokens(tmp_path):
    s = await sink(tmp_path, path="{room_id}/{kind}-{date}.jsonl")
    events = [
        ev("danmaku", room_id=1001, ts=DAY1),
        ev("danmaku", room_id=1001, ts=DAY2),
        ev("action.ban", room_id=None, ts=DAY1),
        ev("../evil/kind", room_id=7, ts=DAY1),
    ]
    await write_all(s, events)
    await s.stop()
    assert files(tmp_path) == [
        "1001/danmaku-2023-11-14.jsonl",
        "1001/danmaku-2023-11-15.jsonl",
        "7/.._evil_kind-2023-11-14.jsonl",
        "none/action.ban-2023-11-14.jsonl",
    ]
    assert (tmp_path / "none/action.ban-2023-11-14.jsonl").read_bytes() == line(events[2])


@pytest.mark.anyio
async def test_size_rotation(tmp_path):
    events = [ev(text=f"message {i}") for i in range(5)]
    size = len(line(events[0]))
    s = await sink(tmp_path, path="events.jsonl", max_bytes=2 * size)
    await write_all(s, events)
    await s.stop()
    assert files(tmp_path) == ["events.1.jsonl", "events.2.jsonl", "events.jsonl"]
    assert (tmp_path / "events.1.jsonl").read_bytes() == line(events[0]) + line(events[1])
    assert (tmp_path / "events.2.jsonl").read_bytes() == line(events[2]) + line(events[3])
    assert (tmp_path / "events.jsonl").read_bytes() == line(events[4])
    assert metric(s, "file_rotations_total") == 2


@pytest.mark.anyio
async def test_a_line_larger_than_max_bytes_is_written_whole(tmp_path):
    big = ev(text="x" * 500)
    s = await sink(tmp_path, path="events.jsonl", max_bytes=100)
    await write_all(s, [big, big])
    await s.stop()
    assert (tmp_path / "events.1.jsonl").read_bytes() == line(big)
    assert (tmp_path / "events.jsonl").read_bytes() == line(big)


@pytest.mark.anyio
async def test_daily_rotation_without_date_token(tmp_path):
    a, b, late, c = ev(text="a", ts=DAY1), ev(text="b", ts=DAY2), ev(text="late", ts=DAY1 + 1), ev(text="c", ts=DAY2)
    s = await sink(tmp_path, path="log/events.jsonl", rotate_daily=True)
    await write_all(s, [a, b, late, c])
    await s.stop()
    assert files(tmp_path) == ["log/events.2023-11-14.jsonl", "log/events.jsonl"]
    assert (tmp_path / "log/events.2023-11-14.jsonl").read_bytes() == line(a)
    # a late event of the previous day stays in the current file: rotation only moves forward
    assert (tmp_path / "log/events.jsonl").read_bytes() == line(b) + line(late) + line(c)


@pytest.mark.anyio
async def test_daily_rotation_of_a_file_left_from_an_earlier_day(tmp_path):
    old = tmp_path / "events"
    old.write_bytes(b'{"old":1}\n')
    os.utime(old, (DAY1, DAY1))
    (tmp_path / "events.2023-11-14").write_bytes(b"")  # the plain dated name is taken
    e = ev(text="new", ts=DAY2)
    s = await sink(tmp_path, path="events", rotate_daily=True)
    await write_all(s, [e])
    await s.stop()
    assert (tmp_path / "events.2023-11-14.1").read_bytes() == b'{"old":1}\n'
    assert (tmp_path / "events").read_bytes() == line(e)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "mode, before, after",
    [
        ("truncate", b'{"a":1}\n{"b":', b'{"a":1}\n'),
        ("truncate", b'{"no newline at all', b""),
        ("newline", b'{"a":1}\n{"b":', b'{"a":1}\n{"b":\n'),
        ("truncate", b'{"a":1}\n', b'{"a":1}\n'),
    ],
)
async def test_partial_trailing_line(tmp_path, mode, before, after):
    p = tmp_path / "events.jsonl"
    p.write_bytes(before)
    e = ev(text="next")
    s = await sink(tmp_path, path="events.jsonl", partial_line=mode)
    await write_all(s, [e])
    await s.stop()
    assert p.read_bytes() == after + line(e)


@pytest.mark.anyio
async def test_partial_trailing_line_longer_than_a_read_chunk(tmp_path):
    p = tmp_path / "events.jsonl"
    p.write_bytes(b'{"a":1}\n' + b"x" * 200_000)
    s = await sink(tmp_path, path="events.jsonl")
    await write_all(s, [ev()])
    await s.stop()
    assert p.read_bytes().startswith(b'{"a":1}\n{"v":1')


@pytest.fixture
def fsyncs(monkeypatch):
    calls = []
    real = os.fsync

    def counting(fd):
        if stat.S_ISREG(os.fstat(fd).st_mode):
            calls.append(fd)
        return real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


@pytest.mark.anyio
async def test_fsync_never(tmp_path, fsyncs):
    s = await sink(tmp_path, path="{room_id}.jsonl", fsync="never")
    await write_all(s, [ev(room_id=1), ev(room_id=2)])
    await s.flush()
    await s.stop()
    assert fsyncs == []


@pytest.mark.anyio
async def test_fsync_batch(tmp_path, fsyncs):
    s = await sink(tmp_path, path="{room_id}.jsonl", fsync="batch")
    await write_all(s, [ev(room_id=1), ev(room_id=2), ev(room_id=1)])
    assert fsyncs == []
    await s.flush()
    assert len(fsyncs) == 2  # one per written file
    await s.flush()
    assert len(fsyncs) == 2  # nothing new written
    await write_all(s, [ev(room_id=2)])
    await s.stop()
    assert len(fsyncs) == 3


@pytest.mark.anyio
async def test_fsync_always(tmp_path, fsyncs):
    s = await sink(tmp_path, path="events.jsonl", fsync="always")
    await write_all(s, [ev(), ev(), ev()])
    assert len(fsyncs) == 3
    await s.stop()
    assert len(fsyncs) == 3


@pytest.mark.anyio
async def test_open_files_are_bounded(tmp_path):
    s = await sink(tmp_path, path="{room_id}.jsonl", max_open_files=2)
    events = [ev(room_id=r, text=str(i)) for i, r in enumerate([1, 2, 3, 1, 2, 3])]
    await write_all(s, events)
    assert len(s._files) == 2
    await s.stop()
    for r in (1, 2, 3):
        assert (tmp_path / f"{r}.jsonl").read_bytes() == b"".join(line(e) for e in events if e.room_id == r)


@pytest.mark.anyio
async def test_disk_full_raises_naming_the_path_and_keeps_lines_whole(tmp_path, monkeypatch):
    p = tmp_path / "events.jsonl"
    first, second, third = ev(text="first"), ev(text="second"), ev(text="third")
    s = await sink(tmp_path, path="events.jsonl")
    await write_all(s, [first])
    real_write = os.write

    def half_then_enospc(fd, data):
        if fd in {f.fd for f in s._files.values()}:
            if len(data) > 10:
                return real_write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", half_then_enospc)
    with pytest.raises(FileSinkError) as info:
        await s.write(second, Recorder())
    assert str(p) in str(info.value) and "No space left" in str(info.value)
    assert info.value.errno == errno.ENOSPC
    assert p.read_bytes() == line(first)  # the half line was removed, the earlier line kept
    monkeypatch.setattr(os, "write", real_write)
    await write_all(s, [third])
    await s.stop()
    assert p.read_bytes() == line(first) + line(third)


@pytest.mark.anyio
async def test_open_error_names_the_path(tmp_path):
    (tmp_path / "blocker").write_text("a file where a directory should be")
    s = build(FileSink, {"inputs": ["a"], "path": "blocker/{room_id}/events.jsonl"}, config_dir=tmp_path)
    with pytest.raises(FileSinkError, match="blocker.* is not a directory"):
        await s.healthcheck()
    with pytest.raises(FileSinkError, match="cannot open .*blocker/1001/events.jsonl"):
        await s.write(ev(), Recorder())
    await s.stop()


@pytest.mark.parametrize(
    "path, message",
    [
        ("{room}.jsonl", "unknown token {room}"),
        ("{date:%Y}.jsonl", "no format spec"),
        ("{}.jsonl", "unknown token {}"),
        ("{room_id.jsonl", "malformed"),
        ("  ", "must not be empty"),
    ],
)
def test_bad_path_templates(path, message):
    with pytest.raises(ValidationError) as info:
        FileSink.Config.model_validate({"type": "file", "inputs": ["a"], "path": path})
    assert message in str(info.value)
    assert "path" in str(info.value)


def test_written_lines_read_back(tmp_path):
    # sanity: today's date formatting matches time.gmtime
    from livepipe.components.file import utc_date

    assert utc_date(DAY1) == time.strftime("%Y-%m-%d", time.gmtime(DAY1)) == "2023-11-14"


@pytest.mark.anyio
async def test_batch_fsyncs_a_dirty_file_before_closing_it_for_another(tmp_path, fsyncs):
    s = await sink(tmp_path, path="{room_id}.jsonl", fsync="batch", max_open_files=1)
    await write_all(s, [ev(room_id=1)])
    assert fsyncs == []
    await write_all(s, [ev(room_id=2)])  # 1.jsonl is closed to make room: synced first
    assert len(fsyncs) == 1
    await s.stop()
    assert len(fsyncs) == 2


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.anyio
@pytest.mark.parametrize("fsync", ["never", "batch", "always"])
async def test_batches_write_what_one_by_one_writes(tmp_path, monkeypatch, fsync):
    """Same files, same bytes, same rotations; one os.write per run of lines bound for the same file."""
    events = [ev(room_id=r, text=f"m{i}", ts=DAY1 + i * 3600) for i, r in enumerate([1, 1, 1, 2, 2, 1] * 6)]
    cfg = {"path": "{room_id}/events.jsonl", "max_bytes": 4 * len(line(events[0])) + 5, "rotate_daily": True,
           "fsync": fsync}
    one = await sink(tmp_path / "one", **cfg)
    await write_all(one, events)
    await one.stop()
    writes = []
    real_write = os.write

    def counting(fd, data):
        writes.append(data)
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", counting)
    batched = await sink(tmp_path / "batch", **cfg)
    from livepipe.component import Batch

    batch = Batch(events)
    await batched.write_batch(batch, Recorder())
    await batched.stop()
    monkeypatch.setattr(os, "write", real_write)
    assert batch.written == len(events)
    assert _tree(tmp_path / "batch") == _tree(tmp_path / "one")
    assert metric(batched, "file_rotations_total") == metric(one, "file_rotations_total") > 0
    assert all(w.endswith(b"\n") for w in writes)  # whole lines only
    assert sorted(x for w in writes for x in w.splitlines(keepends=True)) == sorted(line(e) for e in events)
    runs = 1 + sum(a.room_id != b.room_id for a, b in itertools.pairwise(events))  # 18 runs of 1-3 lines
    assert len(writes) <= runs + metric(batched, "file_rotations_total") < len(events)  # a rotation cuts a run


@pytest.mark.anyio
async def test_a_batch_cut_short_keeps_its_whole_lines(tmp_path, monkeypatch):
    """A write that stops part-way (file size limit, full disk) keeps the lines that reached the file whole."""
    events = [ev(text=f"message {i}") for i in range(10)]
    size = len(line(events[0]))
    p = tmp_path / "events.jsonl"
    s = await sink(tmp_path, path="events.jsonl")
    real_write = os.write

    def three_and_a_half_lines(fd, data):
        if fd in {f.fd for f in s._files.values()}:
            room = 3 * size + size // 2 - (p.stat().st_size if p.exists() else 0)
            if room <= 0:
                raise OSError(errno.EFBIG, "File too large")
            return real_write(fd, data[:room])
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", three_and_a_half_lines)
    from livepipe.component import Batch

    batch = Batch(events)
    with pytest.raises(FileSinkError, match="File too large") as info:
        await s.write_batch(batch, Recorder())
    assert str(p) in str(info.value) and info.value.errno == errno.EFBIG
    assert batch.written == 3  # the fourth event is the one that failed
    assert p.read_bytes() == b"".join(line(e) for e in events[:3])
    monkeypatch.setattr(os, "write", real_write)
    await write_all(s, events[3:])  # the runtime goes on one by one from the failed event
    await s.stop()
    assert p.read_bytes() == b"".join(line(e) for e in events)
