"""The DER atoms SecurityInfos are checked with, field by field (X.690).

Each decoder makes the checks asn1crypto does not (length caps, non-minimal OID
arcs, a truncated last arc) and raises ParseError naming the field; the
structures built from them are :mod:`docval.emrtd.securityinfo`.
"""
from __future__ import annotations

from asn1crypto import core as asn1
from asn1crypto import parser as asn1parser

from docval.emrtd import asn1types
from docval.emrtd.errors import ParseError

_MAX_OID_BYTES = 64
_MAX_INT_BYTES = 32


def decode_oid(body: bytes) -> str:
    """Dotted form of an OBJECT IDENTIFIER's content octets (X.690 8.19).

    asn1crypto does the arithmetic; the checks before it are the ones it does not
    make (a length cap, non-minimal arcs, a truncated last arc).
    """
    if not body or len(body) > _MAX_OID_BYTES:
        raise ParseError("OBJECT IDENTIFIER of bad length")
    if body[-1] & 0x80:
        raise ParseError("truncated OBJECT IDENTIFIER")
    if any(byte == 0x80 and (i == 0 or not body[i - 1] & 0x80) for i, byte in enumerate(body)):
        raise ParseError("OBJECT IDENTIFIER arc with a leading 0x80 byte")
    try:
        return str(asn1.ObjectIdentifier.load(bytes([0x06, len(body)]) + body, strict=True).dotted)
    except ValueError:
        raise ParseError("malformed OBJECT IDENTIFIER") from None


def encode_oid(dotted: str) -> bytes:
    """DER encoding (tag, length, value) of a dotted OID."""
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError("not an object identifier")
    return bytes(asn1.ObjectIdentifier(dotted).dump())


def encode_int(value: int) -> bytes:
    return bytes(asn1.Integer(value).dump())


def split_field(field: bytes) -> tuple[int, bytes]:
    """(tag as the integer of its identifier octets, contents) of one DER field."""
    header, contents = asn1parser.parse(field, strict=True)[3:5]
    ident = 1
    if header[0] & 0x1F == 0x1F:
        while header[ident] & 0x80:
            ident += 1
        ident += 1
    return int.from_bytes(header[:ident], "big"), contents


def decode_int(field: bytes, what: str, *, unsigned: bool = False) -> int:
    tag, contents = split_field(field)
    if tag != 0x02:
        raise ParseError(f"{what}: expected an INTEGER, found tag {tag:X}")
    if not 1 <= len(contents) <= _MAX_INT_BYTES:
        raise ParseError(f"{what}: INTEGER of bad length")
    return int.from_bytes(contents, "big", signed=not unsigned)


def oid_of(field: bytes, what: str) -> str:
    tag, contents = split_field(field)
    if tag != 0x06:
        raise ParseError(f"{what}: expected an OBJECT IDENTIFIER, found tag {tag:X}")
    return decode_oid(contents)


def sequence_fields(field: bytes) -> list[bytes]:
    """The DER fields of a SEQUENCE, raw, so their shape can be checked field by field."""
    return [bytes(f.dump()) for f in asn1types.Fields.load(field, strict=True)]
