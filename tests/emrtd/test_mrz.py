"""MRZ parsing and access keys against the ICAO 9303 specimens (Parts 4, 5, 6, 11)."""
from __future__ import annotations


import pytest
from hypothesis import given, settings, strategies as st

from docval.emrtd.errors import ParseError
from docval.emrtd.mrz import CanKey, MrzKey, check_digit, parse_mrz
from docval.emrtd.tlv import parse_single

from tests.testdata import TESTDATA

# ICAO 9303-5/-6/-4 specimens (Anna Maria Eriksson)
TD1 = ("I<UTOD231458907<<<<<<<<<<<<<<<"
       "7408122F1204159UTO<<<<<<<<<<<6"
       "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")
TD2 = ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<"
       "D231458907UTO7408122F1204159<<<<<<<6")
TD3 = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"
       "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
# ICAO 9303-11 Appendix D.2: document number of 12 characters (D23145890734, check digit 9)
TD1_LONG = ("I<UTOD23145890<7349<<<<<<<<<<<"
            "3407127M9507122UTO<<<<<<<<<<<2"
            "STEVENSON<<PETER<JOHN<<<<<<<<<")
TD2_LONG = ("I<UTOSTEVENSON<<PETER<JOHN<<<<<<<<<<"
            "D23145890<UTO3407127M95071227349<<<8")


def test_check_digit():
    assert check_digit("L898902C<") == "3"
    assert check_digit("690806") == "1"
    assert check_digit("940623") == "6"
    assert check_digit("D23145890734") == "9"
    assert check_digit("") == "0"
    with pytest.raises(ValueError):
        check_digit("abc")


def test_td3_specimen():
    m = parse_mrz(TD3)
    assert m.document_type == "TD3"
    assert m.document_code == "P"
    assert m.issuing_state == "UTO"
    assert m.primary_identifier == "ERIKSSON"
    assert m.secondary_identifier == ("ANNA", "MARIA")
    assert m.nationality == "UTO"
    assert m.document_number == "L898902C3"
    assert m.date_of_birth == "740812"
    assert m.date_of_expiry == "120415"
    assert m.gender == "FEMALE"
    assert m.optional_data1 == "ZE184226B"
    assert m.optional_data2 is None
    assert m.check_digit_errors == ()


def test_td1_specimen():
    m = parse_mrz(TD1)
    assert (m.document_type, m.document_code, m.issuing_state) == ("TD1", "I", "UTO")
    assert m.document_number == "D23145890"
    assert (m.date_of_birth, m.date_of_expiry, m.gender) == ("740812", "120415", "FEMALE")
    assert (m.primary_identifier, m.secondary_identifier) == ("ERIKSSON", ("ANNA", "MARIA"))
    assert m.optional_data1 == "" and m.optional_data2 == ""
    assert m.check_digit_errors == ()


def test_td2_specimen():
    m = parse_mrz(TD2)
    assert (m.document_type, m.document_code, m.nationality) == ("TD2", "I", "UTO")
    assert m.document_number == "D23145890"
    assert (m.date_of_birth, m.date_of_expiry) == ("740812", "120415")
    assert m.optional_data1 == "" and m.optional_data2 is None
    assert m.check_digit_errors == ()


def test_td1_document_number_overflow():
    m = parse_mrz(TD1_LONG)
    assert m.document_number == "D23145890734"
    assert m.optional_data1 == ""
    assert m.gender == "MALE"
    assert (m.primary_identifier, m.secondary_identifier) == ("STEVENSON", ("PETER", "JOHN"))
    assert m.check_digit_errors == ()
    key = MrzKey(m.document_number, m.date_of_birth, m.date_of_expiry)
    # Appendix D.2 MRZ_information and the PACE password published for it
    assert key.mrz_information == b"D23145890734934071279507122"
    assert key.pace_password == bytes.fromhex("b366ad857ddca2b08c0e2998117147300fa5d581")
    assert key.key_seed == key.pace_password[:16]


def test_td1_overflow_followed_by_optional_data():
    l1 = "I<UTOD23145890<7349<ABC<<<<<<<"
    l2 = "3407127M9507122UTO<<<<<<<<<<<"
    l2 += check_digit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
    m = parse_mrz(l1 + l2 + "STEVENSON<<PETER<JOHN<<<<<<<<<")
    assert (m.document_number, m.optional_data1) == ("D23145890734", "ABC")
    assert m.check_digit_errors == ()


def _td3_with_optional(optional: str, digit: str) -> str:
    l2 = "L898902C36UTO7408122F1204159" + optional.ljust(14, "<") + digit
    return TD3[:44] + l2 + check_digit(l2[0:10] + l2[13:20] + l2[21:43])


@pytest.mark.parametrize("digit", ["<", "0"])
def test_td3_empty_optional_data_may_have_filler_or_zero_as_check_digit(digit):
    """9303-4: an all-filler optional data field's check digit is '<' or '0'."""
    m = parse_mrz(_td3_with_optional("", digit))
    assert m.optional_data1 == "" and m.check_digit_errors == ()


def test_td3_wrong_optional_data_check_digit_is_reported():
    assert parse_mrz(_td3_with_optional("", "5")).check_digit_errors == ("optional_data1",)
    assert parse_mrz(_td3_with_optional("ZE184226B", "<")).check_digit_errors == ("optional_data1",)


def test_td1_filler_check_digit_without_an_overflow_is_a_missing_check_digit():
    l1 = "I<UTOD23145890<<<<<<<<<<<<<<<<"
    l2 = "7408122F1204159UTO<<<<<<<<<<<"
    l2 += check_digit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
    m = parse_mrz(l1 + l2 + "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")
    assert m.document_number == "D23145890" and m.check_digit_errors == ("document_number",)


def test_mrz_must_be_text():
    with pytest.raises(ParseError):
        parse_mrz(TD3.encode())


def test_td2_document_number_overflow():
    m = parse_mrz(TD2_LONG)
    assert m.document_number == "D23145890734"
    assert m.optional_data1 == ""
    assert m.check_digit_errors == ()


@pytest.mark.testdata
def test_dg1_td2_specimen_file():
    dg1 = (TESTDATA / "icao_specimen" / "DG1_TD2.bin").read_bytes()
    mrz_bytes = parse_single(parse_single(dg1, 0x61).value, 0x5F1F).value
    m = parse_mrz(mrz_bytes.decode("ascii"))
    assert m.document_type == "TD2"
    assert m.document_number == "D23145890"
    assert m.check_digit_errors == ()


def test_check_digit_errors_are_reported():
    bad = TD3[:53] + "7" + TD3[54:]            # document number check digit 6 -> 7
    m = parse_mrz(bad)
    assert set(m.check_digit_errors) == {"document_number", "composite"}
    assert m.document_number == "L898902C3"
    bad = TD3[:44 + 19] + "0" + TD3[44 + 20:]  # date of birth check digit
    assert "date_of_birth" in parse_mrz(bad).check_digit_errors
    bad = TD1[:30 + 14] + "0" + TD1[30 + 15:]  # date of expiry check digit
    assert set(parse_mrz(bad).check_digit_errors) == {"date_of_expiry", "composite"}
    bad = TD3[:44 + 42] + "3" + TD3[44 + 43:]  # personal number check digit
    assert "optional_data1" in parse_mrz(bad).check_digit_errors


def test_unspecified_gender_and_compound_names():
    l1 = "P<UTOVAN<DER<BERG<<JAN<<<<<<<<<<<<<<<<<<<<<<"
    l2 = "L898902C36UTO7408122<1204159<<<<<<<<<<<<<<04"
    m = parse_mrz(l1 + l2)
    assert m.gender == "UNSPECIFIED"
    assert m.primary_identifier == "VAN DER BERG"
    assert m.secondary_identifier == ("JAN",)
    assert m.optional_data1 == ""


def test_line_breaks_are_tolerated():
    assert parse_mrz(TD3[:44] + "\n" + TD3[44:]) == parse_mrz(TD3)


@pytest.mark.parametrize("text", ["", "P<UTO", TD3 + "<", TD3.lower(), TD3[:-1] + "é",
                                  TD1[:-1] + " "])
def test_parse_errors(text):
    with pytest.raises(ParseError):
        parse_mrz(text)


def test_repr_hides_data():
    for obj in (parse_mrz(TD3), MrzKey("L898902C", "690806", "940623"), CanKey("123456")):
        r = repr(obj)
        for secret in ("ERIKSSON", "L898902C", "690806", "123456", "740812"):
            assert secret not in r


def test_appendix_d1_key_seed():
    key = MrzKey("L898902C", "690806", "940623")
    assert key.mrz_information == b"L898902C<369080619406236"
    assert key.key_seed == bytes.fromhex("239AB9CB282DAF66231DC5A4DF6BFBAE")
    assert MrzKey("L898902C<", "690806", "940623").mrz_information == key.mrz_information


def test_appendix_g1_pace_password():
    key = MrzKey("T22000129", "640812", "101031")
    assert key.pace_password == bytes.fromhex("7E2D2A41C74EA0B38CD36F863939BFA8E9032AAD")


def test_can_key():
    assert CanKey("123456").pace_password == b"123456"
    with pytest.raises(ValueError):
        CanKey("12a456")


@pytest.mark.parametrize("args", [("", "690806", "940623"), ("l898902c", "690806", "940623"),
                                  ("L898902C", "69080", "940623"),
                                  ("L898902C", "690806", "94062x")])
def test_mrz_key_rejects_malformed(args):
    with pytest.raises(ValueError):
        MrzKey(*args)


@settings(max_examples=200)
@given(st.one_of(st.text(max_size=100),
                 st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<\n",
                         min_size=70, max_size=92)))
def test_parser_raises_only_parse_error(text):
    try:
        parse_mrz(text)
    except ParseError:
        pass


@settings(max_examples=100)
@given(st.sampled_from([TD1, TD2, TD3, TD1_LONG, TD2_LONG]), st.data())
def test_corrupted_specimens_never_crash(base, data):
    i = data.draw(st.integers(0, len(base) - 1))
    c = data.draw(st.sampled_from("0123456789ABCXYZ<"))
    m = parse_mrz(base[:i] + c + base[i + 1:])
    assert m.document_type in ("TD1", "TD2", "TD3")
