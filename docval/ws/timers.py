"""Autobahn's internal timers on an injected clock.

Autobahn schedules its handshake timeouts through ``factory._batched_timer``,
which normally uses the global reactor.  Replacing it with this object puts
them on the same ``IReactorTime`` as the session's own timers, so tests drive
every timeout with one ``task.Clock`` and can check that none is left behind.
"""
from __future__ import annotations

from typing import Any, Callable

from twisted.internet.interfaces import IReactorTime


class ClockTimer:
    def __init__(self, clock: IReactorTime):
        self._clock = clock

    def call_later(self, delay: float, func: Callable[..., Any], *args: Any, **kwargs: Any) -> "TolerantCall":
        return TolerantCall(self._clock.callLater(delay, func, *args, **kwargs))


class TolerantCall:
    """An IDelayedCall whose cancel() is a no-op once it has run or been cancelled
    (Autobahn cancels some timers without checking)."""

    def __init__(self, call: Any):
        self._call = call

    def active(self) -> bool:
        return bool(self._call.active())

    def cancel(self) -> None:
        if self._call.active():
            self._call.cancel()
