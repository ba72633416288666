"""Chip Authentication version 1 (ICAO 9303-11 §6.2, BSI TR-03110-1 §3.4 / -3 B.1).

The terminal sends an ephemeral public key on the domain parameters of the
chip's static CA key (from DG14, whose hash the SOD covers); both sides compute
the shared secret, and Secure Messaging restarts with keys derived from it.
Only a chip that holds the private key can answer under the new keys, so the
proof is the *next* protected command succeeding: this flow returns the new
:class:`SecureMessaging` and the reader installs it and does a protected read.

Commands (sent under the current, PACE or BAC, Secure Messaging):

- 3DES: ``MSE:Set KAT`` 00 22 41 A6 with DO'91' ephemeral public key and DO'84'
  key id - the chip switches keys after answering;
- AES: ``MSE:Set AT`` 00 22 41 A4 with DO'80' protocol OID and DO'84' key id,
  then ``GENERAL AUTHENTICATE`` 00 86 00 00 with '7C' { '80' ephemeral key }.

Documents whose DG14 carries a CA public key but no ChipAuthenticationInfo
(some French passports) get id-CA-ECDH/DH-3DES-CBC-CBC, as readers in the
field do (:func:`choose_ca`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from docval.emrtd import crypto, dh, ecpoint, publickey, tlv
from docval.emrtd.apdu import SW_OK, SW_WRONG_LENGTH, CommandAPDU, ResponseAPDU
from docval.emrtd.errors import AuthenticationError, ParseError, TLVError, UnsupportedError
from docval.emrtd.files import SHORT_SM_MAX_LE
from docval.emrtd.flow import Flow, send_chained
from docval.emrtd.securityinfo import (ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo,
                                       ID_PK_DH, ID_PK_ECDH, SecurityInfos, ca_oid, encode_oid,
                                       protocol_parts)
from docval.emrtd.sm import SecureMessaging

MAX_DH_BITS = publickey.MAX_DH_BITS     # 4096: a hostile DG14 must not make us exponentiate more

_CIPHERS = {"TDES": crypto.TDES, "AES128": crypto.AES128, "AES192": crypto.AES192, "AES256": crypto.AES256}


@dataclass(frozen=True)
class CaResult:
    """What Chip Authentication produced; ``sm`` is to be installed on the link (SSC 0)."""

    sm: SecureMessaging = field(repr=False)
    protocol: str                  # e.g. "CA-ECDH-AES-CBC-CMAC-128"
    oid: str
    key_id: int | None
    key_agreement: str             # "ECDH" | "DH"
    domain: str                    # curve name or DH group ("brainpoolP256r1", "MODP-2048-224", "DH-2048")
    inferred: bool = False         # True when DG14 had no ChipAuthenticationInfo (3DES fallback)


# ---------------------------------------------------------------- choosing the key

def _matches(info: ChipAuthenticationInfo, key: ChipAuthenticationPublicKeyInfo) -> bool:
    want = ID_PK_DH if info.parts.key_agreement == "DH" else ID_PK_ECDH
    return key.oid == want


def choose_ca(infos: SecurityInfos) -> tuple[ChipAuthenticationInfo | None, ChipAuthenticationPublicKeyInfo] | None:
    """The ChipAuthenticationInfo and public key to use, or None when there is no CA key.

    With key ids, the key is the one whose id the info names; an info without
    key id goes with the only key of its kind.  With keys but no info, the
    first key is used with the 3DES fallback (``ca_info`` None).  The chosen
    key is loaded and checked here (:func:`load_ca_key`), so an unusable key
    raises ParseError / UnsupportedError / LimitExceeded before any command.
    """
    choice = _choose(infos)
    if choice is not None:
        load_ca_key(choice[1])
    return choice


def _choose(infos: SecurityInfos) -> tuple[ChipAuthenticationInfo | None, ChipAuthenticationPublicKeyInfo] | None:
    keys_ = infos.ca_public_keys
    if not keys_:
        return None
    for info in infos.ca_infos:
        candidates = [k for k in keys_ if _matches(info, k)]
        if info.key_id is not None:
            by_id = [k for k in candidates if k.key_id == info.key_id]
            if by_id:
                return info, by_id[0]
            if len(candidates) == 1 and candidates[0].key_id is None:
                return info, candidates[0]      # key id only on one side: one key, no ambiguity
            continue
        if len(candidates) == 1:
            return info, candidates[0]
        if candidates:
            # Several keys but the info names none: TR-03110 says the key id is then
            # mandatory; take the first rather than refuse what a reader in the field accepts.
            return info, candidates[0]
    if infos.ca_infos:
        raise ParseError("no CA public key matches the ChipAuthenticationInfo")
    return None, keys_[0]


# ---------------------------------------------------------------- key agreement

class _Ephemeral:
    """The terminal's ephemeral key pair on the chip key's domain and the shared secret."""

    def __init__(self, chip_key: publickey.PublicKey, rng: Callable[[int], bytes]):
        self.chip_key = chip_key
        if chip_key.kind == "ec":
            curve = chip_key.curve
            assert curve is not None and chip_key.point is not None
            self.domain = curve.name
            self._peer = ecpoint.decode_point(curve, chip_key.point)
            self._d = ecpoint.random_scalar(curve, rng)
            cc = curve.crypto_curve()
            self._crypto: cec.EllipticCurvePrivateKey | None = None
            if cc is not None:
                # OpenSSL for speed; ecpoint only where cryptography lacks the curve
                self._crypto = cec.derive_private_key(self._d, cc)
                self.public = self._crypto.public_key().public_bytes(
                    Encoding.X962, PublicFormat.UncompressedPoint)
            else:
                self.public = ecpoint.encode_point(curve, ecpoint.multiply_generator(curve, self._d))
        elif chip_key.kind == "dh":
            p, g, y = chip_key.dh_p, chip_key.dh_g, chip_key.dh_y
            assert p is not None and g is not None and y is not None
            if p.bit_length() > MAX_DH_BITS:
                raise ParseError("DH group too large")
            group = _dh_group(chip_key)
            q = _dh_order(chip_key)
            self.domain = group.name if group is not None else f"DH-{p.bit_length()}"
            self._p, self._y = p, y
            self._x = dh.exponent_for(p, q, rng)
            self.public = dh.public_bytes(p, g, self._x)
        else:
            raise UnsupportedError(f"Chip Authentication with a {chip_key.kind} key")

    def shared_secret(self) -> bytes:
        key = self.chip_key
        if key.kind == "ec":
            assert key.curve is not None
            if self._crypto is not None and key.crypto is not None:
                return self._crypto.exchange(cec.ECDH(), key.crypto)
            return ecpoint.ecdh(key.curve, self._d, self._peer)
        return dh.agree(self._p, self._x, self._y)


def load_ca_key(key_info: ChipAuthenticationPublicKeyInfo) -> publickey.PublicKey:
    """The CA public key, checked to be of the kind its SecurityInfo says (ECDH or DH).

    publickey.load_public_key caps sizes and accepts only standardized curves and
    explicit parameters equal to one: an off-curve point, an unknown curve or a
    DH modulus above 4096 bits raise ParseError / UnsupportedError / LimitExceeded.
    """
    key = publickey.load_public_key(key_info.spki)
    want = "dh" if key_info.oid == ID_PK_DH else "ec"
    if key.kind != want:
        raise ParseError(f"{key_info.key_agreement} Chip Authentication key is a {key.kind} key")
    if key.kind == "dh":
        p, q, y = key.dh_p, _dh_order(key), key.dh_y
        assert p is not None and y is not None
        if q is not None and q.bit_length() < 160:
            # A signed DG14 would not carry one, but a tiny order would make our exponent guessable.
            raise ParseError("CA DH subgroup order too small")
        if not 1 < y < p - 1 or (q is not None and pow(y, q, p) != 1):
            raise ParseError("CA DH public key is not in the group")
    return key


def _dh_group(key: publickey.PublicKey) -> dh.DHGroup | None:
    return next((grp for grp in dh.GROUPS if grp.p == key.dh_p and grp.g == key.dh_g), None)


def _dh_order(key: publickey.PublicKey) -> int | None:
    group = _dh_group(key)
    return group.q if group is not None else key.dh_q


def _key_id_bytes(key_id: int) -> bytes:
    return key_id.to_bytes(max(1, (key_id.bit_length() + 7) // 8), "big")


# ---------------------------------------------------------------- the protocol

def chip_authentication(ca_info: ChipAuthenticationInfo | None, ca_key: ChipAuthenticationPublicKeyInfo, *,
                        rng: Callable[[int], bytes] = os.urandom,
                        tdes_with_general_authenticate: bool = False,
                        extended_length: bool = True,
                        max_command_data: int | None = None) -> Flow[CaResult]:
    """Run Chip Authentication v1; returns the new Secure Messaging session to install.

    ``tdes_with_general_authenticate`` sends MSE:Set AT + GENERAL AUTHENTICATE
    for 3DES too (which some chips, e.g. Malaysian passports, accept); the
    default is MSE:Set KAT as ICAO 9303-11 specifies.  ``extended_length``
    False (the phone cannot relay extended APDUs) asks GENERAL AUTHENTICATE
    for a short Le at once instead of after a 6700.  ``max_command_data`` is
    the most plain data one command may carry (``Link.max_command_data``): a
    longer MSE or GENERAL AUTHENTICATE (a 2048-bit DH key is 256 bytes) goes as
    an ISO/IEC 7816-4 command chain, which TR-03110 allows for both.
    """
    inferred = ca_info is None
    if ca_info is None:
        oid = ca_oid("DH" if ca_key.oid == ID_PK_DH else "ECDH", "TDES")
        key_id = ca_key.key_id
    else:
        oid = ca_info.oid
        key_id = ca_info.key_id
    parts = protocol_parts(oid)
    if parts is None or parts.family != "CA":
        raise UnsupportedError("not a Chip Authentication protocol")
    if (parts.key_agreement == "DH") != (ca_key.oid == ID_PK_DH):
        raise ParseError("ChipAuthenticationInfo and public key disagree on DH/ECDH")
    spec = _CIPHERS[parts.cipher]
    chip_key = load_ca_key(ca_key)
    eph = _Ephemeral(chip_key, rng)
    key_ref = tlv.encode(0x84, _key_id_bytes(key_id)) if key_id is not None else b""

    if parts.cipher == "TDES" and not tdes_with_general_authenticate:
        resp = yield from send_chained(
            CommandAPDU(0x00, 0x22, 0x41, 0xA6, tlv.encode(0x91, eph.public) + key_ref),
            max_command_data, "MSE:Set KAT")
        _check(resp, "MSE:Set KAT")
    else:
        oid_body = encode_oid(oid)[2:]
        ga_data = tlv.encode(0x7C, tlv.encode(0x80, eph.public))
        # Le 00 as ICAO and every recorded session have it; should the protected
        # form of that be refused as too long (6700: a chip without extended
        # length), set the environment again and ask for at most what a short
        # protected answer holds - the '7C 00' expected fits any Le.
        for le in (256, SHORT_SM_MAX_LE) if extended_length else (SHORT_SM_MAX_LE,):
            resp = yield from send_chained(
                CommandAPDU(0x00, 0x22, 0x41, 0xA4, tlv.encode(0x80, oid_body) + key_ref),
                max_command_data, "MSE:Set AT")
            _check(resp, "MSE:Set AT")
            resp = yield from send_chained(CommandAPDU(0x00, 0x86, 0x00, 0x00, ga_data, le=le),
                                           max_command_data, "GENERAL AUTHENTICATE")
            if resp.sw != SW_WRONG_LENGTH:
                break
        _check(resp, "GENERAL AUTHENTICATE")
        _check_ga_response(resp.data)
    sm = SecureMessaging.from_shared_secret(spec, eph.shared_secret())
    return CaResult(sm, parts.name, oid, key_id, parts.key_agreement, eph.domain, inferred)


def _check(resp: object, what: str) -> None:
    if not isinstance(resp, ResponseAPDU):
        raise TypeError("a single command gets a single response")
    if resp.sw != SW_OK:
        raise AuthenticationError(f"Chip Authentication: {what} refused with status {resp.sw:04X}")


def _check_ga_response(data: bytes) -> None:
    """CA v1 answers GENERAL AUTHENTICATE with an empty '7C' (some chips with nothing)."""
    if not data:
        return
    try:
        item = tlv.parse_single(data, 0x7C)
    except TLVError:
        # Garbage where the chip should confirm: it did not authenticate.
        raise AuthenticationError("Chip Authentication: malformed GENERAL AUTHENTICATE response") from None
    if item.value:
        # Nonce and token (tags 81/82) belong to CA version 2, which needs
        # Terminal Authentication first; a v1 chip never sends them.
        raise UnsupportedError("Chip Authentication version 2 response")

