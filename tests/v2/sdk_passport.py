"""What Kinegram's v2 SDKs require of RESULT.passport (docs/result.md, the camelCase result of API v2), as one checker.

Android parses with org.json (``getString``/``getBoolean`` throw on a missing key,
``optString`` turns JSON null into the string "null", ``optBool`` throws on null); iOS
decodes with Codable (non-optional members must be present with the right type).  A
passport that passes :func:`check_sdk_passport` parses on both without garbage values.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any

RESULTS = {"SUCCESS", "FAILED", "UNAVAILABLE"}
MRZ_STRINGS = ("documentType", "documentCode", "issuingState", "primaryIdentifier", "nationality",
               "documentNumber", "dateOfBirth", "dateOfExpiry", "gender", "optionalData1")
PERSONAL = {"fullNameOfHolder": str, "otherNames": list, "personalNumber": str, "fullDateOfBirth": str,
            "placeOfBirth": str, "permanentAddress": list, "telephone": str, "profession": str, "title": str,
            "personalSummary": str, "proofOfCitizenshipImage": "b64", "otherValidTravelDocumentNumbers": list,
            "custodyInformation": str}
DOCUMENT = {"issuingAuthority": str, "dateOfIssue": str, "namesOfOtherPersons": str,
            "endorsementsAndObservations": str, "taxOrExitRequirements": str, "imageOfFront": "b64",
            "imageOfRear": "b64", "dateAndTimeOfPersonalization": str, "personalizationSystemSerialNumber": str}


def is_b64(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return base64.b64encode(base64.b64decode(value, validate=True)).decode() == value
    except (binascii.Error, ValueError):
        return False


def _members(obj: dict, spec: dict, where: str) -> None:
    for name, value in obj.items():
        assert value is not None, f"{where}.{name} is null (Android reads it as the string 'null')"
        kind = spec.get(name)
        if kind == "b64":
            assert is_b64(value), f"{where}.{name}"
        elif kind is list:
            assert isinstance(value, list) and all(isinstance(v, str) for v in value), f"{where}.{name}"
        elif kind is str:
            assert isinstance(value, str), f"{where}.{name}"
    unknown = set(obj) - set(spec)
    assert not unknown, f"{where}: members the SDKs do not know: {unknown}"


def check_sdk_passport(p: dict) -> None:
    assert type(p["passiveAuthentication"]) is bool
    assert p["chipAuthenticationResult"] in RESULTS and p["activeAuthenticationResult"] in RESULTS
    assert isinstance(p["errors"], list) and all(isinstance(e, str) for e in p["errors"])
    assert not any("_" in key for key in p), "top-level keys are camelCase"

    sod = p.get("sodInfo")
    if sod is not None:
        assert isinstance(sod["hashAlgorithm"], str)
        assert all(k.isdigit() and str(int(k)) == k and is_b64(v) for k, v in sod["hashForDataGroup"].items())

    mrz = p.get("mrzInfo")
    if mrz is not None:
        for name in MRZ_STRINGS:
            assert isinstance(mrz[name], str), f"mrzInfo.{name}"
        assert isinstance(mrz["secondaryIdentifier"], list)
        assert all(isinstance(s, str) for s in mrz["secondaryIdentifier"])
        assert "optionalData2" not in mrz or isinstance(mrz["optionalData2"], str)

    assert "facePhoto" not in p or is_b64(p["facePhoto"])
    photos = p.get("signaturePhotos")
    assert photos is None or (isinstance(photos, list) and all(is_b64(x) for x in photos))

    for key, spec in (("additionalPersonalDetails", PERSONAL), ("additionalDocumentDetails", DOCUMENT)):
        details = p.get(key)
        if details is not None:
            assert isinstance(details, dict)
            _members(details, spec, key)

    pa = p["passiveAuthenticationDetails"]
    for name in ("sodSignatureValid", "documentCertificateValid", "allHashesValid"):
        assert type(pa[name]) is bool, name
    for name in ("dataGroupsChecked", "dataGroupsWithValidHash"):
        assert isinstance(pa[name], list) and all(type(n) is int for n in pa[name]), name
    assert "error" in pa and (pa["error"] is None or isinstance(pa["error"], str))

    files = p.get("filesBinary")
    if files is not None:
        assert all(is_b64(v) for v in files.values())
