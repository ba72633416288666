"""Passive Authentication (ICAO 9303-11 §5.1): is the data what the state signed?

Three verdicts are kept apart because they mean different things to an
integrator: the CMS signature (the SOD was made by the key in the DSC), the
document certificate (that DSC chains to a trusted CSCA, is valid at the given
instant, not revoked, of the issuing state), and the data group hashes (the
bytes read from the chip are the ones the SOD lists).  An expired DSC is
reported as expired, never as a broken signature.

Nothing here raises for a bad document: every problem ends up in ``error``.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime, timezone

from docval.emrtd import countries, hashes, signatures
from docval.emrtd.certificate import Certificate, signature_scheme
from docval.emrtd.errors import EmrtdError
from docval.emrtd.lds.cms import SignedData, SignerInfo
from docval.emrtd.lds.sod import LDS_SECURITY_OBJECT_OIDS, SOD
from docval.emrtd.trustview import TrustView

SHA1_CUTOFF_YEAR = 2019
MAX_DSC_RSA_BITS = 4096   # the DSC arrives from the chip: hostile input (K6)

_SCHEME_LABELS = {
    signatures.RSA_PKCS1: "RSA-PKCS1v15",
    signatures.RSA_PSS: "RSASSA-PSS",
    signatures.ECDSA: "ECDSA",
    signatures.ECDSA_PLAIN: "ECDSA-plain",
}


@dataclass
class PAResult:
    passive_authentication: bool = False
    sod_signature_valid: bool = False
    document_certificate_valid: bool = False
    data_groups_checked: list[int] = field(default_factory=list)
    data_groups_with_valid_hash: list[int] = field(default_factory=list)
    all_hashes_valid: bool = False
    error: str | None = None
    signature_algorithm: str | None = None     # e.g. "ECDSA-SHA384"
    hash_algorithm: str | None = None          # the DG hash algorithm of the SOD
    dsc_subject: str | None = None
    csca_subject: str | None = None
    dsc_fingerprint: str | None = None          # SHA-256 of the DER, hex
    csca_fingerprint: str | None = None
    # time validity of the DSC at the evaluation instant, apart from the chain
    dsc_valid_at_time: bool | None = None
    evaluated_at: str | None = None
    # True only when a CRL of the CSCA that is current at the evaluation instant
    # was consulted: a stale CRL (past nextUpdate) or none leaves it False.
    revocation_checked: bool = False
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.errors.append(message)

    def finish(self) -> "PAResult":
        self.error = "; ".join(self.errors) if self.errors else None
        return self


@dataclass(frozen=True)
class SignatureCheck:
    valid: bool
    algorithm: str | None
    error: str | None


def _utc(at: datetime) -> datetime:
    # The caller decides the instant: the pure layer never reads the clock.
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def algorithm_label(scheme: str, hash_name: str) -> str:
    return f"{_SCHEME_LABELS.get(scheme, scheme)}-{hash_name.replace('-', '')}"


def check_signer(signed: SignedData, signer: SignerInfo, cert: Certificate, *,
                 max_rsa_bits: int = MAX_DSC_RSA_BITS) -> SignatureCheck:
    """Verify one SignerInfo of ``signed`` with ``cert``'s key (RFC 5652 §5.4, §5.6)."""
    algorithm = None
    try:
        digest_hash = hashes.hash_name_for_oid(signer.digest_oid)
        scheme, sig_hash, pss = signature_scheme(signer.signature_oid, signer.signature_params, digest_hash)
        algorithm = algorithm_label(scheme, sig_hash)
    except EmrtdError as exc:
        return SignatureCheck(False, algorithm, f"SignerInfo: {exc}")
    if signer.signed_attrs_der is None:
        return SignatureCheck(False, algorithm, "SignerInfo has no signed attributes")
    if signer.content_type is None:
        return SignatureCheck(False, algorithm, "signed attributes lack contentType")
    if signer.content_type != signed.econtent_type:
        return SignatureCheck(False, algorithm, "signed contentType differs from the eContentType")
    if signer.message_digest is None:
        return SignatureCheck(False, algorithm, "signed attributes lack messageDigest")
    if not hmac.compare_digest(signer.message_digest, hashes.digest(digest_hash, signed.econtent)):
        return SignatureCheck(False, algorithm, "messageDigest does not match the signed content")
    # RSASSA-PSS without parameters means the RFC 4055 defaults (SHA-1); some
    # issuers omit them yet use the digest algorithm throughout: try both and
    # report the variant that verified.
    variants = [(sig_hash, pss)]
    if scheme == signatures.RSA_PSS and pss is None:
        variants = [("SHA-1", signatures.PSSParams()),
                    (digest_hash, signatures.PSSParams(digest_hash, digest_hash, hashes.digest_size(digest_hash)))]
    try:
        key = cert.public_key(max_rsa_bits=max_rsa_bits)
        for hash_name, params in variants:
            for encoding in (signer.signed_attrs_der, signer.signed_attrs_reencoded):
                if encoding is not None and signatures.verify_signature(
                        key, scheme, hash_name, signer.signature, encoding, pss_params=params):
                    return SignatureCheck(True, algorithm_label(scheme, hash_name), None)
    except EmrtdError as exc:
        return SignatureCheck(False, algorithm, f"signer certificate key: {exc}")
    return SignatureCheck(False, algorithm, "signature over the signed attributes is invalid")


def find_signer_certificate(signed: SignedData, signer: SignerInfo, trust: TrustView | None = None
                            ) -> tuple[Certificate | None, str | None]:
    """The certificate named by the SignerInfo's sid, and a warning if matched loosely.

    Names are compared order-insensitively (certificate.NameKey).  When nothing
    matches exactly but a single embedded certificate has the right serial
    number or is the only one present, it is used with a warning: the signature
    check still decides whether its key made the signature.
    """
    pool = list(signed.certificates)
    if trust is not None:
        pool += [c for c in trust.signer_candidates(signer) if c not in pool]
    if signer.ski is not None:
        exact = [c for c in pool if c.ski == signer.ski]
    else:
        exact = [c for c in pool if c.serial == signer.serial and c.issuer_key == signer.issuer_key]
    if exact:
        return exact[0], None
    if signer.serial is not None:
        same_serial = [c for c in pool if c.serial == signer.serial]
        if len(same_serial) == 1:
            return same_serial[0], "SignerInfo issuer name does not match the signer certificate's issuer"
    if len(signed.certificates) == 1:
        return signed.certificates[0], "SignerInfo does not identify the embedded certificate"
    return None, None


def _check_document_certificate(dsc: Certificate, trust: TrustView | None, at: datetime,
                                issuing_state: str | None, result: PAResult) -> bool:
    """DSC → trusted CSCA; fills csca_subject, dsc_valid_at_time and errors."""
    ok = True
    result.dsc_valid_at_time = dsc.valid_at(at)
    if not result.dsc_valid_at_time:
        when = "expired on" if at > dsc.not_after else "not valid before"
        edge = dsc.not_after if at > dsc.not_after else dsc.not_before
        result.fail(f"document signer certificate {when} {edge:%Y-%m-%d} (checked at {at:%Y-%m-%dT%H:%M:%SZ})")
        # Also a warning: consumers that only look at warnings learn it is a
        # question of time, not of a forged signature.
        result.warnings.append(f"document signer certificate {when} {edge:%Y-%m-%d}")
        ok = False
    if dsc.key_usage is not None and "digital_signature" not in dsc.key_usage:
        result.fail("document signer certificate key usage does not allow digital signatures")
        ok = False
    if trust is None:
        result.fail("no trust store: the document signer certificate cannot be checked")
        return False
    candidates = trust.issuer_candidates(dsc)
    if not candidates:
        result.fail(f"document signer certificate is not issued by a trusted CSCA (issuer {dsc.issuer_text})")
        return False
    verified: list[Certificate] = []
    problems: list[str] = []
    for csca in candidates:
        if csca.key_usage is not None and "key_cert_sign" not in csca.key_usage:
            problems.append("CSCA key usage does not allow certificate signing")
            continue
        try:
            if dsc.signed_by(csca.public_key()):
                verified.append(csca)
        except EmrtdError as exc:
            problems.append(str(exc))
    if not verified:
        detail = f" ({problems[0]})" if problems else ""
        result.fail("document signer certificate signature does not verify with any trusted CSCA "
                    f"named {dsc.issuer_text}{detail}")
        return False
    in_time = [c for c in verified if c.valid_at(at)]
    # Prefer the self-signed CSCA over a link certificate for the same key.
    csca = sorted(in_time or verified, key=lambda c: not c.self_issued)[0]
    result.csca_subject = csca.subject_text
    result.csca_fingerprint = csca.fingerprint
    if not in_time:
        result.fail(f"CSCA certificate is not valid at {at:%Y-%m-%dT%H:%M:%SZ} (valid "
                    f"{csca.not_before:%Y-%m-%d} to {csca.not_after:%Y-%m-%d})")
        ok = False
    if trust.is_revoked(dsc, csca):
        # A stale CRL still proves a revocation: revocation is permanent.
        result.fail("document signer certificate is revoked by its CSCA's CRL")
        ok = False
    _note_revocation_freshness(trust, csca, at, result)
    country = csca.subject_country
    if issuing_state:
        expected = countries.alpha2_for(issuing_state)
        if expected is None:
            result.warnings.append(f"issuing state {issuing_state.replace('<', '')} has no known country code")
        elif country is None:
            result.warnings.append("CSCA certificate names no country")
        elif country != expected:
            result.fail(f"issuing state {issuing_state.replace('<', '')} does not match the CSCA country {country}")
            ok = False
    if dsc.issuer_country and country and dsc.issuer_country != country:
        result.fail(f"document signer certificate country {dsc.issuer_country} differs from the CSCA country {country}")
        ok = False
    return ok


def _note_revocation_freshness(trust: TrustView, csca: Certificate, at: datetime, result: PAResult) -> None:
    state, next_update = trust.revocation_status(csca, at)
    result.revocation_checked = state == "current"
    if state == "stale":
        when = f"its nextUpdate was {next_update:%Y-%m-%d}" if next_update else "it has no nextUpdate"
        result.warnings.append(f"the CSCA's CRL is stale ({when}): revocation of the document signer "
                               "certificate was not checked")


def _verify_signed(signed: SignedData, trust: TrustView | None, at: datetime, issuing_state: str | None,
                   result: PAResult) -> Certificate | None:
    """Signature and document certificate of a SignedData; fills ``result``."""
    if len(signed.signer_infos) != 1:
        result.fail(f"signed data has {len(signed.signer_infos)} SignerInfos, exactly one is required")
        return None
    signer = signed.signer_infos[0]
    dsc, loose = find_signer_certificate(signed, signer, trust)
    if loose:
        result.warnings.append(loose)
    if dsc is None:
        result.fail("the signer certificate is neither in the signed data nor in the trust store")
        return None
    result.dsc_subject = dsc.subject_text
    result.dsc_fingerprint = dsc.fingerprint
    check = check_signer(signed, signer, dsc)
    result.signature_algorithm = check.algorithm
    result.sod_signature_valid = check.valid
    if not check.valid:
        result.fail(check.error or "signature invalid")
    result.document_certificate_valid = _check_document_certificate(dsc, trust, at, issuing_state, result)
    if check.algorithm and check.algorithm.endswith("SHA1"):
        signed_when = signer.signing_time or dsc.not_before
        if signed_when.year >= SHA1_CUTOFF_YEAR:
            result.warnings.append(f"SHA-1 signature on a document signed in {signed_when.year}")
    return dsc


def verify_signed_data(signed: SignedData, trust: TrustView | None, at: datetime, *,
                       issuing_state: str | None = None) -> PAResult:
    """Signature and signer chain of any eMRTD SignedData (EF.CardSecurity for PACE-CAM).

    ``passive_authentication`` is true when both the signature and the signer's
    certificate are valid; the data group fields stay empty.
    """
    at = _utc(at)
    result = PAResult(evaluated_at=at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    try:
        result.hash_algorithm = hashes.hash_name_for_oid(signed.signer_infos[0].digest_oid) \
            if len(signed.signer_infos) == 1 else None
    except EmrtdError:
        result.hash_algorithm = None
    _verify_signed(signed, trust, at, issuing_state, result)
    result.all_hashes_valid = True
    result.passive_authentication = result.sod_signature_valid and result.document_certificate_valid
    return result.finish()


def passive_authentication(sod: SOD, data_groups: dict[int, bytes], trust: TrustView | None, *,
                           at: datetime, issuing_state: str | None = None) -> PAResult:
    """Passive Authentication of an EF.SOD and the data groups read (exact bytes).

    A DG listed in the SOD but not read is not checked; a DG read but not
    listed fails.  ``at`` is the instant for certificate
    validity; ``issuing_state`` is DG1's, compared with the CSCA country.
    """
    at = _utc(at)
    result = PAResult(evaluated_at=at.strftime("%Y-%m-%dT%H:%M:%SZ"), hash_algorithm=sod.hash_algorithm)
    _verify_signed(sod.signed, trust, at, issuing_state, result)
    if sod.econtent_type not in LDS_SECURITY_OBJECT_OIDS:
        result.fail(f"eContentType {sod.econtent_type} is not an LDS security object")
        result.sod_signature_valid = False
    elif sod.econtent_type != LDS_SECURITY_OBJECT_OIDS[0]:
        result.warnings.append("EF.SOD uses the legacy LDS security object OID 1.3.27.1.1.1")
    if sod.hash_algorithm == "SHA-1":
        signer = sod.signer
        when = signer.signing_time if signer and signer.signing_time else None
        if when is not None and when.year >= SHA1_CUTOFF_YEAR:
            result.warnings.append(f"SHA-1 data group hashes on a document signed in {when.year}")

    valid: list[int] = []
    checked = sorted(data_groups)
    for number in checked:
        expected = sod.dg_hashes.get(number)
        if expected is None:
            result.fail(f"DG{number} was read but is not listed in EF.SOD")
            continue
        if hmac.compare_digest(hashes.digest(sod.hash_algorithm, bytes(data_groups[number])), expected):
            valid.append(number)
        else:
            result.fail(f"DG{number} hash does not match EF.SOD")
    result.data_groups_checked = checked
    result.data_groups_with_valid_hash = valid
    result.all_hashes_valid = bool(checked) and len(valid) == len(checked)
    if not checked:
        result.fail("no data group was read, so no hash could be checked")
    result.passive_authentication = bool(
        result.sod_signature_valid and result.document_certificate_valid
        and result.all_hashes_valid and checked)
    return result.finish()
