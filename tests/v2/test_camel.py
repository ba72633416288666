"""docval.v2.camel: one test per row of the §6.1 table, and every virtual document's real result."""
from __future__ import annotations

import base64
import copy
import json

import pytest

from docval.reader import ReadParams
from docval.result import Report
from docval.sim import profiles
from docval.sim.direct import read_sync
from docval.v2 import camel
from docval.v2.camel import FIELD_NAMES, to_camel
from tests.v2.sdk_passport import check_sdk_passport


def v1(**changes):
    """A v1 emrtd_passport as Report produces it, with ``changes`` applied."""
    p = Report().to_emrtd_passport()
    p.update({
        "sod_info": {"hash_algorithm": "SHA-256", "hash_for_data_group": {"1": "AAAA", "14": "AQID"}},
        "mrz_info": {"document_type": "TD3", "document_code": "P", "issuing_state": "UTO",
                     "primary_identifier": "TRAVELLER", "secondary_identifier": ["HAPPY", "JOY"],
                     "nationality": "UTO", "document_number": "DV7Q31K52", "date_of_birth": "850312",
                     "date_of_expiry": "340630", "gender": "FEMALE", "optional_data1": "",
                     "optional_data2": None},
        "face_photo": "/9j/4AAQ",
    })
    p.update(changes)
    return p


# --- the §6.1 table, row by row ---------------------------------------------------------

def test_sod_info():
    out = to_camel(v1())["sodInfo"]
    assert out == {"hashAlgorithm": "SHA-256", "hashForDataGroup": {"1": "AAAA", "14": "AQID"}}
    assert to_camel(v1(sod_info=None))["sodInfo"] is None


def test_mrz_info_members():
    out = to_camel(v1())["mrzInfo"]
    assert out == {"documentType": "TD3", "documentCode": "P", "issuingState": "UTO",
                   "primaryIdentifier": "TRAVELLER", "secondaryIdentifier": ["HAPPY", "JOY"],
                   "nationality": "UTO", "documentNumber": "DV7Q31K52", "dateOfBirth": "850312",
                   "dateOfExpiry": "340630", "gender": "FEMALE", "optionalData1": ""}
    assert to_camel(v1(mrz_info=None))["mrzInfo"] is None


@pytest.mark.parametrize("value,expected", [(["A", "B"], ["A", "B"]), ([], []), (None, []), ("ANNA", ["ANNA"]),
                                            ("", [])])
def test_mrz_secondary_identifier_is_always_an_array(value, expected):
    p = v1()
    p["mrz_info"]["secondary_identifier"] = value
    assert to_camel(p)["mrzInfo"]["secondaryIdentifier"] == expected


@pytest.mark.parametrize("value,expected", [("", ""), (None, ""), ("ABC<1", "ABC<1")])
def test_mrz_optional_data1_is_always_a_string(value, expected):
    p = v1()
    p["mrz_info"]["optional_data1"] = value
    assert to_camel(p)["mrzInfo"]["optionalData1"] == expected
    del p["mrz_info"]["optional_data1"]
    assert to_camel(p)["mrzInfo"]["optionalData1"] == ""


def test_mrz_optional_data2_is_omitted_when_null():
    assert "optionalData2" not in to_camel(v1())["mrzInfo"]
    p = v1()
    p["mrz_info"].update(document_type="TD1", optional_data2="XYZ")
    assert to_camel(p)["mrzInfo"]["optionalData2"] == "XYZ"


def test_face_photo_is_omitted_when_null():
    assert to_camel(v1())["facePhoto"] == "/9j/4AAQ"
    assert "facePhoto" not in to_camel(v1(face_photo=None))


@pytest.mark.parametrize("value,expected", [(None, None), ([], []), (["AAAA"], ["AAAA"]), ("AAAA", None)])
def test_signature_photos_are_an_array_or_null(value, expected):
    assert to_camel(v1(signature_photos=value))["signaturePhotos"] == expected


def test_additional_personal_details():
    details = {"full_name_of_holder": "TRAVELLER, HAPPY JOY", "other_names": ["T, H"], "personal_number": None,
               "full_date_of_birth": "19850312", "place_of_birth": "UTOPIA CITY", "permanent_address": "1 MAIN ST",
               "telephone": None, "profession": ["PILOT", "COOK"], "title": None, "personal_summary": None,
               "proof_of_citizenship_image": "AAEC", "other_valid_travel_document_numbers": None,
               "custody_information": None}
    out = to_camel(v1(additional_personal_details=details))["additionalPersonalDetails"]
    # Null members are omitted (Android's optString would read "null"), list members are arrays.
    assert out == {"fullNameOfHolder": "TRAVELLER, HAPPY JOY", "otherNames": ["T, H"],
                   "fullDateOfBirth": "19850312", "placeOfBirth": "UTOPIA CITY", "permanentAddress": ["1 MAIN ST"],
                   "profession": "PILOT, COOK", "proofOfCitizenshipImage": "AAEC"}
    assert to_camel(v1(additional_personal_details=None))["additionalPersonalDetails"] is None


def test_additional_document_details_and_the_v1_android_typo():
    details = {"issuing_authority": "UTO MFA", "date_of_issue": "20240101", "names_of_other_persons": None,
               "endorsements_and_observations": "NONE", "tax_or_exit_requirements": None,
               "image_of_front": "AAEC", "image_of_rear": None, "date_and_time_of_personalization": "20240101120000",
               "personalization_system_serial_number": "SN1"}
    out = to_camel(v1(additional_document_details=details))["additionalDocumentDetails"]
    assert out == {"issuingAuthority": "UTO MFA", "dateOfIssue": "20240101", "endorsementsAndObservations": "NONE",
                   "imageOfFront": "AAEC", "dateAndTimeOfPersonalization": "20240101120000",
                   "personalizationSystemSerialNumber": "SN1"}
    typo = to_camel(v1(additional_document_details={"endorsements_and_bservations": "X"}))
    assert typo["additionalDocumentDetails"] == {"endorsementsAndObservations": "X"}


@pytest.mark.parametrize("value,expected", [(True, True), (False, False), (None, False), (1, False), ("true", False)])
def test_passive_authentication_is_a_real_boolean(value, expected):
    assert to_camel(v1(passive_authentication=value))["passiveAuthentication"] is expected


def test_passive_authentication_details_from_a_report():
    out = to_camel(v1())["passiveAuthenticationDetails"]
    assert out == {"sodSignatureValid": False, "documentCertificateValid": False, "dataGroupsChecked": [],
                   "dataGroupsWithValidHash": [], "allHashesValid": False,
                   "error": "passive authentication was not performed", "signatureAlgorithm": None,
                   "hashAlgorithm": None, "warnings": [], "dataGroupsNotRead": []}


@pytest.mark.parametrize("value", [None, {}, {"sod_signature_valid": None, "all_hashes_valid": 1,
                                              "data_groups_checked": [1, True, "2", 3], "error": 5}])
def test_passive_authentication_details_always_has_the_five_members_and_error(value):
    out = to_camel(v1(passive_authentication_details=value))["passiveAuthenticationDetails"]
    assert out["sodSignatureValid"] is False and out["documentCertificateValid"] is False
    assert out["allHashesValid"] is False and out["error"] is None
    assert out["dataGroupsWithValidHash"] == []
    assert out["dataGroupsChecked"] == ([1, 3] if value else [])


@pytest.mark.parametrize("key", ["chip_authentication_result", "active_authentication_result"])
@pytest.mark.parametrize("value,expected", [("SUCCESS", "SUCCESS"), ("FAILED", "FAILED"),
                                            ("UNAVAILABLE", "UNAVAILABLE"), (None, "FAILED"),
                                            ("success", "FAILED"), ("PASSED", "FAILED")])
def test_check_results_are_always_one_of_the_three(key, value, expected):
    assert to_camel(v1(**{key: value}))[camel.camel_name(key)] == expected
    p = v1()
    del p[key]
    assert to_camel(p)[camel.camel_name(key)] == "FAILED"   # never the lenient UNAVAILABLE


@pytest.mark.parametrize("value,expected", [(["a", "b"], ["a", "b"]), (None, []), ([], []), (["a", None, 3], ["a"])])
def test_errors_are_always_an_array(value, expected):
    assert to_camel(v1(errors=value))["errors"] == expected


def test_files_binary_keys_are_the_wire_names():
    files = {"dg1": "YQ==", "dg14": "bg==", "sod": "dw=="}
    assert to_camel(v1(files_binary=files))["filesBinary"] == files
    assert "filesBinary" not in to_camel(v1())


def test_extra_top_level_fields_are_camelcased_and_kept():
    out = to_camel(v1(chip_authentication_protocol="CA-ECDH-AES-CBC-CMAC-128", something_new={"a_b": 1}))
    assert out["chipAuthenticationProtocol"] == "CA-ECDH-AES-CBC-CMAC-128"
    assert out["somethingNew"] == {"a_b": 1}
    assert {"accessControl", "trustStoreVersion", "docvalVersion", "activeAuthenticationAlgorithm"} <= set(out)


def test_the_input_is_not_modified():
    p = v1(files_binary={"dg1": "YQ=="})
    before = copy.deepcopy(p)
    to_camel(p)
    assert p == before


def test_field_names_follow_the_generic_rule_except_the_typo():
    for v1_path, v2_path in FIELD_NAMES.items():
        expected = ".".join(camel.camel_name(part) for part in v1_path.split("."))
        if v1_path.endswith("endorsements_and_bservations"):
            expected = "additionalDocumentDetails.endorsementsAndObservations"
        assert v2_path == expected, v1_path


def test_field_names_cover_everything_v1_produces():
    with open("docs/emrtd_passport.schema.json") as f:
        schema = json.load(f)
    paths = set()
    for name, spec in schema["properties"].items():
        paths.add(name)
        paths.update(f"{name}.{member}" for member in spec.get("properties", {}))
    assert paths <= set(FIELD_NAMES)


# --- real results of every virtual document ---------------------------------------------

@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
def test_every_virtual_documents_result_parses_on_both_sdks(name, demo_trust):
    profile = profiles.get_profile(name)
    params = ReadParams(access_key=profile.access_key, extended_length=True, trust=demo_trust)
    report = read_sync(profile.chip(), params)
    snake = report.to_emrtd_passport(files_binary=True)
    out = to_camel(snake)
    check_sdk_passport(out)
    json.dumps(out, allow_nan=False)
    assert out["chipAuthenticationResult"] == snake["chip_authentication_result"]
    assert out["activeAuthenticationResult"] == snake["active_authentication_result"]
    assert out["passiveAuthentication"] is snake["passive_authentication"]
    assert out["mrzInfo"]["secondaryIdentifier"] == ["HAPPY", "JOY"]
    assert base64.b64decode(out["facePhoto"]) == profiles._face()
    assert set(out["filesBinary"]) == set(snake["files_binary"]) and "sod" in out["filesBinary"]
    if name.startswith("td1-idcard"):
        assert out["mrzInfo"]["documentType"] == "TD1"
    else:
        assert "optionalData2" not in out["mrzInfo"]


def test_the_sdk_checker_catches_what_the_rules_prevent():
    # The checker is the test's oracle: it must refuse what to_camel avoids producing.
    good = to_camel(v1())
    check_sdk_passport(good)
    for bad in ({**good, "facePhoto": None}, {**good, "errors": None},
                {**good, "mrzInfo": {**good["mrzInfo"], "optionalData2": None}},
                {**good, "chipAuthenticationResult": "OK"},
                {**good, "passiveAuthenticationDetails": {**good["passiveAuthenticationDetails"],
                                                          "allHashesValid": None}}):
        with pytest.raises((AssertionError, KeyError, TypeError)):
            check_sdk_passport(bad)


# --- anything a v1 dict could hold: never an exception, the required fields always right ----

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)
_keys = st.sampled_from(sorted({path.split(".")[0] for path in FIELD_NAMES}) + ["x_y"])


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _values, max_size=12))
def test_to_camel_never_fails_and_always_has_the_required_fields(passport):
    out = to_camel(passport)
    assert type(out["passiveAuthentication"]) is bool
    assert out["chipAuthenticationResult"] in camel.CHECK_RESULTS
    assert out["activeAuthenticationResult"] in camel.CHECK_RESULTS
    assert all(isinstance(e, str) for e in out["errors"])
    pa = out["passiveAuthenticationDetails"]
    assert all(type(pa[k]) is bool for k in ("sodSignatureValid", "documentCertificateValid", "allHashesValid"))
    assert all(type(n) is int for k in ("dataGroupsChecked", "dataGroupsWithValidHash") for n in pa[k])
    assert pa["error"] is None or isinstance(pa["error"], str)
    assert "facePhoto" not in out or out["facePhoto"] is not None
    if isinstance(out.get("mrzInfo"), dict):
        assert isinstance(out["mrzInfo"]["secondaryIdentifier"], list)
        assert isinstance(out["mrzInfo"]["optionalData1"], str)
        assert out["mrzInfo"].get("optionalData2", "") is not None
