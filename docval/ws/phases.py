"""The phases of one WebSocket session and the moves allowed between them.

Modelled on h11's ``_state.py``: the table is the whole story of a session's life, and a move
it does not list is a bug in the session code, raised rather than silently taken.

    connecting --> await_start --> reading --> posting --> closing --> closed
                        |             |           |                      ^
                        +-------------+-----------+--> closing ----------+
                        +-------------+-----------+----------------------+   (the phone left first)

``reading`` may skip ``posting`` (a client without a Result Server gets its result on the
WebSocket only); a connection that never opened goes straight to ``closed``.
"""
from __future__ import annotations

from enum import StrEnum

from docval.errors import ServerError


class Phase(StrEnum):
    CONNECTING = "connecting"
    AWAIT_START = "await_start"
    READING = "reading"
    POSTING = "posting"
    CLOSING = "closing"
    CLOSED = "closed"


_ALLOWED: dict[Phase, frozenset[Phase]] = {
    Phase.CONNECTING: frozenset({Phase.AWAIT_START, Phase.CLOSED}),
    Phase.AWAIT_START: frozenset({Phase.READING, Phase.CLOSING, Phase.CLOSED}),
    Phase.READING: frozenset({Phase.POSTING, Phase.CLOSING, Phase.CLOSED}),
    Phase.POSTING: frozenset({Phase.CLOSING, Phase.CLOSED}),
    Phase.CLOSING: frozenset({Phase.CLOSED}),
    Phase.CLOSED: frozenset(),
}

#: Phases in which the session is live: it owns timers and ends by closing from our side.
OPEN = frozenset({Phase.AWAIT_START, Phase.READING, Phase.POSTING})


class ForbiddenTransition(ServerError):
    """The session code tried a move the table does not allow (a bug; closes as a server error)."""


class SessionPhase:
    def __init__(self) -> None:
        self.state = Phase.CONNECTING

    def transition(self, to: Phase) -> None:
        if to not in _ALLOWED[self.state]:
            raise ForbiddenTransition(f"session phase {self.state} cannot move to {to}")
        self.state = to
