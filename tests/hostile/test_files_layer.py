"""docs/reliability.md, catalogue section b5 (TLV, ASN.1, file reading): T1-T6."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from docval.emrtd import files, tlv
from docval.emrtd.errors import FileReadError, ParseError, TLVError
from docval.emrtd.lds.sod import parse_sod
from tests.support.hostile_chips import hostile_chip, nested
from tests.hostile.chipharness import assert_closed, run_hostile

pytestmark = pytest.mark.hostile

NOW = datetime.now(timezone.utc)


def test_T1_4GB_length_is_refused_before_reading():
    out = run_hostile("sod-length-bomb")
    assert_closed(out, "FILE_READ_ERROR", FileReadError)
    assert "65535" in str(out.exc)
    assert out.transport.bytes_from_chip < 4096


def test_T1_tlv_length_above_the_cap():
    with pytest.raises(TLVError):
        tlv.parse_one(b"\x77\x84\xFF\xFF\xFF\xFF" + bytes(100))


def test_T2_more_than_four_length_octets():
    with pytest.raises(TLVError):
        tlv.parse_single(b"\x04\x85\x00\x00\x00\x00\x01\x00")


def test_T2_non_minimal_length_in_the_signed_content_does_not_verify(demo_trust):
    """Chips send BER file headers, so the TLV reader accepts them; but the signed
    LDS security object is hashed as sent, so a re-encoded one fails the signature check."""
    from asn1crypto import cms, core

    from docval.emrtd.pa import passive_authentication
    from docval.sim import pki
    dg1 = b"\x61\x05\x5f\x1f\x02AB"
    sod = pki.sod_for_data_groups({1: dg1})
    assert passive_authentication(parse_sod(sod), {1: dg1}, demo_trust, at=NOW).sod_signature_valid
    info = cms.ContentInfo.load(tlv.parse_single(sod, 0x77).value)
    encap = info["content"]["encap_content_info"]
    content = encap["content"].native if not hasattr(encap["content"], "contents") else encap["content"].contents
    body = tlv.parse_single(content).value
    non_minimal = b"\x30\x82" + len(body).to_bytes(2, "big") + body
    assert non_minimal != content and len(body) < 256
    encap["content"] = core.ParsableOctetString(non_minimal)
    forged = tlv.encode(0x77, info.dump(force=True))
    result = passive_authentication(parse_sod(forged), {1: dg1}, demo_trust, at=NOW)
    assert not result.sod_signature_valid


def test_T2_five_octet_length_in_a_file_header():
    out = run_hostile("sod-long-form-length")
    assert_closed(out, "FILE_READ_ERROR", FileReadError)


def test_T2_indefinite_length_where_der_is_required():
    with pytest.raises(TLVError):
        tlv.parse_single(b"\x30\x80\x04\x01\x00\x00\x00")


def test_T3_deep_nesting_is_caught_before_recursion():
    data = nested(3000)
    assert len(data) < 16000
    with pytest.raises(TLVError):
        tlv.check_depth(data)
    with pytest.raises(ParseError):
        parse_sod(tlv.encode(0x77, data))


@pytest.mark.parametrize("name,reason", [("sod-deep-nesting", "FILE_READ_ERROR")])
def test_T3_deep_sod_closes_with_a_file_read_error(name, reason):
    out = run_hostile(name)
    assert_closed(out, reason, FileReadError)
    assert not isinstance(out.exc.__context__, RecursionError)


def test_T3_deep_dg11_is_an_error_entry_not_a_crash(demo_trust):
    out = run_hostile("dg11-deep-nesting", demo_trust)
    assert out.exc is None, repr(out.exc)
    assert any("DG11" in e for e in out.errors)


def test_T4_zero_bytes_forever_stops():
    out = run_hostile("zero-bytes-forever")
    assert out.exc is None
    assert any("EF.DG11" in e for e in out.errors)
    assert out.chip.state["zero_reads"] <= files.MAX_COMMANDS_PER_FILE


def test_T4_one_byte_at_a_time_is_capped_at_1000_commands_per_file():
    started = time.perf_counter()
    out = run_hostile("one-byte-at-a-time")
    assert_closed(out, "FILE_READ_ERROR", FileReadError)
    assert "1000" in str(out.exc)
    assert out.chip.state["one_byte_reads"] <= files.MAX_COMMANDS_PER_FILE + 50
    assert time.perf_counter() - started < 10


def test_T5_early_end_of_file_is_an_error():
    out = run_hostile("early-eof")
    assert_closed(out, "FILE_READ_ERROR", FileReadError)
    assert "declared" in str(out.exc)


def test_T5_header_length_not_matching_the_data_returned():
    """A file whose header claims more than the chip holds: the read ends early (6282)."""
    from docval.emrtd.flow import Link, run
    chip = hostile_chip("garbage")      # only used for its file system
    inner = chip.inner
    inner.access_granted = True
    inner.fs.select_application(files.EMRTD_AID)
    inner.fs.application.put(files.dg(11), b"\x6B\x82\x01\x00" + bytes(20))
    with pytest.raises(FileReadError):
        run(files.read_file(files.dg(11), files.ReadLimits(max_le=256)), Link(), inner.transmit)


def test_T6_dg_listed_in_sod_but_unreadable_is_recorded(demo_trust):
    out = run_hostile("dg-not-in-sod", demo_trust)
    assert out.exc is None
    assert any("DG11" in e for e in out.errors), out.errors


def test_T6_dg_not_in_sod_is_not_trusted(demo_trust):
    out = run_hostile("dg-not-in-sod", demo_trust)
    assert out.exc is None
    details = out.result["passive_authentication_details"]
    assert 7 not in details["data_groups_checked"] and 11 not in details["data_groups_checked"]
    assert out.result["signature_photos"] is None      # an unsigned DG7 is never reported as data
