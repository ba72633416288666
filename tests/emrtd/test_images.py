import io

import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from docval.emrtd import images
from docval.emrtd.errors import LimitExceeded, ParseError


def _picture(width=64, height=80, mode="RGB"):
    image = Image.new(mode, (width, height), (200, 100, 50) if mode == "RGB" else 128)
    # A blue block on the left, wide enough to survive chroma subsampling.
    image.paste((20, 40, 220) if mode == "RGB" else 10, (0, 0, width // 4, height))
    return image


def _encode(image, fmt, **options):
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _jp2(image=None):
    return _encode(image or _picture(), "JPEG2000")


def _j2k(image=None, **options):
    return _encode(image or _picture(), "JPEG2000", no_jp2=True, **options)


def _set_siz(codestream: bytes, offset: int, **values) -> bytes:
    """Patch fields of the SIZ segment of the codestream starting at ``offset``."""
    fields = ["xsiz", "ysiz", "xosiz", "yosiz", "xtsiz", "ytsiz", "xtosiz", "ytosiz"]
    data = bytearray(codestream)
    for name, value in values.items():
        pos = offset + 8 + 4 * fields.index(name)
        data[pos : pos + 4] = value.to_bytes(4, "big")
    return bytes(data)


def test_sniff():
    assert images.sniff(_encode(_picture(), "JPEG")) == images.JPEG
    assert images.sniff(_jp2()) == images.JP2
    assert images.sniff(_j2k()) == images.J2K
    assert images.sniff(b"GIF89a") == images.UNKNOWN
    assert images.sniff(b"") == images.UNKNOWN


def test_jpeg_passes_through_unchanged_without_decoding(monkeypatch):
    jpeg = _encode(_picture(), "JPEG")
    monkeypatch.setattr(Image, "open", None)     # any decoding attempt would fail
    assert images.to_jpeg(jpeg) == jpeg


@pytest.mark.parametrize("make", [_jp2, _j2k], ids=["jp2", "j2k"])
def test_jpeg2000_becomes_a_jpeg_pillow_opens(make):
    source = _picture(96, 128)
    data = make(source)
    assert images.declared_size(data) == (96, 128)
    out = images.to_jpeg(data)
    assert out[:3] == b"\xFF\xD8\xFF"
    with Image.open(io.BytesIO(out)) as result:
        result.load()
        assert result.format == "JPEG" and result.size == (96, 128)
        # The picture survives: orange stays orange, the blue block blue.
        r, g, b = result.getpixel((80, 10))
        assert r > 150 and b < 110
        r, g, b = result.getpixel((8, 10))
        assert b > 150 and r < 90


@pytest.mark.parametrize("mode", ["L", "RGBA", "LA"])
def test_other_colour_modes(mode):
    image = _picture(mode="RGB").convert(mode)
    with Image.open(io.BytesIO(images.to_jpeg(_j2k(image)))) as result:
        assert result.mode in ("L", "RGB") and result.size == (64, 80)


def test_sixteen_bit_greyscale_is_scaled_not_clipped():
    data = _jp2(Image.new("I;16", (32, 32), 40000))
    with Image.open(io.BytesIO(images.to_jpeg(data))) as result:
        assert result.mode == "L"
        assert abs(result.getpixel((5, 5)) - 40000 // 256) <= 2


def test_declared_size_of_jpeg():
    assert images.declared_size(_encode(_picture(33, 17), "JPEG")) == (33, 17)
    progressive = _encode(_picture(40, 30), "JPEG", progressive=True)
    assert images.declared_size(progressive) == (40, 30)


@pytest.mark.parametrize("container", ["j2k", "jp2"])
def test_decompression_bomb_is_refused_before_decoding(monkeypatch, container):
    data = _j2k() if container == "j2k" else _jp2()
    offset = data.find(b"\xFF\x4F\xFF\x51")
    bomb = _set_siz(data, offset, xsiz=100_000, ysiz=100_000, xtsiz=100_000, ytsiz=100_000)
    assert images.declared_size(bomb) == (100_000, 100_000)

    def refuse(*args, **kwargs):
        raise AssertionError("the decoder must not be reached")

    monkeypatch.setattr(Image, "open", refuse)
    with pytest.raises(LimitExceeded):
        images.to_jpeg(bomb)


def test_pixel_limit_is_configurable():
    data = _j2k(_picture(64, 80))
    with pytest.raises(LimitExceeded):
        images.to_jpeg(data, max_pixels=64 * 80 - 1)
    assert images.to_jpeg(data, max_pixels=64 * 80)[:2] == b"\xFF\xD8"


def test_too_many_tiles_is_refused():
    data = _j2k()
    bomb = _set_siz(data, 0, xsiz=1000, ysiz=1000, xtsiz=1, ytsiz=1)
    with pytest.raises(LimitExceeded):
        images.declared_size(bomb)


@pytest.mark.parametrize(
    "patch",
    [dict(xsiz=0), dict(xosiz=10_000), dict(xtsiz=0), dict(xtosiz=5)],
)
def test_inconsistent_siz_is_a_parse_error(patch):
    with pytest.raises(ParseError):
        images.to_jpeg(_set_siz(_j2k(), 0, **patch))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GIF89a" + b"\0" * 40,
        b"\x89PNG\r\n\x1a\n" + b"\0" * 40,
        b"\xFF\x4F\xFF\x51\x00",                                    # truncated SIZ
        bytes.fromhex("0000000C6A5020200D0A870A"),                  # JP2 without codestream
        bytes.fromhex("0000000C6A5020200D0A870A") + b"\0\0\0\x04ftyp",   # box shorter than its header
    ],
)
def test_unknown_or_truncated_images_are_parse_errors(data):
    with pytest.raises(ParseError):
        images.to_jpeg(data)


def test_valid_header_with_garbage_body_is_a_parse_error():
    data = _j2k()
    garbage = data[:60] + bytes(range(256)) * 4
    with pytest.raises(ParseError):
        images.to_jpeg(garbage)


def test_jpeg_without_frame_header_has_no_size():
    with pytest.raises(ParseError):
        images.declared_size(b"\xFF\xD8\xFF\xD9")


@settings(max_examples=150, deadline=None)
@given(st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=200).map(lambda b: b"\xFF\x4F\xFF\x51" + b),
    st.binary(max_size=200).map(lambda b: bytes.fromhex("0000000C6A5020200D0A870A") + b),
    st.binary(max_size=200).map(lambda b: b"\xFF\xD8\xFF" + b),
))
def test_arbitrary_bytes_raise_only_documented_errors(raw):
    try:
        images.declared_size(raw)
    except (ParseError, LimitExceeded):
        pass
    try:
        images.to_jpeg(raw)
    except (ParseError, LimitExceeded):
        pass


_SMALL_J2K = _j2k(_picture(16, 16))


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=len(_SMALL_J2K) - 1), st.integers(min_value=0, max_value=255))
def test_mutated_codestream_raises_only_documented_errors(position, byte):
    data = bytearray(_SMALL_J2K)
    data[position] = byte
    try:
        out = images.to_jpeg(bytes(data))
    except (ParseError, LimitExceeded):
        return
    assert out[:2] == b"\xFF\xD8"
