"""Sans-IO protocol flows and the secure link they run over.

Every chip protocol (BAC, PACE, CA, AA, file reading) is a *flow*: a generator
that yields the next plain :class:`CommandAPDU` and is sent the plain
:class:`ResponseAPDU`; its return value is the protocol's result.  A flow may
yield a tuple of commands to *pipeline* them: the driver may send them without
waiting for each answer, and the flow is sent the tuple of responses in order.
Flows never see Secure Messaging: the :class:`Link` wraps each command and
unwraps each response with the current session keys, so the same flow runs
before and after access control.

Two drivers run flows: :func:`run` (synchronous, for the virtual chip and tests)
and :func:`run_async` (the server's reader awaits the phone).  Neither knows
about Twisted.
"""
from __future__ import annotations

from typing import Awaitable, Callable, Generator, Protocol, TypeVar, Union

from docval.emrtd.apdu import (MAX_EXTENDED_LC, MAX_SHORT_COMMAND, MAX_SHORT_LC, SW_OK, CommandAPDU,
                               ResponseAPDU, chain, is_iso_status)
from docval.emrtd.errors import CommandTooLong, CommunicationError, SecureMessagingError, StatusError

T = TypeVar("T")

Step = Union[CommandAPDU, tuple[CommandAPDU, ...]]
Answer = Union[ResponseAPDU, tuple[ResponseAPDU, ...]]
Flow = Generator[Step, Answer, T]


class SecureMessaging(Protocol):
    """What the link needs of a Secure Messaging session (docval.emrtd.sm)."""

    ssc: int

    def wrap(self, cmd: CommandAPDU) -> CommandAPDU: ...

    def unwrap(self, resp: ResponseAPDU) -> ResponseAPDU: ...

    def max_plain_lc(self, max_command_bytes: int) -> int: ...


class Link:
    """Secure Messaging state between the flows and the transport.

    ``sm`` is None before access control.  Once a protected response fails to
    verify, the session keys are dropped for good (docs/reliability.md S1): every
    later command raises instead of being sent under keys an attacker probed.

    ``extended`` and ``max_command_bytes`` say what the phone can relay: a
    command beyond them raises :class:`CommandTooLong` before anything is sent
    (and before the SSC moves), so the step can be skipped cleanly instead of
    the phone's NFC stack failing the whole session.
    """

    def __init__(self, *, extended: bool = True, max_command_bytes: int | None = None) -> None:
        self.sm: SecureMessaging | None = None
        self.broken = False
        self.commands_sent = 0
        self.extended = extended
        self.max_command_bytes = max_command_bytes

    def start(self, sm: SecureMessaging) -> None:
        self.sm = sm
        self.broken = False

    def max_command_data(self) -> int | None:
        """Most plain data bytes one command may carry for the phone to relay it;
        None when only the APDU format limits it.  Flows chain longer commands."""
        cap = self.max_command_bytes
        if not self.extended:
            cap = MAX_SHORT_COMMAND if cap is None else min(cap, MAX_SHORT_COMMAND)
        if cap is None:
            return None
        if self.sm is not None:
            return self.sm.max_plain_lc(cap)
        if cap <= MAX_SHORT_COMMAND:
            return max(0, min(cap - 6, MAX_SHORT_LC))     # header, Lc, Le
        return min(cap - 9, MAX_EXTENDED_LC)              # header, 3-byte Lc, 2-byte Le

    def protect(self, cmds: tuple[CommandAPDU, ...]) -> list[bytes]:
        """Wrap commands for sending; pipelined commands get their predicted SSC."""
        if self.broken:
            raise SecureMessagingError("secure messaging was aborted; no further commands")
        if self.sm is None:
            wrapped = list(cmds)
        else:
            sm = self.sm
            base = sm.ssc
            wrapped = []
            try:
                for i, cmd in enumerate(cmds):
                    sm.ssc = base + 2 * i
                    wrapped.append(sm.wrap(cmd))
            finally:
                sm.ssc = base
        raws = [c.encode() for c in wrapped]
        for cmd, raw in zip(wrapped, raws, strict=True):
            if cmd.is_extended and not self.extended:
                # Short data but an answer above 256 bytes: the response is what does not fit.
                raise CommandTooLong(f"INS {cmd.ins:02X} needs extended length, which the phone cannot relay",
                                     response=len(cmd.data) <= MAX_SHORT_LC)
            if self.max_command_bytes is not None and len(raw) > self.max_command_bytes:
                raise CommandTooLong(f"INS {cmd.ins:02X} needs a {len(raw)}-byte command; "
                                     f"the phone relays at most {self.max_command_bytes}")
        self.commands_sent += len(cmds)
        return raws

    def unprotect(self, raws: list[bytes], count: int) -> list[ResponseAPDU]:
        if len(raws) != count:
            raise SecureMessagingError(f"{len(raws)} responses for {count} commands")
        responses = [ResponseAPDU.decode(raw) for raw in raws]
        for resp in responses:
            if not is_iso_status(resp.sw):
                raise CommunicationError(f"status {resp.sw:04X} is not an ISO 7816 status word")
        if self.sm is None:
            return responses
        sm = self.sm
        base = sm.ssc
        out = []
        try:
            for i, resp in enumerate(responses):
                sm.ssc = base + 2 * i + 1
                out.append(sm.unwrap(resp))
        except SecureMessagingError:
            self.sm = None
            self.broken = True
            raise
        sm.ssc = base + 2 * count
        return out


# A flow's ``yield`` evaluates to an Answer whatever it yielded, since a generator
# has one send type.  The drivers keep the shapes paired (one command, one
# response; a tuple, a tuple as long); these two steps check that pairing once,
# so a flow holds a typed answer: ``resp = yield from exchange(cmd)``.

def exchange(cmd: CommandAPDU) -> Flow[ResponseAPDU]:
    """Send one command; returns its response."""
    resp = yield cmd
    if not isinstance(resp, ResponseAPDU):
        raise TypeError("a single command gets a single response")
    return resp


def exchange_all(cmds: tuple[CommandAPDU, ...]) -> Flow[tuple[ResponseAPDU, ...]]:
    """Send commands as one pipelined step; returns their responses in order."""
    answer = yield cmds
    if not isinstance(answer, tuple) or len(answer) != len(cmds):
        raise TypeError("pipelined commands get one response each")
    return answer


def returned(flow: Flow[T], done: StopIteration) -> T:
    """The value ``flow`` returned, from the StopIteration that ended it.

    typeshed types ``StopIteration.value`` as Any; the one raised by a Flow[T]
    carries its T.  Drivers that call ``send`` themselves (no ``yield from``)
    read it here, so that Any stops at this line.
    """
    value: T = done.value
    return value


def send_chained(cmd: CommandAPDU, max_data: int | None, what: str) -> Flow[ResponseAPDU]:
    """Send ``cmd``, as an ISO/IEC 7816-4 chain when its data exceeds ``max_data``;
    returns the answer to the last part.  A part other than the last answered with
    anything but 9000 means the chip refuses the chain: StatusError naming it."""
    parts = chain(cmd, max_data)
    for part in parts[:-1]:
        resp = yield from exchange(part)
        if resp.sw != SW_OK:
            raise StatusError(resp.sw, f"{what} sent as {len(parts)} chained commands")
    return (yield from exchange(parts[-1]))


def _as_tuple(step: Step) -> tuple[CommandAPDU, ...]:
    return step if isinstance(step, tuple) else (step,)


def _answer(step: Step, responses: list[ResponseAPDU]) -> Answer:
    return tuple(responses) if isinstance(step, tuple) else responses[0]


def run(flow: Flow[T], link: Link, transmit: Callable[[bytes], bytes]) -> T:
    """Drive a flow synchronously, one command at a time."""
    try:
        step = next(flow)
        while True:
            cmds = _as_tuple(step)
            raws = [transmit(raw) for raw in link.protect(cmds)]
            step = flow.send(_answer(step, link.unprotect(raws, len(cmds))))
    except StopIteration as done:
        return returned(flow, done)


async def run_async(flow: Flow[T], link: Link,
                    transmit_many: Callable[[list[bytes]], Awaitable[list[bytes]]]) -> T:
    """Drive a flow from a coroutine; a pipelined step is one transmit_many call."""
    try:
        step = next(flow)
        while True:
            cmds = _as_tuple(step)
            raws = await transmit_many(link.protect(cmds))
            step = flow.send(_answer(step, link.unprotect(raws, len(cmds))))
    except StopIteration as done:
        return returned(flow, done)
