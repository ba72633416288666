"""docval.v2.wire: every parsing rule (table-driven), the builders, and fuzzing of both parsers."""
from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docval.errors import InvalidStartMessage, UnexpectedMessage, close_for
from docval.v2 import wire

CAP = 65535

START = {"type": "START", "validationId": "cf847daa-a548", "clientId": "client-1", "platform": "android",
         "nfcAdapterSupportsExtendedLength": True, "enableDiagnostics": False}
SM = {"algorithm": "AES", "encKey": "AAECAwQFBgcICQoLDA0ODw==", "macKey": "EBESExQVFhcYGRobHB0eHw==",
      "ssc": -8474146102351802655}
HANDOVER = {"type": "CA_HANDOVER", "maxTransceiveLengthForSecureMessaging": 256, "maxBlockSize": 223,
            "secureMessagingInfo": SM}


def text(obj) -> bytes:
    return json.dumps(obj).encode()


def changed(base, **fields):
    out = dict(base)
    for name, value in fields.items():
        if value is ...:
            out.pop(name, None)
        else:
            out[name] = value
    return out


# --- START --------------------------------------------------------------------------------

def test_start_as_android_sends_it():
    msg = wire.parse_text(text(START), awaiting_start=True)
    assert isinstance(msg, wire.StartMsg) and msg.kind == wire.START
    assert (msg.validation_id, msg.client_id, msg.platform) == ("cf847daa-a548", "client-1", "android")
    assert msg.nfc_adapter_supports_extended_length is True and msg.enable_diagnostics is False
    # The ids are identifiers and an API key: not in reprs (tracebacks, logs).
    assert "client-1" not in repr(msg) and "cf847daa" not in repr(msg)


def test_start_platform_is_compared_case_insensitively():
    assert wire.parse_text(text(changed(START, platform="iOS")), awaiting_start=True).platform == "ios"


def test_start_ignores_unknown_fields():
    # The SDKs add fields over versions (v1 refuses them; v2 must not).
    msg = wire.parse_text(text(changed(START, sdkVersion="2.13.5", extra={"a": [1]})), awaiting_start=True)
    assert msg.client_id == "client-1"


@pytest.mark.parametrize("defect", [
    changed(START, validationId=...), changed(START, clientId=...), changed(START, platform=...),
    changed(START, nfcAdapterSupportsExtendedLength=...), changed(START, enableDiagnostics=...),
    changed(START, validationId=7), changed(START, clientId=None), changed(START, platform=["android"]),
    changed(START, nfcAdapterSupportsExtendedLength=1), changed(START, enableDiagnostics="false"),
    changed(START, clientId="x" * wire.MAX_START_BYTES),
], ids=lambda d: next((k for k in START if d.get(k, ...) != START[k]), "size"))
def test_start_defects_are_invalid_start_messages(defect):
    with pytest.raises(InvalidStartMessage) as exc:
        wire.parse_text(text(defect), awaiting_start=True)
    assert close_for(exc.value).reason == "INVALID_START_MESSAGE"
    # The error keeps the validation id (for the log line) only when it was a string.
    vid = defect.get("validationId")
    assert exc.value.validation_id == (vid if isinstance(vid, str) else None)


@pytest.mark.parametrize("payload", [
    b"\xff\xfe", b"not json", b"[1, 2]", b'"START"', b"{}", b'{"type": 1}', b'{"type": "HELLO"}',
    b'{"type": "START", "type": "START"}', b"[" * 10 + b"]" * 10, b'{"type": "START", "x": NaN}',
], ids=["utf8", "json", "array", "string", "no-type", "type-int", "unknown-type", "duplicate-key",
        "deep", "nan"])
def test_garbage_is_a_bad_start_while_awaiting_start_and_unexpected_later(payload):
    with pytest.raises(InvalidStartMessage):
        wire.parse_text(payload, awaiting_start=True)
    with pytest.raises(UnexpectedMessage):
        wire.parse_text(payload)


def test_a_start_after_the_session_started_is_unexpected():
    with pytest.raises(UnexpectedMessage):
        wire.parse_text(text(START))


def test_text_over_the_cap_is_refused_before_parsing():
    big = text({"type": "MONITORING", "message": "x" * wire.MAX_TEXT_BYTES})
    with pytest.raises(UnexpectedMessage, match="larger than"):
        wire.parse_text(big)


def test_huge_integer_literals_are_refused():
    with pytest.raises(UnexpectedMessage, match="number too long"):
        wire.parse_text(b'{"type": "FINISH", "sendResult": true, "n": 1' + b"0" * 25 + b"}")
    with pytest.raises(UnexpectedMessage, match="out of range"):
        wire.parse_text(b'{"type": "FINISH", "sendResult": true, "n": 1e999}')


# --- CA_HANDOVER --------------------------------------------------------------------------

def test_handover_as_android_sends_it():
    msg = wire.parse_text(text(HANDOVER))
    assert isinstance(msg, wire.HandoverMsg) and msg.kind == wire.CA_HANDOVER
    assert (msg.max_transceive, msg.max_block) == (256, 223)
    # The SM object goes on unchanged (SMInfo.from_wire validates it), negative SSC included.
    assert msg.sm_info == SM
    assert "AAECAw" not in repr(msg) and "ssc" not in repr(msg)


def test_handover_limits_above_what_anything_needs_are_clamped():
    msg = wire.parse_text(text(changed(HANDOVER, maxTransceiveLengthForSecureMessaging=2**31 - 1,
                                       maxBlockSize=100000)))
    assert (msg.max_transceive, msg.max_block) == (wire.MAX_TRANSCEIVE, wire.MAX_BLOCK)


def test_handover_ignores_unknown_fields():
    assert wire.parse_text(text(changed(HANDOVER, newField=True))).max_block == 223


@pytest.mark.parametrize("field,value", [
    ("maxTransceiveLengthForSecureMessaging", ...), ("maxBlockSize", ...), ("secureMessagingInfo", ...),
    ("maxTransceiveLengthForSecureMessaging", True), ("maxBlockSize", 223.0), ("maxBlockSize", "223"),
    ("maxTransceiveLengthForSecureMessaging", 0), ("maxBlockSize", -1), ("maxBlockSize", 2**31),
    ("secureMessagingInfo", None), ("secureMessagingInfo", [SM]), ("secureMessagingInfo", "AES"),
])
def test_handover_defects_are_unexpected(field, value):
    with pytest.raises(UnexpectedMessage) as exc:
        wire.parse_text(text(changed(HANDOVER, **{field: value})))
    assert close_for(exc.value).reason == "UNEXPECTED_MESSAGE"


# --- FINISH -------------------------------------------------------------------------------

SIGNATURE = bytes(range(64))


@pytest.mark.parametrize("message,send_result,signature", [
    ({"type": "FINISH", "sendResult": True}, True, None),                                      # Android, no AA
    ({"type": "FINISH", "sendResult": False, "activeAuthenticationSignature": None}, False, None),  # iOS, no AA
    ({"type": "FINISH", "sendResult": True, "activeAuthenticationSignature": base64.b64encode(SIGNATURE).decode()},
     True, SIGNATURE),
    ({"type": "FINISH", "sendResult": True, "future": 1}, True, None),
])
def test_finish(message, send_result, signature):
    msg = wire.parse_text(text(message))
    assert isinstance(msg, wire.FinishMsg) and msg.kind == wire.FINISH
    assert (msg.send_result, msg.aa_signature) == (send_result, signature)


@pytest.mark.parametrize("fields", [
    {}, {"sendResult": None}, {"sendResult": 1}, {"sendResult": "true"},
    {"sendResult": True, "activeAuthenticationSignature": 5},
    {"sendResult": True, "activeAuthenticationSignature": ""},
    {"sendResult": True, "activeAuthenticationSignature": "AAEC"[:3]},             # no padding
    {"sendResult": True, "activeAuthenticationSignature": "AAE="[:2] + "\nE="},   # line break
    {"sendResult": True, "activeAuthenticationSignature": "AAE-"},                # URL-safe alphabet
    {"sendResult": True, "activeAuthenticationSignature": "AAF="},                # non-canonical bits
    {"sendResult": True, "activeAuthenticationSignature": "AAAA" * 400},          # over the cap
    {"sendResult": True, "activeAuthenticationSignature": "ÄÄÄÄ"},
])
def test_finish_defects_are_unexpected(fields):
    with pytest.raises(UnexpectedMessage):
        wire.parse_text(text({"type": "FINISH", **fields}))


def test_finish_signature_at_the_cap_is_accepted():
    sig = b"\x01" * wire.MAX_SIGNATURE_BYTES
    msg = wire.parse_text(text({"type": "FINISH", "sendResult": True,
                                "activeAuthenticationSignature": base64.b64encode(sig).decode()}))
    assert msg.aa_signature == sig and "\\x01" not in repr(msg)


# --- MONITORING ---------------------------------------------------------------------------

def test_monitoring_keeps_the_text_but_never_shows_it():
    msg = wire.parse_text(text({"type": "MONITORING", "message": "Step: READ_DG2 DOE<<JOHN"}))
    assert isinstance(msg, wire.MonitoringMsg) and msg.text == "Step: READ_DG2 DOE<<JOHN"
    assert "DOE" not in repr(msg) and "READ_DG2" not in repr(msg)


@pytest.mark.parametrize("fields", [{}, {"message": None}, {"message": ["x"]}, {"message": 3}])
def test_monitoring_defects_are_unexpected(fields):
    with pytest.raises(UnexpectedMessage):
        wire.parse_text(text({"type": "MONITORING", **fields}))


# --- binary frames ------------------------------------------------------------------------

def file_payload(name: bytes, data: bytes = b"\x61\x03abc") -> bytes:
    return bytes((1, len(name))) + name + data


@pytest.mark.parametrize("name", sorted(wire.FILE_NAMES))
def test_every_documented_file_name_is_accepted(name):
    frame = wire.parse_binary(file_payload(name.encode()), max_file_bytes=CAP)
    assert isinstance(frame, wire.FileFrame) and frame.kind == wire.FILE
    assert frame.name == name and frame.data == b"\x61\x03abc"
    assert frame.dg == (None if name == "sod" else int(name[2:]))


@pytest.mark.parametrize("name", [b"DG1", b"dg01", b"dg0", b"dg17", b"dg", b"SOD", b"com", b"cardAccess",
                                  b"dg1 ", b"dg\xd9\xa1", b"\xff", b"x" * 127])
def test_unknown_file_names_are_unexpected(name):
    with pytest.raises(UnexpectedMessage, match="unknown file name"):
        wire.parse_binary(file_payload(name), max_file_bytes=CAP)


@pytest.mark.parametrize("payload,why", [
    (b"", "empty"), (b"\x01", "name length"), (b"\x01\x00dg1\x61\x00", "name length out of range"),
    (b"\x01\x80" + b"d" * 128, "name length out of range"), (b"\x01\x05dg1", "shorter than its name"),
    (b"\x01\x03dg1", "without file data"), (b"\x02", "status word"), (b"\x02\x90", "status word"),
    (b"\x03\x90\x00", "unknown binary"), (b"\x00", "unknown binary"),
])
def test_malformed_frames_are_unexpected(payload, why):
    with pytest.raises(UnexpectedMessage, match=why):
        wire.parse_binary(payload, max_file_bytes=CAP)


def test_file_size_cap_is_the_parameter():
    assert len(wire.parse_binary(file_payload(b"dg2", b"\x75" * 4096), max_file_bytes=4096).data) == 4096
    with pytest.raises(UnexpectedMessage, match="larger than 4096"):
        wire.parse_binary(file_payload(b"dg2", b"\x75" * 4097), max_file_bytes=4096)


def test_apdu_frames():
    frame = wire.parse_binary(b"\x02\x90\x00", max_file_bytes=CAP)
    assert isinstance(frame, wire.ApduFrame) and frame.data == b"\x90\x00" and frame.kind == wire.APDU
    assert wire.parse_binary(b"\x02" + b"\x00" * wire.MAX_APDU_RESPONSE, max_file_bytes=CAP)
    with pytest.raises(UnexpectedMessage):
        wire.parse_binary(b"\x02" + b"\x00" * (wire.MAX_APDU_RESPONSE + 1), max_file_bytes=CAP)


# --- server -> phone ----------------------------------------------------------------------

def test_accept():
    msg = wire.accept(bytes.fromhex("abcdef1234567890"))
    assert wire.encode(msg) == b'{"type":"ACCEPT","activeAuthenticationChallenge":"q83vEjRWeJA="}'


def test_handback():
    sm = {"algorithm": "DESede", "encKey": "AA==", "macKey": "AQ==", "ssc": -1}
    msg = wire.handback("SUCCESS", sm, b"\x61\x5b")
    assert msg == {"type": "CA_HANDBACK", "checkResult": "SUCCESS", "secureMessagingInfo": sm, "dg1Data": "YVs="}
    for bad in ("success", "", "OK"):
        with pytest.raises(ValueError):
            wire.handback(bad, sm, b"\x61")


def test_result_and_close():
    assert wire.result({"errors": []}) == {"type": "RESULT", "passport": {"errors": []}}
    # Android reads both CLOSE fields with getInt/getString: reason is "" on success, never missing.
    assert wire.encode(wire.close(1000, None)) == b'{"type":"CLOSE","code":1000,"reason":""}'
    assert wire.close(4401, "INVALID_CLIENT_ID") == {"type": "CLOSE", "code": 4401, "reason": "INVALID_CLIENT_ID"}


def test_encode_is_compact_utf8():
    assert wire.encode({"a": "Ä", "b": [1, 2]}) == '{"a":"Ä","b":[1,2]}'.encode()


def test_frames():
    assert wire.file_frame("dg1", bytes.fromhex("615B5F1F")) == bytes.fromhex("010364673161" "5B5F1F")
    assert wire.apdu_frame(bytes.fromhex("0CB0000000")) == bytes.fromhex("020CB0000000")
    with pytest.raises(ValueError):
        wire.file_frame("", b"x")
    with pytest.raises(ValueError):
        wire.file_frame("x" * 128, b"x")


def test_frames_round_trip_through_the_parser():
    frame = wire.parse_binary(wire.file_frame("dg1", b"\x61\x01\x00"), max_file_bytes=CAP)
    assert (frame.name, frame.data) == ("dg1", b"\x61\x01\x00")


def test_file_names():
    assert [wire.file_name(n) for n in (None, 1, 16)] == ["sod", "dg1", "dg16"]
    with pytest.raises(ValueError):
        wire.file_name(17)


# --- fuzzing: only the documented exceptions, whatever the bytes -------------------------

FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
              st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=5)),
    max_leaves=12)
message_fields = st.sampled_from(sorted({*START, *HANDOVER, "sendResult", "activeAuthenticationSignature",
                                         "message"}))
messages = st.builds(
    lambda kind, fields: json.dumps({"type": kind, **fields}).encode(),
    st.sampled_from(["START", "CA_HANDOVER", "FINISH", "MONITORING", "ACCEPT", "x"]),
    st.dictionaries(message_fields, json_values, max_size=6))


@FUZZ
@given(st.one_of(st.binary(max_size=200), messages), st.booleans())
def test_parse_text_raises_only_documented_errors(payload, awaiting_start):
    try:
        msg = wire.parse_text(payload, awaiting_start=awaiting_start)
    except (InvalidStartMessage, UnexpectedMessage):
        return
    assert msg.kind in (wire.START, wire.CA_HANDOVER, wire.FINISH, wire.MONITORING)


@FUZZ
@given(st.one_of(st.binary(max_size=200),
                 st.builds(lambda t, n, name, data: bytes((t, n)) + name + data,
                           st.integers(0, 3), st.integers(0, 255),
                           st.sampled_from([b"dg1", b"sod", b"dg16", b"dg17", b""]), st.binary(max_size=40))))
def test_parse_binary_raises_only_documented_errors(payload):
    try:
        frame = wire.parse_binary(payload, max_file_bytes=4096)
    except UnexpectedMessage:
        return
    assert frame.kind in (wire.FILE, wire.APDU)
