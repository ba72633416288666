"""Machine Readable Zone (ICAO 9303-3/4/5/6) and the access keys derived from it.

:func:`parse_mrz` reads the MRZ as DG1 stores it (tag 5F1F: the lines concatenated,
90 characters for TD1, 72 for TD2, 88 for TD3).  A wrong check digit is reported
in ``check_digit_errors``, not raised: the chip's DG1 is authenticated by the SOD,
so a printing quirk must not hide the rest of the document.

:class:`MrzKey` and :class:`CanKey` are the access keys of BAC and PACE
(ICAO 9303-11 §4.3.2, §9.7.2/§9.7.3).  Nothing here shows MRZ data in a repr or
an error message.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Union

from docval.emrtd.errors import ParseError

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<"
_VALUES = {c: (0 if c == "<" else i) for i, c in enumerate(_ALPHABET)}
_WEIGHTS = (7, 3, 1)

_GENDERS = {"M": "MALE", "F": "FEMALE"}


def check_digit(field: str) -> str:
    """ICAO 9303-3 §4.9: weights 7-3-1, digits as themselves, A=10..Z=35, '<' = 0."""
    total = 0
    for i, c in enumerate(field):
        try:
            total += _VALUES[c] * _WEIGHTS[i % 3]
        except KeyError:
            raise ValueError("character outside the MRZ alphabet") from None
    return str(total % 10)


@dataclass(frozen=True, repr=False)
class MRZ:
    document_type: str                 # "TD1" | "TD2" | "TD3"
    document_code: str
    issuing_state: str
    primary_identifier: str
    secondary_identifier: tuple[str, ...]
    nationality: str
    document_number: str
    date_of_birth: str                 # yyMMdd
    date_of_expiry: str                # yyMMdd
    gender: str                        # "MALE" | "FEMALE" | "UNSPECIFIED"
    optional_data1: str
    optional_data2: str | None         # TD1 only
    check_digit_errors: tuple[str, ...]

    def __repr__(self) -> str:
        return f"MRZ({self.document_type}, {len(self.check_digit_errors)} check digit errors)"


def _strip(field: str) -> str:
    return field.rstrip("<")


def _text(field: str) -> str:
    """A filler-separated text field as words ('VAN<DER<BERG' -> 'VAN DER BERG')."""
    return " ".join(part for part in field.split("<") if part)


def _names(field: str) -> tuple[str, tuple[str, ...]]:
    primary, _, secondary = field.partition("<<")
    return _text(primary), tuple(part for part in secondary.split("<") if part)


def _check(field: str, digit: str, name: str, errors: list[str]) -> None:
    # An all-filler field may carry '<' instead of '0' as its check digit (9303-3 §4.9).
    if digit == "<" and not field.strip("<"):
        return
    if check_digit(field) != digit:
        errors.append(name)


def _document_number(number: str, digit: str, optional: str,
                     errors: list[str]) -> tuple[str, str]:
    """Resolve the document number and the optional data that follows it.

    A number longer than 9 characters keeps its first 9 in the number field, puts
    '<' in the check digit position and continues in the optional data field with
    its remaining characters and then its check digit, ended by '<'
    (9303-5 §4.2.2 note j, 9303-6 likewise).
    """
    if digit != "<" or not number.strip("<"):
        _check(number, digit, "document_number", errors)
        return _strip(number), optional
    overflow, _, rest = optional.partition("<")
    if len(overflow) < 2:
        # '<' as check digit without an overflow: the check digit is simply missing.
        errors.append("document_number")
        return _strip(number), optional
    full = number + overflow[:-1]
    _check(full, overflow[-1], "document_number", errors)
    return full, rest


def _gender(c: str) -> str:
    return _GENDERS.get(c, "UNSPECIFIED")


def _parse_td1(s: str) -> MRZ:
    l1, l2, l3 = s[:30], s[30:60], s[60:]
    errors: list[str] = []
    number, optional1 = _document_number(l1[5:14], l1[14], l1[15:30], errors)
    _check(l2[0:6], l2[6], "date_of_birth", errors)
    _check(l2[8:14], l2[14], "date_of_expiry", errors)
    _check(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29], "composite", errors)
    primary, secondary = _names(l3)
    return MRZ("TD1", _strip(l1[0:2]), _strip(l1[2:5]), primary, secondary, _strip(l2[15:18]),
               number, l2[0:6], l2[8:14], _gender(l2[7]), _strip(optional1), _strip(l2[18:29]),
               tuple(errors))


def _parse_td2(s: str) -> MRZ:
    l1, l2 = s[:36], s[36:]
    errors: list[str] = []
    number, optional1 = _document_number(l2[0:9], l2[9], l2[28:35], errors)
    _check(l2[13:19], l2[19], "date_of_birth", errors)
    _check(l2[21:27], l2[27], "date_of_expiry", errors)
    _check(l2[0:10] + l2[13:20] + l2[21:35], l2[35], "composite", errors)
    primary, secondary = _names(l1[5:36])
    return MRZ("TD2", _strip(l1[0:2]), _strip(l1[2:5]), primary, secondary, _strip(l2[10:13]),
               number, l2[13:19], l2[21:27], _gender(l2[20]), _strip(optional1), None,
               tuple(errors))


def _parse_td3(s: str) -> MRZ:
    l1, l2 = s[:44], s[44:]
    errors: list[str] = []
    _check(l2[0:9], l2[9], "document_number", errors)
    _check(l2[13:19], l2[19], "date_of_birth", errors)
    _check(l2[21:27], l2[27], "date_of_expiry", errors)
    _check(l2[28:42], l2[42], "optional_data1", errors)
    _check(l2[0:10] + l2[13:20] + l2[21:43], l2[43], "composite", errors)
    primary, secondary = _names(l1[5:44])
    return MRZ("TD3", _strip(l1[0:2]), _strip(l1[2:5]), primary, secondary, _strip(l2[10:13]),
               _strip(l2[0:9]), l2[13:19], l2[21:27], _gender(l2[20]), _strip(l2[28:42]), None,
               tuple(errors))


_PARSERS = {90: _parse_td1, 72: _parse_td2, 88: _parse_td3}


def parse_mrz(text: str) -> MRZ:
    """Parse a concatenated MRZ (line breaks between the lines are tolerated)."""
    if not isinstance(text, str):
        raise ParseError("MRZ must be text")
    s = text.replace("\r", "").replace("\n", "")
    parser = _PARSERS.get(len(s))
    if parser is None:
        raise ParseError(f"MRZ of {len(s)} characters is neither TD1, TD2 nor TD3")
    if any(c not in _VALUES for c in s):
        raise ParseError("MRZ contains characters outside A-Z, 0-9 and '<'")
    return parser(s)


def _mrz_field(value: str, name: str) -> str:
    if not isinstance(value, str) or not value or any(c not in _VALUES for c in value):
        raise ValueError(f"{name} must be non-empty A-Z, 0-9 or '<'")
    return value


def _date(value: str, name: str) -> str:
    if not isinstance(value, str) or len(value) != 6 or not value.isascii() or not value.isdigit():
        raise ValueError(f"{name} must be 6 digits (yyMMdd)")
    return value


@dataclass(frozen=True, repr=False)
class MrzKey:
    """The BAC / PACE-MRZ access key: document number, date of birth, date of expiry.

    The document number is given without check digit, with or without trailing
    fillers; upper-case it before (the session layer validates the StartMessage rules of docs/websocket-api.md).
    """
    document_number: str
    date_of_birth: str
    date_of_expiry: str

    def __post_init__(self) -> None:
        _mrz_field(self.document_number, "document_number")
        _date(self.date_of_birth, "date_of_birth")
        _date(self.date_of_expiry, "date_of_expiry")

    @property
    def mrz_information(self) -> bytes:
        """ICAO 9303-11 §9.7.2 MRZ_information.

        The number is padded with '<' to 9 characters; a longer number (TD1 with
        overflow) is used whole with the check digit over all of it, as JMRTD and
        gmrtd do and as the chip computes it from its own DG1.
        """
        # Fillers typed after a long number are not part of it ("IDV9K4471203<<<").
        number = self.document_number.rstrip("<").ljust(9, "<")
        info = (number + check_digit(number)
                + self.date_of_birth + check_digit(self.date_of_birth)
                + self.date_of_expiry + check_digit(self.date_of_expiry))
        return info.encode("ascii")

    @property
    def key_seed(self) -> bytes:
        """K_seed of BAC (9303-11 §9.7.2): the first 16 bytes of SHA-1(MRZ_information)."""
        return hashlib.sha1(self.mrz_information).digest()[:16]

    @property
    def pace_password(self) -> bytes:
        """The PACE password for the MRZ (9303-11 §9.7.3): SHA-1(MRZ_information)."""
        return hashlib.sha1(self.mrz_information).digest()

    def __repr__(self) -> str:
        return "MrzKey(<redacted>)"


@dataclass(frozen=True, repr=False)
class CanKey:
    """The Card Access Number, the PACE password printed on the document."""
    can: str

    def __post_init__(self) -> None:
        if not isinstance(self.can, str) or not self.can or not self.can.isascii() \
                or not self.can.isdigit():
            raise ValueError("CAN must be ASCII digits")

    @property
    def pace_password(self) -> bytes:
        return self.can.encode("ascii")

    def __repr__(self) -> str:
        return "CanKey(<redacted>)"


AccessKey = Union[MrzKey, CanKey]
