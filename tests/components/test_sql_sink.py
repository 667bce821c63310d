"""The ``sql`` sink against a real SQLite file and a real PostgreSQL server (a throwaway cluster started
by the ``postgres`` fixture): rows, batching, no duplicates, indexes, hostile input, and a real
``livepipe run`` killed with SIGKILL mid-stream then restarted with a replay. Scenarios that hold for
both databases run on both (``db`` fixture)."""

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
from postgres_server import PASSWORD
from pydantic import ValidationError

from livepipe.component import PermanentFailure
from livepipe.components.sql import COLUMNS, SqlSink, SqlSinkError
from livepipe.config import ConfigError
from livepipe.events import Event, make_event
from livepipe.testing import load_toml

ROOT = Path(__file__).resolve().parents[2]


class Db:
    """One database under test: its config keys, and queries through its own driver (not the sink's)."""

    def __init__(self, kind: str, tmp_path: Path, url: str | None = None, path: str = "db/events.sqlite") -> None:
        self.kind, self.tmp_path, self.url, self.path = kind, tmp_path, url, path

    @property
    def config(self) -> dict:
        return {"path": self.path} if self.kind == "sqlite" else {"url": self.url}

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.kind == "sqlite":
            return rows(self.tmp_path, sql.replace("%s", "?"), table_db=self.path, params=params)
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def count(self, table: str = "events") -> int:
        if self.kind == "sqlite":
            return count(self.tmp_path / self.path) if (self.tmp_path / self.path).exists() else 0
        return self.query(f"SELECT count(*) FROM {table}")[0][0]


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    if request.param == "sqlite":
        return Db("sqlite", tmp_path)
    return Db("postgres", tmp_path, request.getfixturevalue("pg_url"))


async def sink(tmp_path, db: Db | None = None, **config):
    keys = db.config if db is not None else {"path": "db/events.sqlite"}
    s = build(SqlSink, {"inputs": ["a"], **keys, **config}, config_dir=tmp_path)
    await s.healthcheck()
    await s.start()
    return s


def rows(tmp_path, sql="SELECT * FROM events ORDER BY ts, id", table_db="db/events.sqlite", params=()):
    db = sqlite3.connect(tmp_path / table_db)
    try:
        return db.execute(sql, params).fetchall()
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
async def test_rows_hold_every_field(tmp_path, db):
    e1 = ev(text="你好\x00'\";--", uid=2**70, uname="名字",
            data={"n": 2**65, "nested": [1, {"a": None}], "z": "a\x00b"}, raw={"cmd": "DANMU_MSG"})
    e2 = ev("gift", room_id=None, uid=None, data={})
    s = await sink(tmp_path, db, include_raw=True)
    await s.write(e1, Recorder())
    await s.write(e2, Recorder())
    await s.stop()
    got = {r[0]: dict(zip(COLUMNS, r, strict=True)) for r in db.query("SELECT * FROM events ORDER BY ts, id")}
    r1, r2 = got[e1.id], got[e2.id]
    assert (r1["kind"], r1["room_id"], r1["ts"], r1["uname"]) == ("danmaku", 1001, e1.ts, "名字")
    if db.kind == "sqlite":
        assert r1["text"] == e1.text
        assert r1["uid"] == str(2**70)  # beyond SQLite's 64-bit integers: kept exactly as text
        assert json.loads(r1["data"]) == e1.data
        assert json.loads(r1["raw"]) == {"cmd": "DANMU_MSG"}
        assert json.loads(r2["data"]) == {}
    else:
        assert r1["text"] == "你好\ufffd'\";--"  # PostgreSQL text cannot hold NUL: U+FFFD instead
        assert r1["uid"] == 2**70  # NUMERIC: exact
        assert r1["data"] == {**e1.data, "z": "a\ufffdb"}  # JSONB, returned parsed
        assert r1["raw"] == {"cmd": "DANMU_MSG"}
        assert r2["data"] == {}
    assert (r2["room_id"], r2["uid"], r2["raw"]) == (None, None, None)


@pytest.mark.anyio
async def test_a_lone_surrogate_does_not_poison_the_batch(tmp_path, db):
    # UTF-8 cannot carry a lone surrogate (a processor can build one): the row failed its whole batch at every
    # flush, so every later event stayed buffered and then failed with it
    bad = ev(uname="名\ud83d", text="a\udc00b", cmd="X\ud800",
             data={"t": "\ud800", "\udfff": 1, "big": 2**70}, raw={"r": "\ud800"})
    good = ev(text="fine", ts=1_700_000_001.0)
    s = await sink(tmp_path, db, include_raw=True)
    await s.write(bad, Recorder())
    await s.flush()
    await s.write(good, Recorder())
    await s.stop()
    got = {r[0]: dict(zip(COLUMNS, r, strict=True)) for r in db.query("SELECT * FROM events")}
    assert set(got) == {bad.id, good.id}
    r = got[bad.id]
    assert (r["uname"], r["text"], r["cmd"]) == ("名\ufffd", "a\ufffdb", "X\ufffd")
    data = json.loads(r["data"]) if db.kind == "sqlite" else r["data"]
    raw = json.loads(r["raw"]) if db.kind == "sqlite" else r["raw"]
    assert data["t"] == "\ufffd" and data["\ufffd"] == 1 and int(data["big"]) == 2**70
    assert raw == {"r": "\ufffd"}
    assert metric(s, "sink_delivered_events_total") == 2


@pytest.mark.anyio
async def test_an_id_no_database_can_store_does_not_poison_the_batch(tmp_path, db):
    # an id is text like any other (a python processor or a NATS publisher can set one): a lone surrogate
    # (and, in PostgreSQL, a NUL) failed the whole batch at every flush, holding back every later event
    bad = ev(id="dm\ud800-\x00-1", text="odd id")
    good = ev(text="fine", ts=1_700_000_001.0)
    s = await sink(tmp_path, db)
    await s.write(bad, Recorder())
    await s.flush()
    await s.write(good, Recorder())
    await s.stop()
    ids = {r[0] for r in db.query("SELECT id FROM events")}
    assert ids == {good.id, "dm\ufffd-\ufffd-1" if db.kind == "postgres" else "dm\ufffd-\x00-1"}
    assert metric(s, "sink_delivered_events_total") == 2


@pytest.mark.anyio
async def test_raw_left_out_by_default(tmp_path, db):
    s = await sink(tmp_path, db)
    await s.write(ev(raw={"cmd": "X"}), Recorder())
    await s.stop()
    assert db.query("SELECT raw FROM events") == [(None,)]


@pytest.mark.anyio
async def test_batch_size_commits_and_flush_commits_the_rest(tmp_path, db):
    s = await sink(tmp_path, db, batch_size=10)
    events = gen_events(25)
    for e in events[:9]:
        await s.write(e, Recorder())
    assert db.count() == 0  # nothing committed before a batch is full
    assert metric(s, "sink_delivered_events_total") == 0
    await s.write(events[9], Recorder())
    assert db.count() == 10
    for e in events[10:]:
        await s.write(e, Recorder())
    assert db.count() == 20
    await s.flush()
    assert db.count() == 25
    assert metric(s, "sink_delivered_events_total") == 25
    assert metric(s, "sql_batches_total") == 3
    await s.stop()


@pytest.mark.anyio
async def test_the_same_events_again_insert_nothing(tmp_path, db):
    events = gen_events(500)
    s = await sink(tmp_path, db, batch_size=64)
    for e in events:
        await s.write(e, Recorder())
    await s.stop()
    s = await sink(tmp_path, db, batch_size=64)  # a restart replaying everything, plus a copy of some in one batch
    for e in events + events[:50]:
        await s.write(e, Recorder())
    await s.stop()
    assert db.count() == 500
    assert metric(s, "sql_duplicates_total") == 550
    assert sorted(r[0] for r in db.query("SELECT id FROM events")) == sorted(e.id for e in events)
    texts = {r[0]: r[1] for r in db.query("SELECT id, text FROM events")}
    assert all(texts[e.id] == e.text for e in events)  # quotes and SQL in the text stored as text


PLANS = {
    "room and time": "SELECT * FROM events WHERE room_id = 1 AND ts BETWEEN 0 AND 9",
    "uid": "SELECT * FROM events WHERE uid = 5 ORDER BY ts",
    "kind and time": "SELECT * FROM events WHERE kind = 'gift' AND ts > 0",
    "id": "SELECT * FROM events WHERE id = 'x'",
}


@pytest.mark.anyio
async def test_wal_and_indexes_serve_the_usual_queries(tmp_path):
    s = await sink(tmp_path)
    await s.stop()
    assert rows(tmp_path, "PRAGMA journal_mode") == [("wal",)]
    for what, q in PLANS.items():
        plan = " ".join(r[-1] for r in rows(tmp_path, "EXPLAIN QUERY PLAN " + q))
        assert "USING" in plan and "INDEX" in plan, (what, plan)


@pytest.mark.anyio
async def test_postgres_table_types_and_indexes_serve_the_usual_queries(tmp_path, pg_url):
    db = Db("postgres", tmp_path, pg_url)
    s = await sink(tmp_path, db)
    for e in gen_events(2000):
        await s.write(e, Recorder())
    await s.stop()
    types = dict(db.query("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'events'"))
    assert types == {"id": "text", "kind": "text", "cmd": "text", "room_id": "numeric", "ts": "double precision",
                     "uid": "numeric", "uname": "text", "text": "text", "data": "jsonb", "raw": "jsonb"}
    indexes = {r[0] for r in db.query("SELECT indexname FROM pg_indexes WHERE tablename = 'events'")}
    assert indexes == {"events_pkey", "events_room_ts", "events_uid_ts", "events_kind_ts"}
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("ANALYZE events")
        conn.execute("SET enable_seqscan = off")  # which index the planner reaches for, whatever the table's size
        for what, q in PLANS.items():
            plan = " ".join(r[0] for r in conn.execute("EXPLAIN " + q).fetchall())
            assert "Index" in plan and "events_" in plan, (what, plan)


@pytest.mark.anyio
async def test_custom_table_name(tmp_path, db):
    s = await sink(tmp_path, db, table="chat_log")
    await s.write(ev(), Recorder())
    await s.stop()
    assert db.query("SELECT count(*) FROM chat_log") == [(1,)]


@pytest.mark.parametrize("table", ["events; DROP TABLE x", "1abc", "", "a-b", "sqlite_master", "x" * 64, "名字"])
def test_bad_table_names_are_refused(table):
    with pytest.raises(ValidationError, match="plain SQL name"):
        SqlSink.Config.model_validate({"type": "sql", "inputs": ["a"], "path": "x.db", "table": table})


@pytest.mark.anyio
async def test_a_foreign_table_is_refused_naming_the_fix(tmp_path, db):
    if db.kind == "sqlite":
        (tmp_path / "db").mkdir()
        con = sqlite3.connect(tmp_path / "db/events.sqlite")
        con.execute("CREATE TABLE events (id TEXT PRIMARY KEY, body TEXT)")
        con.close()
    else:
        db.query("CREATE TABLE events (id TEXT PRIMARY KEY, body TEXT)")
    s = build(SqlSink, {"inputs": ["a"], **db.config}, config_dir=tmp_path)
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


# -- PostgreSQL only ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_postgres_lost_connection_keeps_the_rows_and_reconnects(tmp_path, pg_url):
    db = Db("postgres", tmp_path, pg_url)
    s = await sink(tmp_path, db)
    await s.write(ev(text="a"), Recorder())
    await s.flush()
    # the server ends the sink's session (an admin, a failover, a restart)
    killed = db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'livepipe'")
    assert killed == [(True,)]
    await s.write(ev(text="b"), Recorder())
    with pytest.raises(SqlSinkError, match=r"cannot commit 1 rows to postgresql://livepipe:<redacted>@127\.0\.0\.1"):
        await s.flush()
    assert metric(s, "sink_delivered_events_total") == 1
    await s.write(ev(text="c"), Recorder())
    await s.stop()  # reconnects, commits b and c
    assert sorted(r[0] for r in db.query("SELECT text FROM events")) == ["a", "b", "c"]
    assert metric(s, "sink_delivered_events_total") == 3


@pytest.mark.anyio
async def test_postgres_wrong_password_names_the_database_never_the_password(tmp_path, postgres):
    url = postgres.url().replace(PASSWORD, "not-the-Password-7c1")
    s = build(SqlSink, {"inputs": ["a"], "url": url}, config_dir=tmp_path)
    await s.start()  # a server that refuses delays rows, not the start
    with pytest.raises(SqlSinkError) as info:
        await s.healthcheck()
    text = str(info.value)
    assert "cannot connect to postgresql://livepipe:<redacted>@127.0.0.1" in text and "password" in text
    assert "not-the-Password-7c1" not in text + repr(s.config) + str(s.config)
    await s.write(ev(), Recorder())
    with pytest.raises(SqlSinkError, match="cannot connect"):
        await s.flush()
    assert metric(s, "sink_delivered_events_total") == 0


@pytest.mark.anyio
async def test_a_database_that_is_down_holds_at_most_a_batch(tmp_path):
    port = _closed_port()
    s = build(SqlSink, {"inputs": ["a"], "url": f"postgresql://u:pw@127.0.0.1:{port}/x", "batch_size": 5},
              config_dir=tmp_path)
    await s.start()
    for i in range(4):
        await s.write(ev(text=str(i)), Recorder())
    for i in range(4, 20):
        with pytest.raises(SqlSinkError, match="cannot connect"):
            await s.write(ev(text=str(i)), Recorder())  # this event gets on_error; the first four wait
        assert len(s._rows) == 4


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.mark.anyio
async def test_two_sinks_creating_the_table_at_once_do_not_race(tmp_path, pg_url):
    import anyio

    db = Db("postgres", tmp_path, pg_url)
    sinks = [build(SqlSink, {"inputs": ["a"], "url": pg_url}, config_dir=tmp_path, name=f"w{i}") for i in range(4)]
    async with anyio.create_task_group() as tg:
        for s in sinks:
            tg.start_soon(s.healthcheck)  # as N workers starting together do
    for i, s in enumerate(sinks):
        await s.write(ev(text=str(i)), Recorder())
        await s.stop()
    assert db.count() == 4


def test_postgres_without_psycopg_names_the_pip_extra(tmp_path, monkeypatch):
    import anyio

    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now raises ImportError
    monkeypatch.delitem(sys.modules, "livepipe.components.sql_postgres", raising=False)
    s = build(SqlSink, {"inputs": ["a"], "url": "postgresql://u:pw@127.0.0.1/x"}, config_dir=tmp_path)
    problems = list(s.preflight())
    assert [p.key for p in problems] == ["url"]
    assert "pip install 'livepipe[postgres]'" in problems[0].message
    with pytest.raises(PermanentFailure, match=r"pip install 'livepipe\[postgres\]'"):
        anyio.run(s.start)


@pytest.mark.parametrize(("keys", "message"), [
    ({}, "either `path`"),
    ({"path": "x.db", "url": "postgresql://h/db"}, "not both"),
    ({"url": "mysql://u:secret-pw@h/db"}, "not a PostgreSQL URL"),
    ({"url": "postgresql://u@h/db?password=secret-pw"}, "user:password@"),
    ({"url": "postgresql://h/db", "synchronous": "full"}, "synchronous: SQLite only"),
    ({"url": "postgresql://h/db", "busy_timeout": 1.0}, "busy_timeout: SQLite only"),
])
def test_database_keys_are_checked(keys, message, tmp_path):
    with pytest.raises(ValidationError, match=message):
        SqlSink.Config.model_validate({"type": "sql", "inputs": ["a"], **keys})
    # as livepipe reports it (the config error, not pydantic's raw one): the password never shown
    table = "".join(f"{k} = {json.dumps(v)}\n" for k, v in keys.items())
    with pytest.raises(ConfigError) as info:
        load_toml(f'[sources.in]\ntype = "replay"\npath = "x"\n[sinks.db]\ntype = "sql"\ninputs = ["in"]\n{table}',
                  tmp_path)
    assert message.split(":")[0] in str(info.value) and "sinks.db" in str(info.value)
    assert "secret-pw" not in str(info.value)


def test_validate_accepts_a_postgres_url_from_the_environment(tmp_path):
    (tmp_path / "p.toml").write_text(textwrap.dedent("""
        [sources.in]
        type = "replay"
        path = "in.jsonl"

        [sinks.db]
        type = "sql"
        inputs = ["in"]
        url = { env = "LIVEPIPE_TEST_DB_URL" }
    """))
    (tmp_path / "in.jsonl").write_text("")
    env = {**os.environ, "LIVEPIPE_TEST_DB_URL": "postgresql://alice:env-Secret-42@db.example/live"}
    r = subprocess.run([sys.executable, "-m", "livepipe", "validate", "p.toml"], cwd=tmp_path, capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "livepipe", "config", "show", "p.toml"], cwd=tmp_path,
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "env-Secret-42" not in r.stdout + r.stderr and "LIVEPIPE_TEST_DB_URL" in r.stdout


# -- a real `livepipe run`, killed mid-stream -----------------------------------------------------

CONFIG = """
[sources.in]
type = "replay"
path = "events.jsonl"
speed = {speed}

[sinks.db]
type = "sql"
inputs = ["in"]
{database}
batch_size = 200
"""


def write_config(tmp_path: Path, speed: float, db: Db) -> None:
    database = f'path = "{db.path}"' if db.kind == "sqlite" else f'url = "{db.url}"'
    (tmp_path / "p.toml").write_text(textwrap.dedent(CONFIG.format(speed=speed, database=database)))


def start_run(tmp_path: Path, speed: float, db: Db) -> subprocess.Popen[bytes]:
    write_config(tmp_path, speed, db)
    return subprocess.Popen([sys.executable, "-m", "livepipe", "run", "p.toml", "--quiet"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill_9_loses_no_committed_batch_and_replay_duplicates_nothing(tmp_path, db):
    db.path = "out/events.sqlite"
    n = 20_000
    events = gen_events(n, gap=0.001)  # 20 s of stream at real-time speed
    (tmp_path / "events.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    proc = start_run(tmp_path, speed=1, db=db)
    try:
        deadline = time.monotonic() + 60
        seen = 0
        while seen < 1000:  # poll the database another reader sees: committed rows only
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the pipeline committed nothing within 60 s"
            try:
                seen = db.count()
            except Exception:  # the table is not created yet
                seen = 0
        committed = {r[0] for r in db.query("SELECT id FROM events")}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    if db.kind == "sqlite":
        assert db.query("PRAGMA integrity_check") == [("ok",)]
    after_kill = {r[0] for r in db.query("SELECT id FROM events")}
    assert committed <= after_kill, "a batch another reader saw committed is gone after kill -9"
    assert len(after_kill) < n, "the kill came too late to be mid-stream"
    # every stored row is one of the input events, and batches are prefixes of the stream (order kept)
    order = [e.id for e in events]
    assert after_kill == set(order[: len(after_kill)])

    for _ in range(2):  # a replay of everything, and once more: still no duplicates
        write_config(tmp_path, speed=0, db=db)
        r = subprocess.run([sys.executable, "-m", "livepipe", "run", "p.toml", "--quiet"], cwd=tmp_path,
                           capture_output=True, timeout=300)
        assert r.returncode == 0, r.stderr.decode()
    assert db.query("SELECT count(*), count(DISTINCT id) FROM events") == [(n, n)]
    assert {r[0] for r in db.query("SELECT id FROM events")} == set(order)
