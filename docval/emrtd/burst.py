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

The last flow may also be *suspended* (:class:`Pending`) instead of continued,
so that the caller finishes it later -- e.g. when its status step comes -- as
long as no command is sent in between (the caller checks that).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, Sequence, TypeVar, Union

from docval.emrtd.apdu import CommandAPDU, ResponseAPDU
from docval.emrtd.errors import EmrtdError, SecureMessagingError
from docval.emrtd.flow import Answer, Flow, Step

T = TypeVar("T")


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
            return done.value


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
             suspend_last: bool = False) -> Flow[list[Result]]:
    """Run the flows made by ``factories`` in order, first steps pipelined, up to
    ``pipeline`` commands per burst; one :class:`Outcome` per flow, the last one a
    :class:`Pending` when ``suspend_last`` and it had more to do.

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
            if burst and used + _size(step) > pipeline:
                flow.close()
                break
            burst.append((j, flow, step))
            used += _size(step)
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
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]
