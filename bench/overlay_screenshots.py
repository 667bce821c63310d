"""Take the screenshots of the overlay's styles for docs/overlay.md (not a test, not a benchmark).

    python bench/overlay_screenshots.py [--out docs/img] [--chromium /usr/bin/chromium]

Runs the simulator and a real pipeline (simulator -> bilibili.danmaku -> overlay) in this process,
injects one scripted scene (danmaku from viewers with medals and guard badges, an emoticon, gifts,
super chats of three price tiers, a guard purchase) and photographs the page once per style with
Debian's chromium through Playwright, over a grey backdrop (the page itself is transparent). Outside
images (gifts, emoticons) are drawn locally, since the machine has no network. A CJK font must be
installed for the Chinese texts (Debian: ``fonts-wqy-microhei``).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/nats.py shadows nats-py
sys.path.insert(0, str(HERE.parent))

from playwright.async_api import async_playwright  # noqa: E402

from livepipe import testing  # noqa: E402
from livepipe.sim import messages as M  # noqa: E402
from livepipe.sim import run_simulator  # noqa: E402
from tests.components.overlay_support import CHROMIUM_ARGS, PIPELINE  # noqa: E402

ROOM = 1000
STYLES = ("default", "bubble", "compact")
BACKDROP = "html { background: #3d4757; }"  # flat: keeps the PNG small
GIFT_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="34" r="24" '
            b'fill="#ff7aa8"/><rect x="28" y="6" width="8" height="20" fill="#ffd26a"/></svg>')
EMOTE_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="28" '
             b'fill="#ffd35c"/><circle cx="22" cy="26" r="4"/><circle cx="42" cy="26" r="4"/>'
             b'<path d="M18 40 Q32 54 46 40" stroke="#000" stroke-width="4" fill="none"/></svg>')



def scene(sim: Any) -> list[dict[str, Any]]:
    """The messages every screenshot shows, oldest first."""
    room = sim.room(ROOM)
    pop = sim.populations[room.room_id].users
    medalled = [u for u in pop if u.medal_level and not u.guard_level]
    by_guard = {}
    for g in (1, 2, 3):  # a viewer of each guard level (the population may lack one: promote a viewer)
        by_guard[g] = next((u for u in pop if u.guard_level == g and u.medal_level), None) or medalled.pop()
        by_guard[g].guard_level = g
    plain = [u for u in pop if not u.guard_level][:4]
    now = time.time()
    rnd = iter(range(1, 100))

    def dm(user: Any, text: str) -> dict[str, Any]:
        return M.danmaku(user, text, room, now, rnd=next(rnd))

    return [
        dm(plain[0], "晚上好！今天播什么"),
        dm(by_guard[3], "来了来了"),
        M.send_gift(plain[1], room, now, gift_index=0, num=5),
        dm(plain[2], "这操作太秀了"),
        M.with_emoticons(dm(plain[3], "[妙啊]"), emoticon={
            "emoticon_unique": "official_101", "url": "https://i0.hdslb.com/bfs/live/emote.png",
            "width": 60, "height": 60}),
        M.super_chat(by_guard[3], room, now, "主播唱一首晴天吧！", 30, 1),
        dm(by_guard[2], "好听，再来一首"),
        M.send_gift(by_guard[2], room, now, gift_index=6, num=1),
        M.guard_buy(plain[1], room, now, guard_level=3, num=1),
        M.super_chat(by_guard[1], room, now, "生日快乐！一直支持你", 100, 2),
        dm(by_guard[1], "大家晚上好"),
        M.super_chat(plain[0], room, now, "第一次SC，请多关照", 1000, 3),
    ]


async def main() -> None:
    """Parse the arguments, run the pipeline, take one screenshot per style."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("docs/img"), help="directory for overlay-STYLE.png")
    ap.add_argument("--chromium", default="/usr/bin/chromium", help="chromium binary")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    async with run_simulator(rooms=[ROOM], seed=1) as sim:
        with tempfile.TemporaryDirectory() as tmp:
            toml = PIPELINE.format(sim=sim.base_url, room=ROOM, port=0, options="history = 50")
            async with testing.running_pipeline(toml, Path(tmp)) as p:
                await sim.wait_for_clients(ROOM, timeout=30)
                sink = p.components["overlay"]
                messages = scene(sim)
                sim.inject(ROOM, messages)
                await testing.wait_until(lambda: sink.hub.seq >= len(messages), timeout=30)
                async with async_playwright() as pw:
                    browser = await pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)

                    async def image(route: Any) -> None:
                        body = EMOTE_SVG if "emote" in route.request.url else GIFT_SVG
                        await route.fulfill(status=200, content_type="image/svg+xml", body=body)

                    for style in STYLES:
                        page = await browser.new_page(viewport={"width": 420, "height": 600}, bypass_csp=True)
                        await page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), image)
                        await page.goto(f"{sink.url}?style={style}")
                        await page.wait_for_function(f"overlayStats.rendered === {len(messages)}")
                        await page.add_style_tag(content=BACKDROP + " .msg { animation: none !important; }")
                        await page.wait_for_function(
                            "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
                        path = args.out / f"overlay-{style}.png"
                        await page.screenshot(path=str(path))
                        print(f"{path}: {path.stat().st_size // 1024} KB")
                        await page.close()
                    await browser.close()
                p.request_shutdown()


if __name__ == "__main__":
    asyncio.run(main())
