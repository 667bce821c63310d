"""bilibili.merge: the counting merge over generated web/open streams, and failover in a whole pipeline."""

from __future__ import annotations

import random
from collections import Counter

import anyio
import pytest

from livepipe.bilibili.commands import parse_command
from livepipe.bilibili.merge import Merger, cross_key, side_of
from livepipe.sim import messages as M
from livepipe.sim.app import Simulator
from livepipe.sim.open_messages import open_id, to_open
from livepipe.testing import captured, running_pipeline
from tests.bilibili.source_support import wait_until

pytestmark = pytest.mark.anyio


def _pairs(seed: int, n: int):
    """(web event, open event or None) for n generated happenings of two rooms; anonymous web copies masked."""
    sim = Simulator(rooms=[1000, 1001], seed=seed, population_size=40)
    anchor = {"uid": 0, "open_id": "a", "union_id": "", "uname": "s", "uface": "", "title": "", "area_name": ""}
    out = []
    for rid, gen in sim.generators.items():
        for i in range(n):
            for web in gen.next_messages(1_790_000_000.0 + i):
                om = to_open(web, rid, anchor, lambda uid: open_id(seed, uid))
                masked = M.mask(web) if M.needs_mask(web) and i % 2 else web  # half from an anonymous connection
                out.append((parse_command(masked, rid), parse_command(om, rid) if om else None))
    return out


def _run(stream, window=30.0):
    m = Merger(window=window)
    return [ev for t, ev in stream if m.accept(cross_key(ev), side_of(ev), t)]


def _fingerprint(ev):
    return (ev.room_id, ev.kind, ev.text, (ev.uname or "")[:1], cross_key(ev))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_both_sides_complete_and_interleaved_gives_every_happening_once(seed):
    rng = random.Random(seed)
    pairs = _pairs(seed, 1500)
    stream = []
    for i, (web, opn) in enumerate(pairs):
        t = i * 0.01
        stream.append((t + rng.uniform(0, 2), web))  # either side may be first, by up to 2 s
        if opn is not None:
            stream.append((t + rng.uniform(0, 2), opn))
    stream.sort(key=lambda x: x[0])
    out = _run(stream)
    assert Counter(_fingerprint(e) for e in out) == Counter(_fingerprint(w) for w, _ in pairs)
    assert len(out) == len(pairs) > 3000
    assert {side_of(e) for e in out} == {"web", "open"}  # whichever arrived first


@pytest.mark.parametrize("seed", [4, 5])
def test_a_side_that_misses_stretches_is_filled_in_by_the_other(seed):
    rng = random.Random(seed)
    pairs = _pairs(seed, 1200)
    down = {"web": set(range(300, 900)), "open": set(range(1500, 2100))}  # each side down for a stretch
    stream = []
    for i, (web, opn) in enumerate(pairs):
        t = i * 0.01
        if i not in down["web"]:
            stream.append((t + rng.uniform(0, 0.5), web))
        if opn is not None and i not in down["open"]:
            stream.append((t + rng.uniform(0, 0.5), opn))
    stream.sort(key=lambda x: x[0])
    out = _run(stream)
    expected = [w for i, (w, o) in enumerate(pairs)
                if i not in down["web"] or (o is not None and i not in down["open"])]
    assert Counter(_fingerprint(e) for e in out) == Counter(_fingerprint(w) for w in expected)
    lost = [w for i, (w, o) in enumerate(pairs) if i in down["web"] and o is None]
    assert len(out) == len(pairs) - len(lost)  # only web-only kinds of the web's outage are missing


def test_repeats_of_one_viewer_are_kept_and_a_lag_beyond_the_window_duplicates():
    sim = Simulator(rooms=[1000], seed=1, population_size=5)
    user = sim.populations[1000].users[0]
    web = [parse_command(sim.make_danmaku(1000, "666", uid=user.uid), 1000) for _ in range(3)]
    anchor = {"uid": 0, "open_id": "a", "union_id": "", "uname": "s", "uface": "", "title": "", "area_name": ""}
    opn = [parse_command(to_open(w.raw, 1000, anchor, lambda uid: open_id(1, uid)), 1000) for w in web]
    interleaved = [(0.0, web[0]), (0.1, opn[0]), (0.2, opn[1]), (0.3, web[1]), (0.4, web[2]), (0.5, opn[2])]
    assert len(_run(interleaved)) == 3
    lagging = [(0.0, web[0]), (40.0, opn[0])]  # the open copy arrives after the window: a duplicate (documented)
    assert len(_run(lagging, window=30.0)) == 2
    status = parse_command({"cmd": "X"}, 1000)._replace(kind="source.connected")
    assert cross_key(status) is None and len(_run([(0, status), (0, status)])) == 2


FAILOVER = """
[simulator]
rooms = [1000]
seed = 3

[credentials.simulator]

[sources.web]
type = "bilibili.danmaku"
room_ids = [1000]
credential = "simulator"
backoff_initial = 0.05
backoff_max = 0.3
risk_retry_initial = 0.5

[sources.open]
type = "bilibili.open"
credential = "simulator"
heartbeat_interval = 0.3
backoff_initial = 0.05
backoff_max = 0.3

[processors.merged]
type = "bilibili.merge"
inputs = ["web", "open"]

[sinks.out]
type = "testing.capture"
inputs = ["merged"]
"""


async def test_failover_pipeline_keeps_one_copy_and_flows_while_either_side_is_down(tmp_path):
    async with running_pipeline(FAILOVER, tmp_path) as p:
        sim = p.components["web"].context.settings["simulator"]
        out = captured["out"]
        users = sim.populations[1000].users

        def texts():
            return [e.text for e in out if e.kind == "danmaku"]

        async def say(prefix, n):
            for i in range(n):
                sim.inject_danmaku(1000, f"{prefix}{i}", uid=users[i % len(users)].uid)
            await wait_until(lambda: all(f"{prefix}{i}" in texts() for i in range(n)), timeout=20,
                             what=f"{prefix} danmaku through the merge")  # fmt: skip

        await wait_until(lambda: sim.hub.clients.get(1000) and sim.open.hub.clients.get(1000), timeout=20,
                         what="both sources connected")  # fmt: skip
        await say("both-", 20)
        # web side down: its socket closed, AUTH refused and getDanmuInfo refused (-352); the open side,
        # already connected, carries on. (Closing alone is not enough: the web source reconnects at once
        # with the token it holds, so "disconnected" would last only until that reconnect.)
        sim.faults.update({"http_352": ["/xlive/web-room/v1/index/getDanmuInfo"], "fail_auth": True})
        sim.close_connections(1000)
        await wait_until(lambda: not sim.hub.clients.get(1000), what="web disconnected")
        await say("open-only-", 20)
        # open side down: its game expired and /v2/app/start refused; the web side is back
        sim.faults.update({"http_352": ["/v2/app/start"], "fail_auth": False})
        for g in list(sim.open.games.values()):
            sim.open.end_game(g, "expired")
        await wait_until(lambda: sim.hub.clients.get(1000) and not sim.open.hub.clients.get(1000), timeout=20,
                         what="web back, open down")  # fmt: skip
        await say("web-only-", 20)
        sim.faults.update({"http_352": []})
        await wait_until(lambda: sim.open.hub.clients.get(1000), timeout=20, what="open back")
        await say("both-again-", 20)
        await anyio.sleep(0.5)  # late copies (if any) would arrive now
        p.request_shutdown()
    dm = Counter(texts())
    sent = [f"{p}{i}" for p in ("both-", "open-only-", "web-only-", "both-again-") for i in range(20)]
    assert {t: dm[t] for t in sent} == dict.fromkeys(sent, 1)
    sides = Counter((e.text.rsplit("-", 1)[0], side_of(e)) for e in out if e.kind == "danmaku" and e.text in sent)
    assert sides[("open-only", "open")] == 20 and sides[("web-only", "web")] == 20
