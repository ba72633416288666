"""PACE, the terminal side (ICAO 9303-11 §4.4, BSI TR-03110-2/-3).

Every standardized variant: Generic, Integrated and Chip Authentication Mapping;
ECDH on the eleven standardized curves (parameter ids 8-18) and DH on the three
RFC 5114 groups (ids 0-2); 3DES and AES-128/192/256.  The protocol is a sans-IO
flow (docval.emrtd.flow): :func:`pace` yields MSE:Set AT and the four chained
GENERAL AUTHENTICATE commands and returns a :class:`PaceResult` whose Secure
Messaging session the caller starts on its Link.

The cryptographic steps are separate functions (nonce decryption, the mappings,
the pseudo-random function of IM, key derivation, authentication tokens, CAM
data) so that tests hold each against the ICAO worked examples (Appendices G, H,
I) and the chip side (docval.sim.pace_chip) reuses them.  The domains and the
mappings are :mod:`docval.emrtd.pace_mapping`, the choice of protocol
:mod:`docval.emrtd.pace_suite`; this module exports their public names too.

Failure taxonomy:
- the chip rejects our token, or sends anything malformed or cryptographically
  invalid (no '7C', nonce of the wrong length, a point off the curve, a DH value
  outside the subgroup, its key equal to ours, a token that does not verify)
  -> :class:`AccessControlError`: PACE failed, most likely a wrong CAN/MRZ;
- non-standardized or explicit domain parameters, unknown OIDs or parameter ids
  -> :class:`UnsupportedError`, before any command is sent;
- MSE:Set AT refused -> :class:`StatusError`, so the reader may try BAC.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import NamedTuple, Optional, Protocol, Union

from docval.emrtd import crypto, ec, ecfast, ecpoint, tlv
from docval.emrtd.apdu import SW_AUTH_METHOD_BLOCKED, SW_OK, CommandAPDU, ResponseAPDU
from docval.emrtd.crypto import CipherSpec
from docval.emrtd.errors import AccessControlError, EmrtdError, ParseError, StatusError, TLVError, UnsupportedError
from docval.emrtd.flow import Flow, exchange, exchange_all
from docval.emrtd.mrz import CanKey, MrzKey
from docval.emrtd.pace_mapping import E, Group, Rng
from docval.emrtd.publickey import load_public_key
from docval.emrtd.securityinfo import PACEInfo, encode_oid
from docval.emrtd.sm import SecureMessaging

# The domains, mappings and protocol choice moved out of this module; callers keep
# importing them from here (docval.sim.pace_chip, the tests).
from docval.emrtd.pace_mapping import (
    DhDomain as DhDomain, Domain as Domain, EcDomain as EcDomain, decrypt_cam_data as decrypt_cam_data,
    domain_for as domain_for, encrypt_cam_data as encrypt_cam_data, im_pseudo_random as im_pseudo_random,
    point_encode_fg as point_encode_fg,
)
from docval.emrtd.pace_suite import (
    CIPHER_SPECS as CIPHER_SPECS, PaceSuite as PaceSuite, choose_pace_info as choose_pace_info,
    nonce_length as nonce_length, suite_for as suite_for,
)

PASSWORD_MRZ = 0x01
PASSWORD_CAN = 0x02

# A GM nonce is "a multiple of the block size" chosen by the chip; real chips
# use one or two blocks.  Four AES blocks is a generous bound for hostile input.
MAX_NONCE_BYTES = 64


# ----------------------------------------------------------------------------
# Cryptographic steps (9303-11 §4.4.3)
# ----------------------------------------------------------------------------

def password_key(password: bytes, spec: CipherSpec) -> bytes:
    """K_pi = KDF_pi(pi) (9303-11 §9.7.3)."""
    return crypto.kdf(password, crypto.KDF_PI, spec)


def encrypt_nonce(spec: CipherSpec, k_pi: bytes, s: bytes) -> bytes:
    return crypto.cbc_encrypt(spec, k_pi, b"\x00" * spec.block_size, s)


def decrypt_nonce(spec: CipherSpec, k_pi: bytes, z: bytes) -> bytes:
    return crypto.cbc_decrypt(spec, k_pi, b"\x00" * spec.block_size, z)


def session_keys(spec: CipherSpec, shared_secret: bytes) -> tuple[bytes, bytes]:
    """(KS_enc, KS_mac) = KDF(K, 1), KDF(K, 2) (9303-11 §9.7.1)."""
    return (crypto.kdf(shared_secret, crypto.KDF_ENC, spec),
            crypto.kdf(shared_secret, crypto.KDF_MAC, spec))


def token_input(oid: str, public_key_tag: int, public_key: bytes) -> bytes:
    """The public key data object '7F49' a token is computed over (9303-11 §4.4.3.4).

    It holds the protocol OID and the ephemeral public key only (tag '86' for
    an EC point, '84' for a DH value), never the domain parameters.
    """
    return tlv.encode(0x7F49, encode_oid(oid) + tlv.encode(public_key_tag, public_key))


def auth_token(spec: CipherSpec, ks_mac: bytes, oid: str, public_key_tag: int,
               public_key: bytes) -> bytes:
    """T = MAC(KS_mac, PK): AES-CMAC/8, or 3DES retail MAC with padding method 2."""
    data = token_input(oid, public_key_tag, public_key)
    if spec.name == "3DES":
        data = crypto.pad(data, spec.block_size)
    return crypto.mac(spec, ks_mac, data)


# ----------------------------------------------------------------------------
# The terminal flow
# ----------------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class PaceResult:
    sm: SecureMessaging              # ssc = 0
    oid: str
    protocol: str                    # e.g. "PACE-ECDH-GM-AES-CBC-CMAC-128"
    mapping: str                     # "GM" | "IM" | "CAM"
    curve_or_group: str              # e.g. "brainpoolP256r1", "MODP-1024-160"
    cipher: CipherSpec
    chip_public_key: bytes           # PK_DH,IC, the chip's ephemeral key
    cam_data: Optional[bytes]        # CA_IC, decrypted (CAM only)
    parameter_id: int = -1
    chip_mapping_public_key: Optional[bytes] = None   # PK_Map,IC (GM/CAM), what CAM verifies

    def __repr__(self) -> str:
        return (f"PaceResult({self.protocol}, {self.curve_or_group}, "
                f"cam_data={'present' if self.cam_data is not None else 'absent'})")


def _password(password: Union[MrzKey, CanKey]) -> tuple[bytes, int]:
    ref = PASSWORD_CAN if isinstance(password, CanKey) else PASSWORD_MRZ
    return password.pace_password, ref


def mse_set_at(oid: str, password_ref: int, parameter_id: Optional[int]) -> CommandAPDU:
    """MSE:Set AT for PACE (9303-11 §4.4.4.1); the OID is sent without its 06 tag."""
    body = tlv.encode(0x80, encode_oid(oid)[2:]) + tlv.encode(0x83, bytes([password_ref]))
    if parameter_id is not None:
        body += tlv.encode(0x84, bytes([parameter_id]))
    return CommandAPDU(0x00, 0x22, 0xC1, 0xA4, body)


def general_authenticate(data_objects: bytes, last: bool) -> CommandAPDU:
    """GENERAL AUTHENTICATE with dynamic authentication data '7C', chained but for the last.

    2048-bit DH values do not fit a short APDU either way; then the command is
    extended and so is Le (the answer carries a value as large as ours).
    """
    data = tlv.encode(0x7C, data_objects)
    le = 65536 if len(data) > 255 else 256
    return CommandAPDU(0x00 if last else 0x10, 0x86, 0x00, 0x00, data, le=le)


def _failed(message: str) -> AccessControlError:
    return AccessControlError(f"PACE failed: {message}")


def _dynamic_data(resp: ResponseAPDU, step: str) -> dict[int, bytes]:
    """The data objects inside the chip's '7C'; duplicates and junk are refused."""
    if resp.sw != SW_OK:
        raise _failed(f"{step}: chip answered {resp.sw:04X}")
    try:
        outer = tlv.parse_single(resp.data, 0x7C, max_length=4096)
        objects: dict[int, bytes] = {}
        for item in tlv.parse_all(outer.value, max_length=4096):
            if item.tag in objects:
                raise _failed(f"{step}: duplicate data object {item.tag:X}")
            objects[item.tag] = item.value
    except TLVError:
        raise _failed(f"{step}: malformed dynamic authentication data") from None
    return objects


def _require(objects: dict[int, bytes], tag: int, step: str) -> bytes:
    if tag not in objects:
        raise _failed(f"{step}: data object {tag:X} missing")
    return objects[tag]


class _Agreement(NamedTuple):
    shared_secret: bytes
    our_pk: bytes                    # PK_DH,IFD as sent
    chip_pk: bytes                   # PK_DH,IC as received
    chip_map_pk: bytes | None        # PK_Map,IC (GM/CAM)


def _map_and_agree(domain: Group[E], suite: PaceSuite, s: bytes, rng: Rng) -> Flow[_Agreement]:
    """Steps 2 and 3 of 9303-11 §4.4.3: map nonce ``s`` to a generator, then an
    ephemeral key agreement over it.  ParseError for a malformed chip value."""
    spec = suite.cipher
    chip_map_pk = None
    if suite.mapping == "IM":
        t = rng(spec.key_length)
        resp = yield from exchange(general_authenticate(tlv.encode(0x81, t), last=False))
        # '82' is empty for IM; chips variously send 7C 02 82 00, 7C 00 or nothing.
        if resp.sw != SW_OK:
            raise _failed(f"map nonce: chip answered {resp.sw:04X}")
        if resp.data:
            objects = _dynamic_data(resp, "map nonce")
            if objects.get(0x82, b""):
                raise _failed("map nonce: unexpected mapping data for integrated mapping")
        mapped_g = domain.im_map(im_pseudo_random(spec, s, t, domain.prime))
    else:
        map_private, map_public = domain.keypair(rng, domain.generator)
        objects = _dynamic_data(
            (yield from exchange(general_authenticate(tlv.encode(0x81, domain.encode(map_public)), last=False))),
            "map nonce")
        chip_map_pk = _require(objects, 0x82, "map nonce")
        chip_map_public = domain.decode(chip_map_pk)
        h = domain.shared_element(map_private, chip_map_public)
        mapped_g = domain.gm_map(int.from_bytes(s, "big"), h)

    private, public = domain.keypair(rng, mapped_g)
    our_pk = domain.encode(public)
    objects = _dynamic_data(
        (yield from exchange(general_authenticate(tlv.encode(0x83, our_pk), last=False))), "key agreement")
    chip_pk = _require(objects, 0x84, "key agreement")
    chip_public = domain.decode(chip_pk)
    if chip_public == public:
        raise _failed("the chip's ephemeral key equals ours")
    return _Agreement(domain.shared_secret(private, chip_public), our_pk, chip_pk, chip_map_pk)


def pace(password: Union[MrzKey, CanKey], info: PACEInfo, *, rng: Rng = os.urandom,
         send_parameter_id: bool = True, pipeline: int = 1) -> Flow[PaceResult]:
    """Run PACE with the password (MRZ or CAN) over the protocol of ``info``.

    ``rng`` supplies every random value (the terminal's private keys and, for
    IM, the nonce t) so that worked examples reproduce exactly.  With
    ``pipeline`` >= 2 (the phone relays commands in bursts) MSE:Set AT and the
    first GENERAL AUTHENTICATE, which depends on nothing, go out together; the
    MSE answer is still checked first, and a GA answer after a refused MSE is
    never looked at.
    """
    if getattr(info, "version", 2) != 2:
        raise UnsupportedError("only PACE version 2 is supported")
    suite = suite_for(info.oid, info.parameter_id)
    spec, domain, oid = suite.cipher, suite.domain, suite.oid
    secret, ref = _password(password)

    mse = mse_set_at(oid, ref, suite.parameter_id if send_parameter_id else None)
    nonce_resp: ResponseAPDU | None = None
    if pipeline >= 2:
        resp, nonce_resp = yield from exchange_all((mse, general_authenticate(b"", last=False)))
    else:
        resp = yield from exchange(mse)
    if resp.sw == SW_AUTH_METHOD_BLOCKED or resp.sw == 0x63C0:
        raise AccessControlError("PACE failed: the password is blocked")
    # 63Cx (x > 0) is a warning carrying the retry counter: the password is set.
    if resp.sw != SW_OK and resp.sw & 0xFFF0 != 0x63C0:
        raise StatusError(resp.sw, "PACE MSE:Set AT")

    try:
        # Step 1: the encrypted nonce.
        if nonce_resp is None:
            nonce_resp = yield from exchange(general_authenticate(b"", last=False))
        objects = _dynamic_data(nonce_resp, "encrypted nonce")
        z = _require(objects, 0x80, "encrypted nonce")
        if suite.mapping == "IM":
            good_length = len(z) == nonce_length(suite)
        else:
            good_length = 0 < len(z) <= MAX_NONCE_BYTES and len(z) % spec.block_size == 0
        if not good_length:
            raise _failed("encrypted nonce of wrong length")
        s = decrypt_nonce(spec, password_key(secret, spec), z)

        # Steps 2 and 3: map the nonce, agree on keys over the mapped generator.
        # mypy binds a Group's element type per branch, not across the union.
        if isinstance(domain, EcDomain):
            agreed = yield from _map_and_agree(domain, suite, s, rng)
        else:
            agreed = yield from _map_and_agree(domain, suite, s, rng)
        chip_pk, our_pk = agreed.chip_pk, agreed.our_pk
        ks_enc, ks_mac = session_keys(spec, agreed.shared_secret)

        # Step 4: mutual authentication.
        tag = domain.public_key_tag
        t_ifd = auth_token(spec, ks_mac, oid, tag, chip_pk)
        resp = yield from exchange(general_authenticate(tlv.encode(0x85, t_ifd), last=True))
        if resp.sw != SW_OK:
            raise AccessControlError(
                f"PACE failed: the chip refused the authentication token ({resp.sw:04X}); "
                "wrong CAN or MRZ data?")
        objects = _dynamic_data(resp, "mutual authentication")
        t_ic = _require(objects, 0x86, "mutual authentication")
        if not crypto.constant_time_equal(t_ic, auth_token(spec, ks_mac, oid, tag, our_pk)):
            raise _failed("the chip's authentication token does not verify")

        cam_data: bytes | None = None
        if suite.mapping == "CAM":
            cam_data = decrypt_cam_data(spec, ks_enc, _require(objects, 0x8A, "mutual authentication"))
            if len(cam_data) > (domain.order.bit_length() + 7) // 8 or not cam_data:
                raise _failed("chip authentication data of wrong length")
    except ParseError as exc:
        raise _failed(str(exc)) from None

    return PaceResult(
        sm=SecureMessaging(spec, ks_enc, ks_mac, ssc=0),
        oid=oid,
        protocol=suite.protocol,
        mapping=suite.mapping,
        curve_or_group=domain.name,
        cipher=spec,
        chip_public_key=chip_pk,
        cam_data=cam_data,
        parameter_id=suite.parameter_id,
        chip_mapping_public_key=agreed.chip_map_pk,
    )


class CaKeySource(Protocol):
    """A static CA key as EF.CardSecurity carries it: a ChipAuthenticationPublicKeyInfo
    (docval.emrtd.securityinfo) or a loaded :class:`docval.emrtd.publickey.PublicKey`."""

    @property
    def spki(self) -> bytes: ...


def verify_cam(result: PaceResult, ca_public_key: CaKeySource | bytes | bytearray) -> bool:
    """PACE-CAM chip authentication (9303-11 §4.4.3.5.2): PK_Map,IC == CA_IC * PK_IC.

    ``ca_public_key`` is the static key from EF.CardSecurity (its
    SubjectPublicKeyInfo, see :class:`CaKeySource`) or the uncompressed point.  The
    result proves the chip genuine only once Passive Authentication has validated
    EF.CardSecurity.  Any mismatch or malformed input gives False (a document
    with several CA keys is checked key by key).
    """
    if result.mapping != "CAM" or result.cam_data is None or result.chip_mapping_public_key is None:
        return False
    curve = ec.BY_NAME.get(result.curve_or_group)
    if curve is None:
        return False
    if isinstance(ca_public_key, (bytes, bytearray)):
        point_bytes = bytes(ca_public_key)
    else:
        try:
            key = load_public_key(bytes(ca_public_key.spki))
        except EmrtdError:
            return False
        if key.curve is None or key.curve.name != curve.name or key.point is None:
            return False
        point_bytes = key.point
    try:
        static = ecpoint.decode_point(curve, point_bytes)
        chip_map = ecpoint.decode_point(curve, result.chip_mapping_public_key)
    except ParseError:
        return False
    ca_ic = int.from_bytes(result.cam_data, "big")
    if not 0 < ca_ic < curve.n:
        return False
    return ecfast.multiply(curve, ca_ic, static) == chip_map
