"""How a v2 session's facts about Chip and Active Authentication become verdict facts.

In the Kinegram v2 API the phone reads the chip; the server sees files, at most one
relayed Chip Authentication, and an Active Authentication signature in FINISH.  This
module turns those into the :class:`docval.verdicts.Facts` that v1 also fills, so the one
rule table (docval/verdicts.py) decides both APIs.  Called at FINISH, once EF.SOD is
parsed and before :func:`docval.assessment.assess` decides.

Chip Authentication is ``SUCCESS`` only when all of these hold (docs/websocket-api-v2.md):

* the server ran it itself through the relay and read EF.DG1 under the new keys
  (:class:`~docval.emrtd.handover.RelayOutcome` attempt ``proven``);
* its key came from the ``dg14`` the phone sent *before* CA_HANDOVER, which is the DG14
  hashed against EF.SOD (the session refuses a second ``dg14``; checked again here);
* that DG14 matches its hash in EF.SOD (``docval.keyfiles.check_dg14``), and EF.SOD is
  valid (``sod_valid``, set later by assess: rule ``proven-without-valid-sod``).

A document that declares CA (EF.SOD lists DG14, or the DG14 sent holds CA or PACE-CAM
information) whose phone never handed over is ``FAILED`` ("the phone skipped chip
authentication"), never ``UNAVAILABLE``; a chip with PACE-CAM and no CA key is ``FAILED``
because CAM runs on the phone where the server cannot check it.

Active Authentication: a signature over *this* session's challenge by the DG15 key EF.SOD
covers is ``proven``; a signature that does not verify is ``disproven``; no signature on a
document whose EF.SOD lists DG15 is ``no-signature``, which the rules make ``UNAVAILABLE``
only when CA is ``SUCCESS`` and ``FAILED`` (a downgrade) otherwise.

Pure: no I/O; messages carry no document data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from docval import keyfiles, verdicts
from docval.emrtd.aa import verify_response
from docval.emrtd.ca import choose_ca
from docval.emrtd.errors import AuthenticationError, EmrtdError, LimitExceeded, ParseError, UnsupportedError
from docval.emrtd.handover import RelayOutcome
from docval.emrtd.lds.sod import SOD
from docval.emrtd.securityinfo import (
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PACEInfo,
    SecurityInfos,
    parse_dg14,
)

CaChoice = tuple[Optional[ChipAuthenticationInfo], ChipAuthenticationPublicKeyInfo]

# The relay reports its attempt with these words (docval.emrtd.handover pins them equal).
_RELAY_ATTEMPTS = frozenset({verdicts.PROVEN, verdicts.DISPROVEN, verdicts.REFUSED,
                             verdicts.COMMAND_TOO_LONG, verdicts.RESPONSE_TOO_LONG})
# RelayOutcome.detail is a whole sentence for the log; the verdict rules add their own start.
_DETAIL_PREFIXES = ("chip authentication failed: ", "chip authentication not attempted: ")


@dataclass(frozen=True)
class Recorded:
    """What the evidence adds to the report besides the facts (no personal data)."""

    ca_protocol: str | None         # Report.chip_authentication_protocol, on a proven relay
    aa_algorithm: str | None        # Report.active_authentication_algorithm, when a signature was checked


def ca_choice(dg14: bytes) -> tuple[CaChoice | None, str]:
    """The CA key to relay with, from the phone's ``dg14`` at CA_HANDOVER (EF.SOD comes
    only at FINISH, so its hash is checked then, by :func:`record_ca`).  None and the
    reason when DG14 offers no usable key: the relay then reads DG1 and hands back
    ``UNAVAILABLE``, and the verdict comes from the evidence."""
    try:
        choice = choose_ca(parse_dg14(dg14))
    except (ParseError, UnsupportedError, LimitExceeded) as exc:
        return None, str(exc)
    if choice is None:
        return None, "DG14 holds no Chip Authentication public key"
    return choice, ""


def record(facts: verdicts.Facts, sod: SOD, dgs: dict[int, bytes], *, relay: RelayOutcome | None,
           dg14_at_handover: bytes | None, challenge: bytes, signature: bytes | None) -> Recorded:
    """Record CA and AA for a finished v2 session.  ``dgs`` are the files the session
    holds (the server's own DG1 included), ``relay`` the relay's outcome (None: the phone
    never handed over), ``dg14_at_handover`` the ``dg14`` in hand at CA_HANDOVER,
    ``challenge`` the one ACCEPT sent and ``signature`` FINISH's."""
    protocol = record_ca(facts, sod=sod, dg14=dgs.get(14), outcome=relay, dg14_at_handover=dg14_at_handover)
    algorithm = record_aa(facts, sod=sod, dg15=dgs.get(15), dg14=dgs.get(14), signature=signature,
                          challenge=challenge)
    return Recorded(protocol, algorithm)


def record_ca(facts: verdicts.Facts, *, sod: SOD, dg14: bytes | None, outcome: RelayOutcome | None,
              dg14_at_handover: bytes | None) -> str | None:
    """Record Chip Authentication; returns the protocol name when the relay proved it."""
    ca = facts.ca
    if 14 in sod.dg_hashes:
        ca.declare("EF.SOD")
    infos = _security_infos(dg14)
    cam_only = False
    if dg14 is not None:
        keyfiles.check_dg14(sod, dg14, ca)      # file state; clears the declaration of a CA-less DG14
        if infos is not None and (infos.ca_infos or infos.ca_public_keys):
            ca.declare("EF.DG14")
        elif infos is not None and any(_mapping(i) == "CAM" for i in infos.pace_infos):
            ca.declare("EF.DG14")
            cam_only = True
            ca.tried(verdicts.CAM_ONLY)
    if outcome is None:
        if ca.declared_by and ca.attempt is None:
            ca.tried(verdicts.PHONE_SKIPPED, "" if dg14 is not None else "EF.DG14 was not sent")
        return None
    if dg14_at_handover is None or dg14 is None or bytes(dg14_at_handover) != bytes(dg14):
        # The session refuses a second dg14, so this is a bug elsewhere; it must still never
        # let a key from one file be proven against the hash of another.
        if not cam_only:
            ca.tried(verdicts.DISPROVEN, "the key relayed was not from the EF.DG14 checked against EF.SOD")
        return None
    if cam_only:
        return None
    detail = _bare(outcome.detail)
    if outcome.attempt is None:
        # The relay found no usable key in DG14; check_dg14 usually said so already.
        if ca.file_state == verdicts.FILE_READ:
            ca.file("EF.DG14", verdicts.FILE_UNPARSABLE, detail)
        return None
    if outcome.attempt not in _RELAY_ATTEMPTS:
        ca.tried(verdicts.DISPROVEN, detail)
        return None
    if outcome.attempt == verdicts.PROVEN:
        ca.tried(verdicts.PROVEN)
        return outcome.protocol
    ca.tried(outcome.attempt, detail)
    return None


def record_aa(facts: verdicts.Facts, *, sod: SOD, dg15: bytes | None, dg14: bytes | None,
              signature: bytes | None, challenge: bytes) -> str | None:
    """Record Active Authentication; returns the algorithm when a signature was checked."""
    aa = facts.aa
    if 15 in sod.dg_hashes:
        aa.declare("EF.SOD")
    if not aa.declared_by:
        return None     # without a DG15 in EF.SOD no key is trusted: a signature proves nothing
    if signature is None:
        if dg15 is not None:
            keyfiles.check_dg15(sod, dg15, dg14, aa)     # a DG15 that fails its hash stays FAILED
        aa.tried(verdicts.NO_SIGNATURE)
        return None
    if dg15 is None:
        aa.tried(verdicts.DISPROVEN, "the phone sent a signature but not EF.DG15")
        return None
    checked = keyfiles.check_dg15(sod, dg15, dg14, aa)
    if checked is None:
        return None
    key, aa_info = checked
    try:
        result = verify_response(key, aa_info, challenge, signature)
    except (AuthenticationError, UnsupportedError, LimitExceeded, ParseError) as exc:
        aa.tried(verdicts.DISPROVEN, str(exc))
        return None
    if result.success:
        aa.tried(verdicts.PROVEN)
    else:
        aa.tried(verdicts.DISPROVEN, result.error or "the signature does not verify")
    return result.algorithm


def _security_infos(dg14: bytes | None) -> SecurityInfos | None:
    if dg14 is None:
        return None
    try:
        return parse_dg14(dg14)
    except (ParseError, UnsupportedError, LimitExceeded):
        return None


def _mapping(info: PACEInfo) -> str | None:
    try:
        return info.parts.mapping
    except EmrtdError:      # an OID that names no known PACE variant
        return None


def _bare(detail: str) -> str:
    for prefix in _DETAIL_PREFIXES:
        if detail.startswith(prefix):
            return detail[len(prefix):]
    return detail
