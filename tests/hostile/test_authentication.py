"""docs/reliability.md, catalogue section b6 (access control and authentication): K1-K6."""
from __future__ import annotations

import time

import pytest

from docval.emrtd import pace
from docval.emrtd.errors import AccessControlError
from docval.sim.aa_chip import AaChip
from tests.support.hostile_chips import huge_rsa_spki
from tests.hostile.chipharness import assert_closed, run_hostile

pytestmark = pytest.mark.hostile


@pytest.mark.parametrize("name", ["bac-short-response", "bac-bad-mac", "bac-wrong-rnd-ifd"])
def test_K1_forged_bac_answers_fail_access_control(name):
    out = run_hostile(name)
    assert_closed(out, "ACCESS_CONTROL_FAILED", AccessControlError)
    assert "BAC" in str(out.exc)


@pytest.mark.parametrize("name", [
    "pace-nonce-length", "pace-mapping-off-curve", "pace-point-off-curve", "pace-point-infinity",
    "pace-point-echo", "pace-bad-token", "pace-dh-zero", "pace-dh-one", "pace-dh-p-minus-1",
    "pace-dh-outside-subgroup",
])
def test_K2_forged_pace_answers_fail_access_control(name):
    out = run_hostile(name)
    assert_closed(out, "ACCESS_CONTROL_FAILED", AccessControlError)
    assert out.chip.protected == 0          # nothing was ever sent under keys from a forged exchange


def test_K2_token_comparison_is_constant_time():
    import inspect
    source = inspect.getsource(pace)
    assert "constant_time" in source or "compare_digest" in source


def test_K3_cam_data_that_does_not_verify_fails():
    out = run_hostile("cam-bad-data")
    assert_closed(out, "ACCESS_CONTROL_FAILED", AccessControlError)
    assert "CAM" in str(out.exc) or "chip authentication data" in str(out.exc)


def test_K4_fake_curve_in_dg14_means_chip_authentication_failed(demo_trust):
    out = run_hostile("dg14-unknown-curve", demo_trust)
    assert out.exc is None
    assert out.result["chip_authentication_result"] == "FAILED"
    assert any("curve" in e for e in out.errors)
    assert out.result["passive_authentication"] is True


def test_K4_several_keys_never_claim_success_with_the_wrong_one(demo_trust):
    out = run_hostile("dg14-many-keys", demo_trust)
    assert out.exc is None
    assert out.result["chip_authentication_result"] == "FAILED"


def test_K4_unknown_oids_in_dg14_are_ignored(demo_trust):
    out = run_hostile("dg14-unknown-oids", demo_trust)
    assert out.exc is None
    assert out.result["chip_authentication_result"] == "SUCCESS", out.errors


def test_K4_clone_chip_fails_ca_and_the_data_is_still_read(demo_trust):
    from docval.sim.profiles import get_profile
    from tests.hostile.chipharness import run_chip
    prof = get_profile("clone")
    out = run_chip(prof.chip(), prof.access_key, demo_trust)
    assert out.exc is None
    assert out.result["chip_authentication_result"] == "FAILED"
    assert out.result["mrz_info"] is not None


@pytest.mark.parametrize("name", ["aa-short-signature", "aa-bad-signature", "aa-replay", "aa-bad-trailer"])
def test_K5_bad_active_authentication_answers_fail(name, demo_trust):
    out = run_hostile(name, demo_trust)
    assert out.exc is None
    assert out.result["active_authentication_result"] == "FAILED"
    assert any("active authentication" in e for e in out.errors)


def test_K5_each_session_uses_a_fresh_challenge():
    from tests.support.hostile_chips import hostile_chip
    from tests.hostile.chipharness import run_chip
    from docval.sim.profiles import get_profile
    seen = set()
    for _ in range(3):
        chip = hostile_chip("dg14-unknown-oids")       # a genuine AA chip
        run_chip(chip, get_profile("pace-ecdh-gm-aes128").access_key)
        seen.add(chip.mechanism(AaChip).last_challenge)
    assert len(seen) == 3 and None not in seen


def test_K6_huge_dg15_key_not_covered_by_the_sod_is_never_parsed(demo_trust):
    started = time.process_time()
    out = run_hostile("huge-dg15-key", demo_trust)
    assert out.exc is None
    assert out.result["active_authentication_result"] == "FAILED"
    assert any("DG15 does not match its hash" in e for e in out.errors)
    assert time.process_time() - started < 2


def test_K6_huge_signed_dg15_key_is_capped(demo_trust):
    started = time.process_time()
    out = run_hostile("huge-dg15-key-signed", demo_trust)
    assert out.exc is None
    assert out.result["active_authentication_result"] == "FAILED"
    assert any("too large" in e for e in out.errors)
    assert time.process_time() - started < 2


def test_K6_huge_dh_prime_in_dg14_is_capped(demo_trust):
    started = time.process_time()
    out = run_hostile("huge-dg14-key-signed", demo_trust)
    assert out.exc is None
    assert out.result["chip_authentication_result"] == "FAILED"
    assert any("4096" in e for e in out.errors)
    assert time.process_time() - started < 2


@pytest.mark.parametrize("bits,e", [(16384, 65537), (2048, (1 << 40) + 1)])
def test_K6_key_loader_caps_rsa_size_and_exponent(bits, e):
    from docval.emrtd.errors import LimitExceeded, UnsupportedError
    from docval.emrtd.keys import load_public_key
    started = time.process_time()
    with pytest.raises((LimitExceeded, UnsupportedError)):
        load_public_key(huge_rsa_spki(bits, e))
    assert time.process_time() - started < 0.5
