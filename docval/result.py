"""The ``emrtd_passport`` result object of docs/result.md, built from typed values.

The reader fills a :class:`Report`; :meth:`Report.to_emrtd_passport` is the one
place that knows the JSON field names.  The phone SDKs fail to parse a result
that lacks a required field, so every required key is always present; DocVal's
own additions are extra keys the SDKs ignore.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import docval

SUCCESS = "SUCCESS"
FAILED = "FAILED"
UNAVAILABLE = "UNAVAILABLE"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class PADetails:
    """What Passive Authentication found; mirrors ``passive_authentication_details``."""

    passive_authentication: bool = False
    sod_signature_valid: bool = False
    document_certificate_valid: bool = False
    data_groups_checked: list[int] = field(default_factory=list)
    data_groups_with_valid_hash: list[int] = field(default_factory=list)
    all_hashes_valid: bool = False
    error: str | None = "passive authentication was not performed"
    signature_algorithm: str | None = None
    hash_algorithm: str | None = None
    warnings: list[str] = field(default_factory=list)
    # Data groups EF.SOD lists that the chip did not deliver (withheld or unreadable);
    # each is also named in ``errors``.  Filled by the reader, not by PA.
    data_groups_not_read: list[int] = field(default_factory=list)

    @classmethod
    def from_pa(cls, pa: Any) -> "PADetails":
        return cls(
            passive_authentication=bool(pa.passive_authentication),
            sod_signature_valid=bool(pa.sod_signature_valid),
            document_certificate_valid=bool(pa.document_certificate_valid),
            data_groups_checked=sorted(pa.data_groups_checked),
            data_groups_with_valid_hash=sorted(pa.data_groups_with_valid_hash),
            all_hashes_valid=bool(pa.all_hashes_valid),
            error=pa.error,
            signature_algorithm=getattr(pa, "signature_algorithm", None),
            hash_algorithm=getattr(pa, "hash_algorithm", None),
            warnings=list(getattr(pa, "warnings", []) or []),
        )


@dataclass(repr=False)
class Report:
    """Everything a session learned about one document (kept only until it closes)."""

    sod_hash_algorithm: str | None = None
    sod_hashes: dict[int, bytes] = field(default_factory=dict)
    mrz: Any = None                      # docval.emrtd.mrz.MRZ
    face_photo: bytes | None = None      # JPEG
    signature_photos: list[bytes] | None = None
    additional_personal_details: Any = None   # DG11 object with to_json()
    additional_document_details: Any = None   # DG12 object with to_json()
    pa: PADetails = field(default_factory=PADetails)
    chip_authentication: str = UNAVAILABLE
    active_authentication: str = UNAVAILABLE
    errors: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)   # "sod", "dg1", ... raw bytes
    # DocVal's extra fields: algorithms and provenance, never personal data.
    access_control: str | None = None
    chip_authentication_protocol: str | None = None
    active_authentication_algorithm: str | None = None
    trust_store_version: str | None = None

    def error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)

    def to_emrtd_passport(self, files_binary: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sod_info": self._sod_info(),
            "mrz_info": mrz_info(self.mrz) if self.mrz is not None else None,
            "face_photo": b64(self.face_photo) if self.face_photo is not None else None,
            "signature_photos": (
                [b64(p) for p in self.signature_photos] if self.signature_photos is not None else None
            ),
            "additional_personal_details": (
                self.additional_personal_details.to_json()
                if self.additional_personal_details is not None else None
            ),
            "additional_document_details": (
                self.additional_document_details.to_json()
                if self.additional_document_details is not None else None
            ),
            "passive_authentication": self.pa.passive_authentication,
            "passive_authentication_details": {
                "sod_signature_valid": self.pa.sod_signature_valid,
                "document_certificate_valid": self.pa.document_certificate_valid,
                "data_groups_checked": list(self.pa.data_groups_checked),
                "data_groups_with_valid_hash": list(self.pa.data_groups_with_valid_hash),
                "all_hashes_valid": self.pa.all_hashes_valid,
                "error": self.pa.error,
                "signature_algorithm": self.pa.signature_algorithm,
                "hash_algorithm": self.pa.hash_algorithm,
                "warnings": list(self.pa.warnings),
                "data_groups_not_read": list(self.pa.data_groups_not_read),
            },
            "chip_authentication_result": self.chip_authentication,
            "active_authentication_result": self.active_authentication,
            "errors": list(self.errors),
            "access_control": self.access_control,
            "chip_authentication_protocol": self.chip_authentication_protocol,
            "active_authentication_algorithm": self.active_authentication_algorithm,
            "trust_store_version": self.trust_store_version,
            "docval_version": docval.__version__,
        }
        if files_binary:
            out["files_binary"] = {name: b64(data) for name, data in sorted(self.files.items())}
        return out

    def _sod_info(self) -> dict[str, Any] | None:
        if self.sod_hash_algorithm is None:
            return None
        return {
            "hash_algorithm": self.sod_hash_algorithm,
            "hash_for_data_group": {str(n): b64(h) for n, h in sorted(self.sod_hashes.items())},
        }

    def __repr__(self) -> str:
        # A traceback or debug log may show the report: algorithms and verdicts only.
        return f"Report({self.summary()})"

    def summary(self) -> dict[str, Any]:
        """Algorithms and verdicts for the session's log line: no personal data."""
        return {
            "access_control": self.access_control,
            "ca": self.chip_authentication,
            "ca_protocol": self.chip_authentication_protocol,
            "aa": self.active_authentication,
            "aa_algorithm": self.active_authentication_algorithm,
            "pa": self.pa.passive_authentication,
            "pa_signature": self.pa.signature_algorithm,
            "hash": self.sod_hash_algorithm,
            "dgs": sorted(self.sod_hashes),
            "errors": len(self.errors),
        }


def mrz_info(mrz: Any) -> dict[str, Any]:
    return {
        "document_type": mrz.document_type,
        "document_code": mrz.document_code,
        "issuing_state": mrz.issuing_state,
        "primary_identifier": mrz.primary_identifier,
        "secondary_identifier": list(mrz.secondary_identifier),
        "nationality": mrz.nationality,
        "document_number": mrz.document_number,
        "date_of_birth": mrz.date_of_birth,
        "date_of_expiry": mrz.date_of_expiry,
        "gender": mrz.gender,
        "optional_data1": mrz.optional_data1 or "",
        "optional_data2": mrz.optional_data2 if mrz.document_type == "TD1" else None,
    }
