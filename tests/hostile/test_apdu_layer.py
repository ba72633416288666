"""docs/reliability.md, catalogue section b3 (plain APDU layer): A1-A4, the reader against hostile chips."""
from __future__ import annotations

import pytest

from docval.emrtd import files
from docval.emrtd.errors import CommunicationError, FileReadError, SecureMessagingError
from docval.emrtd.flow import Link, run
from docval.emrtd.securityinfo import parse_card_access
from docval.emrtd.pace import choose_pace_info
from tests.support.hostile_chips import hostile_chip
from tests.hostile.chipharness import assert_closed, run_hostile

pytestmark = pytest.mark.hostile


@pytest.mark.parametrize("name", ["empty-response", "one-byte-response", "garbage"])
def test_A1_response_without_status_word_aborts_the_session(name):
    out = run_hostile(name)
    assert_closed(out, "COMMUNICATION_FAILED", CommunicationError)
    assert out.transport.apdus < 20          # aborted at once, no retries under broken keys


def test_A1_no_command_after_a_broken_protected_answer():
    out = run_hostile("empty-response")
    assert_closed(out, "COMMUNICATION_FAILED")
    # The link is dead after the broken answer: nothing more was sent under those keys.
    assert out.chip.protected == 1


def test_A2_non_iso_status_is_a_communication_failure_not_a_wrong_key():
    """docs/websocket-api.md (APDU relay): old Android NFC timeouts answer FFFF C200-like garbage during PACE."""
    out = run_hostile("non-iso-status")
    assert_closed(out, "COMMUNICATION_FAILED", CommunicationError)


@pytest.mark.parametrize("name,reason", [("sod-absent", "FILE_READ_ERROR"), ("dg2-absent", "FILE_READ_ERROR")])
def test_A2_6A82_on_a_mandatory_file_is_a_file_read_error(name, reason):
    out = run_hostile(name)
    assert_closed(out, reason, FileReadError)


def test_A2_6982_marks_the_dg_as_needing_eac_and_the_session_goes_on(demo_trust):
    out = run_hostile("dg11-needs-eac", demo_trust)
    assert out.exc is None
    assert any("EF.DG11" in e and "Extended Access Control" in e for e in out.errors)
    assert out.result["additional_personal_details"] is None
    assert 11 not in out.result["passive_authentication_details"]["data_groups_checked"]


def test_A2_6B00_on_an_optional_dg_is_recorded(demo_trust):
    out = run_hostile("dg12-offset-outside", demo_trust)
    assert out.exc is None
    assert any("EF.DG12" in e for e in out.errors)


@pytest.mark.parametrize("name", ["sm-data-incorrect", "sm-data-missing"])
def test_A2_sm_status_words_abort(name):
    out = run_hostile(name)
    assert_closed(out, "COMMUNICATION_FAILED", SecureMessagingError)


@pytest.mark.parametrize("name", ["wrong-length-6700", "wrong-length-6c"])
def test_A2_6700_and_6Cxx_walk_down_the_le_ladder_and_finish(name, demo_trust):
    out = run_hostile(name, demo_trust)
    assert out.exc is None, repr(out.exc)
    assert out.result["passive_authentication"] is True, out.errors
    assert out.errors == []


def test_A3_response_longer_than_le_is_rejected():
    out = run_hostile("longer-than-le")
    assert_closed(out, "FILE_READ_ERROR", FileReadError)
    assert "longer than" in str(out.exc)


def test_A3_data_in_response_to_a_no_data_command_is_rejected():
    chip = hostile_chip("data-on-select")
    chip.inner.access_granted = False
    with pytest.raises(CommunicationError):
        run(files.select_application(), Link(), chip.transmit)
    out = run_hostile("data-on-select")
    assert_closed(out, "COMMUNICATION_FAILED", CommunicationError)


def test_A4_malformed_card_access_falls_back_to_bac(demo_trust):
    out = run_hostile("card-access-malformed", demo_trust)
    assert out.exc is None
    assert out.report.access_control == "BAC"
    assert any("EF.CardAccess" in e for e in out.errors)


def test_A4_unknown_oids_are_ignored_and_pace_runs(demo_trust):
    out = run_hostile("card-access-unknown-oids", demo_trust)
    assert out.exc is None
    assert out.report.access_control == "PACE-ECDH-GM-AES-CBC-CMAC-128"
    assert out.result["passive_authentication"] is True


def test_A4_several_pace_infos_choose_the_best_standardized_one(demo_trust):
    chip = hostile_chip("card-access-several-pace")
    infos = parse_card_access(chip.fs.master.by_fid[files.CARD_ACCESS.fid].content)
    chosen = choose_pace_info(infos.pace_infos)
    assert (chosen.oid, chosen.parameter_id) == ("0.4.0.127.0.7.2.2.4.2.2", 13)   # AES over 3DES, id 99 unknown
    out = run_hostile("card-access-several-pace", demo_trust)
    assert out.exc is None and out.report.access_control == "PACE-ECDH-GM-AES-CBC-CMAC-128"


def test_A4_non_standard_domain_parameters_are_refused(demo_trust):
    """A 16k-bit explicit prime is never used: PACE is refused, the MRZ key falls back to BAC."""
    chip = hostile_chip("card-access-nonstandard")
    infos = parse_card_access(chip.fs.master.by_fid[files.CARD_ACCESS.fid].content)
    assert choose_pace_info(infos.pace_infos) is None
    out = run_hostile("card-access-nonstandard", demo_trust)
    assert out.exc is None
    assert out.report.access_control == "BAC"
    assert out.seconds < 5
