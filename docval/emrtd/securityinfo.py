"""SecurityInfos: EF.CardAccess, EF.CardSecurity content and DG14 (BSI TR-03110-3 A.1, ICAO 9303-11 §9.2).

``SecurityInfos ::= SET OF SecurityInfo`` where every ``SecurityInfo`` is
``SEQUENCE { protocol OBJECT IDENTIFIER, requiredData ANY, optionalData ANY OPTIONAL }``.
The protocol OID decides what the rest means, so the structure is walked with
the BER-TLV reader rather than a fixed ASN.1 schema: an unknown OID is simply
kept (its dotted form lands in ``unknown``), and a document that adds a new kind
of SecurityInfo does not fail.  A *known* OID with malformed data raises
:class:`ParseError`: such a file is broken, not merely newer than us.

Protocol OIDs (BSI TR-03110-3 A.1.1, bsi-de = 0.4.0.127.0.7):

- ``id-PK-DH/ECDH`` (2.2.1.1/2) ChipAuthenticationPublicKeyInfo
- ``id-TA`` (2.2.2) TerminalAuthenticationInfo
- ``id-CA-DH/ECDH`` (2.2.3.1/2) ChipAuthenticationDomainParameterInfo; with a
  cipher arc (.1 3DES, .2 AES-128, .3 AES-192, .4 AES-256) ChipAuthenticationInfo
- ``id-PACE-{DH,ECDH}-{GM,IM}``, ``id-PACE-ECDH-CAM`` (2.2.4.1/.2/.3/.4/.6)
  PACEDomainParameterInfo; with a cipher arc PACEInfo
- ``id-PT`` privileged terminal info (2.2.8), a nested SecurityInfos
- ActiveAuthenticationInfo ``id-icao-mrtd-security-aaProtocolObject`` 2.23.136.1.1.5
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Union

from docval.emrtd import tlv
from docval.emrtd.errors import ParseError, TLVError, UnsupportedError

BSI_DE = "0.4.0.127.0.7"
ID_PK = BSI_DE + ".2.2.1"
ID_PK_DH = ID_PK + ".1"
ID_PK_ECDH = ID_PK + ".2"
ID_TA = BSI_DE + ".2.2.2"
ID_CA = BSI_DE + ".2.2.3"
ID_CA_DH = ID_CA + ".1"
ID_CA_ECDH = ID_CA + ".2"
ID_PACE = BSI_DE + ".2.2.4"
ID_PT = BSI_DE + ".2.2.8"
# AlgorithmIdentifier for "standardized domain parameters" (TR-03110-3 A.2.1.1):
# its parameter is the PACE/CA domain parameter id (0-2 MODP, 8-18 curves).
ID_STANDARDIZED_DOMAIN_PARAMETERS = BSI_DE + ".1.2"
ID_AA = "2.23.136.1.1.5"

# Last arc of id-PACE-* / id-CA-* naming the key agreement and mapping.
PACE_FAMILIES = {
    1: ("DH", "GM"),
    2: ("ECDH", "GM"),
    3: ("DH", "IM"),
    4: ("ECDH", "IM"),
    6: ("ECDH", "CAM"),
}
CA_FAMILIES = {1: "DH", 2: "ECDH"}

# Cipher arc -> (cipher name used by crypto.CipherSpec, key bits, suffix in protocol names).
CIPHERS = {
    1: ("TDES", 112, "3DES-CBC-CBC"),
    2: ("AES128", 128, "AES-CBC-CMAC-128"),
    3: ("AES192", 192, "AES-CBC-CMAC-192"),
    4: ("AES256", 256, "AES-CBC-CMAC-256"),
}

MAX_SECURITY_INFOS = 64          # real files hold fewer than 15
_MAX_OID_BYTES = 64
_MAX_INT_BYTES = 32


# ---------------------------------------------------------------- DER atoms

def decode_oid(body: bytes) -> str:
    """Dotted form of an OBJECT IDENTIFIER's content octets (X.690 8.19)."""
    if not body or len(body) > _MAX_OID_BYTES:
        raise ParseError("OBJECT IDENTIFIER of bad length")
    if body[-1] & 0x80:
        raise ParseError("truncated OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    start = True
    for byte in body:
        if start and byte == 0x80:
            raise ParseError("OBJECT IDENTIFIER arc with a leading 0x80 byte")
        value = (value << 7) | (byte & 0x7F)
        start = not byte & 0x80
        if start:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


def encode_oid(dotted: str) -> bytes:
    """DER encoding (tag, length, value) of a dotted OID."""
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError("not an object identifier")
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1]] + arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return tlv.encode(0x06, bytes(body))


def decode_int(item: tlv.TLV, what: str, *, unsigned: bool = False) -> int:
    if item.tag != 0x02:
        raise ParseError(f"{what}: expected an INTEGER, found tag {item.tag:X}")
    if not 1 <= len(item.value) <= _MAX_INT_BYTES:
        raise ParseError(f"{what}: INTEGER of bad length")
    return int.from_bytes(item.value, "big", signed=not unsigned)


def encode_int(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True)
    return tlv.encode(0x02, body)


def _oid_of(item: tlv.TLV, what: str) -> str:
    if item.tag != 0x06:
        raise ParseError(f"{what}: expected an OBJECT IDENTIFIER, found tag {item.tag:X}")
    return decode_oid(item.value)


def _arcs_after(oid: str, prefix: str) -> list[int] | None:
    if not oid.startswith(prefix + "."):
        return None
    return [int(a) for a in oid[len(prefix) + 1:].split(".")]


# ---------------------------------------------------------------- protocol naming

@dataclass(frozen=True)
class ProtocolParts:
    """What a PACE or CA protocol OID says, e.g. ECDH, GM, AES128 with 128-bit keys."""

    family: str                  # "PACE" or "CA"
    key_agreement: str           # "ECDH" or "DH"
    mapping: str | None          # "GM", "IM", "CAM" (PACE only)
    cipher: str                  # "TDES", "AES128", "AES192", "AES256"
    key_bits: int
    name: str                    # "PACE-ECDH-GM-AES-CBC-CMAC-128", "CA-DH-3DES-CBC-CBC"


def protocol_parts(oid: str) -> ProtocolParts | None:
    """Decompose an id-PACE-* or id-CA-* protocol OID with a cipher arc, else None."""
    pace = _arcs_after(oid, ID_PACE)
    if pace is not None and len(pace) == 2 and pace[0] in PACE_FAMILIES and pace[1] in CIPHERS:
        ka, mapping = PACE_FAMILIES[pace[0]]
        if mapping == "CAM" and pace[1] == 1:
            return None                      # TR-03110 defines no 3DES variant of CAM
        cipher, bits, suffix = CIPHERS[pace[1]]
        return ProtocolParts("PACE", ka, mapping, cipher, bits, f"PACE-{ka}-{mapping}-{suffix}")
    ca = _arcs_after(oid, ID_CA)
    if ca is not None and len(ca) == 2 and ca[0] in CA_FAMILIES and ca[1] in CIPHERS:
        ka = CA_FAMILIES[ca[0]]
        cipher, bits, suffix = CIPHERS[ca[1]]
        return ProtocolParts("CA", ka, None, cipher, bits, f"CA-{ka}-{suffix}")
    return None


def _require_parts(oid: str) -> ProtocolParts:
    parts = protocol_parts(oid)
    if parts is None:
        raise UnsupportedError("not a PACE or CA protocol identifier")
    return parts


def protocol_name(oid: str) -> str:
    parts = protocol_parts(oid)
    return parts.name if parts else oid


def ca_oid(key_agreement: str, cipher: str) -> str:
    """The id-CA-* OID for a key agreement ("ECDH"/"DH") and cipher ("TDES", "AES128", ...)."""
    fam = {v: k for k, v in CA_FAMILIES.items()}[key_agreement]
    arc = next(k for k, v in CIPHERS.items() if v[0] == cipher)
    return f"{ID_CA}.{fam}.{arc}"


def pace_oid(key_agreement: str, mapping: str, cipher: str) -> str:
    fam = next(k for k, v in PACE_FAMILIES.items() if v == (key_agreement, mapping))
    arc = next(k for k, v in CIPHERS.items() if v[0] == cipher)
    return f"{ID_PACE}.{fam}.{arc}"


# ---------------------------------------------------------------- SecurityInfo kinds

@dataclass(frozen=True)
class AlgorithmIdentifier:
    """A domain parameter AlgorithmIdentifier, kept raw; ``standardized_id`` when it names one."""

    oid: str
    der: bytes
    standardized_id: int | None = None

    def __repr__(self) -> str:
        return f"AlgorithmIdentifier({self.oid}, standardized_id={self.standardized_id})"


@dataclass(frozen=True)
class PACEInfo:
    oid: str
    version: int
    parameter_id: int | None = None

    @property
    def parts(self) -> ProtocolParts:
        return _require_parts(self.oid)

    @property
    def name(self) -> str:
        return self.parts.name

    def encode(self) -> bytes:
        body = encode_oid(self.oid) + encode_int(self.version)
        if self.parameter_id is not None:
            body += encode_int(self.parameter_id)
        return tlv.encode(0x30, body)


@dataclass(frozen=True)
class PACEDomainParameterInfo:
    oid: str
    domain_parameter: AlgorithmIdentifier
    parameter_id: int | None = None

    def encode(self) -> bytes:
        body = encode_oid(self.oid) + self.domain_parameter.der
        if self.parameter_id is not None:
            body += encode_int(self.parameter_id)
        return tlv.encode(0x30, body)


@dataclass(frozen=True)
class ChipAuthenticationInfo:
    oid: str
    version: int
    key_id: int | None = None

    @property
    def parts(self) -> ProtocolParts:
        return _require_parts(self.oid)

    @property
    def name(self) -> str:
        return self.parts.name

    def encode(self) -> bytes:
        body = encode_oid(self.oid) + encode_int(self.version)
        if self.key_id is not None:
            body += encode_int(self.key_id)
        return tlv.encode(0x30, body)


@dataclass(frozen=True)
class ChipAuthenticationDomainParameterInfo:
    oid: str
    domain_parameter: AlgorithmIdentifier
    key_id: int | None = None

    def encode(self) -> bytes:
        body = encode_oid(self.oid) + self.domain_parameter.der
        if self.key_id is not None:
            body += encode_int(self.key_id)
        return tlv.encode(0x30, body)


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
        body = encode_oid(self.oid) + self.spki
        if self.key_id is not None:
            body += encode_int(self.key_id)
        return tlv.encode(0x30, body)


@dataclass(frozen=True)
class ActiveAuthenticationInfo:
    version: int
    signature_algorithm: str
    oid: str = ID_AA

    def encode(self) -> bytes:
        body = encode_oid(self.oid) + encode_int(self.version) + encode_oid(self.signature_algorithm)
        return tlv.encode(0x30, body)


@dataclass(frozen=True)
class TerminalAuthenticationInfo:
    version: int
    oid: str = ID_TA

    def encode(self) -> bytes:
        return tlv.encode(0x30, encode_oid(self.oid) + encode_int(self.version))


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

def _algorithm(item: tlv.TLV, what: str) -> AlgorithmIdentifier:
    if item.tag != 0x30:
        raise ParseError(f"{what}: AlgorithmIdentifier is not a SEQUENCE")
    parts = item.children()
    if not parts:
        raise ParseError(f"{what}: empty AlgorithmIdentifier")
    oid = _oid_of(parts[0], what)
    std = None
    if oid == ID_STANDARDIZED_DOMAIN_PARAMETERS:
        if len(parts) != 2:
            raise ParseError(f"{what}: standardized domain parameters without an id")
        std = decode_int(parts[1], what)
    return AlgorithmIdentifier(oid, item.encode(), std)


def _optional_int(fields: list[tlv.TLV], index: int, what: str, *, unsigned: bool = False) -> int | None:
    if len(fields) <= index:
        return None
    if len(fields) > index + 1:
        raise ParseError(f"{what}: unexpected trailing fields")
    return decode_int(fields[index], what, unsigned=unsigned)


def _expect_fields(fields: list[tlv.TLV], low: int, high: int, what: str) -> None:
    if not low <= len(fields) <= high:
        raise ParseError(f"{what}: {len(fields)} fields, expected {low}..{high}")


def _parse_info(item: tlv.TLV, depth: int) -> SecurityInfo | SecurityInfos:
    if item.tag != 0x30:
        raise ParseError(f"SecurityInfo is not a SEQUENCE (tag {item.tag:X})")
    fields = item.children()
    if not fields:
        raise ParseError("empty SecurityInfo")
    oid = _oid_of(fields[0], "SecurityInfo")
    pace = _arcs_after(oid, ID_PACE)
    ca = _arcs_after(oid, ID_CA)
    # Key ids are INTEGERs, but some issuers write them without the sign octet
    # (0xC3 instead of 0x00C3); reading them unsigned makes both spell the same id.
    if pace is not None and len(pace) == 2 and protocol_parts(oid):
        _expect_fields(fields, 2, 3, "PACEInfo")
        return PACEInfo(oid, decode_int(fields[1], "PACEInfo version"),
                        _optional_int(fields, 2, "PACEInfo parameterId"))
    if pace is not None and len(pace) == 1 and pace[0] in PACE_FAMILIES:
        _expect_fields(fields, 2, 3, "PACEDomainParameterInfo")
        return PACEDomainParameterInfo(oid, _algorithm(fields[1], "PACEDomainParameterInfo"),
                                       _optional_int(fields, 2, "PACEDomainParameterInfo parameterId"))
    if ca is not None and len(ca) == 2 and protocol_parts(oid):
        _expect_fields(fields, 2, 3, "ChipAuthenticationInfo")
        return ChipAuthenticationInfo(oid, decode_int(fields[1], "ChipAuthenticationInfo version"),
                                      _optional_int(fields, 2, "ChipAuthenticationInfo keyId", unsigned=True))
    if ca is not None and len(ca) == 1 and ca[0] in CA_FAMILIES:
        _expect_fields(fields, 2, 3, "ChipAuthenticationDomainParameterInfo")
        return ChipAuthenticationDomainParameterInfo(
            oid, _algorithm(fields[1], "ChipAuthenticationDomainParameterInfo"),
            _optional_int(fields, 2, "ChipAuthenticationDomainParameterInfo keyId", unsigned=True))
    if oid in (ID_PK_DH, ID_PK_ECDH):
        _expect_fields(fields, 2, 3, "ChipAuthenticationPublicKeyInfo")
        spki = fields[1]
        if spki.tag != 0x30:
            raise ParseError("ChipAuthenticationPublicKeyInfo: key is not a SubjectPublicKeyInfo")
        spki_fields = spki.children()
        if len(spki_fields) != 2 or spki_fields[1].tag != 0x03:
            raise ParseError("ChipAuthenticationPublicKeyInfo: malformed SubjectPublicKeyInfo")
        return ChipAuthenticationPublicKeyInfo(
            oid, spki.encode(),
            _optional_int(fields, 2, "ChipAuthenticationPublicKeyInfo keyId", unsigned=True),
            _algorithm(spki_fields[0], "ChipAuthenticationPublicKeyInfo"))
    if oid == ID_AA:
        _expect_fields(fields, 3, 3, "ActiveAuthenticationInfo")
        return ActiveAuthenticationInfo(decode_int(fields[1], "ActiveAuthenticationInfo version"),
                                        _oid_of(fields[2], "ActiveAuthenticationInfo signatureAlgorithm"))
    if oid == ID_TA:
        _expect_fields(fields, 2, 3, "TerminalAuthenticationInfo")
        return TerminalAuthenticationInfo(decode_int(fields[1], "TerminalAuthenticationInfo version"))
    if oid == ID_PT and depth == 0 and len(fields) == 2 and fields[1].tag == 0x31:
        return _parse_set(fields[1].value, depth + 1)
    return UnknownSecurityInfo(oid, item.encode())


def _parse_set(body: bytes, depth: int) -> SecurityInfos:
    infos = SecurityInfos()
    items = tlv.parse_all(body)
    if len(items) > MAX_SECURITY_INFOS:
        raise ParseError(f"more than {MAX_SECURITY_INFOS} SecurityInfos")
    for item in items:
        parsed = _parse_info(item, depth)
        if isinstance(parsed, SecurityInfos):
            infos.privileged = parsed
            infos.add(UnknownSecurityInfo(ID_PT, item.encode()))   # kept whole for re-encoding
        else:
            infos.add(parsed)
    return infos


def parse_security_infos(der: bytes) -> SecurityInfos:
    """Parse a DER ``SET OF SecurityInfo``; raises only ParseError."""
    try:
        outer = tlv.parse_single(bytes(der), 0x31, max_length=65535)
        return _parse_set(outer.value, 0)
    except TLVError as exc:
        raise ParseError(f"SecurityInfos: {exc}") from None


def parse_card_access(data: bytes) -> SecurityInfos:
    """EF.CardAccess is a bare SecurityInfos."""
    return parse_security_infos(data)


def parse_dg14(data: bytes) -> SecurityInfos:
    """DG14 wraps SecurityInfos in application tag 6E."""
    try:
        outer = tlv.parse_single(bytes(data), 0x6E, max_length=65535)
    except TLVError as exc:
        raise ParseError(f"DG14: {exc}") from None
    return parse_security_infos(outer.value)


# ---------------------------------------------------------------- encoding (virtual chip, profiles)

def encode_security_infos(infos: Iterable[SecurityInfo]) -> bytes:
    """SET OF in the order given: issuers do not sort it either (FR, MY, ICAO specimen DG14)."""
    return tlv.encode(0x31, b"".join(info.encode() for info in infos))


def encode_dg14(infos: Iterable[SecurityInfo]) -> bytes:
    return tlv.encode(0x6E, encode_security_infos(infos))
