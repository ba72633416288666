"""docs/reliability.md, catalogue section b8 (data group content): D1-D3."""
from __future__ import annotations

import time

import pytest

from docval.emrtd.errors import LimitExceeded
from docval.emrtd.images import to_jpeg
from tests.support.hostile_chips import jp2_bomb
from tests.hostile.chipharness import run_hostile

pytestmark = pytest.mark.hostile


def test_D1_dg1_not_matching_the_access_key_is_flagged(demo_trust):
    out = run_hostile("dg1-mismatch", demo_trust)
    assert out.exc is None
    assert any("DG1 does not match" in e for e in out.errors)
    assert out.result["passive_authentication"] is True      # signed, yet not this document's MRZ


def test_D2_jpeg2000_bomb_is_refused_from_its_declared_size(demo_trust):
    started = time.process_time()
    out = run_hostile("dg2-jp2-bomb", demo_trust)
    assert out.exc is None
    assert out.result["face_photo"] is None
    assert any("DG2" in e and "pixels" in e for e in out.errors)
    assert time.process_time() - started < 2


def test_D2_declared_size_is_checked_before_decoding():
    started = time.process_time()
    with pytest.raises(LimitExceeded):
        to_jpeg(jp2_bomb(100000, 100000))
    assert time.process_time() - started < 0.1


def test_D2_many_faces_are_capped(demo_trust):
    out = run_hostile("dg2-many-faces", demo_trust)
    assert out.exc is None
    assert any("DG2" in e for e in out.errors)


def test_D2_bad_cbeff_nesting_is_a_parse_error(demo_trust):
    from docval.emrtd.errors import ParseError
    from docval.emrtd.lds.dg2 import parse_dg2
    from docval.emrtd import tlv
    from tests.support.hostile_chips import nested
    with pytest.raises(ParseError):
        parse_dg2(tlv.encode(0x75, tlv.encode(0x7F61, nested(200, tag=0x7F61))))


def test_D3_latin1_text_is_decoded_tolerantly(demo_trust):
    out = run_hostile("dg11-latin1", demo_trust)
    assert out.exc is None
    details = out.result["additional_personal_details"]
    assert details["place_of_birth"] == "SÃO PAULO"
    assert "MÜLLER" in details["full_name_of_holder"]
    assert any("Latin-1" in e for e in out.errors)
    assert "dg11" in out.report.files                       # raw bytes kept for files_binary
