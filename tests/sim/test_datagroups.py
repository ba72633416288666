import io

import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from docval.emrtd.lds.dg1 import parse_dg1
from docval.emrtd.lds.dg2 import parse_dg2
from docval.emrtd.mrz import parse_mrz
from docval.sim import datagroups as dg

from tests.testdata import SPECIMEN

ANNA = dict(issuing_state="UTO", primary_identifier="ERIKSSON", secondary_identifier="ANNA MARIA",
            nationality="UTO", date_of_birth="740812", gender="F", date_of_expiry="120415")
PETER = dict(issuing_state="UTO", primary_identifier="STEVENSON", secondary_identifier=["PETER", "JOHN"],
             nationality="UTO", date_of_birth="340712", gender="M", date_of_expiry="950712",
             document_number="D23145890734")


def test_td3_matches_the_icao_9303_4_specimen():
    mrz = dg.make_td3_mrz(document_number="L898902C3", optional_data="ZE184226B", **ANNA)
    assert mrz == ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"
                   "L898902C36UTO7408122F1204159ZE184226B<<<<<10")


@pytest.mark.testdata
def test_td2_dg1_matches_the_icao_specimen_file_byte_for_byte():
    mrz = dg.make_td2_mrz(document_number="D23145890", **ANNA)
    assert dg.encode_dg1(mrz) == (SPECIMEN / "DG1_TD2.bin").read_bytes()


def test_td1_and_td2_with_long_numbers_match_icao_9303_11_appendix_d2():
    # The vectors that BAC key derivation is checked against (9303-11 Appendix D.2).
    assert dg.make_td1_mrz(document_code="I", **PETER) == (
        "I<UTOD23145890<7349<<<<<<<<<<<3407127M9507122UTO<<<<<<<<<<<2STEVENSON<<PETER<JOHN<<<<<<<<<")
    assert dg.make_td2_mrz(**PETER) == (
        "I<UTOSTEVENSON<<PETER<JOHN<<<<<<<<<<D23145890<UTO3407127M95071227349<<<8")


def test_td1_specimen():
    mrz = dg.make_td1_mrz(document_code="I", document_number="D23145890", **ANNA)
    assert mrz == ("I<UTOD231458907<<<<<<<<<<<<<<<"
                   "7408122F1204159UTO<<<<<<<<<<<6"
                   "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")


_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NAME = st.text(alphabet=_CHARS, min_size=1, max_size=8)
_DIGITS = st.text(alphabet="0123456789", min_size=6, max_size=6)
_ALNUM = st.text(alphabet=_CHARS + "0123456789", min_size=1, max_size=9)


@settings(max_examples=100, deadline=None)
@given(
    kind=st.sampled_from(["TD1", "TD2", "TD3"]),
    primary=_NAME, given_names=st.lists(_NAME, max_size=2),
    number=st.text(alphabet=_CHARS + "0123456789", min_size=1, max_size=12),
    dob=_DIGITS, doe=_DIGITS, gender=st.sampled_from(["M", "F", "X"]),
    optional=st.text(alphabet=_CHARS + "0123456789", max_size=3),
)
def test_round_trip_through_dg1(kind, primary, given_names, number, dob, doe, gender, optional):
    common = dict(issuing_state="D", primary_identifier=primary, secondary_identifier=given_names,
                  nationality="D", date_of_birth=dob, date_of_expiry=doe, gender=gender)
    if kind == "TD3":
        number = number[:9]
        text = dg.make_td3_mrz(document_number=number, optional_data=optional, **common)
    elif kind == "TD2":
        text = dg.make_td2_mrz(document_number=number, optional_data=optional[:1], **common)
    else:
        text = dg.make_td1_mrz(document_number=number, optional_data1=optional, optional_data2=optional,
                               **common)
    mrz = parse_dg1(dg.encode_dg1(text))
    assert mrz.document_type == kind
    assert mrz.check_digit_errors == ()
    assert mrz.primary_identifier == primary and mrz.secondary_identifier == tuple(given_names)
    assert mrz.document_number == number
    assert (mrz.date_of_birth, mrz.date_of_expiry) == (dob, doe)
    assert mrz.gender == {"M": "MALE", "F": "FEMALE", "X": "UNSPECIFIED"}[gender]
    assert mrz.issuing_state == mrz.nationality == "D"
    if kind == "TD1":
        assert mrz.optional_data1 == optional and mrz.optional_data2 == optional
    elif kind == "TD3":
        assert mrz.optional_data1 == optional


def test_long_names_are_truncated_to_the_field():
    mrz = dg.make_td3_mrz(document_number="X1", **{**ANNA, "primary_identifier": "A" * 60})
    assert len(mrz) == 88 and parse_mrz(mrz).check_digit_errors == ()


def test_line_breaks_are_accepted_by_encode_dg1():
    mrz = dg.make_td3_mrz(document_number="L898902C3", **ANNA)
    assert dg.encode_dg1(mrz[:44] + "\n" + mrz[44:]) == dg.encode_dg1(mrz)


@pytest.mark.parametrize(
    "changes",
    [
        {"date_of_birth": "7408"},
        {"gender": "Q"},
        {"issuing_state": "UT0O"},
        {"primary_identifier": "ERIKS$ON"},
        {"document_number": "L898902C3456"},       # TD3 has no overflow
    ],
)
def test_invalid_mrz_values_are_refused(changes):
    args = {**ANNA, "document_number": "L898902C3", **changes}
    with pytest.raises(ValueError):
        dg.make_td3_mrz(**args)


@pytest.mark.parametrize("text", ["P<UTO", "p" * 88, "P" * 89])
def test_encode_dg1_refuses_non_mrz_text(text):
    with pytest.raises(ValueError):
        dg.encode_dg1(text)


def test_face_jpeg_is_deterministic_and_benchmark_sized():
    a = dg.make_face_jpeg(480, 640, seed=7)
    assert a == dg.make_face_jpeg(480, 640, seed=7)
    assert a != dg.make_face_jpeg(480, 640, seed=8)
    assert 15_000 <= len(a) <= 21_000
    with Image.open(io.BytesIO(a)) as image:
        image.load()
        assert image.format == "JPEG" and image.size == (480, 640)
        # A face in the middle: skin differs from the background in the corner.
        assert image.getpixel((240, 250)) != image.getpixel((5, 5))
    dg2 = dg.encode_dg2([(a, 480, 640, "jpeg")])
    assert 15_000 <= len(dg2) <= 21_100
    assert parse_dg2(dg2)[0].data == a


def test_dg2_structure_follows_icao_and_19794_5():
    jpeg = dg.make_face_jpeg(40, 50, seed=1)
    data = dg.encode_dg2([(jpeg, 40, 50, "jpeg")], feature_points=2)
    assert data[:1] == b"\x75" and b"\x7F\x61" in data[:8]
    record = data[data.find(b"FAC\x00"):]
    assert record[4:8] == b"010\x00"
    assert int.from_bytes(record[8:12], "big") == len(record) == 14 + 20 + 2 * 8 + 12 + len(jpeg)
    assert int.from_bytes(record[12:14], "big") == 1
    assert int.from_bytes(record[14:18], "big") == 20 + 2 * 8 + 12 + len(jpeg)
    info = record[14 + 20 + 16:]
    assert info[1] == 0 and int.from_bytes(info[2:4], "big") == 40 and int.from_bytes(info[4:6], "big") == 50
    assert info[12:] == jpeg


def test_dg2_refuses_unknown_image_kind():
    with pytest.raises(ValueError):
        dg.encode_dg2([(b"x", 1, 1, "png")])


def test_dg7_layout():
    assert dg.encode_dg7([b"ab"]) == bytes.fromhex("6708020101") + bytes.fromhex("5F43026162")
