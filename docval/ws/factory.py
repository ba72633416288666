"""The WebSocket server factory: configuration, limits and shared services of the sessions.

Everything a session needs from outside is injected here -- the clock, the
reader, the trust store getter, the result poster, the metrics -- so tests run
whole sessions in memory on a ``task.Clock``.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from autobahn.twisted.websocket import WebSocketServerFactory
from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from docval.config import ClientConfig, Config
from docval.ws.protocol import ValidateServerProtocol
from docval.ws.startmessage import StartMessage
from docval.ws.timers import ClockTimer

# An extended-length response carries up to 65536 data bytes; Secure Messaging
# adds a few dozen.  Anything bigger is not an APDU (docs/reliability.md W1).  This
# limits what the phone sends only: Autobahn would apply it to what we send as
# well, and ValidateServerProtocol._send lifts it for our own messages, whose
# size the file caps ([limits]) bound instead.
MAX_MESSAGE_BYTES = 70 * 1024

ReadDocument = Callable[[Any, Any, Callable[[str], None]], Awaitable[Any]]

_log = Logger(namespace="docval.ws")


def _is_tls_error(value: Any) -> bool:
    try:
        from OpenSSL import SSL
    except ImportError:   # pragma: no cover - pyOpenSSL is a dependency
        return False
    return isinstance(value, SSL.Error)


class ServerSession(ValidateServerProtocol):
    """A session as the listener runs it: counted per client address, and with that
    address shown in Autobahn's and Twisted's log lines only as ``[server] log_addresses``
    allows."""

    factory: "ValidateServerFactory"
    _counted_host: str | None = None
    _peer: str | None = None

    @property
    def peer(self) -> str | None:   # type: ignore[override]
        return self._peer

    @peer.setter
    def peer(self, value: str | None) -> None:
        # Autobahn sets it in connectionMade and logs it on handshake failures and drops.
        from docval.addresses import show_peer

        self._peer = show_peer(value, self.factory.config.server.log_addresses)

    def connectionLost(self, reason: Any) -> None:
        host, self._counted_host = self._counted_host, None
        if host is not None:
            self.factory.address_released(host)
        if _is_tls_error(getattr(reason, "value", None)):
            # A client that cannot speak TLS (a scanner, plain ws:// to a wss:// port, an old
            # phone) is not a server error: Autobahn would log it at error level.
            from twisted.internet.error import ConnectionLost
            from twisted.python.failure import Failure

            _log.info("TLS handshake with {peer} failed: {why}", peer=self.peer,
                      why=_tls_reason(reason.value))
            reason = Failure(ConnectionLost("TLS handshake failed"))
        super().connectionLost(reason)


def _tls_reason(error: Any) -> str:
    details = error.args[0] if error.args and isinstance(error.args[0], list) else []
    reasons = [str(entry[-1]) for entry in details if entry]
    return "; ".join(reasons) or type(error).__name__


class ValidateServerFactory(WebSocketServerFactory):
    protocol = ServerSession
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
        """
        ``trust`` returns the current trust store (the service swaps it on reload;
        a session keeps the one it started with).  ``poster`` is a
        :class:`docval.poster.ResultPoster`; ``read_document`` defaults to
        :func:`docval.reader.read_document`; ``offload`` runs CPU-heavy verification
        off the reactor thread (passed to the reader).  ``signer`` is a
        :class:`docval.signing.Signer` for clients with ``sign_returned_result``.
        ``decode_image`` converts a verified JPEG 2000 image off the reactor thread
        (:class:`docval.imaging.ImageDecoder`).
        """
        if reactor is None:
            from twisted.internet import reactor as _reactor
            reactor = _reactor
        # server=None: no "Server: AutobahnPython/x.y" banner on handshake answers.
        super().__init__(url=None, server=None, reactor=reactor)
        self.config = config
        self.clock: IReactorTime = clock if clock is not None else reactor
        self._batched_timer = ClockTimer(self.clock)
        if metrics is None:
            from docval.metrics import NullMetrics
            metrics = NullMetrics()
        self.metrics = metrics
        declare = getattr(metrics, "declare_clients", None)
        if declare is not None:
            declare([client.name for client in config.clients])
        self._trust = trust or (lambda: None)
        self._poster = poster
        self._read_document = read_document
        self._offload = offload
        self._signer = signer
        self._decode_image = decode_image
        self.sessions: set[ValidateServerProtocol] = set()
        self.posts: set[defer.Deferred] = set()
        # Open sockets per client address, counted from accept (before the WebSocket
        # handshake), so slow or idle handshakes from one host count against it too.
        self.per_address_limit = config.server.per_address_limit()
        self.connections_per_address: dict[str, int] = {}
        self._refused_since_log = 0
        self._refusal_logged_at: float | None = None
        timeouts = config.timeouts
        self.setProtocolOptions(
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
            protocol._counted_host = host
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
        from docval.addresses import show_address

        _log.warn("refused {count} connection(s) over max_connections_per_address={limit}, "
                  "the last from {address}", count=self._refused_since_log, limit=self.per_address_limit,
                  address=show_address(host, self.config.server.log_addresses))
        self._refused_since_log = 0
        self._refusal_logged_at = now

    # -- what sessions call ---------------------------------------------------------

    def session_opened(self, session: ValidateServerProtocol) -> None:
        self.sessions.add(session)
        self.metrics.session_started()

    def session_closed(self, session: ValidateServerProtocol) -> None:
        self.sessions.discard(session)

    def sessions_with_validation_id(self, session: ValidateServerProtocol, validation_id: str) -> int:
        """How many other open sessions carry this validation_id (docs/reliability.md P7).

        Derived from the open sessions, so nothing about a finished session is kept
        to answer it (docs/operations.md, privacy); a replay after the first session closed is not seen.
        """
        return sum(1 for s in self.sessions if s is not session and s.validation_id == validation_id)

    def read_params(self, start: StartMessage, client: ClientConfig) -> Any:
        from docval.emrtd.files import FileCaps
        from docval.reader import ReadParams

        kwargs: dict[str, Any] = {}
        if self._offload is not None:
            kwargs["offload"] = self._offload
        if self._decode_image is not None:
            kwargs["decode_image"] = self._decode_image
        return ReadParams(
            access_key=start.access_key,
            extended_length=start.nfc_adapter_supports_extended_length,
            max_command_bytes=start.max_command_bytes,
            max_response_bytes=start.max_response_bytes,
            max_pipelined=start.max_pipelined_apdus,
            trust=self._trust(),
            file_caps=FileCaps(self.config.limits.max_file_bytes, self.config.limits.max_commands_per_file),
            **kwargs,
        )

    def run_reader(self, transport: Any, params: Any, progress: Callable[[str], None]) -> defer.Deferred:
        read = self._read_document
        if read is None:
            from docval.reader import read_document as read
        try:
            return defer.ensureDeferred(read(transport, params, progress))
        except Exception:
            return defer.fail()

    def post_result(self, url: str, emrtd: dict[str, Any], validation_id: str, *,
                    session_id: str | None = None, client: ClientConfig | None = None) -> defer.Deferred:
        """``session_id`` becomes the delivery's Idempotency-Key; ``client`` its
        name, signature, token and TLS settings."""
        if self._poster is None:
            from docval.poster import ResultPoster
            self._poster = ResultPoster(self.reactor, clock=self.clock, metrics=self.metrics)
        d = self._poster.post(url, emrtd, validation_id, session_id=session_id, client=client)
        self.posts.add(d)

        def forget(result: Any) -> Any:
            self.posts.discard(d)
            return result

        # First in the chain, so the set is clean before the session reacts.
        return d.addBoth(forget)

    def sign_result(self, emrtd: dict[str, Any], validation_id: str, session_id: str) -> str:
        """The compact JWS of a returned result (``emrtd_passport_jws``)."""
        if self._signer is None:
            # The service refuses to start without a key when a client signs.
            from docval.errors import ServerError
            raise ServerError("a client asks for signed results but no signing key is loaded")
        return self._signer.sign_result(emrtd, validation_id, session_id, int(self.clock.seconds()))

    def set_trust(self, trust: Callable[[], Any]) -> None:
        self._trust = trust
