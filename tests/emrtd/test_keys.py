"""docval.emrtd.keys: SubjectPublicKeyInfo parsing and signature verification.

Keys and signatures are produced by cryptography/OpenSSL (an independent
implementation) and by real documents of the data set DOCVAL_TESTDATA names.
"""
from __future__ import annotations


import pytest
from asn1crypto import core as asn1
from asn1crypto import keys as asn1keys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings, strategies as st

from docval.emrtd import ec, keys
from docval.emrtd.errors import LimitExceeded, ParseError, UnsupportedError
from docval.emrtd.keys import PSSParams, load_public_key, verify_signature

from tests.testdata import TESTDATA
DOCUMENTED = (ParseError, UnsupportedError, LimitExceeded)


def spki_of(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_rsa_key_numbers(rsa_key):
    k = load_public_key(spki_of(rsa_key.public_key()))
    nums = rsa_key.public_key().public_numbers()
    assert (k.kind, k.bits, k.rsa_n, k.rsa_e) == ("rsa", 2048, nums.n, 65537)
    assert k.crypto.public_numbers() == nums
    assert "rsa" in repr(k) and str(nums.n) not in repr(k)


@pytest.mark.parametrize("curve", [c for c in ec.CURVES if c.crypto_name])
def test_named_ec_keys(curve):
    priv = cec.generate_private_key(curve.crypto_curve())
    k = load_public_key(spki_of(priv.public_key()))
    assert k.kind == "ec" and k.curve is curve and k.bits == curve.bits
    nums = priv.public_key().public_numbers()
    size = curve.byte_length
    assert k.point == b"\x04" + nums.x.to_bytes(size, "big") + nums.y.to_bytes(size, "big")
    assert k.crypto is not None


def _explicit_spki(curve: ec.Curve, point: bytes, *, b: int | None = None, base: bytes | None = None,
                   cofactor: bool = True) -> bytes:
    size = curve.byte_length
    g = base if base is not None else (b"\x04" + curve.gx.to_bytes(size, "big") + curve.gy.to_bytes(size, "big"))
    spec = {
        "version": "ecdpVer1",
        "field_id": {"field_type": "prime_field", "parameters": curve.p},
        "curve": {"a": curve.a.to_bytes(size, "big"), "b": (curve.b if b is None else b).to_bytes(size, "big")},
        "base": g,
        "order": curve.n,
    }
    if cofactor:
        spec["cofactor"] = 1
    params = asn1keys.ECDomainParameters(name="specified", value=asn1keys.SpecifiedECDomain(spec))
    info = asn1keys.PublicKeyInfo({
        "algorithm": {"algorithm": "ec", "parameters": params},
        "public_key": point,
    })
    return info.dump()


@pytest.mark.parametrize("name", ["brainpoolP256r1", "brainpoolP384r1", "secp256r1"])
def test_explicit_parameters_of_a_standard_curve_are_accepted(name):
    curve = ec.BY_NAME[name]
    priv = cec.generate_private_key(curve.crypto_curve())
    point = priv.public_key().public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    for cof in (True, False):
        k = load_public_key(_explicit_spki(curve, point, cofactor=cof))
        assert k.curve is curve and k.point == point
    size = curve.byte_length
    compressed_g = bytes([2 + (curve.gy & 1)]) + curve.gx.to_bytes(size, "big")
    assert load_public_key(_explicit_spki(curve, point, base=compressed_g)).curve is curve


def test_explicit_parameters_of_a_fake_curve_are_rejected():
    """docs/reliability.md X3: shares p (and G's encoding) with brainpoolP256r1 but not b."""
    curve = ec.BY_NAME["brainpoolP256r1"]
    point = b"\x04" + curve.gx.to_bytes(32, "big") + curve.gy.to_bytes(32, "big")
    with pytest.raises(UnsupportedError):
        load_public_key(_explicit_spki(curve, point, b=curve.b ^ 1))


def test_compressed_point_is_decompressed():
    for name in ("secp224r1", "brainpoolP256r1"):   # p = 1 mod 4 and p = 3 mod 4
        curve = ec.BY_NAME[name]
        priv = cec.generate_private_key(curve.crypto_curve())
        pub = priv.public_key()
        compressed = pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
        info = asn1keys.PublicKeyInfo({
            "algorithm": {"algorithm": "ec",
                          "parameters": asn1keys.ECDomainParameters(name="named", value=keys.CURVE_OIDS[name])},
            "public_key": compressed,
        })
        k = load_public_key(info.dump())
        assert k.point == pub.public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)


def test_point_not_on_curve_is_rejected():
    curve = ec.BY_NAME["secp256r1"]
    bad = b"\x04" + curve.gx.to_bytes(32, "big") + (curve.gy ^ 1).to_bytes(32, "big")
    with pytest.raises(ParseError):
        load_public_key(_explicit_spki(curve, bad))


def test_curve_without_cryptography_support_has_no_crypto_object():
    curve = ec.BY_NAME["brainpoolP224r1"]
    point = b"\x04" + curve.gx.to_bytes(28, "big") + curve.gy.to_bytes(28, "big")
    k = load_public_key(_explicit_spki(curve, point))
    assert k.curve is curve and k.crypto is None and k.point == point


def _rsa_spki(n: int, e: int) -> bytes:
    return asn1keys.PublicKeyInfo({
        "algorithm": {"algorithm": "rsa"},
        "public_key": asn1keys.RSAPublicKey({"modulus": n, "public_exponent": e}),
    }).dump()


def test_rsa_caps_before_arithmetic():
    big_n = (1 << 4200) - 1
    with pytest.raises(LimitExceeded):
        load_public_key(_rsa_spki(big_n, 65537))
    # the limit is a parameter (trust-store keys may be larger than chip keys)
    assert load_public_key(_rsa_spki(big_n, 65537), max_rsa_bits=8192).bits == 4200
    with pytest.raises(LimitExceeded):
        load_public_key(_rsa_spki((1 << 2047) + 1, (1 << 40) + 1))
    with pytest.raises(ParseError):
        load_public_key(_rsa_spki((1 << 2047) + 1, 2))
    with pytest.raises(LimitExceeded):
        load_public_key(b"\x30\x82\x50\x00" + bytes(0x5000))


def _dh_spki(p: int, g: int, q: int | None, y: int, oid: str = keys.OID_DH_PUBLIC_NUMBER) -> bytes:
    ints = b"".join(asn1.Integer(v).dump() for v in ([p, g] + ([q] if q is not None else [])))
    alg = asn1.ObjectIdentifier(oid).dump() + b"\x30" + _len(len(ints)) + ints
    body = b"\x30" + _len(len(alg)) + alg + asn1.OctetBitString(asn1.Integer(y).dump()).dump()
    return b"\x30" + _len(len(body)) + body


def _len(n: int) -> bytes:
    from docval.emrtd.tlv import encode_length
    return encode_length(n)


# RFC 3526 group 14 (2048-bit MODP) for a realistic size
MODP2048 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF", 16)


def _spki(alg_oid: str, params: bytes, key_bits: bytes) -> bytes:
    alg = asn1.ObjectIdentifier(alg_oid).dump() + params
    body = b"\x30" + _len(len(alg)) + alg + b"\x03" + _len(len(key_bits)) + key_bits
    return b"\x30" + _len(len(body)) + body


def _ec_spki_with(curve: ec.Curve, **changes) -> bytes:
    """Explicit parameters of ``curve`` with fields replaced (asn1crypto values)."""
    size = curve.byte_length
    spec = {
        "version": "ecdpVer1",
        "field_id": {"field_type": "prime_field", "parameters": curve.p},
        "curve": {"a": curve.a.to_bytes(size, "big"), "b": curve.b.to_bytes(size, "big")},
        "base": b"\x04" + curve.gx.to_bytes(size, "big") + curve.gy.to_bytes(size, "big"),
        "order": curve.n,
        "cofactor": 1,
    }
    spec.update(changes)
    params = asn1keys.ECDomainParameters(name="specified", value=asn1keys.SpecifiedECDomain(spec)).dump()
    point = b"\x04" + curve.gx.to_bytes(size, "big") + curve.gy.to_bytes(size, "big")
    return _spki("1.2.840.10045.2.1", params, b"\x00" + point)


P256 = ec.BY_NAME["secp256r1"]


def _x_without_point(curve: ec.Curve) -> int:
    """The smallest x for which x^3 + ax + b has no square root mod p."""
    p = curve.p
    return next(x for x in range(1, 100) if pow((x ** 3 + curve.a * x + curve.b) % p, (p - 1) // 2, p) == p - 1)


_G256 = b"\x04" + P256.gx.to_bytes(32, "big") + P256.gy.to_bytes(32, "big")
_NAMED_P256 = asn1.ObjectIdentifier("1.2.840.10045.3.1.7").dump()


@pytest.mark.parametrize("spki,error", [
    # RSA: a 4097-bit modulus fits the encoded-length check but not the bit limit; e above 2^32
    (lambda: _rsa_spki((1 << 4096) + 1, 65537), LimitExceeded),
    (lambda: _rsa_spki((1 << 2047) + 1, (1 << 32) + 1), LimitExceeded),
    (lambda: _spki(keys.OID_RSA, b"\x05\x00", b"\x00\x30\x03\x02\x01\x05"), ParseError),
    # a public key BIT STRING with unused bits
    (lambda: _spki("1.2.840.10045.2.1", _NAMED_P256, b"\x01" + _G256), ParseError),
    # EC without parameters, implicitlyCA, malformed parameters, a characteristic-2 field
    (lambda: _spki("1.2.840.10045.2.1", b"", b"\x00" + _G256), UnsupportedError),
    (lambda: _spki("1.2.840.10045.2.1", b"\x05\x00", b"\x00" + _G256), UnsupportedError),
    (lambda: _spki("1.2.840.10045.2.1", b"\x30\x01\x02", b"\x00" + _G256), ParseError),
    (lambda: _ec_spki_with(P256, field_id={"field_type": "characteristic_two_field", "parameters": {
        "m": 163, "basis": "tp_basis", "parameters": asn1.Integer(7)}}), UnsupportedError),
    # explicit parameters too large to be any table curve, or with an odd cofactor
    (lambda: _ec_spki_with(P256, field_id={"field_type": "prime_field", "parameters": (1 << 600) + 1}),
     LimitExceeded),
    (lambda: _ec_spki_with(P256, order=(1 << 600) + 1), LimitExceeded),
    (lambda: _ec_spki_with(P256, cofactor=1 << 20), UnsupportedError),
    # a compressed generator that is no table curve's, a generator of the wrong size
    (lambda: _ec_spki_with(P256, base=b"\x02" + (P256.gx ^ 1).to_bytes(32, "big")), UnsupportedError),
    (lambda: _ec_spki_with(P256, base=b"\x04" + bytes(10)), UnsupportedError),
    # points: compressed x >= p, compressed x with no square root, wrong size, infinity
    (lambda: _spki("1.2.840.10045.2.1", _NAMED_P256, b"\x00\x02" + (P256.p + 1).to_bytes(33, "big")[1:]),
     ParseError),
    (lambda: _spki("1.2.840.10045.2.1", _NAMED_P256, b"\x00\x02" + _x_without_point(P256).to_bytes(32, "big")),
     ParseError),
    (lambda: _spki("1.2.840.10045.2.1", _NAMED_P256, b"\x00" + _G256[:-1]), ParseError),
    (lambda: _spki("1.2.840.10045.2.1", _NAMED_P256, b"\x00\x00"), ParseError),
    # DH: no parameters, a subgroup order outside 1..p, a value or group above 4096 bits
    (lambda: _spki(keys.OID_DH_PUBLIC_NUMBER, b"", b"\x00\x02\x01\x05"), ParseError),
    (lambda: _dh_spki(MODP2048, 2, MODP2048 + 2, 5), ParseError),
    (lambda: _dh_spki(MODP2048, 2, None, 1 << 4200), LimitExceeded),
    (lambda: _dh_spki((1 << 4100) + 1, 2, None, 5), LimitExceeded),
    # standardized DH group 0: a value longer than p, or outside 2..p-2
    (lambda: _spki(keys.OID_STANDARDIZED_DOMAIN_PARAMETERS, b"\x02\x01\x00",
                   b"\x00" + asn1.Integer(1 << 1100).dump()), ParseError),
    (lambda: _spki(keys.OID_STANDARDIZED_DOMAIN_PARAMETERS, b"\x02\x01\x00", b"\x00" + asn1.Integer(1).dump()),
     ParseError),
    (lambda: _spki(keys.OID_STANDARDIZED_DOMAIN_PARAMETERS, b"\x02\x01\x00", b"\x00\x04\x01\x00"), ParseError),
], ids=["rsa-4097", "rsa-e-2^32+1", "rsa-not-a-key", "unused-bits", "ec-no-params", "ec-implicit-ca",
        "ec-params-garbage", "ec-char-2", "ec-p-600-bits", "ec-n-600-bits", "ec-cofactor", "ec-unknown-compressed-g",
        "ec-short-g", "point-x-ge-p", "point-no-root", "point-short", "point-infinity", "dh-no-params",
        "dh-bad-q", "dh-y-4200-bits", "dh-p-4100-bits", "std-dh-long-y", "std-dh-y-1", "std-dh-not-integer"])
def test_hostile_keys_are_refused_with_their_documented_error(spki, error):
    with pytest.raises(error):
        load_public_key(spki())


def test_dh_keys():
    y = pow(2, 12345, MODP2048)
    k = load_public_key(_dh_spki(MODP2048, 2, (MODP2048 - 1) // 2, y))
    assert (k.kind, k.bits, k.dh_p, k.dh_g, k.dh_q, k.dh_y) == ("dh", 2048, MODP2048, 2, (MODP2048 - 1) // 2, y)
    # PKCS#3 DHParameter: the third integer is a private value length, not q
    k3 = load_public_key(_dh_spki(MODP2048, 2, 160, y, keys.OID_DH_KEY_AGREEMENT))
    assert k3.dh_q is None
    for bad_y in (0, 1, MODP2048 - 1, MODP2048):
        with pytest.raises(ParseError):
            load_public_key(_dh_spki(MODP2048, 2, None, bad_y))
    huge = (1 << 4200) - 1
    with pytest.raises(LimitExceeded):
        load_public_key(_dh_spki(huge, 2, None, 5))


def test_standardized_domain_parameter_ids():
    """TR-03110 SPKI with an id instead of parameters (real EF.CardSecurity of the vsmartcard nPA)."""
    curve = ec.BY_PACE_ID[13]
    point = b"\x04" + curve.gx.to_bytes(32, "big") + curve.gy.to_bytes(32, "big")
    alg = asn1.ObjectIdentifier(keys.OID_STANDARDIZED_DOMAIN_PARAMETERS).dump() + asn1.Integer(13).dump()
    body = b"\x30" + _len(len(alg)) + alg + asn1.OctetBitString(point).dump()
    k = load_public_key(b"\x30" + _len(len(body)) + body)
    assert k.curve is curve and k.point == point
    alg99 = asn1.ObjectIdentifier(keys.OID_STANDARDIZED_DOMAIN_PARAMETERS).dump() + asn1.Integer(99).dump()
    body = b"\x30" + _len(len(alg99)) + alg99 + asn1.OctetBitString(point).dump()
    with pytest.raises(UnsupportedError):
        load_public_key(b"\x30" + _len(len(body)) + body)


@pytest.mark.parametrize("param_id", [1 << (8 * 2100), -(1 << (8 * 2100)), 1 << 40, -1],
                         ids=["2100-byte", "negative-2100-byte", "6-byte", "minus-one"])
def test_huge_or_negative_standardized_id_is_refused_without_printing_it(param_id):
    """A 2100-byte id would become a 5000-digit number in the message: Python refuses
    that conversion with ValueError, which must not escape (nor the number reach a log)."""
    curve = ec.BY_PACE_ID[13]
    point = b"\x04" + curve.gx.to_bytes(32, "big") + curve.gy.to_bytes(32, "big")
    alg = asn1.ObjectIdentifier(keys.OID_STANDARDIZED_DOMAIN_PARAMETERS).dump() + asn1.Integer(param_id).dump()
    body = b"\x30" + _len(len(alg)) + alg + asn1.OctetBitString(point).dump()
    with pytest.raises(UnsupportedError) as caught:
        load_public_key(b"\x30" + _len(len(body)) + body)
    assert len(str(caught.value)) < 100


def test_unknown_algorithm_and_curve():
    with pytest.raises(UnsupportedError):
        load_public_key(asn1keys.PublicKeyInfo({
            "algorithm": {"algorithm": "ec",
                          "parameters": asn1keys.ECDomainParameters(name="named", value="1.3.132.0.10")},
            "public_key": b"\x04" + bytes(64)}).dump())
    alg = asn1.ObjectIdentifier("1.2.3.4").dump()
    body = b"\x30" + _len(len(alg)) + alg + asn1.OctetBitString(b"\x01").dump()
    with pytest.raises(UnsupportedError):
        load_public_key(b"\x30" + _len(len(body)) + body)


@pytest.mark.testdata
def test_real_dg15_rsa_1792_key():
    from docval.emrtd import tlv

    dg15 = (TESTDATA / "dg15" / "AA_RSA1792_DG15.bin").read_bytes()
    k = load_public_key(tlv.parse_single(dg15, 0x6F).value)
    assert k.kind == "rsa" and k.bits == 1792


# --- signatures, made by cryptography --------------------------------------------------

DATA = b"signed attributes stand-in"


@pytest.mark.parametrize("hash_name", keys.HASH_NAMES)
def test_rsa_pkcs1(rsa_key, hash_name):
    k = load_public_key(spki_of(rsa_key.public_key()))
    sig = rsa_key.sign(DATA, padding.PKCS1v15(), keys.crypto_hash(hash_name))
    assert verify_signature(k, keys.RSA_PKCS1, hash_name, sig, DATA)
    assert not verify_signature(k, keys.RSA_PKCS1, hash_name, sig, DATA + b"x")
    assert not verify_signature(k, keys.RSA_PKCS1, hash_name, sig[:-1], DATA)


def test_rsa_pss_explicit_and_default_parameters(rsa_key):
    k = load_public_key(spki_of(rsa_key.public_key()))
    sig = rsa_key.sign(DATA, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    params = PSSParams("SHA-256", "SHA-256", 32)
    assert verify_signature(k, keys.RSA_PSS, "SHA-256", sig, DATA, pss_params=params)
    assert not verify_signature(k, keys.RSA_PSS, "SHA-256", sig, DATA,
                                pss_params=PSSParams("SHA-256", "SHA-256", 20))
    assert not verify_signature(k, keys.RSA_PSS, "SHA-256", sig, b"other", pss_params=params)
    # RFC 4055 defaults: SHA-1, MGF1-SHA-1, salt 20
    sig1 = rsa_key.sign(DATA, padding.PSS(mgf=padding.MGF1(hashes.SHA1()), salt_length=20), hashes.SHA1())
    assert verify_signature(k, keys.RSA_PSS, "SHA-1", sig1, DATA)
    assert verify_signature(k, keys.RSA_PSS, "SHA-256", sig1, DATA)
    # absent parameters while the issuer used the digest algorithm throughout
    assert verify_signature(k, keys.RSA_PSS, "SHA-256", sig, DATA)
    assert not verify_signature(k, keys.RSA_PSS, "SHA-384", sig, DATA)


def test_pss_parameter_parsing():
    from asn1crypto.algos import RSASSAPSSParams

    p = RSASSAPSSParams({
        "hash_algorithm": {"algorithm": "sha384"},
        "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha384"}},
        "salt_length": 48,
    })
    assert keys.parse_pss_params(asn1.Any.load(p.dump())) == PSSParams("SHA-384", "SHA-384", 48, 1)
    assert keys.parse_pss_params(None) is None
    assert keys.parse_pss_params(asn1.Any.load(b"\x30\x00")) == PSSParams()
    with pytest.raises(ParseError):
        keys.parse_pss_params(asn1.Any.load(b"\x04\x01\x00"))


@pytest.mark.parametrize("name", ["secp256r1", "brainpoolP256r1", "brainpoolP384r1", "brainpoolP512r1", "secp521r1"])
def test_ecdsa_der_and_plain(name):
    curve = ec.BY_NAME[name]
    priv = cec.generate_private_key(curve.crypto_curve())
    k = load_public_key(spki_of(priv.public_key()))
    der = priv.sign(DATA, cec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    size = (curve.n.bit_length() + 7) // 8
    plain = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    assert verify_signature(k, keys.ECDSA, "SHA-256", der, DATA)
    assert verify_signature(k, keys.ECDSA_PLAIN, "SHA-256", plain, DATA)
    assert not verify_signature(k, keys.ECDSA, "SHA-256", plain, DATA)
    assert not verify_signature(k, keys.ECDSA_PLAIN, "SHA-256", der, DATA)
    assert not verify_signature(k, keys.ECDSA, "SHA-256", der, DATA + b"!")
    assert not verify_signature(k, keys.ECDSA, "SHA-384", der, DATA)
    bad_s = r.to_bytes(size, "big") + curve.n.to_bytes(size, "big")
    assert not verify_signature(k, keys.ECDSA_PLAIN, "SHA-256", bad_s, DATA)


def test_scheme_key_mismatch_and_unknown(rsa_key):
    k = load_public_key(spki_of(rsa_key.public_key()))
    with pytest.raises(UnsupportedError):
        verify_signature(k, keys.ECDSA, "SHA-256", b"\x30\x00", DATA)
    with pytest.raises(UnsupportedError):
        verify_signature(k, "dsa", "SHA-256", b"", DATA)
    with pytest.raises(UnsupportedError):
        verify_signature(k, keys.RSA_PKCS1, "MD5", b"", DATA)


def test_curve_by_oid_and_key_descriptions(rsa_key):
    assert keys.curve_by_oid("1.3.36.3.3.2.8.1.1.7") is ec.BY_NAME["brainpoolP256r1"]
    assert keys.curve_by_oid("1.3.132.0.10") is None
    assert all(keys.curve_by_oid(oid).name == name for name, oid in keys.CURVE_OIDS.items())
    assert load_public_key(spki_of(rsa_key.public_key())).description == "RSA-2048"
    ec_key = cec.generate_private_key(cec.SECP384R1()).public_key()
    assert load_public_key(spki_of(ec_key)).description == "ECDSA secp384r1"


def test_oid_tables():
    assert keys.hash_name_for_oid("2.16.840.1.101.3.4.2.1") == "SHA-256"
    with pytest.raises(UnsupportedError):
        keys.hash_name_for_oid("1.2.840.113549.2.5")   # MD5
    assert keys.SIGNATURE_OIDS["0.4.0.127.0.7.1.1.4.1.3"] == (keys.ECDSA_PLAIN, "SHA-256")
    h = hashes.Hash(hashes.SHA384())
    h.update(b"abc")
    assert keys.digest("SHA-384", b"abc") == h.finalize()


# --- hostile input -----------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_documented_errors(data):
    try:
        load_public_key(data)
    except DOCUMENTED:
        pass


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_real_keys_raise_only_documented_errors(data):
    curve = ec.BY_NAME["brainpoolP256r1"]
    point = b"\x04" + curve.gx.to_bytes(32, "big") + curve.gy.to_bytes(32, "big")
    base = bytearray(_explicit_spki(curve, point) if data.draw(st.booleans()) else _rsa_spki(MODP2048, 65537))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(base) - 1))
        base[i] = data.draw(st.integers(0, 255))
    try:
        load_public_key(bytes(base))
    except DOCUMENTED:
        pass


@pytest.mark.testdata
def test_standardized_dh_group_from_real_card_security():
    """vsmartcard nPA EF.CardSecurity: id-PK-DH key given as standardized domain parameters 0."""
    from asn1crypto import cms

    from docval.emrtd import dh, tlv

    data = (TESTDATA / "vsmartcard_npa" / "dh_ef_cardsecurity.bin").read_bytes()
    content = bytes(cms.ContentInfo.load(data)["content"]["encap_content_info"]["content"])
    spkis = [item.children()[1].encode() for item in tlv.parse_single(content).children()
             if item.children()[0].value == bytes.fromhex("04007f000702020101")]
    assert len(spkis) == 1
    k = load_public_key(spkis[0])
    group = dh.group_by_pace_id(0)
    assert (k.kind, k.bits, k.dh_p, k.dh_g, k.dh_q) == ("dh", 1024, group.p, group.g, group.q)


@pytest.mark.parametrize("name", ["brainpoolP224r1", "brainpoolP320r1"])
def test_ecdsa_on_curves_cryptography_lacks_against_openssl(tmp_path, name):
    """Signatures made by the openssl CLI, verified with DocVal's pure arithmetic."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed as an independent ECDSA implementation")
    keyfile, pubfile, msgfile, sigfile = (tmp_path / n for n in ("k.pem", "p.der", "m", "s"))
    msgfile.write_bytes(DATA)
    subprocess.run(["openssl", "ecparam", "-name", name, "-genkey", "-noout", "-out", str(keyfile)], check=True)
    subprocess.run(["openssl", "ec", "-in", str(keyfile), "-pubout", "-outform", "DER", "-out", str(pubfile)],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(keyfile), "-out", str(sigfile), str(msgfile)],
                   check=True)
    k = load_public_key(pubfile.read_bytes())
    assert k.curve is ec.BY_NAME[name] and k.crypto is None
    sig = sigfile.read_bytes()
    assert verify_signature(k, keys.ECDSA, "SHA-256", sig, DATA)
    assert not verify_signature(k, keys.ECDSA, "SHA-256", sig, DATA + b"x")
