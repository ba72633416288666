"""RFC 6455 written out by hand (opening handshake and frames), for clients that must break
the protocol on purpose.

A well-behaved WebSocket library refuses to send unmasked frames, lying length fields,
reserved bits or invalid UTF-8; the raw clients (:mod:`tests.support.wsclient` over a
blocking socket, :mod:`tests.support.hostile_phones` over Twisted) and the in-memory
protocol tests all encode and decode with this one copy.
"""
from __future__ import annotations

import base64
import os
import struct

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def handshake_request(path: str = "/ws1/validate", host: str = "127.0.0.1", extra_headers: str = "") -> bytes:
    """The client's opening handshake; ``extra_headers`` are CRLF-terminated header lines."""
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra_headers}\r\n").encode()


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


def close_codes(data: bytes) -> list[int]:
    """The close codes of the server frames in ``data`` (after a 101 response, if it has one)."""
    if b"HTTP/1.1 101" in data:
        data = data[data.find(b"\r\n\r\n") + 4:]
    codes = []
    while (got := decode_frame(data)) is not None:
        opcode, payload, used = got
        if opcode == OP_CLOSE and len(payload) >= 2:
            codes.append(struct.unpack("!H", payload[:2])[0])
        data = data[used:]
    return codes
