"""One driver for the sans-IO flows of :mod:`docval.emrtd` against a scripted or virtual chip.

A flow is a generator that yields a :class:`CommandAPDU` (or a tuple of them: a burst sent
in one round trip) and is sent the answer.  :class:`Driver` runs flows to the end and keeps
what a test asserts on: the result, every step the flow yielded, and the raw commands;
:func:`drive` is the one-flow shorthand.

Two levels, as in the product:

* ``Driver(answer)``: the flow meets ``answer(CommandAPDU) -> ResponseAPDU`` directly,
  with nothing in between -- for testing what the flow itself does with any status word.
* ``Driver(transmit=..., link=...)``: the commands go through a :class:`Link` (Secure
  Messaging, the phone's length limits, the ISO status-word check) exactly as
  :func:`docval.emrtd.flow.run` sends them, to ``transmit(bytes) -> bytes`` (a virtual
  chip's ``transmit``, a :class:`Script`).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from docval.emrtd.apdu import CommandAPDU, ResponseAPDU
from docval.emrtd.flow import Link


class Driver:
    """Runs flows against one chip and keeps every step they yielded and every raw command,
    also when a flow raises (``run`` re-raises; the record stays for the test's asserts)."""

    def __init__(self, answer: Callable[[CommandAPDU], ResponseAPDU] | None = None, *,
                 transmit: Callable[[bytes], bytes] | None = None, link: Link | None = None):
        if (answer is None) == (transmit is None):
            raise TypeError("Driver takes either answer or transmit")
        self.answer, self.transmit = answer, transmit
        self.link = link if link is not None or transmit is None else Link()
        self.steps: list[Any] = []      # what the flows yielded, in order
        self.sent: list[bytes] = []     # raw commands, as on the wire
        self.result: Any = None         # what the last flow returned

    @property
    def commands(self) -> list[CommandAPDU]:
        """Every command yielded, bursts flattened."""
        return [c for step in self.steps for c in (step if isinstance(step, tuple) else (step,))]

    @property
    def bursts(self) -> list[int]:
        """Commands per round trip."""
        return [len(step) if isinstance(step, tuple) else 1 for step in self.steps]

    def _exchange(self, cmds: tuple[CommandAPDU, ...]) -> list[ResponseAPDU]:
        if self.transmit is None:
            self.sent.extend(c.encode() for c in cmds)
            return [self.answer(c) for c in cmds]
        raws = self.link.protect(cmds)
        self.sent.extend(raws)
        return self.link.unprotect([self.transmit(raw) for raw in raws], len(cmds))

    def run(self, flow: Any) -> Any:
        try:
            step = next(flow)
            while True:
                self.steps.append(step)
                if isinstance(step, tuple):
                    step = flow.send(tuple(self._exchange(step)))
                else:
                    step = flow.send(self._exchange((step,))[0])
        except StopIteration as done:
            self.result = done.value
            return done.value


def drive(flow: Any, answer: Callable[[CommandAPDU], ResponseAPDU] | None = None, *,
          transmit: Callable[[bytes], bytes] | None = None, link: Link | None = None) -> Driver:
    """Run one flow to its end; ``.result``, ``.steps``, ``.commands``, ``.sent``, ``.bursts``."""
    driver = Driver(answer, transmit=transmit, link=link)
    driver.run(flow)
    return driver


def replies(*responses: ResponseAPDU) -> Callable[[CommandAPDU], ResponseAPDU]:
    """An ``answer`` giving ``responses`` in order, whatever is asked; asking for more fails."""
    queue = list(responses)

    def answer(cmd: CommandAPDU) -> ResponseAPDU:
        assert queue, f"the flow did not finish: INS {cmd.ins:02X} after the scripted answers"
        return queue.pop(0)
    return answer


def plain(answer: Callable[[CommandAPDU], ResponseAPDU]) -> Callable[[bytes], bytes]:
    """A ``transmit`` from an ``answer`` on decoded APDUs (a chip without Secure Messaging)."""
    return lambda raw: answer(CommandAPDU.decode(raw)).encode()


class Script:
    """A chip that answers from a recording: steps of (expected command hex or None, response
    hex); hex may hold spaces.  A command other than the expected one fails the test; so does
    one more command than the script has, and (``assert_done``) one fewer."""

    def __init__(self, steps: Iterable[tuple[str | None, str]]):
        self.steps = [(None if c is None else bytes.fromhex("".join(c.split())), bytes.fromhex("".join(r.split())))
                      for c, r in steps]

    def __call__(self, raw: bytes) -> bytes:
        assert self.steps, "more commands than the script has answers"
        expected, response = self.steps.pop(0)
        if expected is not None:
            assert raw.hex().upper() == expected.hex().upper()
        return response

    def answer(self, cmd: CommandAPDU) -> ResponseAPDU:
        return ResponseAPDU.decode(self(cmd.encode()))

    def assert_done(self) -> None:
        assert not self.steps, f"{len(self.steps)} scripted answers not used"


class RecordingChip:
    """A chip behind a recorder of the raw commands relayed to it (what the phone sees),
    for checks on command sizes and chaining."""

    def __init__(self, chip: Any) -> None:
        self.chip = chip
        self.sent: list[bytes] = []

    def transmit(self, raw: bytes) -> bytes:
        self.sent.append(bytes(raw))
        return self.chip.transmit(raw)
