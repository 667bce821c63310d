"""The nats sink builds each HPUB frame itself: byte for byte what nats-py's ``publish`` writes, same checks."""

from __future__ import annotations

import sys
from pathlib import Path

import nats
import nats.errors
import pytest

from livepipe.components import nats_sink
from livepipe.components.nats_sink import NatsSink, header_block

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "components"))
from component_helpers import build, ev  # noqa: E402

pytestmark = pytest.mark.anyio

EVENTS = [
    ev("danmaku", id="a1", room_id=1001, text="hi"),
    ev("action.ban", id="  spaced id\r\nwith newlines  ", room_id=7, uid=5),  # trimmed, CR/LF -> spaces
    ev("odd kind", id="x" * 300, room_id=None),  # no Livepipe-Room header
    ev("danmaku", id="中文-id", room_id=2**40, text="长" * 2000),
]


async def _frames(nc, publish) -> list[bytes]:
    """Every command ``publish`` hands to the client's outgoing buffer."""
    got: list[bytes] = []
    real = nc._send_command

    async def capture(cmd: bytes, priority: bool = False) -> None:
        got.append(cmd)
        await real(cmd, priority)

    nc._send_command = capture
    try:
        await publish()
    finally:
        nc._send_command = real
    return got


@pytest.mark.parametrize("jetstream", [False, True], ids=["core", "jetstream"])
async def test_frames_equal_nats_py_publish(nats_server, tmp_path, jetstream):
    assert nats_sink._FAST_PUBLISH, "this nats-py lacks what the fast publish path uses: it falls back to publish"
    cfg = {"inputs": ["src"], "servers": [nats_server.url], "subject": "wire.{room_id}.{kind}"}
    if jetstream:
        cfg |= {"jetstream": True, "stream": "WIRE"}
    sink = build(NatsSink, cfg, config_dir=tmp_path)
    nc = await nats.connect(nats_server.url)
    try:
        for event in EVENTS:
            out = sink._message(event)
            headers = {"Nats-Msg-Id": event.id, "Livepipe-Kind": event.kind}
            if event.room_id is not None:
                headers["Livepipe-Room"] = str(event.room_id)
            if jetstream:
                headers["Nats-Expected-Stream"] = "WIRE"
            assert out.headers == header_block(headers)
            reply = "_INBOX.abc.7" if jetstream else ""
            ours = await _frames(nc, lambda o=out, r=reply: sink._publish(nc, o, reply=r))
            theirs = await _frames(nc, lambda o=out, r=reply, h=headers: nc.publish(o.subject, o.payload, reply=r,
                                                                                     headers=h))
            assert len(ours) == 1 and ours == theirs
        await nc.flush()
        # the fallback (nats-py's publish with the headers parsed back) writes the same bytes too
        sink._fast = False
        out = sink._message(EVENTS[1])
        slow = await _frames(nc, lambda: sink._publish(nc, out))
        sink._fast = True
        fast = await _frames(nc, lambda: sink._publish(nc, out))
        assert slow == fast
    finally:
        await nc.close()


async def test_same_checks_as_publish(nats_server, tmp_path):
    sink = build(NatsSink, {"inputs": ["src"], "servers": [nats_server.url]}, config_dir=tmp_path)
    nc = await nats.connect(nats_server.url)
    try:
        big = sink._message(ev("danmaku", id="big", text="x" * (nc.max_payload + 1)))
        with pytest.raises(nats.errors.MaxPayloadError):
            await sink._publish(nc, big)
        with pytest.raises(nats.errors.MaxPayloadError):
            await nc.publish(big.subject, big.payload)
    finally:
        await nc.close()
    small = sink._message(ev("danmaku", id="small"))
    with pytest.raises(nats.errors.ConnectionClosedError):
        await sink._publish(nc, small)
