"""Public keys found in eMRTDs and their PKI, and signature verification.

``load_public_key`` turns a DER SubjectPublicKeyInfo (from a certificate, DG14,
DG15 or EF.CardSecurity) into a :class:`PublicKey` that holds the plain numbers
*and*, where ``cryptography`` can represent it, a ``cryptography`` key object.
Keys come from untrusted chips, so sizes are capped before any arithmetic
(docs/reliability.md K6) and explicit EC domain parameters are accepted only when
they are exactly those of a standardized curve (X3).

``verify_signature`` covers every signature scheme ICAO 9303 PKI uses:
RSA PKCS#1 v1.5, RSASSA-PSS, ECDSA with DER (X9.62) and plain (BSI TR-03111)
signature encodings.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from asn1crypto import core as asn1
from asn1crypto import keys as asn1keys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from docval.emrtd import asn1types, dh, ec, ecpoint
from docval.emrtd.errors import LimitExceeded, ParseError, UnsupportedError

MAX_SPKI_BYTES = 16384       # a 4096-bit DH key with p, g, q and y is ~1.6 KB
MAX_RSA_E = 1 << 32
MAX_DH_BITS = 4096
# Only for keys from the trust store (loaded by the operator); chip keys use 4096.
TRUSTED_MAX_RSA_BITS = 16384

# --- algorithm identifiers --------------------------------------------------

OID_RSA = "1.2.840.113549.1.1.1"
OID_RSASSA_PSS = "1.2.840.113549.1.1.10"
OID_MGF1 = "1.2.840.113549.1.1.8"
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
OID_PRIME_FIELD = "1.2.840.10045.1.1"
OID_DH_PUBLIC_NUMBER = "1.2.840.10046.2.1"   # X9.42, ANSI DomainParameters p, g, q
OID_DH_KEY_AGREEMENT = "1.2.840.113549.1.3.1"  # PKCS#3, p, g [, l]
# BSI TR-03110 protocol OIDs that some chips also use as SPKI algorithm.
OID_PK_DH = "0.4.0.127.0.7.2.2.1.1"
OID_PK_ECDH = "0.4.0.127.0.7.2.2.1.2"
# TR-03110 standardizedDomainParameters: the parameters are an INTEGER id
# (0-2 the RFC 5114 DH groups, 8-18 the curves of docval.emrtd.ec).
OID_STANDARDIZED_DOMAIN_PARAMETERS = "0.4.0.127.0.7.1.2"

HASH_NAMES = ("SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512")

HASH_OIDS = {
    "1.3.14.3.2.26": "SHA-1",
    "2.16.840.1.101.3.4.2.4": "SHA-224",
    "2.16.840.1.101.3.4.2.1": "SHA-256",
    "2.16.840.1.101.3.4.2.2": "SHA-384",
    "2.16.840.1.101.3.4.2.3": "SHA-512",
}
OID_FOR_HASH = {v: k for k, v in HASH_OIDS.items()}

_HASHLIB = {"SHA-1": "sha1", "SHA-224": "sha224", "SHA-256": "sha256",
            "SHA-384": "sha384", "SHA-512": "sha512"}
_CRYPTO_HASH = {"SHA-1": hashes.SHA1, "SHA-224": hashes.SHA224, "SHA-256": hashes.SHA256,
                "SHA-384": hashes.SHA384, "SHA-512": hashes.SHA512}

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


def hash_name_for_oid(oid: str) -> str:
    try:
        return HASH_OIDS[oid]
    except KeyError:
        raise UnsupportedError(f"unsupported hash algorithm {oid}") from None


def digest(hash_name: str, data: bytes) -> bytes:
    try:
        return hashlib.new(_HASHLIB[hash_name], data).digest()
    except KeyError:
        raise UnsupportedError(f"unsupported hash algorithm {hash_name}") from None


def digest_size(hash_name: str) -> int:
    try:
        return hashlib.new(_HASHLIB[hash_name]).digest_size
    except KeyError:
        raise UnsupportedError(f"unsupported hash algorithm {hash_name}") from None


def crypto_hash(hash_name: str) -> hashes.HashAlgorithm:
    try:
        return _CRYPTO_HASH[hash_name]()
    except KeyError:
        raise UnsupportedError(f"unsupported hash algorithm {hash_name}") from None


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
        from asn1crypto.algos import RSASSAPSSParams

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


# --- public keys -------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class PublicKey:
    kind: str                       # "rsa" | "ec" | "dh"
    bits: int
    spki: bytes
    curve: ec.Curve | None = None
    point: bytes | None = None      # uncompressed 04 || X || Y
    rsa_n: int | None = None
    rsa_e: int | None = None
    dh_p: int | None = None
    dh_g: int | None = None
    dh_q: int | None = None
    dh_y: int | None = None
    # cryptography key object; None for DH and for curves cryptography lacks
    crypto: Any = None

    def __repr__(self) -> str:
        what = self.curve.name if self.curve else f"{self.bits} bits"
        return f"<PublicKey {self.kind} {what}>"

    @property
    def description(self) -> str:
        """Algorithm and size, for results and logs (no key material)."""
        if self.kind == "ec":
            return f"ECDSA {self.curve.name}" if self.curve else "ECDSA"
        return f"{self.kind.upper()}-{self.bits}"


def load_public_key(spki_der: bytes, *, max_rsa_bits: int = 4096) -> PublicKey:
    """Parse a DER SubjectPublicKeyInfo.

    Raises ParseError (malformed), UnsupportedError (unknown algorithm or curve)
    or LimitExceeded (key too large).
    """
    spki_der = bytes(spki_der)
    if len(spki_der) > MAX_SPKI_BYTES:
        raise LimitExceeded("public key structure too large")
    try:
        info = asn1types.SubjectPublicKeyInfo.load(spki_der, strict=True)
        oid = info["algorithm"]["algorithm"].dotted
        params = info["algorithm"]["parameters"]
        raw_params = b"" if isinstance(params, asn1.Void) else params.dump()
        contents = info["public_key"].contents or b""
    except Exception:
        raise ParseError("malformed SubjectPublicKeyInfo") from None
    if not contents or contents[0] != 0:
        raise ParseError("public key bit string has unused bits")
    key_bytes = contents[1:]
    if oid in (OID_RSA, OID_RSASSA_PSS):
        return _load_rsa(spki_der, key_bytes, max_rsa_bits)
    if oid in (OID_EC_PUBLIC_KEY, OID_PK_ECDH):
        return _load_ec(spki_der, raw_params, key_bytes)
    if oid in (OID_DH_PUBLIC_NUMBER, OID_DH_KEY_AGREEMENT, OID_PK_DH):
        return _load_dh(spki_der, oid, raw_params, key_bytes)
    if oid == OID_STANDARDIZED_DOMAIN_PARAMETERS:
        return _load_standardized(spki_der, raw_params, key_bytes)
    raise UnsupportedError(f"unsupported public key algorithm {oid}")


def _der_int_len_ok(value: asn1.Integer, max_bits: int) -> bool:
    # Look at the encoded length before converting, so a hostile 1 MB integer
    # costs nothing (the SPKI cap bounds it anyway).
    return len(value.contents or b"") <= max_bits // 8 + 1


def _load_rsa(spki: bytes, key_bytes: bytes, max_bits: int) -> PublicKey:
    try:
        pk = asn1keys.RSAPublicKey.load(key_bytes, strict=True)
        n_obj, e_obj = pk["modulus"], pk["public_exponent"]
        if not _der_int_len_ok(n_obj, max_bits) or len(e_obj.contents or b"") > 5:
            raise LimitExceeded("RSA key too large")
        n, e = n_obj.native, e_obj.native
    except LimitExceeded:
        raise
    except Exception:
        raise ParseError("malformed RSA public key") from None
    if n.bit_length() > max_bits:
        raise LimitExceeded(f"RSA modulus larger than {max_bits} bits")
    if e > MAX_RSA_E:
        raise LimitExceeded("RSA public exponent larger than 2^32")
    if n < 3 or e < 3 or n % 2 == 0 or e % 2 == 0 or e >= n:
        raise ParseError("invalid RSA public key")
    try:
        crypto = rsa.RSAPublicNumbers(e, n).public_key()
    except Exception:
        raise ParseError("invalid RSA public key") from None
    return PublicKey(kind="rsa", bits=n.bit_length(), spki=spki, rsa_n=n, rsa_e=e, crypto=crypto)


def _ec_from_params(raw_params: bytes) -> ec.Curve:
    if not raw_params:
        raise UnsupportedError("EC key without domain parameters")
    try:
        params = asn1keys.ECDomainParameters.load(raw_params, strict=True)
        choice = params.name
        chosen = params.chosen
    except Exception:
        raise ParseError("malformed EC domain parameters") from None
    if choice == "named":
        oid = chosen.dotted
        curve = _CURVE_BY_OID.get(oid)
        if curve is None:
            raise UnsupportedError(f"unsupported named curve {oid}")
        return curve
    if choice != "specified":
        raise UnsupportedError("implicitly specified EC domain parameters")
    try:
        field = chosen["field_id"]
        if field["field_type"].dotted != OID_PRIME_FIELD:
            raise UnsupportedError("EC domain parameters over a non-prime field")
        p_obj = field["parameters"]
        if not isinstance(p_obj, asn1.Integer):
            p_obj = asn1.Integer.load(p_obj.dump())
        if len(p_obj.contents or b"") > 67:
            raise LimitExceeded("EC field larger than 521 bits")
        p = p_obj.native
        a = int.from_bytes(chosen["curve"]["a"].native, "big")
        b = int.from_bytes(chosen["curve"]["b"].native, "big")
        base = chosen["base"].native
        n_obj = chosen["order"]
        if len(n_obj.contents or b"") > 67:
            raise LimitExceeded("EC order larger than 521 bits")
        n = n_obj.native
        cof = chosen["cofactor"]
        h = None if isinstance(cof, asn1.Void) else cof.native
    except (UnsupportedError, LimitExceeded):
        raise
    except Exception:
        raise ParseError("malformed explicit EC domain parameters") from None
    if not isinstance(base, bytes) or not isinstance(p, int) or p < 3:
        raise ParseError("malformed explicit EC domain parameters")
    if h is not None and not (isinstance(h, int) and 0 < h < 1 << 16):
        raise UnsupportedError("unsupported EC cofactor")
    curve = _match_with_base(p, a, b, base, n, h)
    if curve is None:
        raise UnsupportedError("explicit EC domain parameters match no standardized curve")
    return curve


def _match_with_base(p: int, a: int, b: int, base: bytes, n: int, h: int | None) -> ec.Curve | None:
    size = (p.bit_length() + 7) // 8
    if len(base) == 1 + 2 * size and base[0] == 4:
        gx = int.from_bytes(base[1:1 + size], "big")
        gy = int.from_bytes(base[1 + size:], "big")
        return ec.match_explicit(p, a, b, gx, gy, n, h)
    if len(base) == 1 + size and base[0] in (2, 3):
        # Compressed generator: compare against the table's generator directly.
        gx = int.from_bytes(base[1:], "big")
        for c in ec.CURVES:
            if c.p == p and c.gx == gx and (c.gy & 1) == (base[0] & 1):
                return ec.match_explicit(p, a, b, c.gx, c.gy, n, h)
        return None
    return None


def _load_ec(spki: bytes, raw_params: bytes, key_bytes: bytes) -> PublicKey:
    return _ec_key(spki, _ec_from_params(raw_params), key_bytes)


def _ec_key(spki: bytes, curve: ec.Curve, key_bytes: bytes) -> PublicKey:
    x, y = ecpoint.decode_point(curve, key_bytes, allow_compressed=True)
    size = curve.byte_length
    point = b"\x04" + x.to_bytes(size, "big") + y.to_bytes(size, "big")
    crypto = None
    cc = curve.crypto_curve()
    if cc is not None:
        try:
            crypto = cec.EllipticCurvePublicKey.from_encoded_point(cc, point)
        except Exception:
            raise ParseError("EC point not on the curve") from None
    return PublicKey(kind="ec", bits=curve.bits, spki=spki, curve=curve, point=point, crypto=crypto)


def _load_dh(spki: bytes, oid: str, raw_params: bytes, key_bytes: bytes) -> PublicKey:
    if not raw_params:
        raise ParseError("DH key without domain parameters")
    try:
        seq = asn1.Sequence.load(raw_params, strict=True)
        items = [seq[i] for i in range(len(seq))]
        if len(items) < 2 or not all(isinstance(i, (asn1.Integer, asn1.Any, asn1.Asn1Value)) for i in items):
            raise ParseError("malformed DH domain parameters")
        ints = []
        for item in items[:3]:
            obj = asn1.Integer.load(item.dump()) if not isinstance(item, asn1.Integer) else item
            if len(obj.contents or b"") > MAX_DH_BITS // 8 + 1:
                raise LimitExceeded(f"DH group larger than {MAX_DH_BITS} bits")
            ints.append(obj)
        y_obj = asn1.Integer.load(key_bytes, strict=True)
        if len(y_obj.contents or b"") > MAX_DH_BITS // 8 + 1:
            raise LimitExceeded(f"DH key larger than {MAX_DH_BITS} bits")
        p, g = ints[0].native, ints[1].native
        q = None
        # X9.42 DomainParameters are p, g, q, ...; PKCS#3 DHParameter is p, g [, l]
        # where l is a small privateValueLength, not a subgroup order.
        if oid != OID_DH_KEY_AGREEMENT and len(ints) > 2:
            q = ints[2].native
        y = y_obj.native
    except (ParseError, LimitExceeded):
        raise
    except Exception:
        raise ParseError("malformed DH public key") from None
    if p.bit_length() > MAX_DH_BITS:
        raise LimitExceeded(f"DH group larger than {MAX_DH_BITS} bits")
    if p < 5 or p % 2 == 0 or not 1 < g < p - 1 or not 1 < y < p - 1:
        raise ParseError("invalid DH public key")
    if q is not None and not 1 < q < p:
        raise ParseError("invalid DH subgroup order")
    return PublicKey(kind="dh", bits=p.bit_length(), spki=spki, dh_p=p, dh_g=g, dh_q=q, dh_y=y)


def _load_standardized(spki: bytes, raw_params: bytes, key_bytes: bytes) -> PublicKey:
    try:
        id_obj = asn1.Integer.load(raw_params, strict=True)
        # Every standardized id is below 32: a longer INTEGER is refused before it
        # becomes a number, whose decimal form Python refuses beyond 4300 digits.
        param_id = id_obj.native if len(id_obj.contents or b"") <= 2 else None
    except Exception:
        raise ParseError("malformed standardized domain parameter id") from None
    if param_id is None:
        raise UnsupportedError("unsupported standardized domain parameters (id out of range)")
    if not isinstance(param_id, int):
        raise ParseError("malformed standardized domain parameter id")
    curve = ec.curve_by_pace_id(param_id)
    if curve is not None:
        return _ec_key(spki, curve, key_bytes)
    group = dh.group_by_pace_id(param_id)
    if group is None:
        raise UnsupportedError(f"unsupported standardized domain parameters {param_id}")
    try:
        y_obj = asn1.Integer.load(key_bytes, strict=True)
        if len(y_obj.contents or b"") > group.byte_length + 1:
            raise ParseError("DH public value of bad length")
        y = y_obj.native
    except ParseError:
        raise
    except Exception:
        raise ParseError("malformed DH public key") from None
    if not 1 < y < group.p - 1:
        raise ParseError("invalid DH public key")
    return PublicKey(kind="dh", bits=group.p.bit_length(), spki=spki,
                     dh_p=group.p, dh_g=group.g, dh_q=group.q, dh_y=y)


_CURVE_BY_OID = {
    "1.3.36.3.3.2.8.1.1.3": ec.BY_NAME["brainpoolP192r1"],
    "1.3.36.3.3.2.8.1.1.5": ec.BY_NAME["brainpoolP224r1"],
    "1.3.36.3.3.2.8.1.1.7": ec.BY_NAME["brainpoolP256r1"],
    "1.3.36.3.3.2.8.1.1.9": ec.BY_NAME["brainpoolP320r1"],
    "1.3.36.3.3.2.8.1.1.11": ec.BY_NAME["brainpoolP384r1"],
    "1.3.36.3.3.2.8.1.1.13": ec.BY_NAME["brainpoolP512r1"],
    "1.2.840.10045.3.1.1": ec.BY_NAME["secp192r1"],
    "1.3.132.0.33": ec.BY_NAME["secp224r1"],
    "1.2.840.10045.3.1.7": ec.BY_NAME["secp256r1"],
    "1.3.132.0.34": ec.BY_NAME["secp384r1"],
    "1.3.132.0.35": ec.BY_NAME["secp521r1"],
}
CURVE_OIDS = {c.name: oid for oid, c in _CURVE_BY_OID.items()}


def curve_by_oid(oid: str) -> ec.Curve | None:
    return _CURVE_BY_OID.get(oid)


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

    size = key.curve.byte_length
    x = int.from_bytes(key.point[1:1 + size], "big")
    y = int.from_bytes(key.point[1 + size:], "big")
    return bool(ecpoint.ecdsa_verify(key.curve, (x, y), msg_digest, r, s))
