"""A deliberately primitive WebSocket client over a blocking socket, for hostile phones.

The blocking twin of :mod:`tests.support.hostile_phones` (which runs inside a reactor);
both frame with :mod:`tests.support.wsframes`.

It can do what no well-behaved library will: unmasked frames, oversized control
frames, invalid UTF-8, endless fragments, never answering a close.  Server
frames are parsed just enough to see messages and the close code and reason.
"""
from __future__ import annotations

import json
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from tests.support.wsframes import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, frame, handshake_request

# The opcodes and the encoder are part of this client's interface for the tests that use it.
__all__ = ["OP_BINARY", "OP_CLOSE", "OP_CONT", "OP_PING", "OP_PONG", "OP_TEXT", "Received", "RawWebSocket",
           "frame"]

@dataclass
class Received:
    messages: list[tuple[int, bytes]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str | None = None
    eof: bool = False

    @property
    def texts(self) -> list[dict]:
        out = []
        for op, data in self.messages:
            if op == OP_TEXT:
                try:
                    out.append(json.loads(data))
                except ValueError:
                    out.append({"raw": data})
        return out

    @property
    def close_message(self) -> dict | None:
        return next((t for t in reversed(self.texts) if "close_code" in t), None)


class RawWebSocket:
    def __init__(self, port: int, path: str = "/ws1/validate", *, handshake: bool = True,
                 extra_headers: str = "", timeout: float = 10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.received = Received()
        self.response_head = b""
        if handshake:
            self.handshake(path, extra_headers)

    def handshake(self, path: str, extra_headers: str = "") -> bytes:
        self.sock.sendall(handshake_request(path, extra_headers=extra_headers))
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.response_head = head
        return head

    @property
    def accepted(self) -> bool:
        return self.response_head.startswith(b"HTTP/1.1 101")

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_text(self, text: str | bytes, **kw: Any) -> None:
        self.sock.sendall(frame(OP_TEXT, text.encode() if isinstance(text, str) else text, **kw))

    def send_json(self, obj: Any) -> None:
        self.send_text(json.dumps(obj))

    def send_binary(self, data: bytes, **kw: Any) -> None:
        self.sock.sendall(frame(OP_BINARY, data, **kw))

    def _read(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            try:
                chunk = self.sock.recv(65536)
            except OSError:          # reset, timeout, aborted: the connection is gone
                chunk = b""
            if not chunk:
                self.received.eof = True
                return None
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def next_frame(self) -> tuple[int, bytes] | None:
        head = self._read(2)
        if head is None:
            return None
        opcode, n = head[0] & 0x0F, head[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2) or b"\0\0")[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8) or bytes(8))[0]
        payload = self._read(n) if n else b""
        if payload is None:
            return None
        return opcode, payload

    def next_message(self, *, answer_close: bool = True) -> tuple[int, bytes] | None:
        """The next data message; records a close frame (and answers it) and returns None then."""
        while True:
            got = self.next_frame()
            if got is None:
                return None
            opcode, payload = got
            if opcode == OP_CLOSE:
                if len(payload) >= 2:
                    self.received.close_code = struct.unpack("!H", payload[:2])[0]
                    self.received.close_reason = payload[2:].decode("utf-8", "replace") or None
                if answer_close:
                    try:
                        self.sock.sendall(frame(OP_CLOSE, payload[:2]))
                    except OSError:
                        pass
                return None
            if opcode == OP_PING:
                try:
                    self.sock.sendall(frame(OP_PONG, payload))
                except OSError:
                    pass
                continue
            if opcode in (OP_TEXT, OP_BINARY):
                self.received.messages.append((opcode, payload))
                return opcode, payload

    def run_chip(self, chip: Any, *, delay: float = 0.0, stop_after: int | None = None) -> Received:
        """Act as a phone: every binary message goes to the chip, its answer comes back."""
        answered = 0
        while True:
            msg = self.next_message()
            if msg is None:
                return self.received
            opcode, payload = msg
            if opcode == OP_BINARY:
                if stop_after is not None and answered >= stop_after:
                    continue
                if delay:
                    time.sleep(delay)
                self.send_binary(chip.transmit(payload))
                answered += 1

    def drain(self, *, answer_close: bool = True) -> Received:
        while self.next_message(answer_close=answer_close) is not None:
            pass
        return self.received

    def wait_eof(self, timeout: float) -> float:
        """Seconds until the server closed the TCP connection (reads and discards everything)."""
        start = time.monotonic()
        self.sock.settimeout(0.2)
        while time.monotonic() - start < timeout:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return time.monotonic() - start
            if not chunk:
                return time.monotonic() - start
        return float("inf")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
