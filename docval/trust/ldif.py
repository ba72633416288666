"""The parts of ICAO PKD LDIF downloads that hold certificates, CRLs and master lists.

An LDIF file is a list of entries; attributes whose name is followed by ``::``
carry base64 values, continued on lines that start with one space (RFC 2849).
"""
from __future__ import annotations

import base64
import binascii
from typing import Iterator

from docval.emrtd.errors import ParseError

CERTIFICATE_ATTRIBUTES = {"usercertificate;binary", "usercertificate", "cacertificate;binary",
                          "cacertificate"}
CRL_ATTRIBUTES = {"certificaterevocationlist;binary", "certificaterevocationlist"}
MASTER_LIST_ATTRIBUTES = {"cscamasterlistdata", "pkdmasterlistcontent"}


def iter_binary_values(text: str) -> Iterator[tuple[str, bytes]]:
    """Yield (lower-case attribute name, decoded bytes) for every base64 value."""
    lines: list[str] = []
    for raw in text.splitlines():
        if raw.startswith(" ") and lines:
            lines[-1] += raw[1:]
        else:
            lines.append(raw)
    for number, line in enumerate(lines, 1):
        if not line or line.startswith("#") or "::" not in line:
            continue
        name, _, value = line.partition("::")
        if ":" in name:          # a plain "attr: value" whose value contains "::"
            continue
        try:
            data = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ParseError(f"LDIF line {number}: bad base64 value") from None
        yield name.strip().lower(), data
