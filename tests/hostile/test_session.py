"""docs/reliability.md, catalogue section b2 (StartMessage and session protocol): P1-P10 against a real server process."""
from __future__ import annotations

import inspect
import json
import threading
import time

import pytest

from docval.sim.phone import access_key_json
from docval.sim.profiles import get_profile
from tests.hostile.conftest import TIMEOUTS, settle
from tests.support.wsclient import OP_BINARY, OP_TEXT, RawWebSocket, frame

pytestmark = pytest.mark.hostile
RR = "/ws1/validate?return_result=true"
PROFILE = get_profile("pace-ecdh-gm-aes128")
SLACK = 2.5


def start(**overrides):
    msg = {"client_id": "YOUR CLIENT ID", "validation_id": "hostile-p", "access_key": access_key_json(PROFILE.access_key),
           "nfc_adapter_supports_extended_length": True, "platform": "android"}
    msg.update(overrides)
    return msg


def closed_with(received, code, reason):
    assert (received.close_code, received.close_reason) == (code, reason), received
    assert received.close_message == ({"close_code": code, "close_reason": reason} if reason else {"close_code": code})


def session(server, payload, *, binary=False, path=RR):
    ws = RawWebSocket(server.port, path)
    if isinstance(payload, dict):
        payload = json.dumps(payload).encode()
    (ws.send_binary if binary else ws.send_text)(payload)
    return ws


def test_P1_no_start_message_times_out(server):
    ws = RawWebSocket(server.port, RR)
    started = time.monotonic()
    received = ws.drain()
    closed_with(received, 1001, "TIMEOUT_WHILE_WAITING_FOR_START_MESSAGE")
    assert time.monotonic() - started < TIMEOUTS["start_message"] + SLACK
    ws.close()


P2 = {
    "binary": (json.dumps(start()).encode(), True),
    "not-json": (b"hello", False),
    "nested-1000": (b"[" * 1000 + b"]" * 1000, False),
    "nested-object": (b'{"a":' * 1000 + b"1" + b"}" * 1000, False),
    "5000-digits": (b'{"max_command_bytes": ' + b"9" * 5000 + b"}", False),
    "not-an-object": (b"[1, 2, 3]", False),
}


@pytest.mark.parametrize("case", sorted(P2))
def test_P2_malformed_start_message(server, case):
    payload, binary = P2[case]
    ws = session(server, payload, binary=binary)
    closed_with(ws.drain(), 1008, "INVALID_START_MESSAGE")
    ws.close()
    assert "Traceback" not in server.log()


def test_P2_ten_megabyte_start_message_is_refused_by_the_frame_limit(server):
    ws = RawWebSocket(server.port, RR)
    try:
        ws.send_raw(frame(OP_TEXT, b"", declared_length=10 << 20))
        for _ in range(160):                     # 10 MB, masked bytes are just bytes
            ws.send_raw(b"a" * 65536)
    except OSError:
        pass
    received = ws.drain()
    # Refused on its declared length, before any of it is buffered or parsed.
    assert (received.close_code, received.close_reason) == (1008, "INVALID_START_MESSAGE") or received.eof
    ws.close()


P3 = {
    "missing-field": {k: v for k, v in start().items() if k != "platform"},
    "extra-field": dict(start(), admin=True),
    "wrong-type-bool": dict(start(), nfc_adapter_supports_extended_length="yes"),
    "wrong-type-int": dict(start(), max_response_bytes=1024.0),
    "wrong-type-key": dict(start(), access_key=["153036"]),
    "null-id": dict(start(), client_id=None),
}


@pytest.mark.parametrize("case", sorted(P3))
def test_P3_missing_extra_or_mistyped_fields(server, case):
    ws = session(server, P3[case])
    closed_with(ws.drain(), 1008, "INVALID_START_MESSAGE")
    ws.close()


@pytest.mark.parametrize("text", [
    json.dumps(start())[:-1] + ', "max_response_bytes": NaN}',
    json.dumps(start())[:-1] + ', "max_response_bytes": Infinity}',
    json.dumps(start())[:-1] + ', "platform": "ios"}',          # duplicate key
])
def test_P3_nan_infinity_and_duplicate_keys(server, text):
    ws = session(server, text.encode())
    closed_with(ws.drain(), 1008, "INVALID_START_MESSAGE")
    ws.close()


def test_P4_unknown_client_id(server):
    ws = session(server, start(client_id="not a client"))
    closed_with(ws.drain(), 4401, "INVALID_CLIENT_ID")
    ws.close()


def test_P4_client_ids_compare_in_constant_time():
    from docval.config import Config
    source = inspect.getsource(Config.find_client)
    assert "compare_digest" in source and "break" not in source and "return client" not in source


@pytest.mark.parametrize("key", [
    {"can": "12345"}, {"can": "1234567"}, {"can": "12a456"}, {"can": "١٢٣٤٥٦"},
    {"document_number": "SHORT", "date_of_birth": "850312", "date_of_expiry": "340630"},
    {"document_number": "DV7Q31K52", "date_of_birth": "850230", "date_of_expiry": "340630"},
    {"document_number": "DV7Q31K5ß", "date_of_birth": "850312", "date_of_expiry": "340630"},
    {"document_number": "DV7Q31K52", "date_of_birth": "8503120", "date_of_expiry": "340630"},
])
def test_P5_malformed_access_key_values(server, key):
    ws = session(server, start(access_key=key))
    closed_with(ws.drain(), 1008, "INVALID_ACCESS_KEY_VALUES")
    ws.close()


@pytest.mark.parametrize("max_response", [0, 1, 10**9])
def test_P6_absurd_max_response_bytes_are_clamped(server, max_response):
    ws = session(server, start(max_response_bytes=max_response, max_command_bytes=max_response))
    received = ws.run_chip(PROFILE.chip())
    closed_with(received, 1000, None)
    result = next(t["emrtd_passport"] for t in received.texts if "emrtd_passport" in t)
    assert result["passive_authentication"] is True
    ws.close()


def test_P6_a_phone_lying_about_extended_length_falls_back_to_short_apdus(server):
    from docval.sim.chip import ChipQuirks
    chip = PROFILE.chip()
    chip.quirks = ChipQuirks(extended_length=False, max_le=256)
    ws = session(server, start(nfc_adapter_supports_extended_length=True, max_response_bytes=65536,
                               max_command_bytes=65536))
    received = ws.run_chip(chip)
    closed_with(received, 1000, None)
    ws.close()


def test_P7_same_validation_id_in_parallel_both_complete(server):
    results = []

    def one():
        ws = session(server, start(validation_id="same-id"))
        results.append(ws.run_chip(PROFILE.chip()))
        ws.close()
    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [r.close_code for r in results] == [1000, 1000]
    # and a replay later is just another session
    ws = session(server, start(validation_id="same-id"))
    assert ws.run_chip(PROFILE.chip()).close_code == 1000
    ws.close()


def test_P8_answer_with_no_outstanding_command():
    """Deterministic in memory: the reader is busy (no command out) when a binary arrives.

    Over a socket this is a race: an extra answer that arrives after the server sent its
    next command is taken as that command's answer (the protocol has no command ids), and
    then fails that command's checks instead."""
    from twisted.internet import defer

    from tests.ws.harness import Harness, scripted_reader, start_message
    hold = defer.Deferred()
    h = Harness(read_document=scripted_reader(hold=hold))
    conn = h.raw(start_message(), path=RR)
    conn.client.sendMessage(b"\x90\x00", isBinary=True)
    h.run(conn, 0.1)
    assert conn.texts[-1] == {"close_code": 1008, "close_reason": "UNEXPECTED_MESSAGE"}
    assert conn.closed[1:] == (1008, "UNEXPECTED_MESSAGE")
    h.run(conn, 2.0)
    h.assert_clean()


def test_P8_two_answers_to_one_command_end_in_a_defined_close(server):
    ws = session(server, start())
    chip = PROFILE.chip()
    opcode, apdu = ws.next_message()
    while opcode != OP_BINARY:
        opcode, apdu = ws.next_message()
    answer = chip.transmit(apdu)
    ws.send_binary(answer + b"")
    ws.send_binary(answer)
    received = ws.drain()
    assert (received.close_code, received.close_reason) in {
        (1008, "UNEXPECTED_MESSAGE"), (1001, "TIMEOUT_WHILE_WAITING_FOR_RESPONSE"),
        (1011, "COMMUNICATION_FAILED"), (1011, "FILE_READ_ERROR")}
    ws.close()


def test_P8_text_message_after_the_start_message(server):
    ws = session(server, start())
    ws.send_text('{"status": "hello"}')
    closed_with(ws.drain(), 1008, "UNEXPECTED_MESSAGE")
    ws.close()


def test_P8_second_start_message(server):
    ws = session(server, start())
    ws.send_text(json.dumps(start()))
    closed_with(ws.drain(), 1008, "UNEXPECTED_MESSAGE")
    ws.close()


def test_P8_answer_after_the_timeout(server):
    ws = session(server, start())
    chip = PROFILE.chip()
    opcode, apdu = ws.next_message()
    while opcode != OP_BINARY:
        opcode, apdu = ws.next_message()
    time.sleep(TIMEOUTS["apdu_response"] + 0.3)
    try:
        ws.send_binary(chip.transmit(apdu))
    except OSError:
        pass
    received = ws.drain()
    closed_with(received, 1001, "TIMEOUT_WHILE_WAITING_FOR_RESPONSE")
    ws.close()


def test_P9_never_answering_a_command_times_out(server):
    ws = session(server, start())
    started = time.monotonic()
    received = ws.drain()
    closed_with(received, 1001, "TIMEOUT_WHILE_WAITING_FOR_RESPONSE")
    assert time.monotonic() - started < TIMEOUTS["apdu_response"] + SLACK
    ws.close()


def test_P10_drip_feeding_hits_the_maximum_session_time(server):
    ws = session(server, start())
    started = time.monotonic()
    received = ws.run_chip(PROFILE.chip(), delay=TIMEOUTS["apdu_response"] * 0.6)
    closed_with(received, 1011, "MAX_SESSION_TIME_EXCEEDED")
    assert TIMEOUTS["max_session"] - 0.5 < time.monotonic() - started < TIMEOUTS["max_session"] + SLACK
    ws.close()
    assert settle(server)["sessions"] == 0


def test_P_every_hostile_session_ends_with_exactly_one_clean_log_line(server):
    """One "ended" line per session, naming the close reason, whatever the phone did."""
    cases = {"p-log-1": b"not json", "p-log-3": json.dumps(start(validation_id="p-log-3", client_id="nobody")).encode()}
    for payload in cases.values():
        ws = session(server, payload)
        ws.drain()
        ws.close()
    ws = session(server, start(validation_id="p-log-2"))
    ws.drain()                                  # never answers: 1001
    ws.close()
    settle(server)
    log = server.log()
    for vid, reason in (("p-log-2", "TIMEOUT_WHILE_WAITING_FOR_RESPONSE"), ("p-log-3", "INVALID_CLIENT_ID")):
        ended = [line for line in log.splitlines() if " ended: " in line and f"validation_id={vid}" in line]
        assert len(ended) == 1, ended
        assert f"close_reason={reason}" in ended[0]
    assert "Traceback" not in log
