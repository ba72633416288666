import json
from types import SimpleNamespace

from docval.result import FAILED, SUCCESS, PADetails, Report
from tests.schema import check_emrtd_passport


def test_empty_report_has_every_required_field():
    obj = Report().to_emrtd_passport()
    check_emrtd_passport(obj)
    assert obj["passive_authentication"] is False
    assert obj["passive_authentication_details"]["error"]
    assert obj["chip_authentication_result"] == "UNAVAILABLE"
    assert obj["errors"] == [] and "files_binary" not in obj
    assert obj["passive_authentication_details"]["data_groups_not_read"] == []
    json.dumps(obj)


def test_data_groups_not_read_are_in_the_result():
    report = Report(errors=["EF.DG11 is listed in EF.SOD but the chip withheld it (status 6982)"])
    report.pa.data_groups_not_read = [11]
    obj = report.to_emrtd_passport()
    check_emrtd_passport(obj)
    assert obj["passive_authentication_details"]["data_groups_not_read"] == [11]


def test_full_report():
    mrz = SimpleNamespace(
        document_type="TD1", document_code="ID", issuing_state="UTO", primary_identifier="ERIKSSON",
        secondary_identifier=("ANNA", "MARIA"), nationality="UTO", document_number="D23145890734",
        date_of_birth="740812", date_of_expiry="120415", gender="FEMALE", optional_data1="",
        optional_data2="",
    )
    pa = SimpleNamespace(passive_authentication=True, sod_signature_valid=True,
                         document_certificate_valid=True, data_groups_checked=[2, 1],
                         data_groups_with_valid_hash=[1, 2], all_hashes_valid=True, error=None)
    report = Report(sod_hash_algorithm="SHA-256", sod_hashes={1: b"\x01" * 32, 2: b"\x02" * 32},
                    mrz=mrz, face_photo=b"\xff\xd8\xff\xe0rest", signature_photos=[b"img"],
                    pa=PADetails.from_pa(pa), chip_authentication=SUCCESS,
                    active_authentication=FAILED, files={"sod": b"\x77\x00", "dg1": b"\x61\x00"})
    obj = report.to_emrtd_passport(files_binary=True)
    check_emrtd_passport(obj)
    assert obj["mrz_info"]["secondary_identifier"] == ["ANNA", "MARIA"]
    assert obj["mrz_info"]["optional_data2"] == ""
    assert obj["sod_info"]["hash_for_data_group"]["1"] == "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
    assert obj["passive_authentication_details"]["data_groups_checked"] == [1, 2]
    assert set(obj["files_binary"]) == {"sod", "dg1"}
    summary = json.dumps(report.summary())
    assert "ERIKSSON" not in summary and "D23145890734" not in summary


def test_repr_shows_no_document_data():
    mrz = SimpleNamespace(document_number="D23145890734", primary_identifier="ERIKSSON")
    report = Report(mrz=mrz, face_photo=b"\xff\xd8FACE", files={"dg1": b"MRZDATA"},
                    sod_hashes={1: b"\x01" * 32}, access_control="BAC")
    text = repr(report)
    assert "BAC" in text
    for secret in ("D23145890734", "ERIKSSON", "FACE", "MRZDATA", "\\x01"):
        assert secret not in text


def test_phone_options_repr_hides_the_access_key():
    from docval.sim.phone import PhoneOptions

    assert "491736" not in repr(PhoneOptions(access_key={"can": "491736"}))


def test_the_virtual_phone_shows_groups_not_read():
    from docval.sim.cli import summarize
    obj = Report().to_emrtd_passport()
    assert not any("not read" in line for line in summarize(obj))
    obj["passive_authentication_details"]["data_groups_not_read"] = [3, 11]
    assert "    not read: DG 3,11" in summarize(obj)
