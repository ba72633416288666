"""Private keys from a random source: the one rejection sampler (EC scalars, DH exponents).

``Rng`` is any ``n -> n random bytes`` callable (``os.urandom`` in production);
tests pass a scripted one to inject a worked example's private key.
"""
from __future__ import annotations

from typing import Callable

Rng = Callable[[int], bytes]

_MAX_DRAWS = 1000


def uniform_below(bound: int, rng: Rng, *, minimum: int = 1) -> int:
    """A value uniform in [minimum, bound) by rejection sampling.

    Each draw has ``bound``'s byte length, masked to its bit length, so at least
    half the draws are in range.  The first draw is used as is when it is in
    range, which is what lets a test inject a known private key.
    """
    size = (bound.bit_length() + 7) // 8
    mask = (1 << bound.bit_length()) - 1
    for _ in range(_MAX_DRAWS):
        value = int.from_bytes(rng(size), "big") & mask
        if minimum <= value < bound:
            return value
    raise RuntimeError("random source keeps producing out-of-range values")
