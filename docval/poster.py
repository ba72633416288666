"""POSTing results to a client's Result Server (SPEC §5).

Each attempt has 3 s to get a complete answer; network errors, timeouts, 408,
429 and 5xx are retried up to 3 times with an exponential backoff; any other
status fails at once.  Timing runs on an injected clock so tests need no sleep.
Redirects are not followed: a 3xx is "any other status", so the result never
goes to a URL the operator did not configure.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any, Callable

from twisted.application.internet import backoffPolicy
from twisted.internet import defer, task
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.web.client import Agent, HTTPConnectionPool

from docval.errors import ResultPostFailed

ATTEMPT_TIMEOUT = 3.0
RETRIES = 3
RETRY_STATUSES = frozenset({408, 429})
# Bodies of Result Server answers are read and dropped; this caps what a
# misbehaving server can make us read before the attempt counts as done.
MAX_DISCARD_BYTES = 1 << 20

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
            self.transport.stopProducing()

    def dataReceived(self, data: bytes) -> None:
        self.seen += len(data)
        if self.seen > MAX_DISCARD_BYTES:
            self._abort()

    def connectionLost(self, reason: Any = None) -> None:
        if not self.done.called:
            self.done.callback(None)


def encode_body(emrtd_passport: dict[str, Any], validation_id: str) -> bytes:
    return json.dumps(
        {"emrtd_passport": emrtd_passport, "client_validation_id": validation_id},
        separators=(",", ":"),
        allow_nan=False,
    ).encode("utf-8")


class ResultPoster:
    """Posts results over a persistent connection pool.

    ``http_client`` is a treq ``HTTPClient`` (or ``treq.testing.StubTreq``);
    by default one is built over ``reactor`` with a persistent pool.
    ``metrics`` gets ``post_attempt(ok)`` per attempt.
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
    ):
        if reactor is None:
            from twisted.internet import reactor as _reactor
            reactor = _reactor
        self._clock: IReactorTime = clock if clock is not None else reactor
        self._pool: HTTPConnectionPool | None = None
        if http_client is None:
            from treq.client import HTTPClient

            from docval.quietpool import QuietConnectionPool

            self._pool = QuietConnectionPool(reactor, persistent=True)
            self._pool.maxPersistentPerHost = 4
            self._pool.cachedConnectionTimeout = 60
            http_client = HTTPClient(Agent(reactor, pool=self._pool))
        self._http = http_client
        self._timeout = attempt_timeout
        self._retries = retries
        self._backoff = backoff or backoffPolicy(
            initialDelay=0.5, factor=2.0, maxDelay=4.0, jitter=lambda: random.random() * 0.25
        )
        self._metrics = metrics

    def post(self, url: str, emrtd_passport: dict[str, Any], validation_id: str) -> defer.Deferred:
        """Fires with a :class:`PostOutcome`, or fails with ``ResultPostFailed``.

        Cancelling the returned Deferred stops retrying and aborts the attempt
        under way.
        """
        body = encode_body(emrtd_passport, validation_id)
        return defer.ensureDeferred(self._post(url, body))

    async def _post(self, url: str, body: bytes) -> PostOutcome:
        attempt = 0
        while True:
            attempt += 1
            try:
                status = await self._attempt(url, body)
            except _AttemptFailed as e:
                self._count(False)
                if not e.retryable or attempt > self._retries:
                    _log.info(
                        "result post failed after {attempts} attempt(s): {what}",
                        attempts=attempt, what=e.what,
                    )
                    raise ResultPostFailed(f"result server: {e.what}") from None
                delay = max(0.0, self._backoff(attempt - 1))
                _log.info(
                    "result post attempt {attempt} failed ({what}); retrying in {delay:.2f}s",
                    attempt=attempt, what=e.what, delay=delay,
                )
                await task.deferLater(self._clock, delay, lambda: None)
                continue
            self._count(True)
            return PostOutcome(attempts=attempt, status=status)

    def _count(self, ok: bool) -> None:
        if self._metrics is not None:
            self._metrics.post_attempt(ok)

    def _attempt(self, url: str, body: bytes) -> defer.Deferred:
        """One POST, including reading the answer, within the attempt timeout."""
        timed_out = []

        def on_timeout() -> None:
            timed_out.append(True)
            d.cancel()

        d = self._http.post(
            url,
            data=body,
            headers={b"Content-Type": [b"application/json"]},
            allow_redirects=False,
            unbuffered=True,
        )
        d.addCallback(self._drain)
        timer = self._clock.callLater(self._timeout, on_timeout)

        def classify(result: Any) -> int:
            if timer.active():
                timer.cancel()
            if isinstance(result, int):
                if 200 <= result < 300:
                    return result
                retry = result in RETRY_STATUSES or 500 <= result < 600
                raise _AttemptFailed(f"HTTP {result}", retryable=retry, status=result)
            if timed_out:
                raise _AttemptFailed(f"no answer within {self._timeout:g}s", retryable=True)
            if result.check(defer.CancelledError):
                return result  # cancelled by our caller: stop, do not retry
            # The exception type says enough (refused, reset, DNS); its text may
            # be long and is not needed to operate the server.
            raise _AttemptFailed(type(result.value).__name__, retryable=True)

        d.addBoth(classify)
        return d

    def _drain(self, response: Any) -> defer.Deferred:
        """Reads (and drops) the body so the pooled connection can be reused."""
        sink = _Discard()
        response.deliverBody(sink)
        return sink.done.addCallback(lambda _: response.code)

    def close(self) -> defer.Deferred:
        """Closes pooled connections (call on service stop)."""
        if self._pool is None:
            return defer.succeed(None)
        return self._pool.closeCachedConnections()
