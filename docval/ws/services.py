"""Everything a WebSocket session needs from the service around it, in one object.

A session (docval.ws.protocol and its front ends) talks only to :class:`Services`: the
configuration, the clock, the metrics, a snapshot of the trust store, the reader, the Result
Server poster, the signer and the registry of open sessions.  The factory only holds one
(``factory.services``), as magic-wormhole's mailbox server keeps its server object, so the
session code and the listener do not import each other and tests build sessions with any
collaborators they like.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime

from docval.assessment import AssessParams, decode_inline, run_inline
from docval.emrtd.files import FileCaps
from docval.errors import ServerError
from docval.metrics import NullMetrics
from docval.poster import ResultPoster
from docval.reader import ReadParams, read_document

if TYPE_CHECKING:
    from docval.config import ClientConfig, Config
    from docval.status import Status
    from docval.ws.startmessage import StartMessage

ReadDocument = Callable[[Any, Any, Callable[["Status"], None]], Awaitable[Any]]


async def _coroutine(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


class Services:
    def __init__(
        self,
        config: "Config",
        *,
        clock: IReactorTime,
        reactor: Any,
        metrics: Any = None,
        trust: Callable[[], Any] | None = None,
        poster: Any = None,
        read_document: ReadDocument | None = None,
        offload: Callable[..., Awaitable[Any]] | None = None,
        signer: Any = None,
        decode_image: Callable[[bytes, int], Awaitable[Any]] | None = None,
    ) -> None:
        """
        ``trust`` returns the current trust store (the service swaps it on reload; a
        session keeps the one it started with).  ``poster`` is a
        :class:`docval.poster.ResultPoster`; ``read_document`` defaults to
        :func:`docval.reader.read_document`; ``offload`` runs CPU-heavy verification off
        the reactor thread.  ``signer`` is a :class:`docval.signing.Signer` for clients
        with ``sign_returned_result``; ``decode_image`` converts a verified JPEG 2000
        image off the reactor thread (:class:`docval.imaging.ImageDecoder`).
        """
        self.config = config
        self.clock = clock
        self.reactor = reactor
        if metrics is None:
            metrics = NullMetrics()
        self.metrics = metrics
        declare = getattr(metrics, "declare_clients", None)
        if declare is not None:
            declare([client.name for client in config.clients])
        self._trust: Callable[[], Any] = trust or (lambda: None)
        self._poster = poster
        self._read_document = read_document
        self._offload = offload
        self._signer = signer
        self._decode_image = decode_image
        self.sessions: set[Any] = set()
        self.posts: set[defer.Deferred[Any]] = set()

    # -- the registry of open sessions ------------------------------------------------

    def session_opened(self, session: Any, protocol: str) -> None:
        self.sessions.add(session)
        self.metrics.session_started(protocol)

    def session_closed(self, session: Any) -> None:
        self.sessions.discard(session)

    def sessions_with_validation_id(self, session: Any, validation_id: str) -> int:
        """How many other open sessions carry this validation_id (docs/reliability.md P7).

        Derived from the open sessions, so nothing about a finished session is kept
        to answer it (docs/operations.md, privacy); a replay after the first session closed is not seen.
        """
        return sum(1 for s in self.sessions if s is not session and s.validation_id == validation_id)

    # -- trust ----------------------------------------------------------------------------

    def trust_snapshot(self) -> Any:
        """The trust store as it is now: a session keeps it to its end, whatever reloads."""
        return self._trust()

    def set_trust(self, trust: Callable[[], Any]) -> None:
        self._trust = trust

    # -- reading (v1) and assessing (v2) -----------------------------------------------

    def read_params(self, start: "StartMessage", client: "ClientConfig") -> Any:
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
            trust=self.trust_snapshot(),
            file_caps=FileCaps(self.config.limits.max_file_bytes, self.config.limits.max_commands_per_file),
            **kwargs,
        )

    def run_reader(self, transport: Any, params: Any, progress: Callable[["Status"], None]) -> defer.Deferred[Any]:
        read: ReadDocument = self._read_document or read_document
        try:
            return defer.ensureDeferred(_coroutine(read(transport, params, progress)))
        except Exception:
            return defer.fail()

    def assess_params(self, trust: Any) -> Any:
        """What docval.assessment needs to judge the files a phone delivered (API v2),
        judged now; without pools (tests, tools) the work runs inline."""
        return AssessParams(
            trust=trust,
            at=datetime.now(timezone.utc),
            offload=self._offload or run_inline,
            decode_image=self._decode_image or decode_inline,
            decode_limits=None,
        )

    # -- delivery -------------------------------------------------------------------------

    def post_result(self, url: str, emrtd: dict[str, Any], validation_id: str, *,
                    session_id: str | None = None, client: "ClientConfig | None" = None) -> defer.Deferred[Any]:
        """``session_id`` becomes the delivery's Idempotency-Key; ``client`` its
        name, signature, token and TLS settings."""
        if self._poster is None:
            self._poster = ResultPoster(self.reactor, clock=self.clock, metrics=self.metrics)
        d: defer.Deferred[Any] = self._poster.post(url, emrtd, validation_id, session_id=session_id, client=client)
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
            raise ServerError("a client asks for signed results but no signing key is loaded")
        token: str = self._signer.sign_result(emrtd, validation_id, session_id, int(self.clock.seconds()))
        return token
