"""Hostile phones: WebSocket clients that break the protocol on purpose, selectable by name.

A well-behaved library cannot send unmasked frames, invalid UTF-8 or a StartMessage
as a binary frame, so this phone speaks RFC 6455 itself, over a plain Twisted TCP
connection.  Each behaviour (``PHONE_BEHAVIOURS``) plays one row of docs/reliability.md
b1/b2 and names the close the server must answer with; chip-relaying behaviours
forward APDUs to any object with ``transmit(bytes) -> bytes``::

    d = run_hostile_phone(reactor, "127.0.0.1", port, "never-answers", chip=profile.chip())
    d.addCallback(lambda record: print(record.close_code, record.close_reason))
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any, Callable

from twisted.internet import defer, protocol
from twisted.internet.interfaces import IReactorTime

from tests.support.wsframes import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, decode_frame, frame, handshake_request

@dataclass(repr=False)
class HostileRecord:
    http_status: int | None = None
    close_code: int | None = None
    close_reason: str | None = None
    close_message: dict[str, Any] | None = None
    statuses: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    apdus: int = 0

    def __repr__(self) -> str:
        return f"<HostileRecord http={self.http_status} close={self.close_code} {self.close_reason}>"


class HostilePhoneProtocol(protocol.Protocol):
    factory: "HostilePhoneFactory"

    def connectionMade(self) -> None:
        self.buf = b""
        self.open = False
        self.record = self.factory.record
        self.calls: list[Any] = []
        self.transport.write(handshake_request(self.factory.path, self.factory.host))

    # -- what behaviours use -------------------------------------------------------------

    def send(self, opcode: int, payload: bytes, **kw: Any) -> None:
        if self.transport is not None and self.open:
            self.transport.write(frame(opcode, payload, **kw))

    def send_json(self, obj: Any) -> None:
        self.send(OP_TEXT, json.dumps(obj).encode())

    def later(self, seconds: float, fn: Callable[..., Any], *args: Any) -> None:
        self.calls.append(self.factory.clock.callLater(seconds, fn, *args))

    def answer(self, apdu: bytes) -> None:
        self.record.apdus += 1
        self.send(OP_BINARY, self.factory.chip.transmit(apdu))

    def drop(self) -> None:
        if self.transport is not None:
            self.transport.abortConnection()

    # -- RFC 6455 ---------------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        self.buf += data
        if not self.open:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep:
                return
            try:
                self.record.http_status = int(head.split(b" ", 2)[1])
            except (IndexError, ValueError):
                self.record.http_status = 0
            if self.record.http_status != 101:
                self.transport.loseConnection()
                return
            self.open, self.buf = True, rest
            self.factory.behaviour.on_open(self)
        while self.open:
            got = decode_frame(self.buf)
            if got is None:
                return
            opcode, payload, used = got
            self.buf = self.buf[used:]
            self._frame(opcode, payload)

    def _frame(self, opcode: int, payload: bytes) -> None:
        if opcode == OP_CLOSE:
            if len(payload) >= 2:
                self.record.close_code = struct.unpack("!H", payload[:2])[0]
                self.record.close_reason = payload[2:].decode("utf-8", "replace") or None
            if self.factory.behaviour.answers_close:
                self.transport.write(frame(OP_CLOSE, payload[:2]))
                self.transport.loseConnection()
            self.open = False
        elif opcode == OP_PING:
            self.send(OP_PONG, payload)
        elif opcode == OP_TEXT:
            try:
                msg = json.loads(payload)
            except ValueError:
                return
            if isinstance(msg, dict) and "status" in msg:
                self.record.statuses.append(msg["status"])
            elif isinstance(msg, dict) and "close_code" in msg:
                self.record.close_message = msg
            elif isinstance(msg, dict) and "emrtd_passport" in msg:
                self.record.result = msg["emrtd_passport"]
            self.factory.behaviour.on_text(self, msg)
        elif opcode == OP_BINARY:
            self.factory.behaviour.on_apdu(self, payload)

    def connectionLost(self, reason: Any = None) -> None:
        for call in self.calls:
            if call.active():
                call.cancel()
        self.calls = []
        if not self.factory.done.called:
            self.factory.done.callback(self.record)


class HostilePhoneFactory(protocol.ClientFactory):
    protocol = HostilePhoneProtocol

    def __init__(self, behaviour: "PhoneBehaviour", *, host: str, path: str, clock: IReactorTime,
                 chip: Any = None):
        self.behaviour = behaviour
        self.host = host
        self.path = path
        self.clock = clock
        self.chip = chip
        self.record = HostileRecord()
        self.done: defer.Deferred = defer.Deferred()

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        if not self.done.called:
            self.done.errback(reason)


# ----------------------------------------------------------------------------- behaviours

@dataclass
class PhoneBehaviour:
    """Hooks of a hostile phone; the defaults are a polite phone relaying to the chip."""

    name: str
    row: str
    expect: tuple[int, str | None] | None        # (close code, reason) the server must send
    start: dict[str, Any] | None = None          # StartMessage fields (None: send none)
    answers_close: bool = True

    def on_open(self, phone: HostilePhoneProtocol) -> None:
        if self.start is not None:
            phone.send_json(self.start)

    def on_text(self, phone: HostilePhoneProtocol, msg: Any) -> None:
        pass

    def on_apdu(self, phone: HostilePhoneProtocol, apdu: bytes) -> None:
        phone.answer(apdu)


def start_message(access_key: dict[str, str], client_id: str = "YOUR CLIENT ID", **extra: Any) -> dict[str, Any]:
    msg = {"client_id": client_id, "validation_id": extra.pop("validation_id", "hostile-phone"),
           "access_key": access_key, "nfc_adapter_supports_extended_length": True, "platform": "hostile"}
    msg.update(extra)
    return msg


class _Raw(PhoneBehaviour):
    """Sends fixed bytes right after the handshake instead of a StartMessage."""

    def __init__(self, name: str, row: str, expect: Any, payload: bytes):
        super().__init__(name, row, expect)
        self.payload = payload

    def on_open(self, phone: HostilePhoneProtocol) -> None:
        phone.transport.write(self.payload)


class _TextAfterStart(PhoneBehaviour):
    def on_apdu(self, phone: HostilePhoneProtocol, apdu: bytes) -> None:
        phone.send(OP_TEXT, b'{"status": "I am a phone"}')


class _Silent(PhoneBehaviour):
    def on_apdu(self, phone: HostilePhoneProtocol, apdu: bytes) -> None:
        phone.record.apdus += 1


class _Drip(PhoneBehaviour):
    def __init__(self, name: str, row: str, expect: Any, start: Any, delay: float):
        super().__init__(name, row, expect, start)
        self.delay = delay

    def on_apdu(self, phone: HostilePhoneProtocol, apdu: bytes) -> None:
        phone.later(self.delay, phone.answer, apdu)


class _Disconnect(PhoneBehaviour):
    """Drops the TCP connection after ``after`` APDUs (a phone leaving mid-session)."""

    def __init__(self, name: str, row: str, start: Any, after: int):
        super().__init__(name, row, None, start)
        self.after = after

    def on_apdu(self, phone: HostilePhoneProtocol, apdu: bytes) -> None:
        if phone.record.apdus >= self.after:
            phone.drop()
        else:
            phone.answer(apdu)


class _Oversize(PhoneBehaviour):
    """Answers the first APDU with a frame that declares 1 MB (after a valid StartMessage)."""

    def on_apdu(self, phone: HostilePhoneProtocol, apdu: bytes) -> None:
        if phone.transport is not None:
            phone.transport.write(frame(OP_BINARY, b"", declared_length=1 << 20) + b"x" * 1024)


def phone_behaviours(access_key: dict[str, str], *, apdu_timeout: float = 15.0) -> dict[str, PhoneBehaviour]:
    """Every hostile phone, with ``access_key`` (StartMessage form) for those that send one."""
    good = start_message(access_key)
    behaviours = [
        PhoneBehaviour("silent", "P1", (1001, "TIMEOUT_WHILE_WAITING_FOR_START_MESSAGE")),
        _Raw("binary-start", "P2", (1008, "INVALID_START_MESSAGE"), frame(OP_BINARY, json.dumps(good).encode())),
        _Raw("not-json", "P2", (1008, "INVALID_START_MESSAGE"), frame(OP_TEXT, b"{nope")),
        _Raw("deep-json", "P2", (1008, "INVALID_START_MESSAGE"), frame(OP_TEXT, b"[" * 1000 + b"]" * 1000)),
        _Raw("huge-number", "P2", (1008, "INVALID_START_MESSAGE"),
             frame(OP_TEXT, b'{"max_command_bytes": ' + b"7" * 5000 + b"}")),
        PhoneBehaviour("extra-field", "P3", (1008, "INVALID_START_MESSAGE"), dict(good, debug=True)),
        PhoneBehaviour("unknown-client", "P4", (4401, "INVALID_CLIENT_ID"), dict(good, client_id="guess")),
        PhoneBehaviour("bad-can", "P5", (1008, "INVALID_ACCESS_KEY_VALUES"), dict(good, access_key={"can": "12"})),
        _TextAfterStart("text-after-start", "P8", (1008, "UNEXPECTED_MESSAGE"), good),
        _Silent("never-answers", "P9", (1001, "TIMEOUT_WHILE_WAITING_FOR_RESPONSE"), good),
        _Drip("drip-feed", "P10", (1011, "MAX_SESSION_TIME_EXCEEDED"), good, apdu_timeout * 0.75),
        _Raw("oversize-start", "W1", (1008, "INVALID_START_MESSAGE"),
             frame(OP_TEXT, b"", declared_length=1 << 20) + b"x" * 1024),
        _Oversize("oversize-frame", "W1", (1009, None), good),
        _Raw("invalid-utf8", "W3", (1007, None), frame(OP_TEXT, b'{"a": "\xff"}')),
        _Raw("big-ping", "W4", (1002, None), frame(OP_PING, b"p" * 200)),
        _Raw("unmasked", "W5", (1002, None), frame(OP_TEXT, b"{}", mask=False)),
        _Disconnect("disconnect", "W", good, after=5),
    ]
    return {b.name: b for b in behaviours}


def run_hostile_phone(reactor: Any, host: str, port: int, behaviour: PhoneBehaviour, *, chip: Any = None,
                      path: str = "/ws1/validate", clock: IReactorTime | None = None) -> defer.Deferred:
    """Connects and fires with the :class:`HostileRecord` when the connection is gone."""
    factory = HostilePhoneFactory(behaviour, host=host, path=path, clock=clock or reactor, chip=chip)
    reactor.connectTCP(host, port, factory, timeout=10)
    return factory.done
