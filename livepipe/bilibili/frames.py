"""Reading a danmaku WebSocket's frames in the protocol callback: :class:`FrameConnection`.

Used by :class:`~livepipe.bilibili.client.DanmakuClient` when its events are pushed on without
waiting (``bilibili.danmaku``): with 1,000 quiet rooms every event comes in a frame of its own,
and websockets' generator-based frame parser, its message queue, ``recv()`` and the task wake-up
for each frame were much of what a room cost per event (issue 20, ``bench/rooms.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode

__all__ = ["FrameConnection"]

_TEXT, _BINARY, _CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT


class FrameConnection(ClientConnection):
    """websockets' client connection that hands each complete data frame to :attr:`on_frame` at once.

    Once :meth:`read_frames` switched it on (right after the handshake, before anything else was
    received), it reads the frames itself in :meth:`data_received`: a server's frames are
    unmasked, so the common one (one whole binary or text frame: Bilibili never fragments) is a
    2-10 byte header and the payload, passed to :attr:`on_frame` without websockets' parser, message
    queue and ``recv()``. Anything else (a control frame: ping, pong, close; a fragment; reserved
    bits; a frame over ``max_size``) hands the rest of the stream, from that frame on, to websockets
    for good, which then handles it as it always did; so does a stream where something arrived
    before :meth:`read_frames`. Frames websockets parsed go to :attr:`on_frame` as well when they
    are whole data frames and nothing is queued before them, else through ``recv()``
    (:attr:`queued`), so frames are always handled in the order they arrived.
    """

    on_frame: Callable[[bytes], None] | None = None
    queued = 0  # messages (or a message being assembled) in websockets' queue, not yet taken by recv()
    _own: bytearray | None = None  # reading frames here: the bytes of an incomplete frame (None = websockets reads)
    _seen = False  # websockets parsed a frame (too late to read them here)

    def read_frames(self) -> None:
        """Read the frames here from now on, if websockets holds nothing of the stream yet."""
        if not self._seen and not self.queued and not self.protocol.reader.buffer:
            self._own = bytearray()

    def data_received(self, data: bytes) -> None:
        """Bytes from the socket: whole plain data frames to :attr:`on_frame`, the rest kept or given to websockets."""
        buf = self._own
        if buf is None:
            super().data_received(data)
            return
        if buf:
            buf += data
            data = bytes(buf)
            buf.clear()
        handler, limit, n, i = self.on_frame, self.protocol.max_message_size, len(data), 0
        while n - i >= 2:
            b0, b1 = data[i], data[i + 1]
            size, start = b1 & 0x7F, i + 2
            if size == 126:
                if n - i < 4:
                    break
                size, start = int.from_bytes(data[i + 2 : i + 4], "big"), i + 4
            elif size == 127:
                if n - i < 10:
                    break
                size, start = int.from_bytes(data[i + 2 : i + 10], "big"), i + 10
            if (b0 & 0xF0) != 0x80 or (b0 & 0x0F) not in (1, 2) or b1 & 0x80 or (limit is not None and size > limit):
                self._own = None  # not a whole, plain data frame: websockets takes the stream from here
                super().data_received(data[i:])
                return
            end = start + size
            if end > n:
                break
            if handler is not None:  # (None once the client is done with the connection: dropped)
                handler(data[start:end])
            i = end
        if i < n:
            buf += data[i:] if i else data

    def process_event(self, event: Any) -> None:
        """A frame websockets parsed: a whole data frame to :attr:`on_frame` unless messages are queued before it."""
        if type(event) is Frame and self.response is not None:
            self._seen = True
            op = event.opcode
            if op is _BINARY or op is _TEXT or op is _CONT:
                handler = self.on_frame
                if handler is not None and event.fin and op is not _CONT and not self.queued:
                    data = event.data
                    handler(data if type(data) is bytes else bytes(data))
                    return
                if op is not _CONT:
                    self.queued += 1  # counted when it starts: recv() returns it once complete
        super().process_event(event)
