"""The overlay page in a real headless chromium, fed by a real pipeline: simulator -> bilibili.danmaku -> overlay.

Needs Debian's chromium (skipped without it, except under LIVEPIPE_CI=1, where .ci/run installs it).
"""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from overlay_support import (
    ROOM,
    browser_page,
    chromium_or_skip,
    danmaku,
    free_port,
    overlay_pipeline,
    users,
    wait_js,
)

from livepipe.sim import messages as M
from livepipe.sim import run_simulator
from livepipe.testing import wait_until

pytestmark = pytest.mark.anyio

EMOTE_URL = "https://i0.hdslb.com/bfs/live/sticker_thumbs_up.png"
DOG_URL = "https://i0.hdslb.com/bfs/emote/dog.png"

TEXTS = "Array.from(document.querySelectorAll('#list .msg')).map(n => n.textContent)"


@pytest.fixture(autouse=True)
def _chromium():
    chromium_or_skip()


async def test_danmaku_gifts_super_chats_guards_and_emotes_are_drawn(tmp_path):
    async with run_simulator(rooms=[ROOM]) as sim, overlay_pipeline(tmp_path, sim) as sink:
        u = users(sim)
        room = sim.room(ROOM)
        async with browser_page(sink.url) as page:
            await wait_js(page, "window.overlayStats && overlayStats.connects === 1")
            now = time.time()
            cap = u["captain"]
            sim.inject(ROOM, [
                danmaku(sim, "晚上好", cap),
                M.with_emoticons(danmaku(sim, "[赞]"), emoticon={
                    "emoticon_unique": "official_147", "url": EMOTE_URL, "width": 60, "height": 60}),
                M.with_emoticons(danmaku(sim, "hi [dog] there"), emots={
                    "[dog]": {"url": DOG_URL, "emoticon_unique": "emoji_dog", "width": 20, "height": 20}}),
                M.send_gift(cap, room, now, gift_index=6, num=2),
                M.super_chat(cap, room, now, "a paid hello", 500, 777),
                M.guard_buy(u["plain"], room, now, guard_level=2, num=3),
                M.user_toast_v2(u["plain"], room, now, guard_level=2, num=3),  # the same purchase, announced again
            ])
            await wait_js(page, "document.querySelectorAll('#list .msg').length >= 6")
            await wait_js(page, "Array.from(document.images).every(i => i.complete)")  # loaded (or failed)
            cards = await page.evaluate("""() => Array.from(document.querySelectorAll('#list .msg')).map(n => ({
                cls: n.className, text: n.textContent,
                imgs: Array.from(n.querySelectorAll('img')).map(i => [i.className, i.src, i.naturalWidth > 0]),
            }))""")
            assert len(cards) == 6, cards  # the guard toast repeats the GUARD_BUY: one card
            first, emote, inline, gift, sc, guard = cards
            assert first["cls"] == "msg danmaku"
            assert f"舰长{cap.medal_name}{cap.medal_level}{cap.uname}:晚上好" == first["text"]
            assert emote["imgs"] == [["emote", EMOTE_URL, True]] and "has-emote" in emote["cls"]
            assert inline["imgs"] == [["emot", DOG_URL, True]] and inline["text"].endswith("hi  there")
            assert gift["cls"] == "msg gift paid"
            assert gift["imgs"] == [["gift-img", "https://s1.hdslb.com/bfs/live/gift-32132.png", True]]
            assert gift["text"].endswith("投喂告白气球×2¥104")
            assert sc["cls"] == "msg sc sc-t4" and sc["text"].endswith("¥500a paid hello")  # ¥500: the orange tier
            assert guard["cls"] == "msg guard g2" and guard["text"].endswith(f"{u['plain'].uname}开通了提督×3月")
            # the super chat is pinned with its remaining time (300 s at ¥500) running down
            pin = await page.evaluate("""() => { const p = document.querySelector('#pinned .pin');
                return p && [p.className, p.textContent, p.querySelector('.pin-bar').style.animationDuration]; }""")
            assert pin == ["pin sc-t4", f"{cap.uname}¥500", "300s"]
            colours = await page.evaluate("""() => [
                getComputedStyle(document.querySelector('.sc-head')).backgroundColor,
                getComputedStyle(document.body).backgroundColor]""")
            assert colours == ["rgb(224, 148, 67)", "rgba(0, 0, 0, 0)"]  # tier colour; transparent page
            # deleting the super chat unpins it
            sim.inject(ROOM, {"cmd": "SUPER_CHAT_MESSAGE_DELETE", "data": {"ids": [777]}, "roomid": room.room_id})
            await wait_js(page, "document.querySelectorAll('[data-sc-id]').length === 0")
            assert page.errors == []


async def test_hostile_names_and_texts_render_as_text(tmp_path):
    hostile = '<img src=x onerror="window.pwned=1">'
    async with run_simulator(rooms=[ROOM]) as sim, overlay_pipeline(tmp_path, sim) as sink:
        user = users(sim)["plain"]
        user.uname = "<b id=bold>x</b><svg onload=pwned=2>"  # names are cut at 40 characters
        room = sim.room(ROOM)
        async with browser_page(sink.url) as page:
            await wait_js(page, "window.overlayStats && overlayStats.connects === 1")
            sc = M.super_chat(user, room, time.time(), hostile, 30, 1)
            sim.inject(ROOM, [
                danmaku(sim, hostile, user),
                M.with_emoticons(danmaku(sim, "[x]", user), emoticon={"url": "javascript:window.pwned=3"}),
                M.with_emoticons(danmaku(sim, "a [y] b", user), emots={"[y]": {"url": "javascript:window.pwned=4"}}),
                sc,
            ])
            await wait_js(page, "document.querySelectorAll('#list .msg').length >= 4")
            texts = await page.evaluate(TEXTS)
            assert texts[0] == f"{user.uname}:{hostile}"
            assert texts[1] == f"{user.uname}:[x]" and texts[2] == f"{user.uname}:a [y] b"  # no unsafe image
            assert texts[3] == f"{user.uname}¥30{hostile}"
            found = await page.evaluate("""() => ({pwned: window.pwned, bold: !!document.getElementById('bold'),
                scripts: document.querySelectorAll('script').length, imgs: document.querySelectorAll('img').length})""")
            assert found == {"pwned": None, "bold": False, "scripts": 1, "imgs": 0}
            assert page.errors == []


async def test_styles_and_unknown_style(tmp_path):
    async with run_simulator(rooms=[ROOM]) as sim, overlay_pipeline(tmp_path, sim, style="compact") as sink:
        probe = """() => { const m = document.querySelector('#list .msg'); const s = getComputedStyle(m);
            return [document.body.dataset.style, s.backgroundColor, s.whiteSpace, s.textShadow !== 'none']; }"""
        seen = {}
        for query in ("", "?style=default", "?style=bubble", "?style=compact", "?style=nope"):
            async with browser_page(sink.url + query) as page:
                await wait_js(page, "window.overlayStats && overlayStats.connects === 1")
                sim.inject(ROOM, danmaku(sim, f"style {query}"))
                await wait_js(page, "document.querySelector('#list .msg')")
                seen[query] = await page.evaluate(probe)
        assert seen[""] == seen["?style=compact"] == ["compact", "rgba(0, 0, 0, 0)", "nowrap", True]  # sink default
        assert seen["?style=default"] == seen["?style=nope"] == ["default", "rgba(0, 0, 0, 0)", "normal", True]
        assert seen["?style=bubble"] == ["bubble", "rgba(20, 24, 36, 0.78)", "normal", False]


async def test_css_parameter_adds_rules_and_cannot_add_elements(tmp_path):
    css = ".name { color: rgb(1, 2, 3) } </style><script>window.pwned = 1</script><style>"
    async with run_simulator(rooms=[ROOM]) as sim, overlay_pipeline(tmp_path, sim) as sink:
        async with browser_page(sink.url + "?css=" + quote(css)) as page:
            await wait_js(page, "window.overlayStats && overlayStats.connects === 1")
            sim.inject(ROOM, danmaku(sim, "styled"))
            await wait_js(page, "document.querySelector('#list .name')")
            found = await page.evaluate("""() => [getComputedStyle(document.querySelector('.name')).color,
                window.pwned, document.querySelectorAll('script').length, document.querySelectorAll('style').length]""")
            assert found == ["rgb(1, 2, 3)", None, 1, 1]


async def test_hide_filter_and_max_bound_what_is_shown(tmp_path):
    async with run_simulator(rooms=[ROOM]) as sim, overlay_pipeline(tmp_path, sim, history=0) as sink:
        cap = users(sim)["captain"]
        room = sim.room(ROOM)
        async with browser_page(sink.url + "?hide=gift,guard,medal&max=5") as page:
            await wait_js(page, "window.overlayStats && overlayStats.connects === 1")
            now = time.time()
            batch = []
            for i in range(20):
                batch.append(danmaku(sim, f"line {i}", cap))
                batch.append(M.send_gift(cap, room, now + i, gift_index=1, rnd=10**18 + i))
            batch.append(M.guard_buy(cap, room, now, guard_level=3))
            sim.inject(ROOM, batch)
            await wait_js(page, "overlayStats.received === 41")
            await wait_js(page, "overlayStats.rendered + overlayStats.skipped === 20")
            texts = await page.evaluate(TEXTS)
            assert texts == [f"舰长{cap.medal_name}{cap.medal_level}{cap.uname}:line {i}" for i in range(15, 20)]
            stats = await page.evaluate("overlayStats")
            assert stats["hidden"] == 21
            medal_shown = await page.evaluate("getComputedStyle(document.querySelector('.medal')).display")
            assert medal_shown == "none"


async def test_a_new_page_gets_the_last_events_of_the_history(tmp_path):
    async with run_simulator(rooms=[ROOM]) as sim, overlay_pipeline(tmp_path, sim, history=3) as sink:
        sim.inject(ROOM, [danmaku(sim, f"early {i}") for i in range(10)])
        await wait_until(lambda: sink.hub.seq == 10, timeout=30)
        async with browser_page(sink.url) as page:
            await wait_js(page, "overlayStats.rendered === 3")
            texts = await page.evaluate(TEXTS)
            assert [t.split(":", 1)[1] for t in texts] == ["early 7", "early 8", "early 9"]


async def test_the_page_resumes_after_its_stream_is_cut_without_repeating(tmp_path):
    async with run_simulator(rooms=[ROOM]) as sim, overlay_pipeline(tmp_path, sim, history=100) as sink:
        async with browser_page(sink.url) as page:
            await wait_js(page, "window.overlayStats && overlayStats.connects === 1")
            sim.inject(ROOM, [danmaku(sim, f"a{i}") for i in range(5)])
            await wait_js(page, "overlayStats.rendered === 5")
            # cut the stream: the browser reconnects with Last-Event-ID and gets only what it missed
            for v in list(sink.hub.viewers):
                v.end("test")
            sim.inject(ROOM, [danmaku(sim, f"b{i}") for i in range(3)])  # sent while it is away
            await wait_js(page, "overlayStats.connects === 2 && overlayStats.rendered === 8")
            assert (await page.evaluate("overlayStats.duplicates")) == 0
            # as if the server restarted with the same history: the page gets everything again, shows it once
            sink.hub.boot = "restarted"
            for v in list(sink.hub.viewers):
                v.end("test")
            await wait_js(page, "overlayStats.connects === 3 && overlayStats.duplicates === 8")
            sim.inject(ROOM, danmaku(sim, "c0"))
            await wait_js(page, "overlayStats.rendered === 9")
            texts = [t.split(":", 1)[1] for t in await page.evaluate(TEXTS)]
            assert texts == [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(3)] + ["c0"]
            assert page.errors == []


async def test_the_page_recovers_when_the_pipeline_restarts(tmp_path):
    port = free_port()
    async with run_simulator(rooms=[ROOM]) as sim:
        first = overlay_pipeline(tmp_path, sim, port=port)
        sink = await first.__aenter__()
        running = True
        try:
            assert sink.port == port
            async with browser_page(sink.url) as page:
                await wait_js(page, "window.overlayStats && overlayStats.connects === 1")
                sim.inject(ROOM, danmaku(sim, "before"))
                await wait_js(page, "overlayStats.rendered === 1")
                running = False
                await first.__aexit__(None, None, None)
                await wait_js(page, "overlayStats.errors >= 1")  # the page noticed the server is gone
                async with overlay_pipeline(tmp_path, sim, port=port):
                    await wait_js(page, "overlayStats.connects === 2", timeout=60)
                    sim.inject(ROOM, danmaku(sim, "after"))
                    await wait_js(page, "overlayStats.rendered === 2")
                    texts = [t.split(":", 1)[1] for t in await page.evaluate(TEXTS)]
                    assert texts == ["before", "after"]
        finally:
            if running:
                await first.__aexit__(None, None, None)
