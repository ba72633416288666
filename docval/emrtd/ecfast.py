"""Scalar multiplication through OpenSSL where that gives the same point; pure Python elsewhere.

PACE needs ``k*P`` for points that are not the curve's generator (the chip's
mapping key, the mapped generator of the Generic Mapping), with both
coordinates.  ``cryptography`` offers key derivation, which gives ``K = k*G``,
and ECDH, which gives only the x-coordinate of ``k*P``.  One private key ``k``
and two or three exchanges are enough for the whole point ``Q = k*P``:
``x(k*(P+G)) = x(Q + K)`` and, where ``p = 3 mod 4`` (every curve here but
P-224), a square root of ``x_Q^3 + a*x_Q + b`` is one exponentiation and
``x(Q + K)`` tells ``+y`` from ``-y``; elsewhere ``x(Q - K)`` too and the chord
slopes through K give, without a square root,

    x(Q+K) - x(Q-K) = -4 * y_Q * y_K / (x_Q - x_K)^2

That needs ``Q != +-K``, i.e. ``P != +-G`` (that case, a curve
``cryptography`` lacks — brainpoolP192r1/P224r1/P320r1 —, or a point OpenSSL
refuses goes to :mod:`docval.emrtd.ecpoint`).  Every result is checked to lie
on the curve before it is returned, and the tests compare it with the ladder.

The server runs PACE for every session, and this removes most of its
big-number work from the event loop (the capacity benchmark measures it).
"""
from __future__ import annotations

from typing import Optional, Tuple

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec as cec

from docval.emrtd import ecpoint
from docval.emrtd.ec import Curve

Point = Optional[Tuple[int, int]]


def _crypto_curve(curve: Curve) -> cec.EllipticCurve | None:
    try:
        return curve.crypto_curve()
    except (UnsupportedAlgorithm, ValueError):
        return None


def _times_generator(cc: cec.EllipticCurve, k: int) -> tuple[int, int]:
    numbers = cec.derive_private_key(k, cc).public_key().public_numbers()
    return numbers.x, numbers.y


def _peer(cc: cec.EllipticCurve, point: tuple[int, int]) -> cec.EllipticCurvePublicKey:
    return cec.EllipticCurvePublicNumbers(point[0], point[1], cc).public_key()


def _x(key: cec.EllipticCurvePrivateKey, cc: cec.EllipticCurve, point: tuple[int, int]) -> int:
    return int.from_bytes(key.exchange(cec.ECDH(), _peer(cc, point)), "big")


def multiply(curve: Curve, k: int, point: Point) -> Point:
    """``k * point``, the same value as :func:`docval.emrtd.ecpoint.multiply`."""
    if point is None:
        return None
    k %= curve.n
    cc = _crypto_curve(curve)
    if cc is None or k == 0:
        return ecpoint.multiply(curve, k, point)
    g = ecpoint.generator(curve)
    try:
        if point == g:
            result: Point = _times_generator(cc, k)
        elif point != ecpoint.negate(curve, g):
            result = _from_exchanges(curve, cc, k, point)
        else:
            return ecpoint.multiply(curve, k, point)
    except (UnsupportedAlgorithm, ValueError):
        return ecpoint.multiply(curve, k, point)
    if result is None or not ecpoint.is_on_curve(curve, result):
        return ecpoint.multiply(curve, k, point)
    return result


def _from_exchanges(curve: Curve, cc: cec.EllipticCurve, k: int, point: tuple[int, int]) -> Point:
    """Q = k*P from ECDH with one private key: x(kP), and x(kP + kG) = x(k(P+G)) where
    kG comes with the key; on p = 3 mod 4 a square root and that x pick y, else
    x(k(P-G)) too and the chord identity (with K = kG in place of P) gives y."""
    p = curve.p
    key = cec.derive_private_key(k, cc)
    kg = key.public_key().public_numbers()
    big_k = (kg.x, kg.y)
    g = ecpoint.generator(curve)
    xq = _x(key, cc, point)
    p_plus_g = ecpoint.add(curve, point, g)
    if p_plus_g is None:
        return None
    xr = _x(key, cc, p_plus_g)                          # x(Q + K)
    if p % 4 == 3:
        rhs = (xq * xq * xq + curve.a * xq + curve.b) % p
        y = pow(rhs, (p + 1) // 4, p)
        if y * y % p != rhs:
            return None
        for candidate in (y, p - y):
            r = ecpoint.add(curve, (xq, candidate), big_k)
            if r is not None and r[0] == xr:
                return (xq, candidate)
        return None
    p_minus_g = ecpoint.add(curve, point, ecpoint.negate(curve, g))
    if p_minus_g is None:
        return None
    xs = _x(key, cc, p_minus_g)                         # x(Q - K)
    dx = (xq - big_k[0]) % p
    if dx == 0 or big_k[1] % p == 0:
        return None     # Q = +-K: P = +-G, handled above; never guess
    yq = (-(xr - xs) * dx * dx * pow(4 * big_k[1], -1, p)) % p
    return (xq, yq)


def shared_x(curve: Curve, k: int, point: tuple[int, int]) -> int | None:
    """The x-coordinate of ``k * point`` (ECDH), None for the point at infinity."""
    k %= curve.n
    cc = _crypto_curve(curve)
    if cc is not None and k != 0:
        try:
            return _x(cec.derive_private_key(k, cc), cc, point)
        except (UnsupportedAlgorithm, ValueError):
            pass
    result = ecpoint.multiply(curve, k, point)
    return None if result is None else result[0]
