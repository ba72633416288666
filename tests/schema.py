"""The emrtd_passport schema, used to hold every result against it.

Two checks: the published JSON Schema (docs/emrtd_passport.schema.json, what integrators
validate with) and the rules below, which also check relations a schema cannot state
(hashes valid only for checked data groups).  Every test that produces a result calls
:func:`check_emrtd_passport`, so a field the code adds, drops or changes without the
published schema following fails the suite.
"""
from __future__ import annotations

import base64
import json
import re
from functools import lru_cache
from pathlib import Path

import jsonschema

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "emrtd_passport.schema.json"


@lru_cache(maxsize=1)
def published_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check_published_schema(obj: dict) -> None:
    """Assert that obj validates against docs/emrtd_passport.schema.json."""
    errors = sorted(published_validator().iter_errors(obj), key=lambda e: list(e.path))
    # Paths and messages only: a message may quote a value, and the value is test data.
    assert not errors, [f"{'/'.join(map(str, e.path)) or '<root>'}: {e.validator}" for e in errors]

STR = (str,)
OPT_STR = (str, type(None))

MRZ_FIELDS = {
    "document_type": STR, "document_code": STR, "issuing_state": STR,
    "primary_identifier": STR, "secondary_identifier": (list,), "nationality": STR,
    "document_number": STR, "date_of_birth": STR, "date_of_expiry": STR, "gender": STR,
    "optional_data1": STR, "optional_data2": OPT_STR,
}
DG11_FIELDS = (
    "full_name_of_holder", "other_names", "personal_number", "full_date_of_birth", "place_of_birth",
    "permanent_address", "telephone", "profession", "title", "personal_summary",
    "proof_of_citizenship_image", "other_valid_travel_document_numbers", "custody_information",
)
DG12_FIELDS = (
    "issuing_authority", "date_of_issue", "names_of_other_persons", "endorsements_and_observations",
    "tax_or_exit_requirements", "image_of_front", "image_of_rear", "date_and_time_of_personalization",
    "personalization_system_serial_number",
)
PA_DETAILS = {
    "sod_signature_valid": (bool,), "document_certificate_valid": (bool,),
    "data_groups_checked": (list,), "data_groups_with_valid_hash": (list,),
    "all_hashes_valid": (bool,), "error": OPT_STR,
    # DocVal's addition, always present: SOD-listed data groups the chip did not deliver.
    "data_groups_not_read": (list,),
}
VERDICTS = {"SUCCESS", "FAILED", "UNAVAILABLE"}
HASH_NAMES = {"SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512"}
YYMMDD = re.compile(r"[0-9]{6}")
# docs/result.md says "yyyyMMdd"; documents that give only part of a date yield yyyyMM or yyyy.
YYYYMMDD = re.compile(r"[0-9]{4}(?:[0-9]{2}){0,2}")
DATE_FIELDS = {"additional_personal_details": "full_date_of_birth",
               "additional_document_details": "date_of_issue"}


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def check_emrtd_passport(obj: dict) -> None:
    """Assert that obj is a valid emrtd_passport (raises AssertionError)."""
    check_published_schema(obj)
    required = {
        "sod_info", "mrz_info", "face_photo", "signature_photos", "additional_personal_details",
        "additional_document_details", "passive_authentication", "passive_authentication_details",
        "chip_authentication_result", "active_authentication_result", "errors",
    }
    missing = required - obj.keys()
    assert not missing, f"missing fields {missing}"
    sod = obj["sod_info"]
    if sod is not None:
        assert sod["hash_algorithm"] in HASH_NAMES, sod["hash_algorithm"]
        for n, h in sod["hash_for_data_group"].items():
            assert n.isdigit() and _b64(h)
    mrz = obj["mrz_info"]
    if mrz is not None:
        assert set(MRZ_FIELDS) <= mrz.keys()
        for name, types in MRZ_FIELDS.items():
            assert isinstance(mrz[name], types), name
        assert mrz["document_type"] in ("TD1", "TD2", "TD3")
        assert mrz["gender"] in ("MALE", "FEMALE", "UNSPECIFIED")
        assert all(isinstance(s, str) for s in mrz["secondary_identifier"])
        assert YYMMDD.fullmatch(mrz["date_of_birth"]) and YYMMDD.fullmatch(mrz["date_of_expiry"])
        if mrz["document_type"] != "TD1":
            assert mrz["optional_data2"] is None
    if obj["face_photo"] is not None:
        assert _b64(obj["face_photo"])[:2] == b"\xff\xd8", "face_photo must be JPEG"
    if obj["signature_photos"] is not None:
        assert all(_b64(p) for p in obj["signature_photos"])
    for key, names in (("additional_personal_details", DG11_FIELDS),
                       ("additional_document_details", DG12_FIELDS)):
        value = obj[key]
        if value is not None:
            assert set(names) <= value.keys(), f"{key} lacks {set(names) - value.keys()}"
            for name in names:
                v = value[name]
                assert v is None or isinstance(v, (str, list)), f"{key}.{name}"
                if isinstance(v, list):
                    assert all(isinstance(item, str) for item in v), f"{key}.{name}"
            date = value[DATE_FIELDS[key]]
            assert date is None or YYYYMMDD.fullmatch(date), f"{key}.{DATE_FIELDS[key]}"
    assert isinstance(obj["passive_authentication"], bool)
    details = obj["passive_authentication_details"]
    for name, types in PA_DETAILS.items():
        assert name in details and isinstance(details[name], types), name
    assert all(type(n) is int for n in details["data_groups_checked"])
    assert all(type(n) is int for n in details["data_groups_with_valid_hash"])
    assert set(details["data_groups_with_valid_hash"]) <= set(details["data_groups_checked"])
    not_read = details["data_groups_not_read"]
    assert all(type(n) is int and 1 <= n <= 16 for n in not_read) and not_read == sorted(set(not_read))
    assert not set(not_read) & set(details["data_groups_checked"])
    # A group that never arrived is never silent: each is named in errors.
    assert all(any(e.startswith(f"EF.DG{n} ") for e in obj["errors"]) for n in not_read)
    assert obj["chip_authentication_result"] in VERDICTS
    assert obj["active_authentication_result"] in VERDICTS
    assert isinstance(obj["errors"], list) and all(isinstance(e, str) for e in obj["errors"])
    if obj["passive_authentication"]:
        assert details["sod_signature_valid"] and details["document_certificate_valid"]
        assert details["all_hashes_valid"]
    if "files_binary" in obj:
        # docs/result.md: {"sod": "<b64>", "dg1": "<b64>", ...}
        assert all(re.fullmatch(r"sod|dg[0-9]{1,2}|[a-z_]+", k) for k in obj["files_binary"])
        assert "sod" in obj["files_binary"] or obj["sod_info"] is None
        assert all(_b64(v) is not None for v in obj["files_binary"].values())
