import io

import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from docval.emrtd import images, tlv
from docval.emrtd.errors import ParseError
from docval.emrtd.lds.dg2 import MAX_FACES, parse_dg2
from docval.sim.datagroups import encode_dg2, make_face_jpeg

from tests.testdata import SPECIMEN


def _opens_as_jpeg(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.format == "JPEG"
        return image.size


def _j2k(width, height, *, jp2):
    out = io.BytesIO()
    Image.new("RGB", (width, height), (180, 140, 120)).save(out, "JPEG2000", no_jp2=not jp2)
    return out.getvalue()


def _dg2_with_block(block: bytes, tag: int = 0x5F2E) -> bytes:
    template = tlv.encode(0x7F60, tlv.encode(0xA1, b"") + tlv.encode(tag, block))
    return tlv.encode(0x75, tlv.encode(0x7F61, tlv.encode(0x02, b"\x01") + template))


@pytest.mark.testdata
def test_icao_specimen_yields_a_jpeg_pillow_opens():
    faces = parse_dg2((SPECIMEN / "DG2.bin").read_bytes())
    assert len(faces) == 1
    face = faces[0]
    # The specimen's image information claims JPEG 2000; the bytes are JPEG.
    assert face.mime == "image/jpeg"
    assert (face.width, face.height) == (148, 70)
    assert len(face.data) == 5099 and face.data.endswith(b"\xFF\xD9")
    assert _opens_as_jpeg(images.to_jpeg(face.data)) == (148, 70)
    assert "bytes" in repr(face) and "\\x" not in repr(face)


@pytest.mark.parametrize("points", [0, 5])
def test_round_trip_jpeg(points):
    jpeg = make_face_jpeg(120, 160, seed=3)
    faces = parse_dg2(encode_dg2([(jpeg, 120, 160, "jpeg")], feature_points=points))
    assert [(f.mime, f.data, f.width, f.height) for f in faces] == [("image/jpeg", jpeg, 120, 160)]


@pytest.mark.parametrize("jp2", [True, False], ids=["jp2", "j2k"])
def test_jpeg2000_face_comes_out_as_jpeg(jp2):
    data = _j2k(90, 120, jp2=jp2)
    faces = parse_dg2(encode_dg2([(data, 90, 120, "jp2" if jp2 else "j2k")]))
    assert faces[0].mime == ("image/jp2" if jp2 else "image/j2k")
    assert faces[0].data == data and (faces[0].width, faces[0].height) == (90, 120)
    assert _opens_as_jpeg(images.to_jpeg(faces[0].data)) == (90, 120)


def test_several_faces_keep_their_order():
    a, b = make_face_jpeg(60, 80, seed=1), _j2k(30, 40, jp2=True)
    faces = parse_dg2(encode_dg2([(a, 60, 80, "jpeg"), (b, 30, 40, "jp2")]))
    assert [f.data for f in faces] == [a, b]


def test_image_size_comes_from_the_image_when_the_header_disagrees():
    jpeg = make_face_jpeg(60, 80, seed=2)
    faces = parse_dg2(encode_dg2([(jpeg, 999, 999, "jp2")]))
    assert (faces[0].mime, faces[0].width, faces[0].height) == ("image/jpeg", 60, 80)


def test_unreadable_image_keeps_the_declared_size():
    faces = parse_dg2(encode_dg2([(b"\xFF\x4F\xFF\x51" + b"\0" * 8, 33, 44, "j2k")]))
    assert (faces[0].mime, faces[0].width, faces[0].height) == ("image/j2k", 33, 44)
    with pytest.raises(ParseError):
        images.to_jpeg(faces[0].data)


def test_2011_layout_is_searched_for_the_image():
    jpeg = make_face_jpeg(40, 50, seed=4)
    # 19794-5:2011 general header and representation header (capture time,
    # quality blocks, ...): fields we do not interpret, then the image.
    record = b"FAC\x00030\x00" + (100 + len(jpeg)).to_bytes(4, "big") + b"\x00\x01\x00" \
        + bytes(range(40)) + jpeg
    faces = parse_dg2(_dg2_with_block(record))
    assert faces[0].data == jpeg and (faces[0].width, faces[0].height) == (40, 50)


def test_inconsistent_2005_lengths_fall_back_to_searching():
    jpeg = make_face_jpeg(40, 50, seed=5)
    record = bytearray(encode_dg2([(jpeg, 40, 50, "jpeg")]))
    start = record.find(b"FAC\x00") + 14
    record[start : start + 4] = (10**6).to_bytes(4, "big")     # block longer than the record
    assert parse_dg2(bytes(record))[0].data == jpeg


def test_iso_39794_style_constructed_block():
    j2k = _j2k(20, 30, jp2=False)
    inner = tlv.encode(0xA1, tlv.encode(0x80, b"\x01") + tlv.encode(0xA2, tlv.encode(0x80, j2k)))
    faces = parse_dg2(_dg2_with_block(inner, 0x7F2E))
    assert faces[0].data == j2k and faces[0].mime == "image/j2k"


def test_bare_image_in_the_data_block():
    jpeg = make_face_jpeg(40, 50, seed=6)
    assert parse_dg2(_dg2_with_block(jpeg))[0].data == jpeg


def test_too_many_faces():
    jpeg = make_face_jpeg(16, 16, seed=7)
    parse_dg2(encode_dg2([(jpeg, 16, 16, "jpeg")] * MAX_FACES))
    with pytest.raises(ParseError):
        parse_dg2(encode_dg2([(jpeg, 16, 16, "jpeg")] * (MAX_FACES + 1)))


def test_facial_record_declaring_many_images():
    record = bytearray(encode_dg2([(make_face_jpeg(16, 16), 16, 16, "jpeg")]))
    start = record.find(b"FAC\x00")
    record[start + 12 : start + 14] = (5000).to_bytes(2, "big")
    with pytest.raises(ParseError):
        parse_dg2(bytes(record))


def _deep(levels: int, leaf: bytes) -> bytes:
    for _ in range(levels):
        leaf = tlv.encode(0xA1, leaf)
    return leaf


def test_deep_constructed_block_is_bounded():
    j2k = _j2k(8, 8, jp2=False)
    with pytest.raises(ParseError):
        parse_dg2(_dg2_with_block(_deep(500, tlv.encode(0x80, b"no image")), 0x7F2E))
    # An image nested below the depth limit is still found by its signature.
    assert parse_dg2(_dg2_with_block(_deep(50, tlv.encode(0x80, j2k)), 0x7F2E))[0].data == j2k


@pytest.mark.parametrize(
    "data",
    [
        b"",
        tlv.encode(0x75, b""),                                                    # no 7F61
        tlv.encode(0x76, tlv.encode(0x7F61, b"")),                                # wrong tag
        tlv.encode(0x75, tlv.encode(0x7F61, tlv.encode(0x7F60, tlv.encode(0xA1, b"")))),  # no data block
        tlv.encode(0x75, tlv.encode(0x7F61, tlv.encode(0x30, b""))),              # unexpected tag
        tlv.encode(0x75, tlv.encode(0x7F61, b"\x7F\x60\x05\x00")),                # truncated
        tlv.encode(0x75, tlv.encode(0x7F61, tlv.encode(0x7F60, tlv.encode(0x5F2E, b"a")
                                                        + tlv.encode(0x5F2E, b"b")))),   # two blocks
    ],
)
def test_bad_nesting_raises_parse_error(data):
    with pytest.raises(ParseError):
        parse_dg2(data)


def test_block_without_any_image_raises_parse_error():
    with pytest.raises(ParseError):
        parse_dg2(_dg2_with_block(b"FAC\x00030\x00" + bytes(64)))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_parse_error(raw):
    for data in (raw, _dg2_with_block(raw), _dg2_with_block(raw, 0x7F2E)):
        try:
            parse_dg2(data)
        except ParseError:
            pass


_SMALL = encode_dg2([(make_face_jpeg(16, 16), 16, 16, "jpeg")], feature_points=1)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_SMALL) - 1), st.integers(0, 255)), min_size=1, max_size=4))
def test_mutated_dg2_raises_only_parse_error(mutations):
    data = bytearray(_SMALL)
    for position, byte in mutations:
        data[position] = byte
    try:
        parse_dg2(bytes(data))
    except ParseError:
        pass


def test_2005_lengths_that_frame_no_image_fall_back_to_searching():
    jpeg = make_face_jpeg(24, 24, seed=8)
    # Version 010 and lengths that add up, but 6 extra header bytes shift the image.
    block = (20 + 12 + 6 + len(jpeg)).to_bytes(4, "big") + bytes(16) + bytes(12) + bytes(6) + jpeg
    record = b"FAC\x00010\x00" + (14 + len(block)).to_bytes(4, "big") + b"\x00\x01" + block
    faces = parse_dg2(_dg2_with_block(record))
    assert faces[0].data == jpeg and faces[0].mime == "image/jpeg"


def test_2005_record_without_any_image_is_returned_as_unknown():
    block = (20 + 12 + 4).to_bytes(4, "big") + bytes(16) + bytes(12) + b"WSQ!"
    record = b"FAC\x00010\x00" + (14 + len(block)).to_bytes(4, "big") + b"\x00\x01" + block
    faces = parse_dg2(_dg2_with_block(record))
    assert faces[0].mime == "application/octet-stream" and faces[0].data == b"WSQ!"
    with pytest.raises(ParseError):
        images.to_jpeg(faces[0].data)
