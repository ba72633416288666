"""Signature verification for every scheme ICAO 9303 PKI uses.

RSA PKCS#1 v1.5, RSASSA-PSS, ECDSA with DER (X9.62) and plain (BSI TR-03111)
signature encodings; ECDSA over the curves ``cryptography`` lacks runs on
:mod:`docval.emrtd.ecpoint`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asn1crypto import core as asn1
from asn1crypto.algos import RSASSAPSSParams
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from docval.emrtd import ec, ecpoint
from docval.emrtd.errors import ParseError, UnsupportedError
from docval.emrtd.hashes import crypto_hash, digest, digest_size, hash_name_for_oid
from docval.emrtd.publickey import OID_EC_PUBLIC_KEY, OID_RSA, OID_RSASSA_PSS, PublicKey

OID_MGF1 = "1.2.840.113549.1.1.8"

# Signature scheme names used throughout DocVal.
RSA_PKCS1 = "rsassa-pkcs1v15"
RSA_PSS = "rsassa-pss"
ECDSA = "ecdsa"              # X9.62 DER SEQUENCE { r, s }
ECDSA_PLAIN = "ecdsa-plain"  # BSI TR-03111 r || s
SIGNATURE_SCHEMES = (RSA_PKCS1, RSA_PSS, ECDSA, ECDSA_PLAIN)

# signature OID -> (scheme, hash name or None when the digest algorithm decides)
SIGNATURE_OIDS: dict[str, tuple[str, str | None]] = {
    OID_RSA: (RSA_PKCS1, None),
    "1.2.840.113549.1.1.5": (RSA_PKCS1, "SHA-1"),
    "1.2.840.113549.1.1.14": (RSA_PKCS1, "SHA-224"),
    "1.2.840.113549.1.1.11": (RSA_PKCS1, "SHA-256"),
    "1.2.840.113549.1.1.12": (RSA_PKCS1, "SHA-384"),
    "1.2.840.113549.1.1.13": (RSA_PKCS1, "SHA-512"),
    OID_RSASSA_PSS: (RSA_PSS, None),
    # Some SODs name the key algorithm instead of a signature algorithm.
    OID_EC_PUBLIC_KEY: (ECDSA, None),
    "1.2.840.10045.4.1": (ECDSA, "SHA-1"),
    "1.2.840.10045.4.3.1": (ECDSA, "SHA-224"),
    "1.2.840.10045.4.3.2": (ECDSA, "SHA-256"),
    "1.2.840.10045.4.3.3": (ECDSA, "SHA-384"),
    "1.2.840.10045.4.3.4": (ECDSA, "SHA-512"),
    "0.4.0.127.0.7.1.1.4.1.1": (ECDSA_PLAIN, "SHA-1"),
    "0.4.0.127.0.7.1.1.4.1.2": (ECDSA_PLAIN, "SHA-224"),
    "0.4.0.127.0.7.1.1.4.1.3": (ECDSA_PLAIN, "SHA-256"),
    "0.4.0.127.0.7.1.1.4.1.4": (ECDSA_PLAIN, "SHA-384"),
    "0.4.0.127.0.7.1.1.4.1.5": (ECDSA_PLAIN, "SHA-512"),
}



@dataclass(frozen=True)
class PSSParams:
    """RSASSA-PSS-params (RFC 4055); the defaults are RFC 4055's."""

    hash_name: str = "SHA-1"
    mgf_hash_name: str = "SHA-1"
    salt_length: int = 20
    trailer_field: int = 1


def parse_pss_params(params: Any) -> PSSParams | None:
    """PSSParams from an asn1crypto parameters value (Any/RSASSAPSSParams/None).

    Returns None when the parameters are absent (callers apply RFC 4055 defaults).
    """
    try:
        if params is None or isinstance(params, asn1.Void):
            return None
        raw = params.dump()
        if raw in (b"", b"\x05\x00"):
            return None
        p = RSASSAPSSParams.load(raw, strict=True)
        hash_oid = p["hash_algorithm"]["algorithm"].dotted
        mgf = p["mask_gen_algorithm"]
        if mgf["algorithm"].dotted != OID_MGF1:
            raise UnsupportedError("RSASSA-PSS mask generation function is not MGF1")
        mgf_hash_oid = mgf["parameters"]["algorithm"].dotted
        salt = int(p["salt_length"].native)
        trailer_native = p["trailer_field"].native
        trailer = 1 if trailer_native == "trailer_field_bc" else int(trailer_native)
    except (UnsupportedError, ParseError):
        raise
    except Exception:
        raise ParseError("malformed RSASSA-PSS parameters") from None
    if not 0 <= salt <= 1024:
        raise ParseError("RSASSA-PSS salt length out of range")
    return PSSParams(hash_name_for_oid(hash_oid), hash_name_for_oid(mgf_hash_oid), salt, trailer)



# --- signatures ---------------------------------------------------------------

def verify_signature(key: PublicKey, sig_alg: str, hash_name: str, signature: bytes,
                     data: bytes, *, pss_params: PSSParams | None = None) -> bool:
    """True when ``signature`` is a valid ``sig_alg`` signature of ``data``.

    ``sig_alg`` is one of :data:`SIGNATURE_SCHEMES`.  For RSASSA-PSS,
    ``pss_params`` None means the parameters were absent: RFC 4055 defaults
    apply (SHA-1, MGF1-SHA-1, salt 20); since some issuers omit them while
    using ``hash_name``, a PSS signature with ``hash_name``, MGF1-``hash_name`` and
    a salt of the digest length is also accepted then.  Unknown schemes or hashes,
    or a key of the wrong kind, raise UnsupportedError; a bad signature is False.
    """
    signature, data = bytes(signature), bytes(data)
    if sig_alg in (RSA_PKCS1, RSA_PSS):
        if key.kind != "rsa":
            raise UnsupportedError(f"{sig_alg} signature with a {key.kind} key")
        if sig_alg == RSA_PKCS1:
            return _rsa_verify(key, signature, data, padding.PKCS1v15(), crypto_hash(hash_name))
        candidates = [pss_params] if pss_params is not None else [
            PSSParams(), PSSParams(hash_name, hash_name, digest_size(hash_name))]
        for params in candidates:
            if params.trailer_field != 1:
                raise UnsupportedError("RSASSA-PSS trailer field other than 1")
            pad = padding.PSS(mgf=padding.MGF1(crypto_hash(params.mgf_hash_name)),
                              salt_length=params.salt_length)
            if _rsa_verify(key, signature, data, pad, crypto_hash(params.hash_name)):
                return True
        return False
    if sig_alg in (ECDSA, ECDSA_PLAIN):
        if key.kind != "ec" or key.curve is None:
            raise UnsupportedError(f"{sig_alg} signature with a {key.kind} key")
        rs = _ecdsa_rs(key.curve, sig_alg, signature)
        if rs is None:
            return False
        r, s = rs
        if not (0 < r < key.curve.n and 0 < s < key.curve.n):
            return False
        h = crypto_hash(hash_name)
        if key.crypto is not None:
            try:
                key.crypto.verify(encode_dss_signature(r, s), data, cec.ECDSA(h))
                return True
            except InvalidSignature:
                return False
        return _ecdsa_verify_arith(key, digest(hash_name, data), r, s)
    raise UnsupportedError(f"unsupported signature scheme {sig_alg}")


def _rsa_verify(key: PublicKey, signature: bytes, data: bytes, pad: Any, h: hashes.HashAlgorithm) -> bool:
    if len(signature) != (key.bits + 7) // 8:
        return False
    try:
        key.crypto.verify(signature, data, pad, h)
        return True
    except InvalidSignature:
        return False
    except ValueError:
        # e.g. a salt length that cannot fit this modulus: not a valid signature
        return False


def _ecdsa_rs(curve: ec.Curve, sig_alg: str, signature: bytes) -> tuple[int, int] | None:
    if sig_alg == ECDSA_PLAIN:
        if not signature or len(signature) % 2 or len(signature) > 2 * ((curve.n.bit_length() + 7) // 8):
            return None
        half = len(signature) // 2
        return int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    try:
        seq = asn1.Sequence.load(signature, strict=True)
        if len(seq) != 2:
            return None
        r_obj, s_obj = asn1.Integer.load(seq[0].dump(), strict=True), asn1.Integer.load(seq[1].dump(), strict=True)
        if len(r_obj.contents) > 70 or len(s_obj.contents) > 70:
            return None
        return r_obj.native, s_obj.native
    except Exception:
        return None


def _ecdsa_verify_arith(key: PublicKey, msg_digest: bytes, r: int, s: int) -> bool:
    """ECDSA on curves cryptography lacks (brainpoolP192r1/P224r1/P320r1)."""
    assert key.curve is not None and key.point is not None   # an "ec" key always has both

    size = key.curve.byte_length
    x = int.from_bytes(key.point[1:1 + size], "big")
    y = int.from_bytes(key.point[1 + size:], "big")
    return bool(ecpoint.ecdsa_verify(key.curve, (x, y), msg_digest, r, s))

