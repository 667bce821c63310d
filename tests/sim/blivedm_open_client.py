"""Run blivedm's ``OpenLiveClient`` (unchanged) against a simulator; report what it sees as JSON lines.

Started by tests/sim/test_sim_open_interop.py in a subprocess whose ``sys.path`` puts
laplace-blivedm first (it installs as the package ``blivedm``, which in the test environment is
the older blivedm 0.1.1). Only the module's URL constants are pointed at the simulator.

argv: base_url app_id access_key_id access_key_secret auth_code. stdin: one line ``stop`` ends the
client with ``stop_and_close()`` (which calls ``/v2/app/end``). stdout: ``@@livepipe {"event": ...}``
lines (other lines are the library's own prints).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sys

#: our lines start with this (laplace-blivedm prints debug text of its own to stdout)
MARK = "@@livepipe "


def out(event: str, **data: object) -> None:
    print(MARK + json.dumps({"event": event, **data}, ensure_ascii=False, default=str), flush=True)


class _Errors(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            out("log", level=record.levelname, message=record.getMessage()[:500])


async def main() -> None:
    import blivedm
    import blivedm.clients.open_live as open_live

    base, app_id, key_id, secret, code = sys.argv[1:6]
    open_live.START_URL = base + "/v2/app/start"
    open_live.HEARTBEAT_URL = base + "/v2/app/heartbeat"
    open_live.END_URL = base + "/v2/app/end"
    logging.getLogger("blivedm").addHandler(_Errors())

    class Handler(blivedm.BaseHandler):
        def _on_heartbeat(self, client, message):
            out("heartbeat")

        def _on_open_live_danmaku(self, client, message):
            out("danmaku", **dataclasses.asdict(message))

        def _on_open_live_gift(self, client, message):
            out("gift", **dataclasses.asdict(message))

        def _on_open_live_buy_guard(self, client, message):
            out("guard", **dataclasses.asdict(message))

        def _on_open_live_super_chat(self, client, message):
            out("super_chat", **dataclasses.asdict(message))

        def _on_open_live_super_chat_delete(self, client, message):
            out("super_chat_delete", **dataclasses.asdict(message))

        def _on_open_live_like(self, client, message):
            out("like", **dataclasses.asdict(message))

    client = blivedm.OpenLiveClient(key_id, secret, int(app_id), code, game_heartbeat_interval=0.5)
    client.set_handler(Handler())
    client.start()
    out("started", module=blivedm.__file__)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    out("room", room_id=client.room_id, game_id=client.game_id, anchor_open_id=client.room_owner_open_id)
    await client.stop_and_close()
    out("closed")


if __name__ == "__main__":
    asyncio.run(main())
