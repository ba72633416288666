"""together(): first steps of several flows in one burst, never an answer accepted out of order."""
from __future__ import annotations

import random

import pytest

from docval.emrtd import tlv
from docval.emrtd.apdu import CommandAPDU, ResponseAPDU
from docval.emrtd.burst import Outcome, Pending, resume, together
from docval.emrtd.crypto import AES128
from docval.emrtd.errors import FileNotFoundOnChip, SecureMessagingError, StatusError
from docval.emrtd.files import EF_SOD, ReadLimits, dg, read_file, select_application
from docval.emrtd.flow import Link, run
from docval.emrtd.sm import SecureMessaging
from docval.sim.chip import ChipQuirks, VirtualChip
from tests.support.flows import drive


def cmd(n: int) -> CommandAPDU:
    return CommandAPDU(0x00, 0xB0, 0, n, le=1)


def one_step(n: int):
    resp = yield cmd(n)
    if resp.sw != 0x9000:
        raise StatusError(resp.sw, f"flow {n}")
    return resp.data


def two_steps(n: int):
    first = yield cmd(n)
    second = yield cmd(n + 100)
    return first.data + second.data


class Script:
    """Drives a flow, answering each command with its P2 as data, and records every burst."""

    def __init__(self, fail: set[int] = frozenset()):
        self.bursts: list[list[int]] = []
        self.fail = fail

    def answer(self, c: CommandAPDU) -> ResponseAPDU:
        if c.p2 in self.fail:
            return ResponseAPDU(b"", 0x6A82)
        return ResponseAPDU(bytes([c.p2]), 0x9000)

    def drive(self, flow):
        try:
            step = next(flow)
            while True:
                cmds = step if isinstance(step, tuple) else (step,)
                self.bursts.append([c.p2 for c in cmds])
                answers = tuple(self.answer(c) for c in cmds)
                step = flow.send(answers if isinstance(step, tuple) else answers[0])
        except StopIteration as done:
            return done.value


def values(results):
    return [r.get() for r in results]


def test_first_steps_share_one_burst_and_answers_go_to_their_flows():
    s = Script()
    results = s.drive(together([lambda n=n: one_step(n) for n in (1, 2, 3)], 16))
    assert s.bursts == [[1, 2, 3]]
    assert values(results) == [b"\x01", b"\x02", b"\x03"]


def test_bursts_never_exceed_the_pipeline_depth():
    s = Script()
    results = s.drive(together([lambda n=n: one_step(n) for n in range(1, 6)], 2))
    assert s.bursts == [[1, 2], [3, 4], [5]]
    assert values(results) == [bytes([n]) for n in range(1, 6)]


def test_depth_one_sends_one_command_per_round_trip():
    s = Script()
    s.drive(together([lambda n=n: one_step(n) for n in (1, 2)], 1))
    assert s.bursts == [[1], [2]]


def test_an_error_ends_only_its_own_flow():
    s = Script(fail={2})
    results = s.drive(together([lambda n=n: one_step(n) for n in (1, 2, 3)], 16))
    assert s.bursts == [[1, 2, 3]]
    assert results[0].get() == b"\x01" and results[2].get() == b"\x03"
    with pytest.raises(StatusError):
        results[1].get()


def test_an_unfinished_flow_before_others_runs_again_alone_and_so_do_the_later_ones():
    # Flow 2 needs a second step, but flow 3's command already went after it: flow 2's
    # answers are thrown away and it runs again from scratch, then flow 3 again.
    s = Script()
    factories = [lambda: one_step(1), lambda: two_steps(2), lambda: one_step(3)]
    results = s.drive(together(factories, 16))
    assert s.bursts == [[1, 2, 3], [2], [102], [3]]
    assert values(results) == [b"\x01", b"\x02\x66", b"\x03"]


def test_the_last_flow_continues_in_place():
    s = Script()
    results = s.drive(together([lambda: one_step(1), lambda: two_steps(2)], 16))
    assert s.bursts == [[1, 2], [102]]
    assert values(results) == [b"\x01", b"\x02\x66"]


def test_the_last_flow_can_be_suspended_and_resumed_later():
    s = Script()
    results = s.drive(together([lambda: one_step(1), lambda: two_steps(2)], 16, suspend_last=True))
    assert s.bursts == [[1, 2]]
    assert isinstance(results[1], Pending) and "\\x" not in repr(results[1])
    assert s.drive(resume(results[1].flow, results[1].step)) == b"\x02\x66"
    assert s.bursts == [[1, 2], [102]]


def test_a_finished_last_flow_is_not_pending():
    s = Script()
    results = s.drive(together([lambda: one_step(1)], 16, suspend_last=True))
    assert isinstance(results[0], Outcome) and results[0].get() == b"\x01"


def test_tuple_steps_count_every_command():
    def pair(n):
        a, b = yield (cmd(n), cmd(n + 1))
        return a.data + b.data

    s = Script()
    results = s.drive(together([lambda: pair(1), lambda: pair(3), lambda: pair(5)], 4))
    assert s.bursts == [[1, 2, 3, 4], [5, 6]]
    assert values(results) == [b"\x01\x02", b"\x03\x04", b"\x05\x06"]


def test_secure_messaging_errors_are_not_swallowed():
    def broken():
        yield cmd(1)
        raise SecureMessagingError("x")

    with pytest.raises(SecureMessagingError):
        Script().drive(together([broken, lambda: one_step(2)], 16))


def test_flows_that_end_or_fail_before_their_first_command_take_no_room():
    def no_command():
        return b"cached"
        yield  # unreachable: makes this a generator

    def refused():
        raise FileNotFoundOnChip("known absent")
        yield  # unreachable: makes this a generator

    s = Script()
    results = s.drive(together([no_command, refused, lambda: one_step(3), no_command], 1))
    assert s.bursts == [[3]]
    assert results[0].get() == b"cached" and results[3].get() == b"cached" and results[2].get() == b"\x03"
    with pytest.raises(FileNotFoundOnChip):
        results[1].get()
    assert values(s.drive(together([no_command, no_command], 4))) == [b"cached", b"cached"]
    assert s.bursts == [[3]]                                # no command at all for those


def test_secure_messaging_error_before_the_first_command_ends_the_burst():
    def broken():
        raise SecureMessagingError("x")
        yield  # unreachable: makes this a generator

    with pytest.raises(SecureMessagingError):
        Script().drive(together([lambda: one_step(1), broken], 16))


def test_outcome_repr_shows_no_data():
    assert "\\x" not in repr(Outcome(b"\x01secret"))
    assert repr(Outcome(error=FileNotFoundOnChip("x"))) == "Outcome(error FileNotFoundOnChip)"


def test_rejects_a_zero_pipeline():
    with pytest.raises(ValueError):
        next(together([lambda: one_step(1)], 0))


# -- against the virtual chip, through Secure Messaging ----------------------------------

_rand = random.Random(7)
FILES = {dg(1): tlv.encode(0x61, _rand.randbytes(90)), dg(11): tlv.encode(0x6B, _rand.randbytes(40)),
         dg(12): tlv.encode(0x6C, _rand.randbytes(3000)), dg(2): tlv.encode(0x75, _rand.randbytes(20000)),
         EF_SOD: tlv.encode(0x77, _rand.randbytes(1500))}


def sm_chip(quirks: ChipQuirks):
    chip = VirtualChip(app_files=FILES, quirks=quirks)
    link = Link()
    run(select_application(), link, chip.transmit)
    k_enc, k_mac = bytes(range(16)), bytes(range(16, 32))
    chip.start_sm(SecureMessaging(AES128, k_enc, k_mac, 0))
    chip.access_granted = True
    link.start(SecureMessaging(AES128, k_enc, k_mac, 0))
    return chip, link


def drive_bursts(flow, link, chip):
    """The flow's result and its commands per round trip (a tuple step is one trip)."""
    driven = drive(flow, transmit=chip.transmit, link=link)
    return driven.result, driven.bursts


@pytest.mark.parametrize("quirks", [
    ChipQuirks(),
    ChipQuirks(sfi=False),                                   # every file needs SELECT + READ
    ChipQuirks(extended_length=False, max_le=200, too_long_sw="6C"),
    ChipQuirks(max_le=1000, too_long_sw="6700"),
], ids=["plain", "no-sfi", "6Cxx", "6700"])
@pytest.mark.parametrize("pipeline", [2, 16])
def test_files_read_together_come_back_byte_for_byte(quirks, pipeline):
    chip, link = sm_chip(quirks)
    refs = [dg(1), dg(11), dg(12), dg(2)]
    limits = ReadLimits(max_le=4096 if quirks.extended_length else 223,
                        extended=quirks.extended_length, pipeline=pipeline)
    flow = together([lambda ref=ref: read_file(ref, limits) for ref in refs], pipeline)
    results, trips = drive_bursts(flow, link, chip)
    assert [r.get() for r in results] == [FILES[ref] for ref in refs]
    assert max(trips) <= pipeline


def test_small_files_cost_one_round_trip_together():
    chip, link = sm_chip(ChipQuirks())
    limits = ReadLimits(max_le=1024, extended=True, pipeline=16)
    refs = [dg(1), dg(11), EF_SOD]
    results, trips = drive_bursts(together([lambda ref=ref: read_file(ref, limits) for ref in refs], 16),
                                  link, chip)
    assert [r.get() for r in results] == [FILES[ref] for ref in refs]
    assert trips == [3, 1]       # SOD (1.5 KB) needs one more read, pipelined after its first


def test_select_and_first_read_ride_together_and_the_read_resumes_later():
    chip, link = sm_chip(ChipQuirks())
    limits = ReadLimits(max_le=223, extended=False, pipeline=16)
    results, trips = drive_bursts(
        together([select_application, lambda: read_file(EF_SOD, limits)], 16, suspend_last=True), link, chip)
    assert trips == [2] and results[0].get() is None
    pending = results[1]
    assert isinstance(pending, Pending)
    data, more = drive_bursts(resume(pending.flow, pending.step), link, chip)
    assert data == FILES[EF_SOD] and len(more) == 1


def test_a_missing_file_is_its_own_error():
    chip, link = sm_chip(ChipQuirks())
    limits = ReadLimits(max_le=1024, extended=True, pipeline=16)
    refs = [dg(1), dg(7), dg(11)]
    results, _ = drive_bursts(together([lambda ref=ref: read_file(ref, limits) for ref in refs], 16), link, chip)
    assert results[0].get() == FILES[dg(1)] and results[2].get() == FILES[dg(11)]
    with pytest.raises(FileNotFoundOnChip):
        results[1].get()
