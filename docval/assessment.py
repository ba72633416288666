"""What a session does once the document's files are in hand, for every front end.

The v1 reader reads the files from the chip itself; a v2 phone reads them and
sends them.  Either way :func:`assess` turns EF.SOD, the data groups and the
facts recorded about Chip and Active Authentication into the
:class:`docval.result.Report`: it parses the content data groups, runs Passive
Authentication, lets the verdict rules (:mod:`docval.verdicts`) decide, and
converts JPEG 2000 images, but only those of data groups that Passive
Authentication verified, since decoding costs CPU that the chip's bytes choose.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable, Collection

from docval import verdicts
from docval.emrtd import images
from docval.emrtd.errors import FileReadError, LimitExceeded, ParseError
from docval.emrtd.lds import CONTENT_DGS, parse_dg
from docval.emrtd.lds.sod import SOD, parse_sod
from docval.emrtd.mrz import MRZ, MrzKey
from docval.emrtd.pa import PAResult, passive_authentication
from docval.emrtd.trustview import TrustView
from docval.result import PADetails, Report

DecodeImage = Callable[[bytes, int], Awaitable[images.Converted]]


@dataclass
class AssessParams:
    trust: TrustView | None
    at: datetime                                   # the instant certificate validity is judged at
    # Runs CPU-heavy verification (PA, pure-Python big-number work); the server
    # passes a thread-pool runner so one session cannot stall the others.
    offload: Callable[..., Awaitable[Any]]
    # JPEG 2000 (bytes, pixel cap) to images.Converted; the server passes its bounded
    # pool of worker processes (docval.imaging), since decoding holds the GIL.
    decode_image: DecodeImage
    decode_limits: images.DecodeLimits | None      # None: the defaults
    access_key: Any = None                         # MrzKey: DG1 must match it (v1); None in v2
    # The data groups the caller tried to obtain; one EF.SOD lists that is not in ``dgs``
    # and has no reason in facts.not_read yet is recorded as not delivered.  None: all.
    expected_dgs: Collection[int] | None = None
    missing_reason: str = "not delivered"


async def run_inline(fn: Callable[..., Any], *args: Any) -> Any:
    """An ``offload`` that runs the work at once, in the caller's thread (tests, tools)."""
    return fn(*args)


def decode_inline(data: bytes, max_pixels: int) -> Awaitable[images.Converted]:
    """A ``decode_image`` that decodes in this process (tests, tools)."""
    return run_inline(images.convert, data, max_pixels)


def parse_sod_file(data: bytes) -> SOD:
    """EF.SOD, or FileReadError: without it nothing can be verified."""
    try:
        return parse_sod(data)
    except ParseError as exc:
        raise FileReadError(f"EF.SOD is malformed: {exc}") from None


async def assess(sod_bytes: bytes, dgs: dict[int, bytes], facts: verdicts.Facts,
                 params: AssessParams, report: Report | None = None, *,
                 parsed_sod: SOD | None = None,
                 before_decide: Callable[[Report], Awaitable[None]] | None = None) -> Report:
    """Fill ``report`` (a new one if None) from the files and the facts.

    ``parsed_sod`` spares a second parse when the caller needed EF.SOD earlier (it
    is used only if it was parsed from ``sod_bytes``).  ``before_decide`` runs after
    PA and before the verdicts (v1 verifies PACE-CAM there, against EF.CardSecurity).
    Raises FileReadError for a malformed EF.SOD."""
    report = report if report is not None else Report()
    sod = parsed_sod if parsed_sod is not None and parsed_sod.raw == sod_bytes else parse_sod_file(sod_bytes)
    if params.trust is not None:
        report.trust_store_version = params.trust.version
    report.files["sod"] = sod_bytes
    report.sod_hash_algorithm = sod.hash_algorithm
    report.sod_hashes = dict(sod.dg_hashes)
    for dg, data in dgs.items():
        report.files[f"dg{dg}"] = data
    for dg in sorted(sod.dg_hashes):
        if dg not in dgs and dg not in facts.not_read and (params.expected_dgs is None or dg in params.expected_dgs):
            facts.not_read[dg] = (verdicts.FILE_UNREADABLE, params.missing_reason)

    content = _Content(report, params.access_key)
    for dg in CONTENT_DGS:
        if dg in dgs:
            content.parse(dg, dgs[dg])

    issuing_state = report.mrz.issuing_state if report.mrz is not None else None
    pa = await params.offload(_pa_call, passive_authentication, sod, dict(dgs), params.trust,
                              params.at, issuing_state)
    report.pa = PADetails.from_pa(pa)
    for dg in sorted(set(sod.dg_hashes) & set(dgs)):
        if dg not in report.pa.data_groups_with_valid_hash:
            report.error(f"DG{dg} does not match its hash in EF.SOD")
    if before_decide is not None:
        await before_decide(report)
    facts.sod_valid = report.pa.sod_signature_valid and report.pa.document_certificate_valid
    decision = verdicts.decide(facts)
    report.chip_authentication = decision.chip_authentication
    report.active_authentication = decision.active_authentication
    for error in decision.errors:
        report.error(error)
    report.pa.data_groups_not_read = decision.data_groups_not_read
    await content.convert_images(params)
    return report


class _Content:
    """The content data groups into the report; JPEG 2000 images wait for PA."""

    def __init__(self, report: Report, access_key: Any):
        self.report = report
        self.access_key = access_key
        # JPEG 2000 images by data group, held until PA says whether they may be decoded.
        self.undecoded: dict[int, list[tuple[int, bytes]]] = {}
        self.signatures: list[tuple[int, bytes]] = []

    def parse(self, dg: int, data: bytes) -> None:
        try:
            if dg == 1:
                self._dg1(parse_dg(1, data))
            elif dg == 2:
                self._dg2(parse_dg(2, data))
            elif dg == 7:
                self._dg7(parse_dg(7, data))
            elif dg == 11:
                details = self.report.additional_personal_details = parse_dg(11, data)
                for problem in details.problems:
                    self.report.error(problem)
            elif dg == 12:
                doc = self.report.additional_document_details = parse_dg(12, data)
                for problem in doc.problems:
                    self.report.error(problem)
        except (ParseError, LimitExceeded) as exc:
            self.report.error(f"DG{dg} could not be parsed: {exc}")

    def _dg1(self, mrz: MRZ) -> None:
        self.report.mrz = mrz
        for name in getattr(mrz, "check_digit_errors", ()):
            self.report.error(f"DG1: check digit of {name} is wrong")
        key = self.access_key
        if isinstance(key, MrzKey) and not _mrz_matches(mrz, key):
            self.report.error("DG1 does not match the MRZ data used for access control")

    def _dg2(self, faces: list[Any]) -> None:
        if not faces:
            self.report.error("DG2 holds no face image")
            return
        # Only the first face is shown.  JPEG is passed on as read; JPEG 2000 waits
        # for PA (convert_images): decoding costs CPU the chip's bytes choose.
        face = faces[0].data
        if images.needs_decoding(face):
            self.undecoded[2] = [(0, face)]
        elif images.sniff(face) == images.JPEG:
            self.report.face_photo = bytes(face)
        else:
            raise ParseError("the face image is neither JPEG nor JPEG 2000")

    def _dg7(self, found: list[bytes]) -> None:
        self.signatures = []
        for i, image in enumerate(found):
            if images.needs_decoding(image) or images.sniff(image) == images.JPEG:
                self.signatures.append((i, image))
            else:
                self.report.error(f"DG7 image {i + 1} left out: neither JPEG nor JPEG 2000")
        self.undecoded[7] = [(i, image) for i, image in self.signatures if images.needs_decoding(image)]
        self.report.signature_photos = [bytes(image) for _, image in self.signatures
                                        if not images.needs_decoding(image)]

    async def convert_images(self, params: AssessParams) -> None:
        """JPEG 2000 images to JPEG, only for data groups PA verified: a hash that
        matched a validly signed EF.SOD.  Every image not converted is left out of
        the result (face_photo null, or missing from signature_photos) and named
        in ``errors``, with the reason."""
        if not self.undecoded:
            return
        pa = self.report.pa
        signed = pa.sod_signature_valid and pa.document_certificate_valid
        budget = images.DecodeBudget(params.decode_limits)
        converted: dict[int, list[tuple[int, bytes]]] = {}
        for dg, pending in sorted(self.undecoded.items()):
            cap = images.FACE_MAX_PIXELS if dg == 2 else images.SIGNATURE_MAX_PIXELS
            what = "DG2 face image" if dg == 2 else "DG7 image"
            for i, data in pending:
                name = what if dg == 2 else f"{what} {i + 1}"
                if not signed or dg not in pa.data_groups_with_valid_hash:
                    self.report.error(f"{name} not converted from JPEG 2000: DG{dg} is not "
                                      f"covered by a validly signed EF.SOD")
                    continue
                try:
                    width, height = images.declared_size(data)
                    if width * height > cap:
                        raise LimitExceeded(f"{width}x{height} pixels exceed the limit of {cap}")
                    refused = budget.admit(width * height)
                    if refused is not None:
                        raise LimitExceeded(refused)
                    result = await params.decode_image(data, cap)
                except (ParseError, LimitExceeded) as exc:
                    self.report.error(f"{name} not converted from JPEG 2000: {exc}")
                    continue
                budget.spend(result.cpu_seconds)
                converted.setdefault(dg, []).append((i, result.jpeg))
        self.undecoded.clear()
        if 2 in converted:
            self.report.face_photo = converted[2][0][1]
        if 7 in converted:
            # In DG7's order, with the JPEG images passed on as read.
            done = dict(converted[7])
            self.report.signature_photos = [
                done[i] if i in done else bytes(image) for i, image in self.signatures
                if i in done or not images.needs_decoding(image)]


def _pa_call(fn: Callable[..., PAResult], sod: SOD, dgs: dict[int, bytes], trust: TrustView | None,
             at: datetime, issuing_state: str | None) -> PAResult:
    return fn(sod, dgs, trust, at=at, issuing_state=issuing_state)


def _mrz_matches(mrz: MRZ, key: MrzKey) -> bool:
    return (
        mrz.document_number.rstrip("<") == key.document_number.rstrip("<")
        and mrz.date_of_birth == key.date_of_birth
        and mrz.date_of_expiry == key.date_of_expiry
    )
