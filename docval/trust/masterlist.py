"""ICAO CSCA master lists (ICAO 9303-12 §9): CMS SignedData around a CscaMasterList.

A master list is only as good as its signature: the list signer's certificate
must verify the CMS signature and must chain to a CSCA the operator trusts
*independently of the list* (a certificate file in the trust store, normally
the publishing state's own CSCA).  A CSCA carried inside the same list never
counts: anyone can build a list that contains the CSCA which signed it.  The
list's own certificates may only serve as intermediates (for instance a link
certificate from the publisher's new CSCA to the pinned old one), so the chain
still ends at a pinned key.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

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
    anchor: Certificate                 # the independently trusted CSCA the signer chains to
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


MAX_CHAIN_INTERMEDIATES = 2   # signer <- new CSCA <- link <- pinned CSCA is the longest real chain


@dataclass(frozen=True, repr=False)
class SignedMasterList:
    """A master list whose CMS signature verified, before its signer is chained to a pinned CSCA."""

    certificates: list[Certificate]
    signer: Certificate
    signature_algorithm: str | None
    skipped: list[str]
    intermediates: list[Certificate]    # CA certificates of the list, usable only between two keys

    def __repr__(self) -> str:
        return f"<SignedMasterList by {self.signer.subject_text!r}: {len(self.certificates)} CSCAs>"

    def anchored(self, trusted: Sequence[Certificate]) -> MasterList:
        """The list, if its signer chains to one of ``trusted``; ParseError otherwise."""
        chain = _chain_to_anchor(self.signer, list(trusted), self.intermediates)
        if chain is None:
            raise ParseError(
                "master list signer is not issued by a CSCA trusted independently of the list "
                f"(its issuer is {self.signer.issuer_text}): add that CSCA's certificate file "
                "to the trust store, e.g. next to the master list")
        return MasterList(certificates=self.certificates, signer=self.signer, signer_issuer=chain[0],
                          anchor=chain[-1], signature_algorithm=self.signature_algorithm,
                          skipped=self.skipped)


def read_master_list(data: bytes) -> SignedMasterList:
    """Parse a ``.ml`` file and verify its CMS signature; ParseError says why it is not one."""
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
    intermediates = [c for c in list(certificates) + list(signed.certificates) if _may_sign(c)]
    return SignedMasterList(certificates=certificates, signer=signer, signature_algorithm=check.algorithm,
                            skipped=skipped, intermediates=intermediates)


def verify_master_list(data: bytes, trusted: Sequence[Certificate] = ()) -> MasterList:
    """Parse and verify a ``.ml`` file; ParseError says why it is not acceptable.

    ``trusted`` are the CSCAs the operator pinned independently of this list; the
    list is rejected unless its signer chains to one of them.
    """
    return read_master_list(data).anchored(trusted)


def _may_sign(cert: Certificate) -> bool:
    return cert.key_usage is None or "key_cert_sign" in cert.key_usage


def _issuers(cert: Certificate, pool: list[Certificate]) -> list[Certificate]:
    """Certificates of ``pool`` whose key verifies ``cert`` (by key id first, then by name)."""
    candidates = [c for c in pool if cert.aki is not None and c.ski == cert.aki]
    candidates += [c for c in pool if c.subject_key == cert.issuer_key and c not in candidates]
    found = []
    for candidate in candidates:
        if candidate.fingerprint == cert.fingerprint and not cert.self_issued:
            continue
        if not _may_sign(candidate):
            continue
        try:
            if cert.signed_by(candidate.public_key()):
                found.append(candidate)
        except EmrtdError:
            continue
    return found


def _chain_to_anchor(signer: Certificate, anchors: list[Certificate],
                     intermediates: list[Certificate]) -> list[Certificate] | None:
    """[signer's issuer, ..., anchor]: the shortest verified path to a pinned CSCA, or None."""
    anchor_prints = {c.fingerprint for c in anchors}
    paths: list[list[Certificate]] = [[signer]]
    for _ in range(MAX_CHAIN_INTERMEDIATES + 1):
        extended: list[list[Certificate]] = []
        for path in paths:
            last = path[-1]
            for issuer in _issuers(last, anchors):
                return path[1:] + [issuer]
            seen = {c.fingerprint for c in path}
            for issuer in _issuers(last, intermediates):
                # A self-signed CSCA of the list only verifies itself: the walk
                # goes on only through certificates that lead to another key.
                if issuer.fingerprint in seen or issuer.fingerprint in anchor_prints:
                    continue
                extended.append(path + [issuer])
        if not extended:
            return None
        paths = extended
    return None
