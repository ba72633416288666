import pytest

from docval.emrtd import dh, ec, ecpoint
from docval.emrtd.errors import ParseError
from docval.emrtd.rng import uniform_below


def _script(*values: int):
    draws = iter(values)
    return lambda n: next(draws).to_bytes(n, "big")


def test_uniform_below_uses_the_first_draw_in_range_and_honours_the_minimum():
    assert uniform_below(10, _script(1, 5)) == 1
    assert uniform_below(10, _script(1, 0, 12, 5), minimum=2) == 5     # 1, 0 too small; 12 too big


def test_uniform_below_gives_up_on_a_stuck_source():
    with pytest.raises(RuntimeError):
        uniform_below(10, lambda n: b"\x00" * n, minimum=1)


def test_ca_dh_exponent_never_0_or_1_and_below_the_order():
    group = dh.GROUPS[0]
    assert dh.exponent_for(group.p, group.q, _script(1, 2)) == 2
    big = (group.q + 1).to_bytes((group.q.bit_length() + 7) // 8, "big")
    draws = iter([big, b"\x03"])
    assert dh.exponent_for(group.p, group.q, lambda n: next(draws).rjust(n, b"\x00")) == 3


def test_one_point_decoder_accepts_compressed_points_only_when_asked():
    curve = ec.BY_NAME["brainpoolP256r1"]
    compressed = bytes([2 + (curve.gy & 1)]) + curve.gx.to_bytes(curve.byte_length, "big")
    with pytest.raises(ParseError):
        ecpoint.decode_point(curve, compressed)              # PACE/CA messages: uncompressed only
    assert ecpoint.decode_point(curve, compressed, allow_compressed=True) == ecpoint.generator(curve)
    wrong_parity = bytes([compressed[0] ^ 1]) + compressed[1:]
    assert ecpoint.decode_point(curve, wrong_parity, allow_compressed=True) == ecpoint.negate(
        curve, ecpoint.generator(curve))
