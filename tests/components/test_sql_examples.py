"""examples/sql-queries.sql against a table the ``sql`` sink filled, checked against the same answers
computed in Python from the events (generated rooms, users, gifts both paid and free, duplicates)."""

from __future__ import annotations

import random
import re
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from component_helpers import Recorder, build

from livepipe.components.sql import SqlSink
from livepipe.events import make_event

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "examples" / "sql-queries.sql"
T0 = 1_700_000_000.0


def named_queries() -> dict[str, str]:
    out = {}
    for block in re.split(r"(?m)^-- name: ", QUERIES.read_text(encoding="utf-8"))[1:]:
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


@pytest.fixture(scope="module")
async def db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sqlq")
    events = generate()
    s = build(SqlSink, {"inputs": ["a"], "path": "q.sqlite", "batch_size": 333}, config_dir=tmp)
    await s.start()
    for e in events + events[:500]:  # duplicates must not skew any figure
        await s.write(e, Recorder())
    await s.stop()
    return tmp / "q.sqlite", events


@pytest.fixture(scope="module")
def anyio_backend():
    return "asyncio"


def run(path, sql, **params):
    con = sqlite3.connect(path)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


@pytest.mark.anyio
async def test_every_query_in_the_file_is_tested(db):
    assert set(named_queries()) == {"top_gifters", "messages_per_minute", "viewer_history"}


@pytest.mark.anyio
async def test_top_gifters(db):
    path, events = db
    since = T0
    coins = Counter()
    counts = Counter()
    for e in events:
        if e.room_id == 1000 and e.ts >= since and e.kind == "gift" and e.data["coin_type"] == "gold":
            coins[e.uid] += e.data["total_coin"]
            counts[e.uid] += 1
    expected = sorted(((uid, f"u{uid}", round(c / 1000, 2), counts[uid]) for uid, c in coins.items()),
                      key=lambda r: (-r[2], r[0]))[:10]
    got = run(path, named_queries()["top_gifters"], room_id=1000, since=since)
    assert got == expected and len(got) == 10


@pytest.mark.anyio
async def test_messages_per_minute(db):
    path, events = db
    since = T0 - 1800
    per = Counter(int(e.ts // 60) * 60 for e in events if e.room_id == 2000 and e.ts >= since and e.kind == "danmaku")
    got = run(path, named_queries()["messages_per_minute"], room_id=2000, since=since)
    assert got == sorted(per.items())
    assert sum(n for _, n in got) > 300


@pytest.mark.anyio
async def test_viewer_history(db):
    path, events = db
    mine = defaultdict(list)
    for e in events:
        mine[e.uid].append(e)
    uid = 17
    expected = sorted(mine[uid], key=lambda e: -e.ts)
    got = run(path, named_queries()["viewer_history"], uid=uid)
    assert [(r[1], r[2], r[3]) for r in got] == [(e.room_id, e.kind, e.text) for e in expected]
    assert len(got) > 20
