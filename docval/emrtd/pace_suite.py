"""Which PACE to run: what a PACEInfo determines (:class:`PaceSuite`) and, of
several offered, the one to choose (:func:`choose_pace_info`).

Only standardized domain parameters are accepted (ids 0-2 for the RFC 5114 MODP
groups, 8-18 for the curves): explicit or proprietary ones, unknown OIDs and
other versions are :class:`UnsupportedError` here, before any command is sent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional

from docval.emrtd import crypto
from docval.emrtd.crypto import CipherSpec
from docval.emrtd.errors import EmrtdError, UnsupportedError
from docval.emrtd.pace_mapping import Domain, EcDomain, domain_for
from docval.emrtd.securityinfo import PACEInfo, ProtocolParts, protocol_parts

CIPHER_SPECS = {"TDES": crypto.TDES, "AES128": crypto.AES128,
                "AES192": crypto.AES192, "AES256": crypto.AES256}


@dataclass(frozen=True)
class PaceSuite:
    """Everything a PACEInfo determines: protocol, cipher and domain."""

    oid: str
    parts: ProtocolParts
    cipher: CipherSpec
    domain: Domain = field(compare=False)
    parameter_id: int

    @property
    def mapping(self) -> str:
        return self.parts.mapping or ""

    @property
    def protocol(self) -> str:
        return self.parts.name


def suite_for(oid: str, parameter_id: Optional[int]) -> PaceSuite:
    parts = protocol_parts(oid)
    if parts is None or parts.family != "PACE":
        raise UnsupportedError("not a known PACE protocol identifier")
    domain = domain_for(parts.key_agreement, parameter_id)
    if (parts.mapping == "IM" and isinstance(domain, EcDomain)
            and domain.curve.p % 4 != 3):
        # The point encoding of Appendix B / [BCIMRT2010] needs p = 3 mod 4;
        # of the standardized curves only NIST P-224 fails that.
        raise UnsupportedError(f"PACE-IM is not defined on {domain.name}")
    assert parameter_id is not None
    return PaceSuite(oid, parts, CIPHER_SPECS[parts.cipher], domain, parameter_id)


def nonce_length(suite: PaceSuite) -> int:
    """The IM nonce length l: the smallest block multiple >= the key length k.

    For 3DES k counts as 128 bits (9303-11 §4.4.3.3.2 note), so l is 16 bytes.
    """
    k = suite.cipher.key_length
    b = suite.cipher.block_size
    return -(-k // b) * b


# Why this order (docs/reliability.md A4, 9303-11 §4.4.3):
# - CAM first: the same handshake also authenticates the chip (with PA), saving
#   Chip Authentication's extra round trips; then GM, the variant every chip and
#   reader implements; IM last, the least deployed (it also cannot run on P-224).
# - ECDH before DH: much smaller messages and far less CPU than 2048-bit DH.
# - AES before 3DES (3DES is being deprecated), larger AES keys first.
# - Among otherwise equal options, the larger curve/group is the stronger one.
_MAPPING_RANK = {"CAM": 0, "GM": 1, "IM": 2}
_KA_RANK = {"ECDH": 0, "DH": 1}
_CIPHER_RANK = {"AES256": 0, "AES192": 1, "AES128": 2, "TDES": 3}


def _domain_bits(suite: PaceSuite) -> int:
    return suite.domain.field_bits


def choose_pace_info(infos: Iterable[PACEInfo]) -> Optional[PACEInfo]:
    """The best standardized PACEInfo offered, or None when none is usable.

    Unknown OIDs, versions other than 2, missing or non-standardized parameter
    ids (proprietary or explicit domain parameters) are skipped, never fatal.
    """
    best = None
    best_key = None
    for info in infos:
        if getattr(info, "version", None) != 2:
            continue
        try:
            suite = suite_for(info.oid, info.parameter_id)
        except EmrtdError:
            continue
        key = (_MAPPING_RANK[suite.mapping], _KA_RANK[suite.parts.key_agreement],
               _CIPHER_RANK[suite.parts.cipher], -_domain_bits(suite))
        if best_key is None or key < best_key:
            best, best_key = info, key
    return best
