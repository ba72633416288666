"""Symmetric primitives of ICAO 9303-11: key derivation, padding, CBC, MAC.

Everything Secure Messaging, BAC, PACE and Chip Authentication need, on top of
``cryptography`` (OpenSSL).  Block sizes and key lengths come from a
:class:`CipherSpec`, so callers never branch on the cipher themselves.

Functions here take keys and data from our own code, not raw chip bytes: a wrong
key length or a ciphertext that is not a block multiple is a programming error
(``ValueError``).  Callers that handle chip data check lengths first and raise
their own documented error.  Only :func:`unpad` judges untrusted plaintext and
raises :class:`SecureMessagingError`.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes

from docval.emrtd.errors import SecureMessagingError

try:  # cryptography >= 43 moved TripleDES here and deprecates the old name
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES as _TripleDES
except ImportError:  # cryptography 38 (Debian 12)
    _TripleDES = algorithms.TripleDES  # type: ignore[misc,assignment,unused-ignore]


@dataclass(frozen=True)
class CipherSpec:
    name: str          # "3DES" or "AES"
    key_length: int    # bytes
    block_size: int    # bytes


TDES = CipherSpec("3DES", 16, 8)   # two-key 3DES (K1, K2, K1), the only 3DES ICAO uses
AES128 = CipherSpec("AES", 16, 16)
AES192 = CipherSpec("AES", 24, 16)
AES256 = CipherSpec("AES", 32, 16)

KDF_ENC = 1
KDF_MAC = 2
KDF_PI = 3

MAC_LENGTH = 8


def adjust_parity(key: bytes) -> bytes:
    """Set each byte's low bit so the byte has odd parity (DES key convention)."""
    out = bytearray()
    for b in key:
        high = b & 0xFE
        out.append(high | (bin(high).count("1") + 1) % 2)
    return bytes(out)


def kdf(shared_secret: bytes, counter: int, spec: CipherSpec) -> bytes:
    """ICAO 9303-11 §9.7.1: KDF(K, c) = H(K || c) with c a 32-bit big-endian counter.

    3DES and AES-128 use SHA-1; AES-192/256 use SHA-256.  3DES keys get DES
    parity, as the Appendix D example shows (the chip ignores the parity bits,
    but the published keys are parity-adjusted).
    """
    data = bytes(shared_secret) + counter.to_bytes(4, "big")
    if spec.name == "3DES":
        return adjust_parity(hashlib.sha1(data).digest()[:16])
    if spec.key_length == 16:
        return hashlib.sha1(data).digest()[:16]
    return hashlib.sha256(data).digest()[: spec.key_length]


def pad(data: bytes, block_size: int) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 0x80, then zeros to a block boundary."""
    data = bytes(data) + b"\x80"
    return data + b"\x00" * (-len(data) % block_size)


def unpad(data: bytes, block_size: int | None = None) -> bytes:
    """Remove ISO/IEC 9797-1 method 2 padding.

    With ``block_size``, also require a block multiple and at most one block of
    padding.  The message never says which check failed (no padding oracle).
    """
    data = bytes(data)
    stripped = data.rstrip(b"\x00")
    ok = bool(stripped) and stripped[-1] == 0x80
    if block_size is not None:
        ok = ok and len(data) % block_size == 0 and len(data) - len(stripped) < block_size
    if not ok:
        raise SecureMessagingError("invalid padding")
    return stripped[:-1]


def _algorithm(spec: CipherSpec, key: bytes) -> BlockCipherAlgorithm:
    key = bytes(key)
    if len(key) != spec.key_length:
        raise ValueError(f"{spec.name} key must be {spec.key_length} bytes")
    if spec.name == "3DES":
        # Spell out K1 K2 K1: newer cryptography deprecates 16-byte 3DES keys.
        return _TripleDES(key + key[:8])
    if spec.name == "AES":
        return algorithms.AES(key)
    raise ValueError("unknown cipher")


def _check_blocks(spec: CipherSpec, data: bytes) -> None:
    if len(data) % spec.block_size:
        raise ValueError("data is not a multiple of the block size")


def cbc_encrypt(spec: CipherSpec, key: bytes, iv: bytes, data: bytes) -> bytes:
    _check_blocks(spec, data)
    enc = Cipher(_algorithm(spec, key), modes.CBC(bytes(iv))).encryptor()
    return enc.update(bytes(data)) + enc.finalize()


def cbc_decrypt(spec: CipherSpec, key: bytes, iv: bytes, data: bytes) -> bytes:
    _check_blocks(spec, data)
    dec = Cipher(_algorithm(spec, key), modes.CBC(bytes(iv))).decryptor()
    return dec.update(bytes(data)) + dec.finalize()


def ecb_encrypt_block(spec: CipherSpec, key: bytes, block: bytes) -> bytes:
    if len(block) != spec.block_size:
        raise ValueError("not one block")
    enc = Cipher(_algorithm(spec, key), modes.ECB()).encryptor()
    return enc.update(bytes(block)) + enc.finalize()


def ecb_decrypt_block(spec: CipherSpec, key: bytes, block: bytes) -> bytes:
    if len(block) != spec.block_size:
        raise ValueError("not one block")
    dec = Cipher(_algorithm(spec, key), modes.ECB()).decryptor()
    return dec.update(bytes(block)) + dec.finalize()


def _single_des(key8: bytes) -> BlockCipherAlgorithm:
    # A 3DES key K||K||K is single DES; OpenSSL has no separate DES cipher we may use.
    return _TripleDES(key8 * 3)


def _retail_mac(key: bytes, data: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3: single-DES CBC-MAC with K1, final 3DES (K1, K2)."""
    if len(key) != 16:
        raise ValueError("3DES MAC key must be 16 bytes")
    if not data or len(data) % 8:
        raise ValueError("MAC input must be a non-empty multiple of 8 bytes")
    k1, k2 = key[:8], key[8:]
    enc = Cipher(_single_des(k1), modes.CBC(b"\x00" * 8)).encryptor()
    h = (enc.update(data) + enc.finalize())[-8:]
    d = Cipher(_single_des(k2), modes.ECB()).decryptor()
    h = d.update(h) + d.finalize()
    e = Cipher(_single_des(k1), modes.ECB()).encryptor()
    return e.update(h) + e.finalize()


def mac(spec: CipherSpec, key: bytes, data: bytes) -> bytes:
    """The 8-byte MAC of ICAO 9303-11 §9.8; the caller pads where the standard says.

    3DES: retail MAC over data that must already be a block multiple.
    AES: CMAC (which pads internally) truncated to 8 bytes.
    """
    key, data = bytes(key), bytes(data)
    if spec.name == "3DES":
        return _retail_mac(key, data)
    c = cmac.CMAC(_algorithm(spec, key))
    c.update(data)
    return c.finalize()[:MAC_LENGTH]


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(bytes(a), bytes(b))
