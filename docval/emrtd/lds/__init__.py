"""LDS files: parsing of EF.SOD and the data groups (ICAO 9303-10).

:func:`parse_dg` is the one dispatch from a data group's number to its parser,
for the data groups whose content goes into a result (DG1, DG2, DG7, DG11, DG12).
The key-carrying files (DG14, DG15) are parsed where their protocols live
(:mod:`docval.emrtd.securityinfo`, :mod:`docval.emrtd.aa`).
"""
from __future__ import annotations

from typing import Callable, Literal, Union, overload

from docval.emrtd.errors import UnsupportedError
from docval.emrtd.lds.dg1 import parse_dg1
from docval.emrtd.lds.dg2 import FaceImage, parse_dg2
from docval.emrtd.lds.dg7 import parse_dg7
from docval.emrtd.lds.dg11 import AdditionalPersonalDetails, parse_dg11
from docval.emrtd.lds.dg12 import AdditionalDocumentDetails, parse_dg12
from docval.emrtd.mrz import MRZ

ContentDG = Union[MRZ, list[FaceImage], list[bytes], AdditionalPersonalDetails, AdditionalDocumentDetails]

_PARSERS: dict[int, Callable[[bytes], ContentDG]] = {
    1: parse_dg1,
    2: parse_dg2,
    7: parse_dg7,
    11: parse_dg11,
    12: parse_dg12,
}

#: The data groups :func:`parse_dg` knows, in ascending order.
CONTENT_DGS = tuple(sorted(_PARSERS))


@overload
def parse_dg(number: Literal[1], data: bytes) -> MRZ: ...
@overload
def parse_dg(number: Literal[2], data: bytes) -> list[FaceImage]: ...
@overload
def parse_dg(number: Literal[7], data: bytes) -> list[bytes]: ...
@overload
def parse_dg(number: Literal[11], data: bytes) -> AdditionalPersonalDetails: ...
@overload
def parse_dg(number: Literal[12], data: bytes) -> AdditionalDocumentDetails: ...
@overload
def parse_dg(number: int, data: bytes) -> ContentDG: ...


def parse_dg(number: int, data: bytes) -> ContentDG:
    """Parse content data group ``number``: the MRZ (DG1), the face images (DG2),
    the signature images as stored (DG7) or the additional details (DG11, DG12).

    Raises ParseError or LimitExceeded for malformed content, UnsupportedError for
    a number that is not a content data group."""
    parser = _PARSERS.get(number)
    if parser is None:
        raise UnsupportedError(f"DG{number} is not a content data group")
    return parser(data)
