"""The session's phase table: the allowed moves, and a forbidden one raised as a bug."""
import pytest

from docval.errors import ServerError
from docval.ws.phases import ForbiddenTransition, Phase, SessionPhase


def _at(*path: Phase) -> SessionPhase:
    phases = SessionPhase()
    for to in path:
        phases.transition(to)
    return phases


def test_a_full_session_walks_the_table():
    phases = _at(Phase.AWAIT_START, Phase.READING, Phase.POSTING, Phase.CLOSING, Phase.CLOSED)
    assert phases.state == "closed"


def test_the_phone_leaving_mid_read_closes_directly():
    assert _at(Phase.AWAIT_START, Phase.READING, Phase.CLOSED).state is Phase.CLOSED


@pytest.mark.parametrize("path", [
    (Phase.READING,),                                   # reading before the StartMessage
    (Phase.AWAIT_START, Phase.POSTING),                 # posting without a read
    (Phase.AWAIT_START, Phase.READING, Phase.POSTING, Phase.READING),
    (Phase.CLOSED, Phase.AWAIT_START),                  # a closed session never reopens
    (Phase.AWAIT_START, Phase.CLOSING, Phase.CLOSING),
])
def test_forbidden_moves_raise_and_keep_the_phase(path):
    phases = _at(*path[:-1])
    before = phases.state
    with pytest.raises(ForbiddenTransition) as info:
        phases.transition(path[-1])
    assert isinstance(info.value, ServerError) and phases.state is before
