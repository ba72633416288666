"""The reader's transport: command APDUs out as binary messages, responses back in order.

``transmit_many`` sends every command at once (pipelining, when the phone allows
it) and fires with the responses in order once all have arrived.  Each response
must arrive within the APDU timeout of the previous event (the send, or the
response before it), so a phone that drip-feeds answers is held to the same
per-APDU budget as one that answers in lockstep; the session's own maximum
time bounds the total.

Every answer is checked as it arrives, before it is kept: no longer than its
command's Le plus the Secure Messaging overhead
(:func:`docval.emrtd.burst.answer_limit`), and the answers of one burst
together no more than ``max_buffered`` bytes.  A phone that breaks either
limit is not relaying a chip: the session ends with COMMUNICATION_FAILED.
Without this, answers were buffered whole until the burst was complete: one
phone could park 64 messages of 70 KB per session.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from docval.emrtd.burst import MAX_BURST_ANSWER_BYTES, answer_limit
from docval.emrtd.errors import CommunicationError
from docval.errors import ConnectionLost, ServerError, UnexpectedMessage


class ApduRelay:
    def __init__(
        self,
        send: Callable[[bytes], None],
        clock: IReactorTime,
        timeout: float,
        max_pipelined: int,
        on_timeout: Callable[[], None],
        on_round_trip: Callable[[float], None] = lambda seconds: None,
        max_buffered: int = MAX_BURST_ANSWER_BYTES,
    ):
        self._send = send
        self._clock = clock
        self._timeout = timeout
        self._max_pipelined = max_pipelined
        self._on_timeout = on_timeout
        self._on_round_trip = on_round_trip
        self._pending: defer.Deferred[list[bytes]] | None = None
        self._expected = 0
        self._responses: list[bytes] = []
        self._sent_at: deque[float] = deque()
        self._limits: deque[int] = deque()
        self._max_buffered = max_buffered
        self._buffered = 0
        self._timer: IDelayedCall | None = None
        self._closed: BaseException | None = None
        # Counters for the session's log line (sizes, never contents).
        self.commands = 0
        self.bytes_out = 0
        self.bytes_in = 0

    @property
    def waiting(self) -> bool:
        return self._pending is not None

    def transmit_many(self, apdus: list[bytes]) -> defer.Deferred[list[bytes]]:
        if self._closed is not None:
            return defer.fail(self._closed)
        if self._pending is not None:
            return defer.fail(ServerError("transmit while commands are outstanding"))
        if not 1 <= len(apdus) <= self._max_pipelined:
            return defer.fail(ServerError(f"{len(apdus)} commands at once (limit {self._max_pipelined})"))
        d: defer.Deferred[list[bytes]] = defer.Deferred(self._cancel)
        self._pending = d
        self._expected = len(apdus)
        self._responses = []
        self._buffered = 0
        self._limits = deque(answer_limit(apdu) for apdu in apdus)
        now = self._clock.seconds()
        for apdu in apdus:
            self._sent_at.append(now)
            self.commands += 1
            self.bytes_out += len(apdu)
            self._send(bytes(apdu))
        self._arm()
        return d

    def transmit(self, apdu: bytes) -> defer.Deferred[bytes]:
        return self.transmit_many([apdu]).addCallback(lambda responses: responses[0])

    def deliver(self, payload: bytes) -> None:
        """A binary message from the phone; raises UnexpectedMessage when none is due,
        CommunicationError (the relay is then closed) when it is too long."""
        if self._pending is None or self._closed is not None:
            raise UnexpectedMessage("binary message with no command outstanding")
        now = self._clock.seconds()
        self.bytes_in += len(payload)
        limit = self._limits.popleft()
        if len(payload) > limit:
            self._refuse(CommunicationError(
                f"answer of {len(payload)} bytes to a command that allows at most {limit}"))
        if self._buffered + len(payload) > self._max_buffered:
            self._refuse(CommunicationError(
                f"answers of one burst exceed {self._max_buffered} bytes"))
        self._buffered += len(payload)
        self._on_round_trip(now - self._sent_at.popleft())
        self._responses.append(bytes(payload))
        if len(self._responses) < self._expected:
            self._arm()
            return
        self._disarm()
        d, responses = self._pending, self._responses
        self._pending, self._responses, self._expected, self._buffered = None, [], 0, 0
        d.callback(responses)

    def _refuse(self, error: CommunicationError) -> None:
        """Drops what the burst buffered and stops accepting answers.  The outstanding
        transmit is left to the session, which cancels the reader when it closes on
        ``error`` (failing the transmit here would let the reader run on first)."""
        self._closed = error
        self._responses = []
        self._buffered = 0
        self._limits.clear()
        self._sent_at.clear()
        self._disarm()
        raise error

    def close(self, reason: BaseException | None = None) -> None:
        """Stops the relay; an outstanding transmit fails with ``reason``."""
        if self._closed is not None:
            return
        self._closed = reason or ConnectionLost("relay closed")
        self._disarm()
        self._sent_at.clear()
        self._limits.clear()
        d, self._pending = self._pending, None
        self._responses = []
        self._buffered = 0
        if d is not None and not d.called:
            d.errback(self._closed)

    def _arm(self) -> None:
        self._disarm()
        self._timer = self._clock.callLater(self._timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        # The session decides what a timeout ends (it closes us and cancels the
        # reader), so the reader cannot swallow or re-label it.
        self._timer = None
        self._on_timeout()

    def _cancel(self, d: Any) -> None:
        # The reader was cancelled (session ending): later answers are unexpected.
        self._pending = None
        self._responses = []
        self._buffered = 0
        self._sent_at.clear()
        self._limits.clear()
        self._disarm()
        self._closed = self._closed or ConnectionLost("transmit cancelled")
