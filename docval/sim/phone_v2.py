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

Hostile test phones (tests/support/hostile_phones_v2.py) subclass
:class:`PhoneV2Protocol` and override its small hook methods.
"""
from __future__ import annotations

import base64
import json
import os
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, cast

from autobahn.twisted.websocket import WebSocketClientProtocol
from twisted.internet import defer
from twisted.internet.interfaces import IHandshakeListener, IReactorTime
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from docval.emrtd import files
from docval.emrtd.apdu import SW_OK, SW_WRONG_LENGTH, ResponseAPDU
from docval.emrtd.errors import (AccessControlError, EmrtdError, FileAccessDenied, FileNotFoundOnChip,
                                 LimitExceeded, ParseError, StatusError, UnsupportedError)
from docval.emrtd.flow import Flow, Link, run_async
from docval.emrtd.mrz import CanKey, MrzKey
from docval.emrtd.sm import SecureMessaging
from docval.sim.phone import Chip, DelayLine, PhoneFactory, PhoneRecord, connect

FILE_FRAME = 0x01
APDU_FRAME = 0x02
MAX_BLOCK_SIZE = 223            # JMRTD's DEFAULT_MAX_BLOCKSIZE, what both SDKs hand over
SHORT_TRANSCEIVE = 256
EXTENDED_TRANSCEIVE = 65536
HANDBACK_TIMEOUT = 20.0         # Android gives up waiting for CA_HANDBACK after 20 s
IOS_RESULT_CLOSE_WAIT = 2.0     # iOS waits this long for CLOSE after RESULT
IOS_FIRE_AND_FORGET = 0.3       # iOS without sendResult disconnects this soon after FINISH
# EAC-protected: a phone without terminal authentication never reads them.
EAC_DGS = frozenset({3, 4})

PROTOCOL_ERROR = (1008, "PROTOCOL_ERROR")
ACCESS_CONTROL_FAILED = (4403, "ACCESS_CONTROL_FAILED")
READER_ERROR = (1011, "EMRTD_PASSPORT_READER_ERROR")
NFC_FAILED = (1001, "NFC_CHIP_COMMUNICATION_FAILED")


@dataclass
class PhoneV2Options:
    # The document's own key (MrzKey or CanKey): used on the phone only, never sent in v2.
    access_key: MrzKey | CanKey = field(repr=False)
    client_id: str = "YOUR CLIENT ID"
    validation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    platform: str = "android"        # "android" or "iOS", as the SDKs spell them
    extended_length: bool = False    # Android's isoDep answer; iOS always claims true
    send_result: bool = True         # FINISH.sendResult
    skip_aa_after_ca: bool = False   # the official reader may skip AA once CA is done
    diagnostics: bool = False        # enableDiagnostics: MONITORING "Step: ..." messages
    delay: float = 0.0               # one-way network delay, seconds
    chip_time: float = 0.0           # time the chip takes per APDU, seconds
    rng: Callable[[int], bytes] | None = field(default=None, repr=False)   # PACE/BAC randomness (tests)

    @property
    def ios(self) -> bool:
        return self.platform.lower() == "ios"

    @property
    def claims_extended_length(self) -> bool:
        return True if self.ios else self.extended_length

    @property
    def return_result(self) -> bool:
        """Android appends ?return_result=true when the app wants the result; iOS never does."""
        return self.send_result and not self.ios

    @property
    def max_transceive(self) -> int:
        return EXTENDED_TRANSCEIVE if self.claims_extended_length else SHORT_TRANSCEIVE

    def start_message(self) -> dict[str, Any]:
        return {
            "type": "START",
            "validationId": self.validation_id,
            "clientId": self.client_id,
            "platform": self.platform,
            "nfcAdapterSupportsExtendedLength": self.claims_extended_length,
            "enableDiagnostics": self.diagnostics,
        }


@dataclass(repr=False)
class PhoneV2Record(PhoneRecord):
    messages_to_server: int = 0
    messages_from_server: int = 0
    result_bytes: int = 0                # of bytes_from_server, the RESULT message (v1 counts none)
    round_trips: int = 0                 # server answers the phone had to wait for (module docstring)
    chip_commands: int = 0               # every APDU the chip saw: local reads and relayed ones
    check_result: str | None = None      # CA_HANDBACK.checkResult
    handed_over: bool = False
    files_sent: list[str] = field(default_factory=list)
    files_received: list[str] = field(default_factory=list)
    aa_signature: bool = False           # FINISH carried a signature
    finished: bool = False
    phone_close: tuple[int, str] | None = None   # the phone closed, with this code and reason
    phone_error: str | None = None       # why, in words without document data
    started_at: float | None = None      # the phone began connecting
    result_at: float | None = None       # RESULT arrived (or the final close without RESULT)

    @property
    def seconds_to_result(self) -> float | None:
        if self.started_at is None or self.result_at is None:
            return None
        return self.result_at - self.started_at

    def __repr__(self) -> str:
        return (f"PhoneV2Record(close={self.close_code} {self.close_reason!r}, "
                f"close_message={self.close_message}, phone_close={self.phone_close}, "
                f"error={self.phone_error!r}, round_trips={self.round_trips}, apdus={self.apdus}, "
                f"check={self.check_result}, result={self.result is not None})")


class PhoneFailure(Exception):
    """The phone gives up the session, closing with ``close`` = (code, reason)."""

    def __init__(self, close: tuple[int, str], message: str):
        super().__init__(message)
        self.close = close


def file_frame(name: str, data: bytes) -> bytes:
    raw = name.encode("ascii")
    return bytes((FILE_FRAME, len(raw))) + raw + bytes(data)


def _wire_name(ref: files.FileRef) -> str:
    return "sod" if ref is files.EF_SOD else f"dg{int(ref.name[5:])}"


@implementer(IHandshakeListener)
class PhoneV2Protocol(WebSocketClientProtocol):
    factory: "PhoneV2Factory"
    handback_timeout = HANDBACK_TIMEOUT
    _tls_done = False
    _lost_reason: Any = None

    # -- connection ------------------------------------------------------------------------

    def handshakeCompleted(self) -> None:
        self._tls_done = True

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._lost_reason = reason
        super().connectionLost(reason)

    def onOpen(self) -> None:
        f = self.factory
        self.options: PhoneV2Options = cast(PhoneV2Options, f.options)
        self.record: PhoneV2Record = cast(PhoneV2Record, f.record)
        self.record.opened_at = f.clock.seconds()
        self._inbound = DelayLine(f.clock, self.options.delay, self._arrived)
        self._outbound = DelayLine(f.clock, self.options.delay, self._deliver)
        self._chip_queue: deque[tuple[bytes, defer.Deferred]] = deque()
        self._chip_busy = False
        self._chip_timer: Any = None
        self._timers: list[Any] = []
        self._sent_since_answer = False
        self._state = "started"            # started, reading, handover, after_ca, finishing, closed
        self._handback: defer.Deferred = defer.Deferred()
        self.received: dict[str, bytes] = {}
        self.sent: set[str] = set()
        self.challenge: bytes | None = None
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
        elif isinstance(exc, _ChipGone):
            self.give_up(NFC_FAILED, str(exc))
        elif isinstance(exc, AccessControlError):
            self.give_up(ACCESS_CONTROL_FAILED, f"access control failed: {type(exc).__name__}")
        elif isinstance(exc, EmrtdError):
            self.give_up(READER_ERROR, f"reading the chip failed: {exc}")
        else:
            # A bug in the phone must end the session visibly, not hang it.
            self.give_up(READER_ERROR, f"phone error: {type(exc).__name__}: {exc}")

    # -- the chip --------------------------------------------------------------------------

    def chip(self, apdu: bytes) -> defer.Deferred:
        """One APDU to the chip, strictly one at a time, after the chip's time."""
        d: defer.Deferred = defer.Deferred()
        self._chip_queue.append((apdu, d))
        self._chip_next()
        return d

    def _chip_next(self) -> None:
        if self._chip_busy or not self._chip_queue:
            return
        self._chip_busy = True
        if self.options.chip_time > 0:
            self._chip_timer = self.factory.clock.callLater(self.options.chip_time, self._chip_run)
        else:
            self._chip_run()

    def _chip_run(self) -> None:
        self._chip_timer = None
        apdu, d = self._chip_queue.popleft()
        self.record.chip_commands += 1
        try:
            response = bytes(self.factory.chip.transmit(apdu))
        except Exception as exc:
            self.record.chip_error = type(exc).__name__
            self._chip_queue.clear()
            self._chip_busy = False
            d.errback(_ChipGone(f"the chip failed: {type(exc).__name__}"))
            return
        self._chip_busy = False
        d.callback(response)
        self._chip_next()

    async def _transmit_many(self, raws: list[bytes]) -> list[bytes]:
        out = []
        for raw in raws:
            out.append(await self.chip(raw))
        return out

    async def run(self, flow: Flow[Any]) -> Any:
        return await run_async(flow, self.link, self._transmit_many)

    async def read_file(self, ref: files.FileRef) -> bytes | None:
        """A whole file, or None when the chip does not have it or refuses it."""
        try:
            return await self.run(files.read_file(ref, self.limits))
        except (FileNotFoundOnChip, FileAccessDenied):
            return None
        except StatusError:
            return None

    def _new_link(self) -> Link:
        # The phone's reader picks extended encoding whenever a command or its answer
        # needs it (an RSA-2048 signature under 3DES); the adapter's claim only sets
        # how files are read and what the relay may use (KINEGRAM_V2 §9, observed).
        return Link(extended=True)

    def _limits(self) -> files.ReadLimits:
        if not self.options.claims_extended_length:
            return files.ReadLimits.classic()      # JMRTD: 223-byte chunks, short APDUs
        sm = cast(Optional[SecureMessaging], self.link.sm)
        plain = sm.max_plain_le(EXTENDED_TRANSCEIVE) if sm is not None else 65536
        return files.ReadLimits(max_le=max(1, min(plain, 65536)), extended=True)

    # -- the procedure ---------------------------------------------------------------------

    async def read_document(self) -> None:
        """What Kinegram's reader does between ACCEPT and FINISH (KINEGRAM_V2 §4.1)."""
        self.link = self._new_link()
        self.limits = self._limits()
        self.monitoring("ACCESS_CONTROL")
        if await self.access_control():
            # After PACE, which runs in the master file, under Secure Messaging.
            await self.run(files.select_application())
        self.limits = self._limits()
        self.monitoring("READ_SOD")
        sod_bytes = await self.read_file(files.EF_SOD)
        if sod_bytes is None:
            raise PhoneFailure(READER_ERROR, "EF.SOD could not be read")
        self.files: dict[str, bytes] = {"sod": sod_bytes}
        from docval.emrtd.lds.sod import parse_sod
        try:
            listed = sorted(parse_sod(sod_bytes).dg_hashes)
        except ParseError:
            raise PhoneFailure(READER_ERROR, "EF.SOD is malformed") from None
        ca_choice = None
        if 14 in listed:
            self.monitoring("READ_DG14")
            dg14 = await self.read_file(files.dg(14))
            if dg14 is not None:
                self.files["dg14"] = dg14
                ca_choice = _ca_choice(dg14)
        if ca_choice is not None and self.wants_handover():
            await self.chip_authentication()
        await self.active_authentication(listed)
        for dg in listed:
            name = f"dg{dg}"
            if dg in EAC_DGS or name in self.files or name in self.received:
                continue
            self.monitoring(f"READ_DG{dg}")
            data = await self.read_file(files.dg(dg))
            if data is not None:
                self.files[name] = data
        self.send_remaining_files()
        self.finish()

    async def access_control(self) -> bool:
        """PACE when EF.CardAccess offers it, else BAC; True for PACE."""
        key = self.options.access_key
        rng = self.options.rng or os.urandom
        card_access = await self.read_file(files.CARD_ACCESS)
        pace_info = offered = None
        if card_access is not None:
            from docval.emrtd.pace import choose_pace_info
            from docval.emrtd.securityinfo import parse_card_access
            try:
                infos = parse_card_access(card_access)
                pace_info = choose_pace_info(infos.pace_infos)
                offered = len(infos.pace_infos)
            except (ParseError, UnsupportedError):
                pace_info = None
        if pace_info is not None:
            from docval.emrtd.pace import pace
            result = await self.run(pace(key, pace_info, send_parameter_id=(offered or 0) > 1, rng=rng))
            self.link.start(result.sm)
            return True
        if not isinstance(key, MrzKey):
            raise AccessControlError("no PACE on this document, and a CAN works only with PACE")
        from docval.emrtd.bac import bac
        await self.run(files.select_application())
        self.link.start(await self.run(bac(key, rng=rng)))
        return False

    def wants_handover(self) -> bool:
        """Hook: whether to hand Chip Authentication over (the official phones always do)."""
        return True

    def handover_message(self) -> dict[str, Any]:
        from docval.emrtd.handover import sm_info
        return {
            "type": "CA_HANDOVER",
            "maxTransceiveLengthForSecureMessaging": self.options.max_transceive,
            "maxBlockSize": MAX_BLOCK_SIZE,
            "secureMessagingInfo": sm_info(cast(SecureMessaging, self.link.sm)).to_wire(),
        }

    async def chip_authentication(self) -> None:
        from docval.emrtd.handover import SMInfo, secure_messaging
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

    async def active_authentication(self, listed: list[int]) -> None:
        self.signature: bytes | None = None
        if 15 not in listed:
            return
        self.monitoring("READ_DG15")
        dg15 = await self.read_file(files.dg(15))
        if dg15 is None:
            return
        self.files["dg15"] = dg15
        if self.record.check_result == "SUCCESS" and self.options.skip_aa_after_ca:
            return
        from docval.emrtd.aa import internal_authenticate_command, parse_dg15
        try:
            key = parse_dg15(dg15)
        except (ParseError, UnsupportedError, LimitExceeded):
            return    # the phone does not verify; without a key it cannot size the command
        self.monitoring("ACTIVE_AUTHENTICATION")
        self.signature = await self.run(_internal_authenticate(internal_authenticate_command,
                                                               self.challenge or b"", key))

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
        if getattr(f, "isSecure", False) and not self._tls_done:
            from docval.sim.phone import tls_reason
            record.tls_error = tls_reason(self._lost_reason)
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


class _ChipGone(Exception):
    pass


def _ca_choice(dg14: bytes) -> Any:
    """DG14's Chip Authentication key, or None: what decides whether the phone hands over."""
    from docval.emrtd.ca import choose_ca
    from docval.emrtd.securityinfo import parse_dg14
    try:
        return choose_ca(parse_dg14(dg14))
    except (ParseError, UnsupportedError, LimitExceeded):
        return None


def _internal_authenticate(command: Callable[..., Any], challenge: bytes, key: Any) -> Flow[bytes | None]:
    """INTERNAL AUTHENTICATE with the server's challenge; the raw answer, unverified (§7)."""
    cmd = command(challenge, key)
    resp = yield cmd
    assert isinstance(resp, ResponseAPDU)
    if not cmd.is_extended and (resp.sw == SW_WRONG_LENGTH or resp.sw >> 8 == 0x6C):
        resp = yield command(challenge, key, extended=True)
        assert isinstance(resp, ResponseAPDU)
    return resp.data if resp.sw == SW_OK and resp.data else None


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


def expected_v2(expect: Any, options: PhoneV2Options) -> dict[str, Any]:
    """What a v2 session must end with for a profile whose v1 expectation is ``expect``.

    Three differences from v1 (KINEGRAM_V2 §9.1, §9.10):

    * a chip that fails Chip Authentication itself (a clone: CA FAILED on a document
      whose signature is valid) cannot answer under the new keys, so no DG1 can be
      handed back: the server closes 1011 COMMUNICATION_FAILED and there is no RESULT
      (``{"close": (1011, "COMMUNICATION_FAILED")}``);
    * PACE-CAM proves the chip to the phone only; the virtual CAM document has no
      DG14, so the server sees no Chip Authentication at all: UNAVAILABLE;
    * a phone that skips AA after a successful CA leaves AA UNAVAILABLE.
    """
    ca = expect.chip_authentication
    aa = expect.active_authentication
    if ca == "FAILED" and expect.passive_authentication:
        return {"close": (1011, "COMMUNICATION_FAILED")}
    if "-CAM-" in expect.access_control and ca == "SUCCESS":
        ca = "UNAVAILABLE"
    if options.skip_aa_after_ca and ca == "SUCCESS" and aa == "SUCCESS":
        aa = "UNAVAILABLE"
    return {"chipAuthenticationResult": ca, "activeAuthenticationResult": aa,
            "passiveAuthentication": expect.passive_authentication}
