"""X.509 certificates of the eMRTD PKI (CSCA, link, DSC, master list signer).

asn1crypto parses lazily, so a malformed field would only fail when first
touched - possibly deep inside Passive Authentication.  :func:`parse_certificate`
therefore reads every field DocVal uses at once and keeps plain values; the
only error it raises is ParseError.

Names are compared with :class:`NameKey`: attribute type plus a normalized
value, independent of RDN order and string type, because issuers do not encode
the same name identically everywhere (a Malaysian SOD lists the DSC issuer's
RDNs in another order than the DSC itself).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from asn1crypto import core as asn1
from asn1crypto import x509

from docval.emrtd import publickey, signatures
from docval.emrtd.errors import EmrtdError, ParseError, UnsupportedError

MAX_CERTIFICATE_BYTES = 65535
OID_COUNTRY = "2.5.4.6"

# Sorted (attribute OID, normalized value) pairs.
NameKey = tuple[tuple[str, str], ...]


def _normalize(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.hex()
    return " ".join(str(value).split()).casefold()


def name_key(name: x509.Name) -> NameKey:
    """Order-insensitive comparison key of an X.501 Name."""
    pairs: list[tuple[str, str]] = []
    for rdn in name.chosen:
        for atv in rdn:
            oid = atv["type"].dotted
            try:
                value = atv["value"].native
            except Exception:
                value = atv["value"].dump()
            pairs.append((oid, _normalize(value)))
    return tuple(sorted(pairs))


def name_country(name: x509.Name) -> str | None:
    for rdn in name.chosen:
        for atv in rdn:
            if atv["type"].dotted == OID_COUNTRY:
                try:
                    return str(atv["value"].native).strip().upper()
                except Exception:
                    return None
    return None


def name_text(name: x509.Name) -> str:
    """RFC 4514-like text for reports (certificate names hold no personal data)."""
    try:
        return str(name.human_friendly)
    except Exception:
        return "<unprintable name>"


@dataclass(frozen=True, repr=False)
class Certificate:
    der: bytes
    tbs: bytes
    serial: int
    issuer_key: NameKey
    subject_key: NameKey
    issuer_text: str
    subject_text: str
    issuer_country: str | None
    subject_country: str | None
    not_before: datetime
    not_after: datetime
    spki: bytes
    ski: bytes | None
    aki: bytes | None
    key_usage: frozenset[str] | None
    is_ca: bool | None
    signature_oid: str
    signature_params: bytes      # DER of the AlgorithmIdentifier parameters, b"" when absent
    signature: bytes
    fingerprint: str             # SHA-256 hex of the DER
    _key_cache: dict[int, publickey.PublicKey] = field(default_factory=dict, compare=False)

    def __repr__(self) -> str:
        return f"<Certificate {self.subject_text!r} serial={self.serial:x}>"

    @property
    def self_issued(self) -> bool:
        return self.issuer_key == self.subject_key

    def public_key(self, *, max_rsa_bits: int = publickey.TRUSTED_MAX_RSA_BITS) -> publickey.PublicKey:
        """The subject public key (ParseError/UnsupportedError/LimitExceeded)."""
        cached = self._key_cache.get(max_rsa_bits)
        if cached is None:
            cached = publickey.load_public_key(self.spki, max_rsa_bits=max_rsa_bits)
            self._key_cache[max_rsa_bits] = cached
        return cached

    def valid_at(self, at: datetime) -> bool:
        return self.not_before <= at <= self.not_after

    def signed_by(self, issuer_key: publickey.PublicKey) -> bool:
        """Whether ``issuer_key`` made this certificate's signature.

        Raises UnsupportedError for a signature algorithm DocVal does not know.
        """
        scheme, hash_name, pss = signature_scheme(self.signature_oid, self.signature_params, None)
        return signatures.verify_signature(issuer_key, scheme, hash_name, self.signature, self.tbs,
                                     pss_params=pss)


def signature_scheme(oid: str, params_der: bytes, digest_hash: str | None
                     ) -> tuple[str, str, signatures.PSSParams | None]:
    """(scheme, hash name, PSS parameters) of a signature AlgorithmIdentifier.

    ``digest_hash`` fills in the hash for OIDs that do not name one (rsaEncryption,
    id-ecPublicKey, RSASSA-PSS with absent parameters).
    """
    entry = signatures.SIGNATURE_OIDS.get(oid)
    if entry is None:
        raise UnsupportedError(f"unsupported signature algorithm {oid}")
    scheme, hash_name = entry
    pss = None
    if scheme == signatures.RSA_PSS:
        pss = signatures.parse_pss_params(asn1.Any.load(params_der) if params_der else None)
        hash_name = pss.hash_name if pss is not None else (digest_hash or "SHA-1")
    if hash_name is None:
        if digest_hash is None:
            raise UnsupportedError(f"signature algorithm {oid} needs a digest algorithm")
        hash_name = digest_hash
    return scheme, hash_name, pss


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def from_asn1(cert: x509.Certificate) -> Certificate:
    """Eagerly read an asn1crypto certificate; ParseError when anything is malformed."""
    try:
        der = cert.dump()
        tbs = cert["tbs_certificate"]
        tbs_der = tbs.dump()
        serial = tbs["serial_number"].native
        issuer, subject = tbs["issuer"], tbs["subject"]
        validity = tbs["validity"]
        not_before = _aware(validity["not_before"].native)
        not_after = _aware(validity["not_after"].native)
        spki = tbs["subject_public_key_info"].dump()
        ski = aki = None
        key_usage = None
        is_ca = None
        for ext in tbs["extensions"]:
            name = ext["extn_id"].dotted
            if name == "2.5.29.14":
                ski = ext["extn_value"].parsed.native
            elif name == "2.5.29.35":
                aki = ext["extn_value"].parsed["key_identifier"].native
            elif name == "2.5.29.15":
                key_usage = frozenset(ext["extn_value"].parsed.native)
            elif name == "2.5.29.19":
                is_ca = bool(ext["extn_value"].parsed["ca"].native)
        alg = cert["signature_algorithm"]
        sig_oid = alg["algorithm"].dotted
        params = alg["parameters"]
        params_der = b"" if isinstance(params, asn1.Void) else params.dump()
        if params_der == b"\x05\x00":
            params_der = b""
        signature = cert["signature_value"].native
        result = Certificate(
            der=der, tbs=tbs_der, serial=serial,
            issuer_key=name_key(issuer), subject_key=name_key(subject),
            issuer_text=name_text(issuer), subject_text=name_text(subject),
            issuer_country=name_country(issuer), subject_country=name_country(subject),
            not_before=not_before, not_after=not_after, spki=spki, ski=ski, aki=aki,
            key_usage=key_usage, is_ca=is_ca, signature_oid=sig_oid,
            signature_params=params_der, signature=signature,
            fingerprint=hashlib.sha256(der).hexdigest(),
        )
    except EmrtdError:
        raise
    except Exception:
        raise ParseError("malformed X.509 certificate") from None
    if not isinstance(serial, int) or not isinstance(signature, bytes):
        raise ParseError("malformed X.509 certificate")
    return result


def parse_certificate(der: bytes) -> Certificate:
    der = bytes(der)
    if len(der) > MAX_CERTIFICATE_BYTES:
        raise ParseError("certificate larger than 64 KiB")
    try:
        cert = x509.Certificate.load(der, strict=True)
    except Exception:
        raise ParseError("malformed X.509 certificate") from None
    return from_asn1(cert)
