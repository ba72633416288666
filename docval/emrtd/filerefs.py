"""Which eMRTD files there are and what reading one may cost (ICAO 9303-10 §3, §4).

:class:`FileRef` names an elementary file (FID, SFI, master file or eMRTD
application); :class:`FileCaps` bounds what one file may hold and cost whatever
the chip claims; :class:`ReadLimits` is how one chip is read, updated as the
session learns its limits.  The flows that use them are in
:mod:`docval.emrtd.files`, which also exports these names.
"""
from __future__ import annotations

from dataclasses import dataclass

from docval.emrtd.apdu import MAX_EXTENDED_LE, MAX_SHORT_LE

EMRTD_AID = bytes.fromhex("A0000002471001")
MASTER_FILE_FID = 0x3F00

MAX_FILE_SIZE = 65535            # docs/reliability.md T1: no LDS file is larger
MAX_COMMANDS_PER_FILE = 1000     # docs/reliability.md T4: a chip drip-feeding bytes must not hold us
# The smallest caps an operator may configure: below them ordinary documents no longer read
# (a DG2 face is rarely under 4 KB; a 4 KB file in 64-byte answers needs 64 commands).
MIN_FILE_SIZE_CAP = 4096
MIN_COMMANDS_PER_FILE_CAP = 64
SHORT_SM_MAX_LE = 223            # largest plain Le whose SM response fits a short APDU (any cipher)
CLASSIC_FIRST_READ = 8           # what JMRTD reads to learn a file's length

# After a 6700 the next Le to try; crossing 256 also drops extended length.
_LE_LADDER = (65536, 32768, 16384, 8192, 4096, 2048, 1024, 512, SHORT_SM_MAX_LE, 128, 64, 32, 16, 8, 4, 2, 1)


@dataclass(frozen=True)
class FileRef:
    """An elementary file: its FID, its SFI, and whether it lives in the eMRTD application."""

    name: str
    fid: int
    sfi: int | None
    in_application: bool
    tlv: bool = True     # False: the file is not one TLV (EF.ATR/INFO), read it to its end


CARD_ACCESS = FileRef("EF.CardAccess", 0x011C, 0x1C, in_application=False)
ATR_INFO = FileRef("EF.ATR/INFO", 0x2F01, 0x01, in_application=False, tlv=False)
CARD_SECURITY = FileRef("EF.CardSecurity", 0x011D, 0x1D, in_application=False)
EF_COM = FileRef("EF.COM", 0x011E, 0x1E, in_application=True)
EF_SOD = FileRef("EF.SOD", 0x011D, 0x1D, in_application=True)
DATA_GROUPS = tuple(FileRef(f"EF.DG{n}", 0x0100 + n, n, in_application=True) for n in range(1, 17))

MASTER_FILE_REFS = (CARD_ACCESS, ATR_INFO, CARD_SECURITY)
APPLICATION_REFS = (EF_COM, EF_SOD) + DATA_GROUPS


def dg(n: int) -> FileRef:
    """The FileRef of data group ``n`` (1..16)."""
    if not 1 <= n <= 16:
        raise ValueError("data groups are numbered 1..16")
    return DATA_GROUPS[n - 1]


@dataclass(frozen=True)
class FileCaps:
    """How much one file may hold and cost, whatever the chip claims (configurable).

    These bound everything a session reads and therefore everything it delivers:
    the result holds each file at most twice (decoded and, with files_binary, raw).
    """

    max_file_bytes: int = MAX_FILE_SIZE
    max_commands_per_file: int = MAX_COMMANDS_PER_FILE

    def __post_init__(self) -> None:
        if not MIN_FILE_SIZE_CAP <= self.max_file_bytes <= MAX_FILE_SIZE:
            raise ValueError(f"max_file_bytes must be {MIN_FILE_SIZE_CAP}..{MAX_FILE_SIZE}")
        if not MIN_COMMANDS_PER_FILE_CAP <= self.max_commands_per_file <= 100_000:
            raise ValueError(f"max_commands_per_file must be {MIN_COMMANDS_PER_FILE_CAP}..100000")


@dataclass
class ReadLimits:
    """How to read files from one chip, and what was learned about it during the session.

    ``max_le`` is the largest plain Le per READ BINARY; the caller derives it from
    extended-length support, EF.ATR/INFO, ``max_response_bytes`` and the Secure
    Messaging overhead.  ``extended`` makes every READ BINARY an extended APDU
    (so the wrapped command can carry a response above 256 bytes).  ``pipeline``
    is the most commands :func:`read_file` yields in one tuple.  ``first_read`` is
    the Le of a file's first read (0: ``max_le``), which must bring the TLV header.

    One instance lives for a whole session: a ``6700``/``6Cxx`` lowers ``max_le``
    and a chip refusing SFI addressing clears ``use_sfi`` for every later file.
    """

    max_le: int
    extended: bool = False
    use_sfi: bool = True
    pipeline: int = 1
    first_read: int = 0
    caps: FileCaps = FileCaps()

    def __post_init__(self) -> None:
        if not 1 <= self.max_le <= MAX_EXTENDED_LE:
            raise ValueError("max_le must be 1..65536")
        if self.pipeline < 1:
            raise ValueError("pipeline must be at least 1")
        if self.first_read < 0:
            raise ValueError("first_read must not be negative")

    @classmethod
    def classic(cls, caps: FileCaps = FileCaps()) -> "ReadLimits":
        """The JMRTD-like strategy: SELECT by FID, 8-byte header read, then 223-byte chunks."""
        return cls(max_le=SHORT_SM_MAX_LE, extended=False, use_sfi=False, pipeline=1,
                   first_read=CLASSIC_FIRST_READ, caps=caps)

    @property
    def effective_max_le(self) -> int:
        return self.max_le if self.extended else min(self.max_le, MAX_SHORT_LE)

    @property
    def effective_first_read(self) -> int:
        return min(self.first_read or self.max_le, self.effective_max_le)

    def learn_max_le(self, le: int) -> None:
        """The chip cannot serve more than ``le`` bytes per READ BINARY."""
        if 1 <= le < self.max_le:
            self.max_le = le

    def shrink_after_wrong_length(self, failed_le: int, was_extended: bool) -> bool:
        """Step down the Le ladder after a 6700; False when there is nothing left to try."""
        if was_extended:
            # An extended READ BINARY refused with 6700: the chip (or the phone) lacks
            # extended length.  Walking the ladder down in extended APDUs would cost a
            # round trip per step, each answered 6700 again: go short at once.
            self.extended = False
            self.max_le = min(self.max_le, SHORT_SM_MAX_LE)
            return True
        lower = next((le for le in _LE_LADDER if le < failed_le), None)
        if lower is None:
            return False
        self.max_le = min(self.max_le, lower)
        if lower <= MAX_SHORT_LE:
            self.extended = False
        return True
