"""The checks on the files that carry the Chip and Active Authentication keys.

EF.DG14 (the CA key) and EF.DG15 (the AA key) are only as good as EF.SOD's hash
over them: a key from a file that does not match is never used.  Each check
records what it found in the mechanism's :class:`docval.verdicts.MechanismFacts`
(read, hash mismatch, no usable key), so the verdict rules see the same facts
whichever front end obtained the file: the v1 reader reads it from the chip,
a v2 phone sends it.
"""
from __future__ import annotations

import hmac
from typing import Optional

from docval import verdicts
from docval.emrtd import hashes
from docval.emrtd.aa import parse_dg15
from docval.emrtd.ca import choose_ca
from docval.emrtd.errors import LimitExceeded, ParseError, UnsupportedError
from docval.emrtd.lds.sod import SOD
from docval.emrtd.publickey import PublicKey
from docval.emrtd.securityinfo import (
    ActiveAuthenticationInfo,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    parse_dg14,
)

CaChoice = tuple[Optional[ChipAuthenticationInfo], ChipAuthenticationPublicKeyInfo]


def declare_from_sod(sod: SOD, facts: verdicts.Facts) -> None:
    """EF.SOD listing DG14 declares Chip Authentication, listing DG15 Active Authentication."""
    if 14 in sod.dg_hashes:
        facts.ca.declare("EF.SOD")
    if 15 in sod.dg_hashes:
        facts.aa.declare("EF.SOD")


def hash_matches(sod: SOD, dg: int, data: bytes) -> bool:
    """True when EF.SOD lists ``dg`` and ``data`` hashes to the value it signs."""
    expected = sod.dg_hashes.get(dg)
    if expected is None:
        return False
    try:
        actual = hashes.digest(sod.hash_algorithm, bytes(data))
    except UnsupportedError:
        return False
    return hmac.compare_digest(actual, expected)


def check_dg14(sod: SOD, data: bytes, ca: verdicts.MechanismFacts) -> CaChoice | None:
    """The CA key to use from EF.DG14, or None (the reason recorded in ``ca``)."""
    if not hash_matches(sod, 14, data):
        ca.file("EF.DG14", verdicts.FILE_HASH_MISMATCH)
        return None
    try:
        infos = parse_dg14(data)
        choice = choose_ca(infos)
    except (ParseError, UnsupportedError, LimitExceeded) as exc:
        ca.file("EF.DG14", verdicts.FILE_UNPARSABLE, str(exc))
        return None
    ca.file("EF.DG14", verdicts.FILE_READ)
    if choice is None:
        if not infos.ca_infos and ca.declared_by == ["EF.SOD"]:
            # A DG14 that EF.SOD signs and that holds no CA at all (only PACE or AA
            # infos): the document itself says it has no Chip Authentication.
            ca.declared_by.clear()
        else:
            ca.file("EF.DG14", verdicts.FILE_UNPARSABLE, "no Chip Authentication public key")
    return choice


def check_dg15(sod: SOD, data: bytes, dg14: bytes | None,
               aa: verdicts.MechanismFacts) -> tuple[PublicKey, ActiveAuthenticationInfo | None] | None:
    """The AA key from EF.DG15 and, from a DG14 that EF.SOD covers, the signature
    algorithm it names (ECDSA); None when the key cannot be used (reason in ``aa``)."""
    if not hash_matches(sod, 15, data):
        aa.file("EF.DG15", verdicts.FILE_HASH_MISMATCH)
        return None
    aa_info = None
    try:
        if dg14 is not None and hash_matches(sod, 14, dg14):
            infos = parse_dg14(dg14)
            aa_info = infos.aa_infos[0] if infos.aa_infos else None
        key = parse_dg15(data)
    except (ParseError, UnsupportedError, LimitExceeded) as exc:
        aa.file("EF.DG15", verdicts.FILE_UNPARSABLE, str(exc))
        return None
    aa.file("EF.DG15", verdicts.FILE_READ)
    return key, aa_info
