"""The chip side of the API v2 virtual phone: what it reads itself, with our own ICAO 9303 code.

:class:`LocalReader` is mixed into :class:`docval.sim.phone_v2.PhoneV2Protocol`:
it queues APDUs to the chip one at a time (after the chip's time, on the reactor
clock), runs access control (PACE when EF.CardAccess offers it, else BAC), reads
EF.SOD, DG14, DG15 and the remaining data groups, and signs the server's
challenge with Active Authentication.  The messages to and from the server
(handover, handback, files, FINISH) are the protocol's side; the reader calls
them through the methods at the end of the class.
"""
from __future__ import annotations

import os
from collections import deque
from typing import Any, Callable, Optional, Protocol, cast

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime

from docval.emrtd import files
from docval.emrtd.aa import internal_authenticate_command, parse_dg15
from docval.emrtd.apdu import SW_OK, SW_WRONG_LENGTH, ResponseAPDU
from docval.emrtd.bac import bac
from docval.emrtd.ca import choose_ca
from docval.emrtd.errors import (AccessControlError, FileAccessDenied, FileNotFoundOnChip, LimitExceeded,
                                 ParseError, StatusError, UnsupportedError)
from docval.emrtd.flow import Flow, Link, run_async
from docval.emrtd.lds.sod import parse_sod
from docval.emrtd.mrz import MrzKey
from docval.emrtd.pace import choose_pace_info, pace
from docval.emrtd.securityinfo import parse_card_access, parse_dg14
from docval.emrtd.sm import SecureMessaging
from docval.sim.phone import Chip
from docval.sim.phone_v2_options import (EXTENDED_TRANSCEIVE, READER_ERROR, PhoneFailure, PhoneV2Options,
                                         PhoneV2Record)

# EAC-protected: a phone without terminal authentication never reads them.
EAC_DGS = frozenset({3, 4})


class ChipHost(Protocol):
    """What the reader needs of the phone's factory: the clock and the chip."""

    clock: IReactorTime
    chip: Chip


class ChipGone(Exception):
    """The chip raised instead of answering: the phone closes NFC_CHIP_COMMUNICATION_FAILED."""


class LocalReader:
    """The phone's own reading of the chip (mixed into PhoneV2Protocol)."""

    factory: ChipHost
    options: PhoneV2Options
    record: PhoneV2Record
    received: dict[str, bytes]       # files the server sent (dg1 after the handback)
    challenge: bytes | None          # ACCEPT's activeAuthenticationChallenge
    link: Link
    limits: files.ReadLimits

    def start_reader(self) -> None:
        """The chip queue's state; the phone calls it when the WebSocket opens."""
        self._chip_queue: deque[tuple[bytes, defer.Deferred]] = deque()
        self._chip_busy = False
        self._chip_timer: Any = None

    # -- the chip --------------------------------------------------------------------------

    def chip(self, apdu: bytes) -> defer.Deferred:
        """One APDU to the chip, strictly one at a time, after the chip's time."""
        d: defer.Deferred = defer.Deferred()
        self._chip_queue.append((apdu, d))
        self._chip_next()
        return d

    def _chip_next(self) -> None:
        if self._chip_busy or not self._chip_queue:
            return
        self._chip_busy = True
        if self.options.chip_time > 0:
            self._chip_timer = self.factory.clock.callLater(self.options.chip_time, self._chip_run)
        else:
            self._chip_run()

    def _chip_run(self) -> None:
        self._chip_timer = None
        apdu, d = self._chip_queue.popleft()
        self.record.chip_commands += 1
        try:
            response = bytes(self.factory.chip.transmit(apdu))
        except Exception as exc:
            self.record.chip_error = type(exc).__name__
            self._chip_queue.clear()
            self._chip_busy = False
            d.errback(ChipGone(f"the chip failed: {type(exc).__name__}"))
            return
        self._chip_busy = False
        d.callback(response)
        self._chip_next()

    async def _transmit_many(self, raws: list[bytes]) -> list[bytes]:
        out = []
        for raw in raws:
            out.append(await self.chip(raw))
        return out

    async def run(self, flow: Flow[Any]) -> Any:
        return await run_async(flow, self.link, self._transmit_many)

    async def read_file(self, ref: files.FileRef) -> bytes | None:
        """A whole file, or None when the chip does not have it or refuses it."""
        try:
            return await self.run(files.read_file(ref, self.limits))
        except (FileNotFoundOnChip, FileAccessDenied):
            return None
        except StatusError:
            return None

    def _new_link(self) -> Link:
        # The phone's reader picks extended encoding whenever a command or its answer
        # needs it (an RSA-2048 signature under 3DES); the adapter's claim only sets
        # how files are read and what the relay may use (docs/websocket-api-v2.md).
        return Link(extended=True)

    def _limits(self) -> files.ReadLimits:
        if not self.options.claims_extended_length:
            return files.ReadLimits.classic()      # JMRTD: 223-byte chunks, short APDUs
        sm = cast(Optional[SecureMessaging], self.link.sm)
        plain = sm.max_plain_le(EXTENDED_TRANSCEIVE) if sm is not None else 65536
        return files.ReadLimits(max_le=max(1, min(plain, 65536)), extended=True)

    # -- the procedure ---------------------------------------------------------------------

    async def read_document(self) -> None:
        """What Kinegram's reader does between ACCEPT and FINISH (docs/websocket-api-v2.md §5)."""
        self.link = self._new_link()
        self.limits = self._limits()
        self.monitoring("ACCESS_CONTROL")
        if await self.access_control():
            # After PACE, which runs in the master file, under Secure Messaging.
            await self.run(files.select_application())
        self.limits = self._limits()
        self.monitoring("READ_SOD")
        sod_bytes = await self.read_file(files.EF_SOD)
        if sod_bytes is None:
            raise PhoneFailure(READER_ERROR, "EF.SOD could not be read")
        self.files: dict[str, bytes] = {"sod": sod_bytes}
        try:
            listed = sorted(parse_sod(sod_bytes).dg_hashes)
        except ParseError:
            raise PhoneFailure(READER_ERROR, "EF.SOD is malformed") from None
        ca_choice = None
        if 14 in listed:
            self.monitoring("READ_DG14")
            dg14 = await self.read_file(files.dg(14))
            if dg14 is not None:
                self.files["dg14"] = dg14
                ca_choice = _ca_choice(dg14)
        if ca_choice is not None and self.wants_handover():
            await self.chip_authentication()
        await self.active_authentication(listed)
        for dg in listed:
            name = f"dg{dg}"
            if dg in EAC_DGS or name in self.files or name in self.received:
                continue
            self.monitoring(f"READ_DG{dg}")
            data = await self.read_file(files.dg(dg))
            if data is not None:
                self.files[name] = data
        self.send_remaining_files()
        self.finish()

    async def access_control(self) -> bool:
        """PACE when EF.CardAccess offers it, else BAC; True for PACE."""
        key = self.options.access_key
        rng = self.options.rng or os.urandom
        card_access = await self.read_file(files.CARD_ACCESS)
        pace_info = offered = None
        if card_access is not None:
            try:
                infos = parse_card_access(card_access)
                pace_info = choose_pace_info(infos.pace_infos)
                offered = len(infos.pace_infos)
            except (ParseError, UnsupportedError):
                pace_info = None
        if pace_info is not None:
            result = await self.run(pace(key, pace_info, send_parameter_id=(offered or 0) > 1, rng=rng))
            self.link.start(result.sm)
            return True
        if not isinstance(key, MrzKey):
            raise AccessControlError("no PACE on this document, and a CAN works only with PACE")
        await self.run(files.select_application())
        self.link.start(await self.run(bac(key, rng=rng)))
        return False

    def wants_handover(self) -> bool:
        """Hook: whether to hand Chip Authentication over (the official phones always do)."""
        return True

    async def active_authentication(self, listed: list[int]) -> None:
        self.signature: bytes | None = None
        if 15 not in listed:
            return
        self.monitoring("READ_DG15")
        dg15 = await self.read_file(files.dg(15))
        if dg15 is None:
            return
        self.files["dg15"] = dg15
        if self.record.check_result == "SUCCESS" and self.options.skip_aa_after_ca:
            return
        try:
            key = parse_dg15(dg15)
        except (ParseError, UnsupportedError, LimitExceeded):
            return    # the phone does not verify; without a key it cannot size the command
        self.monitoring("ACTIVE_AUTHENTICATION")
        self.signature = await self.run(_internal_authenticate(internal_authenticate_command,
                                                               self.challenge or b"", key))

    # -- the phone's side (PhoneV2Protocol) ------------------------------------------------

    def monitoring(self, step: str) -> None:
        raise NotImplementedError

    async def chip_authentication(self) -> None:
        raise NotImplementedError

    def send_remaining_files(self) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError


def _ca_choice(dg14: bytes) -> Any:
    """DG14's Chip Authentication key, or None: what decides whether the phone hands over."""
    try:
        return choose_ca(parse_dg14(dg14))
    except (ParseError, UnsupportedError, LimitExceeded):
        return None


def _internal_authenticate(command: Callable[..., Any], challenge: bytes, key: Any) -> Flow[bytes | None]:
    """INTERNAL AUTHENTICATE with the server's challenge; the raw answer, unverified (§7)."""
    cmd = command(challenge, key)
    resp = yield cmd
    assert isinstance(resp, ResponseAPDU)
    if not cmd.is_extended and (resp.sw == SW_WRONG_LENGTH or resp.sw >> 8 == 0x6C):
        resp = yield command(challenge, key, extended=True)
        assert isinstance(resp, ResponseAPDU)
    return resp.data if resp.sw == SW_OK and resp.data else None
