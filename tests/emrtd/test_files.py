"""read_file and SELECT flows against scripted chip answers (every recovery path)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from docval.emrtd import files, tlv
from docval.emrtd.apdu import CommandAPDU, ResponseAPDU
from docval.emrtd.errors import (
    CommunicationError,
    EmrtdError,
    FileAccessDenied,
    FileNotFoundOnChip,
    FileReadError,
    LimitExceeded,
    StatusError,
)
from docval.emrtd.files import (
    ATR_INFO,
    CARD_ACCESS,
    EF_COM,
    EF_SOD,
    EMRTD_AID,
    ReadLimits,
    dg,
    read_file,
    select_application,
    select_file,
    select_master_file,
)
from tests.support.flows import Driver


def tlv_file(tag: int, value_len: int) -> bytes:
    return tlv.encode(tag, os.urandom(value_len))


@dataclass
class ScriptedCard:
    """A minimal ISO 7816 file model whose misbehaviour each test switches on."""

    files: dict[int, tuple[int | None, bytes]] = field(default_factory=dict)   # fid -> (sfi, bytes)
    max_le: int = 65536
    too_long: str = "6700"          # or "6C": answer 6Cxx naming max_le
    eof: str = "6282"               # or "6C" (6Cxx naming what is left) or "9000"
    sfi: bool = True
    sfi_refusal: int = 0x6A86
    extended: bool = True
    current: int | None = None

    def answer(self, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.ins == 0xA4:
            fid = int.from_bytes(cmd.data, "big")
            if fid not in self.files:
                return ResponseAPDU(b"", 0x6A82)
            self.current = fid
            return ResponseAPDU(b"", 0x9000)
        if cmd.is_extended and not self.extended:
            return ResponseAPDU(b"", 0x6700)
        if cmd.ins == 0xB0 and cmd.p1 & 0x80:
            if not self.sfi:
                return ResponseAPDU(b"", self.sfi_refusal)
            by_sfi = [fid for fid, (sfi, _) in self.files.items() if sfi == cmd.p1 & 0x1F]
            if not by_sfi:
                return ResponseAPDU(b"", 0x6A82)
            self.current = by_sfi[0]
            offset = cmd.p2
        elif cmd.ins == 0xB0:
            offset = cmd.p1 << 8 | cmd.p2
        else:
            offset = int.from_bytes(tlv.parse_single(cmd.data, 0x54).value, "big")
        if self.current is None:
            return ResponseAPDU(b"", 0x6986)
        content = self.files[self.current][1]
        if cmd.le > self.max_le:
            if self.too_long == "6C":
                return ResponseAPDU(b"", 0x6C00 | (self.max_le & 0xFF))
            return ResponseAPDU(b"", 0x6700)
        if offset > len(content):
            return ResponseAPDU(b"", 0x6B00)
        want = cmd.le
        if cmd.ins == 0xB1:
            want = cmd.le - (2 if cmd.le - 2 < 0x80 else 3 if cmd.le - 3 < 0x100 else 4)
        data = content[offset : offset + want]
        sw = 0x9000
        if len(data) < want:
            if self.eof == "6C":
                return ResponseAPDU(b"", 0x6C00 | (len(data) & 0xFF))
            sw = 0x6282 if self.eof == "6282" else 0x9000
        if cmd.ins == 0xB1:
            data = tlv.encode(0x53, data)
        return ResponseAPDU(data, sw)


def card_with(ref, content: bytes, **kw) -> ScriptedCard:
    return ScriptedCard(files={ref.fid: (ref.sfi, content)}, **kw)


def test_file_table():
    assert files.EMRTD_AID == bytes.fromhex("A0000002471001")
    assert (CARD_ACCESS.fid, CARD_ACCESS.sfi, CARD_ACCESS.in_application) == (0x011C, 0x1C, False)
    assert (ATR_INFO.fid, ATR_INFO.sfi, ATR_INFO.tlv) == (0x2F01, 0x01, False)
    assert (files.CARD_SECURITY.fid, files.CARD_SECURITY.sfi) == (0x011D, 0x1D)
    assert (EF_COM.fid, EF_COM.sfi, EF_COM.in_application) == (0x011E, 0x1E, True)
    assert (EF_SOD.fid, EF_SOD.sfi) == (0x011D, 0x1D)
    assert [(dg(n).fid, dg(n).sfi) for n in (1, 2, 14, 16)] == [(0x0101, 1), (0x0102, 2), (0x010E, 14), (0x0110, 16)]
    with pytest.raises(ValueError):
        dg(0)
    with pytest.raises(ValueError):
        dg(17)


def test_sfi_read_in_one_command_when_the_first_read_covers_the_file():
    content = tlv_file(0x61, 150)
    rec = Driver(card_with(dg(1), content).answer)
    assert rec.run(read_file(dg(1), ReadLimits(max_le=223))) == content
    [cmd] = rec.commands
    assert cmd.encode().hex().upper() == "00B08100DF"


def test_sfi_then_offsets_in_max_le_chunks():
    content = tlv_file(0x75, 1000)
    rec = Driver(card_with(dg(2), content).answer)
    assert rec.run(read_file(dg(2), ReadLimits(max_le=223))) == content
    offsets = [(c.p1 & 0x7F) << 8 | c.p2 for c in rec.commands[1:]]
    assert rec.commands[0].p1 == 0x82
    assert offsets == [223, 446, 669, 892]
    assert [c.le for c in rec.commands] == [223, 223, 223, 223, len(content) - 892]


def test_returns_exactly_the_tlv_even_when_the_chip_pads_the_file():
    content = tlv_file(0x61, 40)
    rec = Driver(card_with(dg(1), content + b"\xFF" * 100).answer)
    assert rec.run(read_file(dg(1), ReadLimits(max_le=223))) == content


def test_classic_strategy_is_select_eight_bytes_then_223():
    content = tlv_file(0x75, 600)
    rec = Driver(card_with(dg(2), content).answer)
    assert rec.run(read_file(dg(2), ReadLimits.classic())) == content
    cmds = rec.commands
    assert cmds[0].encode().hex().upper() == "00A4020C020102"
    assert [c.le for c in cmds[1:]] == [8, 223, 223, len(content) - 8 - 446]
    assert len(rec.steps) == len(cmds)   # never pipelined


def test_select_and_first_read_share_a_round_trip_when_pipelining():
    content = tlv_file(0x61, 90)
    rec = Driver(card_with(dg(1), content).answer)
    assert rec.run(read_file(dg(1), ReadLimits(max_le=223, use_sfi=False, pipeline=2))) == content
    assert len(rec.steps) == 1
    sel, read = rec.steps[0]
    assert (sel.ins, read.ins, read.p1, read.p2) == (0xA4, 0xB0, 0, 0)


def test_6cxx_on_first_read_retries_and_learns_the_buffer_size():
    content = tlv_file(0x75, 3000)
    limits = ReadLimits(max_le=1024, extended=True)
    rec = Driver(card_with(dg(2), content, max_le=200, too_long="6C").answer)
    assert rec.run(read_file(dg(2), limits)) == content
    assert [c.le for c in rec.commands[:2]] == [1024, 200]
    assert limits.max_le == 200
    assert all(c.le <= 200 for c in rec.commands[1:])


def test_6cxx_naming_the_end_of_a_small_file_is_not_learned():
    content = tlv_file(0x61, 60)
    limits = ReadLimits(max_le=223)
    rec = Driver(card_with(dg(1), content, eof="6C").answer)
    assert rec.run(read_file(dg(1), limits)) == content
    assert [c.le for c in rec.commands] == [223, len(content)]
    assert limits.max_le == 223


def test_6cxx_in_the_body_lowers_max_le_for_later_reads():
    content = tlv_file(0x75, 2000)
    limits = ReadLimits(max_le=223, first_read=16)
    card = card_with(dg(2), content, max_le=100, too_long="6C")
    card.files[dg(3).fid] = (3, content)
    rec = Driver(card.answer)
    assert rec.run(read_file(dg(2), limits)) == content
    assert limits.max_le == 100
    rec2 = Driver(card.answer)
    assert rec2.run(read_file(dg(3), limits)) == content
    assert all(c.le <= 100 for c in rec2.commands)   # learned once per session


def test_6cxx_that_does_not_shrink_is_an_error():
    def answer(cmd):
        return ResponseAPDU(b"", 0x6C00 | (cmd.le & 0xFF))
    with pytest.raises(FileReadError):
        Driver(answer).run(read_file(dg(1), ReadLimits(max_le=200)))


def test_6700_on_extended_falls_back_to_short_and_remembers():
    content = tlv_file(0x75, 1500)
    limits = ReadLimits(max_le=1024, extended=True)
    card = card_with(dg(2), content, extended=False)
    card.files[dg(7).fid] = (7, content)
    rec = Driver(card.answer)
    assert rec.run(read_file(dg(2), limits)) == content
    assert (limits.max_le, limits.extended) == (files.SHORT_SM_MAX_LE, False)
    rec2 = Driver(card.answer)
    assert rec2.run(read_file(dg(7), limits)) == content
    assert not any(c.is_extended for c in rec2.commands)


def test_6700_to_an_extended_read_goes_short_at_once():
    # One extended attempt answered 6700 is enough: stepping down in extended APDUs
    # (32768, 16384, ... 512) cost a round trip each, all refused on chips without it.
    content = tlv_file(0x75, 5000)
    limits = ReadLimits(max_le=65536, extended=True)
    card = card_with(dg(2), content, extended=False)
    rec = Driver(card.answer)
    assert rec.run(read_file(dg(2), limits)) == content
    assert (limits.max_le, limits.extended) == (files.SHORT_SM_MAX_LE, False)
    assert sum(c.is_extended for c in rec.commands) == 1


def test_6700_ladder_of_short_reads_down_to_the_chip_buffer():
    content = tlv_file(0x75, 500)
    limits = ReadLimits(max_le=223)
    rec = Driver(card_with(dg(2), content, max_le=100).answer)
    assert rec.run(read_file(dg(2), limits)) == content
    assert limits.max_le == 64


def test_6700_on_every_le_gives_up():
    with pytest.raises(FileReadError):
        Driver(lambda cmd: ResponseAPDU(b"", 0x6700)).run(read_file(dg(1), ReadLimits(max_le=223)))


def test_6282_before_the_declared_end_is_an_error():
    declared = tlv.encode(0x61, b"\x01" * 300)
    rec = Driver(card_with(dg(1), declared[:200]).answer)
    with pytest.raises(FileReadError, match="200 of 304"):
        rec.run(read_file(dg(1), ReadLimits(max_le=100)))


def test_6282_on_first_read_with_the_whole_file_is_fine():
    content = tlv_file(0x61, 5)
    assert Driver(card_with(dg(1), content).answer).run(read_file(dg(1), ReadLimits(max_le=223))) == content


def test_6b00_inside_the_declared_size_is_an_error():
    declared = tlv.encode(0x61, b"\x01" * 300)

    def answer(cmd):
        if cmd.p1 & 0x80:
            return ResponseAPDU(declared[:100], 0x9000)
        return ResponseAPDU(b"", 0x6B00)
    with pytest.raises(FileReadError):
        Driver(answer).run(read_file(dg(1), ReadLimits(max_le=100)))


def test_missing_file_6a82():
    card = ScriptedCard(files={})
    rec = Driver(card.answer)
    limits = ReadLimits(max_le=223)
    with pytest.raises(FileNotFoundOnChip):
        rec.run(read_file(dg(11), limits))
    # the SFI read failed, and so did the SELECT: the chip does SFI, the file is absent
    assert [c.ins for c in rec.commands] == [0xB0, 0xA4]
    assert limits.use_sfi
    with pytest.raises(FileNotFoundOnChip):
        Driver(card.answer).run(read_file(dg(11), ReadLimits(max_le=223, use_sfi=False)))


def test_access_denied_6982():
    with pytest.raises(FileAccessDenied):
        Driver(lambda cmd: ResponseAPDU(b"", 0x6982)).run(read_file(dg(3), ReadLimits(max_le=223)))
    with pytest.raises(FileAccessDenied):
        Driver(lambda cmd: ResponseAPDU(b"", 0x6982)).run(read_file(dg(3), ReadLimits(max_le=223, use_sfi=False)))


@pytest.mark.parametrize("refusal", [0x6A86, 0x6A81, 0x6D00, 0x6A82])
def test_chip_without_sfi_switches_sfi_off(refusal):
    content = tlv_file(0x61, 90)
    card = card_with(dg(1), content, sfi=False, sfi_refusal=refusal)
    card.files[EF_SOD.fid] = (EF_SOD.sfi, content)
    limits = ReadLimits(max_le=223)
    rec = Driver(card.answer)
    assert rec.run(read_file(dg(1), limits)) == content
    assert [c.ins for c in rec.commands] == [0xB0, 0xA4, 0xB0]
    assert not limits.use_sfi
    rec2 = Driver(card.answer)
    assert rec2.run(read_file(EF_SOD, limits)) == content
    assert [c.ins for c in rec2.commands] == [0xA4, 0xB0]


def test_oversize_header_is_refused_before_reading_on():
    rec = Driver(lambda cmd: ResponseAPDU(bytes.fromhex("7784FFFFFFFF") + b"\x00" * 100, 0x9000))
    with pytest.raises(LimitExceeded):
        rec.run(read_file(EF_SOD, ReadLimits(max_le=223)))
    assert len(rec.commands) == 1
    small = tlv.encode(0x61, b"\x00" * 300)
    with pytest.raises(LimitExceeded):
        Driver(card_with(dg(1), small).answer).run(read_file(dg(1), ReadLimits(max_le=223), max_size=200))


def test_not_a_tlv_is_a_read_error():
    with pytest.raises(FileReadError):
        Driver(lambda cmd: ResponseAPDU(b"\x1F\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 0x9000)).run(
            read_file(dg(1), ReadLimits(max_le=223)))


def test_empty_responses_forever():
    rec = Driver(lambda cmd: ResponseAPDU(b"", 0x9000))
    with pytest.raises(FileReadError):
        rec.run(read_file(dg(1), ReadLimits(max_le=223)))
    assert len(rec.commands) <= files.MAX_COMMANDS_PER_FILE


def test_empty_responses_after_the_header():
    content = tlv_file(0x75, 3000)

    def answer(cmd):
        if cmd.p1 & 0x80:
            return ResponseAPDU(content[:223], 0x9000)
        return ResponseAPDU(b"", 0x9000)
    with pytest.raises(FileReadError):
        Driver(answer).run(read_file(dg(2), ReadLimits(max_le=223)))


def test_one_byte_at_a_time_is_capped_at_1000_commands():
    content = tlv_file(0x75, 3000)
    card = card_with(dg(2), content)
    inner = card.answer

    def answer(cmd):
        resp = inner(cmd)
        return ResponseAPDU(resp.data[:1], resp.sw)
    rec = Driver(answer)
    with pytest.raises(FileReadError, match="1000"):
        rec.run(read_file(dg(2), ReadLimits(max_le=223, pipeline=4)))
    assert len(rec.commands) == files.MAX_COMMANDS_PER_FILE


def test_one_byte_at_a_time_for_a_tiny_file_still_works():
    content = tlv_file(0x61, 20)
    card = card_with(dg(1), content)
    inner = card.answer

    def answer(cmd):
        resp = inner(cmd)
        return ResponseAPDU(resp.data[:1], 0x9000 if resp.sw == 0x6282 else resp.sw)
    rec = Driver(answer)
    assert rec.run(read_file(dg(1), ReadLimits(max_le=223))) == content


def test_response_longer_than_asked():
    with pytest.raises(FileReadError):
        Driver(lambda cmd: ResponseAPDU(tlv.encode(0x61, b"\x00" * 300), 0x9000)).run(
            read_file(dg(1), ReadLimits(max_le=223)))


@pytest.mark.parametrize("sw", [0x6F00, 0x6A80, 0x6981, 0x6300, 0x6985])
def test_unhandled_status_is_a_read_error(sw):
    with pytest.raises(FileReadError, match=f"{sw:04X}"):
        Driver(lambda cmd: ResponseAPDU(b"", sw)).run(read_file(dg(1), ReadLimits(max_le=223)))


@pytest.mark.parametrize("pipeline", [1, 3])
def test_offsets_above_32767_use_odd_read_binary(pipeline):
    content = tlv_file(0x75, 40000)
    limits = ReadLimits(max_le=4096, extended=True, pipeline=pipeline)
    rec = Driver(card_with(dg(2), content).answer)
    assert rec.run(read_file(dg(2), limits)) == content
    odd = [c for c in rec.commands if c.ins == 0xB1]
    assert odd
    for c in odd:
        offset = int.from_bytes(tlv.parse_single(c.data, 0x54).value, "big")
        assert offset > 0x7FFF and (c.p1, c.p2) == (0, 0)
        assert c.le <= 4096
    even = [c for c in rec.commands[1:] if c.ins == 0xB0]
    assert all((c.p1 << 8 | c.p2) <= 0x7FFF for c in even)


def test_odd_read_binary_with_short_length():
    content = tlv_file(0x75, 33000)
    rec = Driver(card_with(dg(2), content).answer)
    assert rec.run(read_file(dg(2), ReadLimits(max_le=223))) == content
    assert all(c.le <= 223 for c in rec.commands)


def test_odd_read_binary_answer_must_be_one_do53():
    content = tlv_file(0x75, 40000)
    card = card_with(dg(2), content)

    def answer(cmd):
        resp = card.answer(cmd)
        return ResponseAPDU(b"\x99" + resp.data[1:], resp.sw) if cmd.ins == 0xB1 else resp
    with pytest.raises(FileReadError, match="DO'53'"):
        Driver(answer).run(read_file(dg(2), ReadLimits(max_le=4096, extended=True)))


def test_pipelined_tuples():
    content = tlv_file(0x75, 5000)
    rec = Driver(card_with(dg(2), content).answer)
    limits = ReadLimits(max_le=223, pipeline=8)
    assert rec.run(read_file(dg(2), limits)) == content
    # first read alone (the header gives the size), then tuples of at most 8
    assert isinstance(rec.steps[0], CommandAPDU)
    sizes = [len(s) for s in rec.steps[1:]]
    assert all(isinstance(s, tuple) for s in rec.steps[1:-1]) and max(sizes) == 8
    assert len(rec.steps) == 1 + -(-(len(content) - 223) // (223 * 8))


def test_pipelined_batch_recovers_from_a_short_chunk():
    content = tlv_file(0x75, 5000)
    card = card_with(dg(2), content)
    calls = {"n": 0}

    def answer(cmd):
        resp = card.answer(cmd)
        calls["n"] += 1
        if calls["n"] == 3:   # the second command of the first batch comes back half
            return ResponseAPDU(resp.data[:100], resp.sw)
        return resp
    limits = ReadLimits(max_le=223, pipeline=4)
    assert Driver(answer).run(read_file(dg(2), limits)) == content
    assert limits.max_le == 100   # a silent cap is remembered so later batches stay aligned


def test_pipelined_batch_with_6700_replans():
    content = tlv_file(0x75, 5000)
    limits = ReadLimits(max_le=1024, extended=True, pipeline=4, first_read=64)
    rec = Driver(card_with(dg(2), content, max_le=300).answer)
    assert rec.run(read_file(dg(2), limits)) == content
    assert limits.max_le == 256 or limits.max_le == files.SHORT_SM_MAX_LE


def test_atr_info_is_read_to_its_end():
    content = bytes.fromhex("7F6608020208000202080047030000C0")  # not a single TLV
    rec = Driver(card_with(ATR_INFO, content).answer)
    assert rec.run(read_file(ATR_INFO, ReadLimits(max_le=223))) == content
    assert rec.commands[0].p1 == 0x81


def test_atr_info_larger_than_max_size():
    with pytest.raises(LimitExceeded):
        Driver(card_with(ATR_INFO, b"\x00" * 1000).answer).run(
            read_file(ATR_INFO, ReadLimits(max_le=223), max_size=300))


def test_indefinite_length_file_is_read_to_its_end():
    content = bytes.fromhex("7780") + b"\x30\x03\x02\x01\x01" * 100 + b"\x00\x00"
    rec = Driver(card_with(EF_SOD, content, eof="9000").answer)
    assert rec.run(read_file(EF_SOD, ReadLimits(max_le=223))) == content


def test_indefinite_length_file_beyond_32767_respects_max_le():
    content = bytes.fromhex("7780") + bytes(64998)
    card = card_with(EF_SOD, content, max_le=30000)
    rec = Driver(card.answer)
    assert rec.run(read_file(EF_SOD, ReadLimits(max_le=30000, extended=True))) == content
    assert [c.ins for c in rec.commands] == [0xB0, 0xB0, 0xB1]
    assert all(c.le <= 30000 for c in rec.commands)


def test_file_ending_inside_its_header():
    with pytest.raises(FileReadError):
        Driver(lambda cmd: ResponseAPDU(b"\x5F", 0x6282)).run(read_file(dg(1), ReadLimits(max_le=223)))


def test_read_limits_validation():
    for bad in (dict(max_le=0), dict(max_le=65537), dict(max_le=10, pipeline=0), dict(max_le=10, first_read=-1)):
        with pytest.raises(ValueError):
            ReadLimits(**bad)
    assert ReadLimits(max_le=1024).effective_max_le == 256
    assert ReadLimits(max_le=1024, extended=True, first_read=300).effective_first_read == 300


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=st.lists(st.tuples(st.binary(max_size=300),
                                 st.sampled_from([0x9000, 0x6282, 0x6700, 0x6C10, 0x6C00, 0x6B00, 0x6A82,
                                                  0x6982, 0x6A86, 0x6D00, 0x6F00])),
                       min_size=1, max_size=30),
       sfi=st.booleans(), pipeline=st.integers(1, 4), extended=st.booleans())
def test_any_chip_answer_ends_in_bytes_or_a_documented_error(script, sfi, pipeline, extended):
    it = iter(script * 50)

    def answer(cmd):
        data, sw = next(it, (b"", 0x9000))
        return ResponseAPDU(data, sw)
    limits = ReadLimits(max_le=1024, extended=extended, use_sfi=sfi, pipeline=pipeline)
    rec = Driver(answer)
    try:
        out = rec.run(read_file(dg(2), limits))
    except (FileReadError, LimitExceeded):
        pass
    else:
        tlv.parse_single(out)
    assert len(rec.commands) <= files.MAX_COMMANDS_PER_FILE + 2


# --- SELECT ------------------------------------------------------------------


def test_select_application_short_form():
    rec = Driver(lambda cmd: ResponseAPDU(b"", 0x9000))
    rec.run(select_application())
    assert rec.commands[0].encode().hex().upper() == "00A4040C07A0000002471001"


def test_select_application_retries_asking_for_the_fci():
    answers = iter([ResponseAPDU(b"", 0x6A86), ResponseAPDU(b"\x6F\x00", 0x9000)])
    rec = Driver(lambda cmd: next(answers))
    rec.run(select_application(EMRTD_AID))
    assert (rec.commands[1].p2, rec.commands[1].le) == (0x00, 256)


def test_select_application_not_found():
    with pytest.raises(StatusError) as err:
        Driver(lambda cmd: ResponseAPDU(b"", 0x6A82)).run(select_application())
    assert err.value.sw == 0x6A82


def test_select_master_file_with_and_without_path():
    rec = Driver(lambda cmd: ResponseAPDU(b"", 0x9000))
    rec.run(select_master_file())
    assert rec.commands[0].encode().hex().upper() == "00A4000C023F00"
    answers = iter([ResponseAPDU(b"", 0x6A82), ResponseAPDU(b"", 0x9000)])
    rec = Driver(lambda cmd: next(answers))
    rec.run(select_master_file())
    assert rec.commands[1].encode().hex().upper() == "00A4000C"
    with pytest.raises(StatusError):
        Driver(lambda cmd: ResponseAPDU(b"", 0x6A82)).run(select_master_file())


def test_select_file():
    rec = Driver(lambda cmd: ResponseAPDU(b"", 0x9000))
    rec.run(select_file(0x011E))
    assert rec.commands[0].encode().hex().upper() == "00A4020C02011E"
    with pytest.raises(FileNotFoundOnChip):
        Driver(lambda cmd: ResponseAPDU(b"", 0x6A82)).run(select_file(0x0105))
    with pytest.raises(FileAccessDenied):
        Driver(lambda cmd: ResponseAPDU(b"", 0x6982)).run(select_file(0x0103))
    with pytest.raises(StatusError):
        Driver(lambda cmd: ResponseAPDU(b"", 0x6F00)).run(select_file(0x0103))
    with pytest.raises(ValueError):
        next(select_file(0x10000))


def test_errors_are_emrtd_errors():
    for exc in (FileReadError, LimitExceeded, StatusError):
        assert issubclass(exc, EmrtdError)


# --- docs/reliability.md A3: data in the answer to a SELECT that asked for none (P2=0C) ---------

def _data_on_select(cmd: CommandAPDU) -> ResponseAPDU:
    return ResponseAPDU(b"\x6F\x03\x84\x01\x00" if cmd.ins == 0xA4 and cmd.p2 == 0x0C else b"", 0x9000)


@pytest.mark.parametrize("flow", [select_application, select_master_file], ids=["application", "master-file"])
def test_data_on_a_select_without_response_data_is_refused(flow):
    with pytest.raises(CommunicationError):
        Driver(_data_on_select).run(flow())


def test_fci_is_still_accepted_where_it_was_asked_for():
    answers = iter([ResponseAPDU(b"", 0x6A86), ResponseAPDU(b"\x6F\x00", 0x9000)])
    Driver(lambda cmd: next(answers)).run(select_application())


@pytest.mark.parametrize("pipeline", [1, 2])
def test_data_on_select_by_fid_is_a_read_error(pipeline):
    card = card_with(dg(1), tlv_file(0x61, 20))

    def answer(cmd):
        return _data_on_select(cmd) if cmd.ins == 0xA4 else card.answer(cmd)
    with pytest.raises(FileReadError):
        Driver(answer).run(select_file(dg(1).fid))
    with pytest.raises(FileReadError):
        Driver(answer).run(read_file(dg(1), ReadLimits(max_le=256, use_sfi=False, pipeline=pipeline)))
