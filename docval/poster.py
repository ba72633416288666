"""POSTing results to a client's Result Server (docs/result-server.md).

Each attempt has 3 s to send the request and get the answer's status line;
network errors, timeouts, 408, 429 and 5xx are retried up to 3 times with an
exponential backoff; any other status fails at once.  The answer's body is read
and dropped afterwards, outside the attempt: a Result Server that said 2xx has
the result, however slowly its body trickles, so it is never sent again.
Timing runs on an injected clock so tests need no sleep.  Redirects are not
followed: a 3xx is "any other status", so the result never goes to a URL the
operator did not configure.

What a Result Server can check, per delivery (docs/operations.md):

* the body is the same bytes on every attempt, and carries ``session_id``;
* ``Idempotency-Key: <session id>`` on every attempt, to drop duplicates;
* ``DocVal-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``,
  one ``v1`` per configured secret; ``t`` is taken anew for each attempt (the
  body is not), so a retry after a backoff is as fresh as the first attempt;
* ``Authorization: Bearer <token>`` when the client has a token;
* TLS against the client's own CA bundle, with a client certificate (mutual TLS).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import secrets
from dataclasses import dataclass
from typing import Any, Callable, cast
from urllib.parse import urlsplit

from OpenSSL import crypto
from treq.client import HTTPClient
from twisted.application.internet import backoffPolicy
from twisted.internet import defer, ssl, task
from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from docval.config import ClientConfig, ResultTLS
from docval.errors import ResultPostFailed
from docval.quietpool import QuietConnectionPool

ATTEMPT_TIMEOUT = 3.0
RETRIES = 3
RETRY_STATUSES = frozenset({408, 429})
# Bodies of Result Server answers are read and dropped; this caps what a
# misbehaving server can make us read, and for how long, before the connection
# is closed.  Neither limit changes the outcome of the delivery.
MAX_DISCARD_BYTES = 1 << 20
DISCARD_TIMEOUT = 10.0

_log = Logger(namespace="docval.poster")


@dataclass(frozen=True)
class PostOutcome:
    attempts: int
    status: int


class _AttemptFailed(Exception):
    def __init__(self, what: str, retryable: bool, status: int | None = None):
        super().__init__(what)
        self.what = what
        self.retryable = retryable
        self.status = status


class _Discard(Protocol):
    """Reads a response body without keeping it; fires when the body has ended."""

    def __init__(self) -> None:
        self.done: defer.Deferred = defer.Deferred(lambda _: self._abort())
        self.seen = 0

    def _abort(self) -> None:
        if self.transport is not None:
            # A response body's transport is the response's producer: stopping it drops the connection.
            cast(IPushProducer, self.transport).stopProducing()

    def dataReceived(self, data: bytes) -> None:
        self.seen += len(data)
        if self.seen > MAX_DISCARD_BYTES:
            self._abort()

    def connectionLost(self, reason: Any = None) -> None:
        if not self.done.called:
            self.done.callback(None)


def encode_body(emrtd_passport: dict[str, Any], validation_id: str, session_id: str | None = None) -> bytes:
    body: dict[str, Any] = {"emrtd_passport": emrtd_passport, "client_validation_id": validation_id}
    if session_id is not None:
        body["session_id"] = session_id
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")


def signature_header(secrets_: tuple[bytes, ...], timestamp: int, body: bytes) -> bytes:
    """``t=<timestamp>,v1=<hex>[,v1=<hex>...]``: HMAC-SHA256 of ``b"<t>." + body`` per secret."""
    signed = str(timestamp).encode("ascii") + b"." + body
    parts = [f"t={timestamp}"]
    parts += ["v1=" + hmac.new(secret, signed, hashlib.sha256).hexdigest() for secret in secrets_]
    return ",".join(parts).encode("ascii")


def loggable_host(url: str) -> str:
    """The Result Server's host[:port] for logs: never the path or query (tokens live there)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "-", parts.port
    except ValueError:
        return "-"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port is not None else host


@implementer(IPolicyForHTTPS)
class ResultServerTLS:
    """TLS for one client's Result Server: its CA bundle instead of the system store,
    and its client certificate.  ``optionsForClientTLS`` keeps the hostname (or
    IP address) check on."""

    def __init__(self, tls: ResultTLS):
        self._trust = None
        if tls.ca_pems:
            self._trust = ssl.trustRootFromCertificates([ssl.Certificate.loadPEM(p) for p in tls.ca_pems])
        self._client = None
        self._extra: dict[str, Any] | None = None
        if tls.client_certificate_pem is not None and tls.client_key_pem is not None:
            key = ssl.KeyPair.load(tls.client_key_pem, crypto.FILETYPE_PEM)
            self._client = ssl.PrivateCertificate.fromCertificateAndKeyPair(
                ssl.Certificate.loadPEM(tls.client_certificate_pem), key
            )
            if tls.client_chain_pems:
                self._extra = {
                    "extraCertChain": [ssl.Certificate.loadPEM(p).original for p in tls.client_chain_pems]
                }

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        return ssl.optionsForClientTLS(
            hostname.decode("ascii"),
            trustRoot=self._trust,
            clientCertificate=self._client,
            # A copy: optionsForClientTLS adds the client key to the dict it gets.
            extraCertificateOptions=dict(self._extra) if self._extra else None,
        )


class ResultPoster:
    """Posts results over persistent connection pools, one per TLS configuration.

    ``http_client`` is a treq ``HTTPClient`` (or ``treq.testing.StubTreq``) used
    for every client; by default one is built over ``reactor`` per distinct
    :class:`ResultTLS` (clients with the same settings share it).
    ``metrics`` gets ``post_attempt(ok, client)`` per attempt and
    ``result_delivery(ok, client)`` per delivery.
    """

    def __init__(
        self,
        reactor: Any = None,
        *,
        clock: IReactorTime | None = None,
        http_client: Any = None,
        attempt_timeout: float = ATTEMPT_TIMEOUT,
        retries: int = RETRIES,
        backoff: Callable[[int], float] | None = None,
        metrics: Any = None,
        discard_timeout: float = DISCARD_TIMEOUT,
    ):
        if reactor is None:
            # Not at module top: importing it installs the default reactor (see docval.tap).
            from twisted.internet import reactor as _reactor
            reactor = _reactor
        self._reactor = reactor
        self._clock: IReactorTime = clock if clock is not None else reactor
        self._pools: list[HTTPConnectionPool] = []
        self._clients: dict[ResultTLS, Any] = {}
        self._http = http_client
        self._timeout = attempt_timeout
        self._discard_timeout = discard_timeout
        self._retries = retries
        self._backoff = backoff or backoffPolicy(
            initialDelay=0.5, factor=2.0, maxDelay=4.0, jitter=lambda: random.random() * 0.25
        )
        self._metrics = metrics
        self._discards: set[defer.Deferred] = set()

    def _http_for(self, tls: ResultTLS) -> Any:
        if self._http is not None:
            return self._http
        client = self._clients.get(tls)
        if client is None:
            # Quiet: no "Starting factory" line for every new Result Server connection.
            pool = QuietConnectionPool(self._reactor, persistent=True)
            pool.maxPersistentPerHost = 4
            pool.cachedConnectionTimeout = 60
            self._pools.append(pool)
            if tls == ResultTLS():
                agent = Agent(self._reactor, pool=pool)   # the system trust store
            else:
                agent = Agent(self._reactor, contextFactory=ResultServerTLS(tls), pool=pool)
            client = self._clients[tls] = HTTPClient(agent)
        return client

    def post(
        self,
        url: str,
        emrtd_passport: dict[str, Any],
        validation_id: str,
        *,
        session_id: str | None = None,
        client: ClientConfig | None = None,
    ) -> defer.Deferred:
        """Fires with a :class:`PostOutcome`, or fails with ``ResultPostFailed``.

        ``session_id`` is the delivery's idempotency key (a random one without
        it); ``client`` gives the name, secrets, token and TLS settings.
        Cancelling the returned Deferred stops retrying and aborts the attempt
        under way.
        """
        if session_id is None:
            session_id = secrets.token_hex(8)
        body = encode_body(emrtd_passport, validation_id, session_id)
        return defer.ensureDeferred(self._post(url, body, session_id, client))

    def _headers(self, body: bytes, session_id: str, client: ClientConfig | None) -> dict[bytes, list[bytes]]:
        headers = {
            b"Content-Type": [b"application/json"],
            b"Idempotency-Key": [session_id.encode("ascii")],
        }
        if client is not None and client.result_signing_secrets:
            t = int(self._clock.seconds())
            headers[b"DocVal-Signature"] = [signature_header(client.result_signing_secrets, t, body)]
        if client is not None and client.result_bearer_token is not None:
            headers[b"Authorization"] = [b"Bearer " + client.result_bearer_token.encode("ascii")]
        return headers

    async def _post(self, url: str, body: bytes, session_id: str, client: ClientConfig | None) -> PostOutcome:
        name = client.name if client is not None else "-"
        host = loggable_host(url)
        http = self._http_for(client.result_tls if client is not None else ResultTLS())
        attempt = 0
        while True:
            attempt += 1
            try:
                status = await self._attempt(http, url, body, self._headers(body, session_id, client))
            except _AttemptFailed as e:
                self._count(False, name)
                if not e.retryable or attempt > self._retries:
                    _log.warn(
                        "session {session_id}: result delivery failed: client={client} host={host} "
                        "attempts={attempts} last={last}",
                        session_id=session_id, client=name, host=host, attempts=attempt, last=e.what,
                    )
                    self._delivered(False, name)
                    raise ResultPostFailed(f"result server: {e.what}") from None
                delay = max(0.0, self._backoff(attempt - 1))
                _log.info(
                    "session {session_id}: result delivery attempt {attempt} failed: client={client} "
                    "host={host} last={last}; retrying in {delay:.2f}s",
                    session_id=session_id, attempt=attempt, client=name, host=host, last=e.what,
                    delay=delay,
                )
                await task.deferLater(self._clock, delay, lambda: None)
                continue
            self._count(True, name)
            self._delivered(True, name)
            return PostOutcome(attempts=attempt, status=status)

    def _count(self, ok: bool, client: str) -> None:
        if self._metrics is not None:
            self._metrics.post_attempt(ok, client)

    def _delivered(self, ok: bool, client: str) -> None:
        record = getattr(self._metrics, "result_delivery", None)
        if record is not None:
            record(ok, client)

    def _attempt(self, http: Any, url: str, body: bytes, headers: dict[bytes, list[bytes]]) -> defer.Deferred:
        """One POST: sending it and getting the status, within the attempt timeout."""
        timed_out = []

        def on_timeout() -> None:
            timed_out.append(True)
            d.cancel()

        d = http.post(url, data=body, headers=headers, allow_redirects=False, unbuffered=True)
        timer = self._clock.callLater(self._timeout, on_timeout)

        def classify(result: Any) -> int | Failure:
            if timer.active():
                timer.cancel()
            if not isinstance(result, Failure):
                # The status is in: the attempt is decided.  The body is read
                # afterwards (to reuse the connection) and cannot change that.
                status = result.code
                self._discard(result)
                if 200 <= status < 300:
                    return status
                retry = status in RETRY_STATUSES or 500 <= status < 600
                raise _AttemptFailed(f"HTTP {status}", retryable=retry, status=status)
            if timed_out:
                raise _AttemptFailed(f"no answer within {self._timeout:g}s", retryable=True)
            if result.check(defer.CancelledError):
                return result  # cancelled by our caller: stop, do not retry
            # The exception type says enough (refused, reset, DNS, TLS); its text
            # may be long and is not needed to operate the server.
            raise _AttemptFailed(type(result.value).__name__, retryable=True)

        d.addBoth(classify)
        return d

    def _discard(self, response: Any) -> None:
        """Reads and drops the body in the background, within a byte and time limit."""
        sink = _Discard()
        try:
            response.deliverBody(sink)
        except Exception:
            return
        done = sink.done
        if done.called:
            return
        self._discards.add(done)
        timer = self._clock.callLater(self._discard_timeout, done.cancel)

        def finished(result: Any) -> None:
            self._discards.discard(done)
            if timer.active():
                timer.cancel()

        done.addBoth(finished)

    def close(self) -> defer.Deferred:
        """Closes pooled connections and bodies still being read (call on service stop)."""
        for done in list(self._discards):
            done.cancel()
        closing = [pool.closeCachedConnections() for pool in self._pools]
        return defer.gatherResults(closing).addCallback(lambda _: None)
