"""EF.DG1, the MRZ (ICAO 9303-10 §4.7.1): tag 61 holding 5F1F, the MRZ lines
concatenated.  The MRZ itself is read by :mod:`docval.emrtd.mrz`."""
from __future__ import annotations

from docval.emrtd.errors import ParseError
from docval.emrtd.lds import dgfields
from docval.emrtd.mrz import MRZ, parse_mrz

DG1_TAG = 0x61
MRZ_TAG = 0x5F1F


def parse_dg1(data: bytes) -> MRZ:
    root = dgfields.open_template(data, DG1_TAG, "DG1")
    for item in dgfields.children(root, "DG1"):
        if item.tag == MRZ_TAG:
            try:
                text = item.value.decode("ascii")
            except UnicodeDecodeError:
                raise ParseError("DG1: the MRZ is not ASCII") from None
            return parse_mrz(text)
    raise ParseError("DG1: no MRZ (tag 5F1F)")
