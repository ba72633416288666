"""EF.SOD, the Document Security Object (ICAO 9303-10 §4.6.2).

EF.SOD is tag 77 around a CMS SignedData whose eContent is an
LDSSecurityObject: the hash algorithm and one hash per data group.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from asn1crypto import core as asn1

from docval.emrtd.asn1types import AlgorithmIdentifier
from docval.emrtd import hashes
from docval.emrtd.certificate import Certificate
from docval.emrtd.errors import EmrtdError, ParseError
from docval.emrtd.lds.cms import SignedData, SignerInfo, parse_signed_data, unwrap_application

SOD_TAG = 0x77
MAX_SOD_BYTES = 65535
OID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
OID_LDS_SECURITY_OBJECT_LEGACY = "1.3.27.1.1.1"   # pre-2006 documents (docs/reliability.md X2)
LDS_SECURITY_OBJECT_OIDS = (OID_LDS_SECURITY_OBJECT, OID_LDS_SECURITY_OBJECT_LEGACY)


class _DataGroupHash(asn1.Sequence):
    _fields = [("number", asn1.Integer), ("hash", asn1.OctetString)]


class _DataGroupHashes(asn1.SequenceOf):
    _child_spec = _DataGroupHash


class _LDSVersionInfo(asn1.Sequence):
    _fields = [("lds_version", asn1.PrintableString), ("unicode_version", asn1.PrintableString)]


class _LDSSecurityObject(asn1.Sequence):
    _fields = [
        ("version", asn1.Integer),
        ("hash_algorithm", AlgorithmIdentifier),
        ("hashes", _DataGroupHashes),
        ("version_info", _LDSVersionInfo, {"optional": True}),
    ]


@dataclass(frozen=True, repr=False)
class SOD:
    raw: bytes                      # the file as read
    signed: SignedData
    version: int
    hash_algorithm: str             # "SHA-256", ...
    dg_hashes: dict[int, bytes]
    lds_version: str | None
    unicode_version: str | None

    def __repr__(self) -> str:
        return f"<SOD {self.hash_algorithm} DGs={sorted(self.dg_hashes)}>"

    @property
    def econtent_type(self) -> str:
        return self.signed.econtent_type

    @property
    def signer(self) -> SignerInfo | None:
        """The SignerInfo when there is exactly one (PA reports the other cases)."""
        infos = self.signed.signer_infos
        return infos[0] if len(infos) == 1 else None

    @property
    def certificates(self) -> list[Certificate]:
        return self.signed.certificates

    @property
    def signed_attrs(self) -> dict[str, list[bytes]]:
        signer = self.signer
        return signer.signed_attrs if signer else {}

    @property
    def signing_time(self) -> datetime | None:
        signer = self.signer
        return signer.signing_time if signer else None


def parse_lds_security_object(econtent: bytes) -> tuple[int, str, dict[int, bytes], str | None, str | None]:
    try:
        obj = _LDSSecurityObject.load(econtent, strict=True)
        version = int(obj["version"].native)
        hash_oid = obj["hash_algorithm"]["algorithm"].dotted
        entries = [(item["number"].native, item["hash"].native) for item in obj["hashes"]]
        info = obj["version_info"]
        lds_version = unicode_version = None
        if not isinstance(info, asn1.Void):
            lds_version = str(info["lds_version"].native)
            unicode_version = str(info["unicode_version"].native)
    except EmrtdError:
        raise
    except Exception:
        raise ParseError("malformed LDSSecurityObject") from None
    hash_name = hashes.hash_name_for_oid(hash_oid)
    size = hashes.digest_size(hash_name)
    dg_hashes: dict[int, bytes] = {}
    for number, value in entries:
        if not isinstance(number, int) or not 1 <= number <= 16:
            raise ParseError("LDSSecurityObject lists a data group number outside 1-16")
        if number in dg_hashes:
            raise ParseError(f"LDSSecurityObject lists DG{number} twice")
        if not isinstance(value, bytes) or len(value) != size:
            raise ParseError(f"DG{number} hash length does not match {hash_name}")
        dg_hashes[number] = value
    if not dg_hashes:
        raise ParseError("LDSSecurityObject lists no data group")
    return version, hash_name, dg_hashes, lds_version, unicode_version


def parse_sod(data: bytes) -> SOD:
    """Parse EF.SOD (tag 77; BER accepted).

    Raises ParseError for malformed data and UnsupportedError for an unknown
    DG hash algorithm.  Neither signatures nor the eContentType are checked
    here (see docval.emrtd.pa).
    """
    data = bytes(data)
    if len(data) > MAX_SOD_BYTES:
        raise ParseError("EF.SOD larger than 65535 bytes")
    signed = parse_signed_data(unwrap_application(data, SOD_TAG))
    # An unexpected eContentType is left to Passive Authentication to report,
    # next to the signature verdict, as long as the content is an LDS security object.
    version, hash_name, hashes, lds_version, unicode_version = parse_lds_security_object(signed.econtent)
    return SOD(raw=data, signed=signed, version=version, hash_algorithm=hash_name, dg_hashes=hashes,
               lds_version=lds_version, unicode_version=unicode_version)
