"""Selecting and reading eMRTD files (ICAO 9303-10 §3, ISO 7816-4 SELECT / READ BINARY).

Everything here is a sans-IO flow (see :mod:`docval.emrtd.flow`).  Round trips are
the budget (docs/performance.md), so :func:`read_file` reads by short file identifier
when it can (no SELECT), makes its first read large enough to carry the TLV
header *and* a useful part of the body, pipelines the rest when the phone allows
it, and recovers from ``6Cxx``/``6700``/``6282`` without starting over.  What it
learns about the chip (a smaller Le, no SFI support) is stored in the caller's
:class:`ReadLimits` so that later files do not pay for it again.

Files are addressed relative to the *current* dedicated file: the caller selects
the master file or the eMRTD application first (:func:`select_master_file`,
:func:`select_application`, in :mod:`docval.emrtd.selection`).  Which files exist and the
limits a read keeps to are in :mod:`docval.emrtd.filerefs`.
"""
from __future__ import annotations

from dataclasses import dataclass

from docval.emrtd import tlv
from docval.emrtd.apdu import (
    MAX_SHORT_LE,
    SW_END_OF_FILE,
    SW_FILE_NOT_FOUND,
    SW_FUNCTION_NOT_SUPPORTED,
    SW_INS_NOT_SUPPORTED,
    SW_OFFSET_OUTSIDE_EF,
    SW_OK,
    SW_SECURITY_NOT_SATISFIED,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
    CommandAPDU,
    ResponseAPDU,
    sw_name,
)
from docval.emrtd.errors import (
    FileAccessDenied,
    FileNotFoundOnChip,
    FileReadError,
    LimitExceeded,
    TLVError,
)
from docval.emrtd.flow import Flow, exchange, exchange_all

# The file model and SELECT live in their own modules; callers keep importing them from here.
from docval.emrtd.filerefs import (
    APPLICATION_REFS as APPLICATION_REFS, ATR_INFO as ATR_INFO, CARD_ACCESS as CARD_ACCESS,
    CARD_SECURITY as CARD_SECURITY, CLASSIC_FIRST_READ as CLASSIC_FIRST_READ,
    DATA_GROUPS as DATA_GROUPS, EF_COM as EF_COM, EF_SOD as EF_SOD, EMRTD_AID as EMRTD_AID,
    MASTER_FILE_FID as MASTER_FILE_FID, MASTER_FILE_REFS as MASTER_FILE_REFS,
    MAX_COMMANDS_PER_FILE as MAX_COMMANDS_PER_FILE, MAX_FILE_SIZE as MAX_FILE_SIZE,
    MIN_COMMANDS_PER_FILE_CAP as MIN_COMMANDS_PER_FILE_CAP, MIN_FILE_SIZE_CAP as MIN_FILE_SIZE_CAP,
    SHORT_SM_MAX_LE as SHORT_SM_MAX_LE, FileCaps as FileCaps, FileRef as FileRef,
    ReadLimits as ReadLimits, dg as dg,
)
from docval.emrtd.selection import NO_DATA_ASKED, select_file_command
from docval.emrtd.selection import select_application as select_application
from docval.emrtd.selection import select_file as select_file
from docval.emrtd.selection import select_master_file as select_master_file

INS_READ_BINARY = 0xB0
INS_READ_BINARY_ODD = 0xB1       # offset in DO'54', data in DO'53': for offsets above 32767
MAX_EVEN_OFFSET = 0x7FFF
TAG_OFFSET = 0x54
TAG_DISCRETIONARY_DATA = 0x53
_MAX_TLV_HEADER = 4 + 5          # 4-byte tag, 0x84 + 4 length octets

# Answers to an SFI read from chips that do not implement SFI addressing; the
# file is then SELECTed by FID, and if that works SFI is switched off.
_SFI_REFUSED = frozenset({SW_WRONG_P1P2, SW_FUNCTION_NOT_SUPPORTED, SW_INS_NOT_SUPPORTED, SW_FILE_NOT_FOUND})
# A chip that silently returns fewer bytes than asked is remembered only when the
# amount is plausible as a buffer size, not when it drips single bytes.
_MIN_LEARNED_LE = 16


# --- READ BINARY ------------------------------------------------------------


def _odd_header_len(n: int) -> int:
    """Bytes of the DO'53' header around ``n`` data bytes."""
    return 2 if n < 0x80 else 3 if n < 0x100 else 4


@dataclass(frozen=True)
class _Read:
    """One READ BINARY as sent: where it reads, how much data it can return."""

    offset: int
    want: int              # data bytes asked for (excluding any DO'53' header)
    cmd: CommandAPDU


def read_file(ref: FileRef, limits: ReadLimits, max_size: int | None = None) -> Flow[bytes]:
    """Read a whole file of the current DF and return exactly its bytes (TLV header + value).

    Raises :class:`FileNotFoundOnChip` (6A82), :class:`FileAccessDenied` (6982),
    :class:`LimitExceeded` (declared or actual size above ``max_size``, by default
    ``limits.caps.max_file_bytes``) and :class:`FileReadError` for everything else
    the chip gets wrong, including more than ``limits.caps.max_commands_per_file`` commands.
    """
    cap = limits.caps.max_file_bytes
    return (yield from _FileReader(ref, limits, cap if max_size is None else min(max_size, cap)).run())


class _FileReader:
    def __init__(self, ref: FileRef, limits: ReadLimits, max_size: int) -> None:
        self.ref = ref
        self.limits = limits
        self.max_size = max_size
        self.buf = bytearray()
        self.commands = 0
        self.eof = False
        self.to_end = not ref.tlv           # size unknown until the chip says EOF
        self.named_le: int | None = None    # a 6Cxx on the first read: EOF or a buffer limit?

    def __repr__(self) -> str:
        return f"_FileReader({self.ref.name}, {len(self.buf)} bytes)"

    # -- plumbing

    def _fail(self, what: str) -> FileReadError:
        return FileReadError(f"{self.ref.name}: {what}")

    def _count(self, n: int = 1) -> None:
        self.commands += n
        most = self.limits.caps.max_commands_per_file
        if self.commands > most:
            raise self._fail(f"more than {most} commands")

    def _command(self, offset: int, want: int, sfi: int | None = None) -> _Read:
        ext = self.limits.extended
        if sfi is not None:
            return _Read(offset, want, CommandAPDU(0x00, INS_READ_BINARY, 0x80 | sfi, offset, le=want, extended=ext))
        if offset <= MAX_EVEN_OFFSET:
            return _Read(offset, want,
                         CommandAPDU(0x00, INS_READ_BINARY, offset >> 8, offset & 0xFF, le=want, extended=ext))
        data = tlv.encode(TAG_OFFSET, offset.to_bytes(2 if offset <= 0xFFFF else 3, "big"))
        return _Read(offset, want, CommandAPDU(0x00, INS_READ_BINARY_ODD, 0, 0, data,
                                               le=want + _odd_header_len(want), extended=ext))

    def _chunk(self, offset: int, remaining: int) -> int:
        """Data bytes to ask for at ``offset``: as many as the limits allow."""
        max_le = self.limits.effective_max_le
        if offset <= MAX_EVEN_OFFSET:
            return min(max_le, remaining)
        n = min(remaining, max_le - 2)
        if n >= 0x80:
            n = min(remaining, max_le - 3)
        if n >= 0x100:
            n = min(remaining, max_le - 4)
        if n < 1:
            raise self._fail(f"Le {max_le} too small for READ BINARY with DO'54'")
        return n

    def _data(self, read: _Read, resp: ResponseAPDU) -> bytes:
        if read.cmd.le is not None and len(resp.data) > read.cmd.le:
            raise self._fail("response longer than Le")
        if read.cmd.ins == INS_READ_BINARY:
            return resp.data
        if not resp.data:
            return b""
        try:
            return tlv.parse_single(resp.data, TAG_DISCRETIONARY_DATA).value
        except TLVError:
            raise self._fail("READ BINARY response is not one DO'53'") from None

    def _status(self, sw: int) -> FileReadError:
        if sw == SW_FILE_NOT_FOUND:
            return FileNotFoundOnChip(f"{self.ref.name} not found")
        if sw == SW_SECURITY_NOT_SATISFIED:
            return FileAccessDenied(f"{self.ref.name}: access denied")
        return self._fail(f"READ BINARY status {sw:04X} ({sw_name(sw)})")

    # -- the flow

    def run(self) -> Flow[bytes]:
        yield from self._first_read()
        if not self.ref.tlv:
            yield from self._read_to_end()
            return bytes(self.buf)
        total = None
        while total is None:
            total = self._total()
            if total is None:
                if self.eof:
                    raise self._fail("file ends inside its TLV header")
                yield from self._read_unknown(len(self.buf), self.limits.effective_first_read)
            elif total < 0:         # indefinite length: the size is only known at the end
                yield from self._read_to_end()
                return bytes(self.buf)
        if self.named_le is not None and total > len(self.buf) == self.named_le:
            self.limits.learn_max_le(self.named_le)
        while len(self.buf) < total:
            if self.eof:
                raise self._fail(f"file ends after {len(self.buf)} of {total} declared bytes")
            yield from self._read_batch(total)
        return bytes(self.buf[:total])

    def _total(self) -> int | None:
        """Declared file size from the TLV header; None until the header is complete, -1 if indefinite."""
        buf = bytes(self.buf)
        try:
            _, after_tag = tlv.read_tag(buf)
            if after_tag < len(buf) and buf[after_tag] == 0x80:
                return -1
            _, header_len, value_len = tlv.read_header(buf, max_length=0xFFFFFFFF)
        except TLVError:
            if len(buf) >= _MAX_TLV_HEADER:
                raise self._fail("file does not start with a TLV header") from None
            return None
        total = header_len + value_len
        if total > self.max_size:
            raise LimitExceeded(f"{self.ref.name}: declared size {total} above {self.max_size}")
        return total

    def _first_read(self) -> Flow[None]:
        ref, limits = self.ref, self.limits
        first = limits.effective_first_read
        if limits.use_sfi and ref.sfi is not None:
            yield from self._read_unknown(0, first, ref.sfi)
            return
        read = self._command(0, first)
        if limits.pipeline >= 2:
            self._count(2)
            sel, resp = yield from exchange_all((select_file_command(ref.fid), read.cmd))
            self._check_select(sel)
            yield from self._read_unknown(0, first, sent=(read, resp))
        else:
            self._count()
            sel = yield from exchange(select_file_command(ref.fid))
            self._check_select(sel)
            yield from self._read_unknown(0, first)

    def _check_select(self, resp: ResponseAPDU) -> None:
        if resp.sw != SW_OK:
            raise self._status(resp.sw)
        if resp.data:
            raise self._fail(NO_DATA_ASKED)

    def _read_unknown(self, offset: int, want: int, sfi: int | None = None,
                      sent: tuple[_Read, ResponseAPDU] | None = None) -> Flow[None]:
        """One read while the file size is unknown, retried until the chip accepts the Le.

        ``sent`` is a read already answered (the first read, possibly pipelined
        behind a SELECT); ``sfi`` addresses the file by SFI (offset 0 only).
        """
        while True:
            if sent is None:
                read = self._command(offset, self._chunk(offset, want), sfi)
                self._count()
                resp = yield from exchange(read.cmd)
            else:
                read, resp = sent
                sent = None
            sw = resp.sw
            if sfi is not None and sw in _SFI_REFUSED:
                # No SFI addressing on this chip, or no such file: SELECT tells which.
                self._count()
                self._check_select((yield from exchange(select_file_command(self.ref.fid))))
                self.limits.use_sfi = False
                sfi = None
                continue
            if sw in (SW_OK, SW_END_OF_FILE):
                data = self._data(read, resp)
                if len(data) > read.want:
                    raise self._fail("response longer than asked")
                if sw == SW_OK and not data and not self.to_end:
                    raise self._fail("empty READ BINARY response")
                self.buf += data
                self.eof = sw == SW_END_OF_FILE or (self.to_end and len(data) < read.want)
                return
            if sw >> 8 == 0x6C:
                named = sw & 0xFF or MAX_SHORT_LE
                if named >= (read.cmd.le or 0):
                    raise self._fail(f"status {sw:04X} names no smaller Le")
                want = named if read.cmd.ins == INS_READ_BINARY else named - _odd_header_len(named)
                if want < 1:
                    raise self._fail(f"status {sw:04X} names an unusable Le")
                if offset == 0:
                    self.named_le = named
                continue
            if sw == SW_WRONG_LENGTH:
                if not self.limits.shrink_after_wrong_length(read.cmd.le or 0, read.cmd.is_extended):
                    raise self._fail("chip refuses every Le")
                continue
            if sw == SW_OFFSET_OUTSIDE_EF:
                self.eof = True
                return
            raise self._status(sw)

    def _read_to_end(self) -> Flow[None]:
        """Read a file of unknown size (not TLV, or indefinite length) until the chip says EOF."""
        self.to_end = True
        while not self.eof:
            if len(self.buf) > self.max_size:
                break
            yield from self._read_unknown(len(self.buf), self.max_size + 1 - len(self.buf))
        if len(self.buf) > self.max_size:
            raise LimitExceeded(f"{self.ref.name}: larger than {self.max_size} bytes")

    def _read_batch(self, total: int) -> Flow[None]:
        """Read up to ``limits.pipeline`` consecutive chunks of a file of known size."""
        reads: list[_Read] = []
        offset = len(self.buf)
        while len(reads) < self.limits.pipeline and offset < total:
            n = self._chunk(offset, total - offset)
            reads.append(self._command(offset, n))
            offset += n
        self._count(len(reads))
        if len(reads) == 1:
            answers: tuple[ResponseAPDU, ...] = ((yield from exchange(reads[0].cmd)),)
        else:
            answers = yield from exchange_all(tuple(r.cmd for r in reads))
        for read, resp in zip(reads, answers, strict=True):
            sw = resp.sw
            if sw in (SW_OK, SW_END_OF_FILE):
                data = self._data(read, resp)
                if len(data) > read.want:
                    raise self._fail("response longer than asked")
                if sw == SW_OK and not data:
                    raise self._fail("empty READ BINARY response")
                self.buf += data
                if sw == SW_END_OF_FILE:
                    self.eof = True
                    return
                if len(data) < read.want:
                    # The chip serves less than asked: later commands of this batch read
                    # from offsets past a gap, so replan from here.
                    if len(data) >= _MIN_LEARNED_LE:
                        self.limits.learn_max_le(len(data) if read.cmd.ins == INS_READ_BINARY
                                                 else len(data) + _odd_header_len(len(data)))
                    return
                continue
            if sw >> 8 == 0x6C:
                named = sw & 0xFF or MAX_SHORT_LE
                if named >= (read.cmd.le or 0):
                    raise self._fail(f"status {sw:04X} names no smaller Le")
                # We asked no more than the file holds, so the chip's buffer is the limit.
                self.limits.learn_max_le(named)
                return
            if sw == SW_WRONG_LENGTH:
                if not self.limits.shrink_after_wrong_length(read.cmd.le or 0, read.cmd.is_extended):
                    raise self._fail("chip refuses every Le")
                return
            if sw == SW_OFFSET_OUTSIDE_EF:
                self.eof = True
                return
            raise self._status(sw)
