"""The per-session decoding budget, the pixel caps and the worker's unit of work."""
import io
import os

import pytest
from PIL import Image

from docval.emrtd import images
from docval.emrtd.errors import LimitExceeded


def _j2k(width=64, height=48):
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(out, "JPEG2000", no_jp2=True)
    return out.getvalue()


def test_budget_admits_up_to_the_image_count_then_names_the_limit():
    budget = images.DecodeBudget(images.DecodeLimits(max_images=2, max_pixels=10**9, max_cpu_seconds=99))
    assert budget.admit(100) is None
    assert budget.admit(100) is None
    assert "2 decoded images" in budget.admit(100)
    assert (budget.images, budget.pixels) == (2, 200)


def test_budget_charges_declared_pixels_before_decoding():
    budget = images.DecodeBudget(images.DecodeLimits(max_images=10, max_pixels=1000, max_cpu_seconds=99))
    assert budget.admit(600) is None
    assert "1000 decoded pixels" in budget.admit(500)     # refused: nothing charged
    assert budget.admit(400) is None
    assert budget.pixels == 1000


def test_budget_refuses_the_next_image_once_cpu_seconds_are_spent():
    budget = images.DecodeBudget(images.DecodeLimits(max_images=10, max_pixels=10**9, max_cpu_seconds=0.5))
    assert budget.admit(1) is None
    budget.spend(0.6)
    assert "CPU seconds" in budget.admit(1)
    budget.spend(-5)          # a clock going backwards never refunds
    assert budget.cpu_seconds == pytest.approx(0.6)


def test_default_limits_allow_a_face_and_signatures_of_genuine_size():
    budget = images.DecodeBudget()
    assert budget.admit(images.FACE_MAX_PIXELS) is None
    for _ in range(images.DecodeLimits().max_images - 1):
        assert budget.admit(images.SIGNATURE_MAX_PIXELS // 2) is None


def test_caps_are_suited_to_faces_and_signatures():
    # An ICAO portrait (about 0.3 MP) fits with room; both caps stay far below the
    # generic decoder limit, so a verified file still cannot ask for 4 MP per image.
    assert 480 * 640 * 4 < images.FACE_MAX_PIXELS <= images.DEFAULT_MAX_PIXELS
    assert 1770 * 590 < images.SIGNATURE_MAX_PIXELS < images.FACE_MAX_PIXELS


def test_convert_reports_jpeg_cpu_and_the_process():
    result = images.convert(_j2k(), images.FACE_MAX_PIXELS)
    assert result.jpeg[:2] == b"\xff\xd8"
    assert result.cpu_seconds >= 0 and result.worker == os.getpid()
    assert "bytes" in repr(result) and "\\x" not in repr(result)


def test_convert_holds_the_image_to_the_cap_it_is_given():
    with pytest.raises(LimitExceeded):
        images.convert(_j2k(64, 48), 64 * 48 - 1)


def test_needs_decoding_only_for_jpeg2000():
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8)).save(jpeg, "JPEG")
    assert images.needs_decoding(_j2k())
    assert not images.needs_decoding(jpeg.getvalue())
    assert not images.needs_decoding(b"GIF89a")
