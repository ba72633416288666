"""K7/K8: a copied chip, or a phone, must not make a document look older than it is,
and a broken relay after access control must not blame the user's CAN/MRZ."""
from __future__ import annotations

import pytest

from docval.emrtd.errors import AccessControlError, CommunicationError
from docval.sim import profiles
from tests.hostile.chipharness import assert_closed, run_chip, run_hostile
from tests.schema import check_emrtd_passport
from tests.support.flows import RecordingChip

pytestmark = pytest.mark.hostile


def _verdicts(out):
    r = out.result
    return r["chip_authentication_result"], r["active_authentication_result"]


def _not_read(out):
    check_emrtd_passport(out.result)
    return out.result["passive_authentication_details"]["data_groups_not_read"]


def test_K7_withheld_dg14_is_chip_authentication_failed(demo_trust):
    out = run_hostile("dg14-withheld", demo_trust)
    assert _verdicts(out) == ("FAILED", "SUCCESS")
    assert _not_read(out) == [14]
    assert any("EF.DG14" in e and "6A82" in e and "chip authentication failed" in e for e in out.errors)
    assert "EF.DG14 is listed in EF.SOD but the chip withheld it (status 6A82: file not found)" in out.errors


def test_K7_withheld_dg15_is_active_authentication_failed(demo_trust):
    out = run_hostile("dg15-withheld", demo_trust)
    assert _verdicts(out) == ("SUCCESS", "FAILED")
    assert _not_read(out) == [15]
    assert any("EF.DG15" in e and "6A82" in e and "active authentication failed" in e for e in out.errors)


def test_K7_dg14_and_dg15_denied_with_6982_fail_both(demo_trust):
    out = run_hostile("dg14-dg15-denied", demo_trust)
    assert _verdicts(out) == ("FAILED", "FAILED")
    assert _not_read(out) == [14, 15]
    assert sum("6982" in e for e in out.errors) >= 2
    # PA keeps its meaning (what was read is genuine), but the result never looks complete.
    assert out.result["passive_authentication"] is True


@pytest.mark.parametrize("name", ["dg14-garbage", "dg14-garbage-signed"])
def test_K7_garbage_dg14_is_chip_authentication_failed(name, demo_trust):
    out = run_hostile(name, demo_trust)
    assert out.result["chip_authentication_result"] == "FAILED"
    assert any("chip authentication" in e and "DG14" in e for e in out.errors), out.errors


@pytest.mark.parametrize("name", ["pace-ecdh-gm-aes128", "bac-3des", "pace-dh-gm-3des"])
def test_K7_tiny_max_command_bytes_chains_chip_authentication(name, demo_trust):
    profile = profiles.get_profile(name)
    chip = profile.chip()
    rec = RecordingChip(chip)
    out = run_chip(rec, profile.access_key, demo_trust, max_command_bytes=64, max_response_bytes=1024)
    assert max(len(c) for c in rec.sent) <= 64
    assert out.result["chip_authentication_result"] == "SUCCESS", out.errors
    assert chip.chained_parts > 0
    assert _not_read(out) == []


@pytest.mark.parametrize("name, chained", [("bac-3des", True), ("pace-dh-gm-3des", False)])
def test_K7_no_extended_length_proves_dh_chip_authentication_by_chaining(name, chained, demo_trust):
    # CA with a 2048-bit DH key (bac-3des): a 279-byte MSE:Set KAT, sent as a chain.  AA
    # RSA-2048's protected answer cannot come back in a short APDU: the chip being proven by
    # CA, that alone makes AA UNAVAILABLE with nothing in errors.
    profile = profiles.get_profile(name)
    chip = profile.chip()
    rec = RecordingChip(chip)
    out = run_chip(rec, profile.access_key, demo_trust, extended_length=False)
    assert not any(len(c) > 261 for c in rec.sent)
    assert (chip.chained_parts > 0) is chained      # DH-1024 fits a short APDU, DH-2048 does not
    assert _verdicts(out) == ("SUCCESS", "UNAVAILABLE")
    assert out.errors == []
    assert out.result["passive_authentication"] is True


@pytest.mark.parametrize("name, sw", [("chaining-refused", "6884"), ("chaining-refused-6e00", "6E00")])
def test_K7_chip_refusing_chaining_on_a_short_phone_fails_both(name, sw, demo_trust):
    out = run_hostile(name, demo_trust, extended_length=False)
    assert _verdicts(out) == ("FAILED", "FAILED")
    assert any("chip authentication failed" in e and sw in e and "chained" in e for e in out.errors), out.errors
    assert any("active authentication failed" in e and "cannot relay" in e for e in out.errors), out.errors


def test_K7_chip_refusing_chaining_is_not_asked_to_chain_on_an_extended_phone(demo_trust):
    out = run_hostile("chaining-refused", demo_trust)
    assert _verdicts(out) == ("SUCCESS", "SUCCESS") and out.errors == []


@pytest.mark.parametrize("name", ["shifted-after-ca", "duplicated-after-access-control"])
def test_K8_shifted_answer_after_access_control_is_communication_failed(name, demo_trust):
    out = run_hostile(name, demo_trust)
    assert_closed(out, "COMMUNICATION_FAILED", CommunicationError)
    assert not isinstance(out.exc, AccessControlError)


def test_K7_withheld_content_group_is_named_and_verdicts_stand(demo_trust):
    out = run_hostile("dg11-needs-eac", demo_trust)
    assert _not_read(out) == [11]
    assert _verdicts(out) == ("SUCCESS", "SUCCESS")
    assert out.result["passive_authentication_details"]["data_groups_checked"] == [1, 2, 12, 14, 15]
