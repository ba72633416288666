"""The virtual phone (docval.sim.phone) and the docval-sim command line."""
from __future__ import annotations

import base64
import io

import pytest

from docval.sim import cli
from docval.sim.phone import PhoneOptions, access_key_json

from .harness import CAN, POST_CLIENT, Harness, scripted_reader

RR = "/ws1/validate"


class OrderChip:
    """Answers like chip_echo, and checks it is never entered twice at once."""

    def __init__(self, fail_after: int | None = None):
        self.seen: list[bytes] = []
        self.busy = False
        self.fail_after = fail_after

    def transmit(self, apdu: bytes) -> bytes:
        assert not self.busy
        self.busy = True
        try:
            if self.fail_after is not None and len(self.seen) >= self.fail_after:
                raise OSError("tag lost")
            self.seen.append(apdu)
            return apdu[1:2] + b"\x90\x00"
        finally:
            self.busy = False


def test_phone_records_a_session():
    h = Harness()
    chip = OrderChip()
    c = h.phone(chip, PhoneOptions(access_key=dict(CAN), return_result=True, validation_id="v-1"))
    h.run(c)
    r = c.client_factory.record
    assert r.statuses == ["ACCESS_CONTROL", "READ_SOD", "READ_DG1", "PASSIVE_AUTHENTICATION", "DONE"]
    assert r.close_code == 1000 and r.close_reason is None and r.was_clean
    assert r.close_message == {"close_code": 1000}
    assert r.result["errors"] == ["fake report"]
    assert r.apdus == 4 and len(chip.seen) == 4
    assert r.bytes_to_server == 4 * 3 and r.bytes_from_server > 0
    assert r.succeeded and "close=1000" in repr(r)
    assert r.other_messages == []


def test_start_message_options():
    seen = []
    h = Harness(read_document=scripted_reader(seen=seen))
    opts = PhoneOptions(access_key={"document_number": "C01X00T47", "date_of_birth": "970825",
                                    "date_of_expiry": "251008"},
                        client_id=POST_CLIENT, extended_length=False, max_command_bytes=255,
                        max_response_bytes=231, platform="ios", max_pipelined_apdus=4)
    msg = opts.start_message()
    assert msg["platform"] == "ios" and msg["max_pipelined_apdus"] == 4
    assert "enable_diagnostics" not in msg
    assert "max_pipelined_apdus" not in PhoneOptions(access_key=dict(CAN)).start_message()
    c = h.phone(OrderChip(), opts)
    h.run(c)
    (params,) = seen
    assert params.extended_length is False and params.max_command_bytes == 255
    assert params.max_response_bytes == 231 and params.max_pipelined == 4


def test_pipelined_commands_go_to_the_chip_one_at_a_time_in_order():
    h = Harness(read_document=scripted_reader(pipelined=8, apdus_per_step=2))
    chip = OrderChip()
    c = h.phone(chip, PhoneOptions(access_key=dict(CAN), return_result=True, max_pipelined_apdus=8,
                                   delay=0.02, chip_time=0.005))
    h.run(c, 2.0, step=0.001)
    r = c.client_factory.record
    assert r.close_code == 1000
    assert r.apdus == 4 * 2 * 8


def test_delay_and_chip_time_run_on_the_clock():
    h = Harness(read_document=scripted_reader())
    c = h.phone(OrderChip(), PhoneOptions(access_key=dict(CAN), return_result=True, delay=0.05,
                                          chip_time=0.01))
    h.run(c, 0.3, step=0.001)
    r = c.client_factory.record
    assert r.closed_at is None              # 4 round trips of 0.11 s each need 0.44 s
    h.run(c, 0.3, step=0.001)
    assert r.close_code == 1000
    assert r.duration == pytest.approx(4 * (2 * 0.05 + 0.01), abs=0.01)


def test_chip_failure_ends_the_session_like_a_lost_tag():
    h = Harness()
    c = h.phone(OrderChip(fail_after=2), PhoneOptions(access_key=dict(CAN), return_result=True))
    h.run(c)
    r = c.client_factory.record
    assert r.chip_error == "OSError"
    assert r.close_message is None and "DONE" not in r.statuses
    assert h.metrics.finished == [("failure", "COMMUNICATION_FAILED")]
    h.assert_clean()


def test_refused_session_is_recorded():
    h = Harness()
    c = h.phone(OrderChip(), PhoneOptions(access_key={"can": "1"}, return_result=True))
    h.run(c)
    r = c.client_factory.record
    assert (r.close_code, r.close_reason) == (1008, "INVALID_ACCESS_KEY_VALUES")
    assert r.close_message == {"close_code": 1008, "close_reason": "INVALID_ACCESS_KEY_VALUES"}
    assert not r.succeeded and r.apdus == 0


def test_access_key_json():
    from docval.emrtd.mrz import CanKey, MrzKey

    assert access_key_json(CanKey("123456")) == {"can": "123456"}
    assert access_key_json(MrzKey("C01X00T47", "970825", "251008")) == {
        "document_number": "C01X00T47", "date_of_birth": "970825", "date_of_expiry": "251008"}


# --- command line ---------------------------------------------------------------------------

def test_list_profiles():
    out = io.StringIO()
    cli.list_profiles(out)
    text = out.getvalue()
    assert "pace-ecdh-gm-aes128 (default)" in text and "bac-3des" in text


def test_options():
    args = cli.build_parser().parse_args(["--profile", "bac-3des", "--delay-ms", "40", "--pipeline", "8"])
    assert args.return_result is True and args.delay_ms == 40 and args.pipeline == 8
    assert cli.build_parser().parse_args(["--no-return-result"]).return_result is False


def test_bad_arguments_exit_2(capsys):
    assert cli.main(["--profile", "no-such-document"]) == 2
    assert "unknown profile" in capsys.readouterr().err
    assert cli.main(["--pipeline", "65"]) == 2


def test_summary_is_readable_and_holds_no_image_bytes():
    jpeg = b"\xff\xd8\xff\xe0" + b"J" * 1000
    result = {
        "mrz_info": {"document_type": "TD3", "document_code": "P", "issuing_state": "UTO",
                     "document_number": "X1", "date_of_expiry": "340630", "primary_identifier": "DOE",
                     "secondary_identifier": ["JANE"], "date_of_birth": "850312", "gender": "FEMALE",
                     "nationality": "UTO"},
        "passive_authentication": True,
        "passive_authentication_details": {"sod_signature_valid": True, "document_certificate_valid": True,
                                           "data_groups_checked": [1, 2], "data_groups_with_valid_hash": [1, 2],
                                           "error": None},
        "chip_authentication_result": "SUCCESS", "active_authentication_result": "UNAVAILABLE",
        "face_photo": base64.b64encode(jpeg).decode(), "signature_photos": None,
        "additional_personal_details": {"full_name_of_holder": "DOE JANE", "telephone": None},
        "errors": ["something odd"], "files_binary": {"dg1": "AA==", "sod": "AA=="},
    }
    text = "\n".join(cli.summarize(result))
    assert "passive authentication  true" in text and "DG 1,2 of 1,2" in text
    assert "face photo JPEG, 1004 bytes" in text
    assert "DG11       full_name_of_holder" in text and "files      dg1, sod" in text
    assert "- something odd" in text
    assert result["face_photo"][:20] not in text
    assert cli.describe_image(None) == "none" and cli.describe_image("!!") == "not base64"
    assert cli.describe_image(base64.b64encode(b"\xff\x4f\xff\x51xx").decode()).startswith("JPEG 2000")
