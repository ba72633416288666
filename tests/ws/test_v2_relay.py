"""API v2's Chip Authentication relay over the in-memory harness: the v2 virtual phone (and
hostile variants of it) against the server, one APDU at a time, on one task.Clock."""
from __future__ import annotations

from typing import Any

from docval.sim import profiles
from docval.sim.phone_v2 import PhoneV2Options, PhoneV2Protocol
from tests.ws.harness import POST_CLIENT, Harness

PROFILE = "pace-ecdh-gm-aes128"


def options(**overrides: Any) -> PhoneV2Options:
    profile = profiles.get_profile(overrides.pop("profile", PROFILE))
    return PhoneV2Options(access_key=profile.access_key, client_id=POST_CLIENT, **overrides)


def chip(name: str = PROFILE) -> Any:
    return profiles.get_profile(name).chip()


class LyingAboutTheCounter(PhoneV2Protocol):
    """Hands over an SSC that is not the one its chip session is at."""

    def handover_message(self) -> dict[str, Any]:
        msg = super().handover_message()
        msg["secureMessagingInfo"]["ssc"] += 2
        return msg


class SilentDuringRelay(PhoneV2Protocol):
    """Hands over, then never answers a relayed APDU."""

    def _binary(self, payload: bytes) -> None:
        if payload[:1] == b"\x02":
            return
        super()._binary(payload)


class StopsAfterHandback(PhoneV2Protocol):
    """Takes the handback and then never finishes."""

    def send_remaining_files(self) -> None:
        pass

    def finish(self) -> None:
        pass


class AnswersTwice(PhoneV2Protocol):
    """Sends every relayed answer twice: the second arrives with no command outstanding."""

    def _relay_answer(self, response: bytes) -> None:
        super()._relay_answer(response)
        super()._relay_answer(response)


def test_the_relay_hands_back_dg1_first_then_the_new_keys():
    h = Harness()
    conn = h.phone_v2(chip(), options(), protocol=StopsAfterHandback)
    h.run(conn, 1)
    record = conn.client_factory.record
    assert record.handed_over and record.check_result == "SUCCESS"
    assert record.files_received == ["dg1"]
    assert record.phone_close is None and closing_code(conn) is None
    # Every relayed command went out alone (one APDU at a time): the server's relay counts them.
    apdus, _, _ = conn.server._front.counters()
    assert apdus >= 3        # MSE:Set AT, GENERAL AUTHENTICATE, READ BINARY of DG1


def closing_code(conn: Any) -> int | None:
    return conn.client_factory.record.close_code


def test_a_phone_lying_about_the_ssc_breaks_secure_messaging_communication_failed():
    h = Harness()
    conn = h.phone_v2(chip(), options(), protocol=LyingAboutTheCounter)
    h.run(conn, 1)
    record = conn.client_factory.record
    assert (record.close_code, record.close_reason) == (1011, "COMMUNICATION_FAILED")
    assert record.close_message == {"type": "CLOSE", "code": 1011, "reason": "COMMUNICATION_FAILED"}
    assert record.check_result is None and "dg1" not in record.files_received
    assert h.poster.posts == []
    h.run(conn, 2)
    h.assert_clean()


def test_no_answer_to_a_relayed_apdu_within_the_apdu_timeout():
    h = Harness(apdu_response=15, max_session=300)
    conn = h.phone_v2(chip(), options(), protocol=SilentDuringRelay)
    h.run(conn, 14, step=1)
    assert conn.client_factory.record.close_code is None
    h.run(conn, 2, step=1)
    record = conn.client_factory.record
    assert (record.close_code, record.close_reason) == (1001, "TIMEOUT_WHILE_WAITING_FOR_RESPONSE")
    h.run(conn, 2)
    h.assert_clean()


def test_the_apdu_timeout_is_at_least_10_seconds_in_v2():
    h = Harness(apdu_response=2, max_session=300)
    conn = h.phone_v2(chip(), options(), protocol=SilentDuringRelay)
    h.run(conn, 9, step=0.5)
    assert conn.client_factory.record.close_code is None
    h.run(conn, 2, step=0.5)
    assert conn.client_factory.record.close_reason == "TIMEOUT_WHILE_WAITING_FOR_RESPONSE"


def test_nothing_after_the_handback_within_v2_after_handback():
    h = Harness(v2_after_handback=20, max_session=300)
    conn = h.phone_v2(chip(), options(), protocol=StopsAfterHandback)
    h.run(conn, 19, step=1)
    assert conn.client_factory.record.close_code is None
    h.run(conn, 2, step=1)
    record = conn.client_factory.record
    assert (record.close_code, record.close_reason) == (1001, "TIMEOUT_WHILE_WAITING_FOR_RESPONSE")
    h.run(conn, 2)
    h.assert_clean()


class ApduAfterHandback(PhoneV2Protocol):
    """Sends an APDU frame after the handback, when no command is outstanding."""

    def send_remaining_files(self) -> None:
        self.send_raw(b"\x02\x90\x00", True)


def test_an_apdu_frame_with_no_command_outstanding_is_unexpected():
    h = Harness()
    conn = h.phone_v2(chip(), options(), protocol=ApduAfterHandback)
    h.run(conn, 1)
    record = conn.client_factory.record
    assert record.check_result == "SUCCESS"
    assert (record.close_code, record.close_reason) == (1008, "UNEXPECTED_MESSAGE")
    assert h.poster.posts == []


def test_a_second_answer_is_taken_for_the_next_command_and_breaks_secure_messaging():
    # With one command at a time, an extra answer arrives while the next command is
    # outstanding: it cannot verify under that command's counter.
    h = Harness()
    conn = h.phone_v2(chip(), options(), protocol=AnswersTwice)
    h.run(conn, 1)
    record = conn.client_factory.record
    assert (record.close_code, record.close_reason) == (1011, "COMMUNICATION_FAILED")
    assert h.poster.posts == []


class FileDuringRelay(PhoneV2Protocol):
    """Sends a file in the middle of the relay, before its first answer."""

    def _relay_answer(self, response: bytes) -> None:
        self.send_raw(b"\x01\x03dg2" + b"\x75\x00", True)
        super()._relay_answer(response)


class FinishDuringRelay(PhoneV2Protocol):
    def _relay_answer(self, response: bytes) -> None:
        self.send_json({"type": "FINISH", "sendResult": True})
        super()._relay_answer(response)


class MonitoringDuringRelay(StopsAfterHandback):
    def _relay_answer(self, response: bytes) -> None:
        self.send_json({"type": "MONITORING", "message": "Step: CHIP_AUTHENTICATION"})
        super()._relay_answer(response)


class SecondHandover(PhoneV2Protocol):
    def send_remaining_files(self) -> None:
        self.send_json(self.handover_message())


def test_a_file_during_the_relay_is_unexpected():
    h = Harness()
    conn = h.phone_v2(chip(), options(), protocol=FileDuringRelay)
    h.run(conn, 1)
    record = conn.client_factory.record
    assert (record.close_code, record.close_reason) == (1008, "UNEXPECTED_MESSAGE")
    assert record.check_result is None


def test_finish_during_the_relay_is_unexpected():
    h = Harness()
    conn = h.phone_v2(chip(), options(), protocol=FinishDuringRelay)
    h.run(conn, 1)
    assert conn.client_factory.record.close_reason == "UNEXPECTED_MESSAGE"


def test_monitoring_during_the_relay_is_accepted():
    h = Harness()
    conn = h.phone_v2(chip(), options(diagnostics=True), protocol=MonitoringDuringRelay)
    h.run(conn, 1)
    record = conn.client_factory.record
    assert record.check_result == "SUCCESS" and record.close_code is None


def test_a_second_handover_after_the_handback_is_unexpected():
    h = Harness()
    conn = h.phone_v2(chip(), options(), protocol=SecondHandover)
    h.run(conn, 1)
    record = conn.client_factory.record
    assert record.check_result == "SUCCESS"
    assert (record.close_code, record.close_reason) == (1008, "UNEXPECTED_MESSAGE")
