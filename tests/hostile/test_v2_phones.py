"""docs/reliability.md, catalogue section V (API v2 phones): V1-V14.

A v2 phone does access control and reads the chip itself, so what it can attack is the
protocol around that: the files it sends, the Secure Messaging state it hands over, the
order of its messages and when it leaves.  Each row runs a hostile v2 phone of
``tests/support/hostile_phones_v2.py`` (or the clone document) against a real server
with a Result Server, over real sockets, and checks the close the phone is told, what
reached the Result Server, and that the log holds no traceback and nothing of the
document or the handed-over keys.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from docval.sim import profiles
from docval.sim.phone_v2 import PhoneV2Options, run_phone_v2
from tests.e2e.stack import POSTING, wait_until
from tests.support.hostile_phones_v2 import phone_behaviours_v2, run_hostile_phone_v2

pytestmark = pytest.mark.hostile

# The behaviours whose session must still be posted (the phone completed FINISH).
POSTED = {"skips-handover", "monitoring-spam", "disconnect-after-finish"}
SECRETS_IN_LOG = (profiles.HOLDER["primary_identifier"], profiles.PASSPORT_NUMBER, "encKey", "macKey")


def test_V_every_hostile_v2_phone_has_its_catalogue_row():
    # Each behaviour of tests/support/hostile_phones_v2.py is run by exactly one V-row test.
    source = Path(__file__).read_text(encoding="utf-8")
    run = re.findall(r'await hostile\("([a-z0-9-]+)"', source)
    assert sorted(run) == sorted(phone_behaviours_v2())


def _url(stack: Any, query: str = "") -> str:
    return f"ws://127.0.0.1:{stack.port}/ws2/validate{query}"


async def _ended_cleanly(stack: Any, reactor: Any, log: Any) -> None:
    await wait_until(reactor, lambda: not stack.factory.sessions and not stack.factory.posts)
    text = log()
    assert "Traceback" not in text
    for value in SECRETS_IN_LOG:
        assert value not in text


async def hostile(name: str, make_stack: Any, reactor: Any, captured_log: Any) -> Any:
    """Runs the named hostile v2 phone against the reference document and checks the
    outcome its behaviour declares.  Returns the stack and the phone's record."""
    behaviour = phone_behaviours_v2()[name]
    stack = make_stack()
    profile = profiles.get_profile("pace-ecdh-gm-aes128")
    query = "" if behaviour.options.get("send_result") is False else "?return_result=true"
    record = await run_hostile_phone_v2(reactor, _url(stack, query), behaviour, profile=profile,
                                        client_id=POSTING)
    await _ended_cleanly(stack, reactor, captured_log)
    if behaviour.expect is not None:
        code, reason = behaviour.expect
        assert record.close_code == code, record
        assert record.close_message == {"type": "CLOSE", "code": code, "reason": reason or ""}
    for key, value in behaviour.expect_result.items():
        assert record.result[key] == value
    assert len(stack.results.posts) == (1 if name in POSTED else 0)
    return stack, record


@pytest_twisted.ensureDeferred
async def test_V1_a_file_larger_than_any_lds_file_is_unexpected(make_stack, reactor, captured_log):
    await hostile("oversized-file", make_stack, reactor, captured_log)


@pytest_twisted.ensureDeferred
async def test_V2_a_file_name_sent_twice_is_unexpected(make_stack, reactor, captured_log):
    await hostile("duplicate-file", make_stack, reactor, captured_log)


@pytest_twisted.ensureDeferred
async def test_V3_an_unknown_file_name_is_unexpected(make_stack, reactor, captured_log):
    await hostile("unknown-file-name", make_stack, reactor, captured_log)


@pytest_twisted.ensureDeferred
async def test_V4_a_handover_before_dg14_is_unexpected(make_stack, reactor, captured_log):
    await hostile("handover-before-dg14", make_stack, reactor, captured_log)


@pytest_twisted.ensureDeferred
async def test_V5_an_apdu_frame_with_no_command_outstanding_is_unexpected(make_stack, reactor, captured_log):
    await hostile("apdu-without-command", make_stack, reactor, captured_log)


@pytest_twisted.ensureDeferred
async def test_V6_a_phone_lying_about_the_ssc_breaks_the_relay_and_nothing_is_posted(
        make_stack, reactor, captured_log):
    await hostile("lying-ssc", make_stack, reactor, captured_log)


@pytest_twisted.ensureDeferred
async def test_V7_a_phone_skipping_the_handover_on_a_dg14_document_gets_ca_failed(
        make_stack, reactor, captured_log):
    stack, _ = await hostile("skips-handover", make_stack, reactor, captured_log)
    posted = stack.results.bodies[0]["emrtd_passport"]
    assert posted["chip_authentication_result"] == "FAILED"
    assert any("skipped chip authentication" in e for e in posted["errors"])


@pytest_twisted.ensureDeferred
async def test_V8_finish_without_sod_is_a_file_read_error(make_stack, reactor, captured_log):
    await hostile("finish-without-sod", make_stack, reactor, captured_log)


@pytest_twisted.ensureDeferred
async def test_V9_a_phone_leaving_before_finish_posts_nothing(make_stack, reactor, captured_log):
    await hostile("disconnect-before-finish", make_stack, reactor, captured_log)


@pytest_twisted.ensureDeferred
async def test_V10_a_phone_leaving_right_after_finish_is_still_posted(make_stack, reactor, captured_log):
    await hostile("disconnect-after-finish", make_stack, reactor, captured_log)


@pytest_twisted.ensureDeferred
async def test_V11_a_monitoring_flood_is_ignored_and_the_session_completes(make_stack, reactor, captured_log):
    await hostile("monitoring-spam", make_stack, reactor, captured_log)


@pytest_twisted.ensureDeferred
async def test_V12_start_as_a_binary_message_is_unexpected(make_stack, reactor, captured_log):
    await hostile("binary-before-start", make_stack, reactor, captured_log)


@pytest_twisted.ensureDeferred
async def test_V13_a_second_start_is_unexpected(make_stack, reactor, captured_log):
    await hostile("second-start", make_stack, reactor, captured_log)


@pytest_twisted.ensureDeferred
async def test_V14_a_clone_chip_cannot_continue_under_the_ca_keys_and_nothing_is_posted(
        make_stack, reactor, captured_log):
    # The clone holds a genuine document's files but not its chip key: the relayed CA
    # gives keys the chip cannot use, so no DG1 can be handed back (1011), and no
    # result claiming anything about this document reaches the Result Server.
    stack = make_stack()
    profile = profiles.get_profile("clone")
    options = PhoneV2Options(access_key=profile.access_key, client_id=POSTING)
    record = await run_phone_v2(_url(stack, "?return_result=true"), profile.chip(), options, reactor=reactor)
    await _ended_cleanly(stack, reactor, captured_log)
    assert record.close_message == {"type": "CLOSE", "code": 1011, "reason": "COMMUNICATION_FAILED"}
    assert stack.results.posts == []
