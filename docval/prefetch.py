"""The link to the chip and how files are read over it: sizes, and reads ahead of need.

The reader (:mod:`docval.reader`) decides *what* is read in which order; a
:class:`Scheduler` decides *how*: the largest read the phone and the chip take
(learned as the session goes, and only ever smaller), and which reads ride in
one pipelined burst when the phone relays several commands per round trip
(:mod:`docval.emrtd.burst`).

A file read ahead is kept until its step asks for it (:meth:`Scheduler.fetch`).
The last file of a burst may be left *pending*, its first answer in hand and
its next reads not yet sent: those continue the chip's current file, so the
pending read goes on, with no round trip lost, only if no other command was
sent since; otherwise it is dropped and the file read afresh.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Protocol, TypeVar

from docval.emrtd import burst, files
from docval.emrtd.apdu import MAX_SHORT_LE
from docval.emrtd.flow import Flow, Link, run_async
from docval.emrtd.sm import SecureMessaging

T = TypeVar("T")

MIN_RESPONSE_BYTES = 64
MAX_RESPONSE_BYTES = 65536
MIN_COMMAND_BYTES = 64
MAX_COMMAND_BYTES = 65544   # header, 3-byte Lc, 65535 data bytes, 2-byte Le
MAX_PIPELINE = 64


class Transport(Protocol):
    def transmit_many(self, apdus: list[bytes]) -> Awaitable[list[bytes]]: ...


class Scheduler:
    """Sends the reader's flows over the current link and reads files for it.

    ``extended`` (the phone and chip take extended-length APDUs) and
    ``max_response`` (the most bytes one answer may carry) are the reader's to set
    as it learns them; :meth:`resize` applies them to the reads that follow.
    """

    def __init__(self, transport: Transport, *, extended: bool, max_command_bytes: int | None,
                 max_pipelined: int, caps: files.FileCaps):
        self._transmit = transport.transmit_many
        self.extended = extended
        self.max_response = MAX_SHORT_LE
        if max_command_bytes is not None:
            max_command_bytes = min(max(max_command_bytes, MIN_COMMAND_BYTES), MAX_COMMAND_BYTES)
        self._max_command_bytes = max_command_bytes
        self._max_pipelined = max(1, min(max_pipelined, MAX_PIPELINE))
        self._caps = caps
        self._limits: files.ReadLimits | None = None
        # Files read ahead, by name; a Pending one is valid only while the link is where
        # it was when the burst ended (self._mark == self._now()).
        self._ahead: dict[str, burst.Result] = {}
        self._mark: tuple[Link, int] | None = None
        self._sm: SecureMessaging | None = None     # the link's, with what sizes need of it
        self.link = self.new_link()

    # -- the link ---------------------------------------------------------------------------

    def new_link(self) -> Link:
        """A fresh link without Secure Messaging (access control starts over)."""
        self.link = Link(extended=self.extended, max_command_bytes=self._max_command_bytes)
        self._sm = None
        return self.link

    def start(self, sm: SecureMessaging) -> None:
        """Protect what follows with new session keys; reads are resized for their overhead."""
        self.link.start(sm)
        self._sm = sm
        self.resize()

    async def run(self, flow: Flow[T]) -> T:
        return await run_async(flow, self.link, self._transmit)

    # -- sizes ------------------------------------------------------------------------------

    @property
    def limits(self) -> files.ReadLimits:
        if self._limits is None:
            self.resize()
        assert self._limits is not None
        return self._limits

    def size_answers(self, declared: int | None, *, short_cap: int | None = None) -> None:
        """The most bytes one answer may carry: as ``declared`` (by the phone or EF.ATR/INFO;
        None: no limit) with extended length, else a short APDU's, within ``short_cap``."""
        if not self.extended:
            self.max_response = MAX_SHORT_LE
        elif declared is None:
            self.max_response = MAX_RESPONSE_BYTES
        else:
            # A phone may send 0, 1 or 10^9 (docs/reliability.md P6): clamp, then learn from 6700.
            self.max_response = min(max(declared, MIN_RESPONSE_BYTES), MAX_RESPONSE_BYTES)
        if short_cap:
            self.max_response = min(self.max_response, max(short_cap, MIN_RESPONSE_BYTES))
        self.resize()

    def resize(self) -> None:
        """Size reads for the current link; what the chip taught us (6700, no SFI) is kept."""
        self._limits = self.read_limits(self._limits)

    def read_limits(self, old: files.ReadLimits | None) -> files.ReadLimits:
        """The limits replacing ``old``: the largest plain Le that fits ``max_response``
        once protected, APDUs extended when ``extended`` (the link's commands too)."""
        plain = self.max_response
        if self._sm is not None:
            plain = max(1, self._sm.max_plain_le(self.max_response))
        self.link.extended = self.extended
        limits = files.ReadLimits(max_le=plain, extended=self.extended, pipeline=self._max_pipelined,
                                  caps=self._caps)
        if old is not None:
            # Limits only ever shrink within a session: a 6700 taught once holds for every file.
            limits.max_le = min(plain, old.max_le)
            limits.use_sfi = old.use_sfi
            limits.extended = self.extended and old.extended
        return limits

    @property
    def pipelining(self) -> bool:
        return self.limits.pipeline >= 2

    @property
    def pipeline(self) -> int:
        """The most commands one step of a protocol flow may send."""
        return self.limits.pipeline

    # -- reading files ----------------------------------------------------------------------

    async def prefetch(self, refs: list[files.FileRef]) -> None:
        """Read ``refs`` in pipelined bursts; the last one may be left pending."""
        factories = [self._reader(ref) for ref in refs]
        self._keep(refs, await self.run(burst.together(factories, self.limits.pipeline, suspend_last=True)))

    async def run_ahead(self, flow: Flow[T], refs: list[files.FileRef]) -> T:
        """Run ``flow`` (its result returned, its errors raised) with the first reads of
        ``refs`` in the same bursts, as :meth:`prefetch` reads them."""
        factories: list[Callable[[], Flow[Any]]] = [lambda: flow]
        factories += [self._reader(ref) for ref in refs]
        results = await self.run(burst.together(factories, self.limits.pipeline, suspend_last=True))
        head = results.pop(0)
        if isinstance(head, burst.Pending):   # only when ``flow`` was the sole flow
            return await self.run(burst.resume(head.flow, head.step))
        self._keep(refs, results)
        value: T = head.get()
        return value

    async def prefetch_behind(self, pending: files.FileRef, ref: files.FileRef) -> None:
        """Send the first read of ``ref`` with the next burst of the pending read of
        ``pending``, when that burst has room for it (nothing is done otherwise)."""
        ahead = self._ahead.get(pending.name)
        if not (self.pipelining and isinstance(ahead, burst.Pending) and self._mark == self._now()):
            return
        step = ahead.step
        if (len(step) if isinstance(step, tuple) else 1) >= self.limits.pipeline:
            return      # a full burst: the pending file has more to read after it
        del self._ahead[pending.name]
        self._mark = None
        resumed = [burst.resume(ahead.flow, step)]

        def again() -> Flow[bytes]:
            # The first time, the read already under way; if it has to run again, afresh.
            return resumed.pop() if resumed else files.read_file(pending, self.limits)

        refs = [pending, ref]
        factories = [again, self._reader(ref)]
        self._keep(refs, await self.run(burst.together(factories, self.limits.pipeline, suspend_last=True)))

    def has_ahead(self, refs: list[files.FileRef]) -> bool:
        return any(ref.name in self._ahead for ref in refs)

    async def fetch(self, ref: files.FileRef) -> bytes:
        """The whole file: as read ahead, continuing a pending read, or read now."""
        ahead = self._ahead.pop(ref.name, None)
        if isinstance(ahead, burst.Outcome):
            data: bytes = ahead.get()
            return data
        if isinstance(ahead, burst.Pending):
            # Its next reads address the current file: only if nothing was sent since.
            if self._mark == self._now():
                self._mark = None
                return await self.run(burst.resume(ahead.flow, ahead.step))
            ahead.flow.close()
        return await self.run(files.read_file(ref, self.limits))

    def discard(self, ref: files.FileRef) -> None:
        """``ref`` will not be asked for after all."""
        ahead = self._ahead.pop(ref.name, None)
        if isinstance(ahead, burst.Pending):
            ahead.flow.close()

    def forget(self) -> None:
        """Drop everything read ahead (Secure Messaging starts over)."""
        self._ahead.clear()

    def _reader(self, ref: files.FileRef) -> Callable[[], Flow[bytes]]:
        return lambda: files.read_file(ref, self.limits)

    def _now(self) -> tuple[Link, int]:
        return self.link, self.link.commands_sent

    def _keep(self, refs: list[files.FileRef], results: list[burst.Result]) -> None:
        for ref, result in zip(refs, results, strict=True):
            self._ahead[ref.name] = result
        if results and isinstance(results[-1], burst.Pending):
            self._mark = self._now()
