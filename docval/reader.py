"""The read-and-verify procedure: the one place that knows the *order* of a chip session.

``read_document`` is a coroutine over ``transport.transmit_many``: under Twisted
the WebSocket protocol fires the awaited Deferreds when the phone answers; in
tests the virtual chip answers synchronously.  Everything chip-specific is in
the sans-IO flows of ``docval.emrtd``; this module decides what to run next and
what a result may claim.

What may be claimed: access control proves nothing about the chip.  This module
only records *facts* (what the document declares, which files were delivered,
what each protocol run did) in a :class:`docval.verdicts.Facts`; the verdicts
and their sentences in ``errors`` come from the rule table of
:mod:`docval.verdicts` once Passive Authentication is done (docs/verdicts.md).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Protocol

from docval import keyfiles
from docval.assessment import AssessParams, assess, parse_sod_file
from docval.emrtd import burst, files
from docval.emrtd.apdu import MAX_SHORT_LE
from docval.emrtd.atrinfo import parse_atr_info
from docval.emrtd.errors import (
    AccessControlError,
    AccessControlLost,
    CommandTooLong,
    AuthenticationError,
    EmrtdError,
    FileAccessDenied,
    FileNotFoundOnChip,
    FileReadError,
    LimitExceeded,
    ParseError,
    SecureMessagingError,
    StatusError,
    UnsupportedError,
)
from docval.emrtd.flow import Flow, Link, run_async
from docval.emrtd.mrz import CanKey, MrzKey
from docval.result import Report
from docval.status import Status
from docval import verdicts
from docval.verdicts import Facts

# Data groups read for the result, in docs/websocket-api.md (statuses) order, with their statuses.
CONTENT_DGS = (1, 2, 7, 11, 12)
MANDATORY_DGS = frozenset({1, 2})
MIN_RESPONSE_BYTES = 64
MIN_COMMAND_BYTES = 64
MAX_COMMAND_BYTES = 65544   # header, 3-byte Lc, 65535 data bytes, 2-byte Le
MAX_RESPONSE_BYTES = 65536


class Transport(Protocol):
    def transmit_many(self, apdus: list[bytes]) -> Awaitable[list[bytes]]: ...


def _inline(fn: Callable[..., Any], *args: Any) -> Awaitable[Any]:
    async def call() -> Any:
        return fn(*args)
    return call()


def _decode_inline(data: bytes, max_pixels: int) -> Awaitable[Any]:
    from docval.emrtd.images import convert
    return _inline(convert, data, max_pixels)


@dataclass
class ReadParams:
    access_key: MrzKey | CanKey
    extended_length: bool
    max_command_bytes: int | None = None
    max_response_bytes: int | None = None
    max_pipelined: int = 1
    trust: Any = None                    # docval.trust.store.TrustStore
    file_caps: files.FileCaps = files.FileCaps()    # [limits] of the configuration
    classic: bool = False                # JMRTD-like strategy, for benchmarks
    rng: Callable[[int], bytes] = os.urandom
    at: datetime | None = None           # instant for certificate validity (default now)
    # Runs CPU-heavy verification (PA, pure-Python big-number work); the server
    # passes a thread-pool runner so one session cannot stall the others.
    offload: Callable[..., Awaitable[Any]] = _inline
    # Converts a JPEG 2000 image (bytes, pixel cap) to images.Converted; the server
    # passes its bounded pool of worker processes (docval.imaging), since decoding
    # holds the GIL.  Only images of verified data groups get here (_convert_images).
    decode_image: Callable[[bytes, int], Awaitable[Any]] = _decode_inline
    decode_limits: Any = None            # images.DecodeLimits; None: the defaults


async def read_document(transport: Transport, params: ReadParams,
                        progress: Callable[[Status], None]) -> Report:
    return await _Session(transport, params, progress).run()


class _Session:
    def __init__(self, transport: Transport, params: ReadParams, progress: Callable[[Status], None]):
        self.transport = transport
        self.params = params
        self._progress = progress
        self.extended = params.extended_length
        self.link = self._new_link()
        self.report = Report()
        self.dgs: dict[int, bytes] = {}
        self.sod: Any = None
        self.pace_result: Any = None
        self.card_security: bytes | None = None
        self.max_response = MAX_SHORT_LE
        self.limits: files.ReadLimits | None = None
        self.ca_proof_pending = False
        self.reestablished = False
        self.facts = Facts()
        # Why an optional file came back as None, by name: (verdicts.FILE_* state, plain words).
        self.unread: dict[str, tuple[str, str]] = {}
        # Files read ahead in a pipelined burst, by name, consumed by _read when their step
        # comes; a Pending one is valid only while no other command was sent (see _fetch).
        self.prefetched: dict[str, burst.Result] = {}
        self.pending_mark: tuple[Link, int] | None = None
        # The pure layer never reads the clock: certificate validity is judged at this instant.
        self.at = params.at or datetime.now(timezone.utc)
        # The data groups whose reading was attempted: any other that EF.SOD lists is not
        # for this reader (DG3/DG4 need Extended Access Control) and is not reported missing.
        self.attempted: set[int] = set()

    # -- plumbing ---------------------------------------------------------------------------

    def progress(self, status: Status) -> None:
        self.report.steps.append(status)
        self._progress(status)

    def _new_link(self) -> Link:
        cap = self.params.max_command_bytes
        if cap is not None:
            cap = min(max(cap, MIN_COMMAND_BYTES), MAX_COMMAND_BYTES)
        return Link(extended=self.extended, max_command_bytes=cap)

    async def _run(self, flow: Flow[Any]) -> Any:
        return await run_async(flow, self.link, self.transport.transmit_many)

    def _set_limits(self) -> None:
        """Size reads for the current link; what the chip taught us (6700, no SFI) is kept."""
        if self.params.classic:
            self.limits = files.ReadLimits.classic(self.params.file_caps)
            return
        plain = self.max_response
        if self.link.sm is not None:
            plain = max(1, self.link.sm.max_plain_le(self.max_response))
        pipeline = max(1, min(self.params.max_pipelined, 64))
        self.link.extended = self.extended
        old = self.limits
        self.limits = files.ReadLimits(max_le=plain, extended=self.extended, pipeline=pipeline,
                                       caps=self.params.file_caps)
        if old is not None:
            # Limits only ever shrink within a session: a 6700 taught once holds for every file.
            self.limits.max_le = min(plain, old.max_le)
            self.limits.use_sfi = old.use_sfi
            self.limits.extended = self.extended and old.extended

    @property
    def pipelining(self) -> bool:
        return not self.params.classic and self.limits is not None and self.limits.pipeline >= 2

    async def _prefetch(self, refs: list[files.FileRef], *, first: Any = None,
                        head: Callable[[], Flow[bytes]] | None = None) -> Any:
        """Read ``refs`` in pipelined bursts, behind the flow ``first`` if given (its result
        is returned; its errors raised).  The last file may be left Pending: it goes on,
        with no round trip lost, when its own step reads it.  ``head`` makes the flow of
        EF.SOD's rest, which goes first and is kept like the files."""
        if head is not None:
            refs = [files.EF_SOD] + refs
        factories = [] if first is None else [lambda: first]
        factories += [lambda ref=ref: files.read_file(ref, self.limits) for ref in refs]
        if head is not None:
            factories[0] = head
        results = await self._run(burst.together(factories, self.limits.pipeline, suspend_last=True))
        if first is not None:
            head = results.pop(0)
            if isinstance(head, burst.Pending):   # only when ``first`` was the sole flow
                return await self._run(burst.resume(head.flow, head.step))
        for ref, result in zip(refs, results):
            self.prefetched[ref.name] = result
        if results and isinstance(results[-1], burst.Pending):
            self.pending_mark = (self.link, self.link.commands_sent)
        return head.get() if first is not None else None

    async def _fetch(self, ref: files.FileRef) -> bytes:
        ahead = self.prefetched.pop(ref.name, None)
        if isinstance(ahead, burst.Outcome):
            return ahead.get()
        if isinstance(ahead, burst.Pending):
            # Its next reads address the current file: only if nothing was sent since.
            if self.pending_mark == (self.link, self.link.commands_sent):
                self.pending_mark = None
                return await self._run(burst.resume(ahead.flow, ahead.step))
            ahead.flow.close()
        return await self._run(files.read_file(ref, self.limits))

    async def _read(self, ref: files.FileRef, *, mandatory: bool) -> bytes | None:
        """Read a whole file; a missing or broken optional file is None, with the reason
        in ``self.unread`` (data groups) or in ``errors`` (the master file's EFs)."""
        is_dg = ref.in_application and ref.name.startswith("EF.DG")
        try:
            data = await self._fetch(ref)
        except SecureMessagingError:
            raise
        except (FileNotFoundOnChip, FileAccessDenied) as exc:
            if mandatory:
                raise FileReadError(f"{ref.name}: {exc}") from None
            denied = isinstance(exc, FileAccessDenied)
            self.unread[ref.name] = (verdicts.FILE_WITHHELD, "status 6982: protected by Extended Access Control" if denied
                                     else "status 6A82: file not found")
            if denied and not is_dg:
                self.report.error(f"{ref.name} is protected by Extended Access Control and was not read")
            return None
        except StatusError as exc:
            if mandatory:
                raise FileReadError(f"{ref.name} could not be read: {exc}") from None
            self.unread[ref.name] = (verdicts.FILE_WITHHELD, str(exc))
            if not is_dg:
                self.report.error(f"{ref.name} could not be read: {exc}")
            return None
        except (FileReadError, LimitExceeded, ParseError) as exc:
            if mandatory:
                raise FileReadError(f"{ref.name} could not be read: {exc}") from None
            self.unread[ref.name] = (verdicts.FILE_UNREADABLE, str(exc))
            if not is_dg:
                self.report.error(f"{ref.name} could not be read: {exc}")
            return None
        if self.ca_proof_pending:
            # The first protected read under the CA session keys succeeded: only the chip
            # holding the DG14 private key could have derived them.
            self.ca_proof_pending = False
            self.facts.ca.tried(verdicts.PROVEN)
        return data

    # -- the procedure ----------------------------------------------------------------------

    async def run(self) -> Report:
        if self.params.trust is not None:
            self.report.trust_store_version = getattr(self.params.trust, "version", None)
        await self._negotiate_sizes()
        self.progress(Status.ACCESS_CONTROL)
        await self._access_control()
        await self._read_sod()
        await self._chip_authentication()
        await self._active_authentication()
        await self._read_content()
        await self._passive_authentication()
        return self.report

    async def _negotiate_sizes(self) -> None:
        p = self.params
        max_resp = p.max_response_bytes
        if p.extended_length and p.max_command_bytes is None and p.max_response_bytes is None:
            self.progress(Status.READ_ATR_INFO)
            self.max_response = MAX_RESPONSE_BYTES
            self._set_limits()
            if self.pipelining:
                # EF.CardAccess is next in the same master file: one round trip for both.
                await self._prefetch([files.ATR_INFO, files.CARD_ACCESS])
            data = await self._read_in_master_file(files.ATR_INFO)
            if data is not None:
                try:
                    info = parse_atr_info(data)
                except ParseError as exc:
                    self.report.error(f"EF.ATR/INFO ignored: {exc}")
                else:
                    if info.extended_length is False:
                        self.extended = False
                    max_resp = info.max_response_bytes
        if not self.extended:
            self.max_response = MAX_SHORT_LE
        elif max_resp is None:
            self.max_response = MAX_RESPONSE_BYTES
        else:
            # A phone may send 0, 1 or 10^9 (docs/reliability.md P6): clamp, then learn from 6700.
            self.max_response = min(max(max_resp, MIN_RESPONSE_BYTES), MAX_RESPONSE_BYTES)
        if not p.extended_length and p.max_response_bytes:
            self.max_response = min(self.max_response, max(p.max_response_bytes, MIN_RESPONSE_BYTES))
        self._set_limits()

    async def _read_in_master_file(self, ref: files.FileRef) -> bytes | None:
        """Read an EF of the master file; the phone may have left anything selected."""
        try:
            return await self._read(ref, mandatory=False)
        except SecureMessagingError:
            raise
        except EmrtdError as exc:
            self.report.error(f"{ref.name} could not be read: {exc}")
            return None

    async def _access_control(self) -> None:
        key = self.params.access_key
        card_access = await self._read_card_access()
        pace_info = None
        offered = 0
        if card_access is not None:
            from docval.emrtd.pace import choose_pace_info
            from docval.emrtd.securityinfo import parse_card_access
            try:
                infos = parse_card_access(card_access)
                pace_info = choose_pace_info(infos.pace_infos)
                offered = len(infos.pace_infos)
            except (ParseError, UnsupportedError) as exc:
                self.report.error(f"EF.CardAccess ignored: {exc}")
            else:
                if (infos.ca_infos or infos.ca_public_keys
                        or any(_mapping(i) == "CAM" for i in infos.pace_infos)):
                    self.facts.ca.declare("EF.CardAccess")
        if pace_info is not None:
            try:
                await self._pace(pace_info, send_parameter_id=offered > 1)
                return
            except (UnsupportedError, StatusError) as exc:
                if not isinstance(key, MrzKey):
                    raise
                self.report.error(f"PACE not possible, falling back to BAC: {exc}")
                self.link = self._new_link()
        if not isinstance(key, MrzKey):
            raise AccessControlError("the document does not offer PACE, and a CAN works only with PACE")
        await self._run(files.select_application())
        from docval.emrtd.bac import bac
        sm = await self._run(bac(key, rng=self.params.rng))
        self.link.start(sm)
        self.report.access_control = "BAC"
        self._set_limits()

    async def _read_card_access(self) -> bytes | None:
        data = await self._read_in_master_file(files.CARD_ACCESS)
        if data is None and not self.reestablished:
            # Some phones select the eMRTD application before handing over, where the
            # SFI means another file: select the master file and look once more before
            # concluding that the document offers no PACE.
            try:
                await self._run(files.select_master_file())
            except (StatusError, FileReadError):
                return None
            data = await self._read_in_master_file(files.CARD_ACCESS)
        return data

    async def _pace(self, pace_info: Any, *, send_parameter_id: bool) -> None:
        from docval.emrtd.pace import pace
        # ICAO 9303-11 §4.4.4.1: DO'84' names the domain parameters only when the
        # document offers more than one set; some chips refuse it otherwise.
        result = await self._run(pace(self.params.access_key, pace_info, rng=self.params.rng,
                                      send_parameter_id=send_parameter_id,
                                      pipeline=self.limits.pipeline if self.pipelining else 1))
        self.link.start(result.sm)
        self.pace_result = result
        self.report.access_control = result.protocol
        self._set_limits()
        if result.mapping == "CAM":
            # EF.CardSecurity holds the static key the CAM data must match; it lives
            # in the master file, so read it before selecting the application.
            self.card_security = await self._read_in_master_file(files.CARD_SECURITY)
        if self.pipelining and self.sod is None and not self.reestablished:
            # EF.SOD is read right after: its first read rides with the SELECT.
            await self._prefetch([files.EF_SOD], first=files.select_application())
        else:
            await self._run(files.select_application())

    async def _reestablish(self) -> None:
        """Run access control again after the chip dropped Secure Messaging (e.g. failed CA).

        The CAN or MRZ already worked once in this session, so a failure now is never
        the user's: it closes with COMMUNICATION_FAILED, not ACCESS_CONTROL_FAILED."""
        if self.reestablished:
            raise SecureMessagingError("secure messaging failed again after re-establishing it")
        self.reestablished = True
        self.link = self._new_link()
        self.prefetched.clear()
        self._set_limits()
        # The application is selected now; EF.CardAccess lives in the master file.
        try:
            await self._run(files.select_master_file())
        except (StatusError, FileReadError) as exc:
            self.report.error(f"selecting the master file failed: {exc}")
        try:
            await self._access_control()
        except AccessControlError as exc:
            raise AccessControlLost(f"access control failed after it had succeeded once: {exc}") from None

    async def _read_sod(self) -> None:
        self.progress(Status.READ_SOD)
        await self._read_sod_with_dg14()
        data = await self._read(files.EF_SOD, mandatory=True)
        self.sod = parse_sod_file(data)
        self.report.files["sod"] = data
        self.report.sod_hash_algorithm = self.sod.hash_algorithm
        self.report.sod_hashes = dict(self.sod.dg_hashes)
        keyfiles.declare_from_sod(self.sod, self.facts)

    async def _read_sod_with_dg14(self) -> None:
        """Pipelining: DG14's first read rides with EF.SOD's last burst.  Documents with
        Chip Authentication have a DG14; without one the chip says 6A82, the answer is
        dropped at READ_DG14, and one APDU was spent."""
        ahead = self.prefetched.get(files.EF_SOD.name)
        if not (self.pipelining and isinstance(ahead, burst.Pending)
                and self.pending_mark == (self.link, self.link.commands_sent)
                and (self.pace_result is None or self.pace_result.mapping != "CAM")):
            return
        step = ahead.step
        if (len(step) if isinstance(step, tuple) else 1) >= self.limits.pipeline:
            return      # a full burst: EF.SOD has more to read after it
        del self.prefetched[files.EF_SOD.name]
        self.pending_mark = None
        resumed = [burst.resume(ahead.flow, step)]

        def sod() -> Flow[bytes]:
            # The first time, the read already under way; if it has to run again, afresh.
            return resumed.pop() if resumed else files.read_file(files.EF_SOD, self.limits)

        await self._prefetch([files.dg(14)], first=None, head=sod)

    async def _read_dg(self, dg: int, *, mandatory: bool = False) -> bytes | None:
        if dg not in self.sod.dg_hashes:
            ahead = self.prefetched.pop(files.dg(dg).name, None)
            if isinstance(ahead, burst.Pending):
                ahead.flow.close()
            return None
        self.progress(Status.read_dg(dg))
        self.attempted.add(dg)
        try:
            data = await self._read(files.dg(dg), mandatory=mandatory)
        except SecureMessagingError:
            if not self.ca_proof_pending:
                raise
            # A clone chip cannot derive the CA session keys: the first protected read fails.
            self.ca_proof_pending = False
            self.facts.ca.tried(verdicts.SM_BROKEN)
            await self._reestablish()
            data = await self._read(files.dg(dg), mandatory=mandatory)
        if data is not None:
            self.dgs[dg] = data
            self.report.files[f"dg{dg}"] = data
        else:
            # Listed in EF.SOD but not delivered: named in the result, never dropped silently.
            state, why = self.unread.get(files.dg(dg).name, (verdicts.FILE_UNREADABLE, "no reason given"))
            self.facts.not_read[dg] = (state, why)
        return data

    def _key_file_missing(self, mech: verdicts.MechanismFacts, ref: files.FileRef) -> None:
        state, why = self.unread.get(ref.name, (verdicts.FILE_UNREADABLE, "no reason given"))
        mech.file(ref.name, state, why)

    async def _chip_authentication(self) -> None:
        if self.pace_result is not None and self.pace_result.mapping == "CAM":
            return  # CAM proved the chip during PACE; verified against EF.CardSecurity in PA
        ca = self.facts.ca
        data = await self._read_dg(14)
        if data is None:
            if 14 in self.sod.dg_hashes:
                self._key_file_missing(ca, files.dg(14))
            return
        from docval.emrtd.ca import chip_authentication
        choice = keyfiles.check_dg14(self.sod, data, ca)
        if choice is None:
            return
        ca_info, ca_key = choice
        self.progress(Status.CHIP_AUTHENTICATION)
        try:
            # A chip that already answered an extended READ BINARY with 6700 gets the
            # short GENERAL AUTHENTICATE at once, not after one more 6700.
            extended = self.extended and (self.limits is None or self.limits.extended)
            result = await self._run(chip_authentication(ca_info, ca_key, rng=self.params.rng,
                                                         extended_length=extended,
                                                         max_command_data=self.link.max_command_data()))
        except CommandTooLong as exc:
            ca.tried(verdicts.RESPONSE_TOO_LONG if exc.response else verdicts.COMMAND_TOO_LONG, str(exc))
            return
        except StatusError as exc:
            ca.tried(verdicts.REFUSED, str(exc))
            if self.link.broken:
                await self._reestablish()
            return
        except (AuthenticationError, UnsupportedError, LimitExceeded, ParseError) as exc:
            ca.tried(verdicts.DISPROVEN, str(exc))
            if self.link.broken:
                await self._reestablish()
            return
        self.report.chip_authentication_protocol = result.protocol
        self.link.start(result.sm)
        self._set_limits()
        self.ca_proof_pending = True

    async def _active_authentication(self) -> None:
        aa = self.facts.aa
        data = await self._read_dg(15)
        if data is None:
            if 15 in self.sod.dg_hashes:
                self._key_file_missing(aa, files.dg(15))
            return
        from docval.emrtd.aa import active_authentication
        checked = keyfiles.check_dg15(self.sod, data, self.dgs.get(14), aa)
        if checked is None:
            return
        key, aa_info = checked
        self.progress(Status.ACTIVE_AUTHENTICATION)
        try:
            flow = active_authentication(key, aa_info, rng=self.params.rng)
            if self.pipelining and not self.ca_proof_pending:
                # The content files follow AA whatever its verdict: same round trip.
                result = await self._prefetch(self._content_refs(), first=flow)
            else:
                result = await self._run(flow)
        except CommandTooLong as exc:
            aa.tried(verdicts.RESPONSE_TOO_LONG if exc.response else verdicts.COMMAND_TOO_LONG, str(exc))
            return
        except StatusError as exc:
            aa.tried(verdicts.REFUSED, str(exc))
            return
        except (AuthenticationError, UnsupportedError, LimitExceeded, ParseError) as exc:
            aa.tried(verdicts.DISPROVEN, str(exc))
            return
        self.report.active_authentication_algorithm = result.algorithm
        if result.success:
            aa.tried(verdicts.PROVEN)
        else:
            aa.tried(verdicts.DISPROVEN, str(result.error))

    def _content_refs(self) -> list[files.FileRef]:
        """The content files to read, small ones first and DG2 last (left Pending: its
        step comes right after DG1's, with no command in between)."""
        dgs = [dg for dg in CONTENT_DGS if dg in self.sod.dg_hashes and dg not in self.dgs]
        dgs.sort(key=lambda dg: dg == 2)
        return [files.dg(dg) for dg in dgs]

    async def _read_content(self) -> None:
        refs = self._content_refs()
        if self.pipelining and not self.ca_proof_pending and not any(r.name in self.prefetched for r in refs):
            await self._prefetch(refs)
        for dg in CONTENT_DGS:
            await self._read_dg(dg, mandatory=dg in MANDATORY_DGS)
        if self.ca_proof_pending:
            # Nothing was read after CA (a SOD listing no content DG): prove it on EF.SOD.
            try:
                await self._read(files.EF_SOD, mandatory=True)
            except SecureMessagingError:
                self.ca_proof_pending = False
                self.facts.ca.tried(verdicts.SM_BROKEN)

    async def _passive_authentication(self) -> None:
        self.progress(Status.PASSIVE_AUTHENTICATION)
        p = self.params
        params = AssessParams(trust=p.trust, at=self.at, offload=p.offload, decode_image=p.decode_image,
                              decode_limits=p.decode_limits, access_key=p.access_key,
                              expected_dgs=self.attempted)
        cam = self._verify_cam if self.pace_result is not None and self.pace_result.mapping == "CAM" else None
        await assess(self.sod.raw, self.dgs, self.facts, params, self.report,
                     parsed_sod=self.sod, before_decide=cam)

    async def _verify_cam(self, report: Report) -> None:
        from docval.emrtd.ca import load_ca_key
        from docval.emrtd.lds.cms import parse_signed_data
        from docval.emrtd.pa import verify_signed_data
        from docval.emrtd.pace import verify_cam
        from docval.emrtd.securityinfo import parse_security_infos
        ca = self.facts.ca
        ca.declare("EF.CardAccess")
        self.report.chip_authentication_protocol = self.report.access_control
        if self.card_security is None:
            self._key_file_missing(ca, files.CARD_SECURITY)
            return
        try:
            signed = parse_signed_data(self.card_security)
            verdict = await self.params.offload(verify_signed_data, signed, self.params.trust, self.at)
            infos = parse_security_infos(signed.content)
        except (ParseError, UnsupportedError, LimitExceeded) as exc:
            ca.file("EF.CardSecurity", verdicts.FILE_UNPARSABLE, f"malformed: {exc}")
            return
        if infos.ca_infos or infos.ca_public_keys:
            ca.declare("EF.CardSecurity")
        if not (verdict.sod_signature_valid and verdict.document_certificate_valid):
            ca.file("EF.CardSecurity", verdicts.FILE_UNSIGNED, str(verdict.error or ""))
            return
        ca.file("EF.CardSecurity", verdicts.FILE_READ)
        if any(verify_cam(self.pace_result, load_ca_key(k)) for k in infos.ca_public_keys):
            ca.tried(verdicts.PROVEN)
        else:
            ca.tried(verdicts.DISPROVEN, "PACE-CAM: the chip's authentication data does not match EF.CardSecurity")


def _mapping(info: Any) -> str | None:
    try:
        return info.parts.mapping
    except EmrtdError:
        return None

