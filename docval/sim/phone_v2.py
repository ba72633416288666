"""A virtual phone for the WebSocket API v2 (``/ws2/validate``), as Kinegram's current SDKs speak it.

Unlike the v1 phone, which only relays, this phone reads the chip itself with our
own ICAO 9303 code: access control (PACE when EF.CardAccess offers it, else BAC),
EF.SOD and DG14.  When DG14 offers Chip Authentication it sends the file ``dg14``
and ``CA_HANDOVER`` with its Secure Messaging keys and SSC, relays the server's
APDU frames to the chip unchanged, stores the ``dg1`` the server sends, continues
under the keys of ``CA_HANDBACK``, signs the ACCEPT challenge with Active
Authentication, reads the remaining data groups, sends every file the server does
not have yet, ``sod`` last, and ``FINISH``.

Network delay and chip time are on the reactor clock, as for the v1 phone
(:mod:`docval.sim.phone`, whose delay lines, TLS handling and connection code are
shared).  The phone's own chip reads cost chip time but no network time: they
are not network round trips.  ``PhoneV2Record.round_trips`` counts the times the
phone waited for the server: a server message (or burst of messages) arriving
after the phone had sent something.  For a document with Chip Authentication
that is START/ACCEPT, one per relayed APDU plus one for the handback, and
FINISH/RESULT.

This module is the WebSocket side (:class:`PhoneV2Protocol`, its factory and
:func:`run_phone_v2`); the chip side, what the phone reads itself, is
:class:`docval.sim.phone_v2_reader.LocalReader`, mixed into the protocol; the
options, the record and :func:`expected_v2` are in :mod:`docval.sim.phone_v2_options`
and importable from here.

Hostile test phones (tests/support/hostile_phones_v2.py) subclass
:class:`PhoneV2Protocol` and override its small hook methods, of either side.
"""
from __future__ import annotations

import base64
import json
from typing import Any, Callable, cast

from autobahn.twisted.websocket import WebSocketClientProtocol
from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime

from docval.emrtd.errors import AccessControlError, EmrtdError
from docval.emrtd.handover import SMInfo, secure_messaging, sm_info
from docval.emrtd.sm import SecureMessaging
from docval.sim.phone import Chip, DelayLine, PhoneFactory, TlsAwareClientProtocol, connect
from docval.sim.phone_v2_options import ACCESS_CONTROL_FAILED as ACCESS_CONTROL_FAILED
from docval.sim.phone_v2_options import EXTENDED_TRANSCEIVE as EXTENDED_TRANSCEIVE
from docval.sim.phone_v2_options import NFC_FAILED as NFC_FAILED
from docval.sim.phone_v2_options import PROTOCOL_ERROR as PROTOCOL_ERROR
from docval.sim.phone_v2_options import READER_ERROR as READER_ERROR
from docval.sim.phone_v2_options import SHORT_TRANSCEIVE as SHORT_TRANSCEIVE
from docval.sim.phone_v2_options import PhoneFailure as PhoneFailure
from docval.sim.phone_v2_options import PhoneV2Options as PhoneV2Options
from docval.sim.phone_v2_options import PhoneV2Record as PhoneV2Record
from docval.sim.phone_v2_options import expected_v2 as expected_v2
from docval.sim.phone_v2_reader import EAC_DGS as EAC_DGS
from docval.sim.phone_v2_reader import ChipGone, LocalReader

FILE_FRAME = 0x01
APDU_FRAME = 0x02
MAX_BLOCK_SIZE = 223            # JMRTD's DEFAULT_MAX_BLOCKSIZE, what both SDKs hand over
HANDBACK_TIMEOUT = 20.0         # Android gives up waiting for CA_HANDBACK after 20 s
IOS_RESULT_CLOSE_WAIT = 2.0     # iOS waits this long for CLOSE after RESULT
IOS_FIRE_AND_FORGET = 0.3       # iOS without sendResult disconnects this soon after FINISH


def file_frame(name: str, data: bytes) -> bytes:
    raw = name.encode("ascii")
    return bytes((FILE_FRAME, len(raw))) + raw + bytes(data)


# The reader comes first, so its methods win over any Autobahn attribute of the same name. With two
# bases mypy compares Autobahn's own bases, which disagree on peer and _transport_details.
class PhoneV2Protocol(LocalReader, TlsAwareClientProtocol):   # type: ignore[misc]
    factory: "PhoneV2Factory"
    handback_timeout = HANDBACK_TIMEOUT

    # -- connection ------------------------------------------------------------------------

    def onOpen(self) -> None:
        f = self.factory
        self.options = cast(PhoneV2Options, f.options)
        self.record = cast(PhoneV2Record, f.record)
        self.record.opened_at = f.clock.seconds()
        self._inbound = DelayLine(f.clock, self.options.delay, self._arrived)
        self._outbound = DelayLine(f.clock, self.options.delay, self._deliver)
        self.start_reader()
        self._timers: list[Any] = []
        self._sent_since_answer = False
        self._state = "started"            # started, reading, handover, after_ca, finishing, closed
        self._handback: defer.Deferred = defer.Deferred()
        self.received = {}
        self.sent: set[str] = set()
        self.challenge = None
        if self.options.ios:
            # iOS needs a pong within 3 s of connecting; Autobahn answers for the server.
            self.sendPing()
        self.on_open()

    def on_open(self) -> None:
        """Hook: what the phone does once the WebSocket is open (START)."""
        self.send_json(self.options.start_message())

    # -- sending ---------------------------------------------------------------------------

    def send_json(self, msg: dict[str, Any]) -> None:
        self.send_raw(json.dumps(msg).encode("utf-8"), False)

    def send_file(self, name: str, data: bytes) -> None:
        self.sent.add(name)
        self.record.files_sent.append(name)
        self.send_raw(file_frame(name, data), True)

    def send_raw(self, payload: bytes, binary: bool) -> None:
        """Any payload as one message, on the delayed network (hostile phones use it)."""
        self._sent_since_answer = True
        self._outbound.push((payload, binary))

    def _deliver(self, item: tuple[bytes, bool]) -> None:
        payload, binary = item
        # Newer Autobahn raises on a closing connection; a late message is simply lost.
        if self.state == WebSocketClientProtocol.STATE_OPEN:
            self.record.messages_to_server += 1
            self.record.bytes_to_server += len(payload)
            self.sendMessage(payload, isBinary=binary)

    def monitoring(self, step: str) -> None:
        if self.options.diagnostics:
            self.send_json({"type": "MONITORING", "message": f"Step: {step}"})

    def give_up(self, close: tuple[int, str], why: str) -> None:
        """Close the session from the phone: Android with the reason's code, iOS always 1000."""
        if self.record.phone_close is not None or self.state != WebSocketClientProtocol.STATE_OPEN:
            return
        self._state = "closed"
        self.record.phone_error = why
        code, reason = (1000, "") if self.options.ios else close
        self.record.phone_close = (code, reason)
        self._outbound.stop()
        self.sendCloseFrame(code=code, reasonUtf8=reason.encode("utf-8") or None, isReply=False)

    def later(self, seconds: float, fn: Callable[..., Any], *args: Any) -> None:
        self._timers.append(self.factory.clock.callLater(seconds, fn, *args))

    # -- receiving -------------------------------------------------------------------------

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.record.bytes_from_server += len(payload)
        self.record.messages_from_server += 1
        if self._sent_since_answer:
            self._sent_since_answer = False
            self.record.round_trips += 1
        self._inbound.push((bytes(payload), isBinary))

    def _arrived(self, item: tuple[bytes, bool]) -> None:
        payload, binary = item
        if self._state == "closed":
            return
        if binary:
            self._binary(payload)
            return
        try:
            msg = json.loads(payload.decode("utf-8"))
        except ValueError:
            msg = None
        kind = msg.get("type") if isinstance(msg, dict) else None
        handler = {"ACCEPT": self._on_accept, "CA_HANDBACK": self._on_handback,
                   "RESULT": self._on_result, "CLOSE": self._on_close_message}.get(str(kind))
        if handler is None:
            # Android closes on anything else, v1 status messages included (§2.0).
            self.record.other_messages.append(payload[:200].decode("utf-8", "replace"))
            self.give_up(PROTOCOL_ERROR, f"unexpected text message from the server ({kind or 'no type'})")
            return
        if kind == "RESULT":
            self.record.result_bytes = len(payload)
        handler(msg)

    def _binary(self, payload: bytes) -> None:
        if payload[:1] == bytes((APDU_FRAME,)) and len(payload) > 1:
            self.record.apdus += 1
            self.chip(payload[1:]).addCallbacks(self._relay_answer, self._chip_failed)
        elif payload[:1] == bytes((FILE_FRAME,)) and len(payload) >= 3 and 1 <= payload[1] < 128 \
                and len(payload) >= 2 + payload[1]:
            name = payload[2:2 + payload[1]].decode("utf-8", "replace")
            self.received[name] = payload[2 + payload[1]:]
            self.record.files_received.append(name)
        else:
            self.give_up(PROTOCOL_ERROR, "malformed binary message from the server")

    def _relay_answer(self, response: bytes) -> None:
        if self._state != "closed":
            self.send_raw(bytes((APDU_FRAME,)) + response, True)

    def _chip_failed(self, failure: Any) -> None:
        self.give_up(NFC_FAILED, f"the chip failed: {type(failure.value).__name__}")

    def _on_accept(self, msg: dict[str, Any]) -> None:
        if self._state != "started":
            self.give_up(PROTOCOL_ERROR, "ACCEPT in the wrong state")
            return
        try:
            self.challenge = base64.b64decode(msg["activeAuthenticationChallenge"], validate=True)
        except (KeyError, TypeError, ValueError):
            self.give_up(PROTOCOL_ERROR, "ACCEPT without a valid activeAuthenticationChallenge")
            return
        self._state = "reading"
        d = defer.ensureDeferred(self.read_document())
        d.addErrback(self._procedure_failed)

    def _on_handback(self, msg: dict[str, Any]) -> None:
        if self._state != "handover" or self._handback.called:
            self.give_up(PROTOCOL_ERROR, "CA_HANDBACK in the wrong state")
            return
        self._handback.callback(msg)

    def _on_result(self, msg: dict[str, Any]) -> None:
        if self._state != "finishing" or not isinstance(msg.get("passport"), dict):
            self.give_up(PROTOCOL_ERROR, "RESULT in the wrong state or without a passport")
            return
        self.record.result = msg["passport"]
        self.record.result_at = self.factory.clock.seconds()
        if self.options.ios:
            self.later(IOS_RESULT_CLOSE_WAIT, self._ios_disconnect)

    def _on_close_message(self, msg: dict[str, Any]) -> None:
        self.record.close_message = msg

    def _ios_disconnect(self) -> None:
        if self.state == WebSocketClientProtocol.STATE_OPEN:
            self._state = "closed"
            self.sendCloseFrame(code=1000, isReply=False)

    def _procedure_failed(self, failure: Any) -> None:
        exc = failure.value
        if isinstance(exc, PhoneFailure):
            self.give_up(exc.close, str(exc))
        elif isinstance(exc, defer.CancelledError):
            pass
        elif isinstance(exc, ChipGone):
            self.give_up(NFC_FAILED, str(exc))
        elif isinstance(exc, AccessControlError):
            self.give_up(ACCESS_CONTROL_FAILED, f"access control failed: {type(exc).__name__}")
        elif isinstance(exc, EmrtdError):
            self.give_up(READER_ERROR, f"reading the chip failed: {exc}")
        else:
            # A bug in the phone must end the session visibly, not hang it.
            self.give_up(READER_ERROR, f"phone error: {type(exc).__name__}: {exc}")

    def handover_message(self) -> dict[str, Any]:
        return {
            "type": "CA_HANDOVER",
            "maxTransceiveLengthForSecureMessaging": self.options.max_transceive,
            "maxBlockSize": MAX_BLOCK_SIZE,
            "secureMessagingInfo": sm_info(cast(SecureMessaging, self.link.sm)).to_wire(),
        }

    async def chip_authentication(self) -> None:
        self.monitoring("CHIP_AUTHENTICATION")
        self.send_file("dg14", self.files["dg14"])
        self.send_json(self.handover_message())
        self.record.handed_over = True
        self._state = "handover"
        timer = self.factory.clock.callLater(self.handback_timeout, self._handback_timeout)
        try:
            msg = await self._handback
        finally:
            if timer.active():
                timer.cancel()
        if "dg1" not in self.received:
            if not self.options.ios:
                raise PhoneFailure(PROTOCOL_ERROR, "Did not receive DG1 before CA_HANDBACK message")
            # iOS takes the handback's dg1Data if there is one, else reads DG1 itself later.
            dg1 = msg.get("dg1Data")
            if isinstance(dg1, str):
                try:
                    self.received["dg1"] = base64.b64decode(dg1, validate=True)
                except ValueError:
                    pass
        check = msg.get("checkResult")
        if check not in ("SUCCESS", "FAILED", "UNAVAILABLE"):
            raise PhoneFailure(PROTOCOL_ERROR, "CA_HANDBACK with an unknown checkResult")
        try:
            sm = secure_messaging(SMInfo.from_wire(msg["secureMessagingInfo"]))
        except Exception:   # whatever the keys' decoder raises: Android's GeneralSecurityException
            raise PhoneFailure(READER_ERROR, "CA_HANDBACK with unusable secureMessagingInfo") from None
        self.record.check_result = check
        self._state = "after_ca"
        # The phone drops its own wrapper and continues with the server's (§4.3 "Handback").
        self.link = self._new_link()
        self.link.start(sm)
        self.limits = self._limits()

    def _handback_timeout(self) -> None:
        if not self._handback.called:
            self._handback.errback(PhoneFailure(PROTOCOL_ERROR, f"no CA_HANDBACK within {self.handback_timeout:g} s"))

    def final_files(self) -> list[tuple[str, bytes]]:
        """Hook: the files to send before FINISH: all not yet sent or received, ``sod`` last."""
        names = [n for n in self.files if n != "sod" and n not in self.sent and n not in self.received]
        return [(n, self.files[n]) for n in names] + [("sod", self.files["sod"])]

    def send_remaining_files(self) -> None:
        for name, data in self.final_files():
            self.send_file(name, data)

    def finish_message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "FINISH", "sendResult": self.options.send_result}
        if self.signature is not None:
            msg["activeAuthenticationSignature"] = base64.b64encode(self.signature).decode("ascii")
        elif self.options.ios:
            msg["activeAuthenticationSignature"] = None     # iOS sends null; Android omits the key
        return msg

    def finish(self) -> None:
        msg = self.finish_message()
        self.record.aa_signature = bool(msg.get("activeAuthenticationSignature"))
        self._state = "finishing"
        self.record.finished = True
        self.send_json(msg)
        if self.options.ios and not self.options.send_result:
            self.later(self.options.delay + IOS_FIRE_AND_FORGET, self._ios_disconnect)

    # -- the end ---------------------------------------------------------------------------

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        inbound = getattr(self, "_inbound", None)
        if inbound is not None and self.options.delay > 0:
            # The close frame travels the same delayed network as the messages before
            # it (RESULT, CLOSE): let those arrive first.
            self.factory.clock.callLater(self.options.delay + 1e-6, self._closed, wasClean, code, reason)
            return
        self._closed(wasClean, code, reason)

    def _closed(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        f = self.factory
        record = cast(PhoneV2Record, getattr(self, "record", None) or f.record)
        record.closed_at = f.clock.seconds()
        if record.result_at is None:
            record.result_at = record.closed_at
        record.was_clean = wasClean
        record.close_code = code
        record.close_reason = reason
        record.tls_error = self.tls_failure()
        self._state = "closed"
        for line in ("_inbound", "_outbound"):
            if hasattr(self, line):
                getattr(self, line).stop()
        for timer in getattr(self, "_timers", []) + [getattr(self, "_chip_timer", None)]:
            if timer is not None and timer.active():
                timer.cancel()
        handback = getattr(self, "_handback", None)
        if handback is not None and not handback.called and self.record.handed_over:
            handback.cancel()     # the procedure awaits it and ends quietly
        drop = getattr(self, "serverConnectionDropTimeoutCall", None)
        if drop is not None and drop.active():
            drop.cancel()
        if not f.done.called:
            f.done.callback(record)


class PhoneV2Factory(PhoneFactory):
    protocol = PhoneV2Protocol   # type: ignore[assignment]

    def __init__(self, url: str, chip: Chip, options: PhoneV2Options, *, reactor: Any = None,
                 clock: IReactorTime | None = None, protocol: type[PhoneV2Protocol] | None = None):
        super().__init__(url, chip, options, reactor=reactor, clock=clock)   # type: ignore[arg-type]
        if protocol is not None:
            self.protocol = protocol   # type: ignore[assignment]
        self.record = PhoneV2Record()
        self.record.started_at = self.clock.seconds()


def run_phone_v2(url: str, chip: Chip, options: PhoneV2Options, *, reactor: Any = None,
                 clock: IReactorTime | None = None, tls_ca_pem: bytes | None = None,
                 protocol: type[PhoneV2Protocol] | None = None) -> defer.Deferred:
    """Connects to ``url`` (ws:// or wss://, path /ws2/validate) and fires with the PhoneV2Record."""
    if reactor is None:
        # Deliberately late: importing the global reactor installs it.
        from twisted.internet import reactor as _reactor
        reactor = _reactor
    factory = PhoneV2Factory(url, chip, options, reactor=reactor, clock=clock, protocol=protocol)
    return connect(factory, url, reactor, tls_ca_pem)
