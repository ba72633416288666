"""SecurityInfos: EF.CardAccess, EF.CardSecurity content and DG14 (BSI TR-03110-3 A.1, ICAO 9303-11 §9.2).

``SecurityInfos ::= SET OF SecurityInfo`` where every ``SecurityInfo`` is
``SEQUENCE { protocol OBJECT IDENTIFIER, requiredData ANY, optionalData ANY OPTIONAL }``.
The protocol OID decides what the rest means, so the structure is walked with
the BER-TLV reader rather than a fixed ASN.1 schema: an unknown OID is simply
kept (its dotted form lands in ``unknown``), and a document that adds a new kind
of SecurityInfo does not fail.  A *known* OID with malformed data raises
:class:`ParseError`: such a file is broken, not merely newer than us.

The protocol OIDs are listed in :mod:`docval.emrtd.protocols`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Union

from asn1crypto import core as asn1

from docval.emrtd import asn1types, tlv
from docval.emrtd.der import decode_int, oid_of, sequence_fields, split_field
from docval.emrtd.errors import ParseError, TLVError
from docval.emrtd.protocols import arcs_after, require_parts

# The protocol OIDs and naming, and the DER atoms, live in docval.emrtd.protocols and
# docval.emrtd.der; callers keep importing them from here.
from docval.emrtd.der import decode_oid as decode_oid, encode_int as encode_int, encode_oid as encode_oid
from docval.emrtd.protocols import (
    BSI_DE as BSI_DE, CA_FAMILIES as CA_FAMILIES, CIPHERS as CIPHERS, ID_AA as ID_AA, ID_CA as ID_CA,
    ID_CA_DH as ID_CA_DH, ID_CA_ECDH as ID_CA_ECDH, ID_PACE as ID_PACE, ID_PK as ID_PK,
    ID_PK_DH as ID_PK_DH, ID_PK_ECDH as ID_PK_ECDH, ID_PT as ID_PT,
    ID_STANDARDIZED_DOMAIN_PARAMETERS as ID_STANDARDIZED_DOMAIN_PARAMETERS, ID_TA as ID_TA,
    PACE_FAMILIES as PACE_FAMILIES, ProtocolParts as ProtocolParts, ca_oid as ca_oid,
    pace_oid as pace_oid, protocol_name as protocol_name, protocol_parts as protocol_parts,
)

MAX_SECURITY_INFOS = 64          # real files hold fewer than 15
MAX_SECURITY_INFOS_BYTES = 65535


# ---------------------------------------------------------------- SecurityInfo kinds

@dataclass(frozen=True)
class AlgorithmIdentifier:
    """A domain parameter AlgorithmIdentifier, kept raw; ``standardized_id`` when it names one."""

    oid: str
    der: bytes
    standardized_id: int | None = None

    def __repr__(self) -> str:
        return f"AlgorithmIdentifier({self.oid}, standardized_id={self.standardized_id})"

    def asn1(self) -> asn1types.AlgorithmIdentifier:
        value: asn1types.AlgorithmIdentifier = asn1types.AlgorithmIdentifier.load(self.der)
        return value


@dataclass(frozen=True)
class PACEInfo:
    oid: str
    version: int
    parameter_id: int | None = None

    @property
    def parts(self) -> ProtocolParts:
        return require_parts(self.oid)

    @property
    def name(self) -> str:
        return self.parts.name

    def encode(self) -> bytes:
        return _dump(asn1types.PACEInfo(
            {"protocol": self.oid, "version": self.version, "parameter_id": self.parameter_id}))


@dataclass(frozen=True)
class PACEDomainParameterInfo:
    oid: str
    domain_parameter: AlgorithmIdentifier
    parameter_id: int | None = None

    def encode(self) -> bytes:
        return _dump(asn1types.PACEDomainParameterInfo(
            {"protocol": self.oid, "domain_parameter": self.domain_parameter.asn1(),
             "parameter_id": self.parameter_id}))


@dataclass(frozen=True)
class ChipAuthenticationInfo:
    oid: str
    version: int
    key_id: int | None = None

    @property
    def parts(self) -> ProtocolParts:
        return require_parts(self.oid)

    @property
    def name(self) -> str:
        return self.parts.name

    def encode(self) -> bytes:
        return _dump(asn1types.ChipAuthenticationInfo(
            {"protocol": self.oid, "version": self.version, "key_id": self.key_id}))


@dataclass(frozen=True)
class ChipAuthenticationDomainParameterInfo:
    oid: str
    domain_parameter: AlgorithmIdentifier
    key_id: int | None = None

    def encode(self) -> bytes:
        return _dump(asn1types.ChipAuthenticationDomainParameterInfo(
            {"protocol": self.oid, "domain_parameter": self.domain_parameter.asn1(), "key_id": self.key_id}))


@dataclass(frozen=True)
class ChipAuthenticationPublicKeyInfo:
    """A CA public key: ``oid`` is id-PK-DH or id-PK-ECDH, ``spki`` the SubjectPublicKeyInfo DER.

    In DG14 the SPKI is an ordinary X.509 one (often with explicit EC parameters);
    in EF.CardSecurity it usually names standardized domain parameters instead,
    see ``algorithm``.
    """

    oid: str
    spki: bytes = field(repr=False)
    key_id: int | None = None
    algorithm: AlgorithmIdentifier | None = field(default=None, repr=False)

    @property
    def key_agreement(self) -> str:
        return "DH" if self.oid == ID_PK_DH else "ECDH"

    def encode(self) -> bytes:
        return _dump(asn1types.ChipAuthenticationPublicKeyInfo(
            {"protocol": self.oid, "chip_authentication_public_key": asn1types.SubjectPublicKeyInfo.load(self.spki),
             "key_id": self.key_id}))


@dataclass(frozen=True)
class ActiveAuthenticationInfo:
    version: int
    signature_algorithm: str
    oid: str = ID_AA

    def encode(self) -> bytes:
        return _dump(asn1types.ActiveAuthenticationInfo(
            {"protocol": self.oid, "version": self.version, "signature_algorithm": self.signature_algorithm}))


@dataclass(frozen=True)
class TerminalAuthenticationInfo:
    version: int
    oid: str = ID_TA

    def encode(self) -> bytes:
        return _dump(asn1types.TerminalAuthenticationInfo({"protocol": self.oid, "version": self.version}))


@dataclass(frozen=True)
class UnknownSecurityInfo:
    """A SecurityInfo we do not interpret, kept byte for byte."""

    oid: str
    der: bytes = field(repr=False)

    def encode(self) -> bytes:
        return self.der


SecurityInfo = Union[
    PACEInfo, PACEDomainParameterInfo, ChipAuthenticationInfo, ChipAuthenticationDomainParameterInfo,
    ChipAuthenticationPublicKeyInfo, ActiveAuthenticationInfo, TerminalAuthenticationInfo,
    UnknownSecurityInfo,
]


@dataclass
class SecurityInfos:
    pace_infos: list[PACEInfo] = field(default_factory=list)
    pace_domain_parameters: list[PACEDomainParameterInfo] = field(default_factory=list)
    ca_infos: list[ChipAuthenticationInfo] = field(default_factory=list)
    ca_domain_parameters: list[ChipAuthenticationDomainParameterInfo] = field(default_factory=list)
    ca_public_keys: list[ChipAuthenticationPublicKeyInfo] = field(default_factory=list)
    aa_infos: list[ActiveAuthenticationInfo] = field(default_factory=list)
    terminal_auth: list[TerminalAuthenticationInfo] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    # The SecurityInfos inside a PrivilegedTerminalInfo (id-PT), if any: on eID
    # cards they hold the CA keys only privileged terminals may use.
    privileged: "SecurityInfos | None" = None
    items: list[SecurityInfo] = field(default_factory=list, repr=False)

    def add(self, info: SecurityInfo) -> None:
        self.items.append(info)
        if isinstance(info, PACEInfo):
            self.pace_infos.append(info)
        elif isinstance(info, PACEDomainParameterInfo):
            self.pace_domain_parameters.append(info)
        elif isinstance(info, ChipAuthenticationInfo):
            self.ca_infos.append(info)
        elif isinstance(info, ChipAuthenticationDomainParameterInfo):
            self.ca_domain_parameters.append(info)
        elif isinstance(info, ChipAuthenticationPublicKeyInfo):
            self.ca_public_keys.append(info)
        elif isinstance(info, ActiveAuthenticationInfo):
            self.aa_infos.append(info)
        elif isinstance(info, TerminalAuthenticationInfo):
            self.terminal_auth.append(info)
        else:
            self.unknown.append(info.oid)


# ---------------------------------------------------------------- parsing
#
# Each known SecurityInfo is checked field by field first (so a broken file says
# which field is wrong) and then read through its asn1crypto class in asn1types.

def _dump(value: asn1.Asn1Value) -> bytes:
    return bytes(value.dump())


def _algorithm(field: bytes, what: str) -> AlgorithmIdentifier:
    if split_field(field)[0] != 0x30:
        raise ParseError(f"{what}: AlgorithmIdentifier is not a SEQUENCE")
    parts = sequence_fields(field)
    if not parts:
        raise ParseError(f"{what}: empty AlgorithmIdentifier")
    oid = oid_of(parts[0], what)
    std = None
    if oid == ID_STANDARDIZED_DOMAIN_PARAMETERS:
        if len(parts) != 2:
            raise ParseError(f"{what}: standardized domain parameters without an id")
        std = decode_int(parts[1], what)
    return AlgorithmIdentifier(oid, field, std)


def _optional_int(fields: list[bytes], index: int, what: str, *, unsigned: bool = False) -> int | None:
    if len(fields) <= index:
        return None
    if len(fields) > index + 1:
        raise ParseError(f"{what}: unexpected trailing fields")
    return decode_int(fields[index], what, unsigned=unsigned)


def _expect_fields(fields: list[bytes], low: int, high: int, what: str) -> None:
    if not low <= len(fields) <= high:
        raise ParseError(f"{what}: {len(fields)} fields, expected {low}..{high}")


def _conforms(spec: type[asn1.Sequence], der: bytes, what: str) -> None:
    """Refuse ``der`` unless it has the shape of ``spec`` (its top-level fields, not their insides).

    Runs after the field checks, which already named the broken field in the
    cases a real file shows; this is the schema's word on the rest.
    """
    try:
        value = spec.load(der, strict=True)
        for name, *_ in spec._fields:
            value[name]
    except ValueError:
        raise ParseError(f"{what}: does not match the ASN.1 definition") from None


def _parse_info(der: bytes, depth: int) -> SecurityInfo | SecurityInfos:
    tag = split_field(der)[0]
    if tag != 0x30:
        raise ParseError(f"SecurityInfo is not a SEQUENCE (tag {tag:X})")
    fields = sequence_fields(der)
    if not fields:
        raise ParseError("empty SecurityInfo")
    oid = oid_of(fields[0], "SecurityInfo")
    pace = arcs_after(oid, ID_PACE)
    ca = arcs_after(oid, ID_CA)
    # Key ids are INTEGERs, but some issuers write them without the sign octet
    # (0xC3 instead of 0x00C3); reading them unsigned makes both spell the same id.
    if pace is not None and len(pace) == 2 and protocol_parts(oid):
        _expect_fields(fields, 2, 3, "PACEInfo")
        info = PACEInfo(oid, decode_int(fields[1], "PACEInfo version"),
                        _optional_int(fields, 2, "PACEInfo parameterId"))
        _conforms(asn1types.PACEInfo, der, "PACEInfo")
        return info
    if pace is not None and len(pace) == 1 and pace[0] in PACE_FAMILIES:
        _expect_fields(fields, 2, 3, "PACEDomainParameterInfo")
        pdp = PACEDomainParameterInfo(oid, _algorithm(fields[1], "PACEDomainParameterInfo"),
                                      _optional_int(fields, 2, "PACEDomainParameterInfo parameterId"))
        _conforms(asn1types.PACEDomainParameterInfo, der, "PACEDomainParameterInfo")
        return pdp
    if ca is not None and len(ca) == 2 and protocol_parts(oid):
        _expect_fields(fields, 2, 3, "ChipAuthenticationInfo")
        cai = ChipAuthenticationInfo(oid, decode_int(fields[1], "ChipAuthenticationInfo version"),
                                     _optional_int(fields, 2, "ChipAuthenticationInfo keyId", unsigned=True))
        _conforms(asn1types.ChipAuthenticationInfo, der, "ChipAuthenticationInfo")
        return cai
    if ca is not None and len(ca) == 1 and ca[0] in CA_FAMILIES:
        _expect_fields(fields, 2, 3, "ChipAuthenticationDomainParameterInfo")
        cdp = ChipAuthenticationDomainParameterInfo(
            oid, _algorithm(fields[1], "ChipAuthenticationDomainParameterInfo"),
            _optional_int(fields, 2, "ChipAuthenticationDomainParameterInfo keyId", unsigned=True))
        _conforms(asn1types.ChipAuthenticationDomainParameterInfo, der, "ChipAuthenticationDomainParameterInfo")
        return cdp
    if oid in (ID_PK_DH, ID_PK_ECDH):
        _expect_fields(fields, 2, 3, "ChipAuthenticationPublicKeyInfo")
        spki = fields[1]
        if split_field(spki)[0] != 0x30:
            raise ParseError("ChipAuthenticationPublicKeyInfo: key is not a SubjectPublicKeyInfo")
        spki_fields = sequence_fields(spki)
        if len(spki_fields) != 2 or split_field(spki_fields[1])[0] != 0x03:
            raise ParseError("ChipAuthenticationPublicKeyInfo: malformed SubjectPublicKeyInfo")
        key_id = _optional_int(fields, 2, "ChipAuthenticationPublicKeyInfo keyId", unsigned=True)
        algorithm = _algorithm(spki_fields[0], "ChipAuthenticationPublicKeyInfo")
        _conforms(asn1types.ChipAuthenticationPublicKeyInfo, der, "ChipAuthenticationPublicKeyInfo")
        return ChipAuthenticationPublicKeyInfo(oid, spki, key_id, algorithm)
    if oid == ID_AA:
        _expect_fields(fields, 3, 3, "ActiveAuthenticationInfo")
        info_aa = ActiveAuthenticationInfo(
            decode_int(fields[1], "ActiveAuthenticationInfo version"),
            oid_of(fields[2], "ActiveAuthenticationInfo signatureAlgorithm"))
        _conforms(asn1types.ActiveAuthenticationInfo, der, "ActiveAuthenticationInfo")
        return info_aa
    if oid == ID_TA:
        _expect_fields(fields, 2, 3, "TerminalAuthenticationInfo")
        ta = TerminalAuthenticationInfo(decode_int(fields[1], "TerminalAuthenticationInfo version"))
        _conforms(asn1types.TerminalAuthenticationInfo, der, "TerminalAuthenticationInfo")
        return ta
    if oid == ID_PT and depth == 0 and len(fields) == 2 and split_field(fields[1])[0] == 0x31:
        _conforms(asn1types.PrivilegedTerminalInfo, der, "PrivilegedTerminalInfo")
        return _parse_set(fields[1], depth + 1)
    return UnknownSecurityInfo(oid, der)


def _parse_set(der: bytes, depth: int) -> SecurityInfos:
    infos = SecurityInfos()
    items = asn1types.SecurityInfoSet.load(der, strict=True)
    if len(items) > MAX_SECURITY_INFOS:
        raise ParseError(f"more than {MAX_SECURITY_INFOS} SecurityInfos")
    for item in items:
        item_der = _dump(item)
        parsed = _parse_info(item_der, depth)
        if isinstance(parsed, SecurityInfos):
            infos.privileged = parsed
            infos.add(UnknownSecurityInfo(ID_PT, item_der))   # kept whole for re-encoding
        else:
            infos.add(parsed)
    return infos


def _checked(data: bytes, tag: int, what: str) -> bytes:
    """``data`` if it is one TLV of ``tag`` within the size and nesting caps (T2/T3), before any parsing."""
    try:
        outer = tlv.parse_single(data, tag, max_length=MAX_SECURITY_INFOS_BYTES)
        tlv.check_depth(data, max_length=MAX_SECURITY_INFOS_BYTES)
    except TLVError as exc:
        raise ParseError(f"{what}: {exc}") from None
    return outer.value


def parse_security_infos(der: bytes) -> SecurityInfos:
    """Parse a DER ``SET OF SecurityInfo``; raises only ParseError."""
    der = bytes(der)
    _checked(der, 0x31, "SecurityInfos")
    try:
        return _parse_set(der, 0)
    except ParseError:
        raise
    except Exception:
        # asn1crypto's own errors never leave this module; the caps above bound the work
        raise ParseError("SecurityInfos: malformed DER") from None


def parse_card_access(data: bytes) -> SecurityInfos:
    """EF.CardAccess is a bare SecurityInfos."""
    return parse_security_infos(data)


def parse_dg14(data: bytes) -> SecurityInfos:
    """DG14 wraps SecurityInfos in application tag 6E."""
    return parse_security_infos(_checked(bytes(data), 0x6E, "DG14"))


# ---------------------------------------------------------------- encoding (virtual chip, profiles)

def encode_security_infos(infos: Iterable[SecurityInfo]) -> bytes:
    """SET OF in the order given: issuers do not sort it either (FR, MY, ICAO specimen DG14)."""
    return tlv.encode(0x31, b"".join(info.encode() for info in infos))


def encode_dg14(infos: Iterable[SecurityInfo]) -> bytes:
    return tlv.encode(0x6E, encode_security_infos(infos))
