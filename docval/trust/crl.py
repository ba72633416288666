"""Certificate revocation lists of CSCAs (X.509 v2 CRLs)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

from asn1crypto import core as asn1
from asn1crypto import crl as asn1crl

from docval.emrtd import keys
from docval.emrtd.certificate import Certificate, name_key, name_text, signature_scheme
from docval.emrtd.errors import EmrtdError, ParseError


@dataclass(frozen=True, repr=False)
class CRL:
    der: bytes
    tbs: bytes
    issuer_key: tuple
    issuer_text: str
    aki: bytes | None
    this_update: datetime
    next_update: datetime | None
    revoked_serials: frozenset[int]
    signature_oid: str
    signature_params: bytes
    signature: bytes
    fingerprint: str

    def __repr__(self) -> str:
        return f"<CRL {self.issuer_text!r} revoked={len(self.revoked_serials)}>"

    def signed_by(self, issuer: Certificate) -> bool:
        scheme, hash_name, pss = signature_scheme(self.signature_oid, self.signature_params, None)
        return keys.verify_signature(issuer.public_key(), scheme, hash_name, self.signature, self.tbs,
                                     pss_params=pss)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def parse_crl(der: bytes) -> CRL:
    der = bytes(der)
    try:
        cl = asn1crl.CertificateList.load(der, strict=True)
        tbs = cl["tbs_cert_list"]
        issuer = tbs["issuer"]
        aki = None
        for ext in tbs["crl_extensions"]:
            if ext["extn_id"].dotted == "2.5.29.35":
                aki = ext["extn_value"].parsed["key_identifier"].native
        revoked = tbs["revoked_certificates"]
        serials = frozenset(r["user_certificate"].native for r in revoked) \
            if not isinstance(revoked, asn1.Void) else frozenset()
        next_update = tbs["next_update"]
        alg = cl["signature_algorithm"]
        params = alg["parameters"]
        params_der = b"" if isinstance(params, asn1.Void) else params.dump()
        if params_der == b"\x05\x00":
            params_der = b""
        return CRL(
            der=der, tbs=tbs.dump(), issuer_key=name_key(issuer), issuer_text=name_text(issuer), aki=aki,
            this_update=_aware(tbs["this_update"].native),
            next_update=None if isinstance(next_update, asn1.Void) else _aware(next_update.native),
            revoked_serials=serials, signature_oid=alg["algorithm"].dotted,
            signature_params=params_der, signature=cl["signature"].native,
            fingerprint=hashlib.sha256(der).hexdigest(),
        )
    except EmrtdError:
        raise
    except Exception:
        raise ParseError("malformed CRL") from None
