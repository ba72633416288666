"""The v2 messages on the wire (docs/websocket-api-v2.md): parsing what the phone sends,
building what the server sends.

Phone -> server text is one JSON object with a string ``type``: ``START``, ``CA_HANDOVER``,
``FINISH`` or ``MONITORING``.  Known fields are strictly typed (``true`` is not an integer,
``1.0`` is not an integer), unknown fields are ignored because the SDKs add fields over
versions.  Phone -> server binary is a FILE frame (``01 nameLen name data``) or an APDU
frame (``02 response``).

Errors are the session's close reasons (docval.errors): a malformed ``START`` raises
:class:`~docval.errors.InvalidStartMessage`; anything else malformed, of an unknown type,
or not JSON raises :class:`~docval.errors.UnexpectedMessage`.  Nothing else escapes the
parsers, whatever the bytes.  Messages name fields, never values: the payloads carry
session keys, document data and free text.

Server -> phone builders return the JSON object (:func:`encode` makes the compact UTF-8
text) or the binary frame.  Base64 is always the standard alphabet with padding, which is
what iOS's strict decoder needs.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any, Final, Union

from docval import strictjson
from docval.errors import InvalidStartMessage, UnexpectedMessage

# --- limits --------------------------------------------------------------------------------

#: Any phone text message (MONITORING carries free text, e.g. iOS stack traces).
MAX_TEXT_BYTES: Final = 65536
#: START as a whole, as v1's StartMessage: its strings have no length rule of their own.
MAX_START_BYTES: Final = 4096
#: CA_HANDOVER nests ``secureMessagingInfo`` one level deep; 4 leaves room and stops abuse.
MAX_DEPTH: Final = 4
#: The SSC is a signed 64-bit number: 19 digits, 20 with a sign.
MAX_NUMBER_DIGITS: Final = 20
#: An Active Authentication signature: RSA-4096 (docval.emrtd.aa's cap) is 512 bytes.
MAX_SIGNATURE_BYTES: Final = 1024
#: The relay limits a phone may declare; larger values are clamped (nothing needs more).
MAX_TRANSCEIVE: Final = 65536
MAX_BLOCK: Final = 65536
_JAVA_INT_MAX: Final = 2**31 - 1
#: An APDU response: up to 65536 data bytes and the status word.
MAX_APDU_RESPONSE: Final = 65538
#: FILE names: Android reads nameLen as a signed byte.
MAX_NAME_BYTES: Final = 127

FRAME_FILE: Final = 0x01
FRAME_APDU: Final = 0x02

CHECK_RESULTS: Final = frozenset({"SUCCESS", "FAILED", "UNAVAILABLE"})

# Message kinds (the ``type`` strings, plus the two binary frames); docval.v2.states uses them.
START: Final = "START"
CA_HANDOVER: Final = "CA_HANDOVER"
FINISH: Final = "FINISH"
MONITORING: Final = "MONITORING"
FILE: Final = "FILE"
APDU: Final = "APDU"

#: The file names the phone may send: ``sod`` and ``dg1``..``dg16`` (lower case, decimal,
#: no leading zero).  EF.COM, EF.CardAccess and EF.CardSecurity are never sent.
FILE_NAMES: Final = frozenset({"sod"} | {f"dg{n}" for n in range(1, 17)})
_DG_NAME = re.compile(r"dg([1-9][0-9]?)")


def dg_number(name: str) -> int | None:
    """16 for ``"dg16"``; None for ``"sod"`` (``name`` must be one of :data:`FILE_NAMES`)."""
    m = _DG_NAME.fullmatch(name)
    return int(m.group(1)) if m else None


def file_name(dg: int | None) -> str:
    """The wire name of data group ``dg``, or of EF.SOD for None."""
    if dg is None:
        return "sod"
    if not 1 <= dg <= 16:
        raise ValueError("data groups are numbered 1..16")
    return f"dg{dg}"


# --- phone -> server ---------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class StartMsg:
    validation_id: str
    client_id: str
    platform: str               # lower case: Android sends "android", iOS "iOS"
    nfc_adapter_supports_extended_length: bool
    enable_diagnostics: bool
    kind: str = field(default=START, init=False)

    def __repr__(self) -> str:
        # The ids are an app's identifiers and an API key: not for tracebacks.
        return f"StartMsg(platform={self.platform!r}, diagnostics={self.enable_diagnostics})"


@dataclass(frozen=True, repr=False)
class HandoverMsg:
    max_transceive: int         # maxTransceiveLengthForSecureMessaging, clamped to MAX_TRANSCEIVE
    max_block: int              # maxBlockSize, clamped to MAX_BLOCK
    # secureMessagingInfo as sent, for docval.emrtd.handover.SMInfo.from_wire (which validates it).
    sm_info: dict[str, Any]
    kind: str = field(default=CA_HANDOVER, init=False)

    def __repr__(self) -> str:
        # Never the keys: they are the session's secrets.
        return f"HandoverMsg(max_transceive={self.max_transceive}, max_block={self.max_block})"


@dataclass(frozen=True, repr=False)
class FinishMsg:
    send_result: bool
    aa_signature: bytes | None  # activeAuthenticationSignature: None when absent or null
    kind: str = field(default=FINISH, init=False)

    def __repr__(self) -> str:
        size = None if self.aa_signature is None else len(self.aa_signature)
        return f"FinishMsg(send_result={self.send_result}, aa_signature_bytes={size})"


@dataclass(frozen=True, repr=False)
class MonitoringMsg:
    # Untrusted free text that may hold device or personal details: keep it only for a
    # diagnostics session, log its length only.
    text: str
    kind: str = field(default=MONITORING, init=False)

    def __repr__(self) -> str:
        return f"MonitoringMsg(chars={len(self.text)})"


@dataclass(frozen=True, repr=False)
class FileFrame:
    name: str                   # one of FILE_NAMES
    data: bytes                 # the file exactly as read from the chip
    kind: str = field(default=FILE, init=False)

    @property
    def dg(self) -> int | None:
        """The data group number, None for EF.SOD."""
        return dg_number(self.name)

    def __repr__(self) -> str:
        return f"FileFrame(name={self.name!r}, bytes={len(self.data)})"


@dataclass(frozen=True, repr=False)
class ApduFrame:
    data: bytes                 # response data || SW1 SW2, as the chip answered
    kind: str = field(default=APDU, init=False)

    def __repr__(self) -> str:
        return f"ApduFrame(bytes={len(self.data)})"


TextMessage = Union[StartMsg, HandoverMsg, FinishMsg, MonitoringMsg]
BinaryMessage = Union[FileFrame, ApduFrame]
Inbound = Union[TextMessage, BinaryMessage]


def _unexpected(what: str) -> UnexpectedMessage:
    return UnexpectedMessage(f"v2 message: {what}")


def _invalid_start(what: str) -> InvalidStartMessage:
    return InvalidStartMessage(f"start message: {what}")


def parse_text(payload: bytes, *, awaiting_start: bool = False) -> TextMessage:
    """Parse one phone text message (its raw UTF-8 bytes).

    With ``awaiting_start`` (no START received yet), text that is not a JSON object with a
    string ``type`` is a malformed START (InvalidStartMessage, as v1 treats its first
    message); otherwise it is UnexpectedMessage, and so is any START.  A START with a
    defect is InvalidStartMessage; when it carried a string ``validationId`` the exception keeps it
    as ``validation_id`` so the session's log line can be matched with the app's records.
    """
    structural = _invalid_start if awaiting_start else _unexpected
    obj = strictjson.loads(payload, max_bytes=MAX_TEXT_BYTES, max_depth=MAX_DEPTH,
                           max_number_digits=MAX_NUMBER_DIGITS, error=structural)
    if not isinstance(obj, dict):
        raise structural("not a JSON object")
    kind = obj.get("type")
    if type(kind) is not str:
        raise structural("type is missing or not a string")
    if kind == START:
        if not awaiting_start:
            raise _unexpected("START after the session started")
        validation_id = obj.get("validationId")
        try:
            if len(payload) > MAX_START_BYTES:
                raise _invalid_start(f"larger than {MAX_START_BYTES} bytes")
            return _start(obj)
        except InvalidStartMessage as e:
            e.validation_id = validation_id if type(validation_id) is str else None  # type: ignore[attr-defined]
            raise
    if kind == CA_HANDOVER:
        return _handover(obj)
    if kind == FINISH:
        return _finish(obj)
    if kind == MONITORING:
        return MonitoringMsg(_typed(obj, "message", str, _unexpected))
    raise structural("unknown type")


def _typed(obj: dict[str, Any], name: str, kind: type, error: strictjson.ErrorFactory) -> Any:
    if name not in obj:
        raise error(f"{name} is missing")
    value = obj[name]
    # type() rather than isinstance: bool is a subclass of int.
    if type(value) is not kind:
        raise error(f"{name} has the wrong type")
    return value


def _start(obj: dict[str, Any]) -> StartMsg:
    def text(name: str) -> str:
        value: str = _typed(obj, name, str, _invalid_start)
        return value

    def flag(name: str) -> bool:
        value: bool = _typed(obj, name, bool, _invalid_start)
        return value

    return StartMsg(
        validation_id=text("validationId"),
        client_id=text("clientId"),
        platform=text("platform").lower(),
        nfc_adapter_supports_extended_length=flag("nfcAdapterSupportsExtendedLength"),
        enable_diagnostics=flag("enableDiagnostics"),
    )


def _limit(obj: dict[str, Any], name: str, cap: int) -> int:
    value: int = _typed(obj, name, int, _unexpected)
    # Android sends Java ints; zero or negative limits cannot be honoured at all.
    if not 1 <= value <= _JAVA_INT_MAX:
        raise _unexpected(f"{name} out of range")
    return min(value, cap)


def _handover(obj: dict[str, Any]) -> HandoverMsg:
    return HandoverMsg(
        max_transceive=_limit(obj, "maxTransceiveLengthForSecureMessaging", MAX_TRANSCEIVE),
        max_block=_limit(obj, "maxBlockSize", MAX_BLOCK),
        sm_info=_typed(obj, "secureMessagingInfo", dict, _unexpected),
    )


def _finish(obj: dict[str, Any]) -> FinishMsg:
    send_result: bool = _typed(obj, "sendResult", bool, _unexpected)
    # Android omits the key when there is no signature, iOS sends null.
    signature = obj.get("activeAuthenticationSignature")
    if signature is None:
        return FinishMsg(send_result, None)
    if type(signature) is not str:
        raise _unexpected("activeAuthenticationSignature has the wrong type")
    if not signature or len(signature) > 4 * ((MAX_SIGNATURE_BYTES + 2) // 3):
        raise _unexpected("activeAuthenticationSignature has an impossible length")
    return FinishMsg(send_result, b64decode_strict(signature, _unexpected, "activeAuthenticationSignature"))


def b64decode_strict(text: str, error: strictjson.ErrorFactory, name: str) -> bytes:
    """Standard alphabet, padded, no whitespace, canonical (one encoding per byte string)."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise error(f"{name} is not standard base64") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise error(f"{name} is not standard base64")
    return data


def parse_binary(payload: bytes, *, max_file_bytes: int) -> BinaryMessage:
    """Parse one phone binary message: a FILE frame (at most ``max_file_bytes`` of file
    data, a name from :data:`FILE_NAMES`) or an APDU frame (at least the status word)."""
    payload = bytes(payload)
    if not payload:
        raise _unexpected("empty binary message")
    if payload[0] == FRAME_FILE:
        return _file(payload, max_file_bytes)
    if payload[0] == FRAME_APDU:
        data = payload[1:]
        if len(data) < 2:
            raise _unexpected("APDU frame shorter than a status word")
        if len(data) > MAX_APDU_RESPONSE:
            raise _unexpected("APDU frame longer than any response")
        return ApduFrame(data)
    raise _unexpected("unknown binary message type")


def _file(payload: bytes, max_file_bytes: int) -> FileFrame:
    if len(payload) < 2:
        raise _unexpected("FILE frame without a name length")
    name_len = payload[1]
    if not 1 <= name_len <= MAX_NAME_BYTES:
        raise _unexpected("FILE frame name length out of range")
    if len(payload) < 2 + name_len:
        raise _unexpected("FILE frame shorter than its name")
    raw_name = payload[2:2 + name_len]
    # Compared as bytes: a name is never decoded, so no odd UTF-8 reaches a log or a dict.
    name = raw_name.decode("ascii") if raw_name.isascii() else ""
    if name not in FILE_NAMES:
        raise _unexpected("FILE frame with an unknown file name")
    data = payload[2 + name_len:]
    if not data:
        raise _unexpected(f"FILE frame {name} without file data")
    if len(data) > max_file_bytes:
        raise _unexpected(f"FILE frame {name} larger than {max_file_bytes} bytes")
    return FileFrame(name, data)


# --- server -> phone ---------------------------------------------------------------------


def b64(data: bytes) -> str:
    """Standard, padded, one line: what both SDKs decode."""
    return base64.b64encode(bytes(data)).decode("ascii")


def encode(message: dict[str, Any]) -> bytes:
    """A server text message as compact UTF-8 JSON."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def accept(challenge: bytes) -> dict[str, Any]:
    """ACCEPT with the session's Active Authentication challenge (8 bytes in practice)."""
    if not challenge:
        raise ValueError("ACCEPT needs a challenge")
    return {"type": "ACCEPT", "activeAuthenticationChallenge": b64(challenge)}


def handback(check_result: str, sm_wire: dict[str, Any], dg1: bytes) -> dict[str, Any]:
    """CA_HANDBACK: the CA outcome, the Secure Messaging session the phone continues with
    (``SMInfo.to_wire()``, sent every time) and the DG1 the server read (``dg1Data``, which
    iOS may reuse; the FILE frame ``dg1`` must still be sent first)."""
    if check_result not in CHECK_RESULTS:
        raise ValueError("checkResult must be SUCCESS, FAILED or UNAVAILABLE")
    return {"type": "CA_HANDBACK", "checkResult": check_result,
            "secureMessagingInfo": dict(sm_wire), "dg1Data": b64(dg1)}


def result(passport: dict[str, Any]) -> dict[str, Any]:
    """RESULT with the camelCase passport (docval.v2.camel.to_camel)."""
    return {"type": "RESULT", "passport": passport}


def close(code: int, reason: str | None) -> dict[str, Any]:
    """CLOSE, always with both fields (Android fails on a missing ``reason``): ``""`` on success."""
    return {"type": "CLOSE", "code": int(code), "reason": reason or ""}


def file_frame(name: str, data: bytes) -> bytes:
    """A FILE frame; the server sends only ``dg1``."""
    raw = name.encode("ascii")
    if not 1 <= len(raw) <= MAX_NAME_BYTES:
        raise ValueError("FILE names are 1..127 bytes")
    return bytes((FRAME_FILE, len(raw))) + raw + bytes(data)


def apdu_frame(apdu: bytes) -> bytes:
    """An APDU frame carrying one complete (already protected) command APDU."""
    if len(apdu) < 4:
        raise ValueError("a command APDU has at least a header")
    return bytes((FRAME_APDU,)) + bytes(apdu)
