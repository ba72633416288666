"""Every close reason of docs/websocket-api.md (closing), caused end to end by the situation that produces it,
over real sockets against the service ``tap.makeService`` builds from a TOML file.

Each failed session: the ``{"close_code", "close_reason"}`` text message comes right
before the close frame with the same code and reason, and nothing is posted."""
from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import defer

from docval.emrtd import files
from docval.errors import ALL_REASONS
from docval.sim import profiles
from docval.sim.phone import access_key_json
from tests.schema import check_emrtd_passport

from .stack import FILES, HANG, HOLD, POSTING, RETURNING, TapChip, wait_until

PASSPORT = profiles.DEFAULT_PROFILE          # PACE
BAC = "bac-3des"
ID_CARD = "td1-idcard"                       # CAN only
# Every reason some test below produces by its real cause.
CAUSED = {
    "ACCESS_CONTROL_FAILED", "INVALID_CLIENT_ID", "INVALID_START_MESSAGE", "INVALID_ACCESS_KEY_VALUES",
    "UNEXPECTED_MESSAGE", "COMMUNICATION_FAILED", "FILE_READ_ERROR", "EMRTD_PASSPORT_READER_ERROR",
    "SERVER_ERROR", "POST_TO_RESULT_SERVER_FAILED", "TIMEOUT_WHILE_WAITING_FOR_START_MESSAGE",
    "TIMEOUT_WHILE_WAITING_FOR_RESPONSE", "MAX_SESSION_TIME_EXCEEDED",
}


def failed(trace, code, reason, stack):
    assert reason in CAUSED
    trace.assert_closed_by_server(code, reason)
    assert "DONE" not in trace.statuses and trace.result is None
    assert stack.results.posts == []
    assert stack.factory.sessions == set()


class Answering:
    """A chip whose answer to the commands ``when(n, apdu)`` picks is replaced."""

    def __init__(self, chip, when, answer):
        self.chip, self.when, self.answer, self.n = chip, when, answer, 0

    def transmit(self, apdu):
        self.n += 1
        response = self.chip.transmit(apdu)
        return self.answer if self.when(self.n, apdu) else response


def first(predicate):
    """``when`` for Answering: only the first command that matches."""
    seen = []

    def when(n, apdu):
        if not seen and predicate(apdu):
            seen.append(n)
            return True
        return False

    return when


# -- access, client, start message ------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_wrong_can_and_wrong_mrz_are_access_control_failed(make_stack):
    stack = make_stack()
    bac = profiles.get_profile(BAC)
    wrong_mrz = dict(access_key_json(bac.access_key), date_of_birth="850313")
    for name, key in ((PASSPORT, {"can": "000000"}), (ID_CARD, {"can": "491737"}), (BAC, wrong_mrz)):
        trace = await stack.phone(name, access_key=key, client_id=POSTING, return_result=True)
        failed(trace, 4403, "ACCESS_CONTROL_FAILED", stack)
        assert trace.statuses[-1] == "ACCESS_CONTROL"


@pytest_twisted.ensureDeferred
async def test_unknown_client_and_return_only_client_without_return_result(make_stack):
    stack = make_stack()
    for client_id, return_result in (("not-configured", True), (RETURNING, False), (POSTING.upper(), True)):
        chip = TapChip(profiles.get_profile(PASSPORT).chip())
        trace = await stack.phone(chip=chip, client_id=client_id, return_result=return_result)
        failed(trace, 4401, "INVALID_CLIENT_ID", stack)
        # Refused before the chip is touched.
        assert chip.commands == [] and trace.statuses == [] and "binary" not in trace.kinds()


@pytest_twisted.ensureDeferred
async def test_invalid_start_messages(make_stack):
    stack = make_stack()
    cases = [
        (lambda m: dict(m, unknown_field=1), "INVALID_START_MESSAGE"),
        (lambda m: {k: v for k, v in m.items() if k != "platform"}, "INVALID_START_MESSAGE"),
        (lambda m: dict(m, nfc_adapter_supports_extended_length="true"), "INVALID_START_MESSAGE"),
        (lambda m: [m], "INVALID_START_MESSAGE"),
        (lambda m: dict(m, access_key={"can": "12345"}), "INVALID_ACCESS_KEY_VALUES"),
        (lambda m: dict(m, access_key={"document_number": profiles.PASSPORT_NUMBER,
                                       "date_of_birth": "850230", "date_of_expiry": "340630"}),
         "INVALID_ACCESS_KEY_VALUES"),
    ]
    for edit, reason in cases:
        chip = TapChip(profiles.get_profile(PASSPORT).chip())
        trace = await stack.phone(chip=chip, client_id=POSTING, edit=edit)
        failed(trace, 1008, reason, stack)
        assert chip.commands == []


@pytest_twisted.ensureDeferred
async def test_text_message_mid_session_is_unexpected(make_stack):
    stack = make_stack()

    def chatty(protocol, event):
        if event == ("status", "READ_SOD"):
            protocol.sendMessage(b'{"status": "hello"}', isBinary=False)

    trace = await stack.phone(client_id=POSTING, return_result=True, hook=chatty)
    failed(trace, 1008, "UNEXPECTED_MESSAGE", stack)


@pytest_twisted.ensureDeferred
async def test_stray_answer_after_the_last_command_gives_one_outcome_on_both_sides(make_stack, reactor):
    # The stray answer lands either while the signatures are verified (no command
    # outstanding: 1008, nothing posted) or while the result is posted (ignored: the
    # post decides).  Either way phone and Result Server agree.
    stack = make_stack(statuses=[HOLD])

    def stray_answer(protocol, event):
        if event == ("status", "PASSIVE_AUTHENTICATION"):
            protocol.sendMessage(b"\x90\x00", isBinary=True)

    phone = stack.phone(client_id=POSTING, return_result=True, hook=stray_answer)
    await wait_until(reactor, lambda: phone.called or stack.results.held)
    if stack.results.held:
        stack.results.release(200)
        trace = await phone
        trace.assert_closed_by_server(1000, None)
        assert trace.statuses[-1] == "DONE" and trace.result is not None
        assert [p.body["emrtd_passport"] for p in stack.results.posts] == [trace.result]
    else:
        trace = await phone
        trace.assert_closed_by_server(1008, "UNEXPECTED_MESSAGE")
        assert "DONE" not in trace.statuses and trace.result is None
        assert stack.results.posts == []
    await wait_until(reactor, lambda: not stack.factory.posts and not stack.factory.sessions)


@pytest_twisted.ensureDeferred
async def test_messages_while_posting_are_ignored_and_the_post_decides(make_stack, reactor, captured_log):
    stack = make_stack(statuses=[HOLD])
    protocols = []
    phone = stack.phone(client_id=POSTING, return_result=True,
                        hook=lambda protocol, event: protocols.append(protocol))
    await stack.results.arrived
    (session,) = stack.factory.sessions
    assert session.phase == "posting"
    # What a confused app might send while it waits: all ignored, logged by type and size.
    client = protocols[-1]
    client.sendMessage(b'{"status": "CANCEL-ME"}', isBinary=False)
    client.sendMessage(b"\x90\x00", isBinary=True)
    await wait_until(reactor, lambda: "ignored a binary message of 2 bytes" in captured_log())
    stack.results.release(200)
    trace = await phone
    trace.assert_closed_by_server(1000, None)
    assert trace.statuses[-1] == "DONE" and len(stack.results.posts) == 1
    assert "ignored a text message of 23 bytes" in captured_log()
    assert "CANCEL-ME" not in captured_log()


# -- the chip session ---------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_chip_session_failures(make_stack):
    stack = make_stack()
    passport = profiles.get_profile(PASSPORT)
    no_sod, no_dg1 = passport.chip(), passport.chip()
    no_sod.fs.application.remove(files.EF_SOD)
    no_dg1.fs.application.remove(files.dg(1))
    cases = [
        # An old Android SDK's NFC timeout during PACE: not ISO 7816, so not a wrong key.
        (PASSPORT, Answering(passport.chip(), lambda n, a: a[1] == 0x86, bytes.fromhex("FFFFC200")),
         "COMMUNICATION_FAILED"),
        # A response too short to hold a status word, under Secure Messaging.
        (PASSPORT, Answering(passport.chip(), first(lambda a: a[0] & 0x0C == 0x0C), b"\x90"),
         "COMMUNICATION_FAILED"),
        (BAC, Answering(profiles.get_profile(BAC).chip(), first(lambda a: a[1] == 0xB0 and a[0] & 0x0C), b""),
         "COMMUNICATION_FAILED"),
        (PASSPORT, no_sod, "FILE_READ_ERROR"),
        (PASSPORT, no_dg1, "FILE_READ_ERROR"),
        # A CAN-only card whose chip refuses PACE outright: no access control is possible.
        (ID_CARD, Answering(profiles.get_profile(ID_CARD).chip(), lambda n, a: a[1] == 0x22,
                            bytes.fromhex("6D00")), "EMRTD_PASSPORT_READER_ERROR"),
    ]
    for name, chip, reason in cases:
        trace = await stack.phone(name, chip=chip, client_id=POSTING, return_result=True)
        failed(trace, 1011, reason, stack)


@pytest_twisted.ensureDeferred
async def test_a_bug_in_the_server_is_server_error(make_stack):
    async def buggy(transport, params, progress):
        progress("ACCESS_CONTROL")
        await transport.transmit_many([bytes.fromhex("00A4040C07A0000002471001")])
        return {}["no such key"]

    stack = make_stack(read_document=buggy)
    trace = await stack.phone(client_id=POSTING, return_result=True)
    failed(trace, 1011, "SERVER_ERROR", stack)


# -- the Result Server --------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_result_server_behaviours_with_the_real_retry_schedule(make_stack, reactor):
    """All at once, each against its own Result Server (the retries wait for real)."""
    scenarios = {
        "500-500-200": ([500, 500, 200], 1000, 3),
        "always-500": ([500] * 10, "POST_TO_RESULT_SERVER_FAILED", 4),
        "503-429-408-200": ([503, 429, 408, 200], 1000, 4),   # three retries: the fourth try counts
        "429-200": ([429, 200], 1000, 2),
        "400": ([400, 200], "POST_TO_RESULT_SERVER_FAILED", 1),
        "404": ([404, 200], "POST_TO_RESULT_SERVER_FAILED", 1),
        "302": ([302, 200], "POST_TO_RESULT_SERVER_FAILED", 1),
        "hang-200": ([HANG, 200], 1000, 2),
        "unreachable": ([], "POST_TO_RESULT_SERVER_FAILED", 0),
    }
    stacks = {name: make_stack(statuses=list(v[0])) for name, v in scenarios.items()}
    await stacks["unreachable"].result_port.stopListening()
    t0 = reactor.seconds()
    traces = await defer.gatherResults(
        [stacks[name].phone(client_id=POSTING, return_result=True) for name in scenarios])
    elapsed = reactor.seconds() - t0
    for (name, (_, outcome, attempts)), trace in zip(scenarios.items(), traces, strict=True):
        stack = stacks[name]
        assert len(stack.results.posts) == attempts, name
        bodies = stack.results.bodies
        assert all(b == bodies[0] for b in bodies), name     # every retry sends the same result
        if outcome == 1000:
            trace.assert_closed_by_server(1000, None)
            assert trace.statuses[-1] == "DONE"
            assert bodies[-1] == {"emrtd_passport": trace.result,
                                  "client_validation_id": trace.options.validation_id,
                                  "session_id": bodies[-1]["session_id"]}
            check_emrtd_passport(trace.result)
        else:
            trace.assert_closed_by_server(1011, outcome)
            # The result went nowhere: no DONE, nothing returned to the phone.
            assert "DONE" not in trace.statuses and trace.result is None
    posts = stacks["hang-200"].results.posts
    # docs/result-server.md: 3 s per attempt, then a retry (after a backoff of at most a few seconds).
    assert 3.0 <= posts[1].at - posts[0].at < 6.0
    retried = stacks["always-500"].results.posts
    assert all(b.at > a.at for a, b in zip(retried, retried[1:], strict=False))
    assert elapsed < 30
    for stack in stacks.values():
        assert stack.factory.sessions == set() and stack.factory.posts == set()


# -- the phone leaves ---------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_phone_disconnecting_mid_session_posts_nothing(make_stack, reactor, captured_log):
    stack = make_stack()

    def vanish(protocol, event):
        if event == ("status", "READ_DG2"):
            protocol.transport.abortConnection()      # the TCP connection just goes

    def leave(protocol, event):
        if event == ("status", "READ_DG14"):
            protocol.sendClose(1000)                  # the phone closes the WebSocket

    for hook in (vanish, leave):
        trace = await stack.phone(client_id=POSTING, return_result=True, hook=hook)
        assert trace.record.close_message is None and "DONE" not in trace.statuses
    # Let the server see the lost connection / the close echo.
    await wait_until(reactor, lambda: not stack.factory.sessions and not stack.factory.countConnections)
    assert stack.results.posts == []
    log = captured_log()
    assert log.count("outcome=failure close_code=1011 close_reason=COMMUNICATION_FAILED "
                     "detail=phone disconnected") == 2


@pytest_twisted.ensureDeferred
async def test_phone_leaving_while_the_result_is_posted_lets_the_post_finish(make_stack, reactor,
                                                                           captured_log):
    stack = make_stack(statuses=[HOLD])
    phone = stack.phone(client_id=FILES, return_result=True)
    await stack.results.arrived
    assert stack.factory.posts != set()
    (session,) = stack.factory.sessions
    session.transport.abortConnection()   # as if the phone's network went away
    trace = await phone
    assert trace.result is None and "DONE" not in trace.statuses
    await wait_until(reactor, lambda: not stack.factory.sessions)
    assert stack.factory.posts != set()       # still posting, although the session is gone
    stack.results.release(200)
    await wait_until(reactor, lambda: not stack.factory.posts)
    assert len(stack.results.posts) == 1
    assert "result posted after the phone left (1 attempt(s))" in captured_log()


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("answer, close", [(200, (1000, None)), (400, (1011, "POST_TO_RESULT_SERVER_FAILED"))])
async def test_max_session_time_does_not_run_out_during_the_post(make_stack, reactor, answer, close):
    stack = make_stack(statuses=[HOLD], timeouts={"max_session": 2})   # reading takes well under 2 s
    phone = stack.phone(client_id=FILES, return_result=True)
    await stack.results.arrived
    started = reactor.seconds()
    # Held for longer than the whole session may last (the post's own attempt timeout is 3 s).
    await wait_until(reactor, lambda: reactor.seconds() - started > 2.2)
    assert not phone.called
    stack.results.release(answer)
    trace = await phone
    trace.assert_closed_by_server(*close)
    if answer == 200:
        assert trace.statuses[-1] == "DONE" and trace.result is not None
    else:
        assert "DONE" not in trace.statuses and trace.result is None
    await wait_until(reactor, lambda: not stack.factory.posts and not stack.factory.sessions)
    assert len(stack.results.posts) == 1


# -- real-time timeouts from the configuration file ----------------------------------------------


@pytest_twisted.ensureDeferred
async def test_configured_timeouts_in_real_time(make_stack, reactor):
    """Short timeouts from [timeouts] in the TOML file, waited out for real, all at once."""
    start = make_stack(timeouts={"start_message": 0.3})
    apdu = make_stack(timeouts={"apdu_response": 0.3})
    session = make_stack(timeouts={"max_session": 0.6, "apdu_response": 0.5})

    def silent_after_five(protocol, event):
        if event[0] == "binary" and protocol.factory.trace.kinds().count("binary") == 5:
            protocol.mute = True

    t0 = reactor.seconds()
    t_start, t_apdu, t_session = await defer.gatherResults([
        start.phone(client_id=POSTING, silent=True),
        apdu.phone(client_id=POSTING, return_result=True, hook=silent_after_five),
        session.phone(client_id=POSTING, return_result=True, chip_time=0.1),   # a slow phone
    ])
    elapsed = reactor.seconds() - t0
    failed(t_start, 1001, "TIMEOUT_WHILE_WAITING_FOR_START_MESSAGE", start)
    failed(t_apdu, 1001, "TIMEOUT_WHILE_WAITING_FOR_RESPONSE", apdu)
    failed(t_session, 1011, "MAX_SESSION_TIME_EXCEEDED", session)
    assert 0.25 <= t_start.record.duration < 2
    assert t_apdu.kinds().count("binary") == 6     # five answered, the sixth never
    assert 0.55 <= t_session.record.duration < 2
    assert elapsed < 5


def test_the_tests_above_cover_every_close_reason():
    """A reason added to docval.errors without a test producing it end to end fails here."""
    assert CAUSED == set(ALL_REASONS)
