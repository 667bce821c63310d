"""The ``http`` (webhook) sink in a real pipeline against a real local aiohttp receiver that fails about
half the requests in different ways: every event arrives exactly once by the receiver's count of
idempotency keys, or is in the dead-letter output; none is lost silently."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
from collections import Counter
from pathlib import Path

import pytest
from aiohttp import web

from livepipe.components.http import batch_key
from livepipe.events import Event, make_event
from livepipe.testing import run_pipeline

SECRET = "s3cr3t-hmac-key"


class Receiver:
    """A webhook receiver that dedupes by Idempotency-Key, checks signatures, and fails on purpose."""

    def __init__(self, fail_rate: float, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.fail_rate = fail_rate
        self.accepted: dict[str, list[str]] = {}  # key -> event ids, counted once per key
        self.repeats = 0  # requests whose key was already accepted (a retry after a lost answer)
        self.failures: Counter[str] = Counter()
        self.bad_signatures = 0
        self.methods: Counter[str] = Counter()
        self.auth: set[str | None] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.methods[request.method] += 1
        self.auth.add(request.headers.get("Authorization"))
        want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if request.headers.get("X-Livepipe-Signature") != want:
            self.bad_signatures += 1
            return web.Response(status=401, text="bad signature")
        data = json.loads(body)
        events = data if isinstance(data, list) else [data]
        key = request.headers["Idempotency-Key"]
        if any("poison" in (e.get("text") or "") for e in events):
            return web.Response(status=400, text="I refuse poison")
        roll = self.rng.random()
        if roll < self.fail_rate / 2:
            self.failures["503"] += 1
            return web.Response(status=503, text="busy")
        if roll < self.fail_rate * 3 / 4:
            self.failures["drop"] += 1
            assert request.transport is not None
            request.transport.close()  # the connection dies before any answer
            return web.Response(status=500)
        if key in self.accepted:
            self.repeats += 1
        else:
            self.accepted[key] = [e["id"] for e in events]
        if roll < self.fail_rate:
            self.failures["500-after-accept"] += 1  # stored, but the answer says it failed: a retry follows
            return web.Response(status=500, text="oops")
        return web.Response(status=200, text="ok")


@pytest.fixture
async def receiver():
    made = []

    async def start(fail_rate: float):
        rec = Receiver(fail_rate)
        app = web.Application()
        app.router.add_route("*", "/hook", rec.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        made.append(runner)
        return rec, f"http://127.0.0.1:{port}/hook"

    yield start
    for r in made:
        await r.cleanup()


def make_events(n: int, poison_every: int = 0) -> list[Event]:
    out = []
    for i in range(n):
        poison = poison_every and i % poison_every == 7
        out.append(make_event("danmaku", room_id=1000 + i % 3, ts=1.7e9 + i, uid=i % 50, uname=f"u{i}",
                              text=("poison " if poison else "hello ") + f"{i} <&>\"'中文"))
    return out


CONFIG = """
[sources.in]
type = "replay"
path = "events.jsonl"

[sinks.hook]
type = "http"
inputs = ["in"]
url = "{url}"
method = "{method}"
headers = {{ Authorization = "Bearer tok" }}
secret = "{secret}"
batch_size = {batch_size}
concurrency = 8
timeout = {timeout}
max_retries = {max_retries}
retry_backoff = 0.005
max_backoff = {max_backoff}
on_error = "dead_letter"

[sinks.dead]
type = "file"
inputs = ["hook.dead_letter"]
path = "dead.jsonl"
"""


async def run(tmp_path: Path, url: str, events: list[Event], **kw) -> list[Event]:
    (tmp_path / "events.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    params = {"url": url, "secret": SECRET, "batch_size": 1, "max_retries": 30, "method": "POST", "max_backoff": 0.05,
              "timeout": 5, **kw}
    await run_pipeline(CONFIG.format(**params), tmp_path)
    dead = tmp_path / "dead.jsonl"
    return [Event.from_json(line) for line in dead.read_text().splitlines()] if dead.exists() else []


def check_exactly_once_or_dead(rec: Receiver, events: list[Event], dead: list[Event]) -> set[str]:
    arrived = Counter(i for ids in rec.accepted.values() for i in ids)
    assert all(n == 1 for n in arrived.values()), [i for i, n in arrived.items() if n > 1][:5]
    dead_ids = Counter(d.data["event"]["id"] for d in dead)
    assert all(n == 1 for n in dead_ids.values())
    assert not set(arrived) & set(dead_ids), "an event both arrived and was dead-lettered"
    assert set(arrived) | set(dead_ids) == {e.id for e in events}, "events lost silently"
    assert rec.bad_signatures == 0
    return set(dead_ids)


@pytest.mark.anyio
@pytest.mark.parametrize("batch_size", [1, 7])
async def test_half_failing_receiver_gets_everything_once_or_dead_letter(tmp_path, receiver, batch_size):
    rec, url = await receiver(fail_rate=0.5)
    url = url.replace("http://", "http://user:pw-in-url@")  # userinfo: sent as Basic auth, never shown
    events = make_events(600, poison_every=50)
    dead = await run(tmp_path, url, events, batch_size=batch_size)
    dead_ids = check_exactly_once_or_dead(rec, events, dead)
    poisoned = {e.id for e in events if "poison" in e.text}
    if batch_size == 1:
        assert dead_ids == poisoned  # a 400 dead-letters exactly the refused event
    else:
        assert poisoned <= dead_ids  # ... or every event of its batch
        assert len(dead_ids) <= len(poisoned) * batch_size
        assert max(len(ids) for ids in rec.accepted.values()) == batch_size
        assert all(k.startswith("sha256:") == (len(ids) > 1) for k, ids in rec.accepted.items())
    assert min(rec.failures[f] for f in ("503", "drop", "500-after-accept")) > 10, rec.failures
    assert rec.repeats >= rec.failures["500-after-accept"] * 0.5  # retries reuse the key
    assert all("400" in d.data["error"] for d in dead)
    assert all("pw-in-url" not in d.data["error"] for d in dead)
    assert rec.auth == {"Basic " + base64.b64encode(b"user:pw-in-url").decode()} and rec.methods["POST"] > 0


@pytest.mark.anyio
async def test_retries_used_up_go_to_dead_letter(tmp_path, receiver):
    rec, url = await receiver(fail_rate=1.0)
    events = make_events(40)
    dead = await run(tmp_path, url, events, max_retries=2, method="PUT")
    assert {d.data["event"]["id"] for d in dead} == {e.id for e in events}
    assert rec.accepted.keys() <= {e.id for e in events}
    assert all("after 2 retries" in d.data["error"] for d in dead)
    assert rec.methods["PUT"] == 3 * 40 and set(rec.methods) == {"PUT"}
    assert rec.auth == {"Bearer tok"}


@pytest.mark.anyio
async def test_nobody_listening_goes_to_dead_letter_with_the_url_redacted(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    events = make_events(5)
    dead = await run(tmp_path, f"http://user:pw-in-url@127.0.0.1:{port}/hook", events, max_retries=1)
    assert {d.data["event"]["id"] for d in dead} == {e.id for e in events}
    assert all("cannot reach" in d.data["error"] and "pw-in-url" not in d.data["error"] for d in dead)


def test_batch_key_is_the_id_or_a_hash_of_the_ids():
    a, b = make_events(2)
    assert batch_key([a]) == a.id
    assert batch_key([a, b]) == "sha256:" + hashlib.sha256(f"{a.id}\n{b.id}".encode()).hexdigest()
    assert batch_key([a, b]) != batch_key([b, a])


def test_secrets_are_not_shown():
    from livepipe.components.http import HttpSink

    cfg = HttpSink.Config.model_validate({"type": "http", "inputs": ["a"], "url": "https://u:pw@h/x",
                                          "secret": "hmackey", "headers": {"Authorization": "Bearer tok"}})
    for text in (repr(cfg), str(cfg)):
        assert "hmackey" not in text and "Bearer tok" not in text and "pw@" not in text.replace("<redacted>", "")


async def _serve(handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/hook", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"


@pytest.mark.anyio
@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_not_delivered_it_goes_to_dead_letter(tmp_path, status):
    # a 3xx used to count as delivered: the events never reached anyone, silently
    hits = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=status, headers={"Location": "https://elsewhere.example/api/webhooks/1/LocTok3n"})

    runner, url = await _serve(handler)
    try:
        events = make_events(6)
        dead = await run(tmp_path, url, events, max_retries=3)
    finally:
        await runner.cleanup()
    assert {d.data["event"]["id"] for d in dead} == {e.id for e in events}
    assert len(hits) == 6  # refused at once: not retried, not followed
    for d in dead:
        assert f"answered {status}" in d.data["error"] and "not followed" in d.data["error"]
        assert "https://elsewhere.example/…" in d.data["error"] and "LocTok3n" not in d.data["error"]


@pytest.mark.anyio
async def test_a_token_in_the_url_path_or_query_is_never_shown(tmp_path):
    # webhook URLs carry their token in the path (Discord, Slack) or the query (?access_token=, DingTalk)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    events = make_events(3)
    dead = await run(tmp_path, f"http://127.0.0.1:{port}/api/webhooks/123/PathTok3n?access_token=QueryTok3n",
                     events, max_retries=0)
    assert {d.data["event"]["id"] for d in dead} == {e.id for e in events}
    for d in dead:
        assert f"cannot reach http://127.0.0.1:{port}/…" in d.data["error"]
        assert "PathTok3n" not in d.data["error"] and "QueryTok3n" not in d.data["error"]


@pytest.mark.anyio
async def test_429_retry_after_is_honoured(tmp_path):
    # retry_backoff is 5 ms: only the receiver's Retry-After: 1 can make the sink wait a second
    import time

    seen: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(time.monotonic())
        if len(seen) == 1:
            return web.Response(status=429, headers={"Retry-After": "1"}, text="slow down")
        return web.Response(status=200)

    runner, url = await _serve(handler)
    try:
        dead = await run(tmp_path, url, make_events(1), max_retries=3, max_backoff=5)
    finally:
        await runner.cleanup()
    assert dead == [] and len(seen) == 2
    assert seen[1] - seen[0] >= 0.95, seen[1] - seen[0]


def test_retry_after_reads_seconds_and_http_dates():
    from livepipe.components.http import retry_after

    assert retry_after("7", 0.0) == 7.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470.0) == 10.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490.0) == 0.0
    assert retry_after("soon", 0.0) is None and retry_after(None, 0.0) is None and retry_after("-3", 0.0) is None


@pytest.mark.anyio
async def test_a_receiver_that_trickles_its_answer_is_cut_at_timeout(tmp_path):
    # httpx's timeout bounds each read: an answer trickling a byte every 0.2 s held the request (and its slot)
    # for as long as the receiver liked; `timeout` is for the whole request, as the docs say
    import anyio

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(status=200)
        resp.content_length = 1000
        await resp.prepare(request)
        for _ in range(1000):
            await resp.write(b".")
            await anyio.sleep(0.2)
        return resp

    runner, url = await _serve(handler)
    try:
        events = make_events(2)
        with anyio.fail_after(60):  # the 2 requests would otherwise take 200 s each
            dead = await run(tmp_path, url, events, max_retries=0, timeout=1)
    finally:
        await runner.cleanup()
    assert {d.data["event"]["id"] for d in dead} == {e.id for e in events}
    assert all("no answer from" in d.data["error"] and "within 1 s" in d.data["error"] for d in dead)


@pytest.mark.anyio
async def test_requests_cut_short_at_the_shutdown_deadline_are_counted_lost(tmp_path, caplog):
    # the request in flight used to vanish: neither delivered nor dead-lettered nor counted (the runtime counted
    # only the events still buffered behind it, which wait because flush waits for the requests in flight)
    import anyio

    held = []
    release = anyio.Event()

    async def handler(request: web.Request) -> web.Response:
        held.append(request.headers["Idempotency-Key"])
        await release.wait()
        return web.Response(status=200)

    runner, url = await _serve(handler)
    events = make_events(3)
    (tmp_path / "events.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    config = "[livepipe]\nshutdown_timeout = 1\n" + CONFIG.format(
        url=url, secret=SECRET, batch_size=1, max_retries=0, method="POST", max_backoff=0.05, timeout=300)
    try:
        p = await run_pipeline(config, tmp_path)
    finally:
        release.set()
        await runner.cleanup()
    assert held and set(held) <= {e.id for e in events}  # (how many got out before a flush waited on them varies)
    assert p.metrics.value("component_discarded_events_total", component_id="hook", intentional="false",
                           reason="shutdown") == 3  # those abandoned in flight + those still buffered
    assert "1 events of a request still under way at the shutdown deadline were abandoned" in caplog.text
