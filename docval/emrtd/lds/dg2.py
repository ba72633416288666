"""EF.DG2, encoded face (ICAO 9303-10 §4.7.2).

Layout: ``75`` { ``7F61`` biometric information group template { ``02`` count,
``7F60`` biometric information template { ``A1`` header, ``5F2E`` (or ``7F2E``)
biometric data block } ... } }.  The data block is an ISO/IEC 19794-5 facial
record: ``FAC\\0``, version, record length, number of images, then per image a
facial information block, feature points, image information and the image.

The image information declares JPEG or JPEG 2000, and real documents get that
wrong (the ICAO specimen itself declares JPEG 2000 for a JPEG), so the format is
taken from the image's magic bytes.  Records in other layouts (19794-5:2011,
ISO/IEC 39794-5 inside ``7F2E``) are searched for the image instead of being
parsed field by field.  Nothing is decoded here.
"""
from __future__ import annotations

from dataclasses import dataclass

from docval.emrtd import images, tlv
from docval.emrtd.errors import LimitExceeded, ParseError, TLVError
from docval.emrtd.lds import dgfields

DG2_TAG = 0x75
BIT_GROUP = 0x7F61
BIT = 0x7F60
HEADER = 0xA1
BDB = 0x5F2E
BDB_CONSTRUCTED = 0x7F2E
COUNT = 0x02

FACIAL_MAGIC = b"FAC\x00"
VERSION_2005 = b"010\x00"
RECORD_HEADER = 14
FACIAL_INFO = 20
FEATURE_POINT = 8
IMAGE_INFO = 12

MAX_FACES = 16              # a passport has one; a few more is still plausible
MAX_BDB_ITEMS = 256         # TLV items searched inside a constructed data block
MAX_BDB_DEPTH = 8

_MAGICS = (b"\xFF\xD8\xFF", bytes.fromhex("0000000C6A502020"), b"\xFF\x4F\xFF\x51")


@dataclass(frozen=True, repr=False)
class FaceImage:
    """One face: its real format (sniffed), the image bytes, and its size as
    the image header (or else the biometric header) declares it."""

    mime: str
    data: bytes
    width: int | None
    height: int | None

    def __repr__(self) -> str:
        return f"FaceImage({self.mime}, {len(self.data)} bytes, {self.width}x{self.height})"


def parse_dg2(data: bytes) -> list[FaceImage]:
    root = dgfields.open_template(data, DG2_TAG, "DG2")
    faces: list[FaceImage] = []
    groups = [item for item in dgfields.children(root, "DG2") if item.tag == BIT_GROUP]
    if not groups:
        raise ParseError("DG2: no biometric information group template (7F61)")
    for group in groups:
        for template in dgfields.children(group, "DG2 7F61"):
            if template.tag == COUNT:
                continue
            if template.tag != BIT:
                raise ParseError(f"DG2: unexpected tag {template.tag:X} in 7F61")
            for face in _template_faces(template):
                if len(faces) >= MAX_FACES:
                    raise ParseError(f"DG2: more than {MAX_FACES} face images")
                faces.append(face)
    return faces


def _template_faces(template: tlv.TLV) -> list[FaceImage]:
    blocks = [c for c in dgfields.children(template, "DG2 7F60") if c.tag in (BDB, BDB_CONSTRUCTED)]
    if len(blocks) != 1:
        raise ParseError("DG2: a biometric information template needs exactly one data block")
    block = blocks[0]
    if block.tag == BDB_CONSTRUCTED:
        found = _search_tlv(block.value)
        if found is None:
            found = _scan(block.value)
        return [_face(found, None, None)]
    if block.value.startswith(FACIAL_MAGIC):
        return _facial_record(block.value)
    # Some issuers put the bare image in the data block.
    return [_face(_scan(block.value), None, None)]


def _facial_record(record: bytes) -> list[FaceImage]:
    if record[4:8] == VERSION_2005:
        parsed = _facial_record_2005(record)
        # Lengths that add up but frame no image mean another layout after all.
        if parsed is not None and (any(f.mime != images.UNKNOWN for f in parsed) or not _has_image(record)):
            return parsed
    # Another version or inconsistent lengths: find the image by its signature.
    return [_face(_scan(record[RECORD_HEADER:]), None, None)]


def _facial_record_2005(record: bytes) -> list[FaceImage] | None:
    """ISO/IEC 19794-5:2005 field by field; None when the lengths do not add up."""
    if len(record) < RECORD_HEADER:
        return None
    count = int.from_bytes(record[12:14], "big")
    if count > MAX_FACES:
        raise ParseError(f"DG2: facial record declares {count} images")
    faces = []
    offset = RECORD_HEADER
    for _ in range(count):
        if offset + FACIAL_INFO > len(record):
            return None
        block_length = int.from_bytes(record[offset : offset + 4], "big")
        points = int.from_bytes(record[offset + 4 : offset + 6], "big")
        info = offset + FACIAL_INFO + FEATURE_POINT * points
        start = info + IMAGE_INFO
        end = offset + block_length
        if end > len(record) or start > end:
            return None
        width = int.from_bytes(record[info + 2 : info + 4], "big")
        height = int.from_bytes(record[info + 4 : info + 6], "big")
        faces.append(_face(record[start:end], width, height))
        offset = end
    return faces


def _search_tlv(value: bytes) -> bytes | None:
    """A primitive TLV holding an image somewhere inside a constructed block."""
    stack = [(value, 1)]
    visited = 0
    while stack:
        chunk, depth = stack.pop()
        try:
            items = tlv.parse_all(chunk)
        except TLVError:
            continue
        for item in items:
            visited += 1
            if visited > MAX_BDB_ITEMS:
                raise ParseError("DG2: data block too complex")
            if item.value.startswith(_MAGICS):
                return item.value
            if item.constructed and depth < MAX_BDB_DEPTH:
                stack.append((item.value, depth + 1))
    return None


def _has_image(data: bytes) -> bool:
    return any(m in data for m in _MAGICS)


def _scan(data: bytes) -> bytes:
    positions = [p for p in (data.find(m) for m in _MAGICS) if p >= 0]
    if not positions:
        raise ParseError("DG2: no JPEG or JPEG 2000 image in the data block")
    return data[min(positions):]


def _face(image: bytes, width: int | None, height: int | None) -> FaceImage:
    mime = images.sniff(image)
    try:
        width, height = images.declared_size(image)
    except (ParseError, LimitExceeded):
        pass    # keep what the biometric header says; decoding will judge the image
    return FaceImage(mime, bytes(image), width, height)
