"""StartMessage validation (docs/websocket-api.md (StartMessage); docs/reliability.md P2, P3, P5, P6)."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from docval.emrtd.mrz import CanKey, MrzKey
from docval.errors import InvalidAccessKey, InvalidStartMessage
from docval.ws.startmessage import StartMessage, parse_start_message

from .harness import start_message

MRZ = {"document_number": "C01X00T47", "date_of_birth": "970825", "date_of_expiry": "251008"}


def parse(obj) -> StartMessage:
    return parse_start_message(json.dumps(obj).encode())


def without(key):
    msg = start_message()
    del msg[key]
    return msg


def test_minimal_android_message():
    m = parse(start_message(nfc_adapter_supports_extended_length=False))
    assert isinstance(m.access_key, CanKey) and m.access_key.can == "153036"
    assert m.client_id == "YOUR CLIENT ID" and m.platform == "android"
    assert m.nfc_adapter_supports_extended_length is False
    assert m.max_command_bytes is None and m.max_response_bytes is None
    assert m.max_pipelined_apdus == 1 and m.enable_diagnostics is False


def test_full_ios_message_with_mrz():
    m = parse(start_message(access_key=dict(MRZ), max_command_bytes=1024, max_response_bytes=1024,
                            platform="ios", enable_diagnostics=True, max_pipelined_apdus=16))
    assert isinstance(m.access_key, MrzKey)
    assert (m.access_key.document_number, m.access_key.date_of_birth, m.access_key.date_of_expiry) == (
        "C01X00T47", "970825", "251008")
    assert (m.max_command_bytes, m.max_response_bytes) == (1024, 1024)
    assert m.enable_diagnostics is True and m.max_pipelined_apdus == 16


def test_nulls_for_optional_sizes_and_other_platforms():
    m = parse(start_message(max_command_bytes=None, max_response_bytes=None, platform="harmonyos"))
    assert m.max_command_bytes is None and m.platform == "harmonyos"


def test_document_number_is_upper_cased_and_may_be_long():
    m = parse(start_message(access_key=dict(MRZ, document_number="ab1234567<<d")))
    assert m.access_key.document_number == "AB1234567<<D"


def test_long_strings_are_not_refused_as_invalid():
    # docs/websocket-api.md (StartMessage) types these fields only: a long client_id is an unknown client
    # (4401, decided by the lookup), a long validation_id is passed through, a long
    # platform is one of the "others accepted".  The 4 KiB message cap bounds them all.
    m = parse(start_message(client_id="c" * 1000, validation_id="v" * 1000, platform="p" * 1000))
    assert (len(m.client_id), len(m.validation_id), len(m.platform)) == (1000, 1000, 1000)


@pytest.mark.parametrize("given, used", [
    ("idv9k4471203<<<", "IDV9K4471203"),   # TD1 overflow typed with the field's fillers
    ("IDV9K4471203", "IDV9K4471203"),
    ("L898902C<", "L898902C<"),             # up to 9 characters: kept, padded to 9 anyway
    ("L898902C", "L898902C"),
    ("AB1234567<<<", "AB1234567"),          # a 9-character number with fillers
])
def test_fillers_after_a_long_document_number_are_not_part_of_it(given, used):
    # ICAO 9303-11 §9.7.2 derives the key from the document number; a number longer than
    # 9 characters is used whole, so trailing fillers would change the key.
    key = parse(start_message(access_key=dict(MRZ, document_number=given))).access_key
    assert key.document_number == used
    clean = MrzKey(used, MRZ["date_of_birth"], MRZ["date_of_expiry"])
    assert key.key_seed == clean.key_seed and key.pace_password == clean.pace_password


@pytest.mark.parametrize("value, clamped", [(0, 64), (1, 64), (-5, 64), (10**9, 65536), (1024, 1024)])
def test_sizes_are_clamped(value, clamped):
    # docs/reliability.md P6: lies about sizes are clamped to [64, 65536], not refused.
    m = parse(start_message(max_response_bytes=value, max_command_bytes=value))
    assert m.max_response_bytes == clamped and m.max_command_bytes == clamped


def test_repr_shows_no_key():
    m = parse(start_message(access_key=dict(MRZ)))
    assert "C01X00T47" not in repr(m) and "970825" not in repr(m)
    assert repr(m) == "StartMessage(platform='android', access=MRZ)"


INVALID = [
    # P2: not JSON / not an object / hostile sizes
    b"", b"not json", b"[]", b"null", b"42", b'"text"', b"\xff\xfe",
    b"[" * 1000 + b"]" * 1000,
    b'{"a":' * 50 + b"1" + b"}" * 50,
    b'{"client_id": ' + b"1" * 5000 + b"}",
    b'{"client_id": "' + b"x" * 5000 + b'"}',
    # P3: NaN/Infinity, duplicate keys
    json.dumps(start_message(max_command_bytes=float("nan"))).encode(),
    json.dumps(start_message(max_command_bytes=float("inf"))).encode(),
    b'{"client_id": "a", "client_id": "b"}',
    json.dumps(start_message()).encode()[:-1] + b', "platform": "ios"}',
    b'{"access_key": {"can": "123456", "can": "654321"}}',
]

INVALID_OBJECTS = [
    without("client_id"), without("validation_id"), without("access_key"),
    without("nfc_adapter_supports_extended_length"), without("platform"),
    start_message(unknown=True),
    start_message(client_id=1), start_message(client_id=None),
    start_message(validation_id=["x"]),
    start_message(platform=None),
    start_message(nfc_adapter_supports_extended_length=1),
    start_message(nfc_adapter_supports_extended_length="true"),
    start_message(nfc_adapter_supports_extended_length=None),
    start_message(max_command_bytes=True),
    start_message(max_command_bytes=1024.0),
    start_message(max_response_bytes="1024"),
    start_message(enable_diagnostics=1),
    start_message(enable_diagnostics=None),
    start_message(max_pipelined_apdus=0),
    start_message(max_pipelined_apdus=65),
    start_message(max_pipelined_apdus=True),
    start_message(max_pipelined_apdus=None),
    start_message(access_key="153036"),
    start_message(access_key=None),
    start_message(access_key={}),
    start_message(access_key={"can": 153036}),
    start_message(access_key={"can": "153036", "document_number": "C01X00T47"}),
    start_message(access_key={"can": "153036", "pin": "1234"}),
    start_message(access_key=dict(MRZ, can="153036")),
    start_message(access_key={"document_number": "C01X00T47", "date_of_birth": "970825"}),
    start_message(access_key=dict(MRZ, date_of_birth=970825)),
]


@pytest.mark.parametrize("payload", INVALID)
def test_invalid_payloads(payload):
    with pytest.raises(InvalidStartMessage):
        parse_start_message(payload)


@pytest.mark.parametrize("obj", INVALID_OBJECTS)
def test_invalid_objects(obj):
    with pytest.raises(InvalidStartMessage):
        parse(obj)


INVALID_KEYS = [
    {"can": "12345"}, {"can": "1234567"}, {"can": ""}, {"can": "12 456"}, {"can": "12345a"},
    {"can": "١٢٣٤٥٦"},                # Arabic-Indic digits: isdigit() but not ASCII
    {"can": "12345²"},
    dict(MRZ, document_number="C01X00T"),            # 7 characters
    dict(MRZ, document_number="C01X00T4-"),
    dict(MRZ, document_number="C01X00TÄ7"),
    dict(MRZ, document_number="c01x00tß7"),          # upper() would change its length
    dict(MRZ, document_number="A" * 25),
    dict(MRZ, date_of_birth="97082"),
    dict(MRZ, date_of_birth="9708255"),
    dict(MRZ, date_of_birth="971325"),               # month 13
    dict(MRZ, date_of_birth="970001"[:2] + "0001"),  # month 0
    dict(MRZ, date_of_birth="970230"),               # 30 February
    dict(MRZ, date_of_birth="970229"),               # 29 February, not a leap year
    dict(MRZ, date_of_birth="970431"),               # 31 April
    dict(MRZ, date_of_birth="970800"),               # day 0
    dict(MRZ, date_of_expiry="25-10-08"),
    dict(MRZ, date_of_expiry="２５１００８"),           # full-width digits
]


@pytest.mark.parametrize("key", INVALID_KEYS)
def test_invalid_access_key_values(key):
    with pytest.raises(InvalidAccessKey) as info:
        parse(start_message(access_key=key))
    # The message names the rule, never the value.
    for value in key.values():
        if len(value) >= 4:
            assert value not in str(info.value)


@pytest.mark.parametrize("date", ["000229", "960229", "240229", "991231", "010101"])
def test_real_dates(date):
    assert parse(start_message(access_key=dict(MRZ, date_of_birth=date))).access_key.date_of_birth == date


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_documented_errors(data):
    try:
        parse_start_message(data)
    except (InvalidStartMessage, InvalidAccessKey):
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(
    st.sampled_from(sorted(start_message()) + ["max_command_bytes", "max_pipelined_apdus", "x"]),
    json_values, max_size=8))
def test_arbitrary_objects_raise_only_documented_errors(obj):
    try:
        m = parse(start_message(**obj))
    except (InvalidStartMessage, InvalidAccessKey):
        return
    assert isinstance(m.client_id, str) and isinstance(m.nfc_adapter_supports_extended_length, bool)
