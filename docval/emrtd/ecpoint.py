"""Elliptic-curve arithmetic over the standardized curves, in pure Python.

``cryptography`` cannot do what PACE needs: the Generic Mapping computes
``s*G + H`` and then runs ECDH over the *mapped* generator, Integrated Mapping
maps a field element onto the curve, and three standardized curves
(brainpoolP192r1/P224r1/P320r1) are missing from it altogether.  So the group
law lives here, over the curves of :mod:`docval.emrtd.ec` only - never over
parameters a chip sent us (docs/reliability.md A4), which bounds every computation
to at most 521-bit fields.

Points are affine ``(x, y)`` tuples, ``None`` is the point at infinity.
Internally scalar multiplication works in Jacobian coordinates with a Montgomery
ladder: one add and one double per scalar bit whatever the bit, so the work does
not depend on the secret scalar's bit pattern (Python integers are not
constant-time, this is structure, not a side-channel guarantee).
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple

from docval.emrtd.ec import Curve
from docval.emrtd.errors import ParseError
from docval.emrtd.rng import uniform_below

Point = Optional[Tuple[int, int]]
_Jac = Tuple[int, int, int]          # (X, Y, Z); Z == 0 is infinity
_INF: _Jac = (1, 1, 0)


def generator(curve: Curve) -> Tuple[int, int]:
    return (curve.gx, curve.gy)


def is_on_curve(curve: Curve, point: Point) -> bool:
    """True for an affine point with coordinates in [0, p) satisfying the equation."""
    if point is None:
        return False
    x, y = point
    p = curve.p
    if not (0 <= x < p and 0 <= y < p):
        return False
    return (y * y - (x * x * x + curve.a * x + curve.b)) % p == 0


def negate(curve: Curve, point: Point) -> Point:
    if point is None:
        return None
    return (point[0], (-point[1]) % curve.p)


# -- Jacobian coordinates ---------------------------------------------------

def _to_jac(point: Point) -> _Jac:
    return _INF if point is None else (point[0], point[1], 1)


def _from_jac(curve: Curve, q: _Jac) -> Point:
    X, Y, Z = q
    if Z % curve.p == 0:
        return None
    p = curve.p
    zi = pow(Z, p - 2, p)     # p is prime: Fermat inverse works on every Python 3
    zi2 = zi * zi % p
    return (X * zi2 % p, Y * zi2 * zi % p)


def _jdouble(curve: Curve, q: _Jac) -> _Jac:
    X, Y, Z = q
    p = curve.p
    if Z == 0 or Y == 0:
        return _INF
    yy = Y * Y % p
    s = 4 * X * yy % p
    zz = Z * Z % p
    m = (3 * X * X + curve.a * zz * zz) % p
    x3 = (m * m - 2 * s) % p
    y3 = (m * (s - x3) - 8 * yy * yy) % p
    z3 = 2 * Y * Z % p
    return (x3, y3, z3)


def _jadd(curve: Curve, q1: _Jac, q2: _Jac) -> _Jac:
    X1, Y1, Z1 = q1
    X2, Y2, Z2 = q2
    if Z1 == 0:
        return q2
    if Z2 == 0:
        return q1
    p = curve.p
    z1z1 = Z1 * Z1 % p
    z2z2 = Z2 * Z2 % p
    u1 = X1 * z2z2 % p
    u2 = X2 * z1z1 % p
    s1 = Y1 * Z2 * z2z2 % p
    s2 = Y2 * Z1 * z1z1 % p
    h = (u2 - u1) % p
    r = (s2 - s1) % p
    if h == 0:
        return _jdouble(curve, q1) if r == 0 else _INF
    hh = h * h % p
    hhh = h * hh % p
    v = u1 * hh % p
    x3 = (r * r - hhh - 2 * v) % p
    y3 = (r * (v - x3) - s1 * hhh) % p
    z3 = Z1 * Z2 * h % p
    return (x3, y3, z3)


def add(curve: Curve, p1: Point, p2: Point) -> Point:
    return _from_jac(curve, _jadd(curve, _to_jac(p1), _to_jac(p2)))


def double(curve: Curve, point: Point) -> Point:
    return _from_jac(curve, _jdouble(curve, _to_jac(point)))


def multiply(curve: Curve, k: int, point: Point) -> Point:
    """k * point by a Montgomery ladder over ``curve.n.bit_length()`` bits.

    ``k`` is reduced modulo the group order first, so the ladder always runs the
    same number of steps for a given curve.
    """
    if point is None:
        return None
    k %= curve.n
    r0, r1 = _INF, _to_jac(point)
    for i in reversed(range(curve.n.bit_length())):
        if (k >> i) & 1:
            r0, r1 = _jadd(curve, r0, r1), _jdouble(curve, r1)
        else:
            r1, r0 = _jadd(curve, r0, r1), _jdouble(curve, r0)
    return _from_jac(curve, r0)


def multiply_generator(curve: Curve, k: int) -> Point:
    return multiply(curve, k, generator(curve))


# -- Encodings (BSI TR-03111 / SEC 1) ---------------------------------------

def fe2os(curve: Curve, value: int) -> bytes:
    """A field element as an octet string of the field's byte length."""
    return value.to_bytes(curve.byte_length, "big")


def encode_point(curve: Curve, point: Point) -> bytes:
    """Uncompressed encoding 04 || X || Y (the only form ICAO 9303 uses)."""
    if point is None:
        raise ValueError("the point at infinity has no uncompressed encoding")
    return b"\x04" + fe2os(curve, point[0]) + fe2os(curve, point[1])


def decode_point(curve: Curve, data: bytes, *, allow_compressed: bool = False) -> Tuple[int, int]:
    """Parse and validate a point from untrusted bytes; the one EC point decoder.

    Refuses (ParseError) anything but 04||X||Y of exactly the curve's size (or,
    with ``allow_compressed``, 02/03||X as X.509 keys may carry), the point at
    infinity (a lone 00), and points that are not on the curve - an off-curve
    point is the classic invalid-curve attack on ECDH.  Protocol messages (PACE,
    CA) use only the uncompressed form, so only key loading allows the other.
    """
    size = curve.byte_length
    p = curve.p
    if len(data) == 1 + 2 * size and data[:1] == b"\x04":
        x = int.from_bytes(data[1 : 1 + size], "big")
        y = int.from_bytes(data[1 + size :], "big")
    elif allow_compressed and len(data) == 1 + size and data[0] in (2, 3):
        x = int.from_bytes(data[1:], "big")
        root = sqrt_mod((pow(x, 3, p) + curve.a * x + curve.b) % p, p) if x < p else None
        if root is None:
            raise ParseError("point is not on the curve")
        y = root if (root & 1) == (data[0] & 1) else p - root
    else:
        raise ParseError("not an uncompressed point of the expected size")
    if not is_on_curve(curve, (x, y)):
        raise ParseError("point is not on the curve")
    # Every curve in the table has cofactor 1, so on-curve and not infinity
    # already means "in the prime-order group".
    return (x, y)


def sqrt_mod(v: int, p: int) -> int | None:
    """Square root modulo an odd prime (Tonelli-Shanks), None when v is a non-residue."""
    v %= p
    if v == 0:
        return 0
    if pow(v, (p - 1) // 2, p) != 1:
        return None
    if p % 4 == 3:
        return pow(v, (p + 1) // 4, p)
    q, s = p - 1, 0
    while q % 2 == 0:
        q //= 2
        s += 1
    z = 2
    while pow(z, (p - 1) // 2, p) != p - 1:
        z += 1
    m, c, t, r = s, pow(z, q, p), pow(v, q, p), pow(v, (q + 1) // 2, p)
    while t != 1:
        i, t2 = 0, t
        while t2 != 1:
            t2 = t2 * t2 % p
            i += 1
        b = pow(c, 1 << (m - i - 1), p)
        m, c, t, r = i, b * b % p, t * b * b % p, r * b % p
    return r


# -- Keys, ECDH, ECDSA ------------------------------------------------------

def random_scalar(curve: Curve, rng: Callable[[int], bytes]) -> int:
    """A uniform private key in [1, n-1] by rejection sampling.

    The first draw is used as is when it is in range, so a test can inject a
    worked example's private key through ``rng``.
    """
    return uniform_below(curve.n, rng)


def ecdh(curve: Curve, private: int, public: Tuple[int, int]) -> bytes:
    """ECKA-DH (TR-03111): the x-coordinate of private*public, as FE2OS.

    ``public`` must come from :func:`decode_point` (or be known valid).  The
    result being infinity means the peer's point was degenerate: ParseError.
    """
    shared = multiply(curve, private, public)
    if shared is None:
        raise ParseError("key agreement produced the point at infinity")
    return fe2os(curve, shared[0])


def ecdsa_verify(curve: Curve, public: "Tuple[int, int] | bytes", digest: bytes, r: int, s: int) -> bool:
    """ECDSA verification (X9.62 / TR-03111) with a precomputed hash.

    For the curves ``cryptography`` lacks.  ``public`` is a point or its
    uncompressed encoding (docval.emrtd.keys passes the encoding); an invalid
    key verifies nothing.
    """
    if isinstance(public, (bytes, bytearray)):
        try:
            public = decode_point(curve, bytes(public))
        except ParseError:
            return False
    n = curve.n
    if not (1 <= r < n and 1 <= s < n):
        return False
    if not is_on_curve(curve, public):
        return False
    e = int.from_bytes(digest, "big")
    excess = len(digest) * 8 - n.bit_length()
    if excess > 0:
        e >>= excess
    w = pow(s, n - 2, n)
    u1 = e * w % n
    u2 = r * w % n
    point = add(curve, multiply_generator(curve, u1), multiply(curve, u2, public))
    if point is None:
        return False
    return point[0] % n == r
