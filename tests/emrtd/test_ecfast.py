"""ecfast agrees with the pure-Python ladder (itself checked against the ICAO vectors) on every curve."""
import pytest
from hypothesis import given, settings, strategies as st

from docval.emrtd import ecfast, ecpoint
from docval.emrtd.ec import CURVES

CURVE_IDS = [c.name for c in CURVES]


def point_of(curve, seed):
    return ecpoint.multiply(curve, 2 + seed % (curve.n - 3), ecpoint.generator(curve))


@settings(max_examples=60, deadline=None)
@given(curve=st.sampled_from(CURVES), k=st.integers(min_value=0, max_value=2**600),
       seed=st.integers(min_value=0, max_value=2**600))
def test_multiply_matches_the_ladder(curve, k, seed):
    point = point_of(curve, seed)
    expected = ecpoint.multiply(curve, k, point)
    assert ecfast.multiply(curve, k, point) == expected
    assert ecfast.shared_x(curve, k, point) == (None if expected is None else expected[0])
    assert ecfast.multiply(curve, k, ecpoint.generator(curve)) == ecpoint.multiply(curve, k, ecpoint.generator(curve))


@pytest.mark.parametrize("curve", CURVES, ids=CURVE_IDS)
def test_edge_scalars(curve):
    point = point_of(curve, 12345)
    for k in (0, 1, 2, 3, curve.n - 3, curve.n - 2, curve.n - 1, curve.n, curve.n + 1, -1):
        assert ecfast.multiply(curve, k, point) == ecpoint.multiply(curve, k, point), k
        assert ecfast.multiply(curve, k, ecpoint.generator(curve)) == \
            ecpoint.multiply(curve, k, ecpoint.generator(curve)), k
    minus_g = ecpoint.negate(curve, ecpoint.generator(curve))
    assert ecfast.multiply(curve, 77, minus_g) == ecpoint.multiply(curve, 77, minus_g)
    assert ecfast.multiply(curve, 5, None) is None
    assert ecfast.shared_x(curve, 0, point) is None


def test_a_point_off_the_curve_is_left_to_the_ladder():
    curve = next(c for c in CURVES if c.name == "brainpoolP256r1")
    off = (1, 1)
    assert ecfast.multiply(curve, 7, off) == ecpoint.multiply(curve, 7, off)
