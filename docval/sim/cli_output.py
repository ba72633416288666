"""What ``docval-sim`` prints about a result: a readable summary (sizes of images, never
their bytes) and how the result differs from what the virtual document's profile expects.
"""
from __future__ import annotations

import base64
import re
from typing import Any


def describe_image(b64: str | None) -> str:
    if not b64:
        return "none"
    try:
        data = base64.b64decode(b64, validate=True)
    except ValueError:
        return "not base64"
    if data.startswith(b"\xff\xd8\xff"):
        kind = "JPEG"
    elif data.startswith(b"\x00\x00\x00\x0cjP  ") or data.startswith(b"\xff\x4f\xff\x51"):
        kind = "JPEG 2000"
    else:
        kind = "image"
    return f"{kind}, {len(data)} bytes"


def summarize(result: dict[str, Any]) -> list[str]:
    """A readable summary of an emrtd_passport object (no raw images)."""
    lines = []
    mrz = result.get("mrz_info")
    if mrz:
        names = " ".join(mrz.get("secondary_identifier") or [])
        lines.append(
            f"document   {mrz.get('document_type')} {mrz.get('document_code')} "
            f"{mrz.get('issuing_state')} no. {mrz.get('document_number')}, "
            f"expires {mrz.get('date_of_expiry')}"
        )
        lines.append(
            f"holder     {mrz.get('primary_identifier')}, {names}; born {mrz.get('date_of_birth')}, "
            f"{mrz.get('gender')}, nationality {mrz.get('nationality')}"
        )
    else:
        lines.append("document   (no MRZ)")
    pa = result.get("passive_authentication_details") or {}
    lines.append(
        f"passive authentication  {str(result.get('passive_authentication')).lower()} "
        f"(SOD signature {_yes(pa.get('sod_signature_valid'))}, "
        f"certificate {_yes(pa.get('document_certificate_valid'))}, "
        f"hashes valid for DG {_dgs(pa.get('data_groups_with_valid_hash'))} "
        f"of {_dgs(pa.get('data_groups_checked'))})"
    )
    if pa.get("error"):
        lines.append(f"    error: {pa['error']}")
    if pa.get("data_groups_not_read"):
        lines.append(f"    not read: DG {_dgs(pa['data_groups_not_read'])}")
    lines.append(f"chip authentication     {result.get('chip_authentication_result')}")
    lines.append(f"active authentication   {result.get('active_authentication_result')}")
    extras = [f"{k}={result[k]}" for k in ("access_control", "chip_authentication_protocol",
                                            "active_authentication_algorithm", "trust_store_version")
              if result.get(k)]
    if extras:
        lines.append("details    " + ", ".join(extras))
    lines.append(f"face photo {describe_image(result.get('face_photo'))}")
    if result.get("signature_photos"):
        lines.append(f"signatures {len(result['signature_photos'])}")
    for key, label in (("additional_personal_details", "DG11"), ("additional_document_details", "DG12")):
        if result.get(key):
            filled = sorted(k for k, v in result[key].items() if v not in (None, [], ""))
            lines.append(f"{label}       {', '.join(filled) or '(empty)'}")
    if "files_binary" in result:
        lines.append(f"files      {', '.join(sorted(result['files_binary']))}")
    errors = result.get("errors") or []
    lines.append("errors     " + ("none" if not errors else ""))
    lines.extend(f"  - {e}" for e in errors)
    return lines


def _yes(v: Any) -> str:
    return "valid" if v else "NOT valid"


def _dgs(values: Any) -> str:
    return ",".join(str(v) for v in values) if values else "-"


def verdict(result: dict[str, Any], profile: Any) -> list[str]:
    """How ``result`` differs from what ``profile`` expects (empty: as expected)."""
    expect = profile.expect
    pairs = (
        ("access_control", result.get("access_control"), expect.access_control),
        ("chip_authentication_result", result.get("chip_authentication_result"),
         expect.chip_authentication),
        ("active_authentication_result", result.get("active_authentication_result"),
         expect.active_authentication),
        ("passive_authentication", result.get("passive_authentication"),
         expect.passive_authentication),
    )
    return [f"{name} {show_value(got)} (expected {show_value(want)})" for name, got, want in pairs if got != want]


def show_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) or value is None else str(value)


def snake_case(value: Any) -> Any:
    """The camelCase v2 RESULT with v1's key names, so one summary serves both APIs."""
    if isinstance(value, dict):
        return {re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), k): snake_case(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [snake_case(v) for v in value]
    return value
