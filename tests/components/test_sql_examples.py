"""examples/sql-queries.sql (SQLite) and examples/sql-queries-postgres.sql (PostgreSQL) against a table the
``sql`` sink filled, checked against the same answers computed in Python from the events (generated rooms,
users, gifts both paid and free, duplicates). The PostgreSQL file is also run through ``psql`` as its
header shows."""

from __future__ import annotations

import random
import re
import sqlite3
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import anyio
import pytest
from component_helpers import Recorder, build
from postgres_server import PASSWORD

from livepipe.components.sql import SqlSink
from livepipe.events import make_event

ROOT = Path(__file__).resolve().parents[2]
QUERIES = {"sqlite": ROOT / "examples" / "sql-queries.sql", "postgres": ROOT / "examples" / "sql-queries-postgres.sql"}
T0 = 1_700_000_000.0


def named_queries(kind: str = "sqlite") -> dict[str, str]:
    out = {}
    for block in re.split(r"(?m)^-- name: ", QUERIES[kind].read_text(encoding="utf-8"))[1:]:
        name, _, body = block.partition("\n")
        out[name.strip()] = body
    return out


def generate(seed: int = 7, n: int = 3000):
    rng = random.Random(seed)
    events = []
    for _ in range(n):
        room = rng.choice([1000, 2000])
        uid = rng.randrange(1, 40)
        ts = T0 + rng.uniform(-3600, 3600)
        kind = rng.choice(["danmaku", "danmaku", "gift", "enter"])
        data = {}
        if kind == "gift":
            gold = rng.random() < 0.6
            data = {"coin_type": "gold" if gold else "silver", "total_coin": rng.choice([100, 1000, 5200, 52000]),
                    "gift_name": "x"}
        events.append(make_event(kind, room_id=room, uid=uid, uname=f"u{uid}", ts=ts,
                                 text="hi" if kind == "danmaku" else None, data=data))
    return events


class Filled:
    """A database the sink filled, queried through its own driver."""

    def __init__(self, kind: str, where: str | Path, events: list) -> None:
        self.kind, self.where, self.events = kind, where, events

    def run(self, name: str, **params) -> list[tuple]:
        sql = named_queries(self.kind)[name]
        if self.kind == "sqlite":
            con = sqlite3.connect(self.where)
            try:
                return con.execute(sql, params).fetchall()
            finally:
                con.close()
        import psycopg

        with psycopg.connect(str(self.where)) as conn:  # psql's :name variables as psycopg's %(name)s
            return conn.execute(re.sub(r"(?<![:\w]):([a-z_]+)", r"%(\1)s", sql), params).fetchall()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def db(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sqlq")
    events = generate()
    if request.param == "sqlite":
        keys, where = {"path": "q.sqlite"}, tmp / "q.sqlite"
    else:
        where = request.getfixturevalue("postgres").create_database("examples")
        keys = {"url": where}
    s = build(SqlSink, {"inputs": ["a"], **keys, "batch_size": 333}, config_dir=tmp)
    await s.start()
    for e in events + events[:500]:  # duplicates must not skew any figure
        await s.write(e, Recorder())
    await s.stop()
    return Filled(request.param, where, events)


@pytest.fixture(scope="module")
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_every_query_in_the_file_is_tested(db):
    assert set(named_queries(db.kind)) == {"top_gifters", "messages_per_minute", "viewer_history"}


@pytest.mark.anyio
async def test_top_gifters(db):
    events = db.events
    since = T0
    coins = Counter()
    counts = Counter()
    for e in events:
        if e.room_id == 1000 and e.ts >= since and e.kind == "gift" and e.data["coin_type"] == "gold":
            coins[e.uid] += e.data["total_coin"]
            counts[e.uid] += 1
    expected = sorted(((uid, f"u{uid}", round(c / 1000, 2), counts[uid]) for uid, c in coins.items()),
                      key=lambda r: (-r[2], r[0]))[:10]
    got = [(int(uid), uname, float(yuan), gifts) for uid, uname, yuan, gifts in
           db.run("top_gifters", room_id=1000, since=since)]
    assert got == expected and len(got) == 10


@pytest.mark.anyio
async def test_messages_per_minute(db):
    events = db.events
    since = T0 - 1800
    per = Counter(int(e.ts // 60) * 60 for e in events if e.room_id == 2000 and e.ts >= since and e.kind == "danmaku")
    got = db.run("messages_per_minute", room_id=2000, since=since)
    assert got == sorted(per.items())
    assert sum(n for _, n in got) > 300


@pytest.mark.anyio
async def test_viewer_history(db):
    events = db.events
    mine = defaultdict(list)
    for e in events:
        mine[e.uid].append(e)
    uid = 17
    expected = sorted(mine[uid], key=lambda e: -e.ts)
    got = db.run("viewer_history", uid=uid)
    assert [(r[1], r[2], r[3]) for r in got] == [(e.room_id, e.kind, e.text) for e in expected]
    assert len(got) > 20


def test_the_postgres_file_runs_in_psql_as_its_header_shows(postgres):
    """The psql line of the file's header, against a filled database: three result sets, the first of ten rows."""
    header = QUERIES["postgres"].read_text(encoding="utf-8")
    assert '-v since="extract(epoch from now() - interval \'6 hours\')" -f examples/sql-queries-postgres.sql' in header
    url = postgres.create_database("psqlcheck")

    async def fill() -> None:
        s = build(SqlSink, {"inputs": ["a"], "url": url}, config_dir=ROOT)
        for e in generate():
            await s.write(e, Recorder())
        await s.stop()

    anyio.run(fill)
    r = subprocess.run(
        [str(postgres.bin_dir / "psql"), url, "-X", "-v", "ON_ERROR_STOP=1", "-v", "room_id=1000", "-v", "uid=17",
         "-v", f"since={T0}", "-f", str(QUERIES["postgres"])], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    counts = [int(n) for n in re.findall(r"^\((\d+) rows?\)$", r.stdout, re.M)]
    assert len(counts) == 3 and counts[0] == 10 and min(counts) > 0, r.stdout[-3000:]


def test_the_postgres_example_pipeline_fills_its_table(postgres, tmp_path):
    """examples/sql-postgres.toml as its header says to run it (the URL from the environment), for 4 s."""
    import os
    import shutil

    import psycopg

    shutil.copy(ROOT / "examples" / "sql-postgres.toml", tmp_path / "p.toml")
    url = postgres.create_database("example_run")
    r = subprocess.run([sys.executable, "-m", "livepipe", "run", "p.toml", "--duration", "4"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=180, env={**os.environ, "LIVEPIPE_POSTGRES_URL": url})
    assert r.returncode == 0, r.stderr[-3000:]
    assert PASSWORD not in r.stdout + r.stderr
    with psycopg.connect(url) as conn:
        kinds = dict(conn.execute("SELECT kind, count(*) FROM events GROUP BY kind").fetchall())
        rooms = {int(r[0]) for r in conn.execute("SELECT DISTINCT room_id FROM events")}
    assert kinds.get("danmaku", 0) > 0 and rooms <= {1000, 22000076} and rooms, (kinds, rooms)
