import io

import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from docval.emrtd import tlv
from docval.emrtd.errors import ParseError
from docval.emrtd.lds.dg7 import MAX_IMAGES, parse_dg7
from docval.sim.datagroups import encode_dg7, make_face_jpeg

from tests.testdata import SPECIMEN


@pytest.mark.testdata
def test_icao_specimen_signature_image():
    found = parse_dg7((SPECIMEN / "DG7.bin").read_bytes())
    assert len(found) == 1 and len(found[0]) == 5099
    with Image.open(io.BytesIO(found[0])) as image:
        image.load()
        assert image.format == "JPEG" and image.size == (148, 70)


@pytest.mark.parametrize("count", [0, 1, 3])
def test_round_trip(count):
    signatures = [make_face_jpeg(32, 16, seed=i) for i in range(count)]
    encoded = encode_dg7(signatures)
    assert encoded[0] == 0x67
    assert parse_dg7(encoded) == signatures


def test_without_count_is_accepted():
    assert parse_dg7(tlv.encode(0x67, tlv.encode(0x5F43, b"sig"))) == [b"sig"]


def test_too_many_images():
    parse_dg7(encode_dg7([b"x"] * MAX_IMAGES))
    with pytest.raises(ParseError):
        parse_dg7(encode_dg7([b"x"] * (MAX_IMAGES + 1)))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        tlv.encode(0x68, tlv.encode(0x5F43, b"x")),
        tlv.encode(0x67, tlv.encode(0x02, b"\x01") + tlv.encode(0x5F44, b"x")),
        tlv.encode(0x67, b"\x5F\x43\x05ab"),
    ],
)
def test_malformed(data):
    with pytest.raises(ParseError):
        parse_dg7(data)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_parse_error(raw):
    for data in (raw, tlv.encode(0x67, raw)):
        try:
            parse_dg7(data)
        except ParseError:
            pass
