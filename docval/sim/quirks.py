"""How a virtual chip differs from the textbook: the switches of :class:`ChipQuirks`.

Kept apart from :mod:`docval.sim.chip` because the file commands
(:mod:`docval.sim.file_chip`) read them too, through the
:class:`~docval.sim.mechanism.ChipContext`, and must not import the chip.
"""
from __future__ import annotations

from dataclasses import dataclass

from docval.emrtd.apdu import MAX_EXTENDED_LE, SW_CHAINING_NOT_SUPPORTED, SW_END_OF_FILE, SW_OK, SW_WRONG_P1P2

EOF_6C = 0x6C00


@dataclass
class ChipQuirks:
    """How this chip differs from the textbook.

    ``max_le``: the most plain bytes one READ BINARY returns; a larger Le is
    refused with ``too_long_sw`` — ``"6700"`` or ``"6C"`` (6Cxx naming
    ``max_le``, which only makes sense up to 256).  ``extended_length``: False
    refuses every extended APDU with 6700.  ``sfi``: False refuses READ BINARY
    with an SFI with ``sfi_error``.  ``eof_sw``: how a read running past the end
    of a file ends — ``0x6282`` with the remaining bytes, or ``0x9000`` with them.
    ``access_control_required``: application files and the mechanisms that
    need access control (Active Authentication) answer 6982 until access
    control succeeded.  ``plain_errors``: error status words go out unprotected
    under Secure Messaging (the SSC still advances).  Whether a chip runs BAC is
    not a quirk: it is whether a BAC key (a :class:`~docval.sim.bac_chip.BacChip`)
    is plugged in.
    """

    max_le: int = MAX_EXTENDED_LE
    too_long_sw: str = "6700"
    extended_length: bool = True
    sfi: bool = True
    sfi_error: int = SW_WRONG_P1P2
    eof_sw: int = SW_END_OF_FILE
    access_control_required: bool = True
    plain_errors: bool = False
    # False: refuse ISO 7816-4 command chaining of MSE / CA's GENERAL AUTHENTICATE
    # with ``chaining_refusal_sw`` (6884, or e.g. 6E00 from chips that reject CLA b5).
    command_chaining: bool = True
    chaining_refusal_sw: int = SW_CHAINING_NOT_SUPPORTED

    def __post_init__(self) -> None:
        if not 1 <= self.max_le <= MAX_EXTENDED_LE:
            raise ValueError("max_le must be 1..65536")
        if self.too_long_sw not in ("6700", "6C"):
            raise ValueError("too_long_sw is '6700' or '6C'")
        if self.eof_sw not in (SW_END_OF_FILE, SW_OK, EOF_6C):
            raise ValueError("eof_sw is 0x6282, 0x9000 or 0x6C00")
