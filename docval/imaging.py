"""JPEG 2000 decoding off the event loop, in a small pool of worker processes.

Why processes and not threads: Pillow releases the GIL while it runs most
decoders, but not the JPEG 2000 one (it pulls its input through a Python file
object, so the whole decode runs holding the GIL).  Measured on the 2-core
benchmark machine, one 2.2 MP decode in a thread stalled the reactor thread for
~90 ms, two threads for ~270 ms (docs/performance.md).  A worker process takes
nothing from the reactor's interpreter; it also contains a decoder that crashes
on hostile input, which a thread could not.

The pool is bounded (``workers`` decodes at a time, server-wide, whatever the
number of sessions; the rest queue), started on first use so that a server
that never sees JPEG 2000 starts no process, and its workers run at a lower
CPU priority than the server so that a queue of decodes never delays the
sessions' APDU turnaround.  What a session may ask for is bounded by the
reader (:class:`docval.emrtd.images.DecodeBudget`).
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

from twisted.internet import defer
from twisted.logger import Logger

from docval.emrtd import images
from docval.emrtd.errors import LimitExceeded, ParseError

_log = Logger(namespace="docval.imaging")

DEFAULT_WORKERS = 1
WORKER_NICENESS = 10
# A capped image decodes in well under a second; one that takes this long is a
# decoder stuck on hostile input, and would hold a worker from every session.
DECODE_TIMEOUT = 10.0


def _lower_priority(niceness: int) -> None:
    try:
        os.nice(niceness)
    except OSError:
        pass   # not permitted here: the pool still works, at normal priority


class DecoderUnavailable(LimitExceeded):
    """The pool could not decode (worker died, server stopping): the image stays unconverted."""


class ImageDecoder:
    """``decode(data, max_pixels)`` returns a Deferred firing with
    :class:`docval.emrtd.images.Converted` in the reactor thread, or failing with
    ParseError / LimitExceeded (refused or undecodable image) or DecoderUnavailable.
    """

    def __init__(self, reactor: Any, *, workers: int = DEFAULT_WORKERS,
                 job: Callable[[bytes, int], Any] = images.convert,
                 niceness: int = WORKER_NICENESS, timeout: float = DECODE_TIMEOUT) -> None:
        if workers < 1:
            raise ValueError("at least one decoding worker")
        self._reactor = reactor
        self.workers = workers
        self._job = job
        self._niceness = niceness
        self.timeout = timeout
        self._executor: ProcessPoolExecutor | None = None
        self._stopped = False
        self.decoded = 0
        self.failed = 0

    def __repr__(self) -> str:
        return f"ImageDecoder(workers={self.workers}, decoded={self.decoded}, failed={self.failed})"

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: forking a process that runs a reactor and threads
            # copies their locks in whatever state they are.
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_lower_priority, initargs=(self._niceness,))
        return self._executor

    def decode(self, data: bytes, max_pixels: int) -> defer.Deferred:
        if self._stopped:
            return defer.fail(DecoderUnavailable("image decoding is stopped"))
        try:
            future = self._pool().submit(self._job, bytes(data), max_pixels)
        except (BrokenProcessPool, RuntimeError):
            self._reset()
            return defer.fail(DecoderUnavailable("the image decoder is not available"))
        def cancel(_: defer.Deferred) -> None:
            future.cancel()   # a queued job never runs; a running one finishes and _done drops it

        d: defer.Deferred = defer.Deferred(cancel)
        # Counted from submission: time waiting for a worker is bounded by the
        # others' timeouts, so this only fires for a decode that does not end.
        timer = self._reactor.callLater(self.timeout, self._expired, future, d)
        future.add_done_callback(lambda f: self._reactor.callFromThread(self._done, f, d, timer))
        return d

    def _expired(self, future: Future, d: defer.Deferred) -> None:
        if future.done() or d.called:
            return
        if future.cancel():      # still queued behind a stuck decode: just give up on it
            d.errback(DecoderUnavailable("image decoding timed out"))
            return
        self.failed += 1
        _log.warn("image decoding took longer than {timeout}s; restarting the pool", timeout=self.timeout)
        self._reset(kill=True)
        d.errback(DecoderUnavailable("image decoding timed out"))

    def _done(self, future: Future, d: defer.Deferred, timer: Any) -> None:
        if timer.active():
            timer.cancel()
        if d.called:     # cancelled or timed out: the session no longer waits for it
            return
        if future.cancelled():
            return
        exc = future.exception()
        if exc is None:
            self.decoded += 1
            d.callback(future.result())
            return
        self.failed += 1
        if isinstance(exc, (ParseError, LimitExceeded)):
            d.errback(exc)
            return
        if isinstance(exc, BrokenProcessPool):
            # A worker died (e.g. the decoder crashed on hostile input): a fresh pool next time.
            _log.warn("image decoder worker died; restarting the pool")
            self._reset()
        else:
            _log.warn("image decoder failed: {error_type}", error_type=type(exc).__name__)
        d.errback(DecoderUnavailable("the image decoder failed"))

    def _reset(self, *, kill: bool = False) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if kill:
            # shutdown() waits for running jobs; a stuck decoder never ends.  The
            # executor has no public way to stop a worker, so terminate its processes.
            for process in list((getattr(executor, "_processes", None) or {}).values()):
                process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)

    def stop(self) -> None:
        """Stops the workers without waiting for them (a stuck one would hold the
        shutdown); queued decodes are dropped, later calls fail at once."""
        self._stopped = True
        self._reset(kill=True)
