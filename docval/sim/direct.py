"""Run the reader straight against a virtual chip: no phone, no network, no reactor.

Tests and benchmarks use it to exercise the whole read-and-verify procedure in
one call; the server runs the same reader over the WebSocket instead.
"""
from __future__ import annotations

from typing import Any, Callable

from docval.reader import ReadParams, read_document
from docval.result import Report


class ChipTransport:
    """A transport whose 'phone' is a chip object answering synchronously."""

    def __init__(self, chip: Any):
        self.chip = chip
        self.round_trips = 0
        self.apdus = 0
        self.bytes_to_chip = 0
        self.bytes_from_chip = 0

    async def transmit_many(self, apdus: list[bytes]) -> list[bytes]:
        self.round_trips += 1
        out = []
        for apdu in apdus:
            self.apdus += 1
            self.bytes_to_chip += len(apdu)
            resp = self.chip.transmit(apdu)
            self.bytes_from_chip += len(resp)
            out.append(resp)
        return out


def read_sync(chip: Any, params: ReadParams, progress: Callable[[str], None] | None = None,
              transport: ChipTransport | None = None) -> Report:
    """Run read_document to completion; the chip answers at once, so one send finishes it."""
    coro = read_document(transport or ChipTransport(chip), params, progress or (lambda status: None))
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("the reader waited on something other than the chip")
