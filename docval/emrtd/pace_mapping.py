"""The group side of PACE (ICAO 9303-11 §4.4.3.3, Appendix B; BSI TR-03110-3).

A PACE domain is a standardized curve (:class:`EcDomain`, elements are affine
points) or MODP group (:class:`DhDomain`, elements are integers); both offer the
:class:`Group` interface the protocol flow in :mod:`docval.emrtd.pace` runs on:
key pairs, encodings, key agreement and the nonce mappings, Generic
(``gm_map``) and Integrated (``im_map`` over :func:`im_pseudo_random` and
:func:`point_encode_fg`).  The Chip Authentication Mapping's encrypted chip
data is :func:`encrypt_cam_data` / :func:`decrypt_cam_data`.

Everything here is pure arithmetic on values the caller has already bounded;
malformed values raise ParseError, which the flow reports as a failed PACE.
"""
from __future__ import annotations

from typing import Callable, Optional, Protocol, TypeVar, Union

from docval.emrtd import crypto, dh, ec, ecfast, ecpoint
from docval.emrtd.crypto import CipherSpec
from docval.emrtd.errors import ParseError, SecureMessagingError, UnsupportedError

Rng = Callable[[int], bytes]
Point = tuple[int, int]

# ICAO 9303-11 §4.4.3.3.2, constants of the pseudo-random number mapping.
_IM_C0_128 = bytes.fromhex("a668892a7c41e3ca739f40b057d85904")
_IM_C1_128 = bytes.fromhex("a4e136ac725f738b01c1f60217c188ad")
_IM_C0_256 = bytes.fromhex("d463d65234124ef7897054986dca0a174e28df758cbaa03f240616414d5a1676")
_IM_C1_256 = bytes.fromhex("54bd7255f0aaf831bec3423fcf39d69b6cbf066677d0faae5aadd99df8e53517")


# A group element: Point on a curve, int in a MODP group.
E = TypeVar("E")


class Group(Protocol[E]):
    """What the PACE flow needs of a domain, over its element type ``E``."""

    name: str
    public_key_tag: int
    generator: E
    order: int

    def keypair(self, rng: Rng, generator: E) -> tuple[int, E]: ...

    def encode(self, element: E) -> bytes: ...

    def decode(self, data: bytes) -> E: ...

    def shared_element(self, private: int, peer: E) -> E: ...

    def shared_secret(self, private: int, peer: E) -> bytes: ...

    def gm_map(self, s: int, h: E) -> E: ...

    def im_map(self, value: int) -> E: ...

    @property
    def prime(self) -> int: ...


class EcDomain:
    """A standardized curve; group elements are affine points, generators too."""

    key_agreement = "ECDH"
    public_key_tag = 0x86      # public key data object (9303-11 §9.4.5)

    def __init__(self, curve: ec.Curve) -> None:
        self.curve = curve
        self.name = curve.name
        self.generator = ecpoint.generator(curve)
        self.order = curve.n

    def random_private(self, rng: Rng) -> int:
        return ecpoint.random_scalar(self.curve, rng)

    def keypair(self, rng: Rng, generator: Point) -> tuple[int, Point]:
        private = self.random_private(rng)
        return private, self.public(private, generator)

    def public(self, private: int, generator: Point) -> Point:
        point = ecfast.multiply(self.curve, private, generator)
        if point is None:            # impossible for 1 <= private < n; kept as a guard
            raise ParseError("public key is the point at infinity")
        return point

    def encode(self, element: Point) -> bytes:
        return ecpoint.encode_point(self.curve, element)

    def decode(self, data: bytes) -> Point:
        return ecpoint.decode_point(self.curve, data)

    def shared_element(self, private: int, peer: Point) -> Point:
        """ECKA without the final x-coordinate extraction (the GM mapping needs H)."""
        point = ecfast.multiply(self.curve, private, peer)
        if point is None:
            raise ParseError("key agreement produced the point at infinity")
        return point

    def shared_secret(self, private: int, peer: Point) -> bytes:
        x = ecfast.shared_x(self.curve, private, peer)
        if x is None:
            raise ParseError("key agreement produced the point at infinity")
        return ecpoint.fe2os(self.curve, x)

    def gm_map(self, s: int, h: Point) -> Point:
        """Generic Mapping: G^ = s*G + H (9303-11 §4.4.3.3.1)."""
        mapped = ecpoint.add(self.curve, ecfast.multiply(self.curve, s, self.generator), h)
        if mapped is None:
            raise ParseError("mapped generator is the point at infinity")
        return mapped

    def im_map(self, value: int) -> Point:
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

    def __init__(self, group: dh.DHGroup) -> None:
        self.group = group
        self.name = group.name
        self.generator = group.g
        self.order = group.q

    def random_private(self, rng: Rng) -> int:
        return dh.random_exponent(self.group, rng)

    def keypair(self, rng: Rng, generator: int) -> Point:
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


# Each satisfies Group (EcDomain over Point, DhDomain over int).
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


def im_pseudo_random(spec: CipherSpec, s: bytes, t: bytes, prime: int) -> int:
    """R_p(s, t) of the Integrated Mapping (9303-11 §4.4.3.3.2, Figure 2).

    k0 = E(t, s); then k_i = E(k_{i-1}, c0) and x_i = E(k_{i-1}, c1), each key
    truncated to the cipher's key length (only AES-192 truncates), until
    n*l >= log2(p) + 64; the result is int(x_1 || ... || x_n) mod p.
    """
    nonce_len = len(s)
    if nonce_len == 16:
        c0, c1 = _IM_C0_128, _IM_C1_128
    elif nonce_len == 32:
        c0, c1 = _IM_C0_256, _IM_C1_256
    else:
        raise ParseError("integrated mapping nonce of unexpected length")
    zero_iv = b"\x00" * spec.block_size
    n = -(-(prime.bit_length() + 64) // (8 * nonce_len))
    key = crypto.cbc_encrypt(spec, t, zero_iv, s)
    out = bytearray()
    for _ in range(n):
        k = key[: spec.key_length]
        out += crypto.cbc_encrypt(spec, k, zero_iv, c1)
        key = crypto.cbc_encrypt(spec, k, zero_iv, c0)
    return int.from_bytes(bytes(out), "big") % prime


def point_encode_fg(curve: ec.Curve, t: int) -> Point:
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
