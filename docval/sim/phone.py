"""A virtual phone: speaks DocVal's WebSocket API and relays APDUs to a chip object.

It behaves like the official phone SDKs: one StartMessage, then every binary
message goes to the chip strictly in order, one at a time, and the chip's
answer goes back as one binary message.  A one-way network delay and a
per-APDU chip time (both on the reactor clock, never sleeping) make it a
realistic load and latency model.  Everything the server said is recorded in a
:class:`PhoneRecord`.
"""
from __future__ import annotations

import json
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol
from urllib.parse import urlsplit

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import defer
from twisted.internet.interfaces import IHandshakeListener, IReactorTime
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from docval.ws.timers import ClockTimer


class Chip(Protocol):
    def transmit(self, apdu: bytes) -> bytes: ...


@dataclass
class PhoneOptions:
    # {"can": ...} or the three MRZ fields, as sent; kept out of repr like every access key
    access_key: dict[str, str] = field(repr=False)
    client_id: str = "YOUR CLIENT ID"
    validation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    extended_length: bool = True
    max_command_bytes: int | None = None
    max_response_bytes: int | None = None
    platform: str = "docval-sim"
    max_pipelined_apdus: int | None = None   # None: not sent, as the official SDKs do
    return_result: bool = False
    delay: float = 0.0        # one-way network delay, seconds
    chip_time: float = 0.0    # time the chip takes per APDU, seconds

    def start_message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "client_id": self.client_id,
            "validation_id": self.validation_id,
            "access_key": dict(self.access_key),
            "nfc_adapter_supports_extended_length": self.extended_length,
            "platform": self.platform,
        }
        if self.max_command_bytes is not None:
            msg["max_command_bytes"] = self.max_command_bytes
        if self.max_response_bytes is not None:
            msg["max_response_bytes"] = self.max_response_bytes
        if self.max_pipelined_apdus is not None:
            msg["max_pipelined_apdus"] = self.max_pipelined_apdus
        return msg


def access_key_json(key: Any) -> dict[str, str]:
    """The StartMessage form of a ``docval.emrtd.mrz`` MrzKey or CanKey."""
    if hasattr(key, "can"):
        return {"can": key.can}
    return {
        "document_number": key.document_number,
        "date_of_birth": key.date_of_birth,
        "date_of_expiry": key.date_of_expiry,
    }


@dataclass(repr=False)
class PhoneRecord:
    statuses: list[str] = field(default_factory=list)
    close_message: dict[str, Any] | None = None   # the {"close_code", "close_reason"} text
    close_code: int | None = None                  # from the WebSocket close itself
    close_reason: str | None = None
    was_clean: bool | None = None
    result: dict[str, Any] | None = None           # emrtd_passport, with return_result
    result_jws: str | None = None                  # emrtd_passport_jws, for signing clients
    other_messages: list[str] = field(default_factory=list)
    apdus: int = 0
    bytes_to_server: int = 0
    bytes_from_server: int = 0
    chip_error: str | None = None
    # wss:// only: set when the TLS handshake never completed (a plain ws:// port, an
    # untrusted certificate), so the tool can say so instead of "peer dropped".
    tls_error: str | None = None
    opened_at: float | None = None
    closed_at: float | None = None

    @property
    def duration(self) -> float | None:
        if self.opened_at is None or self.closed_at is None:
            return None
        return self.closed_at - self.opened_at

    @property
    def succeeded(self) -> bool:
        return self.close_code == 1000

    def __repr__(self) -> str:
        return (f"PhoneRecord(close={self.close_code} {self.close_reason!r}, "
                f"statuses={len(self.statuses)}, apdus={self.apdus}, result={self.result is not None})")


class DelayLine:
    """FIFO with a constant delay.  The reactor's timer heap does not keep equal-time
    calls in order, so one timer serves the head of a queue instead."""

    def __init__(self, clock: IReactorTime, delay: float, deliver: Callable[[Any], None]):
        self._clock = clock
        self._delay = delay
        self._deliver = deliver
        self._queue: deque[tuple[float, Any]] = deque()
        self._timer: Any = None

    def push(self, item: Any) -> None:
        if self._delay <= 0 and not self._queue:
            self._deliver(item)
            return
        self._queue.append((self._clock.seconds() + self._delay, item))
        if self._timer is None:
            self._schedule()

    def _schedule(self) -> None:
        due = self._queue[0][0]
        self._timer = self._clock.callLater(max(0.0, due - self._clock.seconds()), self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self._clock.seconds()
        while self._queue and self._queue[0][0] <= now + 1e-9:
            self._deliver(self._queue.popleft()[1])
        if self._queue:
            self._schedule()

    def stop(self) -> None:
        self._queue.clear()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None


@implementer(IHandshakeListener)
class TlsAwareClientProtocol(WebSocketClientProtocol):
    """A WebSocket client that can tell a failed TLS handshake from a closed session, so
    a wss:// connection to the wrong port or CA is reported as such (both phones)."""

    _tls_done = False
    _lost_reason: Any = None

    def handshakeCompleted(self) -> None:
        """Called by Twisted's TLS layer once the TLS handshake has succeeded."""
        self._tls_done = True

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._lost_reason = reason
        super().connectionLost(reason)

    def tls_failure(self) -> str | None:
        """Why the TLS handshake failed, when this was a wss:// connection that never got
        through it; None otherwise."""
        if getattr(self.factory, "isSecure", False) and not self._tls_done:
            return tls_reason(self._lost_reason)
        return None


class PhoneProtocol(TlsAwareClientProtocol):
    factory: "PhoneFactory"

    def onOpen(self) -> None:
        f = self.factory
        self.record = f.record
        self.record.opened_at = f.clock.seconds()
        self._busy = False
        self._chip_queue: deque[bytes] = deque()
        self._chip_timer: Any = None
        self._inbound = DelayLine(f.clock, f.options.delay, self._arrived)
        self._outbound = DelayLine(f.clock, f.options.delay, self._send_response)
        text = json.dumps(f.options.start_message()).encode("utf-8")
        self.sendMessage(text, isBinary=False)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.record.bytes_from_server += len(payload)
        if isBinary:
            self._inbound.push(bytes(payload))
            return
        try:
            msg = json.loads(payload.decode("utf-8"))
        except ValueError:
            self.record.other_messages.append(payload[:200].decode("utf-8", "replace"))
            return
        if isinstance(msg, dict) and set(msg) == {"status"}:
            self.record.statuses.append(msg["status"])
            if self.factory.on_status is not None:
                self.factory.on_status(msg["status"])
        elif isinstance(msg, dict) and "emrtd_passport" in msg:
            self.record.result = msg["emrtd_passport"]
            self.record.result_jws = msg.get("emrtd_passport_jws")
        elif isinstance(msg, dict) and "close_code" in msg:
            self.record.close_message = msg
        else:
            self.record.other_messages.append(payload[:200].decode("utf-8", "replace"))

    def _arrived(self, apdu: bytes) -> None:
        self._chip_queue.append(apdu)
        self._next()

    def _next(self) -> None:
        # Strictly one APDU at a time, in order: what max_pipelined_apdus promises.
        if self._busy or not self._chip_queue:
            return
        self._busy = True
        apdu = self._chip_queue.popleft()
        if self.factory.options.chip_time > 0:
            self._chip_timer = self.factory.clock.callLater(
                self.factory.options.chip_time, self._run_chip, apdu
            )
        else:
            self._run_chip(apdu)

    def _run_chip(self, apdu: bytes) -> None:
        self._chip_timer = None
        self.record.apdus += 1
        try:
            response = self.factory.chip.transmit(apdu)
        except Exception as e:
            # A real phone loses the tag: it gives up on the session.
            self.record.chip_error = type(e).__name__
            self._busy = False
            self._chip_queue.clear()
            if self.state == WebSocketClientProtocol.STATE_OPEN:
                self.sendClose(1000)
            return
        self._outbound.push(bytes(response))
        self._busy = False
        self._next()

    def _send_response(self, response: bytes) -> None:
        # Newer Autobahn raises on a closing connection; a late answer is simply lost.
        if self.state == WebSocketClientProtocol.STATE_OPEN:
            self.record.bytes_to_server += len(response)
            self.sendMessage(response, isBinary=True)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        record = getattr(self, "record", None) or self.factory.record
        record.closed_at = self.factory.clock.seconds()
        record.was_clean = wasClean
        # Autobahn reports the peer's close code when the close was clean.
        record.close_code = code
        record.close_reason = reason
        record.tls_error = self.tls_failure()
        for line in ("_inbound", "_outbound"):
            if hasattr(self, line):
                getattr(self, line).stop()
        timer = getattr(self, "_chip_timer", None)
        if timer is not None and timer.active():
            timer.cancel()
        drop = getattr(self, "serverConnectionDropTimeoutCall", None)
        if drop is not None and drop.active():
            drop.cancel()
        if not self.factory.done.called:
            self.factory.done.callback(record)


def tls_reason(failure: Any) -> str:
    """What ended a TLS connection before its handshake, without a traceback."""
    value = getattr(failure, "value", None)
    try:
        # Deliberately late: only a failed wss:// handshake needs pyOpenSSL's error type.
        from OpenSSL import SSL

        if isinstance(value, SSL.Error) and value.args and isinstance(value.args[0], list):
            # [(library, function, reason), ...]: the reason is the readable part.
            reasons = [str(entry[-1]) for entry in value.args[0] if entry]
            if reasons:
                return "; ".join(reasons)
    except ImportError:   # pragma: no cover - pyOpenSSL is a dependency
        pass
    if value is not None:
        return str(value).splitlines()[0] if str(value) else type(value).__name__
    return "the connection ended before the TLS handshake completed"


class PhoneFactory(WebSocketClientFactory):
    protocol = PhoneProtocol  # type: ignore[assignment]  # Autobahn types it as a factory callable

    def __init__(
        self,
        url: str,
        chip: Chip,
        options: PhoneOptions,
        *,
        reactor: Any = None,
        clock: IReactorTime | None = None,
        on_status: Callable[[str], None] | None = None,
    ):
        if reactor is None:
            # Deliberately late: importing the global reactor installs it.
            from twisted.internet import reactor as _reactor
            reactor = _reactor
        if options.return_result:
            url += ("&" if "?" in url else "?") + "return_result=true"
        super().__init__(url=url, reactor=reactor)
        self.clock: IReactorTime = clock if clock is not None else reactor
        self._batched_timer = ClockTimer(self.clock)
        self.setProtocolOptions(perMessageCompressionOffers=[], closeHandshakeTimeout=1)
        self.chip = chip
        self.options = options
        self.on_status = on_status
        self.record = PhoneRecord()
        self.done: defer.Deferred = defer.Deferred()

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        if not self.done.called:
            self.done.errback(reason)


def run_phone(
    url: str,
    chip: Chip,
    options: PhoneOptions,
    *,
    reactor: Any = None,
    clock: IReactorTime | None = None,
    on_status: Callable[[str], None] | None = None,
    tls_ca_pem: bytes | None = None,
) -> defer.Deferred:
    """Connects to ``url`` (ws:// or wss://) and fires with the :class:`PhoneRecord`.

    ``tls_ca_pem`` trusts a private CA (e.g. a test certificate) instead of the
    system's roots for wss://.
    """
    if reactor is None:
        # Deliberately late: importing the global reactor installs it.
        from twisted.internet import reactor as _reactor
        reactor = _reactor
    factory = PhoneFactory(url, chip, options, reactor=reactor, clock=clock, on_status=on_status)
    return connect(factory, url, reactor, tls_ca_pem)


class PhoneClientFactory(Protocol):
    """What connect() needs of a phone factory (v1's or v2's): a WebSocket client factory
    whose ``done`` fires with the phone's record."""

    done: defer.Deferred


def connect(factory: PhoneClientFactory, url: str, reactor: Any,
            tls_ca_pem: bytes | None = None) -> defer.Deferred:
    """Connects a phone factory (v1 or v2) to ``url`` and returns its ``done``."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    if parts.scheme == "wss":
        # Deliberately late: twisted.internet.ssl needs pyOpenSSL, only wss:// uses it.
        from twisted.internet import ssl

        trust = ssl.Certificate.loadPEM(tls_ca_pem) if tls_ca_pem else None
        context = ssl.optionsForClientTLS(host, trustRoot=trust) if trust else ssl.optionsForClientTLS(host)
        reactor.connectSSL(host, parts.port or 443, factory, context, timeout=10)
    elif parts.scheme == "ws":
        reactor.connectTCP(host, parts.port or 80, factory, timeout=10)
    else:
        return defer.fail(ValueError("the URL must start with ws:// or wss://"))
    return factory.done
