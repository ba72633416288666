"""RFC 6455 framing written out by hand, for clients that must break the protocol on purpose.

A well-behaved WebSocket library refuses to send unmasked frames, lying length fields,
reserved bits or invalid UTF-8; the raw clients (:mod:`tests.support.wsclient` over a
blocking socket, :mod:`tests.support.hostile_phones` over Twisted) and the in-memory
protocol tests all encode and decode with this one copy.
"""
from __future__ import annotations

import os
import struct

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True, rsv: int = 0,
          declared_length: int | None = None) -> bytes:
    """One client frame; ``declared_length`` may lie about the payload size."""
    n = len(payload) if declared_length is None else declared_length
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    mask_bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def decode_frame(buf: bytes) -> tuple[int, bytes, int] | None:
    """(opcode, payload, bytes consumed) of the first complete server frame, or None."""
    if len(buf) < 2:
        return None
    opcode, n, i = buf[0] & 0x0F, buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, i = struct.unpack("!H", buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, i = struct.unpack("!Q", buf[2:10])[0], 10
    if len(buf) < i + n:
        return None
    return opcode, bytes(buf[i : i + n]), i + n
