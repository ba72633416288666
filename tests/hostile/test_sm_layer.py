"""docs/reliability.md, catalogue section b4 (Secure Messaging): S1-S6.

Forgeries after the MAC check carry a MAC computed with the chip's own session
keys, as a phone that knows the MRZ could after BAC, so the checks behind the MAC
are really reached.
"""
from __future__ import annotations

import pytest

from docval.emrtd.apdu import ResponseAPDU
from docval.emrtd.errors import SecureMessagingError
from docval.emrtd.flow import Link
from docval.emrtd import crypto
from docval.emrtd.sm import SecureMessaging
from tests.hostile.chipharness import assert_closed, run_hostile

pytestmark = pytest.mark.hostile


@pytest.mark.parametrize("name", ["bad-mac", "bad-mac-later", "missing-mac"])
def test_S1_bad_or_missing_mac_terminates_sm(name):
    out = run_hostile(name)
    assert_closed(out, "COMMUNICATION_FAILED", SecureMessagingError)
    failed_at = {"bad-mac": 1, "bad-mac-later": 4, "missing-mac": 1}[name]
    assert out.chip.protected == failed_at       # no further command under those keys


def test_S1_link_refuses_to_send_after_a_failed_unwrap():
    keys = bytes(16), bytes(range(16))
    link, chip = Link(), SecureMessaging(crypto.AES128, *keys)
    link.start(SecureMessaging(crypto.AES128, *keys))
    good = chip.wrap_response(ResponseAPDU(b"abc", 0x9000)).encode()
    bad = good[:-3] + bytes([good[-3] ^ 1]) + good[-2:]
    with pytest.raises(SecureMessagingError):
        link.unprotect([bad], 1)
    from docval.emrtd.apdu import CommandAPDU
    with pytest.raises(SecureMessagingError):
        link.protect((CommandAPDU(0, 0xB0, 0, 0, le=4),))


@pytest.mark.parametrize("name", ["status-do-mismatch", "status-do-missing", "status-do-short"])
def test_S2_status_do_missing_wrong_or_not_the_outer_sw(name):
    out = run_hostile(name)
    assert_closed(out, "COMMUNICATION_FAILED", SecureMessagingError)


S3 = ["padding-indicator", "ragged-cryptogram", "bad-padding"]


@pytest.mark.parametrize("name", S3)
def test_S3_padding_and_cryptogram_errors_fail(name):
    out = run_hostile(name)
    assert_closed(out, "COMMUNICATION_FAILED", SecureMessagingError)


def test_S3_every_padding_failure_looks_the_same_after_the_mac_check():
    """No padding oracle: indicator, block length and padding errors are indistinguishable."""
    messages = {str(run_hostile(name).exc) for name in S3}
    assert len(messages) == 1, messages
    assert "MAC" not in messages.pop()          # they passed the MAC check


@pytest.mark.parametrize("name", ["duplicate-do", "odd-do-for-even-ins", "trailing-bytes"])
def test_S4_duplicate_confused_or_trailing_objects_are_rejected(name):
    out = run_hostile(name)
    assert_closed(out, "COMMUNICATION_FAILED", SecureMessagingError)


def test_S5_naked_sw_inside_sm_aborts():
    out = run_hostile("naked-sw")
    assert_closed(out, "COMMUNICATION_FAILED", SecureMessagingError)
    assert out.chip.protected == 3


def test_S6_replayed_answer_fails_because_the_ssc_moved():
    out = run_hostile("replay")
    assert_closed(out, "COMMUNICATION_FAILED", SecureMessagingError)
    assert "MAC" in str(out.exc)
