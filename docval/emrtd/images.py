"""Facial and signature images: format sniffing, header sizes, JPEG conversion.

DG2 faces are JPEG or JPEG 2000 (a JP2 file or a raw J2K codestream); phones
cannot show JPEG 2000 reliably, so the result always carries JPEG.  JPEG is
passed through untouched (no decoding at all).  JPEG 2000 is decoded with Pillow,
but only after the size the image *declares* has been read from its header and
checked: a 20 KB codestream can declare 10^10 pixels, and the decoder would try
to allocate them.
"""
from __future__ import annotations

import io

from docval.emrtd.errors import LimitExceeded, ParseError

JPEG = "image/jpeg"
JP2 = "image/jp2"
J2K = "image/j2k"          # raw JPEG 2000 codestream (ISO/IEC 15444-1 Annex A)
UNKNOWN = "application/octet-stream"

_JPEG_MAGIC = b"\xFF\xD8\xFF"
_JP2_MAGIC = bytes.fromhex("0000000C6A5020200D0A870A")
_J2K_MAGIC = b"\xFF\x4F\xFF\x51"

# Far above an ICAO portrait (about 0.3 MP) and small enough that decoding one
# costs a bounded amount of memory (about 12 MB of RGB) and time.
DEFAULT_MAX_PIXELS = 4_000_000
MAX_COMPONENTS = 4
MAX_TILES = 4096
MAX_JP2_BOXES = 64
JPEG_QUALITY = 90


def sniff(data: bytes) -> str:
    """The image's MIME type from its magic bytes (what it *is*, whatever the
    biometric header around it claims)."""
    if data.startswith(_JPEG_MAGIC):
        return JPEG
    if data.startswith(_JP2_MAGIC):
        return JP2
    if data.startswith(_J2K_MAGIC):
        return J2K
    return UNKNOWN


def _u16(data: bytes, offset: int) -> int:
    if offset + 2 > len(data):
        raise ParseError("image header truncated")
    return int.from_bytes(data[offset : offset + 2], "big")


def _u32(data: bytes, offset: int) -> int:
    if offset + 4 > len(data):
        raise ParseError("image header truncated")
    return int.from_bytes(data[offset : offset + 4], "big")


def _j2k_size(data: bytes, offset: int = 0) -> tuple[int, int]:
    """Image size from the SIZ marker segment that must follow SOC (15444-1 A.5.1)."""
    if data[offset : offset + 4] != _J2K_MAGIC:
        raise ParseError("JPEG 2000 codestream does not start with SOC, SIZ")
    siz = offset + 4             # Lsiz, Rsiz, then the sizes
    xsiz, ysiz, xosiz, yosiz = (_u32(data, siz + 4 + 4 * i) for i in range(4))
    xtsiz, ytsiz, xtosiz, ytosiz = (_u32(data, siz + 20 + 4 * i) for i in range(4))
    csiz = _u16(data, siz + 36)
    if xsiz <= xosiz or ysiz <= yosiz or xtsiz == 0 or ytsiz == 0 or xtosiz > xosiz or ytosiz > yosiz:
        raise ParseError("JPEG 2000 SIZ: inconsistent image or tile size")
    if not 1 <= csiz <= MAX_COMPONENTS:
        raise ParseError("JPEG 2000 SIZ: unsupported number of components")
    tiles = -(-(xsiz - xtosiz) // xtsiz) * -(-(ysiz - ytosiz) // ytsiz)
    if tiles > MAX_TILES:
        raise LimitExceeded("JPEG 2000 image split into too many tiles")
    return xsiz - xosiz, ysiz - yosiz


def _jp2_codestream_offset(data: bytes) -> int:
    """Offset of the contiguous codestream box (jp2c) in a JP2 file (15444-1 Annex I)."""
    offset = 0
    for _ in range(MAX_JP2_BOXES):
        if offset + 8 > len(data):
            break
        length, box_type = _u32(data, offset), data[offset + 4 : offset + 8]
        header = 8
        if length == 1:
            if offset + 16 > len(data):
                break
            length, header = int.from_bytes(data[offset + 8 : offset + 16], "big"), 16
        elif length == 0:
            length = len(data) - offset
        if box_type == b"jp2c":
            return offset + header
        if length < header:
            raise ParseError("JP2 box with an impossible length")
        offset += length
    raise ParseError("JP2 file without a codestream box")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Image size from the first SOFn segment."""
    offset = 2
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            raise ParseError("JPEG: marker expected")
        marker = data[offset + 1]
        if marker == 0xFF:          # fill byte
            offset += 1
            continue
        length = _u16(data, offset + 2)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = _u16(data, offset + 5), _u16(data, offset + 7)
            return width, height
        if marker in (0xD9, 0xDA) or length < 2:
            break
        offset += 2 + length
    raise ParseError("JPEG without a frame header")


def declared_size(data: bytes) -> tuple[int, int]:
    """(width, height) as the image's own header declares them, without decoding.

    Raises ParseError for an unknown format or a broken header.
    """
    kind = sniff(data)
    if kind == JPEG:
        return _jpeg_size(data)
    if kind == J2K:
        return _j2k_size(data)
    if kind == JP2:
        return _j2k_size(data, _jp2_codestream_offset(data))
    raise ParseError("unknown image format")


def to_jpeg(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """The image as JPEG: JPEG unchanged, JPEG 2000 decoded and re-encoded.

    Raises LimitExceeded when a JPEG 2000 image declares more than ``max_pixels``
    (checked before decoding), ParseError when it is not a valid image.
    """
    kind = sniff(data)
    if kind == JPEG:
        return bytes(data)
    if kind not in (JP2, J2K):
        raise ParseError("image is neither JPEG nor JPEG 2000")
    width, height = declared_size(data)
    if width * height > max_pixels:
        raise LimitExceeded(f"image of {width}x{height} pixels exceeds the limit of {max_pixels}")
    return _reencode(data, max_pixels)


def _reencode(data: bytes, max_pixels: int) -> bytes:
    # Pillow is imported only when a picture is actually re-encoded: it is the
    # heaviest dependency and most reads never reach this point.
    from PIL import Image

    try:
        # formats= keeps Pillow from trying every other decoder on hostile bytes.
        with Image.open(io.BytesIO(data), formats=["JPEG2000"]) as image:
            # Pillow reads the header itself; hold it to the same limit, since
            # a JP2 header box may disagree with the codestream we checked.
            if image.size[0] * image.size[1] > max_pixels:
                raise LimitExceeded("image exceeds the pixel limit")
            image.load()
            if image.mode.startswith("I"):
                # 16-bit greyscale: scale to 8 bits instead of clipping to white.
                image = image.convert("I").point(lambda v: v / 256).convert("L")
            elif image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            out = io.BytesIO()
            image.save(out, "JPEG", quality=JPEG_QUALITY)
            return out.getvalue()
    except LimitExceeded:
        raise
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, ...
        raise ParseError(f"JPEG 2000 image could not be decoded ({type(exc).__name__})") from None
