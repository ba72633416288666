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
I) and the chip side (docval.sim.pace_chip) reuses them.

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
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Union

from docval.emrtd import crypto, dh, ec, ecfast, ecpoint, tlv
from docval.emrtd.apdu import CommandAPDU, ResponseAPDU, SW_OK, SW_AUTH_METHOD_BLOCKED
from docval.emrtd.crypto import CipherSpec
from docval.emrtd.errors import (
    AccessControlError, EmrtdError, ParseError, SecureMessagingError, StatusError,
    TLVError, UnsupportedError,
)
from docval.emrtd.flow import Flow
from docval.emrtd.mrz import CanKey, MrzKey
from docval.emrtd.publickey import load_public_key
from docval.emrtd.securityinfo import PACEInfo, ProtocolParts, encode_oid, protocol_parts
from docval.emrtd.sm import SecureMessaging

Rng = Callable[[int], bytes]

PASSWORD_MRZ = 0x01
PASSWORD_CAN = 0x02

CIPHER_SPECS = {"TDES": crypto.TDES, "AES128": crypto.AES128,
                "AES192": crypto.AES192, "AES256": crypto.AES256}

# ICAO 9303-11 §4.4.3.3.2, constants of the pseudo-random number mapping.
_IM_C0_128 = bytes.fromhex("a668892a7c41e3ca739f40b057d85904")
_IM_C1_128 = bytes.fromhex("a4e136ac725f738b01c1f60217c188ad")
_IM_C0_256 = bytes.fromhex("d463d65234124ef7897054986dca0a174e28df758cbaa03f240616414d5a1676")
_IM_C1_256 = bytes.fromhex("54bd7255f0aaf831bec3423fcf39d69b6cbf066677d0faae5aadd99df8e53517")

# A GM nonce is "a multiple of the block size" chosen by the chip; real chips
# use one or two blocks.  Four AES blocks is a generous bound for hostile input.
MAX_NONCE_BYTES = 64


# ----------------------------------------------------------------------------
# Domains: one interface over EC curves and DH groups
# ----------------------------------------------------------------------------

class EcDomain:
    """A standardized curve; group elements are affine points, generators too."""

    key_agreement = "ECDH"
    public_key_tag = 0x86      # public key data object (9303-11 §9.4.5)

    def __init__(self, curve: ec.Curve):
        self.curve = curve
        self.name = curve.name
        self.generator = ecpoint.generator(curve)
        self.order = curve.n

    def random_private(self, rng: Rng) -> int:
        return ecpoint.random_scalar(self.curve, rng)

    def keypair(self, rng: Rng, generator: tuple[int, int]) -> tuple[int, tuple[int, int]]:
        private = self.random_private(rng)
        return private, self.public(private, generator)

    def public(self, private: int, generator: tuple[int, int]) -> tuple[int, int]:
        point = ecfast.multiply(self.curve, private, generator)
        if point is None:            # impossible for 1 <= private < n; kept as a guard
            raise ParseError("public key is the point at infinity")
        return point

    def encode(self, element: tuple[int, int]) -> bytes:
        return ecpoint.encode_point(self.curve, element)

    def decode(self, data: bytes) -> tuple[int, int]:
        return ecpoint.decode_point(self.curve, data)

    def shared_element(self, private: int, peer: tuple[int, int]) -> tuple[int, int]:
        """ECKA without the final x-coordinate extraction (the GM mapping needs H)."""
        point = ecfast.multiply(self.curve, private, peer)
        if point is None:
            raise ParseError("key agreement produced the point at infinity")
        return point

    def shared_secret(self, private: int, peer: tuple[int, int]) -> bytes:
        x = ecfast.shared_x(self.curve, private, peer)
        if x is None:
            raise ParseError("key agreement produced the point at infinity")
        return ecpoint.fe2os(self.curve, x)

    def gm_map(self, s: int, h: tuple[int, int]) -> tuple[int, int]:
        """Generic Mapping: G^ = s*G + H (9303-11 §4.4.3.3.1)."""
        mapped = ecpoint.add(self.curve, ecfast.multiply(self.curve, s, self.generator), h)
        if mapped is None:
            raise ParseError("mapped generator is the point at infinity")
        return mapped

    def im_map(self, value: int) -> tuple[int, int]:
        return point_encode_fg(self.curve, value)

    @property
    def field_bits(self) -> int:
        return self.curve.p.bit_length()

    @property
    def prime(self) -> int:
        return self.curve.p


class DhDomain:
    """A standardized MODP group; group elements and generators are integers."""

    key_agreement = "DH"
    public_key_tag = 0x84

    def __init__(self, group: dh.DHGroup):
        self.group = group
        self.name = group.name
        self.generator = group.g
        self.order = group.q

    def random_private(self, rng: Rng) -> int:
        return dh.random_exponent(self.group, rng)

    def keypair(self, rng: Rng, generator: int) -> tuple[int, int]:
        """A key pair whose public value has no leading zero byte.

        Implementations disagree on whether a DH value is sent (and MACed in
        the token) at p's length or at minimal length (JMRTD: minimal).  A
        value with a non-zero top byte is the same either way, so we only use
        such keys; the 1-in-256 others are simply redrawn.
        """
        for _ in range(64):
            private = self.random_private(rng)
            public = self.public(private, generator)
            if public >> (8 * (self.group.byte_length - 1)):
                return private, public
        raise RuntimeError("random source keeps producing short DH values")

    def public(self, private: int, generator: int) -> int:
        return dh.public_value(self.group, private, generator)

    def encode(self, element: int) -> bytes:
        return dh.encode_value(self.group, element)

    def decode(self, data: bytes) -> int:
        return dh.decode_value(self.group, data)

    def shared_element(self, private: int, peer: int) -> int:
        return dh.shared_value(self.group.p, private, peer)

    def shared_secret(self, private: int, peer: int) -> bytes:
        return dh.key_agreement(self.group, private, peer)

    def gm_map(self, s: int, h: int) -> int:
        """Generic Mapping: g^ = g^s * h mod p."""
        p = self.group.p
        return dh.check_value(self.group, pow(self.group.g, s, p) * h % p)

    def im_map(self, value: int) -> int:
        """Integrated Mapping: g^ = x^((p-1)/q) mod p, which must not be 1."""
        mapped = pow(value, self.group.cofactor, self.group.p)
        if mapped == 1:
            raise ParseError("integrated mapping produced the identity")
        return dh.check_value(self.group, mapped)

    @property
    def field_bits(self) -> int:
        return self.group.p.bit_length()

    @property
    def prime(self) -> int:
        return self.group.p


Domain = Union[EcDomain, DhDomain]


def domain_for(key_agreement: str, parameter_id: Optional[int]) -> Domain:
    """The standardized domain for a parameter id; anything else is refused."""
    if parameter_id is None:
        raise UnsupportedError("PACE without a standardized domain parameter id is not supported")
    if key_agreement == "ECDH":
        curve = ec.curve_by_pace_id(parameter_id)
        if curve is None:
            raise UnsupportedError(f"PACE ECDH parameter id {parameter_id} is not a standardized curve")
        return EcDomain(curve)
    group = dh.group_by_pace_id(parameter_id)
    if group is None:
        raise UnsupportedError(f"PACE DH parameter id {parameter_id} is not a standardized group")
    return DhDomain(group)


@dataclass(frozen=True)
class PaceSuite:
    """Everything a PACEInfo determines: protocol, cipher and domain."""

    oid: str
    parts: ProtocolParts
    cipher: CipherSpec
    domain: Domain = field(compare=False)
    parameter_id: int

    @property
    def mapping(self) -> str:
        return self.parts.mapping or ""

    @property
    def protocol(self) -> str:
        return self.parts.name


def suite_for(oid: str, parameter_id: Optional[int]) -> PaceSuite:
    parts = protocol_parts(oid)
    if parts is None or parts.family != "PACE":
        raise UnsupportedError("not a known PACE protocol identifier")
    domain = domain_for(parts.key_agreement, parameter_id)
    if (parts.mapping == "IM" and isinstance(domain, EcDomain)
            and domain.curve.p % 4 != 3):
        # The point encoding of Appendix B / [BCIMRT2010] needs p = 3 mod 4;
        # of the standardized curves only NIST P-224 fails that.
        raise UnsupportedError(f"PACE-IM is not defined on {domain.name}")
    assert parameter_id is not None
    return PaceSuite(oid, parts, CIPHER_SPECS[parts.cipher], domain, parameter_id)


# ----------------------------------------------------------------------------
# Cryptographic steps (9303-11 §4.4.3)
# ----------------------------------------------------------------------------

def password_key(password: bytes, spec: CipherSpec) -> bytes:
    """K_pi = KDF_pi(pi) (9303-11 §9.7.3)."""
    return crypto.kdf(password, crypto.KDF_PI, spec)


def nonce_length(suite: PaceSuite) -> int:
    """The IM nonce length l: the smallest block multiple >= the key length k.

    For 3DES k counts as 128 bits (9303-11 §4.4.3.3.2 note), so l is 16 bytes.
    """
    k = suite.cipher.key_length
    b = suite.cipher.block_size
    return -(-k // b) * b


def encrypt_nonce(spec: CipherSpec, k_pi: bytes, s: bytes) -> bytes:
    return crypto.cbc_encrypt(spec, k_pi, b"\x00" * spec.block_size, s)


def decrypt_nonce(spec: CipherSpec, k_pi: bytes, z: bytes) -> bytes:
    return crypto.cbc_decrypt(spec, k_pi, b"\x00" * spec.block_size, z)


def im_pseudo_random(spec: CipherSpec, s: bytes, t: bytes, prime: int) -> int:
    """R_p(s, t) of the Integrated Mapping (9303-11 §4.4.3.3.2, Figure 2).

    k0 = E(t, s); then k_i = E(k_{i-1}, c0) and x_i = E(k_{i-1}, c1), each key
    truncated to the cipher's key length (only AES-192 truncates), until
    n*l >= log2(p) + 64; the result is int(x_1 || ... || x_n) mod p.
    """
    l = len(s)
    if l == 16:
        c0, c1 = _IM_C0_128, _IM_C1_128
    elif l == 32:
        c0, c1 = _IM_C0_256, _IM_C1_256
    else:
        raise ParseError("integrated mapping nonce of unexpected length")
    zero_iv = b"\x00" * spec.block_size
    n = -(-(prime.bit_length() + 64) // (8 * l))
    key = crypto.cbc_encrypt(spec, t, zero_iv, s)
    out = bytearray()
    for _ in range(n):
        k = key[: spec.key_length]
        out += crypto.cbc_encrypt(spec, k, zero_iv, c1)
        key = crypto.cbc_encrypt(spec, k, zero_iv, c0)
    return int.from_bytes(bytes(out), "big") % prime


def point_encode_fg(curve: ec.Curve, t: int) -> tuple[int, int]:
    """f_G of the ECDH Integrated Mapping (9303-11 Appendix B.2, [BCIMRT2010]).

    Maps a field element onto the curve in constant structure; needs
    p = 3 mod 4 (checked by :func:`suite_for`) and, with cofactor 1 for every
    standardized curve, the result is directly in the prime-order group.
    """
    p, a, b = curve.p, curve.a, curve.b
    alpha = -t * t % p
    denom = a * (alpha + alpha * alpha) % p
    if denom == 0:
        raise ParseError("integrated mapping input maps to no point")
    x2 = -b * (1 + alpha + alpha * alpha) * pow(denom, p - 2, p) % p
    x3 = alpha * x2 % p
    h2 = (x2 * x2 * x2 + a * x2 + b) % p
    u = pow(t, 3, p) * h2 % p
    big_a = pow(h2, p - 1 - (p + 1) // 4, p)
    if big_a * big_a * h2 % p == 1:
        point = (x2, big_a * h2 % p)
    else:
        point = (x3, big_a * u % p)
    if curve.h != 1:
        mapped = ecpoint.multiply(curve, curve.h, point)
        if mapped is None:
            raise ParseError("integrated mapping produced the point at infinity")
        point = mapped
    return point


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


def _cam_iv(spec: CipherSpec, ks_enc: bytes) -> bytes:
    # 9303-11 §4.4.3.5.4: IV = E(KS_enc, -1), -1 being the all-ones block.
    return crypto.ecb_encrypt_block(spec, ks_enc, b"\xff" * spec.block_size)


def encrypt_cam_data(spec: CipherSpec, ks_enc: bytes, ca_ic: bytes) -> bytes:
    """A_IC = E(KS_enc, CA_IC) with padding method 2 (chip side)."""
    return crypto.cbc_encrypt(spec, ks_enc, _cam_iv(spec, ks_enc), crypto.pad(ca_ic, spec.block_size))


def decrypt_cam_data(spec: CipherSpec, ks_enc: bytes, a_ic: bytes) -> bytes:
    """CA_IC from A_IC; ParseError for anything malformed."""
    if not a_ic or len(a_ic) % spec.block_size or len(a_ic) > 128:
        raise ParseError("encrypted chip authentication data of bad length")
    plain = crypto.cbc_decrypt(spec, ks_enc, _cam_iv(spec, ks_enc), a_ic)
    try:
        return crypto.unpad(plain, spec.block_size)
    except SecureMessagingError:
        raise ParseError("encrypted chip authentication data badly padded") from None


# ----------------------------------------------------------------------------
# The terminal flow
# ----------------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class PaceResult:
    sm: object                       # docval.emrtd.sm.SecureMessaging, ssc = 0
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
    nonce_resp = None
    if pipeline >= 2:
        resp, nonce_resp = yield (mse, general_authenticate(b"", last=False))
    else:
        resp = yield mse
    if resp.sw == SW_AUTH_METHOD_BLOCKED or resp.sw == 0x63C0:
        raise AccessControlError("PACE failed: the password is blocked")
    # 63Cx (x > 0) is a warning carrying the retry counter: the password is set.
    if resp.sw != SW_OK and resp.sw & 0xFFF0 != 0x63C0:
        raise StatusError(resp.sw, "PACE MSE:Set AT")

    try:
        # Step 1: the encrypted nonce.
        if nonce_resp is None:
            nonce_resp = yield general_authenticate(b"", last=False)
        objects = _dynamic_data(nonce_resp, "encrypted nonce")
        z = _require(objects, 0x80, "encrypted nonce")
        if suite.mapping == "IM":
            good_length = len(z) == nonce_length(suite)
        else:
            good_length = 0 < len(z) <= MAX_NONCE_BYTES and len(z) % spec.block_size == 0
        if not good_length:
            raise _failed("encrypted nonce of wrong length")
        s = decrypt_nonce(spec, password_key(secret, spec), z)

        # Step 2: map the nonce.
        chip_map_pk = None
        if suite.mapping == "IM":
            t = rng(spec.key_length)
            resp = yield general_authenticate(tlv.encode(0x81, t), last=False)
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
                (yield general_authenticate(tlv.encode(0x81, domain.encode(map_public)), last=False)),
                "map nonce")
            chip_map_pk = _require(objects, 0x82, "map nonce")
            chip_map_public = domain.decode(chip_map_pk)
            h = domain.shared_element(map_private, chip_map_public)
            mapped_g = domain.gm_map(int.from_bytes(s, "big"), h)

        # Step 3: key agreement over the mapped generator.
        private, public = domain.keypair(rng, mapped_g)
        our_pk = domain.encode(public)
        objects = _dynamic_data(
            (yield general_authenticate(tlv.encode(0x83, our_pk), last=False)), "key agreement")
        chip_pk = _require(objects, 0x84, "key agreement")
        chip_public = domain.decode(chip_pk)
        if chip_public == public:
            raise _failed("the chip's ephemeral key equals ours")
        shared = domain.shared_secret(private, chip_public)
        ks_enc, ks_mac = session_keys(spec, shared)

        # Step 4: mutual authentication.
        tag = domain.public_key_tag
        t_ifd = auth_token(spec, ks_mac, oid, tag, chip_pk)
        resp = yield general_authenticate(tlv.encode(0x85, t_ifd), last=True)
        if resp.sw != SW_OK:
            raise AccessControlError(
                f"PACE failed: the chip refused the authentication token ({resp.sw:04X}); "
                "wrong CAN or MRZ data?")
        objects = _dynamic_data(resp, "mutual authentication")
        t_ic = _require(objects, 0x86, "mutual authentication")
        if not crypto.constant_time_equal(t_ic, auth_token(spec, ks_mac, oid, tag, our_pk)):
            raise _failed("the chip's authentication token does not verify")

        cam_data = None
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
        chip_mapping_public_key=chip_map_pk,
    )


def verify_cam(result: PaceResult, ca_public_key) -> bool:
    """PACE-CAM chip authentication (9303-11 §4.4.3.5.2): PK_Map,IC == CA_IC * PK_IC.

    ``ca_public_key`` is the static key from EF.CardSecurity: a
    ChipAuthenticationPublicKeyInfo (docval.emrtd.securityinfo), a
    :class:`docval.emrtd.keys.PublicKey`, or the uncompressed point.  The result
    proves the chip genuine only once Passive Authentication has validated
    EF.CardSecurity.  Any mismatch or malformed input gives False (a document
    with several CA keys is checked key by key).
    """
    if result.mapping != "CAM" or result.cam_data is None or result.chip_mapping_public_key is None:
        return False
    curve = ec.BY_NAME.get(result.curve_or_group)
    if curve is None:
        return False
    spki = getattr(ca_public_key, "spki", None)
    if isinstance(spki, (bytes, bytearray)):
        try:
            ca_public_key = load_public_key(bytes(spki))
        except EmrtdError:
            return False
    point_bytes = ca_public_key
    key_curve = getattr(ca_public_key, "curve", None)
    if not isinstance(ca_public_key, (bytes, bytearray)):
        point_bytes = getattr(ca_public_key, "point", None)
        if key_curve is None or key_curve.name != curve.name or point_bytes is None:
            return False
    try:
        static = ecpoint.decode_point(curve, bytes(point_bytes))
        chip_map = ecpoint.decode_point(curve, result.chip_mapping_public_key)
    except ParseError:
        return False
    ca_ic = int.from_bytes(result.cam_data, "big")
    if not 0 < ca_ic < curve.n:
        return False
    return ecfast.multiply(curve, ca_ic, static) == chip_map


# ----------------------------------------------------------------------------
# Choosing among several PACEInfos
# ----------------------------------------------------------------------------

# Why this order (docs/reliability.md A4, 9303-11 §4.4.3):
# - CAM first: the same handshake also authenticates the chip (with PA), saving
#   Chip Authentication's extra round trips; then GM, the variant every chip and
#   reader implements; IM last, the least deployed (it also cannot run on P-224).
# - ECDH before DH: much smaller messages and far less CPU than 2048-bit DH.
# - AES before 3DES (3DES is being deprecated), larger AES keys first.
# - Among otherwise equal options, the larger curve/group is the stronger one.
_MAPPING_RANK = {"CAM": 0, "GM": 1, "IM": 2}
_KA_RANK = {"ECDH": 0, "DH": 1}
_CIPHER_RANK = {"AES256": 0, "AES192": 1, "AES128": 2, "TDES": 3}


def _domain_bits(suite: PaceSuite) -> int:
    return suite.domain.field_bits


def choose_pace_info(infos: Iterable[PACEInfo]) -> Optional[PACEInfo]:
    """The best standardized PACEInfo offered, or None when none is usable.

    Unknown OIDs, versions other than 2, missing or non-standardized parameter
    ids (proprietary or explicit domain parameters) are skipped, never fatal.
    """
    best = None
    best_key = None
    for info in infos:
        if getattr(info, "version", None) != 2:
            continue
        try:
            suite = suite_for(info.oid, info.parameter_id)
        except EmrtdError:
            continue
        key = (_MAPPING_RANK[suite.mapping], _KA_RANK[suite.parts.key_agreement],
               _CIPHER_RANK[suite.parts.cipher], -_domain_bits(suite))
        if best_key is None or key < best_key:
            best, best_key = info, key
    return best
