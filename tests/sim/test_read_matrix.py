"""read_file through Secure Messaging against the virtual chip, across the whole option matrix.

cipher (3DES via BAC; AES-128/192/256 with known keys on both sides) × short or
extended length × chip with or without SFI × the reader's starting max Le ×
pipelining: every file must come back byte for byte, whatever the reader had to
learn on the way (6700 ladder, SFI fallback).
"""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from docval.emrtd import tlv
from docval.emrtd.bac import bac
from docval.emrtd.crypto import AES128, AES192, AES256, TDES
from docval.emrtd.errors import FileNotFoundOnChip
from docval.emrtd.files import EF_SOD, SHORT_SM_MAX_LE, ReadLimits, dg, read_file, select_application
from docval.emrtd.flow import Link, run
from docval.emrtd.mrz import MrzKey
from docval.emrtd.sm import SecureMessaging
from docval.sim.chip import ChipQuirks, VirtualChip

KEY = MrzKey("T22000129", "640812", "101031")
_rand = random.Random(9303)
# value sizes 1 .. 65000: one byte, one short read, several reads, past the 32767 even-offset
# limit (odd READ BINARY), and close to the 65535 file cap
SIZES = {dg(1): 1, dg(11): 200, EF_SOD: 5000, dg(7): 40000, dg(2): 65000}
FILES = {ref: tlv.encode(0x61 if ref.sfi == 1 else 0x75, _rand.randbytes(n)) for ref, n in SIZES.items()}


def secure_link(chip: VirtualChip, spec) -> Link:
    link = Link()
    run(select_application(), link, chip.transmit)
    if spec is TDES:
        link.start(run(bac(KEY), link, chip.transmit))
    else:
        k_enc = bytes(_rand.randbytes(spec.key_length))
        k_mac = bytes(_rand.randbytes(spec.key_length))
        chip.start_sm(SecureMessaging(spec, k_enc, k_mac, 0))
        chip.access_granted = True
        link.start(SecureMessaging(spec, k_enc, k_mac, 0))
    return link


def read_all(chip: VirtualChip, link: Link, limits: ReadLimits) -> None:
    for ref, content in FILES.items():
        assert run(read_file(ref, limits), link, chip.transmit) == content, ref.name


@pytest.mark.parametrize("pipeline", [1, 8])
@pytest.mark.parametrize("max_le", [223, 256, 1024, 65536])
@pytest.mark.parametrize("sfi", [True, False], ids=["sfi", "no-sfi"])
@pytest.mark.parametrize("extended", [False, True], ids=["short", "extended"])
@pytest.mark.parametrize("spec", [TDES, AES128, AES192, AES256], ids=["3DES", "AES128", "AES192", "AES256"])
def test_read_matrix(spec, extended, sfi, max_le, pipeline):
    chip = VirtualChip(app_files=FILES, bac_key=KEY,
                       quirks=ChipQuirks(extended_length=extended, sfi=sfi))
    link = secure_link(chip, spec)
    limits = ReadLimits(max_le=max_le, extended=extended, pipeline=pipeline)
    read_all(chip, link, limits)
    assert limits.use_sfi == sfi
    if not extended:
        # a short-only chip under SM serves at most what a 256-byte protected answer holds
        assert limits.max_le <= SHORT_SM_MAX_LE and not limits.extended
    assert chip.sm_failures == 0 and not link.broken


@pytest.mark.parametrize("spec", [TDES, AES256], ids=["3DES", "AES256"])
@pytest.mark.parametrize("quirks, learned", [
    # 6700 to an extended read: short reads at once, no ladder of extended attempts
    (ChipQuirks(max_le=1000), SHORT_SM_MAX_LE),
    (ChipQuirks(max_le=200, too_long_sw="6C"), 200),      # 6Cxx names the buffer
    (ChipQuirks(max_le=100, too_long_sw="6C", extended_length=False), 100),
    (ChipQuirks(eof_sw=0x9000), 4096),                    # no 6282 at the end of a file
    (ChipQuirks(eof_sw=0x6C00, max_le=4096), 4096),       # 6Cxx naming what is left is not a limit
    (ChipQuirks(plain_errors=True, sfi=False), 4096),     # unprotected 6A86 to SFI reads
], ids=["6700-ladder", "6Cxx", "6Cxx-short", "eof-9000", "eof-6Cxx", "plain-errors"])
def test_chips_with_small_buffers(spec, quirks, learned):
    chip = VirtualChip(app_files=FILES, bac_key=KEY, quirks=quirks)
    link = secure_link(chip, spec)
    limits = ReadLimits(max_le=4096, extended=quirks.extended_length, pipeline=4)
    read_all(chip, link, limits)
    assert limits.max_le == learned
    with pytest.raises(FileNotFoundOnChip):
        run(read_file(dg(12), limits), link, chip.transmit)
    assert run(read_file(dg(1), limits), link, chip.transmit) == FILES[dg(1)]   # SM still in step


def test_pipelining_saves_round_trips():
    counts = {}
    for pipeline in (1, 8):
        chip = VirtualChip(app_files=FILES, bac_key=KEY)
        link = secure_link(chip, AES128)
        steps = 0
        for ref, content in FILES.items():
            flow = read_file(ref, ReadLimits(max_le=SHORT_SM_MAX_LE, pipeline=pipeline))
            step = next(flow)
            try:
                while True:
                    steps += 1
                    cmds = step if isinstance(step, tuple) else (step,)
                    answers = link.unprotect([chip.transmit(raw) for raw in link.protect(cmds)], len(cmds))
                    step = flow.send(tuple(answers) if isinstance(step, tuple) else answers[0])
            except StopIteration as done:
                assert done.value == content
        counts[pipeline] = steps
    assert counts[8] * 5 < counts[1]


def test_classic_strategy_reads_everything_too():
    chip = VirtualChip(app_files=FILES, bac_key=KEY, quirks=ChipQuirks(extended_length=False))
    link = secure_link(chip, TDES)
    read_all(chip, link, ReadLimits.classic())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.integers(0, 60000), max_le=st.integers(64, 65536), extended=st.booleans(),
       pipeline=st.integers(1, 8), first_read=st.integers(0, 300), use_sfi=st.booleans(),
       chip_max_le=st.sampled_from([100, 223, 256, 1000, 4096, 65536]),
       too_long_sw=st.sampled_from(["6700", "6C"]), chip_extended=st.booleans(), chip_sfi=st.booleans(),
       eof_sw=st.sampled_from([0x6282, 0x9000, 0x6C00]), spec=st.sampled_from([None, AES128]))
def test_any_reader_settings_against_any_chip(size, max_le, extended, pipeline, first_read, use_sfi,
                                              chip_max_le, too_long_sw, chip_extended, chip_sfi, eof_sw, spec):
    content = tlv.encode(0x75, bytes(size))
    quirks = ChipQuirks(max_le=chip_max_le, too_long_sw=too_long_sw, extended_length=chip_extended,
                        sfi=chip_sfi, eof_sw=eof_sw, access_control_required=spec is not None)
    small = tlv.encode(0x63, bytes(67))
    chip = VirtualChip(app_files={dg(2): content, dg(3): small}, quirks=quirks)
    link = Link()
    run(select_application(), link, chip.transmit)
    if spec is not None:
        k = bytes(range(spec.key_length))
        chip.start_sm(SecureMessaging(spec, k, k, 0))
        chip.access_granted = True
        link.start(SecureMessaging(spec, k, k, 0))
    limits = ReadLimits(max_le=max_le, extended=extended, pipeline=pipeline, first_read=first_read,
                        use_sfi=use_sfi)
    assert run(read_file(dg(2), limits), link, chip.transmit) == content
    assert run(read_file(dg(3), limits), link, chip.transmit) == small


@pytest.mark.parametrize("spec", [TDES, AES128])
def test_a_large_file_from_a_chip_with_a_small_buffer_is_read_whole(spec):
    # ~60 plain bytes per Secure Messaging answer: a 60 KB face needs more reads than the
    # default per-file command cap, and a genuine chip must not fail on that.
    content = tlv.encode(0x75, bytes(59735))
    chip = VirtualChip(app_files={dg(2): content}, quirks=ChipQuirks(max_le=100, access_control_required=True))
    link = Link()
    run(select_application(), link, chip.transmit)
    k = bytes(range(spec.key_length))
    chip.start_sm(SecureMessaging(spec, k, k, 0))
    chip.access_granted = True
    link.start(SecureMessaging(spec, k, k, 0))
    limits = ReadLimits(max_le=100, extended=False)
    assert run(read_file(dg(2), limits), link, chip.transmit) == content
