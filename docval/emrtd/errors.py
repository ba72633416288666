"""The exceptions the pure ICAO 9303 layer raises.

Every failure that untrusted bytes can cause is one of these; anything else
escaping a parser is a bug.  Messages describe *what* was wrong (a tag, a length,
a status word) and never contain document data or key material.
``docval.errors`` maps them to the close reasons of docs/websocket-api.md (closing)
"""
from __future__ import annotations

from docval.emrtd.status import sw_name


class EmrtdError(Exception):
    """Base class of everything the chip or its data can make go wrong."""


class ParseError(EmrtdError):
    """Malformed bytes: TLV, ASN.1, a data group or a security object."""


class TLVError(ParseError):
    """Malformed BER-TLV (bad tag, bad length, too deep, too long, truncated)."""


class CommunicationError(EmrtdError):
    """The relay broke: an R-APDU that is not a response, or a non-ISO status word."""


class SecureMessagingError(CommunicationError):
    """A protected response failed verification; the SM session is unusable."""


class StatusError(EmrtdError):
    """The chip answered a command with an unexpected ISO 7816 status word."""

    def __init__(self, sw: int, context: str = ""):
        self.sw = sw
        self.context = context
        where = f"{context}: " if context else ""
        super().__init__(f"{where}status {sw:04X} ({sw_name(sw)})")


class AccessControlError(EmrtdError):
    """BAC or PACE was rejected: wrong CAN or MRZ data (or a forged handshake)."""


class AuthenticationError(EmrtdError):
    """Chip or Active Authentication did not prove the chip genuine."""


class FileReadError(EmrtdError):
    """A file could not be read completely."""


class FileNotFoundOnChip(FileReadError):
    """The chip says the file does not exist (6A82)."""


class FileAccessDenied(FileReadError):
    """The chip refuses the file without further authentication (6982, e.g. EAC)."""


class UnsupportedError(EmrtdError):
    """The document uses something DocVal refuses (non-standard parameters, ...)."""


class CommandTooLong(UnsupportedError):
    """A command the phone cannot relay: extended length it lacks, or above max_command_bytes.

    ``response`` is True when the command itself is short and only the answer it
    asks for needs extended length (RSA-2048 Active Authentication under SM).
    """

    def __init__(self, message: str, *, response: bool = False):
        super().__init__(message)
        self.response = response


class AccessControlLost(CommunicationError):
    """Access control failed *again*, after it had succeeded once in this session.

    The CAN or MRZ was right the first time, so this is never the user's key:
    a chip or phone that changed what it answers (a shifted or duplicated answer).
    """


class LimitExceeded(EmrtdError):
    """A hostile size: a key, group, file or structure larger than we accept."""
