"""The Scheduler on its own: reads ahead, pending reads, sizes; against a plain virtual chip."""
from docval.emrtd import files, tlv
from docval.emrtd.apdu import MAX_SHORT_LE
from docval.prefetch import MAX_RESPONSE_BYTES, MIN_RESPONSE_BYTES, Scheduler
from docval.sim.chip import VirtualChip
from docval.sim.direct import ChipTransport

from bench.classic import ClassicScheduler

SMALL = tlv.encode(0x31, bytes(range(20)))
LARGE = tlv.encode(0x31, bytes(i % 251 for i in range(600)))


def scheduler(*, pipeline=4, extended=True, declared=64, kind=Scheduler):
    """A chip whose master file holds a small EF.ATR/INFO and a 600-byte EF.CardAccess,
    read 64 bytes at a time."""
    transport = ChipTransport(VirtualChip({files.ATR_INFO: SMALL, files.CARD_ACCESS: LARGE}))
    io = kind(transport, extended=extended, max_command_bytes=None, max_pipelined=pipeline, caps=files.FileCaps())
    io.size_answers(declared)
    return io, transport


def run(coro):
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("the scheduler waited on something other than the chip")


def test_files_read_ahead_are_served_without_another_round_trip():
    io, t = scheduler(declared=None)
    run(io.prefetch([files.ATR_INFO, files.CARD_ACCESS]))
    assert t.round_trips == 1
    assert run(io.fetch(files.ATR_INFO)) == SMALL
    assert run(io.fetch(files.CARD_ACCESS)) == LARGE
    assert t.round_trips == 1


def test_a_pending_read_continues_where_it_stopped():
    io, t = scheduler()
    run(io.prefetch([files.ATR_INFO, files.CARD_ACCESS]))
    assert io.has_ahead([files.CARD_ACCESS])
    sent = t.apdus
    assert run(io.fetch(files.CARD_ACCESS)) == LARGE
    # 600 bytes in 64-byte reads: ten reads, the first already in the burst.
    assert t.apdus - sent == len(LARGE) // 64


def test_a_pending_read_starts_again_after_another_command():
    io, t = scheduler()
    run(io.prefetch([files.ATR_INFO, files.CARD_ACCESS]))
    run(io.run(files.select_master_file()))      # the chip's current file may have changed
    sent = t.apdus
    assert run(io.fetch(files.CARD_ACCESS)) == LARGE
    assert t.apdus - sent == len(LARGE) // 64 + 1


def test_discard_and_forget_drop_what_was_read_ahead():
    io, _ = scheduler()
    run(io.prefetch([files.ATR_INFO, files.CARD_ACCESS]))
    io.discard(files.CARD_ACCESS)
    assert not io.has_ahead([files.CARD_ACCESS]) and io.has_ahead([files.ATR_INFO])
    io.forget()
    assert not io.has_ahead([files.ATR_INFO])


def test_run_ahead_returns_the_flow_result_and_keeps_the_reads():
    io, t = scheduler(declared=None)
    run(io.run_ahead(files.select_master_file(), [files.ATR_INFO]))
    assert t.round_trips == 1 and io.has_ahead([files.ATR_INFO])
    assert run(io.fetch(files.ATR_INFO)) == SMALL and t.round_trips == 1


def test_prefetch_behind_adds_a_read_to_the_pending_files_last_burst():
    io, t = scheduler(pipeline=16)
    run(io.prefetch([files.CARD_ACCESS]))        # pending after its first 64 bytes
    run(io.prefetch_behind(files.CARD_ACCESS, files.ATR_INFO))
    # The nine reads left and EF.ATR/INFO's first in one burst.
    assert t.round_trips == 2
    assert run(io.fetch(files.CARD_ACCESS)) == LARGE
    assert run(io.fetch(files.ATR_INFO)) == SMALL
    assert t.round_trips == 2


def test_prefetch_behind_waits_when_the_pending_file_fills_its_next_burst():
    io, t = scheduler(pipeline=4)
    run(io.prefetch([files.CARD_ACCESS]))
    run(io.prefetch_behind(files.CARD_ACCESS, files.ATR_INFO))
    assert t.round_trips == 1 and not io.has_ahead([files.ATR_INFO])
    assert run(io.fetch(files.CARD_ACCESS)) == LARGE


def test_without_pipelining_nothing_rides_along():
    io, t = scheduler(pipeline=1)
    assert not io.pipelining and io.pipeline == 1
    run(io.prefetch_behind(files.CARD_ACCESS, files.ATR_INFO))
    assert t.round_trips == 0 and not io.has_ahead([files.ATR_INFO])


def test_answer_sizes_are_clamped():
    io, _ = scheduler(declared=1)
    assert io.max_response == MIN_RESPONSE_BYTES
    io.size_answers(10 ** 9)
    assert io.max_response == MAX_RESPONSE_BYTES
    io.size_answers(None, short_cap=100)
    assert io.max_response == 100
    io, _ = scheduler(extended=False, declared=4096)
    assert io.max_response == MAX_SHORT_LE and not io.limits.extended


def test_what_the_chip_taught_holds_for_the_session():
    io, _ = scheduler(declared=None)
    io.limits.learn_max_le(200)
    io.limits.use_sfi = False
    io.size_answers(None)
    assert io.limits.max_le == 200 and not io.limits.use_sfi
    io.new_link()
    io.resize()
    assert io.limits.max_le == 200


def test_the_classic_strategy_ignores_what_the_phone_offers():
    io, t = scheduler(kind=ClassicScheduler, pipeline=16, declared=None)
    assert not io.pipelining
    limits = io.limits
    assert (limits.use_sfi, limits.first_read, limits.pipeline, limits.extended) == (False, files.CLASSIC_FIRST_READ, 1, False)
    assert run(io.fetch(files.CARD_ACCESS)) == LARGE
    assert t.round_trips == t.apdus
