"""The /ws1/validate session in memory: every close reason from its real cause (docs/websocket-api.md, closing),
status order, result delivery, timeouts on task.Clock and clean-up."""
from __future__ import annotations

import json

import pytest
from twisted.internet import defer
from twisted.python.failure import Failure

from docval.emrtd import errors as emrtd
from docval.errors import ResultPostFailed
from docval.poster import PostOutcome
from tests.support.wsframes import frame

from .harness import (
    POST_CLIENT,
    RESULT_URL,
    FakePoster,
    Harness,
    scripted_reader,
    start_message,
)

RR = "/ws1/validate?return_result=true"


def assert_closed(conn, code, reason):
    """The close text message is the last text, and the close frame says the same."""
    expected = {"close_code": code}
    if reason is not None:
        expected["close_reason"] = reason
    assert conn.texts[-1] == expected
    assert conn.closed is not None
    was_clean, got_code, got_reason = conn.closed
    assert (got_code, got_reason) == (code, reason)


# --- success -----------------------------------------------------------------------------

def test_success_returns_result_to_the_phone():
    h = Harness()
    c = h.raw(start_message(), path=RR)
    h.run(c)
    assert c.statuses == ["ACCESS_CONTROL", "READ_SOD", "READ_DG1", "PASSIVE_AUTHENTICATION", "DONE"]
    result = [t for t in c.texts if "emrtd_passport" in t]
    assert len(result) == 1 and result[0]["emrtd_passport"]["errors"] == ["fake report"]
    # Order: DONE, result, close message.
    kinds = [next(iter(t)) for t in c.texts[-3:]]
    assert kinds == ["status", "emrtd_passport", "close_code"]
    assert_closed(c, 1000, None)
    assert c.closed[0] is True
    assert h.metrics.finished == [("success", None)]
    assert h.poster.posts == []
    h.assert_clean()


def test_success_posts_then_sends_done():
    poster = FakePoster()
    h = Harness(poster=poster)
    c = h.raw(start_message(client_id=POST_CLIENT))
    h.run(c)
    assert c.statuses[-1] == "PASSIVE_AUTHENTICATION"   # no DONE before the post succeeded
    assert len(poster.posts) == 1
    url, emrtd_passport, validation_id = poster.posts[0]
    assert url == RESULT_URL and validation_id == start_message()["validation_id"]
    assert emrtd_passport["errors"] == ["fake report"] and "files_binary" not in emrtd_passport
    poster.pending[0].callback(PostOutcome(attempts=2, status=200))
    h.run(c)
    assert c.statuses[-1] == "DONE"
    assert not any("emrtd_passport" in t for t in c.texts)   # return_result not asked
    assert_closed(c, 1000, None)
    assert h.metrics.steps[-1] == "POST_RESULT"
    h.assert_clean()


def test_post_and_return_result_together():
    poster = FakePoster(outcome=lambda: PostOutcome(1, 200))
    h = Harness(poster=poster)
    c = h.raw(start_message(client_id=POST_CLIENT), path=RR)
    h.run(c)
    assert [t for t in c.texts if "emrtd_passport" in t][0]["emrtd_passport"] == poster.posts[0][1]
    assert_closed(c, 1000, None)
    h.assert_clean()


def test_files_binary_only_for_configured_clients():
    from dataclasses import replace

    h = Harness()
    clients = (replace(h.config.clients[0], files_binary=True),) + h.config.clients[1:]
    h2 = Harness(config=replace(h.config, clients=clients))
    c = h2.raw(start_message(), path=RR)
    h2.run(c)
    result = [t for t in c.texts if "emrtd_passport" in t][0]["emrtd_passport"]
    assert result["files_binary"] == {}
    c = h.raw(start_message(), path=RR)
    h.run(c)
    assert "files_binary" not in [t for t in c.texts if "emrtd_passport" in t][0]["emrtd_passport"]


def test_reader_gets_the_start_message_parameters():
    seen = []
    h = Harness(read_document=scripted_reader(seen=seen))
    msg = start_message(max_command_bytes=1024, max_response_bytes=None, max_pipelined_apdus=8,
                        access_key={"document_number": "c01x00t47", "date_of_birth": "970825",
                                    "date_of_expiry": "251008"})
    c = h.raw(msg, path=RR)
    h.run(c)
    (params,) = seen
    assert params.max_command_bytes == 1024 and params.max_response_bytes is None
    assert params.max_pipelined == 8 and params.extended_length is True
    assert params.access_key.document_number == "C01X00T47"
    assert params.trust == "trust-store"


def test_pipelined_commands_are_sent_at_once_and_answered_in_order():
    h = Harness(read_document=scripted_reader(pipelined=4))
    c = h.raw(start_message(max_pipelined_apdus=4), path=RR)
    h.run(c)
    assert len(c.binaries) == 4 * 4
    assert_closed(c, 1000, None)


def test_statuses_only_move_forward():
    h = Harness(read_document=scripted_reader(
        statuses=("ACCESS_CONTROL", "READ_SOD", "ACCESS_CONTROL", "READ_DG1", "READ_DG1", "DONE")))
    c = h.raw(start_message(), path=RR)
    h.run(c)
    assert c.statuses == ["ACCESS_CONTROL", "READ_SOD", "READ_DG1", "DONE"]
    assert_closed(c, 1000, None)


def test_unknown_status_is_a_server_error():
    h = Harness(read_document=scripted_reader(statuses=("ACCESS_CONTROL", "READING_MINDS")))
    c = h.raw(start_message(), path=RR)
    h.run(c)
    assert_closed(c, 1011, "SERVER_ERROR")


def test_reader_asking_for_more_than_allowed_is_a_server_error():
    h = Harness(read_document=scripted_reader(pipelined=2))
    c = h.raw(start_message(), path=RR)   # max_pipelined_apdus absent: depth 1
    h.run(c)
    assert_closed(c, 1011, "SERVER_ERROR")
    h.assert_clean()


def test_same_validation_id_in_parallel_is_allowed(caplog_events):
    # docs/reliability.md P7: policy is to allow, but mark; the Result Server de-duplicates.
    hold = defer.Deferred()
    h = Harness(read_document=scripted_reader(hold=hold))
    a = h.raw(start_message(), path=RR)
    b = h.raw(start_message(), path=RR)
    h.run(a)
    h.run(b)
    hold.callback(None)
    h.run(a)
    h.run(b)
    assert_closed(a, 1000, None)
    assert_closed(b, 1000, None)
    h.assert_clean()
    marks = [line for line in caplog_events() if "also used by" in line]
    # Only the second session is marked, and only its id is named.
    assert len(marks) == 1 and b.server.session_id in marks[0] and a.server.session_id not in marks[0]
    assert "validation_id=cf847daa-a548-4509-bdeb-4edd51aee448" in marks[0]


def test_distinct_validation_ids_are_not_marked(caplog_events):
    hold = defer.Deferred()
    h = Harness(read_document=scripted_reader(hold=hold))
    a = h.raw(start_message(), path=RR)
    b = h.raw(start_message(validation_id="another"), path=RR)
    h.run(a)
    h.run(b)
    hold.callback(None)
    h.run(a)
    h.run(b)
    assert not [line for line in caplog_events() if "also used by" in line]


# --- start message -----------------------------------------------------------------------

@pytest.mark.parametrize(
    "payload, binary",
    [
        (b"not json", False),
        (b"[]", False),
        (json.dumps(start_message()).encode(), True),       # P2: start message as binary
        (b"[" * 1000 + b"]" * 1000, False),                  # P2: deep nesting
        (b'{"client_id": ' + b"1" * 5000 + b"}", False),     # P2: 5000-digit number
        (json.dumps(start_message(platform=None)).encode(), False),
        (json.dumps({k: v for k, v in start_message().items() if k != "platform"}).encode(), False),
        (json.dumps(start_message(extra=1)).encode(), False),
        (json.dumps(start_message(max_command_bytes=float("nan"))).encode(), False),
    ],
)
def test_invalid_start_message(payload, binary):
    h = Harness()
    c = h.raw((payload, binary))
    h.run(c)
    assert c.binaries == []
    assert_closed(c, 1008, "INVALID_START_MESSAGE")
    assert h.metrics.finished == [("failure", "INVALID_START_MESSAGE")]
    h.assert_clean()


def test_ten_megabyte_start_message_is_an_invalid_start_message():
    h = Harness()
    c = h.raw((b'{"client_id": "' + b"x" * (10 << 20) + b'"}', False))
    h.run(c)
    # Refused on the frame's declared length, before the payload is buffered.
    assert_closed(c, 1008, "INVALID_START_MESSAGE")
    h.assert_clean()


def test_oversized_binary_message_while_reading_is_1009():
    hold = defer.Deferred()

    async def read(transport, params, progress):
        await transport.transmit_many([b"\x00\xB0\x00\x00\x00"])
        await hold

    h = Harness(read_document=read)
    c = h.raw(start_message(), path=RR, answer=lambda apdu: b"\x00" * (1 << 20))
    h.run(c)
    assert c.closed[1] == 1009
    assert h.metrics.finished == [("failure", "COMMUNICATION_FAILED")]
    h.assert_clean()


def test_start_message_just_over_4k_is_invalid():
    h = Harness()
    c = h.raw(start_message(validation_id="x" * 200, platform="y" * 4000))
    h.run(c)
    assert_closed(c, 1008, "INVALID_START_MESSAGE")


@pytest.mark.parametrize("key", [{"can": "12345"}, {"can": "1234567"}, {"can": "12a456"},
                                 {"document_number": "C01X00T", "date_of_birth": "970825",
                                  "date_of_expiry": "251008"},
                                 {"document_number": "C01X00T47", "date_of_birth": "970230",
                                  "date_of_expiry": "251008"}])
def test_invalid_access_key(key):
    h = Harness()
    c = h.raw(start_message(access_key=key), path=RR)
    h.run(c)
    assert_closed(c, 1008, "INVALID_ACCESS_KEY_VALUES")
    h.assert_clean()


def test_unknown_client_id():
    h = Harness()
    c = h.raw(start_message(client_id="SOMEONE ELSE"), path=RR)
    h.run(c)
    assert_closed(c, 4401, "INVALID_CLIENT_ID")
    assert c.binaries == []
    h.assert_clean()


def test_unknown_client_id_of_any_length_is_invalid_client_id():
    # docs/reliability.md P4 / docs/websocket-api.md (StartMessage): longer than any configured id is still just unknown.
    h = Harness()
    c = h.raw(start_message(client_id="X" * 1000), path=RR)
    h.run(c)
    assert_closed(c, 4401, "INVALID_CLIENT_ID")
    assert c.binaries == []
    h.assert_clean()


def test_client_without_result_server_needs_return_result():
    h = Harness()
    c = h.raw(start_message())      # no ?return_result=true
    h.run(c)
    assert_closed(c, 4401, "INVALID_CLIENT_ID")
    assert c.binaries == []          # refused before reading the chip


@pytest.mark.parametrize("query, returned", [("?return_result=true", True), ("?return_result=TRUE", True),
                                             ("?return_result=false", False), ("", False),
                                             ("?return_result=1", False)])
def test_return_result_query(query, returned):
    poster = FakePoster(outcome=lambda: PostOutcome(1, 200))
    h = Harness(poster=poster)
    c = h.raw(start_message(client_id=POST_CLIENT), path="/ws1/validate" + query)
    h.run(c)
    assert any("emrtd_passport" in t for t in c.texts) is returned


# --- unexpected messages (P8) --------------------------------------------------------------

def held_session(answer=None):
    """A harness and a session whose reader waits (no command outstanding) until ``hold`` fires."""
    hold = defer.Deferred()
    h = Harness(read_document=scripted_reader(hold=hold))
    kwargs = {"answer": answer} if answer is not None else {}
    c = h.raw(start_message(), path=RR, **kwargs)
    h.run(c)
    return h, c, hold


def test_text_after_start_message():
    h, c, hold = held_session()
    c.client.sendMessage(b'{"status": "hello"}', isBinary=False)
    h.run(c)
    assert_closed(c, 1008, "UNEXPECTED_MESSAGE")
    h.assert_clean()


def test_second_start_message():
    h, c, hold = held_session()
    c.client.sendMessage(json.dumps(start_message()).encode(), isBinary=False)
    h.run(c)
    assert_closed(c, 1008, "UNEXPECTED_MESSAGE")


def test_binary_without_outstanding_command():
    h, c, hold = held_session()
    c.client.sendMessage(b"\x90\x00", isBinary=True)
    h.run(c)
    assert_closed(c, 1008, "UNEXPECTED_MESSAGE")
    h.assert_clean()


def test_more_responses_than_commands():
    hold = defer.Deferred()

    async def read(transport, params, progress):
        progress("ACCESS_CONTROL")
        await transport.transmit_many([b"\x00\xA4\x04\x0C"])
        await hold

    h = Harness(read_document=read)
    c = h.raw(start_message(), path=RR, answer=lambda apdu: None)
    h.run(c)
    assert c.binaries
    c.client.sendMessage(b"\x90\x00", isBinary=True)
    c.client.sendMessage(b"\x90\x00", isBinary=True)
    h.run(c)
    assert_closed(c, 1008, "UNEXPECTED_MESSAGE")
    h.assert_clean()


# --- one outcome on both sides (issue 15 §2): from the post on, the post decides ----------------

def _posting(poster=None, path="/ws1/validate", **timeouts):
    """A session whose last chip command is answered and whose result post is pending."""
    poster = poster or FakePoster()
    h = Harness(poster=poster, **timeouts)
    c = h.raw(start_message(client_id=POST_CLIENT), path=path)
    h.run(c)
    assert len(poster.pending) == 1 and h.factory.posts
    (session,) = h.factory.sessions
    assert session.phase == "posting"
    return h, c, poster


def assert_done(c, h):
    assert c.statuses[-1] == "DONE"
    assert_closed(c, 1000, None)
    assert h.metrics.finished == [("success", None)]


@pytest.mark.parametrize("payload, binary", [(b'{"status": "CANCEL"}', False), (b"\x90\x00", True)])
def test_message_while_posting_is_ignored_and_a_2xx_gives_done(caplog_events, payload, binary):
    h, c, poster = _posting()
    for _ in range(5):
        c.client.sendMessage(payload, isBinary=binary)
    h.run(c, 1.0)
    assert c.closed is None and "DONE" not in c.statuses
    poster.pending[0].callback(PostOutcome(1, 200))
    h.run(c)
    assert_done(c, h)
    h.assert_clean()
    lines = caplog_events()
    kind = "binary" if binary else "text"
    ignored = [t for t in lines if "ignored a " in t]
    # Type and size, never the content; a flood is counted, not logged line by line.
    assert len(ignored) == 3
    assert all(f"ignored a {kind} message of {len(payload)} bytes" in t for t in ignored)
    assert not any("CANCEL" in t for t in lines)
    assert any("ignored_messages=5" in t for t in lines if " ended: " in t)


def test_message_while_posting_then_a_failed_post_is_post_failed_and_nothing_else():
    h, c, poster = _posting(path=RR)
    c.client.sendMessage(b"{}", isBinary=False)
    c.client.sendMessage(b"\x90\x00", isBinary=True)
    h.run(c)
    poster.pending[0].errback(ResultPostFailed("result server: HTTP 500"))
    h.run(c)
    assert "DONE" not in c.statuses
    assert not any("emrtd_passport" in t for t in c.texts)
    assert [t for t in c.texts if "close_code" in t] == [
        {"close_code": 1011, "close_reason": "POST_TO_RESULT_SERVER_FAILED"}]
    assert_closed(c, 1011, "POST_TO_RESULT_SERVER_FAILED")
    assert h.metrics.finished == [("failure", "POST_TO_RESULT_SERVER_FAILED")]
    h.assert_clean()


@pytest.mark.parametrize("ok", [True, False])
def test_session_timer_stops_while_posting(ok):
    h, c, poster = _posting(path=RR, max_session=5)
    # Far past the maximum session time: the post, not the timer, decides.
    h.run(c, 60, step=1.0)
    assert c.closed is None
    assert not any(call.active() and call.getTime() <= h.clock.seconds() + 5
                   for call in h.clock.getDelayedCalls())
    if ok:
        poster.pending[0].callback(PostOutcome(2, 201))
        h.run(c)
        assert_done(c, h)
        assert [t for t in c.texts if "emrtd_passport" in t]
    else:
        poster.pending[0].errback(ResultPostFailed("result server: no answer within 3s"))
        h.run(c)
        assert "DONE" not in c.statuses
        assert_closed(c, 1011, "POST_TO_RESULT_SERVER_FAILED")
    h.assert_clean()


def test_session_timer_still_runs_until_the_post_starts():
    hold = defer.Deferred()
    h = Harness(read_document=scripted_reader(hold=hold), max_session=5)
    c = h.raw(start_message(client_id=POST_CLIENT))
    h.run(c, 5.1)
    assert_closed(c, 1011, "MAX_SESSION_TIME_EXCEEDED")
    assert h.poster.posts == []
    h.assert_clean()




VIOLATIONS = {
    1009: lambda client: client.sendMessage(b"x" * (100 * 1024), isBinary=True),
    1007: lambda client: client.transport.write(frame(0x1, b'{"a":"\xff\xfe"}')),
    1002: lambda client: client.transport.write(frame(0x2, b"\x90\x00", mask=False)),
}


@pytest.mark.parametrize("ok", [True, False])
@pytest.mark.parametrize("code", sorted(VIOLATIONS))
def test_phone_breaking_the_protocol_while_posting_does_not_decide_the_outcome(caplog_events, ok, code):
    """An oversized message, invalid UTF-8 or an unmasked frame would fail the WebSocket
    at once (1009, 1007, 1002); during the post the phone is no longer read and the
    post's outcome is what the phone is told."""
    h, c, poster = _posting(path=RR)
    VIOLATIONS[code](c.client)
    h.run(c)
    assert c.closed is None
    c.client.sendMessage(b"{}", isBinary=False)           # not even parsed any more
    h.run(c)
    if ok:
        poster.pending[0].callback(PostOutcome(1, 200))
    else:
        poster.pending[0].errback(ResultPostFailed("result server: HTTP 400"))
    h.run(c, 2.0)    # the phone's close reply is not read: the close-handshake timeout ends it
    texts = [t for t in c.texts if "close_code" in t]
    if ok:
        assert c.statuses[-1] == "DONE" and [t for t in c.texts if "emrtd_passport" in t]
        assert texts == [{"close_code": 1000}]
        assert h.metrics.finished == [("success", None)]
    else:
        assert "DONE" not in c.statuses
        assert texts == [{"close_code": 1011, "close_reason": "POST_TO_RESULT_SERVER_FAILED"}]
        assert h.metrics.finished == [("failure", "POST_TO_RESULT_SERVER_FAILED")]
    assert c.closed is not None
    h.assert_clean()
    assert any(f"broke the WebSocket protocol (would close {code})" in t for t in caplog_events())


# --- reader failures map through close_for ---------------------------------------------------

@pytest.mark.parametrize(
    "make_exc, code, reason",
    [
        (lambda: emrtd.AccessControlError("PACE rejected"), 4403, "ACCESS_CONTROL_FAILED"),
        (lambda: emrtd.CommunicationError("not an R-APDU"), 1011, "COMMUNICATION_FAILED"),
        (lambda: emrtd.SecureMessagingError("bad MAC"), 1011, "COMMUNICATION_FAILED"),
        (lambda: emrtd.FileReadError("DG1 unreadable"), 1011, "FILE_READ_ERROR"),
        (lambda: emrtd.ParseError("bad SOD"), 1011, "EMRTD_PASSPORT_READER_ERROR"),
        (lambda: RuntimeError("bug"), 1011, "SERVER_ERROR"),
    ],
)
def test_reader_failures(make_exc, code, reason):
    # A fresh exception per run: a shared one would keep its traceback (and the session) alive.
    h = Harness(read_document=scripted_reader(fail=make_exc()))
    c = h.raw(start_message(client_id=POST_CLIENT), path=RR)
    h.run(c)
    assert "DONE" not in c.statuses
    assert_closed(c, code, reason)
    assert h.poster.posts == []                  # nothing posted on failure
    assert h.metrics.finished == [("failure", reason)]
    h.assert_clean()


def test_result_post_failure():
    poster = FakePoster()
    h = Harness(poster=poster)
    c = h.raw(start_message(client_id=POST_CLIENT), path=RR)
    h.run(c)
    poster.pending[0].errback(ResultPostFailed("result server: HTTP 500"))
    h.run(c)
    assert "DONE" not in c.statuses
    assert not any("emrtd_passport" in t for t in c.texts)
    assert_closed(c, 1011, "POST_TO_RESULT_SERVER_FAILED")
    h.assert_clean()


def test_bug_in_result_building_is_a_server_error():
    class Broken:
        def to_emrtd_passport(self, files_binary):
            raise KeyError("surname DOE")

    async def read(transport, params, progress):
        return Broken()

    h = Harness(read_document=read)
    c = h.raw(start_message(), path=RR)
    h.run(c)
    assert_closed(c, 1011, "SERVER_ERROR")
    h.assert_clean()


# --- timeouts on the clock -------------------------------------------------------------------

def test_start_message_timeout():
    h = Harness(start_message=10)
    c = h.raw()
    h.run(c, 9.9)
    assert c.closed is None
    h.run(c, 0.2)
    assert_closed(c, 1001, "TIMEOUT_WHILE_WAITING_FOR_START_MESSAGE")
    h.assert_clean()


def test_response_timeout_cancels_the_reader():
    cancelled = []

    async def read(transport, params, progress):
        progress("ACCESS_CONTROL")
        try:
            await transport.transmit_many([b"\x00\xA4\x04\x0C"])
        except defer.CancelledError:
            cancelled.append(True)
            raise

    h = Harness(read_document=read, apdu_response=15)
    c = h.raw(start_message(), path=RR, answer=lambda apdu: None)
    h.run(c, 14.9)
    assert c.closed is None
    h.run(c, 0.2)
    assert_closed(c, 1001, "TIMEOUT_WHILE_WAITING_FOR_RESPONSE")
    assert cancelled == [True]
    h.assert_clean()


def test_response_after_timeout_is_ignored():
    h = Harness(apdu_response=1)
    c = h.raw(start_message(), path=RR, answer=lambda apdu: None)
    h.run(c, 1.1)
    assert_closed(c, 1001, "TIMEOUT_WHILE_WAITING_FOR_RESPONSE")
    h.assert_clean()


def test_max_session_time_against_a_drip_feeding_phone():
    # P10: every answer comes just inside the APDU timeout, forever.
    async def read(transport, params, progress):
        progress("READ_DG2")
        while True:
            await transport.transmit_many([b"\x00\xB0\x00\x00\x00"])

    h = Harness(read_document=read, apdu_response=15, max_session=90)
    pending = []
    c = h.raw(start_message(), path=RR, answer=lambda apdu: pending.append(apdu) or None)
    t = 0.0
    while c.closed is None and t < 100:
        h.run(c, 14.0, step=1.0)
        t += 14.0
        if pending and c.closed is None:
            pending.clear()
            c.client.sendMessage(b"\x90\x00", isBinary=True)
            c.flush()
    assert_closed(c, 1011, "MAX_SESSION_TIME_EXCEEDED")
    assert 89 <= t <= 100
    h.assert_clean()


# --- the phone goes away ----------------------------------------------------------------------

def test_phone_disconnect_while_reading_posts_nothing():
    cancelled = []

    async def read(transport, params, progress):
        progress("ACCESS_CONTROL")
        try:
            await transport.transmit_many([b"\x00\xA4\x04\x0C"])
        except defer.CancelledError:
            cancelled.append(True)
            raise

    h = Harness(read_document=read)
    c = h.raw(start_message(client_id=POST_CLIENT), answer=lambda apdu: None)
    h.run(c)
    c.client.transport.loseConnection()
    h.run(c)
    assert cancelled == [True]
    assert h.poster.posts == []
    assert h.metrics.finished == [("failure", "COMMUNICATION_FAILED")]
    h.assert_clean()


def test_phone_close_before_start_message():
    h = Harness()
    c = h.raw()
    c.client.sendClose(1000)
    h.run(c)
    assert c.closed[0] is True
    assert h.metrics.finished == [("failure", "COMMUNICATION_FAILED")]
    h.assert_clean()


def test_phone_disconnect_while_posting_lets_the_post_finish(caplog_events):
    poster = FakePoster()
    h = Harness(poster=poster)
    c = h.raw(start_message(client_id=POST_CLIENT))
    h.run(c)
    c.client.transport.loseConnection()
    h.run(c)
    assert h.factory.sessions == set()
    assert h.factory.posts
    poster.pending[0].errback(Failure(ResultPostFailed("result server: HTTP 503")))
    h.assert_clean()
    text = "\n".join(caplog_events())
    assert "result post failed after the phone left" in text


# --- handshake ---------------------------------------------------------------------------------

def test_other_paths_get_404():
    h = Harness()
    c = h.raw(path="/ws1/other")
    h.run(c)
    assert c.client_factory.opened is False
    assert c.closed[0] is False and "404" in c.closed[2]
    assert h.metrics.started == 0
    h.assert_clean()
