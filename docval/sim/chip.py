"""A virtual eMRTD chip: ISO 7816-4 commands in, status words out, never an exception.

:class:`VirtualChip` answers raw command APDUs the way a real passport does:
SELECT and READ BINARY over a file system (:mod:`docval.sim.filesystem`), BAC
(:mod:`docval.sim.bac_chip`), and strict Secure Messaging — a command whose MAC
or SSC is wrong ends the SM session with a plain ``6988`` and the chip then
wants a new access control.  Everything a real chip may do differently is a
:class:`ChipQuirks` switch.

Other protocols plug in without touching this module:

* ``chip.mechanisms``: objects with ``accepts_mse(chip, cmd) -> bool``,
  ``mse(chip, cmd) -> ResponseAPDU`` and ``general_authenticate(chip, cmd) ->
  ResponseAPDU``.  MSE (INS 22) goes to the first mechanism that accepts it,
  which becomes current; GENERAL AUTHENTICATE (INS 86) goes to the current one.
  PACE uses CLA bit 0x10 for its protocol steps, so its chained GENERAL
  AUTHENTICATEs arrive one by one; a mechanism with ``reassembles_chains`` True
  (Chip Authentication) gets ISO/IEC 7816-4 command chaining instead: the
  chip answers 9000 to each part and hands over the joined command once the
  last part (CLA b5 clear) arrives.  Chained MSE commands are always joined.
* ``chip.internal_authenticate(chip, cmd) -> ResponseAPDU`` answers INS 88
  (Active Authentication).
* ``chip.rng``, ``chip.start_sm(sm)``, ``chip.start_sm_after_response(sm)``,
  ``chip.drop_sm()``, ``chip.access_granted``, ``chip.take_challenge()``.

Handlers receive commands already SM-unwrapped and return plain responses.  A
response is SM-protected when its command was; it is wrapped with the session in
force when the handler returns — the new one after ``start_sm`` — except that
``start_sm_after_response`` (Chip Authentication's key change) wraps with the old
keys and installs the new ones afterwards.

The chip never sleeps: delays belong to the virtual phone.

Building one by hand (profiles in :mod:`docval.sim.profiles` do this for you)::

    chip = VirtualChip(
        master_files={files.CARD_ACCESS: card_access},
        app_files={files.EF_SOD: sod, files.dg(1): dg1, files.dg(2): dg2},
        bac_key=MrzKey("L898902C", "690806", "940623"),
        quirks=ChipQuirks(extended_length=False, sfi=False),
    )
    raw_response = chip.transmit(raw_command)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Mapping

from docval.emrtd import tlv
from docval.emrtd.apdu import (
    CLA_CHAINING,
    MAX_EXTENDED_LE,
    SW_CHAINING_NOT_SUPPORTED,
    SW_CLA_NOT_SUPPORTED,
    SW_CONDITIONS_NOT_SATISFIED,
    SW_END_OF_FILE,
    SW_FILE_NOT_FOUND,
    SW_INS_NOT_SUPPORTED,
    SW_OFFSET_OUTSIDE_EF,
    SW_OK,
    SW_SECURITY_NOT_SATISFIED,
    SW_SM_DATA_INCORRECT,
    SW_UNKNOWN,
    SW_WRONG_DATA,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
    CommandAPDU,
    ResponseAPDU,
)
from docval.emrtd.errors import EmrtdError, SecureMessagingError
from docval.emrtd.files import EMRTD_AID, MASTER_FILE_FID, FileRef
from docval.emrtd.mrz import MrzKey
from docval.emrtd.sm import SM_CLA_BITS, SecureMessaging
from docval.sim.bac_chip import BacChip
from docval.sim.filesystem import ElementaryFile, FileSystem
from docval.sim.mechanism import Mechanism

INS_MSE = 0x22
INS_EXTERNAL_AUTHENTICATE = 0x82
INS_GET_CHALLENGE = 0x84
INS_GENERAL_AUTHENTICATE = 0x86
INS_INTERNAL_AUTHENTICATE = 0x88
INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_READ_BINARY_ODD = 0xB1
CHALLENGE_LENGTH = 8
SW_NO_CURRENT_EF = 0x6986
EOF_6C = 0x6C00
TAG_FCI = 0x6F
TAG_FCP = 0x62
TAG_DF_NAME = 0x84
TAG_OFFSET = 0x54
TAG_DISCRETIONARY_DATA = 0x53


def _odd_header_len(n: int) -> int:
    return 2 if n < 0x80 else 3 if n < 0x100 else 4


@dataclass
class ChipQuirks:
    """How this chip differs from the textbook.

    ``max_le``: the most plain bytes one READ BINARY returns; a larger Le is
    refused with ``too_long_sw`` — ``"6700"`` or ``"6C"`` (6Cxx naming
    ``max_le``, which only makes sense up to 256).  ``extended_length``: False
    refuses every extended APDU with 6700.  ``sfi``: False refuses READ BINARY
    with an SFI with ``sfi_error``.  ``eof_sw``: how a read running past the end
    of a file ends — ``0x6282`` with the remaining bytes, or ``0x9000`` with them.
    ``bac``: whether EXTERNAL AUTHENTICATE runs BAC (when a key is configured).
    ``access_control_required``: application files and INTERNAL AUTHENTICATE
    answer 6982 until access control succeeded.
    """

    max_le: int = MAX_EXTENDED_LE
    too_long_sw: str = "6700"
    extended_length: bool = True
    sfi: bool = True
    sfi_error: int = SW_WRONG_P1P2
    eof_sw: int = SW_END_OF_FILE
    bac: bool = True
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


def _sw(sw: int) -> ResponseAPDU:
    return ResponseAPDU(b"", sw)


class VirtualChip:
    """An eMRTD chip answering raw APDUs (see the module docstring for the extension points).

    ``master_files`` and ``app_files`` map :class:`~docval.emrtd.files.FileRef`
    to file bytes (the master file holds EF.CardAccess, EF.ATR/INFO,
    EF.CardSecurity; the application EF.COM, EF.SOD, the DGs).  ``bac_key``
    enables BAC; ``denied_files`` are application files that stay 6982 even
    after access control (EAC-protected DG3/DG4).  ``rng`` is ``os.urandom`` or
    anything with its signature (tests inject fixed bytes).
    """

    def __init__(self, master_files: Mapping[FileRef, bytes] | None = None,
                 app_files: Mapping[FileRef, bytes] | None = None, *,
                 bac_key: MrzKey | None = None, quirks: ChipQuirks | None = None,
                 rng: Callable[[int], bytes] = os.urandom,
                 denied_files: tuple[FileRef, ...] = (), aid: bytes = EMRTD_AID):
        self.fs = FileSystem(master_files or {}, app_files or {}, aid)
        self.quirks = quirks or ChipQuirks()
        self.rng = rng
        self.bac = BacChip(bac_key) if bac_key is not None else None
        self.denied_fids = frozenset(ref.fid for ref in denied_files)
        self.mechanisms: list[Mechanism] = []
        self.current_mechanism: Mechanism | None = None
        self.internal_authenticate: Callable[["VirtualChip", CommandAPDU], ResponseAPDU] | None = None
        self.access_granted = False
        self.sm: SecureMessaging | None = None
        self._sm_after_response: SecureMessaging | None = None
        self._challenge: bytes | None = None
        self.commands = 0          # APDUs received, for tests and benchmarks
        self.chained_parts = 0     # chained command parts joined (ISO 7816-4 chaining)
        self._chain: tuple[tuple[int, int, int], bytearray] | None = None
        self.sm_failures = 0

    def __repr__(self) -> str:
        return f"<VirtualChip {self.fs!r} sm={'on' if self.sm else 'off'}>"

    # -- extension points -------------------------------------------------------

    def start_sm(self, sm: SecureMessaging) -> None:
        """Install SM keys now (the current response, if protected, uses them)."""
        self.sm = sm
        self._sm_after_response = None

    def start_sm_after_response(self, sm: SecureMessaging) -> None:
        """Install SM keys once the current response is wrapped with the old ones (CA)."""
        self._sm_after_response = sm

    def drop_sm(self) -> None:
        """End Secure Messaging; access control must be run again."""
        self.sm = None
        self._sm_after_response = None
        self.access_granted = False
        self.current_mechanism = None

    def take_challenge(self) -> bytes | None:
        """The last GET CHALLENGE answer, usable once."""
        challenge, self._challenge = self._challenge, None
        return challenge

    # -- transport --------------------------------------------------------------

    def transmit(self, raw: bytes) -> bytes:
        """Answer one raw command APDU with a raw response; never raises."""
        try:
            return self._transmit(bytes(raw)).encode()
        except Exception:   # noqa: BLE001 - a chip answers every command; a bug becomes 6F00
            self.drop_sm()
            return _sw(SW_UNKNOWN).encode()

    def _transmit(self, raw: bytes) -> ResponseAPDU:
        self.commands += 1
        try:
            cmd = CommandAPDU.decode(raw)
        except ValueError:
            # Unparseable: SM (if any) cannot have verified it, so the session ends.
            self.drop_sm()
            return _sw(SW_WRONG_LENGTH)
        session = self.sm
        if cmd.cla & SM_CLA_BITS == SM_CLA_BITS:
            if session is None:
                return _sw(SW_SM_DATA_INCORRECT)
            try:
                plain = session.unwrap_command(cmd)
            except SecureMessagingError:
                self.sm_failures += 1
                self.drop_sm()
                return _sw(SW_SM_DATA_INCORRECT)
        else:
            if session is not None:
                # ICAO 9303-11 §9.8.6: an unprotected command ends the SM session.
                self.drop_sm()
                session = None
            plain = cmd
        if cmd.is_extended and not self.quirks.extended_length:
            resp = _sw(SW_WRONG_LENGTH)
        else:
            try:
                resp = self._dispatch(plain)
            except EmrtdError:
                resp = _sw(SW_UNKNOWN)
        return self._respond(cmd, session, resp)

    def _respond(self, cmd: CommandAPDU, session: SecureMessaging | None, resp: ResponseAPDU) -> ResponseAPDU:
        after, self._sm_after_response = self._sm_after_response, None
        wrapper = None
        if session is not None:
            wrapper = session if after is not None else self.sm
        if wrapper is None:
            if cmd.le is not None and len(resp.data) > cmd.le:
                resp = _sw(SW_WRONG_LENGTH)
            out = resp
        elif self.quirks.plain_errors and not resp.data and resp.sw not in (SW_OK, SW_END_OF_FILE):
            wrapper.wrap_response(resp)     # the SSC advances as if the answer were protected
            out = resp
        else:
            ssc = wrapper.ssc
            out = wrapper.wrap_response(resp)
            if len(out.data) > (cmd.le or 0):
                # The protected answer does not fit the outer Le (a short APDU).
                wrapper.ssc = ssc
                out = wrapper.wrap_response(_sw(SW_WRONG_LENGTH))
        if after is not None:
            self.sm = after
        return out

    # -- commands ---------------------------------------------------------------

    def _joins_chain(self, cmd: CommandAPDU) -> bool:
        if cmd.ins == INS_MSE:
            return True
        return cmd.ins == INS_GENERAL_AUTHENTICATE and bool(
            getattr(self.current_mechanism, "reassembles_chains", False))

    def _dechain(self, cmd: CommandAPDU) -> CommandAPDU | ResponseAPDU:
        """ISO 7816-4 command chaining: collect parts; the last one gets the whole command."""
        header = (cmd.ins, cmd.p1, cmd.p2)
        chain, self._chain = self._chain, None
        if chain is not None and chain[0] != header:
            chain = None            # another command ends an unfinished chain
        if cmd.cla & CLA_CHAINING:
            if not self.quirks.command_chaining:
                return _sw(self.quirks.chaining_refusal_sw)
            data = chain[1] if chain is not None else bytearray()
            if len(data) + len(cmd.data) > 65535:
                return _sw(SW_WRONG_LENGTH)
            data += cmd.data
            self._chain = (header, data)
            self.chained_parts += 1
            return _sw(SW_OK)
        if chain is None:
            return cmd
        data = bytes(chain[1]) + cmd.data
        if len(data) > 65535:
            return _sw(SW_WRONG_LENGTH)
        self.chained_parts += 1
        return CommandAPDU(cmd.cla, cmd.ins, cmd.p1, cmd.p2, data, cmd.le, extended=cmd.extended)

    def _dispatch(self, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.cla & ~CLA_CHAINING & 0xFF:
            return _sw(SW_CLA_NOT_SUPPORTED)
        if self._joins_chain(cmd):
            joined = self._dechain(cmd)
            if isinstance(joined, ResponseAPDU):
                return joined
            cmd = joined
        elif cmd.cla & CLA_CHAINING and cmd.ins != INS_GENERAL_AUTHENTICATE:
            return _sw(SW_CHAINING_NOT_SUPPORTED)
        else:
            self._chain = None
        ins = cmd.ins
        if ins == INS_SELECT:
            return self._select(cmd)
        if ins in (INS_READ_BINARY, INS_READ_BINARY_ODD):
            return self._read_binary(cmd)
        if ins == INS_GET_CHALLENGE:
            return self._get_challenge(cmd)
        if ins == INS_EXTERNAL_AUTHENTICATE:
            if self.bac is None or not self.quirks.bac:
                return _sw(SW_INS_NOT_SUPPORTED)
            if self.sm is not None:
                return _sw(SW_CONDITIONS_NOT_SATISFIED)
            return self.bac.external_authenticate(self, cmd)
        if ins == INS_MSE:
            for mechanism in self.mechanisms:
                if mechanism.accepts_mse(self, cmd):
                    resp = mechanism.mse(self, cmd)
                    # after the handler: it may have reset SM (and with it the mechanism)
                    self.current_mechanism = mechanism
                    return resp
            return _sw(SW_WRONG_P1P2)
        if ins == INS_GENERAL_AUTHENTICATE:
            if self.current_mechanism is None:
                return _sw(SW_CONDITIONS_NOT_SATISFIED)
            return self.current_mechanism.general_authenticate(self, cmd)
        if ins == INS_INTERNAL_AUTHENTICATE:
            if self.internal_authenticate is None:
                return _sw(SW_INS_NOT_SUPPORTED)
            if self.quirks.access_control_required and not self.access_granted:
                return _sw(SW_SECURITY_NOT_SATISFIED)
            return self.internal_authenticate(self, cmd)
        return _sw(SW_INS_NOT_SUPPORTED)

    def _get_challenge(self, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.p1 or cmd.p2:
            return _sw(SW_WRONG_P1P2)
        if cmd.le != CHALLENGE_LENGTH or cmd.data:
            return _sw(SW_WRONG_LENGTH)
        self._challenge = bytes(self.rng(CHALLENGE_LENGTH))
        return ResponseAPDU(self._challenge, SW_OK)

    def _select(self, cmd: CommandAPDU) -> ResponseAPDU:
        p1, p2 = cmd.p1, cmd.p2
        if p2 not in (0x00, 0x04, 0x0C):
            return _sw(SW_WRONG_P1P2)
        fs = self.fs
        if p1 == 0x04:
            if not fs.select_application(cmd.data):
                return _sw(SW_FILE_NOT_FOUND)
            fci = tlv.encode(TAG_FCI, tlv.encode(TAG_DF_NAME, fs.aid))
            return self._select_answer(cmd, fci)
        if p1 == 0x00 and (not cmd.data or cmd.data == MASTER_FILE_FID.to_bytes(2, "big")):
            fs.select_master()
            return self._select_answer(cmd, tlv.encode(TAG_FCP, tlv.encode(0x83, cmd.data or b"\x3F\x00")))
        if p1 in (0x00, 0x02):
            if len(cmd.data) != 2:
                return _sw(SW_WRONG_LENGTH)
            ef = fs.select_ef(int.from_bytes(cmd.data, "big"))
            if ef is None:
                return _sw(SW_FILE_NOT_FOUND)
            fcp = tlv.encode(TAG_FCP, tlv.encode(0x80, len(ef.content).to_bytes(2, "big"))
                             + tlv.encode(0x82, b"\x01") + tlv.encode(0x83, cmd.data))
            return self._select_answer(cmd, fcp)
        return _sw(SW_WRONG_P1P2)

    @staticmethod
    def _select_answer(cmd: CommandAPDU, info: bytes) -> ResponseAPDU:
        if cmd.p2 == 0x0C:
            return _sw(SW_OK)
        return ResponseAPDU(info[: cmd.le or 0], SW_OK)

    def _readable(self, ef: ElementaryFile) -> bool:
        if not ef.ref.in_application:
            return True
        if ef.ref.fid in self.denied_fids:
            return False
        return self.access_granted or not self.quirks.access_control_required

    def _read_binary(self, cmd: CommandAPDU) -> ResponseAPDU:
        odd = cmd.ins == INS_READ_BINARY_ODD
        fs = self.fs
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
        if sfi is not None:
            if not self.quirks.sfi:
                return _sw(self.quirks.sfi_error)
            ef = fs.current_df.by_sfi.get(sfi)
        elif fid is not None:
            ef = fs.current_df.by_fid.get(fid)
        else:
            ef = fs.current_ef
            if ef is None:
                return _sw(SW_NO_CURRENT_EF)
        if ef is None:
            return _sw(SW_FILE_NOT_FOUND)
        if not self._readable(ef):
            return _sw(SW_SECURITY_NOT_SATISFIED)
        fs.current_ef = ef
        le = cmd.le
        if le is None:
            return _sw(SW_WRONG_LENGTH)
        if le > self.quirks.max_le:
            if self.quirks.too_long_sw == "6C":
                return _sw(0x6C00 | (min(self.quirks.max_le, 256) & 0xFF))
            return _sw(SW_WRONG_LENGTH)
        content = ef.content
        if offset > len(content):
            return _sw(SW_OFFSET_OUTSIDE_EF)
        if odd:
            return self._read_odd(content, offset, le)
        data = content[offset : offset + le]
        if len(data) == le:
            return ResponseAPDU(data, SW_OK)
        if self.quirks.eof_sw == EOF_6C and 0 < len(data) <= 256:
            return _sw(EOF_6C | (len(data) & 0xFF))
        return ResponseAPDU(data, SW_END_OF_FILE if self.quirks.eof_sw == EOF_6C else self.quirks.eof_sw)

    def _read_odd(self, content: bytes, offset: int, le: int) -> ResponseAPDU:
        """Odd READ BINARY: the data comes inside DO'53', and Le counts the DO header too."""
        available = len(content) - offset
        n = min(available, le)
        while n > 0 and n + _odd_header_len(n) > le:
            n -= 1
        ended = n == available and n + _odd_header_len(n) < le
        data = tlv.encode(TAG_DISCRETIONARY_DATA, content[offset : offset + n])
        if not ended:
            return ResponseAPDU(data, SW_OK)
        if self.quirks.eof_sw == EOF_6C and len(data) <= 256:
            return _sw(EOF_6C | (len(data) & 0xFF))
        return ResponseAPDU(data, SW_END_OF_FILE if self.quirks.eof_sw == EOF_6C else self.quirks.eof_sw)
