"""One WebSocket session: the core both APIs share (docs/websocket-api.md, docs/websocket-api-v2.md).

``onConnect`` picks the front end by path: ``/ws1/validate`` -> :mod:`docval.ws.v1session`,
``/ws2/validate`` -> :mod:`docval.ws.v2session`; a path that is unknown, or whose API
``[server] apis`` disables, is answered 404.  The front end says what the phone's messages
mean; this core does what every session does: the start and session timers, the result post
("once the post starts, the post decides"), closing with the reason of
``docval.errors.close_for`` -- after the front end's close text message -- the end line and
the metrics, labelled by API.

Autobahn ignores what its callbacks return or raise, so every callback here catches its own
failures and turns them into a close.  Nothing here logs document data: log lines carry a
random session id, the phone's validation_id, steps, timings, sizes, algorithms and reasons;
unexpected exceptions are logged by type and code location only, because their messages may
quote values.
"""
from __future__ import annotations

import secrets
from typing import Any, Callable

from autobahn.websocket.types import ConnectionDeny
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from docval.config import ClientConfig
from docval.emrtd.errors import EmrtdError
from docval.errors import (
    SUCCESS,
    Close,
    ConnectionLost,
    InvalidStartMessage,
    MaxSessionTimeExceeded,
    SessionError,
    StartMessageTimeout,
    close_for,
)
from docval.status import Status
from docval.ws.endline import TEMPLATE, SessionEnd
from docval.ws.frontend import FrontEnd, encode
from docval.ws.logsafe import detail, loggable, where
from docval.ws.guarded import MAX_HANDSHAKE_BYTES, GuardedServerProtocol
from docval.ws.phases import OPEN, Phase, SessionPhase
from docval.ws.services import Services
from docval.ws.v1session import STATUSES, V1FrontEnd
from docval.ws.v2session import V2FrontEnd

PATH = "/ws1/validate"
PATH_V2 = "/ws2/validate"
FRONT_ENDS: dict[str, tuple[str, Callable[[Any, Any], FrontEnd]]] = {
    PATH: ("v1", V1FrontEnd),
    PATH_V2: ("v2", V2FrontEnd),
}

DONE = Status.DONE
__all__ = ["DONE", "MAX_HANDSHAKE_BYTES", "PATH", "PATH_V2", "STATUSES", "ValidateServerProtocol", "loggable"]
CONNECTING, AWAIT_START, READING, POSTING, CLOSING, CLOSED = (
    Phase.CONNECTING, Phase.AWAIT_START, Phase.READING, Phase.POSTING, Phase.CLOSING, Phase.CLOSED,
)


# Module level, not a class attribute: a Logger on the class would make every
# event carry the protocol instance as its source, and buffered log events
# (before logging starts, or in an observer) would keep finished sessions alive.
_log = Logger(namespace="docval.session")


class ValidateServerProtocol(GuardedServerProtocol):
    # Autobahn owns ``self.log``; ours (``_log``) keeps its format under our control.

    factory: Any    # holds ``services`` (docval.ws.factory.ValidateServerFactory)

    def __init__(self) -> None:
        super().__init__()
        self._phases = SessionPhase()
        self._front: FrontEnd | None = None
        self._api = "v1"
        self._sid = ""
        self._t0 = 0.0
        self._start_timer: IDelayedCall | None = None
        self._session_timer: IDelayedCall | None = None
        # Only what the log line needs outlives the start message: never the access key.
        self._validation_id: str | None = None
        self._platform: str | None = None
        self._client: ClientConfig | None = None
        self._steps: list[tuple[str, float]] = []
        self._step: tuple[str, float] | None = None
        self._close: Close | None = None
        self._failure_detail: str | None = None
        self._post_note: str | None = None
        # The phone left while the front end's work goes on (v2 after FINISH): the
        # session ends, end line included, when that work does.
        self._phone_gone = False

    @property
    def services(self) -> Services:
        services: Services = self.factory.services
        return services

    # -- Autobahn callbacks -----------------------------------------------------------

    def awaiting_start(self) -> bool:
        return self._phase == AWAIT_START

    def oversized_start(self) -> None:
        self.fail(InvalidStartMessage("start message larger than the message limit"))

    def posting(self) -> bool:
        return self._phase == POSTING

    def onConnect(self, request: Any) -> None:
        chosen = FRONT_ENDS.get(request.path)
        if chosen is None or chosen[0] not in self.services.config.server.apis:
            raise ConnectionDeny(404, "Not Found")  # type: ignore[no-untyped-call]
        self._api, make = chosen
        self._front = make(self, request.params)
        return None

    def onOpen(self) -> None:
        try:
            services = self.services
            clock = services.clock
            self._sid = secrets.token_hex(8)
            self._t0 = clock.seconds()
            self._phases.transition(AWAIT_START)
            services.session_opened(self, self._api)
            timeouts = services.config.timeouts
            self._start_timer = clock.callLater(timeouts.start_message, self._on_timer, StartMessageTimeout)
            self._session_timer = clock.callLater(timeouts.max_session, self._on_timer, MaxSessionTimeExceeded)
        except Exception as e:
            self.fail(e)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        try:
            front = self._front
            if front is not None and self._phase in (AWAIT_START, READING):
                front.on_message(payload, isBinary)
            elif front is not None and self._phase == POSTING:
                front.on_late_message(payload, isBinary)
            # CLOSING/CLOSED: whatever still arrives belongs to a finished session.
        except Exception as e:
            self.fail(e)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        try:
            self._on_close(code)
        except Exception as e:
            self.log_bug(e)

    # -- what front ends call ---------------------------------------------------------------

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
        """The phone's validation_id once its start message was accepted."""
        return self._validation_id if self._client is not None else None

    def note_start(self, validation_id: str | None, platform: str | None) -> None:
        self._validation_id, self._platform = validation_id, platform

    def accept(self, client: ClientConfig) -> None:
        self._cancel(self._start_timer)
        self._start_timer = None
        self._client = client
        self._phases.transition(READING)
        assert self._validation_id is not None
        others = self.services.sessions_with_validation_id(self, self._validation_id)
        if others:
            # docs/reliability.md P7: allowed (the Result Server de-duplicates), but marked
            # so that operators can see replays and double submissions.
            _log.warn(
                "session {session_id}: validation_id={validation_id} is also used by "
                "{others} other open session(s)",
                session_id=self._sid, validation_id=loggable(self._validation_id), others=others,
            )

    def send_binary(self, payload: bytes) -> None:
        self.send_payload(payload, True)

    def send_text(self, obj: dict[str, Any]) -> None:
        self.send_payload(encode(obj), False)

    def send_encoded(self, payload: bytes) -> None:
        self.send_payload(payload, False)

    def begin_step(self, name: str | None) -> None:
        now = self.services.clock.seconds()
        if self._step is not None:
            step, since = self._step
            self._steps.append((step, now - since))
            if self._api == "v1" or step == "POST_RESULT":
                # v2's steps are the server's waits, not the status names the metric counts.
                self.services.metrics.step_duration(step, now - since)
        self._step = (name, now) if name is not None else None

    def result_ready(self, emrtd: dict[str, Any], deliver: Callable[[], None]) -> None:
        client = self._client
        assert client is not None and self._validation_id is not None
        if client.result_url is None:
            if self._phone_gone:
                self.fail(ConnectionLost("the phone left before its result could be returned"))
                return
            deliver()
            self.finish(SUCCESS)
            return
        if not self._phone_gone:
            self._phases.transition(POSTING)
        # From here the session's outcome is the post's: the post is bounded by the
        # poster's own retry budget, and a session timer firing now would tell the
        # phone "failed" about a result the Result Server may well accept.
        self._cancel(self._session_timer)
        self._session_timer = None
        self.begin_step("POST_RESULT")
        d = self.services.post_result(client.result_url, emrtd, self._validation_id,
                                      session_id=self._sid, client=client)
        d.addCallbacks(self._posted, self._post_failed, callbackArgs=(deliver,))
        d.addErrback(self._unexpected)

    def _posted(self, outcome: Any, deliver: Callable[[], None]) -> None:
        attempts = getattr(outcome, "attempts", "?")
        if self._phone_gone:
            self.begin_step(None)
            self._post_note = f"posted in {attempts} attempt(s) after the phone left"
            self.finish(SUCCESS)
            return
        if self._phase != POSTING:
            _log.info(
                "session {session_id}: result posted after the phone left ({attempts} attempt(s))",
                session_id=self._sid, attempts=attempts,
            )
            return
        self.begin_step(None)
        self._post_note = f"posted in {attempts} attempt(s)"
        deliver()
        self.finish(SUCCESS)

    def _post_failed(self, failure: Failure) -> None:
        if self._phase != POSTING and not self._phone_gone:
            _log.info(
                "session {session_id}: result post failed after the phone left: {detail}",
                session_id=self._sid, detail=detail(failure.value),
            )
            return
        self.begin_step(None)
        self.fail(failure.value, failure)

    def _on_timer(self, kind: type[SessionError]) -> None:
        try:
            if kind is StartMessageTimeout:
                self._start_timer = None
            else:
                self._session_timer = None
            self.fail(kind("timer expired"))
        except Exception as e:
            self.log_bug(e)

    def _unexpected(self, failure: Failure) -> None:
        """Last errback of every chain: a bug in our own callbacks."""
        self.fail(failure.value, failure)

    def fail(self, exc: BaseException, failure: Failure | None = None) -> None:
        close = close_for(exc)
        self._failure_detail = detail(exc)
        if not isinstance(exc, (EmrtdError, SessionError)):
            self.log_bug(failure or exc)
        self.finish(close)

    def log_bug(self, exc: BaseException | Failure) -> None:
        value = exc.value if isinstance(exc, Failure) else exc
        _log.error(
            "session {session_id}: internal error {error_type} at {where}",
            session_id=self._sid or "-", error_type=type(value).__name__, where=where(exc),
        )

    def finish(self, close: Close) -> None:
        """Ends the session from our side: the close text message, then the close frame."""
        if self._phone_gone:
            # Nobody to tell: the work the phone left behind is done.
            self._phone_gone = False
            self._close = close
            self._stop_work()
            self._end()
            return
        if self._phase not in OPEN:
            return
        self._phases.transition(CLOSING)
        self._close = close
        self._stop_work()
        assert self._front is not None
        self.send_text(self._front.close_message(close))
        # sendClose() only allows 1000 and 3000-4999; the close table needs 1001, 1008 and 1011 too.
        self.sendCloseFrame(
            code=close.code,
            reasonUtf8=close.reason.encode("ascii") if close.reason else None,
            isReply=False,
        )

    def _stop_work(self) -> None:
        """Cancels timers and the front end's work; a result post under way is left to finish."""
        for timer in (self._start_timer, self._session_timer):
            self._cancel(timer)
        self._start_timer = self._session_timer = None
        if self._front is not None:
            self._front.stop()

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
            if self._front is not None and self._front.outlives_phone():
                self._phone_gone = True
                self._failure_detail += " after it finished; its result is still delivered"
                return
            self._stop_work()
        self._end()

    def _end(self) -> None:
        self._log_end()
        self.services.session_closed(self)
        self._drop()

    def _log_end(self) -> None:
        close = self._close or SUCCESS
        outcome = "success" if close == SUCCESS else "failure"
        if outcome == "success":
            self._failure_detail = None
        self.services.metrics.session_finished(outcome, close.reason, self._api)
        if self._step is not None:
            self.begin_step(None)
        apdus, bytes_out, bytes_in = self._front.counters() if self._front is not None else (0, 0, 0)
        record = SessionEnd(
            session_id=self._sid,
            outcome=outcome,
            close_code=close.code,
            close_reason=close.reason,
            detail=self._failure_detail,
            duration=self.services.clock.seconds() - self._t0,
            client=self._client.name if self._client is not None else None,
            validation_id=loggable(self._validation_id),
            platform=loggable(self._platform, 16),
            steps=tuple(self._steps),
            apdus=apdus,
            bytes_out=bytes_out,
            bytes_in=bytes_in,
            post=self._post_note,
            ignored=self._ignored,
            algorithms=self._front.summary if self._front is not None else None,
            api=self._api,
        )
        _log.info(TEMPLATE, **record.fields())

    def _drop(self) -> None:
        """Forget the session (docs/operations.md, privacy); a post still under way holds only its own copy."""
        self._client = None
        self._front = None
        self._steps = []

    @staticmethod
    def _cancel(call: IDelayedCall | None) -> None:
        if call is not None and call.active():
            call.cancel()
