"""The ``sql`` sink against a real SQLite file: rows, batching, no duplicates, indexes, hostile input,
and a real ``livepipe run`` killed with SIGKILL mid-stream then restarted with a replay."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from component_helpers import Recorder, build, ev, metric
from pydantic import ValidationError

from livepipe.component import PermanentFailure
from livepipe.components.sql import COLUMNS, SqlSink
from livepipe.events import Event, make_event

ROOT = Path(__file__).resolve().parents[2]


async def sink(tmp_path, **config):
    s = build(SqlSink, {"inputs": ["a"], "path": "db/events.sqlite", **config}, config_dir=tmp_path)
    await s.healthcheck()
    await s.start()
    return s


def rows(tmp_path, sql="SELECT * FROM events ORDER BY ts, id", table_db="db/events.sqlite"):
    db = sqlite3.connect(tmp_path / table_db)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def count(path: Path) -> int:
    db = sqlite3.connect(path, timeout=10)
    try:
        return db.execute("SELECT count(*) FROM events").fetchone()[0]
    except sqlite3.OperationalError:  # table not created yet
        return 0
    finally:
        db.close()


def gen_events(n: int, rooms: int = 3, start: float = 1_700_000_000.0, gap: float = 0.001) -> list[Event]:
    kinds = ["danmaku", "gift", "enter", "super_chat", "like"]
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        out.append(make_event(kind, room_id=1000 + i % rooms, ts=start + i * gap, uid=10 + i % 97,
                              uname=f"user{i % 97}", text=f"msg {i} '\"; DROP TABLE events; --" if kind == "danmaku"
                              else None, data={"i": i, "price": (i % 7) * 100} if kind == "gift" else {"i": i}))
    return out


@pytest.mark.anyio
async def test_rows_hold_every_field(tmp_path):
    e1 = ev(text="你好\x00'\";--", uid=2**70, uname="名字", data={"n": 2**65, "nested": [1, {"a": None}]},
            raw={"cmd": "DANMU_MSG"})
    e2 = ev("gift", room_id=None, uid=None, data={})
    s = await sink(tmp_path, include_raw=True)
    await s.write(e1, Recorder())
    await s.write(e2, Recorder())
    await s.stop()
    got = {r[0]: dict(zip(COLUMNS, r, strict=True)) for r in rows(tmp_path)}
    r1 = got[e1.id]
    assert (r1["kind"], r1["room_id"], r1["ts"], r1["uname"], r1["text"]) == ("danmaku", 1001, e1.ts, "名字", e1.text)
    assert r1["uid"] == str(2**70)  # beyond SQLite's 64-bit integers: kept exactly as text
    assert json.loads(r1["data"]) == e1.data
    assert json.loads(r1["raw"]) == {"cmd": "DANMU_MSG"}
    r2 = got[e2.id]
    assert (r2["room_id"], r2["uid"], r2["raw"], json.loads(r2["data"])) == (None, None, None, {})


@pytest.mark.anyio
async def test_raw_left_out_by_default(tmp_path):
    s = await sink(tmp_path)
    await s.write(ev(raw={"cmd": "X"}), Recorder())
    await s.stop()
    assert rows(tmp_path, "SELECT raw FROM events") == [(None,)]


@pytest.mark.anyio
async def test_batch_size_commits_and_flush_commits_the_rest(tmp_path):
    s = await sink(tmp_path, batch_size=10)
    events = gen_events(25)
    for e in events[:9]:
        await s.write(e, Recorder())
    assert count(tmp_path / "db/events.sqlite") == 0  # nothing committed before a batch is full
    assert metric(s, "sink_delivered_events_total") == 0
    await s.write(events[9], Recorder())
    assert count(tmp_path / "db/events.sqlite") == 10
    for e in events[10:]:
        await s.write(e, Recorder())
    assert count(tmp_path / "db/events.sqlite") == 20
    await s.flush()
    assert count(tmp_path / "db/events.sqlite") == 25
    assert metric(s, "sink_delivered_events_total") == 25
    assert metric(s, "sql_batches_total") == 3
    await s.stop()


@pytest.mark.anyio
async def test_the_same_events_again_insert_nothing(tmp_path):
    events = gen_events(500)
    s = await sink(tmp_path, batch_size=64)
    for e in events:
        await s.write(e, Recorder())
    await s.stop()
    s = await sink(tmp_path, batch_size=64)  # a restart replaying everything, plus a copy of some in one batch
    for e in events + events[:50]:
        await s.write(e, Recorder())
    await s.stop()
    assert count(tmp_path / "db/events.sqlite") == 500
    assert metric(s, "sql_duplicates_total") == 550
    assert sorted(r[0] for r in rows(tmp_path, "SELECT id FROM events")) == sorted(e.id for e in events)


@pytest.mark.anyio
async def test_wal_and_indexes_serve_the_usual_queries(tmp_path):
    s = await sink(tmp_path)
    await s.stop()
    assert rows(tmp_path, "PRAGMA journal_mode") == [("wal",)]
    plans = {
        "room and time": "SELECT * FROM events WHERE room_id = 1 AND ts BETWEEN 0 AND 9",
        "uid": "SELECT * FROM events WHERE uid = 5 ORDER BY ts",
        "kind and time": "SELECT * FROM events WHERE kind = 'gift' AND ts > 0",
        "id": "SELECT * FROM events WHERE id = 'x'",
    }
    for what, q in plans.items():
        plan = " ".join(r[-1] for r in rows(tmp_path, "EXPLAIN QUERY PLAN " + q))
        assert "USING" in plan and "INDEX" in plan, (what, plan)


@pytest.mark.anyio
async def test_custom_table_name(tmp_path):
    s = await sink(tmp_path, table="chat_log")
    await s.write(ev(), Recorder())
    await s.stop()
    assert rows(tmp_path, "SELECT count(*) FROM chat_log") == [(1,)]


@pytest.mark.parametrize("table", ["events; DROP TABLE x", "1abc", "", "a-b", "sqlite_master", "x" * 64, "名字"])
def test_bad_table_names_are_refused(table):
    with pytest.raises(ValidationError, match="plain SQL name"):
        SqlSink.Config.model_validate({"type": "sql", "inputs": ["a"], "path": "x.db", "table": table})


@pytest.mark.anyio
async def test_a_foreign_table_is_refused_naming_the_fix(tmp_path):
    (tmp_path / "db").mkdir()
    db = sqlite3.connect(tmp_path / "db/events.sqlite")
    db.execute("CREATE TABLE events (id TEXT PRIMARY KEY, body TEXT)")
    db.close()
    s = build(SqlSink, {"inputs": ["a"], "path": "db/events.sqlite"}, config_dir=tmp_path)
    with pytest.raises(PermanentFailure, match=r"without the columns kind, cmd.*another `table`"):
        await s.healthcheck()


@pytest.mark.anyio
async def test_not_a_database_names_the_path(tmp_path):
    (tmp_path / "db").mkdir()
    (tmp_path / "db/events.sqlite").write_bytes(b"this is not a database" * 100)
    s = build(SqlSink, {"inputs": ["a"], "path": "db/events.sqlite"}, config_dir=tmp_path)
    with pytest.raises(PermanentFailure, match="events.sqlite"):
        await s.healthcheck()


@pytest.mark.anyio
async def test_a_failed_commit_keeps_the_rows_for_the_next_flush(tmp_path):
    s = await sink(tmp_path, busy_timeout=0)
    await s.write(ev(text="a"), Recorder())
    other = sqlite3.connect(tmp_path / "db/events.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    with pytest.raises(Exception, match=r"cannot commit 1 rows to .*events.sqlite"):
        await s.flush()
    assert metric(s, "sink_delivered_events_total") == 0
    other.execute("ROLLBACK")
    other.close()
    await s.write(ev(text="b"), Recorder())
    await s.stop()
    assert sorted(r[0] for r in rows(tmp_path, "SELECT text FROM events")) == ["a", "b"]
    assert metric(s, "sink_delivered_events_total") == 2


# -- a real `livepipe run`, killed mid-stream -----------------------------------------------------

CONFIG = """
[sources.in]
type = "replay"
path = "events.jsonl"
speed = {speed}

[sinks.db]
type = "sql"
inputs = ["in"]
path = "out/events.sqlite"
batch_size = 200
"""


def start_run(tmp_path: Path, speed: float) -> subprocess.Popen[bytes]:
    (tmp_path / "p.toml").write_text(textwrap.dedent(CONFIG.format(speed=speed)))
    return subprocess.Popen([sys.executable, "-m", "livepipe", "run", "p.toml", "--quiet"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill_9_loses_no_committed_batch_and_replay_duplicates_nothing(tmp_path):
    n = 20_000
    events = gen_events(n, gap=0.001)  # 20 s of stream at real-time speed
    (tmp_path / "events.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    db_path = tmp_path / "out/events.sqlite"
    proc = start_run(tmp_path, speed=1)
    try:
        deadline = time.monotonic() + 60
        seen = 0
        while seen < 1000:  # poll the database another reader sees: committed rows only
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the pipeline committed nothing within 60 s"
            seen = count(db_path) if db_path.exists() else 0
        committed = {r[0] for r in sqlite3.connect(db_path).execute("SELECT id FROM events")}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    db = sqlite3.connect(db_path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    after_kill = {r[0] for r in db.execute("SELECT id FROM events")}
    db.close()
    assert committed <= after_kill, "a batch another reader saw committed is gone after kill -9"
    assert len(after_kill) < n, "the kill came too late to be mid-stream"
    # every stored row is one of the input events, and batches are prefixes of the stream (order kept)
    order = [e.id for e in events]
    assert after_kill == set(order[: len(after_kill)])

    (tmp_path / "p.toml").write_text(textwrap.dedent(CONFIG.format(speed=0)))
    r = subprocess.run([sys.executable, "-m", "livepipe", "run", "p.toml", "--quiet"], cwd=tmp_path,
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    r = subprocess.run([sys.executable, "-m", "livepipe", "run", "p.toml", "--quiet"], cwd=tmp_path,
                       capture_output=True, timeout=300)  # and once more: still no duplicates
    assert r.returncode == 0, r.stderr.decode()
    db = sqlite3.connect(db_path)
    assert db.execute("SELECT count(*), count(DISTINCT id) FROM events").fetchone() == (n, n)
    assert {r[0] for r in db.execute("SELECT id FROM events")} == set(order)
    db.close()
