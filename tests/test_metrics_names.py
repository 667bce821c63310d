"""The metric names and label names a representative run exposes stay what they were.

``tests/fixtures/metrics_names.txt`` was written from main's behaviour before /metrics moved to
prometheus_client (``LIVEPIPE_WRITE_METRICS_NAMES=1``, three runs, only the series every run had):
one line per ``TYPE name label,label``. Dashboards and alerts select on these; every one must still
be exposed, with the same type and label names. New series may be added.

The run: the simulator (one room, logged in), a real nats-server, ``bilibili.danmaku`` and
``replay`` sources, ``filter`` -> ``dedupe`` -> ``throttle``, ``file`` and ``nats`` sinks, and the
three action sinks carrying out one action each against the simulator.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w

from livepipe.bilibili import actions as act
from livepipe.sim import run_simulator
from livepipe.testing import NatsServer, load_toml, running_pipeline, wait_until

pytestmark = pytest.mark.anyio

ROOM = 1000
SNAPSHOT = Path(__file__).parent / "fixtures" / "metrics_names.txt"
_TYPE = re.compile(r"^# TYPE (\S+) (\S+)$")
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"')


def names_of(text: str) -> set[str]:
    """``TYPE name labels`` of every sample of a Prometheus text page (label names sorted, comma-joined)."""
    types: dict[str, str] = {}
    out: set[str] = set()
    for line in text.splitlines():
        m = _TYPE.match(line)
        if m:
            types[m[1]] = m[2]
            continue
        if not line or line.startswith("#"):
            continue
        s = _SAMPLE.match(line)
        assert s, f"not a sample line: {line!r}"
        name = s[1]
        family = next((f for f in (name, name.removesuffix("_total"), name.rsplit("_", 1)[0]) if f in types), name)
        labels = sorted(_LABEL.findall(s[2] or ""))
        out.add(f"{types.get(family, 'untyped')} {name} {','.join(labels)}")
    return out


def _config(tmp: Path, sim: Any, nats_url: str) -> str:
    owner = sim.create_account(owner_of=ROOM)
    cookies = sim.cookies_for(owner)
    (tmp / "actions.jsonl").write_text("\n".join(json.dumps(e.to_dict()) for e in [
        act.ban(sim.populations[ROOM].users[0].uid, 1, room_id=ROOM, reason="test"),
        act.send("hello from the test", room_id=ROOM),
        act.room_update(ROOM, title="a new title"),
    ]) + "\n")
    action = {"credential": "main", "base_url": sim.base_url, "room_id": ROOM, "journal": "", "max_attempts": 1}
    doc = {
        "livepipe": {"shutdown_timeout": 5.0, "metrics": {"listen": "127.0.0.1:0"}},
        "credentials": {"main": {"sessdata": cookies["SESSDATA"], "bili_jct": cookies["bili_jct"],
                                 "dedeuserid": cookies["DedeUserID"], "buvid3": cookies["buvid3"]}},
        "sources": {
            "live": {"type": "bilibili.danmaku", "room_ids": [ROOM], "base_url": sim.base_url, "credential": "main"},
            "actions": {"type": "replay", "path": "actions.jsonl"},
        },
        "processors": {
            "chat": {"type": "filter", "inputs": ["live"], "kinds": ["danmaku", "gift"]},
            "once": {"type": "dedupe", "inputs": ["chat"], "window": 60},
            "calm": {"type": "throttle", "inputs": ["once"], "threshold": 1, "window": 60, "key_field": "kind"},
        },
        "sinks": {
            "archive": {"type": "file", "inputs": ["live", "calm"], "path": "out.jsonl"},
            "bus": {"type": "nats", "inputs": ["calm"], "servers": [nats_url], "subject": "livepipe.test.x"},
            "ban": {"type": "bilibili.ban", "inputs": ["actions"], **action},
            "send": {"type": "bilibili.send", "inputs": ["actions"], **action},
            "room": {"type": "bilibili.room", "inputs": ["actions"], **action},
            "results": {"type": "file", "inputs": ["ban.results", "send.results", "room.results"],
                        "path": "results.jsonl"},
        },
    }
    return tomli_w.dumps(doc)


async def representative_run(tmp: Path) -> str:
    """Run the pipeline until every part has worked; return its /metrics page."""
    with NatsServer(tmp / "nats", jetstream=False) as nats:
        async with run_simulator(rooms=[ROOM], rate=50.0) as sim:
            config = load_toml(_config(tmp, sim, nats.url), tmp)
            async with running_pipeline(config) as p:
                m = p.metrics

                def worked() -> bool:
                    return (all(m.value("action_outcomes_total", component_id=c) >= 1 for c in ("ban", "send", "room"))
                            and m.value("nats_confirmed_events_total", component_id="bus") >= 1
                            and m.value("throttled_events_total", component_id="calm") >= 1
                            and m.value("component_discarded_events_total", component_id="chat") >= 1
                            and m.value("sink_delivered_events_total", component_id="archive") >= 20)

                await wait_until(worked, timeout=60, what="every component of the run to have worked")
                async with httpx.AsyncClient() as client:
                    text = (await client.get(f"http://127.0.0.1:{p.metrics_port}/metrics")).text
                p.request_shutdown()
    return text


async def test_every_metric_name_and_label_name_of_main_is_still_exposed(tmp_path):
    text = await representative_run(tmp_path)
    now = names_of(text)
    if os.environ.get("LIVEPIPE_WRITE_METRICS_NAMES"):
        # (how the fixture was made: the series of several runs, intersected)
        old = set(SNAPSHOT.read_text().splitlines()) if SNAPSHOT.exists() else now
        SNAPSHOT.write_text("\n".join(sorted(old & now)) + "\n")
    expected = set(SNAPSHOT.read_text().splitlines())
    assert len(expected) >= 30  # the run exercised sources, processors, sinks and actions
    missing = sorted(expected - now)
    assert not missing, "no longer exposed: " + "; ".join(missing) + "\n" + text[:3000]
