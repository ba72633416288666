"""The chip side of Chip Authentication v1, and the DG14 that advertises it.

:class:`CaChip` is a virtual-chip mechanism (:mod:`docval.sim.mechanism`): it
claims MSE:Set KAT (3DES) and MSE:Set AT with an id-CA-* OID followed by
GENERAL AUTHENTICATE (any cipher), computes the shared secret with its private
key and replaces Secure Messaging with the derived keys *after* its answer,
which still goes out under the old keys.  The arithmetic is ``docval.emrtd.ecpoint``
and plain modular exponentiation, so terminal (which uses OpenSSL where it can)
and chip are independent implementations checking each other.

:class:`CaKey` is a private CA key; :func:`build_dg14` writes the DG14 for one
(with explicit EC parameters by default, like most real passports).  A *clone*
profile builds the DG14 from one key and the chip from another.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from asn1crypto import core as asn1
from asn1crypto import keys as asn1keys

from docval.emrtd import dh, ec, ecpoint, publickey, tlv
from docval.emrtd.apdu import (SW_CONDITIONS_NOT_SATISFIED, SW_OK, SW_REFERENCED_DATA_NOT_FOUND,
                               SW_WRONG_DATA, CommandAPDU, ResponseAPDU)
from docval.emrtd.crypto import AES128, AES192, AES256, TDES, CipherSpec
from docval.emrtd.errors import ParseError, TLVError
from docval.emrtd.securityinfo import (ID_CA, ID_PK_DH, ID_PK_ECDH, ActiveAuthenticationInfo,
                                       ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo, SecurityInfo,
                                       TerminalAuthenticationInfo, ca_oid, decode_oid, encode_dg14,
                                       protocol_parts)
from docval.emrtd.sm import SecureMessaging
from docval.sim.mechanism import ChipContext, Mechanism

_SPECS = {"TDES": TDES, "AES128": AES128, "AES192": AES192, "AES256": AES256}
INS_MSE = 0x22
INS_GENERAL_AUTHENTICATE = 0x86


@dataclass(frozen=True, repr=False)
class CaKey:
    """A chip's static CA key pair: EC on a table curve, or DH on an RFC 5114 group."""

    curve: ec.Curve | None = None
    group: dh.DHGroup | None = None
    private: int = field(default=0)

    def __repr__(self) -> str:
        kind = self.curve.name if self.curve else self.group.name if self.group else "no key"
        return f"<CaKey {kind}>"

    @classmethod
    def generate_ec(cls, curve_name: str, rng: Callable[[int], bytes] = os.urandom) -> "CaKey":
        curve = ec.BY_NAME[curve_name]
        return cls(curve=curve, private=ecpoint.random_scalar(curve, rng))

    @classmethod
    def generate_dh(cls, pace_id: int = 1, rng: Callable[[int], bytes] = os.urandom) -> "CaKey":
        group = dh.BY_PACE_ID[pace_id]
        return cls(group=group, private=dh.random_exponent(group, rng))

    @property
    def key_agreement(self) -> str:
        return "ECDH" if self.curve else "DH"

    def public_point(self) -> bytes:
        assert self.curve is not None
        return ecpoint.encode_point(self.curve, ecpoint.multiply_generator(self.curve, self.private))

    def spki(self, *, explicit_parameters: bool = True) -> bytes:
        """SubjectPublicKeyInfo DER: EC (explicit or named parameters) or X9.42 DH with p, g, q."""
        if self.curve is not None:
            c = self.curve
            if explicit_parameters:
                size = c.byte_length
                params = asn1keys.ECDomainParameters(name="specified", value={
                    "version": "ecdpVer1",
                    "field_id": {"field_type": "prime_field", "parameters": c.p},
                    "curve": {"a": c.a.to_bytes(size, "big"), "b": c.b.to_bytes(size, "big")},
                    "base": ecpoint.encode_point(c, ecpoint.generator(c)),
                    "order": c.n,
                    "cofactor": c.h,
                })
            else:
                params = asn1keys.ECDomainParameters(name="named", value=publickey.CURVE_OIDS[c.name])
            der: bytes = asn1keys.PublicKeyInfo({
                "algorithm": {"algorithm": "ec", "parameters": params},
                "public_key": self.public_point(),
            }).dump()
            return der
        g = self.group
        assert g is not None
        dh_der: bytes = asn1keys.PublicKeyInfo({
            "algorithm": {"algorithm": "dh", "parameters": {"p": g.p, "g": g.g, "q": g.q}},
            "public_key": asn1.Integer(dh.public_value(g, self.private)),
        }).dump()
        return dh_der

    def agree(self, peer: bytes) -> bytes:
        """Shared secret with the terminal's ephemeral public key (ParseError when invalid)."""
        if self.curve is not None:
            return ecpoint.ecdh(self.curve, self.private, ecpoint.decode_point(self.curve, peer))
        assert self.group is not None
        return dh.key_agreement(self.group, self.private, dh.decode_value(self.group, peer))


def ca_security_infos(ca_key: CaKey, *, cipher: str = "AES128", key_id: int | None = None,
                      include_ca_info: bool = True, explicit_parameters: bool = True) -> list[SecurityInfo]:
    """The ChipAuthenticationInfo and ChipAuthenticationPublicKeyInfo for a key.

    ``include_ca_info=False`` writes only the public key, like some French
    passports (readers then fall back to 3DES).
    """
    out: list[SecurityInfo] = []
    if include_ca_info:
        out.append(ChipAuthenticationInfo(ca_oid(ca_key.key_agreement, cipher), 1, key_id))
    pk_oid = ID_PK_ECDH if ca_key.curve else ID_PK_DH
    out.append(ChipAuthenticationPublicKeyInfo(pk_oid, ca_key.spki(explicit_parameters=explicit_parameters), key_id))
    return out


def build_dg14(ca_key: CaKey | None = None, *, cipher: str = "AES128", key_id: int | None = None,
               include_ca_info: bool = True, explicit_parameters: bool = True,
               aa_signature_algorithm: str | None = None, terminal_authentication: bool = False,
               extra: Iterable[SecurityInfo] = ()) -> bytes:
    """DG14 (tag 6E) with CA infos for ``ca_key``, an optional ActiveAuthenticationInfo
    (ICAO 9303-11 requires one for ECDSA AA: pass the signature algorithm OID, e.g.
    ecdsa-with-SHA256 1.2.840.10045.4.3.2) and any extra SecurityInfos (PACEInfos)."""
    infos: list[SecurityInfo] = []
    if terminal_authentication:
        infos.append(TerminalAuthenticationInfo(1))
    if ca_key is not None:
        infos += ca_security_infos(ca_key, cipher=cipher, key_id=key_id, include_ca_info=include_ca_info,
                                   explicit_parameters=explicit_parameters)
    if aa_signature_algorithm is not None:
        infos.append(ActiveAuthenticationInfo(1, aa_signature_algorithm))
    infos += list(extra)
    return encode_dg14(infos)


@dataclass
class _Pending:
    oid: str
    key: CaKey


class CaChip(Mechanism):
    """The Chip Authentication mechanism of a virtual chip.

    ``keys`` maps key id (None when the DG14 names none) to the chip's private
    key; ``kat_cipher`` is the cipher MSE:Set KAT implies (3DES, the only one
    ICAO uses KAT with).
    """

    # MSE / GENERAL AUTHENTICATE longer than the phone relays arrive as an ISO 7816-4 chain.
    reassembles_chains = True

    def __init__(self, keys_by_id: Mapping[int | None, CaKey] | CaKey, *, kat_cipher: str = "TDES"):
        self._keys: dict[int | None, CaKey] = \
            dict(keys_by_id) if isinstance(keys_by_id, Mapping) else {None: keys_by_id}
        self._kat_spec = _SPECS[kat_cipher]
        self._pending: _Pending | None = None
        self.completed = 0          # how many times CA switched the keys (for tests)

    def __repr__(self) -> str:
        return f"<CaChip keys={len(self._keys)}>"

    # -- lookup ----------------------------------------------------------------

    def _key(self, key_ref: bytes | None) -> CaKey | None:
        if key_ref is None:
            if None in self._keys:
                return self._keys[None]
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        wanted = int.from_bytes(key_ref, "big")
        return self._keys.get(wanted)

    @staticmethod
    def _dos(data: bytes) -> dict[int, bytes] | None:
        try:
            items = tlv.parse_all(data)
        except TLVError:
            return None
        return {item.tag: item.value for item in items}

    # -- the Mechanism interface ----------------------------------------------

    def claims(self, cmd: CommandAPDU) -> bool:
        if cmd.ins == INS_GENERAL_AUTHENTICATE:
            return True         # the chip routes it here only after this mechanism's MSE
        if cmd.ins != INS_MSE:
            return False
        if (cmd.p1, cmd.p2) == (0x41, 0xA6):
            return True
        if (cmd.p1, cmd.p2) != (0x41, 0xA4):
            return False
        dos = self._dos(cmd.data)
        if not dos or 0x80 not in dos:
            return False
        try:
            return decode_oid(dos[0x80]).startswith(ID_CA + ".")
        except ParseError:
            return False

    def answer(self, chip: ChipContext, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.ins == INS_MSE:
            return self._mse(chip, cmd)
        return self._general_authenticate(chip, cmd)

    def _mse(self, chip: ChipContext, cmd: CommandAPDU) -> ResponseAPDU:
        dos = self._dos(cmd.data)
        if dos is None:
            return ResponseAPDU(b"", SW_WRONG_DATA)
        key = self._key(dos.get(0x84))
        if key is None:
            return ResponseAPDU(b"", SW_REFERENCED_DATA_NOT_FOUND)
        if cmd.p2 == 0xA6:                                   # Set KAT: agree right away
            if 0x91 not in dos:
                return ResponseAPDU(b"", SW_WRONG_DATA)
            return self._finish(chip, key, dos[0x91], self._kat_spec, ResponseAPDU(b"", SW_OK))
        oid = decode_oid(dos[0x80])
        parts = protocol_parts(oid)
        if parts is None or parts.family != "CA" or parts.key_agreement != key.key_agreement:
            return ResponseAPDU(b"", SW_WRONG_DATA)
        self._pending = _Pending(oid, key)
        return ResponseAPDU(b"", SW_OK)

    def _general_authenticate(self, chip: ChipContext, cmd: CommandAPDU) -> ResponseAPDU:
        pending, self._pending = self._pending, None
        if pending is None:
            return ResponseAPDU(b"", SW_CONDITIONS_NOT_SATISFIED)
        try:
            outer = tlv.parse_single(cmd.data, 0x7C)
            peer = outer.require(0x80).value
        except TLVError:
            return ResponseAPDU(b"", SW_WRONG_DATA)
        parts = protocol_parts(pending.oid)
        assert parts is not None
        return self._finish(chip, pending.key, peer, _SPECS[parts.cipher], ResponseAPDU(b"\x7c\x00", SW_OK))

    def _finish(self, chip: ChipContext, key: CaKey, peer: bytes, spec: CipherSpec,
                answer: ResponseAPDU) -> ResponseAPDU:
        try:
            secret = key.agree(peer)
        except ParseError:
            return ResponseAPDU(b"", SW_WRONG_DATA)
        chip.start_sm_after_response(SecureMessaging.from_shared_secret(spec, secret))
        self.completed += 1
        return answer
