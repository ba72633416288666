"""``/ws1/validate``: what the phone's messages mean in API v1 (docs/websocket-api.md).

The server reads the chip: the StartMessage carries the access key, the reader runs over an
:class:`ApduRelay` (command APDUs out as binary messages, answers back), status messages
follow the reader's steps, and after the result (posted by the session core) come ``DONE``
and, with ``return_result=true``, the result.  Every session closes after the
``{"close_code": ...}`` text message that iOS 13/14 rely on.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from docval.errors import (
    Close,
    InvalidAccessKey,
    InvalidClientId,
    InvalidStartMessage,
    ResponseTimeout,
    ServerError,
    UnexpectedMessage,
)
from docval.status import STATUSES, Status
from docval.ws.frontend import encode
from docval.ws.logsafe import loggable
from docval.ws.relay import ApduRelay
from docval.ws.startmessage import StartMessage, parse_start_message

if TYPE_CHECKING:
    from docval.config import ClientConfig
    from docval.ws.frontend import Session

__all__ = ["STATUSES", "V1FrontEnd"]

DONE = Status.DONE

_log = Logger(namespace="docval.session")


class V1FrontEnd:
    protocol = "v1"

    def __init__(self, session: "Session", params: dict[str, list[str]]) -> None:
        self._session = session
        values = params.get("return_result") or []
        self._return_result = bool(values) and values[-1].lower() == "true"
        self._started = False
        self._relay: ApduRelay | None = None
        self._reader_d: defer.Deferred[Any] | None = None
        self._status_rank = -1
        self._client: "ClientConfig | None" = None
        self._validation_id = ""
        self.summary: dict[str, Any] | None = None

    # -- FrontEnd -------------------------------------------------------------------------

    def on_message(self, payload: bytes, is_binary: bool) -> None:
        if not self._started:
            if is_binary:
                raise InvalidStartMessage("start message sent as a binary message")
            try:
                start = parse_start_message(payload)
            except (InvalidStartMessage, InvalidAccessKey) as e:
                # The session's end line names the refused field and keeps the app's id.
                self._session.note_start(getattr(e, "validation_id", None), None)
                raise
            self._begin(start)
            return
        if not is_binary:
            raise UnexpectedMessage("text message after the start message")
        assert self._relay is not None
        self._relay.deliver(payload)

    def on_late_message(self, payload: bytes, is_binary: bool) -> None:
        self._session.ignore("binary" if is_binary else "text", len(payload))

    def close_message(self, close: Close) -> dict[str, Any]:
        message: dict[str, Any] = {"close_code": close.code}
        if close.reason:
            message["close_reason"] = close.reason
        return message

    def outlives_phone(self) -> bool:
        return False

    def stop(self) -> None:
        # Cancel first, so the reader sees CancelledError rather than a closed relay.
        reader, self._reader_d = self._reader_d, None
        if reader is not None and not reader.called:
            reader.cancel()
        if self._relay is not None:
            self._relay.close()

    def counters(self) -> tuple[int, int, int]:
        relay = self._relay
        return (relay.commands, relay.bytes_out, relay.bytes_in) if relay is not None else (0, 0, 0)

    # -- the session ----------------------------------------------------------------------

    def _begin(self, start: StartMessage) -> None:
        session = self._session
        services = session.services
        session.note_start(start.validation_id, start.platform)
        client = services.config.find_client(start.client_id)
        if client is None:
            raise InvalidClientId("unknown client_id")
        if client.result_url is None and not self._return_result:
            # Such a client's results can only reach the phone; without
            # return_result=true they would go nowhere, so the client id is not
            # valid for this request (docs/result-server.md).  Refused before the chip is read.
            raise InvalidClientId("client without a Result Server requires return_result=true")
        self._started = True
        timeouts = services.config.timeouts
        self._relay = ApduRelay(
            session.send_binary,
            services.clock,
            timeouts.apdu_response,
            start.max_pipelined_apdus,
            on_timeout=self._on_apdu_timeout,
            on_round_trip=services.metrics.apdu_round_trip,
        )
        _log.info(
            "session {session_id} started: validation_id={validation_id} platform={platform} "
            "access={access} extended_length={extended} max_command={max_command} "
            "max_response={max_response} pipelined={pipelined} return_result={return_result}",
            session_id=session.session_id,
            validation_id=loggable(start.validation_id),
            platform=loggable(start.platform, 16),
            access=start.access_kind,
            extended=start.nfc_adapter_supports_extended_length,
            max_command=start.max_command_bytes,
            max_response=start.max_response_bytes,
            pipelined=start.max_pipelined_apdus,
            return_result=self._return_result,
        )
        session.accept(client)
        self._client = client
        self._validation_id = start.validation_id
        params = services.read_params(start, client)
        d = services.run_reader(self._relay, params, self._progress)
        self._reader_d = d
        d.addCallbacks(self._read_done, self._read_failed)
        d.addErrback(self._unexpected)

    def _progress(self, status: str) -> None:
        if self._session.phase != "reading":
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
        self._session.begin_step(status)
        self._session.send_text({"status": status})

    def _read_done(self, report: Any) -> None:
        session = self._session
        if session.phase != "reading":
            return
        session.begin_step(None)
        summary = getattr(report, "summary", None)
        self.summary = summary() if callable(summary) else None
        assert self._relay is not None
        self._relay.close()
        self._reader_d = None
        assert self._client is not None
        emrtd = report.to_emrtd_passport(files_binary=self._client.files_binary)
        del report  # the session keeps nothing it does not need
        # Signed before posting: once the Result Server has accepted the result, nothing
        # may fail the session any more.
        jws = self._sign(emrtd)
        session.result_ready(emrtd, lambda: self._deliver(emrtd, jws))

    def _read_failed(self, failure: Failure) -> None:
        self._reader_d = None
        if self._session.phase != "reading":
            return  # cancelled because the session is already ending
        self._session.fail(failure.value, failure)

    def _sign(self, emrtd: dict[str, Any]) -> str | None:
        """``emrtd_passport_jws`` when the phone gets the result and the client wants it signed."""
        if not (self._return_result and self._client is not None and self._client.sign_returned_result):
            return None
        return self._session.services.sign_result(emrtd, self._validation_id, self._session.session_id)

    def _deliver(self, emrtd: dict[str, Any], jws: str | None = None) -> None:
        # Encoded before DONE goes out: whatever could still fail must fail before
        # the phone is told the session succeeded.
        result = None
        if self._return_result:
            # The unsigned copy stays for the SDKs; the JWS is what a backend trusts.
            message: dict[str, Any] = {"emrtd_passport": emrtd}
            if jws is not None:
                message["emrtd_passport_jws"] = jws
            result = encode(message)
        self._session.send_text({"status": DONE})
        if result is not None:
            self._session.send_encoded(result)

    def _on_apdu_timeout(self) -> None:
        try:
            self._session.fail(ResponseTimeout("no APDU response in time"))
        except Exception as e:
            self._session.log_bug(e)

    def _unexpected(self, failure: Failure) -> None:
        """Last errback of every chain: a bug in our own callbacks."""
        self._session.fail(failure.value, failure)
