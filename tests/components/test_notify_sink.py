"""The ``notify`` sink through Apprise's own ``json://`` and ``form://`` targets to a real local aiohttp receiver:
rendered title and body arrive, a failing target is retried (the others are not sent twice) then dead-lettered
naming it without its secret parts, a hanging target never holds ``write`` up, the rate limit drops and counts
the excess and says so in the next notification, render failures are dead-lettered, and a bad URL fails
``livepipe validate`` without being shown."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from aiohttp import web
from component_helpers import Recorder, build, ev, metric

from livepipe.clock import Clock, ManualClock
from livepipe.components.notify import NotifySink
from livepipe.events import make_event
from livepipe.testing import run_pipeline, wait_until

TOKEN = "tok3nSecretPart42"


class Receiver:
    """Records notifications; ``fail_first`` requests answer 503, ``fail_all`` all; ``hang`` holds requests."""

    def __init__(self) -> None:
        self.got: list[dict] = []
        self.requests = 0
        self.fail_first = 0
        self.fail_all = False
        self.hang: asyncio.Event | None = None
        self.hanging = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.hang is not None:
            self.hanging += 1
            await self.hang.wait()
        if self.fail_all or self.requests <= self.fail_first:
            return web.Response(status=503, text="busy")
        if request.content_type == "application/json":
            item = await request.json()
        else:
            item = dict(await request.post())
        item["_path"] = request.path
        self.got.append(item)
        return web.Response(text="ok")


@pytest.fixture
async def receiver():
    made = []

    async def start() -> tuple[Receiver, int]:
        rec = Receiver()
        app = web.Application()
        app.router.add_post("/{tail:.*}", rec.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        made.append((runner, rec))
        return rec, site._server.sockets[0].getsockname()[1]

    yield start
    for runner, rec in made:
        if rec.hang is not None:
            rec.hang.set()
        await runner.cleanup()


def sink(urls: list[str], clock=None, **config) -> NotifySink:
    return build(NotifySink, {"inputs": ["a"], "urls": urls, "body": "{{ uname }}: {{ text }}",
                              "retry_backoff": 0.01, "on_error": "dead_letter", **config}, clock=clock or Clock())


async def settle(s: NotifySink) -> None:
    await s.stop()  # waits for the deliveries under way


@pytest.mark.anyio
async def test_a_pipeline_notifies_with_the_rendered_title_and_body(tmp_path, receiver):
    rec, port = await receiver()
    events = [make_event("super_chat", room_id=1000, ts=1.7e9 + i, uid=i, uname=f"老板{i}", text=f"加油 {i}",
                         data={"price": 30 * (i + 1)}) for i in range(3)]
    (tmp_path / "in.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    await run_pipeline(textwrap.dedent(f"""
        [sources.in]
        type = "replay"
        path = "in.jsonl"

        [sinks.phone]
        type = "notify"
        inputs = ["in"]
        urls = ["json://127.0.0.1:{port}/push/{TOKEN}"]
        title = "SC {{{{ event.super_chat.price|yuan }}}}"
        body = "{{{{ uname }}}}: {{{{ text }}}}"
    """), tmp_path)
    assert sorted((g["title"], g["message"]) for g in rec.got) == [
        (f"SC ¥{30 * (i + 1)}", f"老板{i}: 加油 {i}") for i in range(3)]
    assert {g["_path"] for g in rec.got} == {f"/push/{TOKEN}"}


@pytest.mark.anyio
async def test_form_and_json_targets_each_get_it_once(receiver):
    rec_json, p1 = await receiver()
    rec_form, p2 = await receiver()
    s = sink([f"json://127.0.0.1:{p1}/a", f"form://127.0.0.1:{p2}/b"], title="{{ kind }}")
    await s.start()
    await s.write(ev(uname="小明", text="你好"), Recorder())
    await settle(s)
    assert [(g["title"], g["message"]) for g in rec_json.got] == [("danmaku", "小明: 你好")]
    assert [(g["title"], g["message"]) for g in rec_form.got] == [("danmaku", "小明: 你好")]
    assert metric(s, "sink_delivered_events_total") == 1 and metric(s, "notify_calls_total") == 2


@pytest.mark.anyio
async def test_a_failing_target_is_retried_alone_then_delivered(receiver):
    ok, p1 = await receiver()
    flaky, p2 = await receiver()
    flaky.fail_first = 2
    s = sink([f"json://127.0.0.1:{p1}/ok", f"json://127.0.0.1:{p2}/flaky"])
    await s.start()
    out = Recorder()
    await s.write(ev(text="hi"), out)
    await settle(s)
    assert len(ok.got) == 1 and ok.requests == 1  # the target that worked is not sent again
    assert len(flaky.got) == 1 and flaky.requests == 3
    assert out.items == [] and metric(s, "notify_retries_total") == 2
    assert metric(s, "sink_delivered_events_total") == 1


@pytest.mark.anyio
async def test_retries_used_up_dead_letter_naming_the_target_not_its_secret(receiver):
    ok, p1 = await receiver()
    bad, p2 = await receiver()
    bad.fail_all = True
    s = sink([f"json://127.0.0.1:{p1}/ok", f"json://127.0.0.1:{p2}/hook/{TOKEN}"], max_retries=2)
    await s.start()
    out = Recorder()
    e = ev(text="hi")
    await s.write(e, out)
    await settle(s)
    [dead] = out.events("dead_letter")
    assert dead.data["event"]["id"] == e.id and dead.data["error_type"] == "NotifyError"
    assert "urls[1] (json://…)" in dead.data["error"] and "after 2 retries" in dead.data["error"]
    assert TOKEN not in json.dumps(dead.to_dict())
    assert bad.requests == 3 and ok.requests == 1
    assert metric(s, "sink_delivered_events_total") == 0


@pytest.mark.anyio
async def test_nobody_listening_is_a_failure_with_the_reason(receiver):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = sink([f"json://127.0.0.1:{port}/x"], max_retries=0)
    await s.start()
    out = Recorder()
    await s.write(ev(), out)
    await settle(s)
    [dead] = out.events("dead_letter")
    assert "onnection" in dead.data["error"]  # Apprise's own reason: a connection error


@pytest.mark.anyio
async def test_a_hanging_target_never_holds_write_up(receiver):
    rec, port = await receiver()
    rec.hang = asyncio.Event()
    s = sink([f"json://127.0.0.1:{port}/slow?rto=1&cto=1"], timeout=1, max_retries=0)
    await s.start()
    out = Recorder()
    for i in range(3):
        await s.write(ev(text=str(i)), out)  # returns although the receiver answers nothing
    # had a write waited for its answer, the timeouts would have dead-lettered the first ones by now
    assert out.items == [] and metric(s, "sink_delivered_events_total") == 0
    await wait_until(lambda: rec.hanging == 3, timeout=30, what="three requests held by the receiver")
    await wait_until(lambda: len(out.events("dead_letter")) == 3, timeout=60, what="the timeouts")
    assert all("urls[0] (json://…)" in d.data["error"] and "after 0 retries" in d.data["error"]
               for d in out.events("dead_letter"))
    rec.hang.set()
    await settle(s)
    assert metric(s, "sink_delivered_events_total") == 0


@pytest.mark.anyio
async def test_the_rate_limit_drops_counts_and_tells_the_next_notification(receiver):
    rec, port = await receiver()
    clock = ManualClock()
    s = sink([f"json://127.0.0.1:{port}/x"], clock=clock, max_per_minute=3, body="{{ text }}")
    await s.start()
    for i in range(10):
        await s.write(ev(text=f"m{i}"), Recorder())
        await clock.advance(1)
    assert metric(s, "notify_rate_limited_total") == 7
    await clock.advance(60)  # the minute of the first three has passed
    await s.write(ev(text="later"), Recorder())
    await settle(s)
    messages = sorted(g["message"] for g in rec.got)
    assert messages == ["later\n\n(+7 more not sent: over max_per_minute = 3)", "m0", "m1", "m2"]
    assert metric(s, "component_discarded_events_total", intentional="true") == 7


@pytest.mark.anyio
async def test_render_failures_and_blank_bodies_are_dead_lettered(receiver):
    rec, port = await receiver()
    s = sink([f"json://127.0.0.1:{port}/x"], body="{% if kind == 'gift' %}{{ data.gift_name }}{% endif %}")
    await s.start()
    out = Recorder()
    await s.write(ev("gift", data={}), out)  # the key is missing
    await s.write(ev("danmaku"), out)  # renders nothing
    await s.write(ev("gift", data={"gift_name": "小花花"}), out)
    await settle(s)
    dead = out.events("dead_letter")
    assert [d.data["error_type"] for d in dead] == ["TemplateError", "TemplateError"]
    assert "gift_name" in dead[0].data["error"] and "rendered nothing" in dead[1].data["error"]
    assert [g["message"] for g in rec.got] == ["小花花"]


def test_a_bad_url_fails_validate_without_showing_it(tmp_path):
    (tmp_path / "n.toml").write_text(textwrap.dedent(f"""\
        [sources.in]
        type = "replay"
        path = "in.jsonl"

        [sinks.phone]
        type = "notify"
        inputs = ["in"]
        urls = ["json://127.0.0.1/ok", "nosuchservice://{TOKEN}@x"]
        body = "{{{{ text }}}}"
    """))
    (tmp_path / "in.jsonl").write_text("")
    r = subprocess.run([sys.executable, "-m", "livepipe", "validate", "n.toml"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 78, r.stderr
    assert "n.toml:8: sinks.phone: key 'urls.1': nosuchservice://… is not a URL Apprise" in r.stderr
    assert TOKEN not in r.stdout + r.stderr
    (tmp_path / "n.toml").write_text((tmp_path / "n.toml").read_text().replace("nosuchservice", "json"))
    r = subprocess.run([sys.executable, "-m", "livepipe", "config", "show", "n.toml"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert TOKEN not in r.stdout + r.stderr and "<redacted>" in r.stdout


def test_an_unknown_template_field_fails_validate_with_the_line(tmp_path):
    (tmp_path / "n.toml").write_text(textwrap.dedent("""\
        [sources.in]
        type = "replay"
        path = "in.jsonl"

        [sinks.phone]
        type = "notify"
        inputs = ["in"]
        urls = ["json://127.0.0.1/ok"]
        title = "{{ event.super_chat.prise }}"
        body = "{{ text }}"
    """))
    (tmp_path / "in.jsonl").write_text("")
    r = subprocess.run([sys.executable, "-m", "livepipe", "validate", "n.toml"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 78 and "n.toml:9" in r.stderr and "did you mean 'price'" in r.stderr, r.stderr


@pytest.mark.anyio
async def test_the_automod_example_notifies_would_ban(tmp_path, receiver):
    """examples/notify-automod.toml as its header says to run it, the URL pointing at the local receiver."""
    import os
    import shutil

    import anyio

    pytest.importorskip("livepipe_automod", reason="the example needs the automod plugin (plugins/livepipe-automod)")
    rec, port = await receiver()
    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "examples", tmp_path / "examples")
    env = {**os.environ, "LIVEPIPE_NOTIFY_URL": f"json://127.0.0.1:{port}/bark/{TOKEN}",
           "LIVEPIPE_LOAD_PLUGINS": "automod"}
    r = await anyio.run_process([sys.executable, "-m", "livepipe", "run", "examples/notify-automod.toml"],
                                cwd=tmp_path, env=env, check=False)
    stderr = r.stderr.decode()
    assert r.returncode == 0, stderr[-3000:]
    assert TOKEN not in stderr + r.stdout.decode()
    assert rec.got, stderr[-3000:]
    assert all(g["title"] == "automod: dry_run in room 1001" and "would ban" in g["message"] for g in rec.got), rec.got
    assert len(rec.got) <= 6 + 1  # max_per_minute = 6 (a replay runs in well under a minute)


@pytest.mark.anyio
async def test_deliveries_cut_short_at_the_shutdown_deadline_are_counted_lost(tmp_path, receiver, caplog):
    # they used to vanish: neither delivered nor dead-lettered nor counted, so the summary said `lost 0`
    rec, port = await receiver()
    rec.hang = asyncio.Event()
    events = [make_event("danmaku", room_id=1000, ts=1.7e9 + i, uid=i, uname=f"u{i}", text=f"t{i}")
              for i in range(3)]
    (tmp_path / "in.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    p = await run_pipeline(textwrap.dedent(f"""
        [livepipe]
        shutdown_timeout = 1

        [sources.in]
        type = "replay"
        path = "in.jsonl"

        [sinks.phone]
        type = "notify"
        inputs = ["in"]
        urls = ["json://127.0.0.1:{port}/push/{TOKEN}"]
        body = "{{{{ uname }}}}: {{{{ text }}}}"
        timeout = 300
    """), tmp_path)
    assert rec.hanging == 3 and rec.got == []
    assert p.metrics.value("component_discarded_events_total", component_id="phone", intentional="false",
                           reason="shutdown") == 3
    assert any("still being delivered at the shutdown deadline was abandoned" in r.getMessage()
               for r in caplog.records)
    assert TOKEN not in caplog.text
