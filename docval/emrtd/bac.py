"""Basic Access Control (ICAO 9303-11 §4.3), terminal side as a sans-IO flow.

The terminal asks for RND.IC (GET CHALLENGE), answers with
``E_IFD || M_IFD`` where ``E_IFD = 3DES-CBC(K_enc, RND.IFD || RND.IC || K.IFD)``
(EXTERNAL AUTHENTICATE, historically called MUTUAL AUTHENTICATE), and checks the
chip's ``E_IC || M_IC``: MAC first, then that the decrypted block echoes both
nonces.  Session keys come from ``K.IFD xor K.IC``; the SSC is the low halves of
RND.IC and RND.IFD.

The chip side lives in ``docval.sim``; the pure helpers it needs
(:func:`bac_chip_response`, :func:`bac_session`) are here so both sides share
one implementation of the cryptogram.
"""
from __future__ import annotations

import os
from typing import Callable

from docval.emrtd.apdu import CommandAPDU, SW_OK
from docval.emrtd.crypto import (KDF_ENC, KDF_MAC, MAC_LENGTH, TDES, cbc_decrypt, cbc_encrypt,
                                 constant_time_equal, kdf, mac, pad)
from docval.emrtd.errors import AccessControlError, StatusError
from docval.emrtd.flow import Flow, exchange
from docval.emrtd.mrz import MrzKey
from docval.emrtd.sm import SecureMessaging

NONCE_LENGTH = 8
KEY_MATERIAL_LENGTH = 16
_PLAIN_LENGTH = 2 * NONCE_LENGTH + KEY_MATERIAL_LENGTH           # 32
AUTH_DATA_LENGTH = _PLAIN_LENGTH + MAC_LENGTH                   # 40
_ZERO_IV = b"\x00" * 8

INS_GET_CHALLENGE = 0x84
INS_EXTERNAL_AUTHENTICATE = 0x82


def derive_bac_keys(key: MrzKey) -> tuple[bytes, bytes]:
    """(K_enc, K_mac) of the document from its MRZ (9303-11 §9.7.2)."""
    seed = key.key_seed
    return kdf(seed, KDF_ENC, TDES), kdf(seed, KDF_MAC, TDES)


def encrypt_and_mac(k_enc: bytes, k_mac: bytes, plain: bytes) -> bytes:
    """``E || M`` with E = 3DES-CBC(K_enc, zero IV, plain) and M = MAC(K_mac, pad(E))."""
    e = cbc_encrypt(TDES, k_enc, _ZERO_IV, plain)
    return e + mac(TDES, k_mac, pad(e, TDES.block_size))


def verify_and_decrypt(k_enc: bytes, k_mac: bytes, data: bytes) -> bytes:
    """Check ``E || M`` of the 40 bytes of a BAC authentication and return the plain 32."""
    if len(data) != AUTH_DATA_LENGTH:
        raise AccessControlError(f"BAC authentication data of {len(data)} bytes, expected 40")
    e, m = data[:_PLAIN_LENGTH], data[_PLAIN_LENGTH:]
    if not constant_time_equal(m, mac(TDES, k_mac, pad(e, TDES.block_size))):
        raise AccessControlError("BAC authentication MAC does not verify")
    return cbc_decrypt(TDES, k_enc, _ZERO_IV, e)


def bac_session(k_ifd: bytes, k_ic: bytes, rnd_ic: bytes, rnd_ifd: bytes) -> SecureMessaging:
    """The Secure Messaging session both sides derive after BAC (9303-11 §9.7.4)."""
    seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
    ssc = int.from_bytes(rnd_ic[4:8] + rnd_ifd[4:8], "big")
    return SecureMessaging(TDES, kdf(seed, KDF_ENC, TDES), kdf(seed, KDF_MAC, TDES), ssc)


def bac_chip_response(k_enc: bytes, k_mac: bytes, rnd_ic: bytes, cmd_data: bytes,
                      k_ic: bytes) -> tuple[bytes, SecureMessaging]:
    """Chip side of EXTERNAL AUTHENTICATE: verify the terminal's cryptogram.

    Returns the response data ``E_IC || M_IC`` and the chip's session; raises
    :class:`AccessControlError` when the MAC or the RND.IC echo is wrong (the
    chip then answers 6300).
    """
    plain = verify_and_decrypt(k_enc, k_mac, cmd_data)
    rnd_ifd, echoed_ic, k_ifd = plain[:8], plain[8:16], plain[16:]
    if not constant_time_equal(echoed_ic, rnd_ic):
        raise AccessControlError("BAC: RND.IC not echoed")
    response = encrypt_and_mac(k_enc, k_mac, rnd_ic + rnd_ifd + k_ic)
    return response, bac_session(k_ifd, k_ic, rnd_ic, rnd_ifd)


def _random(rng: Callable[[int], bytes], n: int) -> bytes:
    value = bytes(rng(n))
    if len(value) != n:
        raise ValueError("random source returned the wrong number of bytes")
    return value


def bac(key: MrzKey, rng: Callable[[int], bytes] = os.urandom) -> Flow[SecureMessaging]:
    """Run BAC; the result is the Secure Messaging session to start on the link.

    ``rng`` is asked for RND.IFD (8 bytes) and then K.IFD (16 bytes).
    """
    k_enc, k_mac = derive_bac_keys(key)
    resp = yield from exchange(CommandAPDU(0x00, INS_GET_CHALLENGE, 0x00, 0x00, le=NONCE_LENGTH))
    if resp.sw != SW_OK:
        raise StatusError(resp.sw, "GET CHALLENGE")
    if len(resp.data) != NONCE_LENGTH:
        raise AccessControlError(f"GET CHALLENGE returned {len(resp.data)} bytes, expected 8")
    rnd_ic = resp.data
    rnd_ifd = _random(rng, NONCE_LENGTH)
    k_ifd = _random(rng, KEY_MATERIAL_LENGTH)
    data = encrypt_and_mac(k_enc, k_mac, rnd_ifd + rnd_ic + k_ifd)
    resp = yield from exchange(CommandAPDU(0x00, INS_EXTERNAL_AUTHENTICATE, 0x00, 0x00, data,
                                           le=AUTH_DATA_LENGTH))
    if resp.sw != SW_OK:
        raise AccessControlError(f"BAC rejected by the chip (status {resp.sw:04X})")
    plain = verify_and_decrypt(k_enc, k_mac, resp.data)
    # Check both nonces: the chip must answer this session, not replay an old one.
    if not (constant_time_equal(plain[:8], rnd_ic) and constant_time_equal(plain[8:16], rnd_ifd)):
        raise AccessControlError("BAC: the chip did not echo the nonces")
    return bac_session(k_ifd, plain[16:], rnd_ic, rnd_ifd)
