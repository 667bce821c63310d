"""The ``http`` sink's ``body`` template and ``content_type`` against a real local aiohttp receiver: the receiver
gets the rendered bodies (signed as sent), a batch is the renderings one per line, an event whose rendering
fails or is empty goes to dead letters with the reason (never sent, never an empty body), failures are logged
rate-limited, and a template naming an unknown field fails ``livepipe validate`` with the file and line."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from aiohttp import web

from livepipe.events import Event, make_event
from livepipe.testing import run_pipeline

SECRET = "tmpl-hmac-key"


class Receiver:
    """Records every request's body and headers; answers 200."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.content_types: set[str] = set()
        self.signed_ok = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.bodies.append(body)
        self.content_types.add(request.headers.get("Content-Type", ""))
        want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        self.signed_ok += request.headers.get("X-Livepipe-Signature") == want
        return web.Response(text="ok")


@pytest.fixture
async def receiver():
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield rec, f"http://127.0.0.1:{port}/hook"
    await runner.cleanup()


CONFIG = """
[sources.in]
type = "replay"
path = "events.jsonl"

[sinks.hook]
type = "http"
inputs = ["in"]
url = "{url}"
secret = "{secret}"
batch_size = {batch_size}
retry_backoff = 0.01
on_error = "{on_error}"
{extra}

[sinks.dead]
type = "file"
inputs = ["hook.dead_letter"]
path = "dead.jsonl"
"""


async def run(tmp_path: Path, url: str, events: list[Event], *, body: str, batch_size: int = 1,
              on_error: str = "dead_letter", extra: str = "") -> list[Event]:
    (tmp_path / "events.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    extra = f"body = '''{body}'''\n{extra}"
    config = CONFIG.format(url=url, secret=SECRET, batch_size=batch_size, on_error=on_error, extra=extra)
    if on_error != "dead_letter":
        config = config.split("[sinks.dead]")[0]
    await run_pipeline(config, tmp_path)
    dead = tmp_path / "dead.jsonl"
    return [Event.from_json(line) for line in dead.read_text().splitlines()] if dead.exists() else []


def chat(n: int) -> list[Event]:
    return [make_event("danmaku", room_id=1000, ts=1.7e9 + i, uid=i, uname=f"观众{i}", text=f'hi "{i}" \\ <b>')
            for i in range(n)]


DISCORD = '{"content": {{ (uname ~ ": " ~ text)|tojson }}, "room": {{ room_id }}}'


@pytest.mark.anyio
async def test_the_receiver_gets_the_rendered_body_signed_as_sent(tmp_path, receiver):
    rec, url = receiver
    events = chat(20)
    dead = await run(tmp_path, url, events, body=DISCORD)
    assert dead == []
    got = sorted((json.loads(b) for b in rec.bodies), key=lambda d: d["content"])
    want = sorted(({"content": f"{e.uname}: {e.text}", "room": 1000} for e in events), key=lambda d: d["content"])
    assert got == want
    assert rec.signed_ok == 20 and rec.content_types == {"application/json"}


@pytest.mark.anyio
async def test_a_batch_is_the_renderings_one_per_line_with_its_content_type(tmp_path, receiver):
    rec, url = receiver
    events = chat(23)
    dead = await run(tmp_path, url, events, body=DISCORD, batch_size=5,
                     extra='content_type = "application/x-ndjson"')
    assert dead == []
    lines = [json.loads(line) for b in rec.bodies for line in b.split(b"\n")]
    assert sorted(d["content"] for d in lines) == sorted(f"{e.uname}: {e.text}" for e in events)
    assert max(len(b.split(b"\n")) for b in rec.bodies) == 5
    assert rec.content_types == {"application/x-ndjson"} and rec.signed_ok == len(rec.bodies)


@pytest.mark.anyio
async def test_a_render_failure_goes_to_dead_letter_with_the_reason_and_is_never_sent(tmp_path, receiver):
    rec, url = receiver
    gifts = [make_event("gift", room_id=1000, ts=1.7e9 + i, uid=i, uname=f"u{i}",
                        data={"gift_name": "花", "price": 100} if i % 3 else {"gift_name": "花"}) for i in range(30)]
    dead = await run(tmp_path, url, gifts, body='{"price": {{ data.price }}}', batch_size=4)
    failed = {e.id for i, e in enumerate(gifts) if i % 3 == 0}
    assert {d.data["event"]["id"] for d in dead} == failed
    for d in dead:
        assert d.data["error_type"] == "TemplateError"
        assert "body template failed for event" in d.data["error"] and "price" in d.data["error"]
    sent = [json.loads(line) for b in rec.bodies for line in b.split(b"\n")]
    assert sent == [{"price": 100}] * 20  # every other gift, none empty
    assert all(b.strip() for b in rec.bodies)


@pytest.mark.anyio
async def test_an_empty_rendering_is_not_sent(tmp_path, receiver):
    rec, url = receiver
    events = chat(4) + [make_event("gift", room_id=1000, ts=1.8e9, data={"gift_name": "x"})]
    dead = await run(tmp_path, url, events, body='{% if kind == "gift" %}{"gift": true}{% endif %}')
    assert [b for b in rec.bodies] == [b'{"gift": true}']
    assert len(dead) == 4 and all("rendered nothing" in d.data["error"] for d in dead)


@pytest.mark.anyio
async def test_render_failures_without_dead_letter_are_logged_rate_limited(tmp_path, receiver, caplog):
    rec, url = receiver
    caplog.set_level(logging.WARNING)
    dead = await run(tmp_path, url, chat(50), body="{{ data.missing }}", on_error="drop")
    assert dead == [] and rec.bodies == []
    lines = [r.getMessage() for r in caplog.records if "body template failed" in r.getMessage()]
    assert len(lines) == 1, lines  # 50 failures, one line (the rest counted, summarised later)
    assert "events lost" in lines[0] and "on_error" in lines[0]


def test_a_template_with_an_unknown_field_fails_validate_naming_file_and_line(tmp_path):
    (tmp_path / "hook.toml").write_text(textwrap.dedent('''\
        [sources.in]
        type = "replay"
        path = "in.jsonl"

        [sinks.hook]
        type = "http"
        inputs = ["in"]
        url = "https://example.com/hook"
        body = """
        {"gift": {{ event.gift.nmae|tojson }}}
        """
    '''))
    (tmp_path / "in.jsonl").write_text("")
    r = subprocess.run([sys.executable, "-m", "livepipe", "validate", "hook.toml"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 78, r.stderr
    # the line the wrong field is on: the template starts on line 10, after the key's opening quotes
    assert "hook.toml:10:" in r.stderr and "sinks.hook" in r.stderr and "body" in r.stderr
    assert "unknown field 'event.gift.nmae'" in r.stderr and "did you mean 'name'" in r.stderr
