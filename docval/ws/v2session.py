"""``/ws2/validate``: what the phone's messages mean in API v2 (docs/websocket-api-v2.md).

The phone (Kinegram's SDKs 2.x) does access control and reads the chip itself.  The
server sends the Active Authentication challenge in ACCEPT, runs Chip Authentication
through a relay of single APDUs under the Secure Messaging keys the phone hands over
(CA_HANDOVER), sends the DG1 it read under the new keys (FILE ``dg1``, then CA_HANDBACK),
and after FINISH judges the files the phone sent exactly as v1 judges what it read:
:func:`docval.assessment.assess` with the CA/AA facts of :mod:`docval.v2.evidence`.  The
session core posts the result the same way as for v1; RESULT (camelCase) goes to the
phone only when FINISH asked for it.  No status message is ever sent: the SDKs close on
anything they do not expect.

Which message is allowed when is :mod:`docval.v2.states`; the message formats are
:mod:`docval.v2.wire`.  Nothing here logs keys, files, the challenge, the signature or
MONITORING text: MONITORING is logged at debug level as its type and length only.
"""
from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from docval import verdicts
from docval.emrtd.errors import EmrtdError
from docval.emrtd.files import FileCaps
from docval.emrtd.flow import Link, run_async
from docval.emrtd.handover import InvalidSMInfo, RelayOutcome, SMInfo, relay_chip_authentication
from docval.errors import Close, InvalidClientId, InvalidStartMessage, ResponseTimeout, UnexpectedMessage
from docval.assessment import assess, parse_sod_file
from docval.v2 import camel, evidence, wire
from docval.v2.states import Conversation, State
from docval.ws.logsafe import loggable
from docval.ws.relay import ApduRelay

if TYPE_CHECKING:
    from docval.config import ClientConfig
    from docval.ws.frontend import Session

__all__ = ["CHALLENGE_BYTES", "MIN_APDU_TIMEOUT", "V2FrontEnd"]

#: The Active Authentication challenge: 8 bytes (ICAO 9303-11 RND.IFD), fresh per session.
CHALLENGE_BYTES = 8
#: A relayed APDU may take this long at least: Android's own NFC timeout is 10 s.
MIN_APDU_TIMEOUT = 10.0

_log = Logger(namespace="docval.session")


class V2FrontEnd:
    protocol = "v2"

    def __init__(self, session: "Session", params: dict[str, list[str]]) -> None:
        self._session = session
        values = params.get("return_result") or []
        # None: the URL says nothing (iOS); the result request then comes with FINISH.
        self._return_result: bool | None = values[-1].lower() == "true" if values else None
        self._talk = Conversation()
        self._client: "ClientConfig | None" = None
        self._trust: Any = None
        self._challenge: bytes | None = None
        self._files: dict[str, bytes] = {}
        self._dg14_at_handover: bytes | None = None
        self._timer: IDelayedCall | None = None
        self._relay: ApduRelay | None = None
        self._work: defer.Deferred[Any] | None = None
        self._outcome: RelayOutcome | None = None
        self._validation_id = ""
        self.summary: dict[str, Any] | None = None

    # -- FrontEnd -------------------------------------------------------------------------

    def on_message(self, payload: bytes, is_binary: bool) -> None:
        msg = self._parse(payload, is_binary)
        if not self._talk.receive(msg):
            self._ignored(msg, len(payload))
            return
        if isinstance(msg, wire.StartMsg):
            self._start(msg)
        elif isinstance(msg, wire.FileFrame):
            self._file(msg)
        elif isinstance(msg, wire.ApduFrame):
            assert self._relay is not None
            self._relay.deliver(bytes(msg.data))
        elif isinstance(msg, wire.MonitoringMsg):
            self._monitoring(msg, len(payload))
        elif isinstance(msg, wire.HandoverMsg):
            self._handover(msg)
        elif isinstance(msg, wire.FinishMsg):
            self._finish(msg)

    def on_late_message(self, payload: bytes, is_binary: bool) -> None:
        # The result is being posted: nothing the phone sends matters any more (it may
        # also close at any time); MONITORING keeps its quiet debug line.
        kind = "binary" if is_binary else "text"
        if not is_binary and self._talk.started:
            try:
                msg = wire.parse_text(payload)
            except (UnexpectedMessage, InvalidStartMessage):
                msg = None
            if isinstance(msg, wire.MonitoringMsg):
                self._monitoring(msg, len(payload))
                return
        self._session.ignore(kind, len(payload))

    def close_message(self, close: Close) -> dict[str, Any]:
        return wire.close(close.code, close.reason)

    def outlives_phone(self) -> bool:
        # FINISH completed the phone's part: iOS without sendResult leaves ~0.3 s later,
        # and the result still goes to the Result Server.
        return self._talk.state is State.FINISHED

    def stop(self) -> None:
        self._disarm()
        work, self._work = self._work, None
        if work is not None and not work.called:
            work.cancel()
        if self._relay is not None:
            self._relay.close()
        self._talk.closed()
        # Forget the document and the session's secrets (docs/operations.md, privacy).
        self._files = {}
        self._dg14_at_handover = None
        self._challenge = None
        self._outcome = None

    def counters(self) -> tuple[int, int, int]:
        relay = self._relay
        return (relay.commands, relay.bytes_out, relay.bytes_in) if relay is not None else (0, 0, 0)

    # -- messages -------------------------------------------------------------------------

    def _parse(self, payload: bytes, is_binary: bool) -> wire.Inbound:
        if is_binary:
            return wire.parse_binary(payload, max_file_bytes=self._caps().max_file_bytes)
        try:
            return wire.parse_text(payload, awaiting_start=not self._talk.started)
        except InvalidStartMessage as e:
            # The end line keeps the app's id to match the app's own records.
            self._session.note_start(getattr(e, "validation_id", None), None)
            raise

    def _caps(self) -> FileCaps:
        limits = self._session.services.config.limits
        return FileCaps(limits.max_file_bytes, limits.max_commands_per_file)

    def _ignored(self, msg: wire.Inbound, size: int) -> None:
        if isinstance(msg, wire.FileFrame) and msg.name == "dg1":
            server_dg1 = self._files.get("dg1")
            _log.info("session {session_id}: the phone sent dg1 after the server read its own; the "
                      "phone's copy is ignored ({same})", session_id=self._session.session_id,
                      same="identical" if msg.data == server_dg1 else "it differs")
            return
        if isinstance(msg, wire.MonitoringMsg):
            self._monitoring(msg, size)
            return
        self._session.ignore(msg.kind, size)

    def _monitoring(self, msg: wire.MonitoringMsg, size: int) -> None:
        # Free text from the phone (device details, stack traces): its size only.
        _log.debug("session {session_id}: MONITORING message of {size} bytes",
                   session_id=self._session.session_id, size=size)

    def _start(self, msg: wire.StartMsg) -> None:
        session = self._session
        services = session.services
        session.note_start(msg.validation_id, msg.platform)
        client = services.config.find_client(msg.client_id)
        if client is None:
            raise InvalidClientId("unknown clientId")
        if client.result_url is None and self._return_result is False:
            # A client without a Result Server needs the result on the phone; the URL
            # says the app does not want it, so nothing would reach anybody.
            raise InvalidClientId("client without a Result Server requires return_result=true")
        self._client = client
        self._validation_id = msg.validation_id
        # The store the session started with is the one it judges with, whatever reloads.
        self._trust = services.trust_snapshot()
        _log.info(
            "session {session_id} started: api=v2 validation_id={validation_id} platform={platform} "
            "extended_length={extended} diagnostics={diagnostics} return_result={return_result}",
            session_id=session.session_id, validation_id=loggable(msg.validation_id),
            platform=loggable(msg.platform, 16), extended=msg.nfc_adapter_supports_extended_length,
            diagnostics=msg.enable_diagnostics,
            return_result="-" if self._return_result is None else self._return_result,
        )
        session.accept(client)
        self._challenge = secrets.token_bytes(CHALLENGE_BYTES)
        self._talk.accept_sent()
        session.send_text(wire.accept(self._challenge))
        session.begin_step("READING")
        self._arm(services.config.timeouts.v2_read)

    def _file(self, frame: wire.FileFrame) -> None:
        self._files[frame.name] = bytes(frame.data)

    def _handover(self, msg: wire.HandoverMsg) -> None:
        session = self._session
        services = session.services
        self._disarm()
        try:
            info = SMInfo.from_wire(msg.sm_info)
        except InvalidSMInfo as e:
            raise UnexpectedMessage(f"CA_HANDOVER: {e}") from None
        self._dg14_at_handover = self._files["dg14"]
        # No usable key: DG1 is read under the phone's keys and the handback says
        # UNAVAILABLE; the verdict (FAILED for a document that declares CA) comes from
        # the evidence once EF.SOD is in.
        choice, _ = evidence.ca_choice(self._dg14_at_handover)
        timeouts = services.config.timeouts
        self._relay = ApduRelay(
            self._send_apdu,
            services.clock,
            max(timeouts.apdu_response, MIN_APDU_TIMEOUT),
            1,
            on_timeout=self._on_apdu_timeout,
            on_round_trip=services.metrics.apdu_round_trip,
        )
        session.begin_step("CA_RELAY")
        flow = relay_chip_authentication(choice, info, max_transceive=msg.max_transceive,
                                         max_block=msg.max_block, rng=os.urandom, caps=self._caps())
        # The relay flow protects its own commands (the keys change inside it): a plain Link.
        d = defer.ensureDeferred(run_async(flow, Link(), self._relay.transmit_many))
        self._work = d
        d.addCallbacks(self._relayed, self._work_failed)
        d.addErrback(self._unexpected)

    def _send_apdu(self, apdu: bytes) -> None:
        self._talk.command_sent()
        self._session.send_binary(wire.apdu_frame(apdu))

    def _relayed(self, outcome: RelayOutcome) -> None:
        self._work = None
        if self._talk.state is not State.CA_RELAY:
            return
        assert self._relay is not None
        self._relay.close()
        self._outcome = outcome
        _log.info("session {session_id}: chip authentication relayed: {check} ({detail})",
                  session_id=self._session.session_id, check=outcome.check_result, detail=outcome.detail)
        self._talk.server_dg1_sending()
        self._files["dg1"] = outcome.dg1       # the server's read is authoritative
        self._session.send_binary(wire.file_frame("dg1", outcome.dg1))
        self._session.send_text(wire.handback(outcome.check_result, outcome.sm.to_wire(), outcome.dg1))
        self._talk.handback_sent()
        self._session.begin_step("READING_AFTER_CA")
        self._arm(self._session.services.config.timeouts.v2_after_handback)

    def _finish(self, msg: wire.FinishMsg) -> None:
        assert self._client is not None
        self._disarm()
        if self._client.result_url is None and not msg.send_result:
            # Decision at FINISH for an app that said nothing in the URL (iOS): a client
            # whose results only go to the phone, and a phone that does not want them.
            raise InvalidClientId("client without a Result Server, and FINISH did not ask for the result")
        self._session.begin_step("ASSESS")
        d = defer.ensureDeferred(self._assess(msg))
        self._work = d
        d.addCallbacks(self._assessed, self._work_failed, callbackArgs=(msg.send_result,))
        d.addErrback(self._unexpected)

    async def _assess(self, msg: wire.FinishMsg) -> Any:
        files, self._files = self._files, {}
        sod_bytes = files.pop("sod")
        dgs = {number: data for name, data in files.items()
               if (number := wire.dg_number(name)) is not None}
        sod = parse_sod_file(sod_bytes)
        facts = verdicts.Facts()
        assert self._challenge is not None
        recorded = evidence.record(facts, sod, dgs, relay=self._outcome,
                                   dg14_at_handover=self._dg14_at_handover,
                                   challenge=self._challenge, signature=msg.aa_signature)
        params = self._session.services.assess_params(self._trust)
        report = await assess(sod_bytes, dgs, facts, params, parsed_sod=sod)
        report.chip_authentication_protocol = recorded.ca_protocol
        report.active_authentication_algorithm = recorded.aa_algorithm
        return report

    def _assessed(self, report: Any, send_result: bool) -> None:
        self._work = None
        session = self._session
        session.begin_step(None)
        assert self._client is not None
        self.summary = report.summary()
        emrtd = report.to_emrtd_passport(files_binary=self._client.files_binary)
        del report  # the session keeps nothing it does not need
        # Built (and signed) before the post: whatever could still fail must fail before
        # anything is posted.
        message = None
        if send_result:
            result = wire.result(camel.to_camel(emrtd))
            if self._client.sign_returned_result:
                # As v1's emrtd_passport_jws: the snake_case result, signed, for a backend
                # that receives it through the phone (docs/result-server.md).  The SDKs
                # ignore keys they do not know.
                result["passportJws"] = session.services.sign_result(
                    emrtd, self._validation_id, session.session_id)
            message = wire.encode(result)

        def deliver() -> None:
            if message is not None:
                session.send_encoded(message)

        session.result_ready(emrtd, deliver)

    # -- timers and failures ------------------------------------------------------------------

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = self._session.services.clock.callLater(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        try:
            self._session.fail(ResponseTimeout(f"no message from the phone in state {self._talk.state}"))
        except Exception as e:
            self._session.log_bug(e)

    def _on_apdu_timeout(self) -> None:
        try:
            self._session.fail(ResponseTimeout("no APDU response in time"))
        except Exception as e:
            self._session.log_bug(e)

    def _work_failed(self, failure: Failure) -> None:
        self._work = None
        if isinstance(failure.value, defer.CancelledError):
            return   # the session is ending already
        if isinstance(failure.value, EmrtdError) and self._talk.state is State.CA_RELAY:
            _log.info("session {session_id}: chip authentication failed during the relay",
                      session_id=self._session.session_id)
        self._session.fail(failure.value, failure)

    def _unexpected(self, failure: Failure) -> None:
        """Last errback of every chain: a bug in our own callbacks."""
        self._session.fail(failure.value, failure)
