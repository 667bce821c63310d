"""The overlay sink without a browser: cards, the hub's history and resume, the HTTP side, slow viewers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import aiohttp
import anyio
import pytest
from component_helpers import ev

from livepipe import testing
from livepipe.components.overlay import OverlayConfig
from livepipe.components.overlay_cards import GuardDedupe, card, image_url
from livepipe.components.overlay_server import CSP, Hub
from livepipe.config import ConfigError
from livepipe.events import make_event
from livepipe.runtime.loading import load_config

MEDAL = {"level": 12, "name": "小鱼干", "streamer_uid": 2, "streamer_name": "s", "room_id": 3, "guard_level": 3,
         "is_lighted": True}  # fmt: skip


# ---- cards ------------------------------------------------------------------------------------------


def test_danmaku_card_carries_what_the_page_draws():
    e = ev("danmaku", uid=7, uname="Alice", text="hi [dog]", data={
        "medal": MEDAL, "guard_level": 3, "is_admin": True, "dm_type": 0, "reply_uname": "Bob",
        "emots": {"[dog]": {"url": "http://i0.hdslb.com/dog.png"}, "[cat]": {"url": "https://x/cat.png"},
                  "[bad]": {"url": "javascript:alert(1)"}}})
    assert card(e) == {"id": e.id, "k": "danmaku", "ts": e.ts, "uid": 7, "name": "Alice", "text": "hi [dog]",
                       "medal": {"name": "小鱼干", "level": 12, "lit": True}, "guard": 3, "admin": True,
                       "emote": None, "emots": {"[dog]": "http://i0.hdslb.com/dog.png"}, "reply": "Bob"}


def test_emoticon_danmaku_card_has_its_image_and_unsafe_urls_are_dropped():
    good = ev("danmaku", text="[赞]", data={"dm_type": 1, "emoticon": {"url": "//i0.hdslb.com/a.png", "width": 60,
                                                                          "height": 999}})
    assert card(good)["emote"] == {"url": "https://i0.hdslb.com/a.png", "w": 60, "h": 240}
    for url in ("javascript:alert(1)", "data:image/png;base64,AAAA", "https://x/a b.png", 'https://x/"><b>', None, 5):
        assert image_url(url) is None, url
        bad = ev("danmaku", text="[x]", data={"dm_type": 1, "emoticon": {"url": url}})
        assert card(bad)["emote"] is None


def test_cards_of_gifts_super_chats_and_guards():
    gift = ev("gift", uname="G", data={"gift_name": "告白气球", "num": 2, "total_coin": 104000, "coin_type": "gold",
                                       "action": "投喂", "gift_img": "https://s1.hdslb.com/g.png", "medal": None})
    assert {k: card(gift)[k] for k in ("k", "gift", "num", "coin", "paid", "img", "action")} == {
        "k": "gift", "gift": "告白气球", "num": 2, "coin": 104000, "paid": True, "img": "https://s1.hdslb.com/g.png",
        "action": "投喂"}
    sc = ev("super_chat", text="hello", data={"price": 50, "start_time": 100, "end_time": 220, "sc_id": 9})
    assert {k: card(sc)[k] for k in ("k", "price", "dur", "end", "sc_id")} == {
        "k": "sc", "price": 50, "dur": 120, "end": 220, "sc_id": 9}
    no_times = card(ev("super_chat", text="x", ts=1000.0, data={"price": 30}))
    assert (no_times["dur"], no_times["end"]) == (60, 1060)
    assert card(ev("super_chat_delete", data={"ids": [9, "x"]}))["ids"] == [9]
    guard = card(ev("guard", uname="C", data={"guard_level": 1, "num": 3}))
    assert (guard["k"], guard["level"], guard["num"], guard["unit"]) == ("guard", 1, 3, "月")


def test_events_the_page_does_not_show_have_no_card():
    assert card(ev("enter", uname="x")) is None
    assert card(ev("danmaku", text="[1.0,0.0]", data={"mode": 7})) is None  # a "big" danmaku: drawing options
    assert card(ev("danmaku", text="")) is None
    assert card(ev("guard", data={"guard_level": 0})) is None
    assert card(ev("super_chat_delete", data={"ids": []})) is None


def test_long_texts_are_cut():
    c = card(ev("danmaku", uname="n" * 100, text="t" * 1000))
    assert len(c["name"]) == 40 and len(c["text"]) == 200 and c["text"].endswith("…")


@pytest.mark.parametrize("event", [
    ev("gift", uid=10**30, data={"gift_name": "g", "num": 1e26, "total_coin": 10**25, "coin_type": "gold"}),
    ev("gift", uid=1, data={"gift_name": "g", "num": float("nan"), "total_coin": float("inf")}),
    ev("danmaku", uid=1, text="hi", data={"guard_level": 10**30, "medal": {"level": 1e300, "name": "m"}}),
    ev("danmaku", uid=1, text="x", data={"dm_type": 1, "emoticon": {"url": "https://i0.hdslb.com/e.png",
                                                                      "width": float("inf"), "height": 1e30}}),
    ev("super_chat", uid=1, text="hi", data={"price": 10**30, "start_time": 1e300, "duration": -(10**40)}),
    ev("danmaku", uid=1, uname="名\ud83d", text="a\ud800b", data={"reply_uname": "\udc00"}),
    ev("gift", uid=1, data={"gift_name": "g\ud800", "gift_img": "https://i0.hdslb.com/\ud800.png"}),
], ids=["huge-ints", "nan-inf", "huge-guard-medal", "inf-emote", "huge-sc", "lone-surrogates", "surrogate-url"])
def test_hostile_numbers_and_text_still_make_a_card_the_hub_can_send(event):
    # integers beyond 64 bits, NaN, infinity and lone surrogates made the card's JSON encoding raise, so the
    # event failed in the sink instead of showing
    c = card(event)
    hub = Hub(history=5, client_queue=10)
    hub.publish(c)
    sent = json.loads(hub.history[-1][1].split(b"data: ", 1)[1])
    for key in ("num", "coin", "price", "guard", "dur", "end"):
        if key in sent:
            assert isinstance(sent[key], int) and abs(sent[key]) <= 2**53 - 1, (key, sent[key])
    assert "\ud800" not in json.dumps(sent, ensure_ascii=False).encode("utf-8", "surrogatepass").decode(
        "utf-8", "replace")
    if sent.get("img") is not None:
        assert sent["img"].isascii()


def test_a_guard_purchase_announced_twice_shows_once():
    d = GuardDedupe(window=30)
    buy = ev("guard", uid=5, ts=100.0, data={"guard_level": 3, "num": 1})
    toast = ev("guard", uid=5, ts=101.0, data={"guard_level": 3, "num": 1, "toast": True})
    again = ev("guard", uid=5, ts=200.0, data={"guard_level": 3, "num": 1})
    other = ev("guard", uid=6, ts=101.0, data={"guard_level": 3, "num": 1})
    assert [d.is_repeat(e, card(e)) for e in (buy, toast, other, again)] == [False, True, False, False]


# ---- the hub ----------------------------------------------------------------------------------------


def _seqs(backlog: bytes) -> list[int]:
    return [int(line.split(b"-")[1]) for line in backlog.split(b"\n") if line.startswith(b"id: ")]


def test_hub_history_is_bounded_and_resumes_after_the_last_event_id():
    hub = Hub(history=5, client_queue=100)
    for i in range(12):
        hub.publish({"id": str(i)})
    v, backlog = hub.join(None, "a")
    assert _seqs(backlog) == [8, 9, 10, 11, 12]
    _, backlog = hub.join(f"{hub.boot}-10", "b")
    assert _seqs(backlog) == [11, 12]
    _, backlog = hub.join(f"{hub.boot}-12", "c")
    assert backlog == b""
    for stale in (f"{hub.boot}-3", "otherboot-11", "garbage"):  # missed too much, or another run: all of it
        _, backlog = hub.join(stale, "d")
        assert _seqs(backlog) == [8, 9, 10, 11, 12], stale
    hub.publish({"id": "x"})
    assert _seqs(v.pending[0]) == [13]


def test_a_viewer_that_falls_behind_is_dropped_and_counted():
    dropped = []
    hub = Hub(history=0, client_queue=3, on_slow=dropped.append)
    slow, _ = hub.join(None, "slow")
    for i in range(3):
        hub.publish({"id": str(i)})
    assert slow.ended is None and len(slow.pending) == 3
    hub.publish({"id": "3"})
    assert slow.ended == "slow" and dropped == [slow] and slow not in hub.viewers and not slow.pending


# ---- config -----------------------------------------------------------------------------------------


def test_listen_must_be_host_and_port(tmp_path):
    (tmp_path / "p.toml").write_text('[sources.s]\ntype = "replay"\npath = "x"\n'
                                     '[sinks.o]\ntype = "overlay"\ninputs = ["s"]\nlisten = "8765"\n')
    with pytest.raises(ConfigError, match=r"listen.*HOST:PORT"):
        load_config([tmp_path / "p.toml"])
    assert OverlayConfig.model_validate({"type": "overlay", "inputs": ["s"], "listen": ":0"}).listen == ":0"


def test_validate_names_a_missing_css_file(tmp_path):
    (tmp_path / "x.jsonl").write_text("")
    (tmp_path / "p.toml").write_text('[sources.s]\ntype = "replay"\npath = "x.jsonl"\n'
                                     '[sinks.o]\ntype = "overlay"\ninputs = ["s"]\ncss = "mine.css"\n')
    out = subprocess.run([sys.executable, "-m", "livepipe", "validate", str(tmp_path / "p.toml")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 78, out.stdout + out.stderr
    assert f"css file {tmp_path / 'mine.css'} does not exist" in out.stdout + out.stderr


# ---- through a pipeline and real HTTP ------------------------------------------------------------------

REPLAY = """
[sources.rec]
type = "replay"
path = "rec.jsonl"
{replay}

[sinks.overlay]
type = "overlay"
inputs = ["rec"]
listen = "127.0.0.1:0"
{overlay}
"""


def _write_events(tmp_path, n: int, text: str = "hello", *, then_wait: bool = False) -> None:
    """``n`` danmaku in rec.jsonl; ``then_wait``: and one more a day later, so a real-time replay stays open."""
    events = [make_event("danmaku", room_id=1, ts=1_700_000_000.0, uid=i, uname=f"u{i}", text=f"{text} {i}")
              for i in range(n)]  # fmt: skip
    if then_wait:
        events.append(make_event("danmaku", room_id=1, ts=1_700_086_400.0, uid=0, text="tomorrow"))
    (tmp_path / "rec.jsonl").write_text("".join(e.to_json() + "\n" for e in events))


@pytest.mark.anyio
async def test_page_files_headers_and_custom_css(tmp_path):
    _write_events(tmp_path, 3, then_wait=True)
    (tmp_path / "mine.css").write_text("body { --font-size: 30px; }")
    toml = REPLAY.format(replay="speed = 1", overlay='css = "mine.css"\nstyle = "bubble"\nmax = 12')
    async with testing.running_pipeline(toml, tmp_path) as p, aiohttp.ClientSession() as http:
        sink = p.components["overlay"]
        await testing.wait_until(lambda: sink.hub.seq == 3, timeout=30)
        async with http.get(sink.url) as r:
            page = await r.text()
            assert r.headers["Content-Security-Policy"] == CSP and "script-src 'self'" in CSP
            assert r.content_type == "text/html"
        assert 'data-default-style="bubble" data-default-max="12"' in page
        for path, ctype in (("overlay.js", "text/javascript"), ("overlay.css", "text/css")):
            async with http.get(sink.url + path) as r:
                assert r.status == 200 and r.content_type == ctype and r.headers["X-Content-Type-Options"] == "nosniff"
        async with http.get(sink.url + "custom.css") as r:
            assert await r.text() == "body { --font-size: 30px; }" and r.content_type == "text/css"
        (tmp_path / "mine.css").write_text("body { color: red; }")  # read again at each request
        async with http.get(sink.url + "custom.css") as r:
            assert await r.text() == "body { color: red; }"
        for path in ("../p.toml", "%2e%2e/p.toml", "static/../../p.toml", "rec.jsonl"):
            async with http.get(sink.url + path) as r:
                assert r.status == 404, path
        async with http.get(sink.url + "events") as r:
            assert r.content_type == "text/event-stream"
            seen = []
            async for line in r.content:
                if line.startswith(b"data: "):
                    seen.append(json.loads(line[6:])["text"])
                    if len(seen) == 3:
                        break
            assert seen == ["hello 0", "hello 1", "hello 2"]
        p.request_shutdown()


@pytest.mark.anyio
async def test_a_taken_port_is_a_clear_error(tmp_path):
    _write_events(tmp_path, 1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        toml = REPLAY.format(replay="", overlay="").replace("127.0.0.1:0", f"127.0.0.1:{port}")
        with pytest.raises(Exception, match=rf"cannot listen on 127.0.0.1:{port}: the address is already in use; "
                                            r"set another `listen`"):
            await testing.run_pipeline(toml, tmp_path)


@pytest.mark.anyio
async def test_a_client_that_never_reads_is_dropped_without_slowing_the_pipeline(tmp_path):
    """A raw HTTP client asks for the stream and never reads. Events keep flowing at full speed (the replay
    loops as fast as it can; its buffer blocks, so a sink that waited for the client would stop it); the
    client falls ``client_queue`` behind, is cut off and counted, while a reading client misses nothing."""
    _write_events(tmp_path, 200, text="长" * 200)
    toml = REPLAY.format(replay="loop = true", overlay="history = 0\nclient_queue = 500\nbuffer = 50\n"
                                                       'when_full = "block"')
    async with testing.running_pipeline(toml, tmp_path) as p, aiohttp.ClientSession() as http:
        sink = p.components["overlay"]
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", sink.port))
        stalled.sendall(b"GET /events HTTP/1.1\r\nHost: overlay\r\n\r\n")
        await testing.wait_until(lambda: len(sink.hub.viewers) == 1, timeout=30)
        seqs: list[int] = []
        async with http.get(sink.url + "events") as r:
            async def read() -> None:
                async for line in r.content:
                    if line.startswith(b"id: "):
                        seqs.append(int(line.split(b"-")[1]))

            async with anyio.create_task_group() as tg:
                tg.start_soon(read)
                await testing.wait_until(lambda: sink.stats()["dropped"] == 1, timeout=120,
                                         what="the stalled client to be dropped")
                at_drop = sink.hub.seq
                await testing.wait_until(lambda: sink.hub.seq > at_drop + 1000 and len(seqs) > at_drop + 1000,
                                         timeout=60, what="events to keep flowing after the drop")
                tg.cancel_scope.cancel()
        # the reader left too: its stream ends at the next write
        await testing.wait_until(lambda: sink.stats() == {"viewers": 0, "dropped": 1}, timeout=60)
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # the reading client missed nothing
        assert p.metrics.value("overlay_viewers_dropped_total", component_id="overlay") == 1

        def drain() -> bytes:
            stalled.settimeout(60)
            got = b""
            try:
                while chunk := stalled.recv(1 << 16):
                    got += chunk
            except ConnectionResetError:
                pass
            return got

        received = await anyio.to_thread.run_sync(drain)  # ends: the server cut the connection
        stalled.close()
        assert received.startswith(b"HTTP/1.1 200 OK")
        p.request_shutdown()
