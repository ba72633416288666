"""Several flows in one pipelined burst: one network round trip for what would take many.

A phone that declares ``max_pipelined_apdus`` relays a burst of commands in one
message exchange, so independent steps -- a SELECT and the first read after it,
the first reads of several small files, Active Authentication and the reads
that follow it -- can share a round trip.  :func:`together` sends the *first*
step of each flow in one burst and hands each flow its own answers, in order.

Why only the first step: reading continues at offsets of the *current* file, and
the next flow's SFI read or SELECT changes which file that is.  So a flow that
needs more than its first step is only continued when nothing was sent after it
(the last flow of the burst); any earlier one is abandoned and run again on its
own, from scratch, after the burst -- its answers from the burst are discarded,
and so are those of every flow after it, which run again as well.  Nothing is
ever accepted out of order, and Secure Messaging (the link) verifies every
answer in sequence before any flow sees it.

A burst is also held to a byte budget (:data:`MAX_BURST_ANSWER_BYTES`): the
relay refuses to buffer more than that per session (an attacker's phone can
answer a burst of 64 commands with 64 messages of 70 KB), so the reader never
asks, in one burst, for answers that could add up to more.  Every answer is
bounded by its command's Le plus the Secure Messaging overhead
(:func:`answer_limit`), which is how the relay checks each one as it arrives.

The last flow may also be *suspended* (:class:`Pending`) instead of continued,
so that the caller finishes it later -- e.g. when its status step comes -- as
long as no command is sent in between (the caller checks that).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, Sequence, TypeVar, Union

from docval.emrtd.apdu import MAX_EXTENDED_LE, MAX_SHORT_LE, CommandAPDU, ResponseAPDU
from docval.emrtd.errors import EmrtdError, SecureMessagingError, TLVError
from docval.emrtd.flow import Answer, Flow, Step, returned
from docval.emrtd.tlv import iter_tlvs

T = TypeVar("T")

# What Secure Messaging adds to a response of n plain bytes (ICAO 9303-11 §9.8):
# DO'87' (tag, up to 3 length bytes, padding indicator, up to one block of
# padding: n + 21 at most), DO'99' (4) and DO'8E' (10) -- 35 bytes; rounded up.
SM_RESPONSE_OVERHEAD = 48
SW_BYTES = 2
# The most answer bytes one burst may bring, and what the relay buffers per
# session: five full 64 KiB extended-length answers (a whole document's content
# files read at once) fit, an attacker's 64 x 70 KB does not.
MAX_BURST_ANSWER_BYTES = 384 * 1024
_SM_CLA = 0x0C
_DO_LE = 0x97


def plain_answer_limit(cmd: CommandAPDU) -> int:
    """The longest answer a plain command may bring once protected (SM assumed)."""
    return (cmd.le or 0) + SM_RESPONSE_OVERHEAD + SW_BYTES


def answer_limit(raw: bytes) -> int:
    """The longest acceptable answer to an encoded command, as sent to the phone.

    Ne (Le 0 is 256 short, 65536 extended; no Le is 0) plus
    :data:`SM_RESPONSE_OVERHEAD` and the status word.  For a protected command
    (CLA b4 b3 set), whose own Le is always the maximum, Ne is that of the plain
    command in DO'97' (none: the answer carries no data).  The overhead is
    allowed on plain commands too: a chip that adds a few bytes is for the
    reader's flows to judge, not a memory threat.  A command that cannot be
    parsed (never one the reader sends) gets the largest limit.
    """
    try:
        cmd = CommandAPDU.decode(raw)
    except ValueError:
        return MAX_EXTENDED_LE + SM_RESPONSE_OVERHEAD + SW_BYTES
    ne = cmd.le or 0
    if cmd.cla & _SM_CLA == _SM_CLA and cmd.data:
        ne = 0
        try:
            for do in iter_tlvs(cmd.data):
                if do.tag == _DO_LE and 1 <= len(do.value) <= 2:
                    ne = int.from_bytes(do.value, "big") or (
                        MAX_SHORT_LE if len(do.value) == 1 else MAX_EXTENDED_LE)
        except TLVError:
            ne = cmd.le or 0
    return ne + SM_RESPONSE_OVERHEAD + SW_BYTES


@dataclass
class Outcome(Generic[T]):
    """How one flow ended: its return value, or the error it raised."""

    value: Any = None
    error: EmrtdError | None = None

    def __repr__(self) -> str:   # values may be document bytes
        return f"Outcome({'error ' + type(self.error).__name__ if self.error else 'ok'})"

    def get(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


@dataclass
class Pending:
    """A flow stopped before sending ``step``; finish it with :func:`resume`."""

    flow: Flow[Any]
    step: Step

    def __repr__(self) -> str:
        return "Pending()"


Result = Union[Outcome[Any], Pending]


def _size(step: Step) -> int:
    return len(step) if isinstance(step, tuple) else 1


def _commands(step: Step) -> tuple[CommandAPDU, ...]:
    return step if isinstance(step, tuple) else (step,)


def _answer(step: Step, responses: Sequence[ResponseAPDU]) -> Answer:
    return tuple(responses) if isinstance(step, tuple) else responses[0]


def resume(flow: Flow[T], step: Step) -> Flow[T]:
    """Continue a flow whose next step is ``step`` (not yet sent)."""
    while True:
        answer = yield step
        try:
            step = flow.send(answer)
        except StopIteration as done:
            return returned(flow, done)


def _settle(flow: Flow[Any], answer: Answer) -> tuple[Result | None, Step | None]:
    """Send a flow its answer: (its outcome, None) if it ended, (None, next step) if not."""
    try:
        step = flow.send(answer)
    except StopIteration as done:
        return Outcome(done.value), None
    except SecureMessagingError:
        raise
    except EmrtdError as exc:
        return Outcome(error=exc), None
    return None, step


def _run_alone(flow: Flow[Any]) -> Flow[Outcome[Any]]:
    try:
        value = yield from flow
    except SecureMessagingError:
        raise
    except EmrtdError as exc:
        return Outcome(error=exc)
    return Outcome(value)


def together(factories: Sequence[Callable[[], Flow[Any]]], pipeline: int, *,
             suspend_last: bool = False,
             max_answer_bytes: int = MAX_BURST_ANSWER_BYTES) -> Flow[list[Result]]:
    """Run the flows made by ``factories`` in order, first steps pipelined, up to
    ``pipeline`` commands and ``max_answer_bytes`` of possible answers
    (:func:`plain_answer_limit`) per burst; one :class:`Outcome` per flow, the
    last one a :class:`Pending` when ``suspend_last`` and it had more to do.

    Errors of the documented types end only their own flow (its Outcome holds
    them); a Secure Messaging failure ends the whole burst.
    """
    if pipeline < 1:
        raise ValueError("pipeline must be at least 1")
    n = len(factories)
    results: list[Result | None] = [None] * n
    i = 0
    while i < n:
        burst: list[tuple[int, Flow[Any], Step]] = []
        used = 0
        answer_bytes = 0
        j = i
        while j < n:
            flow = factories[j]()
            try:
                step = next(flow)
            except StopIteration as done:   # a flow that needs no command at all
                results[j] = Outcome(done.value)
                j += 1
                continue
            except SecureMessagingError:
                raise
            except EmrtdError as exc:
                results[j] = Outcome(error=exc)
                j += 1
                continue
            step_bytes = sum(plain_answer_limit(c) for c in _commands(step))
            if burst and (used + _size(step) > pipeline or answer_bytes + step_bytes > max_answer_bytes):
                flow.close()
                break
            burst.append((j, flow, step))
            used += _size(step)
            answer_bytes += step_bytes
            j += 1
        if not burst:
            break
        cmds = tuple(c for _, _, step in burst for c in _commands(step))
        answers = yield (cmds if len(cmds) > 1 else cmds[0])
        responses = answers if isinstance(answers, tuple) else (answers,)
        at = 0
        i = burst[-1][0] + 1
        for k, (idx, flow, step) in enumerate(burst):
            mine = responses[at:at + _size(step)]
            at += _size(step)
            outcome, nxt = _settle(flow, _answer(step, mine))
            if nxt is None:
                results[idx] = outcome
                continue
            last = k == len(burst) - 1
            if last and suspend_last and idx == n - 1:
                results[idx] = Pending(flow, nxt)
            elif last:
                results[idx] = yield from _run_alone(resume(flow, nxt))
            else:
                # Later commands of this burst moved the current file: this flow
                # and everything after it start again, this one on its own.
                flow.close()
                for _, later, _ in burst[k + 1:]:
                    later.close()
                results[idx] = yield from _run_alone(factories[idx]())
                i = idx + 1
                break
    finished = [r for r in results if r is not None]
    assert len(finished) == n
    return finished
