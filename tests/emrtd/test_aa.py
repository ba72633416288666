from __future__ import annotations

import hashlib
import time

import pytest
from asn1crypto import core, keys as asn1keys
from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives import hashes
from hypothesis import given, settings
from hypothesis import strategies as st

from docval.emrtd import aa, tlv
from docval.emrtd.apdu import CommandAPDU, ResponseAPDU
from docval.emrtd.errors import AuthenticationError, LimitExceeded, ParseError, UnsupportedError
from docval.emrtd.flow import Link, run
from docval.emrtd.securityinfo import ActiveAuthenticationInfo
from tests.support.flows import drive, plain
from tests.support.rng import scripted_rng
from tests.testdata import TESTDATA


def run_plain(flow, respond):
    return drive(flow, transmit=plain(respond)).result


# A real INTERNAL AUTHENTICATE exchange of a passport with the 1792-bit key of
# dg15/AA_RSA1792_DG15.bin, as published in gmrtd's activeauth tests.
REAL_CHALLENGE = bytes.fromhex("96302b0f3d7e7864")
REAL_SIGNATURE = bytes.fromhex(
    "474256306840c0ab1b63c10e1c26bdfef4a0dd843920283cc4e6e70a60f2bd25dc7725f9677bc1cde66379dc28b38e84"
    "90f33afb2d10f9980c44c0bfc175d2b6684218f535c92fdd3e18db770a9ccbf91db3c7f0138e6d9e94b9bc8371761e3a"
    "bed5e5e9b260279cfb238b58ae0d6a01da51c74c2a3ecd62c448bd9f20127f7384587287fa971204234e55b1a856c3e5"
    "aaaa620bb799a68fbae08ee132bb61683eba9b0b40dc1e54641cad975b16991cab50af82e3f3985afd19e7427a125f5b"
    "4b9878b12a5d2e01c7eedca3bb41c6fc05dccd818bce379d04b1f2f5d43487d3")


def _dg15(spki: bytes) -> bytes:
    return tlv.encode(0x6F, spki)


def _rsa_spki(n: int, e: int) -> bytes:
    return asn1keys.PublicKeyInfo({
        "algorithm": {"algorithm": "rsa"},
        "public_key": asn1keys.RSAPublicKey({"modulus": n, "public_exponent": e}),
    }).dump()


# ---------------------------------------------------------------- DG15

@pytest.mark.testdata
@pytest.mark.parametrize("rel", ["dg15/AA_RSA1792_DG15.bin", "icao_specimen/DG15.bin"])
def test_parse_real_dg15(rel):
    key = aa.parse_dg15((TESTDATA / rel).read_bytes())
    assert (key.kind, key.bits, key.rsa_e) == ("rsa", 1792, 65537)
    assert key.rsa_n.bit_length() == 1792


@pytest.mark.testdata
@pytest.mark.parametrize("rel", ["bsi_etsi/BSI_TR-03105-5_ReferenceDataSet_DG15.bin",
                                 "bsi_etsi/ETSI_ePassport_Prototype_DG15.bin"])
def test_parse_bsi_etsi_dg15(rel):
    key = aa.parse_dg15((TESTDATA / rel).read_bytes())
    assert (key.kind, key.bits) == ("rsa", 1024)


@pytest.mark.testdata
def test_real_aa_signature_verifies():
    key = aa.parse_dg15((TESTDATA / "dg15/AA_RSA1792_DG15.bin").read_bytes())
    result = run_plain(aa.active_authentication(key, None, rng=scripted_rng(REAL_CHALLENGE)),
                  lambda cmd: ResponseAPDU(REAL_SIGNATURE, 0x9000))
    assert result == aa.AaResult(True, "RSA-1792 ISO9796-2 SHA-256")   # trailer 34CC


@pytest.mark.testdata
def test_real_signature_with_another_challenge_fails():
    key = aa.parse_dg15((TESTDATA / "dg15/AA_RSA1792_DG15.bin").read_bytes())
    result = aa.verify_rsa_9796_2(key, bytes(8), REAL_SIGNATURE)
    assert not result.success and "challenge" in result.error


def test_sixteen_k_rsa_key_refused_fast():
    n = (1 << 16383) | 0xF00D | 1
    data = _dg15(_rsa_spki(n, 65537))
    start = time.perf_counter()
    with pytest.raises(LimitExceeded):
        aa.parse_dg15(data)
    assert time.perf_counter() - start < 0.05


def test_huge_exponent_refused():
    key = rsa.generate_private_key(65537, 1024).public_key().public_numbers()
    with pytest.raises(LimitExceeded):
        aa.parse_dg15(_dg15(_rsa_spki(key.n, (1 << 40) + 1)))


@pytest.mark.testdata
def test_dg15_wrong_tag_and_trailing_bytes():
    good = (TESTDATA / "dg15/AA_RSA1792_DG15.bin").read_bytes()
    with pytest.raises(ParseError):
        aa.parse_dg15(b"\x6E" + good[1:])
    with pytest.raises(ParseError):
        aa.parse_dg15(good + b"\x00")


def test_dg15_with_dh_key_refused():
    spki = asn1keys.PublicKeyInfo({
        "algorithm": {"algorithm": "dh", "parameters": {"p": 23, "g": 5, "q": 11}},
        "public_key": core.Integer(4),
    }).dump()
    with pytest.raises((UnsupportedError, ParseError)):
        aa.parse_dg15(_dg15(spki))


@given(st.binary(max_size=400))
@settings(max_examples=200, deadline=None)
def test_fuzz_parse_dg15(data):
    try:
        aa.parse_dg15(data)
    except (ParseError, UnsupportedError, LimitExceeded):
        pass


@given(st.binary(min_size=1, max_size=400))
@settings(max_examples=100, deadline=None)
def test_fuzz_parse_dg15_wrapped(spki):
    try:
        aa.parse_dg15(_dg15(spki))
    except (ParseError, UnsupportedError, LimitExceeded):
        pass


# ---------------------------------------------------------------- ISO 9796-2

# Message representatives from gmrtd's activeauth tests (challenge 0102030405060708).
F_VECTORS = [
    ("SHA-1", "6A1234567890ABCDEF1234567890ABCDEF11223344e9b287952a913cc5b60ff74ecfc87e40e81563b1BC"),
    ("SHA-224", "6A1234567890ABCDEF1234567890ABCDEF11223344aefc05e88f48eb88d367ba3dacb7d6a8543ec02bd315e47ddbe2045d38CC"),
    ("SHA-256", "6A1234567890ABCDEF1234567890ABCDEF11223344783980d44fd3a80f0e4210eb9c73ea399932062d465438f8e1ff13377de8308934CC"),
    ("SHA-384", "6A1234567890ABCDEF1234567890ABCDEF112233448e0873b0baf595a777b497779981bd94dda3a81fd61cf2d526ab490f2d6"
                "cbcecc6eab5804df4e0a70169d4d0d6c07e7536CC"),
    ("SHA-512", "6A1234567890ABCDEF1234567890ABCDEF11223344968304e09f0c0ec86be4ade4b82d97d04283e3652b61193856c9ede1da"
                "c8962b3da9580fd77e9f9ef18a24c517d8d3b05f4eeb177e990ae1e80895c8bb28f51635CC"),
]


@pytest.mark.parametrize("hash_name,f_hex", F_VECTORS)
def test_decode_9796_2_vectors(hash_name, f_hex):
    m1, digest, got_hash = aa.decode_9796_2(bytes.fromhex(f_hex))
    assert got_hash == hash_name
    assert m1 == bytes.fromhex("1234567890ABCDEF1234567890ABCDEF11223344")
    assert digest == hashlib.new(hash_name.replace("-", "").lower(), m1 + bytes.fromhex("0102030405060708")).digest()


@pytest.mark.parametrize("f_hex", ["", "6B000000", "6A000000", "6A0000CC", "6A3FCC",
                                   "6Ab287952a913cc5b60ff74ecfc87e40e81563b1BC"])
def test_decode_9796_2_rejects(f_hex):
    with pytest.raises(ParseError):
        aa.decode_9796_2(bytes.fromhex(f_hex))


def test_trailer_helpers():
    assert aa.trailer_for_hash("SHA-1") == b"\xbc"
    assert aa.trailer_for_hash("SHA-1", implicit_sha1=False) == b"\x33\xcc"
    assert [aa.trailer_for_hash(h) for h in ("SHA-224", "SHA-256", "SHA-384", "SHA-512")] == [
        b"\x38\xcc", b"\x34\xcc", b"\x36\xcc", b"\x35\xcc"]
    assert aa.hash_for_trailer(b"\x36\xcc") == "SHA-384" and aa.hash_for_trailer(b"\x99\xcc") is None


@pytest.fixture(scope="module")
def rsa2048():
    return rsa.generate_private_key(65537, 2048)


def _independent_9796_2_signature(private_key, challenge: bytes, hash_name: str, trailer: bytes,
                                  header: int = 0x6A) -> bytes:
    """Sign per ISO 9796-2 scheme 1 with raw RSA on cryptography's private numbers."""
    numbers = private_key.private_numbers()
    n, d = numbers.public_numbers.n, numbers.d
    k = (n.bit_length() + 7) // 8
    h = hashlib.new(hash_name.replace("-", "").lower())
    m1 = bytes(range(k - 1 - h.digest_size - len(trailer)))
    h.update(m1 + challenge)
    f = bytes([header]) + m1 + h.digest() + trailer
    return pow(int.from_bytes(f, "big"), d, n).to_bytes(k, "big")


def _key(private_key):
    from docval.sim.aa_chip import build_dg15

    return aa.parse_dg15(build_dg15(private_key))


@pytest.mark.parametrize("hash_name,trailer", [("SHA-1", b"\xbc"), ("SHA-1", b"\x33\xcc"), ("SHA-224", b"\x38\xcc"),
                                               ("SHA-256", b"\x34\xcc"), ("SHA-384", b"\x36\xcc"),
                                               ("SHA-512", b"\x35\xcc")])
def test_rsa_against_independent_signature(rsa2048, hash_name, trailer):
    challenge = bytes.fromhex("0011223344556677")
    sig = _independent_9796_2_signature(rsa2048, challenge, hash_name, trailer)
    result = aa.verify_rsa_9796_2(_key(rsa2048), challenge, sig)
    assert result == aa.AaResult(True, f"RSA-2048 ISO9796-2 {hash_name}")


def test_rsa_min_representation_accepted(rsa2048):
    challenge = bytes(8)
    sig = _independent_9796_2_signature(rsa2048, challenge, "SHA-1", b"\xbc")
    n = rsa2048.public_key().public_numbers().n
    other = (n - int.from_bytes(sig, "big")).to_bytes(256, "big")
    assert aa.verify_rsa_9796_2(_key(rsa2048), challenge, other).success


@pytest.mark.parametrize("trailer,header,why", [(b"\x99\xcc", 0x6A, "trailer"), (None, 0x6A, "recover"),
                                                (b"\xbc", 0x4B, "header")])
def test_rsa_bad_structure(rsa2048, trailer, header, why):
    challenge = bytes(8)
    if trailer is None:
        # Neither J nor n - J may end in the nibble C, else the verifier takes n - J and
        # reports its header or trailer instead (1 key in 16 for a fixed trailer).
        n = rsa2048.public_key().public_numbers().n
        trailer = bytes((next(t for t in range(0xB0, 0xC0) if t & 0x0F != 0x0C and (n - t) & 0x0F != 0x0C),))
    sig = _independent_9796_2_signature(rsa2048, challenge, "SHA-1", trailer, header)
    result = aa.verify_rsa_9796_2(_key(rsa2048), challenge, sig)
    assert not result.success and why in result.error


@pytest.mark.parametrize("mutate", [lambda s: s[:-1], lambda s: b"\x00" + s, lambda s: b"", lambda s: b"\xff" * len(s),
                                    lambda s: bytes(len(s))])
def test_rsa_wrong_length_or_range(rsa2048, mutate):
    challenge = bytes(8)
    sig = _independent_9796_2_signature(rsa2048, challenge, "SHA-256", b"\x34\xcc")
    assert not aa.verify_rsa_9796_2(_key(rsa2048), challenge, mutate(sig)).success


# ---------------------------------------------------------------- ECDSA

@pytest.mark.parametrize("curve,hash_cls", [(cec.SECP256R1(), hashes.SHA256), (cec.BrainpoolP384R1(), hashes.SHA384),
                                            (cec.SECP521R1(), hashes.SHA512)])
def test_ecdsa_plain_and_der_without_aa_info(curve, hash_cls):
    private = cec.generate_private_key(curve)
    challenge = bytes.fromhex("a1a2a3a4a5a6a7a8")
    der = private.sign(challenge, cec.ECDSA(hash_cls()))
    r, s = decode_dss_signature(der)
    size = (curve.key_size + 7) // 8
    key = _key(private)
    plain = aa.verify_ecdsa(key, None, challenge, r.to_bytes(size, "big") + s.to_bytes(size, "big"))
    assert plain.success and plain.algorithm.endswith("plain")
    assert aa.verify_ecdsa(key, None, challenge, der).algorithm.endswith("DER")
    assert not aa.verify_ecdsa(key, None, bytes(8), der).success


def test_ecdsa_hash_from_aa_info():
    private = cec.generate_private_key(cec.SECP256R1())
    challenge = bytes(range(8))
    der = private.sign(challenge, cec.ECDSA(hashes.SHA1()))
    key = _key(private)
    info_sha1 = ActiveAuthenticationInfo(1, "1.2.840.10045.4.1")           # ecdsa-with-SHA1
    info_sha256 = ActiveAuthenticationInfo(1, "1.2.840.10045.4.3.2")
    assert aa.verify_ecdsa(key, info_sha1, challenge, der).algorithm == "ECDSA secp256r1 SHA-1 DER"
    # the info pins SHA-256: a SHA-1 signature does not count, even though it is valid under SHA-1
    assert not aa.verify_ecdsa(key, info_sha256, challenge, der).success
    # without the info every ICAO hash is tried
    assert aa.verify_ecdsa(key, None, challenge, der).success
    with pytest.raises(UnsupportedError):
        aa.verify_ecdsa(key, ActiveAuthenticationInfo(1, "1.2.3.4"), challenge, der)


def test_ecdsa_garbage_signatures():
    private = cec.generate_private_key(cec.SECP256R1())
    key = _key(private)
    for sig in (b"", b"\x00", bytes(64), b"\xff" * 64, bytes(65), b"\x30\x06\x02\x01\x01\x02\x01\x01", b"\x30" * 70):
        assert not aa.verify_ecdsa(key, None, bytes(8), sig).success


# ---------------------------------------------------------------- the flow

def test_command_shape_and_fresh_challenge(rsa2048):
    key = _key(rsa2048)
    seen = []

    def respond(cmd):
        seen.append(cmd)
        return ResponseAPDU(b"", 0x9000)

    result = run_plain(aa.active_authentication(key), respond)
    run_plain(aa.active_authentication(key), respond)
    assert not result.success
    first, second = seen
    assert (first.cla, first.ins, first.p1, first.p2, first.le) == (0x00, 0x88, 0x00, 0x00, 256)   # RSA-2048
    assert len(first.data) == 8 and first.data != second.data


@pytest.mark.testdata
def test_le_choice_by_key_size(rsa2048):
    private = rsa.generate_private_key(65537, 3072)
    cmd = aa.internal_authenticate_command(bytes(8), _key(private))
    assert cmd.le == 65536 and cmd.is_extended
    cmd = aa.internal_authenticate_command(bytes(8), _key(rsa2048))
    assert cmd.le == 256 and not cmd.is_extended
    assert aa.internal_authenticate_command(bytes(8), _key(rsa2048), extended=True).is_extended
    rsa1792 = aa.parse_dg15((TESTDATA / "dg15/AA_RSA1792_DG15.bin").read_bytes())
    assert aa.internal_authenticate_command(bytes(8), rsa1792).le == 224
    p256 = _key(cec.generate_private_key(cec.SECP256R1()))
    assert aa.internal_authenticate_command(bytes(8), p256).le == 73


@pytest.mark.parametrize("sw", [0x6700, 0x6C00])
def test_short_answer_too_long_retries_extended(rsa2048, sw):
    challenge = bytes.fromhex("0102030405060708")
    sig = _independent_9796_2_signature(rsa2048, challenge, "SHA-1", b"\xbc")
    seen = []

    def respond(cmd):
        seen.append(cmd)
        return ResponseAPDU(sig, 0x9000) if cmd.is_extended else ResponseAPDU(b"", sw)

    result = run_plain(aa.active_authentication(_key(rsa2048), rng=scripted_rng(challenge)), respond)
    assert result.success and [c.is_extended for c in seen] == [False, True]
    assert seen[0].data == seen[1].data == challenge


def test_status_error_raises(rsa2048):
    with pytest.raises(AuthenticationError):
        run_plain(aa.active_authentication(_key(rsa2048)), lambda cmd: ResponseAPDU(b"", 0x6982))


def test_replayed_signature_fails(rsa2048):
    """A signature recorded in one session does not pass with the next fresh challenge."""
    key = _key(rsa2048)
    old = _independent_9796_2_signature(rsa2048, bytes.fromhex("0102030405060708"), "SHA-1", b"\xbc")
    result = run_plain(aa.active_authentication(key), lambda cmd: ResponseAPDU(old, 0x9000))
    assert not result.success and "challenge" in result.error


def test_repr_holds_no_key_material(rsa2048):
    key = _key(rsa2048)
    assert str(key.rsa_n)[:20] not in repr(key)
    assert "Aa" in repr(aa.AaResult(True, "x"))


@pytest.mark.testdata
def test_recorded_exchange_under_secure_messaging():
    """gmrtd's recorded AA session: 3DES SM at SSC CC, the chip's protected answer verifies."""
    from docval.emrtd import crypto
    from docval.emrtd.sm import SecureMessaging

    key = aa.parse_dg15((TESTDATA / "dg15/AA_RSA1792_DG15.bin").read_bytes())
    link = Link()
    link.start(SecureMessaging(crypto.TDES, bytes.fromhex("b99d546108eaa251570876b6d3456dce"),
                               bytes.fromhex("e3857ca24946251c151c540e13f2cd51"), 0xCC))
    recorded = bytes.fromhex(
        "8781e901d04ca80f527df94f4a430d3d6e6cb6c2af4c6756c068a93132d147fa27833125304132981b8bd8009448e89f259eec85"
        "52b54285cef9d8f1b7fb31b9f279221c7e925f4951811f3fe2e01d76e68dbc7cde9c873c5f61862f3c5469792a72f92c8943b890"
        "436f5e9feaead9f2a361fcd7a615493d1b3519865f32ee9a125886588eb21fee0e709353d0731139fdc958d6b2127fad6947b438"
        "998b526819803f70f78614cd42f4a6619c6af95dfd2ab09bedf71e707abc39a250aee68006d522ad37d159674984a07d11c00102"
        "2c853aeb7acdb059ede5721a3b9f20441bda7e242ee8df1369d25316990290008e08fd2493147866f0ed9000")
    sent = []

    def transmit(raw):
        sent.append(CommandAPDU.decode(raw))
        return recorded

    result = run(aa.active_authentication(key, rng=scripted_rng(REAL_CHALLENGE)), link, transmit)
    assert result.success and link.sm.ssc == 0xCE
    (cmd,) = sent
    # The recording asked with Le 00; we ask for the 224 bytes a 1792-bit key
    # signs, which under 3DES still fits a short APDU.
    assert not cmd.is_extended and len(cmd.data) == len(bytes.fromhex(
        "871101ed7f8cb47a4eea086324a7f9dd7427809701008e0897f54bae49aa71f8"))


@pytest.mark.testdata
def test_small_key_keeps_short_apdu_under_sm():
    from docval.emrtd import crypto
    from docval.emrtd.sm import SecureMessaging

    key = aa.parse_dg15((TESTDATA / "bsi_etsi/BSI_TR-03105-5_ReferenceDataSet_DG15.bin").read_bytes())
    cmd = aa.internal_authenticate_command(bytes(8), key)
    assert cmd.le == 128
    wrapped = SecureMessaging(crypto.TDES, bytes(16), bytes(16)).wrap(cmd)
    assert not wrapped.is_extended


def test_ecdsa_on_a_curve_cryptography_lacks():
    """brainpoolP224r1: signed here with textbook ECDSA on ecpoint, verified through keys/ecpoint."""
    from docval.emrtd import ec, ecpoint
    from docval.emrtd.keys import CURVE_OIDS

    curve = ec.BY_NAME["brainpoolP224r1"]
    d, k = 0x1234567890ABCDEF1234567890ABCDEF1234567890ABCDEF12345678, 0x0FEDCBA9876543210FEDCBA9876543210FEDCBA987654321
    point = ecpoint.encode_point(curve, ecpoint.multiply_generator(curve, d))
    spki = asn1keys.PublicKeyInfo({
        "algorithm": {"algorithm": "ec", "parameters": asn1keys.ECDomainParameters(
            name="named", value=CURVE_OIDS["brainpoolP224r1"])},
        "public_key": point,
    }).dump()
    key = aa.parse_dg15(_dg15(spki))
    challenge = bytes.fromhex("0102030405060708")
    e = int.from_bytes(hashlib.sha224(challenge).digest(), "big")
    r = ecpoint.multiply_generator(curve, k)[0] % curve.n
    s = pow(k, -1, curve.n) * (e + r * d) % curve.n
    sig = r.to_bytes(28, "big") + s.to_bytes(28, "big")
    assert aa.verify_ecdsa(key, None, challenge, sig) == aa.AaResult(True, "ECDSA brainpoolP224r1 SHA-224 plain")
    assert not aa.verify_ecdsa(key, None, bytes(8), sig).success


_FUZZ_RSA = rsa.generate_private_key(65537, 1024)
_FUZZ_EC = cec.generate_private_key(cec.BrainpoolP256R1())


@given(st.binary(max_size=300), st.booleans())
@settings(max_examples=150, deadline=None)
def test_fuzz_signature_is_only_ever_a_verdict(signature, use_rsa):
    """Whatever the chip answers, verification yields success=False, never an exception."""
    key = _key(_FUZZ_RSA if use_rsa else _FUZZ_EC)
    result = aa.verify_response(key, None, bytes(8), signature)
    assert isinstance(result, aa.AaResult) and not result.success and result.error
