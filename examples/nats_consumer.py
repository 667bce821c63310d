"""A plain nats-py consumer of livepipe events: no livepipe import, just subjects, headers and JSON.

    python examples/nats_consumer.py                       # core: live danmaku of every room
    python examples/nats_consumer.py --subject 'livepipe.1001.>'
    python examples/nats_consumer.py --stream LIVEPIPE --durable demo   # JetStream, acked

Subjects are ``livepipe.<room_id>.<kind>`` (kinds with a dot span two tokens: ``action.ban``);
the payload is the event JSON documented in docs/events.md and docs/event.schema.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import nats
import nats.errors

SUPPORTED_VERSION = 1


def show(subject: str, headers: dict[str, str] | None, data: bytes) -> None:
    event = json.loads(data)
    if event.get("v") != SUPPORTED_VERSION:
        print(f"skipping {subject}: event version {event.get('v')!r}")
        return
    msg_id = (headers or {}).get("Nats-Msg-Id", event["id"])
    who = f"{event['uname']} ({event['uid']})" if event.get("uid") is not None else "-"
    print(f"[{event['room_id']}] {event['kind']:<12} {who}: {event.get('text') or ''}  id={msg_id}")


async def core(nc: nats.NATS, subject: str) -> None:
    async def on_msg(msg) -> None:
        show(msg.subject, msg.headers, msg.data)

    await nc.subscribe(subject, cb=on_msg)
    await asyncio.Event().wait()


async def jetstream(nc: nats.NATS, subject: str, stream: str, durable: str) -> None:
    sub = await nc.jetstream().pull_subscribe(subject, durable=durable, stream=stream)
    while True:
        try:
            msgs = await sub.fetch(100, timeout=5)
        except nats.errors.TimeoutError:
            continue
        for msg in msgs:
            try:
                show(msg.subject, msg.headers, msg.data)
            except (ValueError, KeyError) as e:
                print(f"not an event on {msg.subject}: {e}")
                await msg.term()  # never redeliver a message we cannot read
                continue
            await msg.ack()  # acknowledged only after it was handled


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", default="nats://127.0.0.1:4222")
    ap.add_argument("--subject", default="livepipe.*.danmaku")
    ap.add_argument("--stream", help="consume this JetStream stream durably instead of subscribing")
    ap.add_argument("--durable", default="nats-consumer-example")
    args = ap.parse_args()
    nc = await nats.connect(args.server, max_reconnect_attempts=-1)
    try:
        if args.stream:
            await jetstream(nc, args.subject, args.stream, args.durable)
        else:
            await core(nc, args.subject)
    finally:
        await nc.drain()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
