"""Facial and signature images: format sniffing, header sizes, JPEG conversion.

DG2 faces are JPEG or JPEG 2000 (a JP2 file or a raw J2K codestream); phones
cannot show JPEG 2000 reliably, so the result always carries JPEG.  JPEG is
passed through untouched (no decoding at all).  JPEG 2000 is decoded with Pillow,
but only after the size the image *declares* has been read from its header and
checked: a 20 KB codestream can declare 10^10 pixels, and the decoder would try
to allocate them.

What may be decoded, and how much (DESIGN: attacker-controlled CPU): decoding
JPEG 2000 costs CPU in proportion to the pixels, and the bytes come from the
chip.  So the reader converts only images of data groups whose hash matched a
validly signed EF.SOD, each image is held to a pixel cap suited to its kind
(:data:`FACE_MAX_PIXELS`, :data:`SIGNATURE_MAX_PIXELS`), and every session has
a :class:`DecodeBudget` (images, pixels, CPU seconds).  :func:`convert` is the
unit of work a decoding worker runs; it is pure and picklable.
"""
from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass

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
# ICAO portraits are about 0.3 MP (ISO/IEC 19794-5 token and full-frontal images);
# 2 MP leaves room for high-resolution issuers and stays a ~0.1 s decode.
FACE_MAX_PIXELS = 2_000_000
# A displayed signature scanned at 600 dpi over 75 x 25 mm is about 1 MP.
SIGNATURE_MAX_PIXELS = 1_500_000
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
        with Image.open(io.BytesIO(data), formats=["JPEG2000"]) as decoded:
            # Pillow reads the header itself; hold it to the same limit, since
            # a JP2 header box may disagree with the codestream we checked.
            if decoded.size[0] * decoded.size[1] > max_pixels:
                raise LimitExceeded("image exceeds the pixel limit")
            decoded.load()
            image: Image.Image = decoded
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


@dataclass(frozen=True)
class Converted:
    """What a decoding worker sends back: the JPEG, and what it cost."""

    jpeg: bytes
    cpu_seconds: float
    worker: int          # process id of the worker (tests check decoding left the server's)

    def __repr__(self) -> str:   # never the image
        return f"Converted({len(self.jpeg)} bytes, {self.cpu_seconds:.3f} s CPU)"


def convert(data: bytes, max_pixels: int) -> Converted:
    """:func:`to_jpeg`, timed in CPU seconds of the calling process."""
    start = time.process_time()
    jpeg = to_jpeg(data, max_pixels=max_pixels)
    return Converted(jpeg, time.process_time() - start, os.getpid())


@dataclass(frozen=True)
class DecodeLimits:
    """How much JPEG 2000 decoding one session may cause.

    A genuine document has one face and at most a few signature images; an
    attacker with many large images in a validly signed file (or a server that
    trusts a careless signer) gets this much and no more.
    """

    max_images: int = 4
    max_pixels: int = 6_000_000
    max_cpu_seconds: float = 2.0


class DecodeBudget:
    """One session's remaining decoding allowance (:class:`DecodeLimits`).

    Pixels are charged from the size the header declares, before decoding; CPU
    seconds after, as the worker measured them, so the decode that crosses the
    limit completes and the next one is refused.
    """

    def __init__(self, limits: DecodeLimits | None = None):
        self.limits = limits or DecodeLimits()
        self.images = 0
        self.pixels = 0
        self.cpu_seconds = 0.0

    def __repr__(self) -> str:
        return f"DecodeBudget(images={self.images}, pixels={self.pixels}, cpu={self.cpu_seconds:.3f})"

    def admit(self, pixels: int) -> str | None:
        """Charge one image of ``pixels``; the reason it is refused, or None."""
        lim = self.limits
        if self.images + 1 > lim.max_images:
            return f"the session's limit of {lim.max_images} decoded images is reached"
        if self.pixels + pixels > lim.max_pixels:
            return f"the session's limit of {lim.max_pixels} decoded pixels is reached"
        if self.cpu_seconds >= lim.max_cpu_seconds:
            return f"the session's limit of {lim.max_cpu_seconds:g} CPU seconds for decoding is reached"
        self.images += 1
        self.pixels += pixels
        return None

    def spend(self, cpu_seconds: float) -> None:
        self.cpu_seconds += max(0.0, cpu_seconds)


def needs_decoding(data: bytes) -> bool:
    """True for JPEG 2000 (converted to JPEG); JPEG passes through undecoded."""
    return sniff(data) in (JP2, J2K)
