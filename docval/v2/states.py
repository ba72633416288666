"""Which phone message a v2 session accepts when (docs/websocket-api-v2.md, session states).

Two tables tell the whole story, in the style of docval/ws/phases.py:

* :data:`INBOUND`: per state, the message kinds that are handled and those that are
  silently ignored; any other kind closes the session with UNEXPECTED_MESSAGE.
* :data:`TRANSITIONS`: the moves between states.  A move the table does not list is a
  bug in the session code and raises :class:`ForbiddenTransition` (a server error).

::

    WAIT_START --ACCEPT sent--> READING --CA_HANDOVER--> CA_RELAY --CA_HANDBACK sent--> READING_AFTER_CA
                                   |                                                        |
                                   +--FINISH--> FINISHED <----------------FINISH------------+
    (any state) --> CLOSED

:class:`Conversation` adds the rules that need memory: START once; CA_HANDOVER once and
only after the phone sent ``dg14``; no file name twice (except a phone ``dg1`` after the
server sent its own, which is ignored and flagged); FINISH only once ``sod`` arrived (else
FILE_READ_ERROR, as v1's "mandatory file could not be read"); files after FINISH refused;
APDU frames only while a relayed command is outstanding (one at a time, no pipelining).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from docval.emrtd.errors import FileReadError
from docval.errors import ServerError, UnexpectedMessage
from docval.v2 import wire
from docval.v2.wire import APDU, CA_HANDOVER, FILE, FINISH, MONITORING, START


class State(StrEnum):
    WAIT_START = "wait_start"              # handshake done, no ACCEPT sent yet
    READING = "reading"                    # ACCEPT sent: the phone reads and sends files
    CA_RELAY = "ca_relay"                  # CA_HANDOVER received: the server relays APDUs
    READING_AFTER_CA = "reading_after_ca"  # CA_HANDBACK sent: the phone reads the rest
    FINISHED = "finished"                  # FINISH received: assessing, posting, answering
    CLOSED = "closed"                      # the session is over (closed by either side)


@dataclass(frozen=True)
class Inbound:
    handled: frozenset[str]
    ignored: frozenset[str] = frozenset()


_ALL = frozenset({START, CA_HANDOVER, FINISH, MONITORING, FILE, APDU})

INBOUND: dict[State, Inbound] = {
    # MONITORING only after START: Conversation.receive enforces the "after".
    State.WAIT_START: Inbound(frozenset({START, MONITORING})),
    State.READING: Inbound(frozenset({FILE, MONITORING, CA_HANDOVER, FINISH})),
    State.CA_RELAY: Inbound(frozenset({APDU, MONITORING})),
    State.READING_AFTER_CA: Inbound(frozenset({FILE, MONITORING, FINISH})),
    # After FINISH the phone may do anything before it closes (iOS disconnects at once),
    # except send more files (decision 11: a file after FINISH is refused).
    State.FINISHED: Inbound(frozenset(), _ALL - {FILE}),
    State.CLOSED: Inbound(frozenset(), _ALL),
}

TRANSITIONS: dict[State, frozenset[State]] = {
    State.WAIT_START: frozenset({State.READING, State.CLOSED}),
    State.READING: frozenset({State.CA_RELAY, State.FINISHED, State.CLOSED}),
    State.CA_RELAY: frozenset({State.READING_AFTER_CA, State.CLOSED}),
    State.READING_AFTER_CA: frozenset({State.FINISHED, State.CLOSED}),
    State.FINISHED: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}


class ForbiddenTransition(ServerError):
    """The session code tried a move the table does not allow (a bug; closes as a server error)."""


def check(state: State, kind: str) -> bool:
    """True: handle a message of ``kind`` in ``state``; False: ignore it; otherwise raise
    UnexpectedMessage (the message names the kind and state, both ours)."""
    rule = INBOUND[state]
    if kind in rule.handled:
        return True
    if kind in rule.ignored:
        return False
    raise UnexpectedMessage(f"{kind if kind in _ALL else 'an unknown message'} is not allowed in state {state}")


class Conversation:
    """The v2 session's protocol state: feed it every inbound message (:meth:`receive`) and
    tell it what the server sent (:meth:`accept_sent`, :meth:`command_sent`, ...)."""

    def __init__(self) -> None:
        self.state = State.WAIT_START
        self.started = False
        self.phone_files: list[str] = []          # in arrival order, each name once
        self.handover = False
        #: The phone's dg14 was in hand when CA_HANDOVER came (the CA key must come from it).
        self.dg14_before_handover = False
        self.server_dg1_sent = False
        #: The phone sent a ``dg1`` although the server read its own (before or after the
        #: server's FILE ``dg1``): the server's copy is the one to use, the mismatch is logged.
        self.phone_dg1_ignored = False
        self.command_outstanding = False

    def move(self, to: State) -> None:
        if to not in TRANSITIONS[self.state]:
            raise ForbiddenTransition(f"v2 session state {self.state} cannot move to {to}")
        self.state = to

    # --- inbound ----------------------------------------------------------------------------

    def receive(self, msg: wire.Inbound) -> bool:
        """Apply every rule to one parsed phone message.  Returns False when the message is
        to be ignored (after FINISH, after close, or a phone ``dg1`` after the server's);
        raises UnexpectedMessage, or FileReadError for a FINISH without ``sod``."""
        if not check(self.state, msg.kind):
            return False
        if msg.kind == START:
            if self.started:
                raise UnexpectedMessage("a second START")
            self.started = True
        elif msg.kind == MONITORING:
            if not self.started:
                raise UnexpectedMessage("MONITORING before START")
        elif isinstance(msg, wire.FileFrame):
            return self._file(msg.name)
        elif msg.kind == CA_HANDOVER:
            # Only in READING (the table), so at most once: READING is never re-entered.
            if "dg14" not in self.phone_files:
                raise UnexpectedMessage("CA_HANDOVER before the phone sent dg14")
            self.handover = True
            self.dg14_before_handover = True
            self.move(State.CA_RELAY)
        elif msg.kind == APDU:
            if not self.command_outstanding:
                raise UnexpectedMessage("an APDU frame while no command is outstanding")
            self.command_outstanding = False
        elif msg.kind == FINISH:
            if "sod" not in self.phone_files:
                raise FileReadError("EF.SOD was not sent before FINISH")
            self.move(State.FINISHED)
        return True

    def _file(self, name: str) -> bool:
        if name in self.phone_files:
            raise UnexpectedMessage(f"file {name} sent twice")
        self.phone_files.append(name)
        if name == "dg1" and self.server_dg1_sent:
            # The server's DG1, read under the CA keys, is authoritative; the phone's copy
            # (an iOS race, or a lie) is dropped and the mismatch noted.
            self.phone_dg1_ignored = True
            return False
        return True

    # --- outbound ---------------------------------------------------------------------------

    def accept_sent(self) -> None:
        if not self.started:
            raise ForbiddenTransition("ACCEPT before START")
        self.move(State.READING)

    def command_sent(self) -> None:
        """One relayed command went out; its response is the only APDU frame allowed next."""
        if self.state is not State.CA_RELAY:
            raise ForbiddenTransition(f"an APDU command in state {self.state}")
        if self.command_outstanding:
            raise ForbiddenTransition("a second APDU command before the first was answered")
        self.command_outstanding = True

    def server_dg1_sending(self) -> None:
        """The server is about to send its FILE ``dg1`` (before CA_HANDBACK)."""
        if self.state is not State.CA_RELAY or self.command_outstanding:
            raise ForbiddenTransition(f"the server's dg1 in state {self.state}")
        self.server_dg1_sent = True
        if "dg1" in self.phone_files:
            self.phone_dg1_ignored = True     # the phone's earlier copy is superseded

    def handback_sent(self) -> None:
        if not self.server_dg1_sent:
            # Android closes with PROTOCOL_ERROR when dg1 did not come first.
            raise ForbiddenTransition("CA_HANDBACK before the server's dg1")
        self.move(State.READING_AFTER_CA)

    def closed(self) -> None:
        if self.state is not State.CLOSED:
            self.move(State.CLOSED)

    def __repr__(self) -> str:
        return (f"Conversation(state={self.state}, files={self.phone_files}, handover={self.handover}, "
                f"phone_dg1_ignored={self.phone_dg1_ignored})")
