"""Sans-I/O codec for the Bilibili live WebSocket packet format.

Bytes in, packets out; packets in, bytes out. No sockets, no asyncio. See docs/bilibili/protocol.md.

A packet is a 16-byte big-endian header ``>IHHII`` (pack_len, header_len, ver, op, seq) and a body.
``ver`` 2 (zlib) and 3 (brotli) bodies hold further complete packets; they are unpacked recursively.
The heartbeat reply (op 3) is the one quirk: its ``pack_len`` is 20 and excludes the echo of the
client's heartbeat body that follows it, so the rest of the frame after such a packet is the echo.
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

import brotli

from livepipe.errors import DecodeError

HEADER = struct.Struct(">IHHII")
HEADER_LEN = 16

# Operation codes used by the web client.
OP_HEARTBEAT = 2
OP_HEARTBEAT_REPLY = 3
OP_COMMAND = 5
OP_AUTH = 7
OP_AUTH_REPLY = 8

# Body protocol versions.
VER_PLAIN_JSON = 0
VER_PLAIN = 1
VER_ZLIB = 2
VER_BROTLI = 3

#: Upper bound for the decompressed size of one compressed body (a guard against decompression bombs).
MAX_DECOMPRESSED = 16 * 1024 * 1024
#: Compressed bodies nest packets; real traffic nests once. Deeper nesting is refused.
MAX_DEPTH = 4


class ProtocolError(DecodeError, ValueError):
    """Malformed packet data. The only exception :func:`decode_frame` raises."""


class Packet(NamedTuple):
    """One decoded packet. For op 3, ``popularity`` holds the uint32 and ``body`` the 4 bytes."""

    op: int
    ver: int
    seq: int
    body: bytes

    @property
    def popularity(self) -> int:
        """The heartbeat reply's popularity figure (op 3 only)."""
        if self.op != OP_HEARTBEAT_REPLY or len(self.body) < 4:
            raise ProtocolError("popularity is only carried by a heartbeat reply (op 3) of at least 4 bytes")
        return int.from_bytes(self.body[:4], "big")


_new_packet = tuple.__new__


def encode_packet(op: int, body: bytes | str = b"", ver: int = VER_PLAIN, seq: int = 1) -> bytes:
    """Encode one packet: header + body. ``body`` may be text (encoded as UTF-8)."""
    if isinstance(body, str):
        body = body.encode()
    return HEADER.pack(HEADER_LEN + len(body), HEADER_LEN, ver, op, seq) + body


def encode_compressed(packets: bytes, ver: int = VER_BROTLI, op: int = OP_COMMAND, seq: int = 0) -> bytes:
    """Wrap already-encoded inner packets in one zlib (ver 2) or brotli (ver 3) packet."""
    if ver == VER_BROTLI:
        body = brotli.compress(packets, quality=4)
    elif ver == VER_ZLIB:
        body = zlib.compress(packets)
    else:
        raise ValueError(f"ver must be {VER_ZLIB} (zlib) or {VER_BROTLI} (brotli), not {ver}")
    return encode_packet(op, body, ver=ver, seq=seq)


def heartbeat(body: bytes = b"{}") -> bytes:
    """The client heartbeat packet (op 2, ver 1)."""
    return encode_packet(OP_HEARTBEAT, body)


def heartbeat_reply(popularity: int, echo: bytes = b"") -> bytes:
    """The server heartbeat reply, quirk included: ``pack_len`` is 20 and the echo trails it."""
    header = HEADER.pack(HEADER_LEN + 4, HEADER_LEN, VER_PLAIN, OP_HEARTBEAT_REPLY, 0)
    return header + popularity.to_bytes(4, "big") + echo


def _decompress(ver: int, body: bytes) -> bytes:
    try:
        if ver == VER_BROTLI:
            # Bounded: the decompressor stops growing its output at the limit (brotli >= 1.1).
            d = brotli.Decompressor()
            out = d.process(body, output_buffer_limit=MAX_DECOMPRESSED + 1)
            if len(out) > MAX_DECOMPRESSED or (not d.is_finished() and not d.can_accept_more_data()):
                raise ProtocolError("brotli body decompresses to more than the allowed size")
            if not d.is_finished():
                raise ProtocolError("truncated brotli body")
            return out
        z = zlib.decompressobj()
        out = z.decompress(body, MAX_DECOMPRESSED)
        if z.unconsumed_tail:
            raise ProtocolError("zlib body decompresses to more than the allowed size")
        if not z.eof:
            raise ProtocolError("truncated zlib body")
        return out
    except ProtocolError:
        raise
    except Exception as e:  # brotli.error, zlib.error, MemoryError from a hostile stream
        kind = "brotli" if ver == VER_BROTLI else "zlib"
        raise ProtocolError(f"cannot decompress {kind} body: {e}") from None


def _decode(data: bytes, out: list[Packet], depth: int) -> None:
    n = len(data)
    off = 0
    while off < n:
        if n - off < HEADER_LEN:
            raise ProtocolError(f"{n - off} trailing bytes at offset {off}: too short for a 16-byte header")
        pack_len, header_len, ver, op, seq = HEADER.unpack_from(data, off)
        if header_len < HEADER_LEN or header_len > pack_len:
            raise ProtocolError(f"bad header_len {header_len} (pack_len {pack_len}) at offset {off}")
        if off + pack_len > n:
            raise ProtocolError(f"packet at offset {off} claims {pack_len} bytes but only {n - off} remain")
        body = data[off + header_len : off + pack_len]
        off += pack_len
        if ver in (VER_ZLIB, VER_BROTLI) and op == OP_COMMAND:
            if depth >= MAX_DEPTH:
                raise ProtocolError("compressed packets nested too deeply")
            _decode(_decompress(ver, body), out, depth + 1)
            continue
        out.append(_new_packet(Packet, (op, ver, seq, body)))  # Packet(...) without the keyword-handling __new__
        if op == OP_HEARTBEAT_REPLY and depth == 0:
            # Quirk: the echo of the client heartbeat body follows outside pack_len. Nothing else
            # shares a frame with a heartbeat reply, so the rest of the frame is that echo.
            return


def decode_frame(data: bytes) -> list[Packet]:
    """Decode one WebSocket message into its packets, unpacking compressed bodies.

    Raises :class:`ProtocolError` (and nothing else) on malformed input.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError(f"a frame must be bytes, not {type(data).__name__}")
    out: list[Packet] = []
    _decode(bytes(data), out, 0)
    return out
