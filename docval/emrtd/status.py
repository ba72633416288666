"""ISO/IEC 7816-4 status words: the constants and their names for messages.

Kept apart from :mod:`docval.emrtd.apdu` so that :mod:`docval.emrtd.errors`
can name a status word without importing the APDU layer (which imports errors).
"""
from __future__ import annotations

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282          # fewer bytes than Le: end of file reached
SW_WRONG_LENGTH = 0x6700
SW_LAST_COMMAND_EXPECTED = 0x6883
SW_CHAINING_NOT_SUPPORTED = 0x6884
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_AUTH_METHOD_BLOCKED = 0x6983
SW_SM_DATA_MISSING = 0x6987
SW_SM_DATA_INCORRECT = 0x6988
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_WRONG_DATA = 0x6A80
SW_FUNCTION_NOT_SUPPORTED = 0x6A81
SW_FILE_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_REFERENCED_DATA_NOT_FOUND = 0x6A88
SW_OFFSET_OUTSIDE_EF = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_UNKNOWN = 0x6F00

_SW_NAMES = {
    SW_OK: "success",
    SW_END_OF_FILE: "end of file reached before Le bytes",
    0x6300: "verification failed",
    0x6581: "memory failure",
    SW_WRONG_LENGTH: "wrong length",
    0x6882: "secure messaging not supported",
    SW_LAST_COMMAND_EXPECTED: "last command of the chain expected",
    SW_CHAINING_NOT_SUPPORTED: "command chaining not supported",
    0x6981: "command incompatible with file structure",
    SW_SECURITY_NOT_SATISFIED: "security status not satisfied",
    SW_AUTH_METHOD_BLOCKED: "authentication method blocked",
    0x6984: "reference data not usable",
    SW_CONDITIONS_NOT_SATISFIED: "conditions of use not satisfied",
    0x6986: "command not allowed (no current EF)",
    SW_SM_DATA_MISSING: "expected secure messaging data objects missing",
    SW_SM_DATA_INCORRECT: "incorrect secure messaging data objects",
    SW_WRONG_DATA: "incorrect parameters in the data field",
    SW_FUNCTION_NOT_SUPPORTED: "function not supported",
    SW_FILE_NOT_FOUND: "file or application not found",
    SW_WRONG_P1P2: "incorrect parameters P1-P2",
    SW_REFERENCED_DATA_NOT_FOUND: "referenced data not found",
    SW_OFFSET_OUTSIDE_EF: "offset outside the EF",
    SW_INS_NOT_SUPPORTED: "instruction not supported",
    SW_CLA_NOT_SUPPORTED: "class not supported",
    SW_UNKNOWN: "no precise diagnosis",
}


def sw_name(sw: int) -> str:
    if sw in _SW_NAMES:
        return _SW_NAMES[sw]
    sw1 = sw >> 8
    if sw1 == 0x61:
        return f"{sw & 0xFF} more bytes available"
    if sw1 == 0x6C:
        return f"wrong Le, exact length {sw & 0xFF or 256}"
    if sw1 == 0x63 and sw & 0xF0 == 0xC0:
        return f"verification failed, {sw & 0x0F} tries left"
    return "unknown status"


def is_iso_status(sw: int) -> bool:
    """True for status words ISO 7816-4 can produce (SW1 in 61..6F or 90).

    Old Android SDKs turn an NFC timeout into garbage such as ``FFFF`` or ``C200``
    (docs/websocket-api.md, APDU relay); those are communication failures, not answers from the chip.
    """
    sw1 = sw >> 8
    return sw1 == 0x90 or 0x61 <= sw1 <= 0x6F
