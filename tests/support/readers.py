"""A ``read_document`` whose behaviour a test changes between sessions.

DocValService and ValidateServerFactory take ``read_document=`` as a constructor argument;
a test that needs the real reader for some sessions and a failing one for the next passes
one of these instead of reaching into the factory.  :func:`read_sync_with` runs the reader
against a virtual chip with another read strategy.
"""
from __future__ import annotations

from typing import Any, Callable

from docval.prefetch import Scheduler
from docval.reader import ReadParams, read_document
from docval.result import Report
from docval.sim.direct import ChipTransport
from docval.status import Status


class SwitchableReader:
    """Calls ``self.read`` (the product's reader while it is None) for each session."""

    def __init__(self, read: Callable[..., Any] | None = None):
        self.read = read

    def __call__(self, transport: Any, params: Any, progress: Callable[[str], None]) -> Any:
        return (self.read or read_document)(transport, params, progress)


def read_sync_with(scheduler: type[Scheduler], transport: ChipTransport, params: ReadParams,
                   progress: Callable[[Status], None]) -> Report:
    """:func:`docval.sim.direct.read_sync` with another read strategy (bench.classic's)."""
    coro = read_document(transport, params, progress, scheduler=scheduler)
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("the reader waited on something other than the chip")
