"""Autobahn's server protocol with the guards every DocVal session needs at the WebSocket level.

* The HTTP handshake is capped (Autobahn would buffer and rescan an endless header).
* An oversized message before the start message is the session's to close
  (:meth:`GuardedServerProtocol.oversized_start`), as an invalid start message.
* A WebSocket protocol violation while the result is posted does not fail the connection:
  the session goes *deaf* (stops reading) and closes with the post's outcome.
* Phone messages while the result is posted are ignored, logged by type and size (a few lines,
  then only counted).
* What the server sends is not held to the limit on what the phone may send.

The session core (docval.ws.protocol) subclasses this and supplies the two hooks.
"""
from __future__ import annotations

from typing import cast

from autobahn.twisted.websocket import WebSocketServerProtocol
from twisted.internet.interfaces import ITCPTransport
from twisted.logger import Logger

# Phones send a few hundred bytes of headers; proxies add some more.
MAX_HANDSHAKE_BYTES = 16 * 1024
# Log lines for phone messages ignored during the post, per session; the rest are counted.
MAX_IGNORED_LOG_LINES = 3

_log = Logger(namespace="docval.session")


class GuardedServerProtocol(WebSocketServerProtocol):
    _deaf = False
    # Phone messages that arrived while the result was posted (ignored, see ignore).
    _ignored = 0
    # Set by Autobahn from the factory's options; declared here for the type checker.
    maxMessagePayloadSize: int
    maxFramePayloadSize: int

    # -- hooks for the session ------------------------------------------------------------

    @property
    def session_id(self) -> str:
        raise NotImplementedError

    def awaiting_start(self) -> bool:
        """True before the start message (an oversized message is then an invalid start)."""
        return False

    def oversized_start(self) -> None:
        """Close the session for an oversized start message."""

    def posting(self) -> bool:
        """True while the result is posted: the post decides the outcome."""
        return False

    # -- Autobahn overrides -------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        # Autobahn buffers the HTTP request until CRLFCRLF without a limit (and
        # rescans the whole buffer per read): a header flood would cost memory
        # and quadratic CPU for the whole handshake timeout (docs/reliability.md W6).
        if self.state == WebSocketServerProtocol.STATE_CONNECTING and \
                len(getattr(self, "data", b"")) + len(data) > MAX_HANDSHAKE_BYTES:
            self.data = b""
            cast(ITCPTransport, self.transport).abortConnection()
            return
        if self._deaf:
            return
        super().dataReceived(data)

    def _max_message_size_exceeded(self, msg_size: int, max_msg_size: int, reason: str) -> None:
        # Autobahn's hook for an oversized frame or message (it would close 1009).
        # Before the start message that is an invalid start message (docs/reliability.md
        # P2), closed the documented way with its text message first.
        if self.awaiting_start():
            try:
                self.oversized_start()
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
        if self.posting():
            self.failedByMe = True   # Autobahn stops processing the broken frame
            self._go_deaf(code)
            return
        super()._fail_connection(code, reason)

    def ignore(self, kind: str, size: int) -> None:
        """A phone message while the result is posted: logged by type and size, never content."""
        self._ignored += 1
        if self._ignored <= MAX_IGNORED_LOG_LINES:
            _log.info(
                "session {session_id}: ignored a {kind} message of {size} bytes from the phone "
                "while the result is posted",
                session_id=self.session_id, kind=kind, size=size,
            )
        elif self._ignored == MAX_IGNORED_LOG_LINES + 1:
            # A phone flooding messages must not flood the log as well.
            _log.info(
                "session {session_id}: further phone messages while the result is posted are "
                "ignored without a log line each (counted in the session's end line)",
                session_id=self.session_id,
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
            session_id=self.session_id, code=code,
        )

    def send_payload(self, payload: bytes, binary: bool) -> None:
        """Sends one message unless the WebSocket is closing already."""
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
        limits: tuple[int, int] = (self.maxMessagePayloadSize, self.maxFramePayloadSize)
        self.maxMessagePayloadSize = self.maxFramePayloadSize = 0
        try:
            self.sendMessage(payload, isBinary=binary)  # type: ignore[no-untyped-call]
        finally:
            self.maxMessagePayloadSize, self.maxFramePayloadSize = limits
