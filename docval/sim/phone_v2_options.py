"""The API v2 virtual phone's settings, its record of a session, the close reasons it
uses, and what a v2 session must end with for a virtual document.

The phone itself is :class:`docval.sim.phone_v2.PhoneV2Protocol`, which re-exports
these; the close reasons and :class:`PhoneFailure` are shared by its WebSocket side
and its chip side (:mod:`docval.sim.phone_v2_reader`).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from docval.emrtd.mrz import CanKey, MrzKey
from docval.sim.phone import PhoneRecord

SHORT_TRANSCEIVE = 256
EXTENDED_TRANSCEIVE = 65536

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


def expected_v2(expect: Any, options: PhoneV2Options) -> dict[str, Any]:
    """What a v2 session must end with for a profile whose v1 expectation is ``expect``.

    Three differences from v1 (docs/websocket-api-v2.md, docs/verdicts.md):

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
