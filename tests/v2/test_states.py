"""docval.v2.states: the §4.5 table state by state, and every rule that needs memory."""
from __future__ import annotations

import pytest

from docval.emrtd.errors import FileReadError
from docval.errors import UnexpectedMessage, close_for
from docval.v2 import wire
from docval.v2.states import INBOUND, TRANSITIONS, Conversation, ForbiddenTransition, State, check

S, F, H, M, FI, A = wire.START, wire.FINISH, wire.CA_HANDOVER, wire.MONITORING, wire.FILE, wire.APDU
ALL = (S, H, F, M, FI, A)

# (state, kind) -> "handle" | "ignore" | "refuse": the whole table, written out.
EXPECTED = {
    State.WAIT_START: {S: "handle", M: "handle", H: "refuse", F: "refuse", FI: "refuse", A: "refuse"},
    State.READING: {S: "refuse", M: "handle", H: "handle", F: "handle", FI: "handle", A: "refuse"},
    State.CA_RELAY: {S: "refuse", M: "handle", H: "refuse", F: "refuse", FI: "refuse", A: "handle"},
    State.READING_AFTER_CA: {S: "refuse", M: "handle", H: "refuse", F: "handle", FI: "handle", A: "refuse"},
    State.FINISHED: {S: "ignore", M: "ignore", H: "ignore", F: "ignore", FI: "refuse", A: "ignore"},
    State.CLOSED: {S: "ignore", M: "ignore", H: "ignore", F: "ignore", FI: "ignore", A: "ignore"},
}


@pytest.mark.parametrize("state,kind", [(s, k) for s in State for k in ALL])
def test_check(state, kind):
    expected = EXPECTED[state][kind]
    if expected == "refuse":
        with pytest.raises(UnexpectedMessage) as exc:
            check(state, kind)
        assert close_for(exc.value).reason == "UNEXPECTED_MESSAGE"
    else:
        assert check(state, kind) is (expected == "handle")


def test_every_state_has_rules_and_moves():
    assert set(INBOUND) == set(State) == set(TRANSITIONS)
    assert TRANSITIONS[State.CLOSED] == frozenset()
    assert all(State.CLOSED in TRANSITIONS[s] for s in State if s is not State.CLOSED)


# --- messages -----------------------------------------------------------------------------

START = wire.StartMsg("v", "c", "android", True, False)
HANDOVER = wire.HandoverMsg(256, 223, {})
FINISH = wire.FinishMsg(True, None)
MON = wire.MonitoringMsg("Step: READ_DG2")
APDU = wire.ApduFrame(b"\x90\x00")


def file(name):
    return wire.FileFrame(name, b"\x01")


def reading() -> Conversation:
    c = Conversation()
    assert c.receive(START)
    c.accept_sent()
    assert c.state is State.READING
    return c


def relaying() -> Conversation:
    c = reading()
    assert c.receive(file("dg14"))
    assert c.receive(HANDOVER)
    assert c.state is State.CA_RELAY and c.handover and c.dg14_before_handover
    return c


def after_ca() -> Conversation:
    c = relaying()
    c.command_sent()
    assert c.receive(APDU)
    c.server_dg1_sending()
    c.handback_sent()
    assert c.state is State.READING_AFTER_CA
    return c


def test_the_ca_case_end_to_end():
    c = after_ca()
    for name in ("dg2", "dg15", "sod"):
        assert c.receive(file(name))
    assert c.receive(MON)
    assert c.receive(FINISH)
    assert c.state is State.FINISHED
    assert c.phone_files == ["dg14", "dg2", "dg15", "sod"] and not c.phone_dg1_ignored
    c.closed()
    assert c.state is State.CLOSED


def test_the_no_ca_case_end_to_end():
    c = reading()
    for name in ("dg1", "dg2", "dg14", "sod"):
        assert c.receive(file(name))
    assert c.receive(FINISH)
    assert c.state is State.FINISHED and not c.handover and not c.dg14_before_handover


def test_a_second_start_is_unexpected():
    c = Conversation()
    c.receive(START)
    with pytest.raises(UnexpectedMessage, match="second START"):
        c.receive(START)       # before ACCEPT went out
    with pytest.raises(UnexpectedMessage):
        reading().receive(START)


def test_monitoring_only_after_start():
    c = Conversation()
    with pytest.raises(UnexpectedMessage, match="before START"):
        c.receive(MON)
    c.receive(START)
    assert c.receive(MON)


def test_handover_needs_dg14_first():
    c = reading()
    c.receive(file("dg1"))
    with pytest.raises(UnexpectedMessage, match="before the phone sent dg14"):
        c.receive(HANDOVER)


@pytest.mark.parametrize("make", [relaying, after_ca])
def test_handover_only_once(make):
    with pytest.raises(UnexpectedMessage):
        make().receive(HANDOVER)


@pytest.mark.parametrize("make", [reading, after_ca])
def test_duplicate_file_names_are_unexpected(make):
    c = make()
    c.receive(file("dg2"))
    with pytest.raises(UnexpectedMessage, match="dg2 sent twice"):
        c.receive(file("dg2"))


def test_dg14_sent_again_after_the_handover_is_unexpected():
    # The CA key must come from the dg14 in hand at the handover: a second one is refused.
    with pytest.raises(UnexpectedMessage, match="dg14 sent twice"):
        after_ca().receive(file("dg14"))


def test_phone_dg1_after_the_servers_is_ignored_and_flagged():
    c = after_ca()
    assert c.receive(file("dg1")) is False
    assert c.phone_dg1_ignored
    with pytest.raises(UnexpectedMessage):
        c.receive(file("dg1"))       # the second copy is a plain duplicate


def test_phone_dg1_before_the_servers_is_superseded_and_flagged():
    c = reading()
    assert c.receive(file("dg1"))
    c.receive(file("dg14"))
    c.receive(HANDOVER)
    c.server_dg1_sending()
    assert c.phone_dg1_ignored


def test_finish_needs_sod():
    for c in (reading(), after_ca()):
        c.receive(file("dg2"))
        with pytest.raises(FileReadError) as exc:
            c.receive(FINISH)
        assert close_for(exc.value).reason == "FILE_READ_ERROR"


def test_files_after_finish_are_unexpected_everything_else_ignored():
    c = reading()
    c.receive(file("sod"))
    c.receive(FINISH)
    with pytest.raises(UnexpectedMessage):
        c.receive(file("dg2"))
    for msg in (MON, FINISH, START, HANDOVER, APDU):
        assert c.receive(msg) is False


def test_after_close_everything_is_ignored():
    c = reading()
    c.closed()
    c.closed()          # closing twice is harmless
    for msg in (MON, FINISH, START, HANDOVER, APDU, file("dg1")):
        assert c.receive(msg) is False


def test_apdu_frames_only_while_a_command_is_outstanding():
    c = relaying()
    with pytest.raises(UnexpectedMessage, match="no command is outstanding"):
        c.receive(APDU)
    c.command_sent()
    assert c.receive(APDU)
    with pytest.raises(UnexpectedMessage):
        c.receive(APDU)      # one response per command
    for make in (reading, after_ca):
        with pytest.raises(UnexpectedMessage):
            make().receive(APDU)


@pytest.mark.parametrize("msg", [file("dg2"), FINISH], ids=["file", "finish"])
def test_no_files_or_finish_during_the_relay(msg):
    with pytest.raises(UnexpectedMessage):
        relaying().receive(msg)


def test_binary_and_other_types_before_start_are_unexpected():
    for msg in (file("dg1"), APDU, FINISH, HANDOVER):
        with pytest.raises(UnexpectedMessage):
            Conversation().receive(msg)


# --- the server's own moves: out of order is a bug --------------------------------------

def test_server_moves_out_of_order_are_forbidden():
    with pytest.raises(ForbiddenTransition):
        Conversation().accept_sent()                 # before START
    with pytest.raises(ForbiddenTransition):
        reading().command_sent()                     # no relay
    c = relaying()
    c.command_sent()
    with pytest.raises(ForbiddenTransition, match="second APDU command"):
        c.command_sent()                             # no pipelining in v2
    with pytest.raises(ForbiddenTransition):
        c.server_dg1_sending()                       # a command is still outstanding
    with pytest.raises(ForbiddenTransition, match="before the server's dg1"):
        relaying().handback_sent()
    with pytest.raises(ForbiddenTransition):
        after_ca().move(State.CA_RELAY)
    assert close_for(ForbiddenTransition("x")).reason == "SERVER_ERROR"


# --- any order of messages: only the documented outcomes ---------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from docval.errors import SessionError  # noqa: E402

_MESSAGES = [START, HANDOVER, FINISH, MON, APDU] + [file(n) for n in ("dg1", "dg2", "dg14", "dg15", "sod")]
_SERVER = ["accept", "command", "dg1", "handback", "close"]


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(_MESSAGES), st.sampled_from(_SERVER)), max_size=25))
def test_any_sequence_ends_only_in_documented_ways(steps):
    c = Conversation()
    for step in steps:
        try:
            if isinstance(step, str):
                {"accept": c.accept_sent, "command": c.command_sent, "dg1": c.server_dg1_sending,
                 "handback": c.handback_sent, "close": c.closed}[step]()
            else:
                before = c.state
                handled = c.receive(step)
                assert handled in (True, False)
                if not handled:
                    assert before in (State.FINISHED, State.CLOSED) or step.kind == wire.FILE
        except (UnexpectedMessage, FileReadError, ForbiddenTransition) as exc:
            assert close_for(exc).reason in ("UNEXPECTED_MESSAGE", "FILE_READ_ERROR", "SERVER_ERROR")
            assert isinstance(exc, (SessionError, FileReadError))
            return
        # Invariants that hold whatever came before.
        assert len(c.phone_files) == len(set(c.phone_files))
        if c.state is State.FINISHED:
            assert "sod" in c.phone_files
        if c.handover:
            assert "dg14" in c.phone_files
        if c.state is State.READING_AFTER_CA:
            assert c.server_dg1_sent
