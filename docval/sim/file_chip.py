"""The file commands of the virtual chip: SELECT and READ BINARY (ISO/IEC 7816-4).

:class:`FileCommands` is the mechanism every :class:`~docval.sim.chip.VirtualChip`
starts with.  It answers over the chip's :class:`~docval.sim.filesystem.FileSystem`
the way the chip's :class:`~docval.sim.quirks.ChipQuirks` say (largest Le,
SFI support, how a read past the end of a file ends) and asks the chip's
security status whether a file may be read.
"""
from __future__ import annotations

from docval.emrtd import tlv
from docval.emrtd.apdu import (SW_END_OF_FILE, SW_FILE_NOT_FOUND, SW_OFFSET_OUTSIDE_EF, SW_OK,
                               SW_SECURITY_NOT_SATISFIED, SW_WRONG_DATA, SW_WRONG_LENGTH, SW_WRONG_P1P2,
                               CommandAPDU, ResponseAPDU)
from docval.emrtd.errors import EmrtdError
from docval.emrtd.files import MASTER_FILE_FID
from docval.sim.filesystem import ElementaryFile, FileSystem
from docval.sim.mechanism import ChipContext, Mechanism
from docval.sim.quirks import EOF_6C, ChipQuirks

INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_READ_BINARY_ODD = 0xB1
SW_NO_CURRENT_EF = 0x6986
TAG_FCI = 0x6F
TAG_FCP = 0x62
TAG_DF_NAME = 0x84
TAG_OFFSET = 0x54
TAG_DISCRETIONARY_DATA = 0x53


def _sw(sw: int) -> ResponseAPDU:
    return ResponseAPDU(b"", sw)


def _odd_header_len(n: int) -> int:
    return 2 if n < 0x80 else 3 if n < 0x100 else 4


class FileCommands(Mechanism):
    """SELECT (application by AID, master file, EF by FID) and READ BINARY (even and odd INS)."""

    def __init__(self, fs: FileSystem):
        self.fs = fs

    def __repr__(self) -> str:
        return f"<FileCommands {self.fs!r}>"

    def claims(self, cmd: CommandAPDU) -> bool:
        return cmd.ins in (INS_SELECT, INS_READ_BINARY, INS_READ_BINARY_ODD)

    def answer(self, chip: ChipContext, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.ins == INS_SELECT:
            return self._select(cmd)
        return self._read_binary(chip, cmd)

    def _select(self, cmd: CommandAPDU) -> ResponseAPDU:
        p1, p2 = cmd.p1, cmd.p2
        if p2 not in (0x00, 0x04, 0x0C):
            return _sw(SW_WRONG_P1P2)
        fs = self.fs
        if p1 == 0x04:
            if not fs.select_application(cmd.data):
                return _sw(SW_FILE_NOT_FOUND)
            fci = tlv.encode(TAG_FCI, tlv.encode(TAG_DF_NAME, fs.aid))
            return _select_answer(cmd, fci)
        if p1 == 0x00 and (not cmd.data or cmd.data == MASTER_FILE_FID.to_bytes(2, "big")):
            fs.select_master()
            return _select_answer(cmd, tlv.encode(TAG_FCP, tlv.encode(0x83, cmd.data or b"\x3F\x00")))
        if p1 in (0x00, 0x02):
            if len(cmd.data) != 2:
                return _sw(SW_WRONG_LENGTH)
            ef = fs.select_ef(int.from_bytes(cmd.data, "big"))
            if ef is None:
                return _sw(SW_FILE_NOT_FOUND)
            fcp = tlv.encode(TAG_FCP, tlv.encode(0x80, len(ef.content).to_bytes(2, "big"))
                             + tlv.encode(0x82, b"\x01") + tlv.encode(0x83, cmd.data))
            return _select_answer(cmd, fcp)
        return _sw(SW_WRONG_P1P2)

    def _read_binary(self, chip: ChipContext, cmd: CommandAPDU) -> ResponseAPDU:
        odd = cmd.ins == INS_READ_BINARY_ODD
        fs, quirks = self.fs, chip.quirks
        sfi: int | None
        fid: int | None
        if odd:
            try:
                offset_do = tlv.parse_single(cmd.data, TAG_OFFSET)
            except EmrtdError:
                return _sw(SW_WRONG_DATA)
            if not 1 <= len(offset_do.value) <= 3:
                return _sw(SW_WRONG_DATA)
            offset = int.from_bytes(offset_do.value, "big")
            sfi = cmd.p1 & 0x1F if cmd.p1 & 0xE0 == 0x80 and cmd.p2 == 0 else None
            fid = None if sfi is not None or (cmd.p1, cmd.p2) == (0, 0) else cmd.p1 << 8 | cmd.p2
        else:
            if cmd.p1 & 0x80:
                if cmd.p1 & 0x60:
                    return _sw(SW_WRONG_P1P2)
                sfi, offset = cmd.p1 & 0x1F, cmd.p2
            else:
                sfi, offset = None, cmd.p1 << 8 | cmd.p2
            fid = None
        ef: ElementaryFile | None
        if sfi is not None:
            if not quirks.sfi:
                return _sw(quirks.sfi_error)
            ef = fs.current_df.by_sfi.get(sfi)
        elif fid is not None:
            ef = fs.current_df.by_fid.get(fid)
        else:
            ef = fs.current_ef
            if ef is None:
                return _sw(SW_NO_CURRENT_EF)
        if ef is None:
            return _sw(SW_FILE_NOT_FOUND)
        if not chip.may_read(ef.ref):
            return _sw(SW_SECURITY_NOT_SATISFIED)
        fs.current_ef = ef
        le = cmd.le
        if le is None:
            return _sw(SW_WRONG_LENGTH)
        if le > quirks.max_le:
            if quirks.too_long_sw == "6C":
                return _sw(0x6C00 | (min(quirks.max_le, 256) & 0xFF))
            return _sw(SW_WRONG_LENGTH)
        content = ef.content
        if offset > len(content):
            return _sw(SW_OFFSET_OUTSIDE_EF)
        if odd:
            return _read_odd(quirks, content, offset, le)
        data = content[offset : offset + le]
        if len(data) == le:
            return ResponseAPDU(data, SW_OK)
        return _ended(quirks, data)


def _select_answer(cmd: CommandAPDU, info: bytes) -> ResponseAPDU:
    if cmd.p2 == 0x0C:
        return _sw(SW_OK)
    return ResponseAPDU(info[: cmd.le or 0], SW_OK)


def _read_odd(quirks: ChipQuirks, content: bytes, offset: int, le: int) -> ResponseAPDU:
    """Odd READ BINARY: the data comes inside DO'53', and Le counts the DO header too."""
    available = len(content) - offset
    n = min(available, le)
    while n > 0 and n + _odd_header_len(n) > le:
        n -= 1
    ended = n == available and n + _odd_header_len(n) < le
    data = tlv.encode(TAG_DISCRETIONARY_DATA, content[offset : offset + n])
    if not ended:
        return ResponseAPDU(data, SW_OK)
    return _ended(quirks, data)


def _ended(quirks: ChipQuirks, data: bytes) -> ResponseAPDU:
    """The answer to a read that ran past the end of the file, as the quirks say."""
    if quirks.eof_sw == EOF_6C:
        if 0 < len(data) <= 256:
            return _sw(EOF_6C | (len(data) & 0xFF))
        return ResponseAPDU(data, SW_END_OF_FILE)
    return ResponseAPDU(data, quirks.eof_sw)
