import pytest
from hypothesis import given, settings, strategies as st

from docval.emrtd import tlv
from docval.emrtd.errors import ParseError
from docval.emrtd.lds.dg1 import parse_dg1

from tests.testdata import SPECIMEN


@pytest.mark.testdata
def test_icao_specimen_td2():
    mrz = parse_dg1((SPECIMEN / "DG1_TD2.bin").read_bytes())
    assert mrz.document_type == "TD2"
    assert mrz.document_code == "I"
    assert mrz.issuing_state == "UTO"
    assert mrz.primary_identifier == "ERIKSSON"
    assert mrz.secondary_identifier == ("ANNA", "MARIA")
    assert mrz.nationality == "UTO"
    assert mrz.document_number == "D23145890"
    assert mrz.date_of_birth == "740812"
    assert mrz.date_of_expiry == "120415"
    assert mrz.gender == "FEMALE"
    assert mrz.optional_data1 == ""
    assert mrz.optional_data2 is None
    assert mrz.check_digit_errors == ()


@pytest.mark.testdata
def test_specimen_repr_shows_no_personal_data():
    mrz = parse_dg1((SPECIMEN / "DG1_TD2.bin").read_bytes())
    assert "ERIKSSON" not in repr(mrz) and "D231" not in repr(mrz)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        tlv.encode(0x62, tlv.encode(0x5F1F, b"P<" * 44)),           # wrong data group tag
        tlv.encode(0x61, b""),                                         # no 5F1F
        tlv.encode(0x61, tlv.encode(0x5F1E, b"P<" * 44)),
        tlv.encode(0x61, tlv.encode(0x5F1F, b"P<UTO")),                # not TD1/TD2/TD3
        tlv.encode(0x61, tlv.encode(0x5F1F, "Ä".encode() * 44)),       # not ASCII
        tlv.encode(0x61, tlv.encode(0x5F1F, b"p<" * 44)),              # outside the MRZ alphabet
        bytes.fromhex("615a5f1f58"),                                   # truncated
    ],
)
def test_malformed_dg1_raises_parse_error(data):
    with pytest.raises(ParseError):
        parse_dg1(data)


def test_oversized_input_is_refused_before_parsing():
    with pytest.raises(ParseError):
        parse_dg1(tlv.encode(0x61, b"\0" * 70000))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_parse_error(raw):
    try:
        parse_dg1(raw)
    except ParseError:
        pass


@pytest.mark.testdata
@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=76), st.integers(min_value=0, max_value=255))
def test_mutated_specimen_raises_only_parse_error(position, byte):
    data = bytearray((SPECIMEN / "DG1_TD2.bin").read_bytes())
    data[position] = byte
    try:
        parse_dg1(bytes(data))
    except ParseError:
        pass
