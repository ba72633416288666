"""The chip side of Active Authentication (INTERNAL AUTHENTICATE, ICAO 9303-11 §6.1).

An :class:`AaChip` holds an RSA or EC private key and answers INTERNAL
AUTHENTICATE the way real chips do: RSA with ISO/IEC 9796-2 scheme 1 (partial
recovery, SHA-1 with the implicit trailer BC or another hash with its xxCC
trailer), ECDSA over the challenge in plain r||s or DER.  It is a virtual-chip
mechanism (:mod:`docval.sim.mechanism`) that needs access control first; a
profile that wants a *clone* gives it a key that does not match DG15.

:func:`build_dg15` makes the DG15 a profile publishes for a key.
"""
from __future__ import annotations

import os
from typing import Callable, Union

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from docval.emrtd import hashes, tlv
from docval.emrtd.aa import CHALLENGE_LENGTH, DG15_TAG, trailer_for_hash
from docval.emrtd.apdu import SW_OK, SW_WRONG_LENGTH, CommandAPDU, ResponseAPDU
from docval.sim.mechanism import ChipContext, Mechanism

PrivateKey = Union[rsa.RSAPrivateKey, cec.EllipticCurvePrivateKey]
INS_INTERNAL_AUTHENTICATE = 0x88
SW_INCORRECT_P1P2 = 0x6A86


def build_dg15(private_key: PrivateKey) -> bytes:
    """DG15: tag 6F around the SubjectPublicKeyInfo of ``private_key``'s public key."""
    spki = private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    return tlv.encode(DG15_TAG, spki)


class AaChip(Mechanism):
    """Answers INTERNAL AUTHENTICATE with an RSA or EC private key (a ``cryptography`` key).

    RSA: ``hash_name`` picks the 9796-2 hash (SHA-1 uses trailer BC unless
    ``implicit_trailer`` is False); ``min_representation`` sends min(s, n - s),
    which ISO/IEC 9796-2 allows.  EC: ``signature_format`` is "plain" or "der".
    ``last_challenge`` is the challenge of the last signature (for tests).
    """

    requires_access = True

    def __init__(self, private_key: PrivateKey, *, hash_name: str = "SHA-1", signature_format: str = "plain",
                 implicit_trailer: bool = True, min_representation: bool = False):
        if not isinstance(private_key, (rsa.RSAPrivateKey, cec.EllipticCurvePrivateKey)):
            raise TypeError("AaChip needs an RSA or EC private key")
        if signature_format not in ("plain", "der"):
            raise ValueError("signature_format is 'plain' or 'der'")
        self._key = private_key
        self.hash_name = hash_name
        self.signature_format = signature_format
        self.implicit_trailer = implicit_trailer
        self.min_representation = min_representation
        self.last_challenge: bytes | None = None

    def __repr__(self) -> str:
        kind = "RSA" if isinstance(self._key, rsa.RSAPrivateKey) else "EC"
        return f"<AaChip {kind} {self.hash_name}>"

    def claims(self, cmd: CommandAPDU) -> bool:
        return cmd.ins == INS_INTERNAL_AUTHENTICATE

    def answer(self, chip: ChipContext, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.p1 != 0 or cmd.p2 != 0:
            return ResponseAPDU(b"", SW_INCORRECT_P1P2)
        if len(cmd.data) != CHALLENGE_LENGTH:
            return ResponseAPDU(b"", SW_WRONG_LENGTH)
        self.last_challenge = bytes(cmd.data)
        return ResponseAPDU(self.sign(cmd.data, chip.rng), SW_OK)

    def sign(self, challenge: bytes, rng: Callable[[int], bytes] | None = None) -> bytes:
        """The signature over ``challenge`` (RSA draws its message part M1 from ``rng``)."""
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._sign_rsa(self._key, challenge, rng or os.urandom)
        return self._sign_ecdsa(self._key, challenge)

    @property
    def private_key(self) -> PrivateKey:
        """The key this chip signs with (hostile test chips forge signatures with it)."""
        return self._key

    def _sign_rsa(self, key: rsa.RSAPrivateKey, challenge: bytes, rng: Callable[[int], bytes]) -> bytes:
        numbers = key.private_numbers()
        n, d = numbers.public_numbers.n, numbers.d
        k = (n.bit_length() + 7) // 8
        f_len = (n.bit_length() - 1 + 7) // 8
        trailer = trailer_for_hash(self.hash_name, implicit_sha1=self.implicit_trailer)
        h_len = hashes.digest_size(self.hash_name)
        m1 = rng(f_len - 1 - h_len - len(trailer))
        f = b"\x6a" + m1 + hashes.digest(self.hash_name, m1 + bytes(challenge)) + trailer
        s = pow(int.from_bytes(f, "big"), d, n)
        if self.min_representation:
            s = min(s, n - s)
        return s.to_bytes(k, "big")

    def _sign_ecdsa(self, key: cec.EllipticCurvePrivateKey, challenge: bytes) -> bytes:
        der = key.sign(bytes(challenge), cec.ECDSA(hashes.crypto_hash(self.hash_name)))
        if self.signature_format == "der":
            return der
        r, s = decode_dss_signature(der)
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
