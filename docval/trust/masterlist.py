"""ICAO CSCA master lists (ICAO 9303-12 §9): CMS SignedData around a CscaMasterList.

A master list is only as good as its signature: the list signer's certificate
must verify the CMS signature and must itself be issued by a CSCA that is in
the list (normally the publishing state's own) or already trusted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from asn1crypto import core as asn1
from asn1crypto import x509

from docval.emrtd import keys
from docval.emrtd.certificate import Certificate, from_asn1
from docval.emrtd.errors import EmrtdError, ParseError
from docval.emrtd.lds.cms import parse_signed_data
from docval.emrtd.pa import check_signer, find_signer_certificate

OID_CSCA_MASTER_LIST = "2.23.136.1.1.2"


class _CertificateSet(asn1.SetOf):
    _child_spec = asn1.Any


class _CscaMasterList(asn1.Sequence):
    _fields = [("version", asn1.Integer), ("cert_list", _CertificateSet)]


@dataclass(frozen=True, repr=False)
class MasterList:
    certificates: list[Certificate]
    signer: Certificate
    signer_issuer: Certificate          # the CSCA that issued the list signer's certificate
    signature_algorithm: str | None
    skipped: list[str] = field(default_factory=list)   # certificates that failed to parse

    def __repr__(self) -> str:
        return f"<MasterList by {self.signer.subject_text!r}: {len(self.certificates)} CSCAs>"


def parse_master_list_content(content: bytes) -> tuple[list[Certificate], list[str]]:
    """The certificates of a CscaMasterList; malformed entries are skipped and named."""
    try:
        ml = _CscaMasterList.load(content, strict=True)
        raw_items = [item.dump() for item in ml["cert_list"]]
    except Exception:
        raise ParseError("malformed CscaMasterList") from None
    certificates: list[Certificate] = []
    skipped: list[str] = []
    for index, raw in enumerate(raw_items):
        try:
            certificates.append(from_asn1(x509.Certificate.load(raw, strict=True)))
        except (EmrtdError, ValueError, TypeError) as exc:
            skipped.append(f"entry {index}: {exc if isinstance(exc, EmrtdError) else 'malformed certificate'}")
    return certificates, skipped


def verify_master_list(data: bytes, trusted: list[Certificate] = ()) -> MasterList:
    """Parse and verify a ``.ml`` file; ParseError says why it is not acceptable."""
    signed = parse_signed_data(data)
    if signed.econtent_type != OID_CSCA_MASTER_LIST:
        raise ParseError(f"content type {signed.econtent_type} is not a CSCA master list")
    if len(signed.signer_infos) != 1:
        raise ParseError(f"master list has {len(signed.signer_infos)} SignerInfos, exactly one is required")
    certificates, skipped = parse_master_list_content(signed.econtent)
    signer_info = signed.signer_infos[0]
    signer, _ = find_signer_certificate(signed, signer_info)
    if signer is None:
        raise ParseError("master list signer certificate not found in the signed data")
    check = check_signer(signed, signer_info, signer, max_rsa_bits=keys.TRUSTED_MAX_RSA_BITS)
    if not check.valid:
        raise ParseError(f"master list signature invalid: {check.error}")
    issuer = _issuer_of(signer, list(certificates) + list(trusted))
    if issuer is None:
        raise ParseError("master list signer is not issued by a CSCA in the list or in the trust store")
    return MasterList(certificates=certificates, signer=signer, signer_issuer=issuer,
                      signature_algorithm=check.algorithm, skipped=skipped)


def _issuer_of(cert: Certificate, pool: list[Certificate]) -> Certificate | None:
    candidates = [c for c in pool if cert.aki is not None and c.ski == cert.aki]
    candidates += [c for c in pool if c.subject_key == cert.issuer_key and c not in candidates]
    for candidate in candidates:
        if candidate.fingerprint == cert.fingerprint and not cert.self_issued:
            continue
        if candidate.key_usage is not None and "key_cert_sign" not in candidate.key_usage:
            continue
        try:
            if cert.signed_by(candidate.public_key()):
                return candidate
        except EmrtdError:
            continue
    return None
