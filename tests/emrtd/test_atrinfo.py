import pytest
from hypothesis import given, strategies as st

from docval.emrtd.atrinfo import encode_atr_info, parse_atr_info
from docval.emrtd.errors import ParseError


def test_round_trip():
    info = parse_atr_info(encode_atr_info(1000, 65535))
    assert (info.max_command_bytes, info.max_response_bytes, info.extended_length) == (1000, 65535, True)
    assert parse_atr_info(encode_atr_info(261, 258, extended=False)).extended_length is False


def test_nested_and_unknown_objects():
    # Some chips wrap the DOs; unknown DOs (historical bytes, '80' etc.) are ignored.
    data = bytes.fromhex("E0 0E 80 01 00 7F 66 08 02 02 04 00 02 02 08 00".replace(" ", ""))
    info = parse_atr_info(data)
    assert (info.max_command_bytes, info.max_response_bytes) == (1024, 2048)
    assert parse_atr_info(bytes.fromhex("800100")).max_response_bytes is None


@pytest.mark.parametrize("raw", ["7F6603020101", "7F6604020101", "7F660A", "7F6604050100"])
def test_malformed(raw):
    with pytest.raises(ParseError):
        parse_atr_info(bytes.fromhex(raw))


@given(st.binary(max_size=64))
def test_hostile_bytes(raw):
    try:
        parse_atr_info(raw)
    except ParseError:
        pass
