"""The ``/ws1/validate`` WebSocket session (docs/websocket-api.md, §5).

One protocol instance is one session: it waits for the StartMessage, runs the
reader over an :class:`ApduRelay`, relays status updates, posts the result and
closes with the code and reason of ``docval.errors.close_for`` -- always after
the ``{"close_code": ...}`` text message that iOS 13/14 rely on.

Autobahn ignores what its callbacks return or raise, so every callback here
catches its own failures and turns them into a close.  Nothing here logs
document data: log lines carry a random session id, the phone's validation_id,
steps, timings, sizes, algorithms and reasons; unexpected exceptions are logged
by type and code location only, because their messages may quote values.
"""
from __future__ import annotations

import json
import secrets
import traceback
from typing import TYPE_CHECKING, Any

from autobahn.twisted.websocket import WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from docval.emrtd.errors import EmrtdError
from docval.errors import (
    SUCCESS,
    Close,
    ConnectionLost,
    InvalidAccessKey,
    InvalidClientId,
    InvalidStartMessage,
    MaxSessionTimeExceeded,
    ResponseTimeout,
    ServerError,
    SessionError,
    StartMessageTimeout,
    UnexpectedMessage,
    close_for,
)
from docval.status import STATUSES, Status
from docval.ws.endline import TEMPLATE, SessionEnd
from docval.ws.phases import OPEN, Phase, SessionPhase
from docval.ws.relay import ApduRelay
from docval.ws.services import SessionHost
from docval.ws.startmessage import StartMessage, parse_start_message

if TYPE_CHECKING:
    from docval.config import ClientConfig

PATH = "/ws1/validate"
# Phones send a few hundred bytes of headers; proxies add some more.
MAX_HANDSHAKE_BYTES = 16 * 1024

DONE = Status.DONE
# Log lines for phone messages ignored during the post, per session; the rest are counted.
MAX_IGNORED_LOG_LINES = 3

CONNECTING, AWAIT_START, READING, POSTING, CLOSING, CLOSED = (
    Phase.CONNECTING, Phase.AWAIT_START, Phase.READING, Phase.POSTING, Phase.CLOSING, Phase.CLOSED,
)


def loggable(value: str | None, limit: int = 64) -> str:
    """A phone-supplied string made safe for a log line (no control characters, bounded)."""
    if value is None:
        return "-"
    cleaned = "".join(c if " " <= c <= "~" else "?" for c in value[:limit])
    return cleaned + ("..." if len(value) > limit else "")


def _where(exc: BaseException | Failure) -> str:
    """Code locations of a failure, innermost last, without any values."""
    if isinstance(exc, Failure):
        frames = [(f[1], f[2], f[0]) for f in (exc.frames or [])]
    else:
        frames = [(f.filename, f.lineno, f.name) for f in traceback.extract_tb(exc.__traceback__)]
    return " <- ".join(f"{name} ({file.rsplit('/', 1)[-1]}:{line})" for file, line, name in reversed(frames[-6:]))


def _detail(exc: BaseException) -> str:
    """What went wrong, for the log.  Our own exception types promise data-free
    messages (docval.emrtd.errors, docval.errors); anything else is named by type only."""
    if isinstance(exc, (EmrtdError, SessionError)):
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return type(exc).__name__


def _encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


# Module level, not a class attribute: a Logger on the class would make every
# event carry the protocol instance as its source, and buffered log events
# (before logging starts, or in an observer) would keep finished sessions alive.
_log = Logger(namespace="docval.session")


class ValidateServerProtocol(WebSocketServerProtocol):
    # Autobahn owns ``self.log``; ours (``_log``) keeps its format under our control.

    factory: "SessionHost"

    def __init__(self) -> None:
        super().__init__()
        self._phases = SessionPhase()
        self._return_result = False
        self._sid = ""
        self._t0 = 0.0
        self._start_timer: Any = None
        self._session_timer: Any = None
        # Only what the log line needs outlives _begin: never the access key.
        self._validation_id: str | None = None
        self._platform: str | None = None
        self._client: "ClientConfig | None" = None
        self._relay: ApduRelay | None = None
        self._reader_d: defer.Deferred | None = None
        self._post_d: defer.Deferred | None = None
        self._steps: list[tuple[str, float]] = []
        self._step: tuple[str, float] | None = None
        self._status_rank = -1
        self._close: Close | None = None
        self._failure_detail: str | None = None
        self._summary: dict[str, Any] | None = None
        self._post_note: str | None = None
        # Phone messages that arrived while the result was posted (ignored, see _ignore).
        self._ignored = 0
        # The phone broke the WebSocket protocol while the result was posted: its
        # bytes are dropped unread until the post decides the session's outcome.
        self._deaf = False

    # -- Autobahn callbacks -----------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        # Autobahn buffers the HTTP request until CRLFCRLF without a limit (and
        # rescans the whole buffer per read): a header flood would cost memory
        # and quadratic CPU for the whole handshake timeout (docs/reliability.md W6).
        if self.state == WebSocketServerProtocol.STATE_CONNECTING and \
                len(getattr(self, "data", b"")) + len(data) > MAX_HANDSHAKE_BYTES:
            self.data = b""
            self.transport.abortConnection()
            return
        if self._deaf:
            return
        super().dataReceived(data)

    def _max_message_size_exceeded(self, msg_size: int, max_msg_size: int, reason: str) -> None:
        # Autobahn's hook for an oversized frame or message (it would close 1009).
        # Before the StartMessage that is an invalid start message (docs/reliability.md
        # P2), closed the documented way with its text message first.
        if self._phase == AWAIT_START:
            try:
                self._fail(InvalidStartMessage("start message larger than the message limit"))
            finally:
                # Stops Autobahn from buffering the rest of the oversized payload.
                self.failedByMe = True
            return
        super()._max_message_size_exceeded(msg_size, max_msg_size, reason)

    def _fail_connection(self, code: int = 1001, reason: str = "going away") -> None:
        # Autobahn's way out for every WebSocket protocol violation of the phone
        # (1002, 1007, 1009).  While the result is posted the session's outcome is
        # the post's: the phone must not be told "failed" about a result the Result
        # Server then holds.  So its connection is not failed now; we stop reading
        # it and close with the post's outcome (the close-handshake timeout drops a
        # phone that cannot answer the close any more).
        if self._phase == POSTING:
            self.failedByMe = True   # Autobahn stops processing the broken frame
            self._go_deaf(code)
            return
        super()._fail_connection(code, reason)

    def onConnect(self, request: Any) -> None:
        if request.path != PATH:
            raise ConnectionDeny(404, "Not Found")
        values = request.params.get("return_result") or []
        self._return_result = bool(values) and values[-1].lower() == "true"
        return None

    def onOpen(self) -> None:
        try:
            factory = self.factory
            clock = factory.clock
            self._sid = secrets.token_hex(8)
            self._t0 = clock.seconds()
            self._phases.transition(AWAIT_START)
            factory.session_opened(self)
            timeouts = factory.config.timeouts
            self._start_timer = clock.callLater(
                timeouts.start_message, self._on_timer, StartMessageTimeout
            )
            self._session_timer = clock.callLater(
                timeouts.max_session, self._on_timer, MaxSessionTimeExceeded
            )
        except Exception as e:
            self._fail(e)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        try:
            self._on_message(payload, isBinary)
        except Exception as e:
            self._fail(e)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        try:
            self._on_close(code)
        except Exception as e:
            self._log_bug(e)

    # -- session ----------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        return self._sid

    @property
    def phase(self) -> str:
        return self._phase

    @property
    def _phase(self) -> Phase:
        return self._phases.state

    @property
    def validation_id(self) -> str | None:
        """The phone's validation_id once its StartMessage was accepted."""
        return self._validation_id if self._client is not None else None

    def _on_message(self, payload: bytes, is_binary: bool) -> None:
        if self._phase == AWAIT_START:
            if is_binary:
                raise InvalidStartMessage("start message sent as a binary message")
            try:
                start = parse_start_message(payload)
            except (InvalidStartMessage, InvalidAccessKey) as e:
                # The session's end line names the refused field and keeps the app's id.
                self._validation_id = getattr(e, "validation_id", None)
                raise
            self._begin(start)
        elif self._phase == READING:
            if not is_binary:
                raise UnexpectedMessage("text message after the start message")
            assert self._relay is not None
            self._relay.deliver(payload)
        elif self._phase == POSTING:
            self._ignore("binary" if is_binary else "text", len(payload))
        # CLOSING/CLOSED: whatever still arrives belongs to a finished session.

    def _begin(self, start: StartMessage) -> None:
        factory = self.factory
        self._validation_id, self._platform = start.validation_id, start.platform
        client = factory.config.find_client(start.client_id)
        if client is None:
            raise InvalidClientId("unknown client_id")
        if client.result_url is None and not self._return_result:
            # Such a client's results can only reach the phone; without
            # return_result=true they would go nowhere, so the client id is not
            # valid for this request (docs/result-server.md).  Refused before the chip is read.
            raise InvalidClientId("client without a Result Server requires return_result=true")
        self._cancel(self._start_timer)
        self._start_timer = None
        self._client = client
        self._phases.transition(READING)
        timeouts = factory.config.timeouts
        self._relay = ApduRelay(
            self._send_apdu,
            factory.clock,
            timeouts.apdu_response,
            start.max_pipelined_apdus,
            on_timeout=self._on_apdu_timeout,
            on_round_trip=factory.metrics.apdu_round_trip,
        )
        _log.info(
            "session {session_id} started: validation_id={validation_id} platform={platform} "
            "access={access} extended_length={extended} max_command={max_command} "
            "max_response={max_response} pipelined={pipelined} return_result={return_result}",
            session_id=self._sid,
            validation_id=loggable(start.validation_id),
            platform=loggable(start.platform, 16),
            access=start.access_kind,
            extended=start.nfc_adapter_supports_extended_length,
            max_command=start.max_command_bytes,
            max_response=start.max_response_bytes,
            pipelined=start.max_pipelined_apdus,
            return_result=self._return_result,
        )
        others = factory.sessions_with_validation_id(self, start.validation_id)
        if others:
            # docs/reliability.md P7: allowed (the Result Server de-duplicates), but marked
            # so that operators can see replays and double submissions.
            _log.warn(
                "session {session_id}: validation_id={validation_id} is also used by "
                "{others} other open session(s)",
                session_id=self._sid, validation_id=loggable(start.validation_id), others=others,
            )
        params = factory.read_params(start, client)
        d = factory.run_reader(self._relay, params, self._progress)
        self._reader_d = d
        d.addCallbacks(self._read_done, self._read_failed)
        d.addErrback(self._unexpected)

    def _send(self, payload: bytes, binary: bool) -> None:
        # Newer Autobahn raises once the WebSocket is closing (e.g. after it failed
        # the connection for a protocol error); the session ends in onClose then.
        if self.state != WebSocketServerProtocol.STATE_OPEN:
            return
        # Autobahn applies maxMessagePayloadSize (the strict limit on what a phone
        # may send, see factory.MAX_MESSAGE_BYTES) to outgoing messages too: 22.7
        # and the latest releases alike check it in sendMessage() and raise
        # PayloadExceededError, which would turn a large genuine result (a 56 KB
        # face, DG7 images, files_binary) into SERVER_ERROR after DONE.  What we send
        # is bounded by the file caps instead, so the limit is lifted for exactly
        # this call.  Nothing is received meanwhile: sendMessage only queues frames
        # on the transport, on the reactor thread.
        limits = self.maxMessagePayloadSize, self.maxFramePayloadSize
        self.maxMessagePayloadSize = self.maxFramePayloadSize = 0
        try:
            self.sendMessage(payload, isBinary=binary)
        finally:
            self.maxMessagePayloadSize, self.maxFramePayloadSize = limits

    def _send_apdu(self, apdu: bytes) -> None:
        self._send(apdu, True)

    def _send_json(self, obj: dict[str, Any]) -> None:
        self._send(_encode(obj), False)

    def _progress(self, status: str) -> None:
        if self._phase != READING:
            return
        if status == DONE:
            return  # sent by the session after the result is delivered
        if status not in STATUSES:
            raise ServerError("the reader reported an unknown status")
        rank = STATUSES.index(status)
        if rank <= self._status_rank:
            # docs/websocket-api.md (statuses) promises the phone this order; a step the reader repeats
            # (e.g. access control again after a failed Chip Authentication)
            # stays part of the current one.
            return
        self._status_rank = rank
        self._begin_step(status)
        self._send_json({"status": status})

    def _begin_step(self, name: str | None) -> None:
        now = self.factory.clock.seconds()
        if self._step is not None:
            step, since = self._step
            self._steps.append((step, now - since))
            self.factory.metrics.step_duration(step, now - since)
        self._step = (name, now) if name is not None else None

    def _read_done(self, report: Any) -> None:
        if self._phase != READING:
            return
        self._begin_step(None)
        summary = getattr(report, "summary", None)
        self._summary = summary() if callable(summary) else None
        assert self._relay is not None and self._client is not None and self._validation_id is not None
        self._relay.close()
        self._reader_d = None
        emrtd = report.to_emrtd_passport(files_binary=self._client.files_binary)
        del report  # the session keeps nothing it does not need
        # Signed before posting: once the Result Server has accepted the result, nothing
        # may fail the session any more.
        jws = self._sign(emrtd)
        if self._client.result_url is None:
            self._deliver(emrtd, jws)
            return
        self._phases.transition(POSTING)
        # From here the session's outcome is the post's: the post is bounded by the
        # poster's own retry budget, and a session timer firing now would tell the
        # phone "failed" about a result the Result Server may well accept.
        self._cancel(self._session_timer)
        self._session_timer = None
        self._begin_step("POST_RESULT")
        d = self.factory.post_result(self._client.result_url, emrtd, self._validation_id,
                                     session_id=self._sid, client=self._client)
        self._post_d = d
        d.addCallbacks(self._posted, self._post_failed, callbackArgs=(emrtd, jws))
        d.addErrback(self._unexpected)

    def _read_failed(self, failure: Failure) -> None:
        self._reader_d = None
        if self._phase != READING:
            return  # cancelled because the session is already ending
        self._fail(failure.value, failure)

    def _posted(self, outcome: Any, emrtd: dict[str, Any], jws: str | None = None) -> None:
        self._post_d = None
        attempts = getattr(outcome, "attempts", "?")
        if self._phase != POSTING:
            _log.info(
                "session {session_id}: result posted after the phone left ({attempts} attempt(s))",
                session_id=self._sid, attempts=attempts,
            )
            return
        self._begin_step(None)
        self._post_note = f"posted in {attempts} attempt(s)"
        self._deliver(emrtd, jws)

    def _post_failed(self, failure: Failure) -> None:
        self._post_d = None
        if failure.check(defer.CancelledError):
            return
        if self._phase != POSTING:
            _log.info(
                "session {session_id}: result post failed after the phone left: {detail}",
                session_id=self._sid, detail=_detail(failure.value),
            )
            return
        self._begin_step(None)
        self._fail(failure.value, failure)

    def _ignore(self, kind: str, size: int) -> None:
        """A phone message during the post: logged by type and size, never by content."""
        self._ignored += 1
        if self._ignored <= MAX_IGNORED_LOG_LINES:
            _log.info(
                "session {session_id}: ignored a {kind} message of {size} bytes from the phone "
                "while the result is posted",
                session_id=self._sid, kind=kind, size=size,
            )
        elif self._ignored == MAX_IGNORED_LOG_LINES + 1:
            # A phone flooding messages must not flood the log as well.
            _log.info(
                "session {session_id}: further phone messages while the result is posted are "
                "ignored without a log line each (counted in the session's end line)",
                session_id=self._sid,
            )

    def _go_deaf(self, code: int) -> None:
        if self._deaf:
            return
        self._deaf = True
        self.data = b""
        # Stop reading: nothing the phone sends can change the outcome now, and
        # unread bytes must not pile up in memory until the post is done.
        transport = self.transport
        if transport is not None and hasattr(transport, "pauseProducing"):
            transport.pauseProducing()
        _log.info(
            "session {session_id}: the phone broke the WebSocket protocol (would close {code}) "
            "while the result is posted; not reading from it until the post is done",
            session_id=self._sid, code=code,
        )

    def _sign(self, emrtd: dict[str, Any]) -> str | None:
        """``emrtd_passport_jws`` when the phone gets the result and the client wants it signed."""
        assert self._client is not None and self._validation_id is not None
        if not (self._return_result and self._client.sign_returned_result):
            return None
        return self.factory.sign_result(emrtd, self._validation_id, self._sid)

    def _deliver(self, emrtd: dict[str, Any], jws: str | None = None) -> None:
        # Encoded before DONE goes out: whatever could still fail must fail before
        # the phone is told the session succeeded.
        result = None
        if self._return_result:
            # The unsigned copy stays for the SDKs; the JWS is what a backend trusts.
            message: dict[str, Any] = {"emrtd_passport": emrtd}
            if jws is not None:
                message["emrtd_passport_jws"] = jws
            result = _encode(message)
        self._send(_encode({"status": DONE}), False)
        if result is not None:
            self._send(result, False)
        self._finish(SUCCESS)

    def _on_timer(self, kind: type[SessionError]) -> None:
        try:
            if kind is StartMessageTimeout:
                self._start_timer = None
            else:
                self._session_timer = None
            self._fail(kind("timer expired"))
        except Exception as e:
            self._log_bug(e)

    def _on_apdu_timeout(self) -> None:
        try:
            self._fail(ResponseTimeout("no APDU response in time"))
        except Exception as e:
            self._log_bug(e)

    def _unexpected(self, failure: Failure) -> None:
        """Last errback of every chain: a bug in our own callbacks."""
        self._fail(failure.value, failure)

    def _fail(self, exc: BaseException, failure: Failure | None = None) -> None:
        close = close_for(exc)
        self._failure_detail = _detail(exc)
        if not isinstance(exc, (EmrtdError, SessionError)):
            self._log_bug(failure or exc)
        self._finish(close)

    def _log_bug(self, exc: BaseException | Failure) -> None:
        value = exc.value if isinstance(exc, Failure) else exc
        _log.error(
            "session {session_id}: internal error {error_type} at {where}",
            session_id=self._sid or "-", error_type=type(value).__name__, where=_where(exc),
        )

    def _finish(self, close: Close) -> None:
        """Ends the session from our side: the close text message, then the close frame."""
        if self._phase not in OPEN:
            return
        self._phases.transition(CLOSING)
        self._close = close
        self._stop_work()
        message: dict[str, Any] = {"close_code": close.code}
        if close.reason:
            message["close_reason"] = close.reason
        self._send_json(message)
        # sendClose() only allows 1000 and 3000-4999; the close table needs 1001, 1008 and 1011 too.
        self.sendCloseFrame(
            code=close.code,
            reasonUtf8=close.reason.encode("ascii") if close.reason else None,
            isReply=False,
        )

    def _stop_work(self) -> None:
        """Cancels timers and the reader; a result post under way is left to finish."""
        for timer in (self._start_timer, self._session_timer):
            self._cancel(timer)
        self._start_timer = self._session_timer = None
        # Cancel first, so the reader sees CancelledError rather than a closed relay.
        reader, self._reader_d = self._reader_d, None
        if reader is not None and not reader.called:
            reader.cancel()
        if self._relay is not None:
            self._relay.close()

    def _on_close(self, code: int | None) -> None:
        # Autobahn leaves its close-handshake timer running when the TCP
        # connection goes first; on an injected clock that would be a leak.
        call = getattr(self, "closeHandshakeTimeoutCall", None)
        if call is not None:
            self._cancel(call)
            self.closeHandshakeTimeoutCall = None
        if self._phase in (CONNECTING, CLOSED):
            if self._phase == CONNECTING:
                self._phases.transition(CLOSED)
            return
        was_ours = self._phase == CLOSING
        self._phases.transition(CLOSED)
        if not was_ours:
            # The phone left (or broke the WebSocket protocol) before we closed.
            self._close = close_for(ConnectionLost())
            self._failure_detail = f"phone disconnected (close code {code})"
            self._stop_work()
        self._log_end()
        self.factory.session_closed(self)
        self._drop()

    def _log_end(self) -> None:
        close = self._close or SUCCESS
        outcome = "success" if close == SUCCESS else "failure"
        self.factory.metrics.session_finished(outcome, close.reason)
        if self._step is not None:
            self._begin_step(None)
        relay = self._relay
        record = SessionEnd(
            session_id=self._sid,
            outcome=outcome,
            close_code=close.code,
            close_reason=close.reason,
            detail=self._failure_detail,
            duration=self.factory.clock.seconds() - self._t0,
            client=self._client.name if self._client is not None else None,
            validation_id=loggable(self._validation_id),
            platform=loggable(self._platform, 16),
            steps=tuple(self._steps),
            apdus=relay.commands if relay else 0,
            bytes_out=relay.bytes_out if relay else 0,
            bytes_in=relay.bytes_in if relay else 0,
            post=self._post_note,
            ignored=self._ignored,
            algorithms=self._summary,
        )
        _log.info(TEMPLATE, **record.fields())

    def _drop(self) -> None:
        """Forget the session (docs/operations.md, privacy); a post still under way holds only its own copy."""
        self._client = None
        self._relay = None
        self._reader_d = None
        self._summary = None
        self._steps = []

    @staticmethod
    def _cancel(call: Any) -> None:
        if call is not None and call.active():
            call.cancel()
