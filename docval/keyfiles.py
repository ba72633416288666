"""The checks on the files that carry the Chip and Active Authentication keys.

EF.DG14 (the CA key) and EF.DG15 (the AA key) are only as good as EF.SOD's hash
over them: a key from a file that does not match is never used; EF.CardSecurity
(the key PACE-CAM is checked against) only as good as its own signature.  Each check
records what it found in the mechanism's :class:`docval.verdicts.MechanismFacts`
(read, hash mismatch, no usable key), so the verdict rules see the same facts
whichever front end obtained the file: the v1 reader reads it from the chip,
a v2 phone sends it.
"""
from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any, Awaitable, Callable, Optional

from docval import verdicts
from docval.emrtd import hashes
from docval.emrtd.aa import parse_dg15
from docval.emrtd.ca import choose_ca, load_ca_key
from docval.emrtd.errors import EmrtdError, LimitExceeded, ParseError, UnsupportedError
from docval.emrtd.lds.cms import parse_signed_data
from docval.emrtd.lds.sod import SOD
from docval.emrtd.pa import verify_signed_data
from docval.emrtd.pace import PaceResult, verify_cam
from docval.emrtd.publickey import PublicKey
from docval.emrtd.securityinfo import (
    ActiveAuthenticationInfo,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PACEInfo,
    SecurityInfos,
    parse_dg14,
    parse_security_infos,
)
from docval.emrtd.trustview import TrustView

CaChoice = tuple[Optional[ChipAuthenticationInfo], ChipAuthenticationPublicKeyInfo]


def declare_from_sod(sod: SOD, facts: verdicts.Facts) -> None:
    """EF.SOD listing DG14 declares Chip Authentication, listing DG15 Active Authentication."""
    if 14 in sod.dg_hashes:
        facts.ca.declare("EF.SOD")
    if 15 in sod.dg_hashes:
        facts.aa.declare("EF.SOD")


def declare_from_card_access(infos: SecurityInfos, facts: verdicts.Facts) -> None:
    """EF.CardAccess declares Chip Authentication with CA infos or keys, or PACE-CAM."""
    if infos.ca_infos or infos.ca_public_keys or any(_mapping(i) == "CAM" for i in infos.pace_infos):
        facts.ca.declare("EF.CardAccess")


def _mapping(info: PACEInfo) -> str | None:
    try:
        return info.parts.mapping
    except EmrtdError:
        return None


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


async def check_cam(card_security: bytes, pace_result: PaceResult, ca: verdicts.MechanismFacts, *,
                    trust: TrustView | None, at: datetime, offload: Callable[..., Awaitable[Any]]) -> None:
    """Whether PACE-CAM proved the chip: its CAM data against a CA key of EF.CardSecurity,
    whose signature must verify like EF.SOD's (``offload`` runs that CPU work)."""
    try:
        signed = parse_signed_data(card_security)
        verdict = await offload(verify_signed_data, signed, trust, at)
        infos = parse_security_infos(signed.content)
    except (ParseError, UnsupportedError, LimitExceeded) as exc:
        ca.file("EF.CardSecurity", verdicts.FILE_UNPARSABLE, f"malformed: {exc}")
        return
    if infos.ca_infos or infos.ca_public_keys:
        ca.declare("EF.CardSecurity")
    if not (verdict.sod_signature_valid and verdict.document_certificate_valid):
        ca.file("EF.CardSecurity", verdicts.FILE_UNSIGNED, str(verdict.error or ""))
        return
    ca.file("EF.CardSecurity", verdicts.FILE_READ)
    if any(verify_cam(pace_result, load_ca_key(k)) for k in infos.ca_public_keys):
        ca.tried(verdicts.PROVEN)
    else:
        ca.tried(verdicts.DISPROVEN, "PACE-CAM: the chip's authentication data does not match EF.CardSecurity")
