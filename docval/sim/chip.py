"""A virtual eMRTD chip: ISO 7816-4 commands in, status words out, never an exception.

:class:`VirtualChip` answers raw command APDUs the way a real passport does.
This module is the chip's core: strict Secure Messaging (a command whose MAC or
SSC is wrong ends the SM session with a plain ``6988`` and the chip then wants
a new access control), ISO/IEC 7816-4 command chaining, GET CHALLENGE, the
security status, and the routing of every other command to the chip's
registry of mechanisms, ``chip.mechanisms``: the file commands
(:mod:`docval.sim.file_chip`), BAC, PACE, Chip Authentication and Active
Authentication, all plugged in the one way :mod:`docval.sim.mechanism`
describes.  Everything a real chip may do differently is a :class:`ChipQuirks`
switch.

Mechanisms receive commands already SM-unwrapped and return plain answers.  An
answer is SM-protected when its command was; it is wrapped with the session in
force when the mechanism returns — the new one after ``start_sm`` — except that
``start_sm_after_response`` (Chip Authentication's key change) wraps with the
old keys and installs the new ones afterwards.

The chip never sleeps: delays belong to the virtual phone.

Building one by hand (profiles in :mod:`docval.sim.profiles` do this for you)::

    chip = VirtualChip(
        master_files={files.CARD_ACCESS: card_access},
        app_files={files.EF_SOD: sod, files.dg(1): dg1, files.dg(2): dg2},
        quirks=ChipQuirks(extended_length=False, sfi=False),
        mechanisms=[BacChip(MrzKey("L898902C", "690806", "940623")), AaChip(aa_private_key)],
    )
    raw_response = chip.transmit(raw_command)
"""
from __future__ import annotations

import os
from typing import Callable, Iterable, Mapping, TypeVar

from docval.emrtd.apdu import (
    CLA_CHAINING,
    SW_CHAINING_NOT_SUPPORTED,
    SW_CLA_NOT_SUPPORTED,
    SW_CONDITIONS_NOT_SATISFIED,
    SW_END_OF_FILE,
    SW_INS_NOT_SUPPORTED,
    SW_OK,
    SW_SECURITY_NOT_SATISFIED,
    SW_SM_DATA_INCORRECT,
    SW_UNKNOWN,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
    CommandAPDU,
    ResponseAPDU,
)
from docval.emrtd.errors import EmrtdError, SecureMessagingError
from docval.emrtd.files import EMRTD_AID, FileRef
from docval.emrtd.mrz import MrzKey
from docval.emrtd.sm import SM_CLA_BITS, SecureMessaging
from docval.sim.bac_chip import BacChip
from docval.sim.file_chip import FileCommands
from docval.sim.filesystem import FileSystem
from docval.sim.mechanism import Mechanism
from docval.sim.quirks import ChipQuirks

__all__ = ["ChipQuirks", "VirtualChip"]

INS_MSE = 0x22
INS_GET_CHALLENGE = 0x84
INS_GENERAL_AUTHENTICATE = 0x86
CHALLENGE_LENGTH = 8
MAX_CHAINED_DATA = 65535

M = TypeVar("M")


def _sw(sw: int) -> ResponseAPDU:
    return ResponseAPDU(b"", sw)


class VirtualChip:
    """An eMRTD chip answering raw APDUs (see the module docstring for the routing).

    ``master_files`` and ``app_files`` map :class:`~docval.emrtd.files.FileRef`
    to file bytes (the master file holds EF.CardAccess, EF.ATR/INFO,
    EF.CardSecurity; the application EF.COM, EF.SOD, the DGs).
    ``mechanisms`` are plugged in after the file commands; ``bac_key`` is
    shorthand for a :class:`~docval.sim.bac_chip.BacChip` among them.
    ``denied_files`` are application files that stay 6982 even after access
    control (EAC-protected DG3/DG4).  ``rng`` is ``os.urandom`` or anything
    with its signature (tests inject fixed bytes).
    """

    def __init__(self, master_files: Mapping[FileRef, bytes] | None = None,
                 app_files: Mapping[FileRef, bytes] | None = None, *,
                 bac_key: MrzKey | None = None, quirks: ChipQuirks | None = None,
                 rng: Callable[[int], bytes] = os.urandom,
                 denied_files: tuple[FileRef, ...] = (), aid: bytes = EMRTD_AID,
                 mechanisms: Iterable[Mechanism] = ()):
        self.fs = FileSystem(master_files or {}, app_files or {}, aid)
        self.quirks = quirks or ChipQuirks()
        self.rng = rng
        self.denied_fids = frozenset(ref.fid for ref in denied_files)
        self.mechanisms: list[Mechanism] = [FileCommands(self.fs)]
        if bac_key is not None:
            self.mechanisms.append(BacChip(bac_key))
        self.mechanisms.extend(mechanisms)
        self.current_mechanism: Mechanism | None = None    # the security environment the last MSE set
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

    def mechanism(self, kind: type[M]) -> M | None:
        """The first plugged-in mechanism of class ``kind`` (tests read its counters)."""
        return next((m for m in self.mechanisms if isinstance(m, kind)), None)

    # -- the ChipContext mechanisms see (docval.sim.mechanism) ------------------

    @property
    def sm_active(self) -> bool:
        return self.sm is not None

    def may_read(self, ref: FileRef) -> bool:
        if not ref.in_application:
            return True
        if ref.fid in self.denied_fids:
            return False
        return self.access_granted or not self.quirks.access_control_required

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
            if len(data) + len(cmd.data) > MAX_CHAINED_DATA:
                return _sw(SW_WRONG_LENGTH)
            data += cmd.data
            self._chain = (header, data)
            self.chained_parts += 1
            return _sw(SW_OK)
        if chain is None:
            return cmd
        joined = bytes(chain[1]) + cmd.data
        if len(joined) > MAX_CHAINED_DATA:
            return _sw(SW_WRONG_LENGTH)
        self.chained_parts += 1
        return CommandAPDU(cmd.cla, cmd.ins, cmd.p1, cmd.p2, joined, cmd.le, extended=cmd.extended)

    def _dispatch(self, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.cla & ~CLA_CHAINING & 0xFF:
            return _sw(SW_CLA_NOT_SUPPORTED)
        environment = self.current_mechanism
        if cmd.ins == INS_MSE or (cmd.ins == INS_GENERAL_AUTHENTICATE and environment is not None
                                  and environment.reassembles_chains):
            joined = self._dechain(cmd)
            if isinstance(joined, ResponseAPDU):
                return joined
            cmd = joined
        elif cmd.cla & CLA_CHAINING and cmd.ins != INS_GENERAL_AUTHENTICATE:
            return _sw(SW_CHAINING_NOT_SUPPORTED)
        else:
            self._chain = None
        if cmd.ins == INS_GET_CHALLENGE:
            return self._get_challenge(cmd)
        if cmd.ins == INS_GENERAL_AUTHENTICATE:
            if environment is None or not environment.claims(cmd):
                return _sw(SW_CONDITIONS_NOT_SATISFIED)
            return self._answer(environment, cmd)
        for mechanism in self.mechanisms:
            if mechanism.claims(cmd):
                resp = self._answer(mechanism, cmd)
                if cmd.ins == INS_MSE:
                    # after the answer: the mechanism may have reset SM (and with it the environment)
                    self.current_mechanism = mechanism
                return resp
        return _sw(SW_WRONG_P1P2 if cmd.ins == INS_MSE else SW_INS_NOT_SUPPORTED)

    def _answer(self, mechanism: Mechanism, cmd: CommandAPDU) -> ResponseAPDU:
        if mechanism.requires_access and self.quirks.access_control_required and not self.access_granted:
            return _sw(SW_SECURITY_NOT_SATISFIED)
        return mechanism.answer(self, cmd)

    def _get_challenge(self, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.p1 or cmd.p2:
            return _sw(SW_WRONG_P1P2)
        if cmd.le != CHALLENGE_LENGTH or cmd.data:
            return _sw(SW_WRONG_LENGTH)
        self._challenge = bytes(self.rng(CHALLENGE_LENGTH))
        return ResponseAPDU(self._challenge, SW_OK)
