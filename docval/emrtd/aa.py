"""Active Authentication (ICAO 9303-11 §6.1): the chip signs our random challenge.

The key comes from DG15 (``0x6F`` wrapping a SubjectPublicKeyInfo).  RSA keys
sign with ISO/IEC 9796-2 digital signature scheme 1 with partial message
recovery: the chip picks M1, signs F = 6A || M1 || H(M1 || challenge) || trailer
and we recover M1 and H from the signature.  ECDSA keys sign the challenge
itself; the signature comes as plain r||s (BSI TR-03111) or, from some chips,
as an X9.62 DER SEQUENCE.

A wrong signature is not an exception: it is the answer "this chip did not
prove it holds the DG15 key" (``AaResult(success=False, error=...)``).  Only a
chip refusing the command raises :class:`AuthenticationError`.
"""
from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from typing import Callable

from docval.emrtd import hashes, publickey, signatures, tlv
from docval.emrtd.apdu import SW_OK, SW_WRONG_LENGTH, CommandAPDU
from docval.emrtd.errors import AuthenticationError, ParseError, TLVError, UnsupportedError
from docval.emrtd.flow import Flow, exchange
from docval.emrtd.securityinfo import ActiveAuthenticationInfo

DG15_TAG = 0x6F
CHALLENGE_LENGTH = 8
MAX_AA_RSA_BITS = 4096
MAX_DG15_BYTES = 65535

# ISO/IEC 9796-2 trailers: 0xBC means SHA-1 implicitly; xxCC names the hash by
# its ISO/IEC 10118 identifier.
TRAILER_IMPLICIT = 0xBC
HASH_BY_TRAILER = {0x33: "SHA-1", 0x38: "SHA-224", 0x34: "SHA-256", 0x36: "SHA-384", 0x35: "SHA-512"}
TRAILER_BY_HASH = {v: k for k, v in HASH_BY_TRAILER.items()}
ICAO_AA_HASHES = ("SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512")
_HEADER_PARTIAL_RECOVERY = 0x6A


@dataclass(frozen=True)
class AaResult:
    success: bool
    algorithm: str            # e.g. "RSA-1792 ISO9796-2 SHA-1", "ECDSA brainpoolP256r1 SHA-256 plain"
    error: str | None = None


def parse_dg15(data: bytes) -> publickey.PublicKey:
    """The Active Authentication public key of DG15.

    Raises ParseError (malformed), UnsupportedError (unknown algorithm or curve,
    a DH key) or LimitExceeded (RSA above 4096 bits or e above 2^32, checked on
    the encoded lengths before any number is built).
    """
    if len(data) > MAX_DG15_BYTES:
        raise ParseError("DG15 larger than an eMRTD file can be")
    try:
        spki = tlv.parse_single(bytes(data), DG15_TAG, max_length=MAX_DG15_BYTES).value
    except TLVError as exc:
        raise ParseError(f"DG15: {exc}") from None
    key = publickey.load_public_key(spki, max_rsa_bits=MAX_AA_RSA_BITS)
    if key.kind not in ("rsa", "ec"):
        raise UnsupportedError(f"DG15 holds a {key.kind} key, not a signature key")
    return key


def internal_authenticate_command(challenge: bytes, key: publickey.PublicKey, *, extended: bool = False) -> CommandAPDU:
    """INTERNAL AUTHENTICATE 00 88 00 00 with the challenge.

    Le is the longest signature the key can produce (the modulus length for
    RSA, the DER form for ECDSA), not 256: Secure Messaging then knows exactly
    how large the protected answer can be and keeps the APDU short whenever it
    fits (RSA-1024, ECDSA; RSA-1792 under 3DES), which chips without extended
    length need.  Signatures above 256 bytes, or ``extended``, use extended length.
    """
    expected = signature_length(key)
    le = 65536 if extended or expected > 256 else expected
    return CommandAPDU(0x00, 0x88, 0x00, 0x00, bytes(challenge), le=le, extended=le > 256)


def signature_length(key: publickey.PublicKey) -> int:
    if key.kind == "rsa":
        return (key.bits + 7) // 8
    assert key.curve is not None
    return 2 * ((key.curve.n.bit_length() + 7) // 8) + 9     # DER form is the longest


def active_authentication(key: publickey.PublicKey, aa_info: ActiveAuthenticationInfo | None = None, *,
                          rng: Callable[[int], bytes] = os.urandom) -> Flow[AaResult]:
    """Run Active Authentication with a fresh challenge; returns whether the chip proved its key."""
    if key.kind not in ("rsa", "ec"):
        raise UnsupportedError(f"Active Authentication with a {key.kind} key")
    challenge = bytes(rng(CHALLENGE_LENGTH))
    if len(challenge) != CHALLENGE_LENGTH:
        raise ValueError("the random source returned the wrong number of bytes")
    cmd = internal_authenticate_command(challenge, key)
    resp = yield from exchange(cmd)
    if not cmd.is_extended and (resp.sw == SW_WRONG_LENGTH or resp.sw >> 8 == 0x6C):
        # The protected signature did not fit a short response: ask again with
        # extended length.  Same challenge: the chip has not released a signature.
        resp = yield from exchange(internal_authenticate_command(challenge, key, extended=True))
    if resp.sw != SW_OK:
        raise AuthenticationError(f"INTERNAL AUTHENTICATE refused with status {resp.sw:04X}")
    return verify_response(key, aa_info, challenge, resp.data)


def verify_response(key: publickey.PublicKey, aa_info: ActiveAuthenticationInfo | None,
                    challenge: bytes, signature: bytes) -> AaResult:
    if key.kind == "rsa":
        return verify_rsa_9796_2(key, challenge, signature)
    return verify_ecdsa(key, aa_info, challenge, signature)


# ---------------------------------------------------------------- RSA, ISO/IEC 9796-2 scheme 1

def recover_9796_2(key: publickey.PublicKey, signature: bytes) -> bytes | None:
    """The message representative F of a signature, or None when none fits.

    ISO/IEC 9796-2 lets the signer send min(J, n - J); F is whichever of
    s^e mod n and n - (s^e mod n) ends in the nibble C (0xBC / 0xCC trailers).
    F has the bit length of n minus one, so when that is a whole number of
    bytes less than n's the leading zero byte is not part of it.
    """
    n, e = key.rsa_n, key.rsa_e
    assert n is not None and e is not None
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return None
    s = int.from_bytes(signature, "big")
    if not 0 < s < n:
        return None
    j = pow(s, e, n)
    if j & 0x0F != 0x0C:
        j = n - j
        if j & 0x0F != 0x0C:
            return None
    f_len = (n.bit_length() - 1 + 7) // 8
    if j.bit_length() > f_len * 8:
        return None
    return j.to_bytes(f_len, "big")


def decode_9796_2(f: bytes) -> tuple[bytes, bytes, str]:
    """Split a recovered message representative into (M1, digest, hash name).

    Raises ParseError for a header other than 6A (partial recovery, no
    padding: the only form ICAO 9303 uses), an unknown trailer or a
    representative too short for its hash.
    """
    if len(f) < 2:
        raise ParseError("ISO 9796-2 message representative too short")
    if f[-1] == TRAILER_IMPLICIT:
        hash_name, trailer_len = "SHA-1", 1
    elif f[-1] == 0xCC and f[-2] in HASH_BY_TRAILER:
        hash_name, trailer_len = HASH_BY_TRAILER[f[-2]], 2
    else:
        raise ParseError("unknown ISO 9796-2 trailer")
    if f[0] != _HEADER_PARTIAL_RECOVERY:
        raise ParseError("ISO 9796-2 header is not partial recovery (6A)")
    h_len = hashes.digest_size(hash_name)
    if len(f) < 1 + h_len + trailer_len + 1:
        raise ParseError("ISO 9796-2 message representative too short for its hash")
    end = len(f) - trailer_len
    return f[1:end - h_len], f[end - h_len:end], hash_name


def verify_rsa_9796_2(key: publickey.PublicKey, challenge: bytes, signature: bytes) -> AaResult:
    algorithm = f"RSA-{key.bits} ISO9796-2"
    f = recover_9796_2(key, signature)
    if f is None:
        return AaResult(False, algorithm, "signature does not recover an ISO 9796-2 message")
    try:
        m1, digest, hash_name = decode_9796_2(f)
    except ParseError as exc:
        return AaResult(False, algorithm, str(exc))
    algorithm = f"{algorithm} {hash_name}"
    expected = hashes.digest(hash_name, m1 + bytes(challenge))
    if not hmac.compare_digest(digest, expected):
        return AaResult(False, algorithm, "signature does not cover the challenge")
    return AaResult(True, algorithm)


# ---------------------------------------------------------------- ECDSA

def _hash_candidates(key: publickey.PublicKey, aa_info: ActiveAuthenticationInfo | None) -> list[str]:
    if aa_info is not None:
        scheme = signatures.SIGNATURE_OIDS.get(aa_info.signature_algorithm)
        if scheme is None or scheme[1] is None or scheme[0] not in (signatures.ECDSA, signatures.ECDSA_PLAIN):
            raise UnsupportedError("ActiveAuthenticationInfo names an unsupported signature algorithm")
        return [scheme[1]]
    # Without ActiveAuthenticationInfo the hash is unknown: start with the one
    # matching the key size (TR-03111 practice), then the other ICAO-allowed ones.
    assert key.curve is not None
    bits = key.curve.n.bit_length()
    by_size = ("SHA-1" if bits <= 160 else "SHA-224" if bits <= 224 else "SHA-256" if bits <= 256
               else "SHA-384" if bits <= 384 else "SHA-512")
    return [by_size] + [h for h in ICAO_AA_HASHES if h != by_size]


def verify_ecdsa(key: publickey.PublicKey, aa_info: ActiveAuthenticationInfo | None,
                 challenge: bytes, signature: bytes) -> AaResult:
    assert key.curve is not None
    candidates = _hash_candidates(key, aa_info)
    base = f"ECDSA {key.curve.name}"
    if not signature:
        return AaResult(False, base, "empty signature")
    for hash_name in candidates:
        for scheme, form in ((signatures.ECDSA_PLAIN, "plain"), (signatures.ECDSA, "DER")):
            if signatures.verify_signature(key, scheme, hash_name, signature, challenge):
                return AaResult(True, f"{base} {hash_name} {form}")
    algorithm = f"{base} {candidates[0]}" if len(candidates) == 1 else base
    return AaResult(False, algorithm, "signature does not verify over the challenge")


def hash_for_trailer(trailer: bytes) -> str | None:
    """The hash a 9796-2 trailer names (for diagnostics and the virtual chip)."""
    if trailer == bytes((TRAILER_IMPLICIT,)):
        return "SHA-1"
    if len(trailer) == 2 and trailer[1] == 0xCC:
        return HASH_BY_TRAILER.get(trailer[0])
    return None


def trailer_for_hash(hash_name: str, *, implicit_sha1: bool = True) -> bytes:
    if hash_name == "SHA-1" and implicit_sha1:
        return bytes((TRAILER_IMPLICIT,))
    try:
        return bytes((TRAILER_BY_HASH[hash_name], 0xCC))
    except KeyError:
        raise UnsupportedError(f"no ISO 9796-2 trailer for {hash_name}") from None

