"""The largest genuine document the file caps allow, for delivery tests.

:func:`fill_to_caps` grows the image-bearing data groups of a virtual chip -- the
face (DG2), the signature images (DG7), the proof of citizenship (DG11) and the
document's front and rear (DG12) -- to exactly ``max_file_bytes`` each, and signs
a new EF.SOD over them, so the document stays genuine.  The images stay valid
JPEGs: they grow by comment (COM) segments, which every decoder skips.

A result of such a document holds every image decoded and, with ``files_binary``,
every file again: it is many times larger than any message a phone may send.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from docval.emrtd import files
from docval.emrtd.lds.dg11 import parse_dg11
from docval.emrtd.lds.dg12 import parse_dg12
from docval.sim import datagroups
from docval.sim.edit import app_files, put_dg

_SOI = b"\xff\xd8"
_COM = b"\xff\xfe"
_MAX_SEGMENT = 2 + 0xFFFF        # marker + a length field that counts itself


def padded_jpeg(jpeg: bytes, size: int) -> bytes:
    """``jpeg`` grown to exactly ``size`` bytes with COM segments right after SOI."""
    if not jpeg.startswith(_SOI):
        raise ValueError("not a JPEG")
    need = size - len(jpeg)
    if need < 0 or 0 < need < 4:
        raise ValueError(f"cannot grow a JPEG of {len(jpeg)} bytes to {size}")
    segments = []
    while need:
        take = min(need, _MAX_SEGMENT)
        if 0 < need - take < 4:
            take -= 4                # leave room for one more (minimal) segment
        body = b"\x00" * (take - 4)
        segments.append(_COM + (take - 2).to_bytes(2, "big") + body)
        need -= take
    return _SOI + b"".join(segments) + jpeg[2:]


def _fit(build: Callable[[int], bytes], size: int) -> bytes:
    """``build(padding)`` with the padding that makes it exactly ``size`` bytes."""
    padding = 0
    for _ in range(8):
        data = build(padding)
        if len(data) == size:
            return data
        padding += size - len(data)
    raise ValueError(f"no padding makes the data group {size} bytes long")


def fill_to_caps(chip: Any, max_file_bytes: int = files.MAX_FILE_SIZE, *, seed: int = 40) -> dict[int, bytes]:
    """Make DG2, DG7, DG11 and DG12 of ``chip`` exactly ``max_file_bytes`` long, each
    with at least one image, re-sign EF.SOD, and return the new data groups."""
    face = datagroups.make_face_jpeg(480, 640, seed=seed)
    signature = datagroups.make_face_jpeg(300, 100, seed=seed + 1)
    paper = datagroups.make_face_jpeg(320, 220, seed=seed + 2)
    existing = app_files(chip)
    dg11 = parse_dg11(existing[11]) if 11 in existing else None
    dg12 = parse_dg12(existing[12]) if 12 in existing else None
    if dg11 is None or dg12 is None:
        raise ValueError("the chip's document has no DG11 or DG12 to grow")
    # The parsers note problems for the result; a re-encoded data group must not carry them.
    dg11 = replace(dg11, problems=[])
    dg12 = replace(dg12, problems=[])

    def grow(image: bytes, extra: int) -> bytes:
        return padded_jpeg(image, len(image) + extra) if extra else image

    built = {
        2: _fit(lambda extra: datagroups.encode_dg2([(grow(face, extra), 480, 640, "jpeg")]), max_file_bytes),
        7: _fit(lambda extra: datagroups.encode_dg7([grow(signature, extra), signature]), max_file_bytes),
        11: _fit(lambda extra: datagroups.encode_dg11(
            replace(dg11, proof_of_citizenship_image=grow(paper, extra))), max_file_bytes),
        12: _fit(lambda extra: datagroups.encode_dg12(
            replace(dg12, image_of_front=grow(paper, extra), image_of_rear=paper)), max_file_bytes),
    }
    for n, content in built.items():
        put_dg(chip, n, content, resign=False)
    put_dg(chip, 1, app_files(chip)[1])            # one new EF.SOD over everything
    return built
