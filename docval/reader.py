"""The read-and-verify procedure: the one place that knows the *order* of a chip session.

``read_document`` is a coroutine over ``transport.transmit_many``: under Twisted
the WebSocket protocol fires the awaited Deferreds when the phone answers; in
tests the virtual chip answers synchronously.  Everything chip-specific is in
the sans-IO flows of ``docval.emrtd``; how files are read (sizes, pipelined
bursts, reads ahead of need) is the :class:`docval.prefetch.Scheduler`'s; this
module decides what to run next, top to bottom in :meth:`_Session.run`.

What may be claimed: access control proves nothing about the chip.  This module
only records *facts* (what the document declares, which files were delivered,
what each protocol run did) in a :class:`docval.verdicts.Facts`; once the files
are in hand, :func:`docval.assessment.assess` runs Passive Authentication and
the verdict rules of :mod:`docval.verdicts` (docs/verdicts.md).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from docval import keyfiles, verdicts
from docval.assessment import AssessParams, DecodeImage, assess, decode_inline, parse_sod_file, run_inline
from docval.emrtd import files, images
from docval.emrtd.aa import active_authentication
from docval.emrtd.atrinfo import parse_atr_info
from docval.emrtd.bac import bac
from docval.emrtd.ca import chip_authentication
from docval.emrtd.errors import (AccessControlError, AccessControlLost, AuthenticationError, CommandTooLong,
                                  EmrtdError, FileAccessDenied, FileNotFoundOnChip, FileReadError, LimitExceeded,
                                  ParseError, SecureMessagingError, StatusError, UnsupportedError)
from docval.emrtd.lds import CONTENT_DGS
from docval.emrtd.lds.sod import SOD
from docval.emrtd.mrz import CanKey, MrzKey
from docval.emrtd.pace import PaceResult, choose_pace_info, pace
from docval.emrtd.securityinfo import PACEInfo, parse_card_access
from docval.emrtd.trustview import TrustView
from docval.prefetch import Scheduler, Transport
from docval.result import Report
from docval.status import Status

MANDATORY_DGS = frozenset({1, 2})


@dataclass
class ReadParams:
    access_key: MrzKey | CanKey
    extended_length: bool
    max_command_bytes: int | None = None
    max_response_bytes: int | None = None
    max_pipelined: int = 1
    trust: TrustView | None = None
    file_caps: files.FileCaps = files.FileCaps()    # [limits] of the configuration
    rng: Callable[[int], bytes] = os.urandom
    at: datetime | None = None           # instant for certificate validity (default now)
    # CPU-heavy verification, JPEG 2000 decoding and its limits: see AssessParams.
    offload: Callable[..., Awaitable[Any]] = run_inline
    decode_image: DecodeImage = decode_inline
    decode_limits: images.DecodeLimits | None = None


async def read_document(transport: Transport, params: ReadParams, progress: Callable[[Status], None], *,
                        scheduler: type[Scheduler] = Scheduler) -> Report:
    """Read and verify the document; ``scheduler`` is for benchmarks that compare strategies."""
    io = scheduler(transport, extended=params.extended_length, max_command_bytes=params.max_command_bytes,
                   max_pipelined=params.max_pipelined, caps=params.file_caps)
    return await _Session(io, params, progress).run()


class _Session:
    sod: SOD     # set by _read_sod, before anything that needs it

    def __init__(self, io: Scheduler, params: ReadParams, progress: Callable[[Status], None]):
        self.io = io
        self.params = params
        self.progress = progress
        self.report = Report()
        self.facts = verdicts.Facts()
        self.dgs: dict[int, bytes] = {}
        # The data groups whose reading was attempted: any other that EF.SOD lists is not
        # for this reader (DG3/DG4 need Extended Access Control) and is not reported missing.
        self.attempted: set[int] = set()
        # Why an optional file came back as None, by name: (verdicts.FILE_* state, plain words).
        self.unread: dict[str, tuple[str, str]] = {}
        self.pace_result: PaceResult | None = None
        self.card_security: bytes | None = None
        self.ca_proof_pending = False
        self.reestablished = False
        # The pure layer never reads the clock: certificate validity is judged at this instant.
        self.at = params.at or datetime.now(timezone.utc)

    @property
    def cam(self) -> bool:
        return self.pace_result is not None and self.pace_result.mapping == "CAM"

    # -- the procedure ----------------------------------------------------------------------

    async def run(self) -> Report:
        await self._negotiate_sizes()
        self.progress(Status.ACCESS_CONTROL)
        await self._access_control()
        await self._read_sod()
        await self._chip_authentication()
        await self._active_authentication()
        await self._read_content()
        self.progress(Status.PASSIVE_AUTHENTICATION)
        p = self.params
        params = AssessParams(trust=p.trust, at=self.at, offload=p.offload, decode_image=p.decode_image,
                              decode_limits=p.decode_limits, access_key=p.access_key, expected_dgs=self.attempted)
        return await assess(self.sod.raw, self.dgs, self.facts, params, self.report, parsed_sod=self.sod,
                            before_decide=self._verify_cam if self.cam else None)

    async def _negotiate_sizes(self) -> None:
        p, io = self.params, self.io
        max_resp = p.max_response_bytes
        if p.extended_length and p.max_command_bytes is None and p.max_response_bytes is None:
            self.progress(Status.READ_ATR_INFO)
            io.size_answers(None)
            if io.pipelining:
                # EF.CardAccess is next in the same master file: one round trip for both.
                await io.prefetch([files.ATR_INFO, files.CARD_ACCESS])
            data = await self._read_in_master_file(files.ATR_INFO)
            if data is not None:
                try:
                    info = parse_atr_info(data)
                except ParseError as exc:
                    self.report.error(f"EF.ATR/INFO ignored: {exc}")
                else:
                    if info.extended_length is False:
                        io.extended = False
                    max_resp = info.max_response_bytes
        io.size_answers(max_resp, short_cap=None if p.extended_length else p.max_response_bytes)

    async def _access_control(self) -> None:
        key = self.params.access_key
        card_access = await self._read_card_access()
        pace_info = None
        offered = 0
        if card_access is not None:
            try:
                infos = parse_card_access(card_access)
                pace_info = choose_pace_info(infos.pace_infos)
                offered = len(infos.pace_infos)
            except (ParseError, UnsupportedError) as exc:
                self.report.error(f"EF.CardAccess ignored: {exc}")
            else:
                keyfiles.declare_from_card_access(infos, self.facts)
        if pace_info is not None:
            try:
                await self._pace(pace_info, send_parameter_id=offered > 1)
                return
            except (UnsupportedError, StatusError) as exc:
                if not isinstance(key, MrzKey):
                    raise
                self.report.error(f"PACE not possible, falling back to BAC: {exc}")
                self.io.new_link()
        if not isinstance(key, MrzKey):
            raise AccessControlError("the document does not offer PACE, and a CAN works only with PACE")
        await self.io.run(files.select_application())
        self.io.start(await self.io.run(bac(key, rng=self.params.rng)))
        self.report.access_control = "BAC"

    async def _read_card_access(self) -> bytes | None:
        data = await self._read_in_master_file(files.CARD_ACCESS)
        if data is None and not self.reestablished:
            # Some phones select the eMRTD application before handing over, where the
            # SFI means another file: select the master file and look once more before
            # concluding that the document offers no PACE.
            try:
                await self.io.run(files.select_master_file())
            except (StatusError, FileReadError):
                return None
            data = await self._read_in_master_file(files.CARD_ACCESS)
        return data

    async def _pace(self, pace_info: PACEInfo, *, send_parameter_id: bool) -> None:
        # ICAO 9303-11 §4.4.4.1: DO'84' names the domain parameters only when the
        # document offers more than one set; some chips refuse it otherwise.
        result = await self.io.run(pace(self.params.access_key, pace_info, rng=self.params.rng,
                                        send_parameter_id=send_parameter_id, pipeline=self.io.pipeline))
        self.pace_result = result
        self.report.access_control = result.protocol
        self.io.start(result.sm)
        if result.mapping == "CAM":
            # EF.CardSecurity holds the static key the CAM data must match; it lives
            # in the master file, so read it before selecting the application.
            self.card_security = await self._read_in_master_file(files.CARD_SECURITY)
        if self.io.pipelining and not self.reestablished:
            # EF.SOD is read right after: its first read rides with the SELECT.
            await self.io.run_ahead(files.select_application(), [files.EF_SOD])
        else:
            await self.io.run(files.select_application())

    async def _reestablish(self) -> None:
        """Run access control again after the chip dropped Secure Messaging (e.g. failed CA).

        The CAN or MRZ already worked once in this session, so a failure now is never
        the user's: it closes with COMMUNICATION_FAILED, not ACCESS_CONTROL_FAILED."""
        if self.reestablished:
            raise SecureMessagingError("secure messaging failed again after re-establishing it")
        self.reestablished = True
        self.io.new_link()
        self.io.forget()
        self.io.resize()
        # The application is selected now; EF.CardAccess lives in the master file.
        try:
            await self.io.run(files.select_master_file())
        except (StatusError, FileReadError) as exc:
            self.report.error(f"selecting the master file failed: {exc}")
        try:
            await self._access_control()
        except AccessControlError as exc:
            raise AccessControlLost(f"access control failed after it had succeeded once: {exc}") from None

    async def _read_sod(self) -> None:
        self.progress(Status.READ_SOD)
        if not self.cam:
            # Documents with Chip Authentication have a DG14: its first read rides with
            # EF.SOD's last burst.  Without one the chip says 6A82, the answer is dropped
            # at READ_DG14, and one APDU was spent.
            await self.io.prefetch_behind(files.EF_SOD, files.dg(14))
        data = await self._read(files.EF_SOD, mandatory=True)
        assert data is not None     # mandatory: _read raised instead
        self.sod = parse_sod_file(data)
        self.report.files["sod"] = data
        self.report.sod_hash_algorithm = self.sod.hash_algorithm
        self.report.sod_hashes = dict(self.sod.dg_hashes)
        keyfiles.declare_from_sod(self.sod, self.facts)

    async def _chip_authentication(self) -> None:
        if self.cam:
            return  # CAM proved the chip during PACE; verified against EF.CardSecurity in PA
        ca = self.facts.ca
        data = await self._read_key_file(14, ca)
        choice = keyfiles.check_dg14(self.sod, data, ca) if data is not None else None
        if choice is None:
            return
        self.progress(Status.CHIP_AUTHENTICATION)
        try:
            # A chip that already answered an extended READ BINARY with 6700 gets the
            # short GENERAL AUTHENTICATE at once, not after one more 6700.
            result = await self.io.run(chip_authentication(
                *choice, rng=self.params.rng, extended_length=self.io.extended and self.io.limits.extended,
                max_command_data=self.io.link.max_command_data()))
        except CommandTooLong as exc:
            ca.tried(verdicts.RESPONSE_TOO_LONG if exc.response else verdicts.COMMAND_TOO_LONG, str(exc))
            return
        except (StatusError, AuthenticationError, UnsupportedError, LimitExceeded, ParseError) as exc:
            ca.tried(verdicts.REFUSED if isinstance(exc, StatusError) else verdicts.DISPROVEN, str(exc))
            if self.io.link.broken:
                await self._reestablish()
            return
        self.report.chip_authentication_protocol = result.protocol
        self.io.start(result.sm)
        self.ca_proof_pending = True

    async def _active_authentication(self) -> None:
        aa = self.facts.aa
        data = await self._read_key_file(15, aa)
        checked = keyfiles.check_dg15(self.sod, data, self.dgs.get(14), aa) if data is not None else None
        if checked is None:
            return
        self.progress(Status.ACTIVE_AUTHENTICATION)
        try:
            flow = active_authentication(*checked, rng=self.params.rng)
            if self.io.pipelining and not self.ca_proof_pending:
                # The content files follow AA whatever its verdict: same round trip.
                result = await self.io.run_ahead(flow, self._content_refs())
            else:
                result = await self.io.run(flow)
        except CommandTooLong as exc:
            aa.tried(verdicts.RESPONSE_TOO_LONG if exc.response else verdicts.COMMAND_TOO_LONG, str(exc))
            return
        except (StatusError, AuthenticationError, UnsupportedError, LimitExceeded, ParseError) as exc:
            aa.tried(verdicts.REFUSED if isinstance(exc, StatusError) else verdicts.DISPROVEN, str(exc))
            return
        self.report.active_authentication_algorithm = result.algorithm
        if result.success:
            aa.tried(verdicts.PROVEN)
        else:
            aa.tried(verdicts.DISPROVEN, str(result.error))

    def _content_refs(self) -> list[files.FileRef]:
        """The content files to read, small ones first and DG2 last (left pending: its
        step comes right after DG1's, with no command in between)."""
        dgs = [dg for dg in CONTENT_DGS if dg in self.sod.dg_hashes and dg not in self.dgs]
        dgs.sort(key=lambda dg: dg == 2)
        return [files.dg(dg) for dg in dgs]

    async def _read_content(self) -> None:
        refs = self._content_refs()
        if self.io.pipelining and not self.ca_proof_pending and not self.io.has_ahead(refs):
            await self.io.prefetch(refs)
        for dg in CONTENT_DGS:
            await self._read_dg(dg, mandatory=dg in MANDATORY_DGS)
        if self.ca_proof_pending:
            # Nothing was read after CA (a SOD listing no content DG): prove it on EF.SOD.
            try:
                await self._read(files.EF_SOD, mandatory=True)
            except SecureMessagingError:
                self.ca_proof_pending = False
                self.facts.ca.tried(verdicts.SM_BROKEN)

    async def _verify_cam(self, report: Report) -> None:
        """PACE-CAM, the before_decide hook of assess: CAM proved the chip during PACE,
        if its data match the key in a validly signed EF.CardSecurity."""
        assert self.pace_result is not None
        self.facts.ca.declare("EF.CardAccess")
        report.chip_authentication_protocol = report.access_control
        if self.card_security is None:
            self._key_file_missing(self.facts.ca, files.CARD_SECURITY)
            return
        await keyfiles.check_cam(self.card_security, self.pace_result, self.facts.ca,
                                 trust=self.params.trust, at=self.at, offload=self.params.offload)

    # -- reading files ----------------------------------------------------------------------

    async def _read(self, ref: files.FileRef, *, mandatory: bool) -> bytes | None:
        """Read a whole file; a missing or broken optional file is None, with the reason
        in ``self.unread`` (data groups) or in ``errors`` (the master file's EFs)."""
        try:
            data = await self.io.fetch(ref)
        except SecureMessagingError:
            raise
        except (FileReadError, StatusError, LimitExceeded, ParseError) as exc:
            state, why, sentence = _not_read(ref, exc)
            if mandatory:
                raise FileReadError(sentence) from None
            self.unread[ref.name] = (state, why)
            if not (ref.in_application and ref.name.startswith("EF.DG")) and not isinstance(exc, FileNotFoundOnChip):
                self.report.error(f"{ref.name} is protected by Extended Access Control and was not read"
                                  if isinstance(exc, FileAccessDenied) else sentence)
            return None
        if self.ca_proof_pending:
            # The first protected read under the CA session keys succeeded: only the chip
            # holding the DG14 private key could have derived them.
            self.ca_proof_pending = False
            self.facts.ca.tried(verdicts.PROVEN)
        return data

    async def _read_in_master_file(self, ref: files.FileRef) -> bytes | None:
        """Read an EF of the master file; the phone may have left anything selected."""
        try:
            return await self._read(ref, mandatory=False)
        except SecureMessagingError:
            raise
        except EmrtdError as exc:
            self.report.error(f"{ref.name} could not be read: {exc}")
            return None

    async def _read_dg(self, dg: int, *, mandatory: bool = False) -> bytes | None:
        ref = files.dg(dg)
        if dg not in self.sod.dg_hashes:
            self.io.discard(ref)
            return None
        self.progress(Status.read_dg(dg))
        self.attempted.add(dg)
        try:
            data = await self._read(ref, mandatory=mandatory)
        except SecureMessagingError:
            if not self.ca_proof_pending:
                raise
            # A clone chip cannot derive the CA session keys: the first protected read fails.
            self.ca_proof_pending = False
            self.facts.ca.tried(verdicts.SM_BROKEN)
            await self._reestablish()
            data = await self._read(ref, mandatory=mandatory)
        if data is not None:
            self.dgs[dg] = data
            self.report.files[f"dg{dg}"] = data
        else:
            # Listed in EF.SOD but not delivered: named in the result, never dropped silently.
            self.facts.not_read[dg] = self.unread.get(ref.name, (verdicts.FILE_UNREADABLE, "no reason given"))
        return data

    async def _read_key_file(self, dg: int, mech: verdicts.MechanismFacts) -> bytes | None:
        """DG14 or DG15; one that EF.SOD lists but that could not be read is the mechanism's fact."""
        data = await self._read_dg(dg)
        if data is None and dg in self.sod.dg_hashes:
            self._key_file_missing(mech, files.dg(dg))
        return data

    def _key_file_missing(self, mech: verdicts.MechanismFacts, ref: files.FileRef) -> None:
        state, why = self.unread.get(ref.name, (verdicts.FILE_UNREADABLE, "no reason given"))
        mech.file(ref.name, state, why)


def _not_read(ref: files.FileRef, exc: EmrtdError) -> tuple[str, str, str]:
    """Why a file is missing: (verdicts.FILE_* state, reason for a data group, sentence)."""
    if isinstance(exc, FileAccessDenied):
        return verdicts.FILE_WITHHELD, "status 6982: protected by Extended Access Control", f"{ref.name}: {exc}"
    if isinstance(exc, FileNotFoundOnChip):
        return verdicts.FILE_WITHHELD, "status 6A82: file not found", f"{ref.name}: {exc}"
    state = verdicts.FILE_WITHHELD if isinstance(exc, StatusError) else verdicts.FILE_UNREADABLE
    return state, str(exc), f"{ref.name} could not be read: {exc}"

