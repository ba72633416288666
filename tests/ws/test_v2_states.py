"""API v2 over the in-memory harness: routing, START, every state rule and the close reasons,
with a scripted raw phone on one task.Clock."""
from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from docval.config import ServerConfig
from tests.ws.harness import RETURN_CLIENT, Harness, make_config
from tests.ws.v2script import (V2, apdu, closing, document_files, file, finish, open_v2, send, start,
                               text)

FILES = document_files()


def accepted(conn) -> bytes:
    (accept,) = [t for t in conn.texts if t.get("type") == "ACCEPT"]
    assert set(accept) == {"type", "activeAuthenticationChallenge"}
    challenge = base64.b64decode(accept["activeAuthenticationChallenge"], validate=True)
    assert base64.b64encode(challenge).decode() == accept["activeAuthenticationChallenge"]
    return challenge


def no_status_messages(conn) -> None:
    # The SDKs close with PROTOCOL_ERROR on any text without a known "type".
    assert all(t.get("type") in ("ACCEPT", "CA_HANDBACK", "RESULT", "CLOSE") for t in conn.texts)


# -- routing --------------------------------------------------------------------------------


def test_start_is_answered_with_accept_and_an_8_byte_challenge():
    h = Harness()
    conn = open_v2(h)
    challenge = accepted(conn)
    assert len(challenge) == 8
    assert conn.server.phase == "reading" and closing(conn) is None
    assert h.metrics.protocols == ["v2"]
    no_status_messages(conn)


def test_every_session_gets_its_own_challenge():
    h = Harness()
    challenges = {accepted(open_v2(h)) for _ in range(5)}
    assert len(challenges) == 5


@pytest.mark.parametrize("apis, path, served", [
    (("v1",), V2, False), (("v2",), "/ws1/validate", False),
    (("v2",), V2, True), (("v1", "v2"), V2, True), (("v1", "v2"), "/ws3/validate", False),
])
def test_a_disabled_api_answers_404_like_an_unknown_path(apis, path, served):
    config = replace(make_config(), server=ServerConfig(apis=apis))
    h = Harness(config=config)
    conn = h.raw(text(start()), path=path, answer=None)
    assert (conn.client_factory.opened is True) == served
    if not served:
        assert h.factory.sessions == set() and h.metrics.started == 0


# -- START ---------------------------------------------------------------------------------


def test_an_unknown_client_id_is_refused_with_4401():
    h = Harness()
    conn = open_v2(h, text(start(clientId="nobody")))
    assert closing(conn) == (4401, "INVALID_CLIENT_ID")
    assert h.metrics.finished == [("failure", "INVALID_CLIENT_ID")] and h.metrics.finished_protocols == ["v2"]
    h.assert_clean()


@pytest.mark.parametrize("first", [
    text({"type": "START"}),
    text(start(platform=7)),
    text(start(enableDiagnostics="yes")),
    (b"not json", False),
    (b'["START"]', False),
])
def test_a_malformed_start_closes_invalid_start_message(first):
    h = Harness()
    conn = open_v2(h, first)
    assert closing(conn) == (1008, "INVALID_START_MESSAGE")
    h.assert_clean()


def test_unknown_start_fields_are_ignored():
    h = Harness()
    conn = open_v2(h, text(start(sdkVersion="2.99", somethingNew={"a": 1})))
    assert len(accepted(conn)) == 8


@pytest.mark.parametrize("first", [file("sod", FILES["sod"]), apdu(b"\x90\x00"),
                                   text({"type": "FINISH", "sendResult": True}),
                                   text({"type": "MONITORING", "message": "Step: x"})])
def test_anything_but_start_first_is_unexpected(first):
    h = Harness()
    conn = open_v2(h, first)
    assert closing(conn) == (1008, "UNEXPECTED_MESSAGE")
    h.assert_clean()


def test_a_client_without_result_server_is_refused_at_start_when_the_url_says_no():
    h = Harness()
    conn = open_v2(h, text(start(clientId=RETURN_CLIENT)), query="?return_result=false")
    assert closing(conn) == (4401, "INVALID_CLIENT_ID")


def test_a_client_without_result_server_is_accepted_with_return_result_true():
    h = Harness()
    conn = open_v2(h, text(start(clientId=RETURN_CLIENT)), query="?return_result=true")
    accepted(conn)


def test_without_return_result_the_decision_waits_for_finish():
    h = Harness()
    conn = open_v2(h, text(start(clientId=RETURN_CLIENT)))
    accepted(conn)
    send(h, conn, file("dg1", FILES["dg1"]), file("sod", FILES["sod"]), finish(send_result=False))
    assert closing(conn) == (4401, "INVALID_CLIENT_ID")
    assert h.poster.posts == []
    h.run(conn, 2)
    h.assert_clean()


# -- READING -------------------------------------------------------------------------------


@pytest.mark.parametrize("message", [
    text(start()),
    apdu(b"\x90\x00"),
    (b"\x07abc", True),
    file("ef.com", b"\x60\x00"),        # a name the phones never send
    file("DG1", FILES["dg1"]),
    text({"type": "CA_HANDBACK", "checkResult": "SUCCESS"}),
    text({"type": "BOGUS"}),
])
def test_messages_not_allowed_while_reading(message):
    h = Harness()
    conn = open_v2(h)
    send(h, conn, message)
    assert closing(conn) == (1008, "UNEXPECTED_MESSAGE")
    assert h.poster.posts == []
    h.run(conn, 2)
    h.assert_clean()


def test_a_file_sent_twice_is_unexpected():
    h = Harness()
    conn = open_v2(h)
    send(h, conn, file("dg2", FILES["dg2"]), file("dg2", FILES["dg2"]))
    assert closing(conn) == (1008, "UNEXPECTED_MESSAGE")


def test_a_file_over_the_size_cap_is_unexpected():
    h = Harness()
    conn = open_v2(h)
    send(h, conn, file("dg2", b"\x75" + b"\x00" * 65535))
    assert closing(conn) == (1008, "UNEXPECTED_MESSAGE")


def test_handover_before_dg14_is_unexpected():
    h = Harness()
    conn = open_v2(h)
    send(h, conn, text({"type": "CA_HANDOVER", "maxTransceiveLengthForSecureMessaging": 256,
                        "maxBlockSize": 223,
                        "secureMessagingInfo": {"algorithm": "AES", "encKey": "AAECAwQFBgcICQoLDA0ODw==",
                                                "macKey": "EBESExQVFhcYGRobHB0eHw==", "ssc": 14}}))
    assert closing(conn) == (1008, "UNEXPECTED_MESSAGE")


def test_bad_secure_messaging_info_is_unexpected():
    h = Harness()
    conn = open_v2(h)
    send(h, conn, file("dg14", FILES["dg14"]),
         text({"type": "CA_HANDOVER", "maxTransceiveLengthForSecureMessaging": 256, "maxBlockSize": 223,
               "secureMessagingInfo": {"algorithm": "RC4", "encKey": "AAECAwQFBgcICQoLDA0ODw==",
                                       "macKey": "EBESExQVFhcYGRobHB0eHw==", "ssc": 14}}))
    assert closing(conn) == (1008, "UNEXPECTED_MESSAGE")
    assert not any(m[0] for m in conn.client_factory.messages)      # no APDU went out


def test_finish_without_sod_is_a_file_read_error():
    h = Harness()
    conn = open_v2(h)
    send(h, conn, file("dg1", FILES["dg1"]), finish())
    assert closing(conn) == (1011, "FILE_READ_ERROR")
    assert h.poster.posts == []


def test_monitoring_is_accepted_and_logged_by_size_only(caplog_events):
    h = Harness()
    conn = open_v2(h, text(start(enableDiagnostics=True)))
    secret = "Step: READ_DG2 P<UTOTRAVELLER<<HAPPY"
    send(h, conn, text({"type": "MONITORING", "message": secret}))
    assert closing(conn) is None and conn.server.phase == "reading"
    assert not any("TRAVELLER" in line for line in caplog_events())


# -- timeouts ------------------------------------------------------------------------------


def test_no_start_in_time():
    h = Harness(start_message=5)
    conn = h.raw(None, path=V2, answer=None)
    h.run(conn, 6, step=1)
    assert closing(conn) == (1001, "TIMEOUT_WHILE_WAITING_FOR_START_MESSAGE")
    h.assert_clean()


def test_nothing_after_accept_within_v2_read():
    h = Harness(v2_read=30, max_session=300)
    conn = open_v2(h)
    h.run(conn, 29, step=1)
    assert closing(conn) is None
    h.run(conn, 2, step=1)
    assert closing(conn) == (1001, "TIMEOUT_WHILE_WAITING_FOR_RESPONSE")
    h.run(conn, 2)
    h.assert_clean()


def test_files_do_not_reset_the_read_timer():
    # v2_read runs from ACCEPT to CA_HANDOVER or FINISH: a phone trickling files cannot extend it.
    h = Harness(v2_read=30, max_session=300)
    conn = open_v2(h)
    h.run(conn, 20, step=1)
    send(h, conn, file("dg2", FILES["dg2"]))
    h.run(conn, 11, step=1)
    assert closing(conn) == (1001, "TIMEOUT_WHILE_WAITING_FOR_RESPONSE")


def test_max_session_applies_to_v2():
    h = Harness(v2_read=120, max_session=40)
    conn = open_v2(h)
    h.run(conn, 41, step=1)
    assert closing(conn) == (1011, "MAX_SESSION_TIME_EXCEEDED")
    h.run(conn, 2)
    h.assert_clean()


# -- the phone leaves ----------------------------------------------------------------------


def test_phone_gone_before_finish_posts_nothing(caplog_events):
    h = Harness()
    conn = open_v2(h)
    send(h, conn, file("dg1", FILES["dg1"]), file("sod", FILES["sod"]))
    conn.client.transport.loseConnection()
    h.run(conn, 2)
    assert h.poster.posts == []
    assert h.metrics.finished == [("failure", "COMMUNICATION_FAILED")]
    (line,) = [e for e in caplog_events() if " ended: " in e]
    assert "api=v2" in line and "outcome=failure" in line
    h.assert_clean()


def test_return_result_true_but_finish_without_send_result_is_4401():
    h = Harness()
    conn = open_v2(h, text(start(clientId=RETURN_CLIENT)), query="?return_result=true")
    accepted(conn)
    send(h, conn, file("sod", FILES["sod"]), finish(send_result=False))
    assert closing(conn) == (4401, "INVALID_CLIENT_ID")
    assert h.poster.posts == []
