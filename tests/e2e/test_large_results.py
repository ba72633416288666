"""Results of any real size (issue 15 §3), end to end over real sockets: the largest
document the file caps allow reaches phone and Result Server complete, while what a
phone may send stays limited to 70 KB."""
from __future__ import annotations

import base64
import json

import pytest_twisted

from docval.emrtd.lds.dg2 import parse_dg2
from docval.emrtd.lds.dg7 import parse_dg7
from docval.emrtd.lds.dg11 import parse_dg11
from docval.emrtd.lds.dg12 import parse_dg12
from docval.sim import largest, profiles
from docval.ws.factory import MAX_MESSAGE_BYTES
from tests.schema import check_emrtd_passport

from . import document as doc
from .stack import FILES, RETURNING

PROFILE = "pace-ecdh-gm-aes128"


def _b64(data):
    return base64.b64encode(data).decode("ascii")


@pytest_twisted.ensureDeferred
async def test_the_largest_document_the_caps_allow_reaches_phone_and_result_server(make_stack, captured_log):
    stack = make_stack()
    chip = profiles.get_profile(PROFILE).chip()
    grown = largest.fill_to_caps(chip)
    assert {len(v) for v in grown.values()} == {65535}
    trace = await stack.phone(PROFILE, chip=chip, client_id=FILES, return_result=True)

    trace.assert_closed_by_server(1000, None)
    assert trace.statuses[-1] == "DONE"
    assert trace.kinds()[-4:] == ["status", "result", "close_message", "close_frame"]
    result = trace.result
    check_emrtd_passport(result)
    (post,) = stack.results.posts
    assert post.body["emrtd_passport"] == result
    # Far beyond the incoming limit, and complete: every image, every file.
    assert len(json.dumps({"emrtd_passport": result})) > 9 * MAX_MESSAGE_BYTES     # about 700 KB
    assert result["errors"] == []
    assert result["passive_authentication"] is True
    assert result["passive_authentication_details"]["data_groups_with_valid_hash"] == [1, 2, 7, 11, 12, 14, 15]
    assert base64.b64decode(result["face_photo"]) == parse_dg2(grown[2])[0].data
    assert [base64.b64decode(p) for p in result["signature_photos"]] == parse_dg7(grown[7])
    dg11, dg12 = parse_dg11(grown[11]), parse_dg12(grown[12])
    assert result["additional_personal_details"]["proof_of_citizenship_image"] == _b64(dg11.proof_of_citizenship_image)
    assert result["additional_document_details"]["image_of_front"] == _b64(dg12.image_of_front)
    assert result["files_binary"] == {k: doc.b64(v) for k, v in doc.chip_files(chip).items()}
    log = captured_log()
    assert "PayloadExceeded" not in log and "Traceback" not in log


@pytest_twisted.ensureDeferred
async def test_configured_file_cap_from_the_toml_file(make_stack):
    """[limits] max_file_bytes reaches the reader: larger optional files are reported."""
    stack = make_stack(limits={"max_file_bytes": 20000})
    chip = profiles.get_profile(PROFILE).chip()
    largest.fill_to_caps(chip, 30_000)
    from docval.sim.edit import app_files, put_dg
    put_dg(chip, 2, app_files(profiles.get_profile(PROFILE).chip())[2])
    trace = await stack.phone(PROFILE, chip=chip, client_id=RETURNING, return_result=True)
    trace.assert_closed_by_server(1000, None)
    errors = trace.result["errors"]
    for n in (7, 11, 12):
        assert any(f"EF.DG{n} could not be read" in e and "20000" in e for e in errors), errors
    assert trace.result["signature_photos"] is None
