"""The StartMessage (docs/websocket-api.md, StartMessage): strict parsing of the phone's first text message.

Anything that is not exactly the documented object is refused: unknown fields,
wrong JSON types (``true`` is not an integer, ``1024.0`` is not an integer),
NaN/Infinity, duplicate keys, oversized or deeply nested input.  Structural
problems raise :class:`InvalidStartMessage`; access-key values that break the
The documented rules raise :class:`InvalidAccessKey`.  Error messages name the field,
never its value: the value may be a CAN or a date of birth.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from docval import strictjson
from docval.emrtd.mrz import CanKey, MrzKey
from docval.errors import InvalidAccessKey, InvalidStartMessage

MAX_BYTES = 4096
MAX_DEPTH = 4          # the real message is 2 deep (object -> access_key)
MAX_NUMBER_DIGITS = 12
MAX_DOCUMENT_NUMBER = 24   # TD1 numbers may run into the optional data field
MIN_APDU_BYTES = 64        # docs/reliability.md P6: lies about sizes are clamped
MAX_APDU_BYTES = 65536
MAX_PIPELINED = 64

_MRZ_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_REQUIRED = {
    "client_id": str,
    "validation_id": str,
    "access_key": dict,
    "nfc_adapter_supports_extended_length": bool,
    "platform": str,
}
_OPTIONAL = {"max_command_bytes", "max_response_bytes", "enable_diagnostics", "max_pipelined_apdus"}
_CAN_FIELDS = frozenset({"can"})
_MRZ_FIELDS = frozenset({"document_number", "date_of_birth", "date_of_expiry"})


@dataclass(frozen=True, repr=False)
class StartMessage:
    client_id: str
    validation_id: str
    access_key: MrzKey | CanKey
    nfc_adapter_supports_extended_length: bool
    platform: str
    max_command_bytes: int | None = None
    max_response_bytes: int | None = None
    enable_diagnostics: bool = False
    # 1 unless the phone declared in-order processing (DocVal extension).
    max_pipelined_apdus: int = 1

    @property
    def access_kind(self) -> str:
        """"CAN" or "MRZ": loggable, unlike the key itself."""
        return "CAN" if isinstance(self.access_key, CanKey) else "MRZ"

    def __repr__(self) -> str:
        return f"StartMessage(platform={self.platform!r}, access={self.access_kind})"


def _invalid(what: str) -> InvalidStartMessage:
    return InvalidStartMessage(f"start message: {what}")


def _decode(payload: bytes) -> Any:
    return strictjson.loads(payload, max_bytes=MAX_BYTES, max_depth=MAX_DEPTH,
                            max_number_digits=MAX_NUMBER_DIGITS, error=_invalid)


def _typed(obj: dict[str, Any], name: str, kind: type) -> Any:
    value = obj[name]
    # type() rather than isinstance: bool is a subclass of int.
    if type(value) is not kind:
        raise _invalid(f"{name} has the wrong type")
    return value


def _apdu_size(obj: dict[str, Any], name: str) -> int | None:
    if name not in obj or obj[name] is None:
        return None
    value: int = _typed(obj, name, int)
    return min(max(value, MIN_APDU_BYTES), MAX_APDU_BYTES)


def _text(obj: dict[str, Any], name: str) -> str:
    # No length rule of its own: the API only types these strings (a long client_id is
    # an unknown client, 4401; a long platform is an "other"), and MAX_BYTES bounds them.
    value: str = _typed(obj, name, str)
    return value


def field_name(name: str) -> str:
    """A field name the phone sent, quoted for a log line: names are ours to print when
    they look like names; anything else (it could carry data) is not repeated."""
    if 0 < len(name) <= 40 and all(c.isascii() and (c.isalnum() or c in "_-.") for c in name):
        return repr(name)
    return "(a name that is not printed)"


def parse_start_message(payload: bytes) -> StartMessage:
    """Parse and validate the raw text of a StartMessage (UTF-8 bytes).

    Errors name the offending field, never its value.  When the message carried a string
    ``validation_id``, the error keeps it (``error.validation_id``) so the session's log line
    can be matched with the app's own records.
    """
    obj = _decode(payload)
    if not isinstance(obj, dict):
        raise _invalid("not a JSON object")
    validation_id = obj.get("validation_id")
    try:
        return _parse_fields(obj)
    except (InvalidStartMessage, InvalidAccessKey) as e:
        e.validation_id = validation_id if type(validation_id) is str else None  # type: ignore[union-attr]
        raise


def _parse_fields(obj: dict[str, Any]) -> StartMessage:
    unknown = sorted(set(obj) - set(_REQUIRED) - _OPTIONAL)
    if unknown:
        raise _invalid(f"unknown field {field_name(unknown[0])}")
    for name in _REQUIRED:
        if name not in obj:
            raise _invalid(f"{name} is missing")
    client_id = _text(obj, "client_id")
    validation_id = _text(obj, "validation_id")
    platform = _text(obj, "platform")
    extended = _typed(obj, "nfc_adapter_supports_extended_length", bool)
    max_command = _apdu_size(obj, "max_command_bytes")
    max_response = _apdu_size(obj, "max_response_bytes")
    diagnostics = _typed(obj, "enable_diagnostics", bool) if "enable_diagnostics" in obj else False
    pipelined = 1
    if "max_pipelined_apdus" in obj:
        pipelined = _typed(obj, "max_pipelined_apdus", int)
        if not 1 <= pipelined <= MAX_PIPELINED:
            raise _invalid(f"max_pipelined_apdus must be 1 to {MAX_PIPELINED}")
    access_key = parse_access_key(_typed(obj, "access_key", dict))
    return StartMessage(
        client_id=client_id,
        validation_id=validation_id,
        access_key=access_key,
        nfc_adapter_supports_extended_length=extended,
        platform=platform,
        max_command_bytes=max_command,
        max_response_bytes=max_response,
        enable_diagnostics=diagnostics,
        max_pipelined_apdus=pipelined,
    )


def parse_access_key(obj: dict[str, Any]) -> MrzKey | CanKey:
    """docs/websocket-api.md (StartMessage): ``{"can"}`` or ``{"document_number", "date_of_birth", "date_of_expiry"}``."""
    fields = frozenset(obj)
    if fields not in (_CAN_FIELDS, _MRZ_FIELDS):
        extra = sorted(fields - _CAN_FIELDS - _MRZ_FIELDS)
        what = f" (unknown field {field_name('access_key.' + extra[0])})" if extra else ""
        raise _invalid(f"access_key must hold either can or the three MRZ fields{what}")
    for name in fields:
        if type(obj[name]) is not str:
            raise _invalid(f"access_key.{name} has the wrong type")
    if fields == _CAN_FIELDS:
        can = obj["can"]
        if len(can) != 6 or not _digits(can):
            raise InvalidAccessKey("CAN must be exactly 6 digits")
        return CanKey(can)
    number = obj["document_number"]
    if not number.isascii():
        raise InvalidAccessKey("document_number must be A-Z, 0-9 or '<'")
    number = number.upper()
    if not MAX_DOCUMENT_NUMBER >= len(number) >= 8 or not set(number) <= _MRZ_CHARS:
        raise InvalidAccessKey(
            f"document_number must be 8 to {MAX_DOCUMENT_NUMBER} characters of A-Z, 0-9 or '<'"
        )
    if len(number) > 9:
        # A number longer than 9 characters is used whole for the key (ICAO 9303-11
        # §9.7.2), so the fillers of a TD1 MRZ field typed along with it must go; up to
        # 9 characters they are the padding the key uses anyway.
        number = number.rstrip("<").ljust(9, "<") if number.rstrip("<") else number
    for name in ("date_of_birth", "date_of_expiry"):
        if not _is_date(obj[name]):
            raise InvalidAccessKey(f"{name} must be a real date as yyMMdd")
    return MrzKey(number, obj["date_of_birth"], obj["date_of_expiry"])


def _digits(s: str) -> bool:
    # str.isdigit() accepts e.g. Arabic-Indic and superscript digits.
    return s.isascii() and s.isdigit()


def _is_date(s: str) -> bool:
    if len(s) != 6 or not _digits(s):
        return False
    yy, mm, dd = int(s[0:2]), int(s[2:4]), int(s[4:6])
    if not 1 <= mm <= 12 or dd < 1 or dd > _DAYS[mm - 1]:
        return False
    # yy is ambiguous across centuries; 29 Feb is accepted when yy is a leap year in
    # 2000-2099 (and 1904-1996), which is every yy divisible by 4.
    return not (mm == 2 and dd == 29 and yy % 4 != 0)
