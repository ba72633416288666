"""The WebSocket server factory: the listener's limits, and the services the sessions share.

Everything a session needs from outside -- the clock, the reader, the trust store getter,
the result poster, the metrics -- is injected into one :class:`docval.ws.services.Services`
that the factory holds, so tests run whole sessions in memory on a ``task.Clock``.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, cast

from autobahn.twisted.websocket import WebSocketServerFactory
from OpenSSL import SSL
from twisted.internet import defer
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from docval.addresses import show_address, show_peer
from docval.config import Config
from docval.ws.protocol import ValidateServerProtocol
from docval.ws.services import ReadDocument, Services
from docval.ws.timers import ClockTimer

# An extended-length response carries up to 65536 data bytes; Secure Messaging
# adds a few dozen.  Anything bigger is not an APDU (docs/reliability.md W1).  This
# limits what the phone sends only: Autobahn would apply it to what we send as
# well, and ValidateServerProtocol._send lifts it for our own messages, whose
# size the file caps ([limits]) bound instead.
MAX_MESSAGE_BYTES = 70 * 1024

_log = Logger(namespace="docval.ws")


def _is_tls_error(value: Any) -> bool:
    return isinstance(value, SSL.Error)


class ServerSession(ValidateServerProtocol):
    """A session as the listener runs it: counted per client address, and with that
    address shown in Autobahn's and Twisted's log lines only as ``[server] log_addresses``
    allows."""

    factory: "ValidateServerFactory"
    _counted_host: str | None = None
    _peer: str | None = None

    @property  # type: ignore[override]
    def peer(self) -> str | None:
        return self._peer

    @peer.setter
    def peer(self, value: str | None) -> None:
        # Autobahn sets it in connectionMade and logs it on handshake failures and drops.
        self._peer = show_peer(value, self.factory.config.server.log_addresses)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        host, self._counted_host = self._counted_host, None
        if host is not None:
            self.factory.address_released(host)
        if _is_tls_error(getattr(reason, "value", None)):
            # A client that cannot speak TLS (a scanner, plain ws:// to a wss:// port, an old
            # phone) is not a server error: Autobahn would log it at error level.
            _log.info("TLS handshake with {peer} failed: {why}", peer=self.peer,
                      why=_tls_reason(reason.value))
            reason = Failure(ConnectionLost("TLS handshake failed"))  # type: ignore[no-untyped-call]
        super().connectionLost(reason)


def _tls_reason(error: Any) -> str:
    details = error.args[0] if error.args and isinstance(error.args[0], list) else []
    reasons = [str(entry[-1]) for entry in details if entry]
    return "; ".join(reasons) or type(error).__name__


class ValidateServerFactory(WebSocketServerFactory):
    """The listener's factory: WebSocket options and the per-address limit.  What the
    sessions need lives in one :class:`Services` object it holds (``self.services``)."""

    protocol = ServerSession  # type: ignore[assignment]
    noisy = False   # our own listener and session lines say what matters

    def __init__(
        self,
        config: Config,
        *,
        trust: Callable[[], Any] | None = None,
        poster: Any = None,
        clock: IReactorTime | None = None,
        reactor: Any = None,
        metrics: Any = None,
        read_document: ReadDocument | None = None,
        offload: Callable[..., Awaitable[Any]] | None = None,
        signer: Any = None,
        decode_image: Callable[[bytes, int], Awaitable[Any]] | None = None,
    ):
        """The keyword arguments are :class:`Services`'s."""
        if reactor is None:
            # Not at module top: importing it installs the default reactor (see docval.tap).
            from twisted.internet import reactor as _reactor
            reactor = _reactor
        # server=None: no "Server: AutobahnPython/x.y" banner on handshake answers.
        super().__init__(url=None, server=None, reactor=reactor)  # type: ignore[no-untyped-call]
        self.services = Services(
            config, clock=clock if clock is not None else reactor, reactor=reactor, metrics=metrics,
            trust=trust, poster=poster, read_document=read_document, offload=offload, signer=signer,
            decode_image=decode_image,
        )
        self._batched_timer = ClockTimer(self.clock)
        # Open sockets per client address, counted from accept (before the WebSocket
        # handshake), so slow or idle handshakes from one host count against it too.
        self.per_address_limit = config.server.per_address_limit()
        self.connections_per_address: dict[str, int] = {}
        self._refused_since_log = 0
        self._refusal_logged_at: float | None = None
        timeouts = config.timeouts
        self.setProtocolOptions(  # type: ignore[no-untyped-call]
            maxFramePayloadSize=MAX_MESSAGE_BYTES,
            maxMessagePayloadSize=MAX_MESSAGE_BYTES,
            openHandshakeTimeout=timeouts.open_handshake,
            closeHandshakeTimeout=timeouts.close_handshake,
            maxConnections=config.server.max_connections,
            webStatus=False,
            requireMaskedClientFrames=True,
            # Refuse permessage-deflate: no zip bombs, no CPU spent inflating.
            perMessageCompressionAccept=lambda offers: None,
            # Send a close frame (1002/1007/1009) instead of dropping, so phones
            # learn why; the close-handshake timeout still bounds a silent peer.
            failByDrop=False,
            tcpNoDelay=True,
        )

    # The service's view of the sessions (docval.tap, admin status, tests).
    @property
    def config(self) -> Config:
        return self.services.config

    @property
    def clock(self) -> IReactorTime:
        return self.services.clock

    @property
    def metrics(self) -> Any:
        return self.services.metrics

    @property
    def sessions(self) -> set[Any]:
        return self.services.sessions

    @property
    def posts(self) -> set[defer.Deferred[Any]]:
        return self.services.posts

    def set_trust(self, trust: Callable[[], Any]) -> None:
        self.services.set_trust(trust)

    def sign_result(self, emrtd: dict[str, Any], validation_id: str, session_id: str) -> str:
        return self.services.sign_result(emrtd, validation_id, session_id)

    # -- per-address connection limit ---------------------------------------------------

    def buildProtocol(self, addr: Any) -> Any:
        host = getattr(addr, "host", None)
        limit = self.per_address_limit
        if host is not None and limit and self.connections_per_address.get(host, 0) >= limit:
            self._refused(host)
            return None   # Twisted closes the socket at once
        protocol = super().buildProtocol(addr)
        if host is not None and protocol is not None:
            self.connections_per_address[host] = self.connections_per_address.get(host, 0) + 1
            cast(ServerSession, protocol)._counted_host = host
        return protocol

    def address_released(self, host: str) -> None:
        left = self.connections_per_address.get(host, 0) - 1
        if left > 0:
            self.connections_per_address[host] = left
        else:
            self.connections_per_address.pop(host, None)

    def _refused(self, host: str) -> None:
        # One line per minute at most: a flood must not become a log flood.
        self._refused_since_log += 1
        now = self.clock.seconds()
        if self._refusal_logged_at is not None and now - self._refusal_logged_at < 60:
            return
        _log.warn("refused {count} connection(s) over max_connections_per_address={limit}, "
                  "the last from {address}", count=self._refused_since_log, limit=self.per_address_limit,
                  address=show_address(host, self.config.server.log_addresses))
        self._refused_since_log = 0
        self._refusal_logged_at = now
