"""EF.DG7, displayed signature or usual mark (ICAO 9303-10 §4.7.7):
``67`` { ``02`` count, ``5F43`` image, ... }.  The images are returned as stored."""
from __future__ import annotations

from docval.emrtd.errors import ParseError
from docval.emrtd.lds import dgfields

DG7_TAG = 0x67
COUNT = 0x02
IMAGE = 0x5F43
MAX_IMAGES = 16


def parse_dg7(data: bytes) -> list[bytes]:
    root = dgfields.open_template(data, DG7_TAG, "DG7")
    found: list[bytes] = []
    for item in dgfields.children(root, "DG7"):
        if item.tag == IMAGE:
            if len(found) >= MAX_IMAGES:
                raise ParseError(f"DG7: more than {MAX_IMAGES} images")
            found.append(item.value)
        elif item.tag != COUNT:
            raise ParseError(f"DG7: unexpected tag {item.tag:X}")
    return found
