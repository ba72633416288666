"""Public keys found in eMRTDs and their PKI.

``load_public_key`` turns a DER SubjectPublicKeyInfo (from a certificate, DG14,
DG15 or EF.CardSecurity) into a :class:`PublicKey` that holds the plain numbers
*and*, where ``cryptography`` can represent it, a ``cryptography`` key object.
Keys come from untrusted chips, so sizes are capped before any arithmetic
(docs/reliability.md K6) and explicit EC domain parameters are accepted only when
they are exactly those of a standardized curve (X3).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asn1crypto import core as asn1
from asn1crypto import keys as asn1keys
from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.asymmetric import rsa

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

