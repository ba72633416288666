"""Every virtual document, read end to end over real sockets: the posted result and the
one returned to the phone are the same object, and it says exactly what is on the chip."""
from __future__ import annotations

import base64

import pytest
import pytest_twisted
from twisted.internet import defer

from docval.sim import profiles
from tests.schema import check_emrtd_passport

from . import document as doc
from .stack import FILES, POSTING, RESULT_PATH, RETURNING


def assert_event_order(trace, expected_statuses):
    """docs/websocket-api.md (statuses)-3.5: statuses in order, APDUs only before PASSIVE_AUTHENTICATION,
    the result right after DONE, then the close message, then the close frame."""
    assert trace.statuses == expected_statuses
    kinds = trace.kinds()
    pa = trace.messages.index(("status", "PASSIVE_AUTHENTICATION"))
    assert "binary" not in kinds[pa:]
    done = len(kinds) - 1 - kinds[::-1].index("status")
    assert trace.messages[done] == ("status", "DONE")
    assert kinds[done + 1:] == ["result", "close_message", "close_frame"]
    # Each status is announced before the APDUs of its step: the first message is a status.
    assert kinds[0] == "status"


def assert_matches_chip(result, name, chip_files):
    profile = profiles.get_profile(name)
    dgs = {int(k[2:]): v for k, v in chip_files.items() if k.startswith("dg")}
    check_emrtd_passport(result)

    assert result["mrz_info"] == doc.expected_mrz_info(dgs[1])
    assert base64.b64decode(result["face_photo"]) == doc.jpeg_at_end(dgs[2])
    if 7 in dgs:
        assert [base64.b64decode(p) for p in result["signature_photos"]] == [doc.jpeg_at_end(dgs[7])]
    else:
        assert result["signature_photos"] is None
    if 11 in dgs:
        expected = dict(doc.DG11)
        if name == "tampered":
            # The chip's DG11 had its last byte flipped after signing: the result reports
            # what the chip holds (and PA says it is not genuine).
            expected["personal_summary"] = "VIRTUAL TEST DOCUMENU"
        assert result["additional_personal_details"] == expected
    else:
        assert result["additional_personal_details"] is None
    if 12 in dgs:
        assert result["additional_document_details"] == doc.DG12
    else:
        assert result["additional_document_details"] is None

    # The SOD's hashes: SHA-256 of each data group as it was signed.
    signed = dgs
    if name == "tampered":
        # "clone" carries the untouched, signed files of the very document "tampered" alters.
        signed = doc.data_groups(profiles.get_profile("clone").chip())
        assert signed.keys() == dgs.keys() and signed[11] != dgs[11]
    assert result["sod_info"] == {
        "hash_algorithm": "SHA-256",
        "hash_for_data_group": {str(n): doc.sha256(signed[n]) for n in sorted(signed)},
    }
    pa = result["passive_authentication_details"]
    assert pa["data_groups_checked"] == sorted(dgs)
    valid = [n for n in sorted(dgs) if doc.sha256(dgs[n]) == doc.sha256(signed[n])]
    assert pa["data_groups_with_valid_hash"] == valid
    assert pa["all_hashes_valid"] is (valid == sorted(dgs))
    assert pa["sod_signature_valid"] is True
    assert pa["document_certificate_valid"] is (name != "untrusted")
    assert (pa["error"] is None) is profile.expect.passive_authentication

    assert result["passive_authentication"] is profile.expect.passive_authentication
    assert result["chip_authentication_result"] == profile.expect.chip_authentication
    assert result["active_authentication_result"] == profile.expect.active_authentication
    assert result["access_control"] == profile.expect.access_control
    assert (result["errors"] == []) is (name not in ("clone", "tampered", "untrusted"))


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
async def test_every_profile_is_posted_and_returned_as_on_the_chip(make_stack, name):
    stack = make_stack()
    chip = profiles.get_profile(name).chip()
    files = doc.chip_files(chip)
    trace = await stack.phone(name, chip=chip, client_id=FILES, return_result=True)

    trace.assert_closed_by_server(1000, None)
    assert_event_order(trace, doc.expected_statuses(doc.data_groups(chip)))
    (post,) = stack.results.posts
    assert post.path == RESULT_PATH and post.content_type == ["application/json"]
    assert set(post.body) == {"emrtd_passport", "client_validation_id", "session_id"}
    assert post.body["client_validation_id"] == trace.options.validation_id
    assert post.body["emrtd_passport"] == trace.result
    assert_matches_chip(trace.result, name, files)
    # files_binary: this client is configured for it, so every file read is there verbatim.
    assert trace.result["files_binary"] == {k: doc.b64(v) for k, v in files.items()}
    assert stack.factory.sessions == set()


@pytest_twisted.ensureDeferred
async def test_files_binary_only_for_the_client_configured_with_it(make_stack):
    stack = make_stack()
    posting = await stack.phone(client_id=POSTING, return_result=True)
    returning = await stack.phone(client_id=RETURNING, return_result=True)
    for trace in (posting, returning):
        trace.assert_closed_by_server(1000, None)
        check_emrtd_passport(trace.result)
        assert "files_binary" not in trace.result
    (post,) = stack.results.posts       # the returning client has no Result Server
    assert "files_binary" not in post.body["emrtd_passport"]
    assert post.body["emrtd_passport"] == posting.result
    assert post.body["client_validation_id"] == posting.options.validation_id
    # Same document, different clients: the same result apart from nothing at all.
    assert posting.result == returning.result


@pytest_twisted.ensureDeferred
async def test_without_return_result_the_phone_gets_done_and_no_result(make_stack):
    stack = make_stack()
    trace = await stack.phone(client_id=POSTING)
    trace.assert_closed_by_server(1000, None)
    assert "result" not in trace.kinds() and trace.result is None
    assert trace.kinds()[-3:] == ["status", "close_message", "close_frame"]
    assert trace.statuses[-1] == "DONE"
    (post,) = stack.results.posts
    check_emrtd_passport(post.body["emrtd_passport"])
    assert post.body["emrtd_passport"]["mrz_info"]["document_number"] == profiles.PASSPORT_NUMBER


@pytest_twisted.ensureDeferred
async def test_all_documents_at_once_each_result_reaches_its_own_phone_and_post(make_stack):
    """Sessions running side by side share nothing: every phone and every post gets the
    result of its own chip, under its own validation_id."""
    stack = make_stack()
    names = sorted(profiles.PROFILES) * 2
    chips = [profiles.get_profile(name).chip() for name in names]
    traces = await defer.gatherResults([
        stack.phone(name, chip=chip, client_id=FILES, return_result=True, validation_id=f"{i}-{name}",
                    max_pipelined_apdus=1 + i % 8, delay=0.001 * (i % 3))
        for i, (name, chip) in enumerate(zip(names, chips, strict=True))])
    posts = {p.body["client_validation_id"]: p.body["emrtd_passport"] for p in stack.results.posts}
    assert len(posts) == len(names)
    for i, (name, chip, trace) in enumerate(zip(names, chips, traces, strict=True)):
        trace.assert_closed_by_server(1000, None)
        assert posts[f"{i}-{name}"] == trace.result
        assert trace.result["files_binary"] == {k: doc.b64(v) for k, v in doc.chip_files(chip).items()}
        assert trace.result["access_control"] == profiles.get_profile(name).expect.access_control


def _as_jpeg2000(jpeg: bytes, kind: str) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    with Image.open(io.BytesIO(jpeg)) as picture:
        picture.convert("RGB").save(out, "JPEG2000", no_jp2=(kind == "j2k"))
    return out.getvalue()


@pytest_twisted.ensureDeferred
async def test_jpeg2000_images_reach_phone_and_result_server_as_jpeg(make_stack):
    """docs/result.md note: phones cannot show JPEG 2000, so a JP2 face (DG2) and a raw J2K
    signature (DG7) are delivered as JPEG, while PA still covers the files as signed."""
    import io

    from PIL import Image

    from docval.sim import datagroups
    from docval.sim.edit import put_dg

    stack = make_stack()
    chip = profiles.get_profile("bac-3des").chip()
    face = _as_jpeg2000(datagroups.make_face_jpeg(120, 160, seed=5), "jp2")
    signature = _as_jpeg2000(datagroups.make_face_jpeg(100, 40, seed=6), "j2k")
    put_dg(chip, 2, datagroups.encode_dg2([(face, 120, 160, "jp2")]), resign=False)
    put_dg(chip, 7, datagroups.encode_dg7([signature]))
    trace = await stack.phone("bac-3des", chip=chip, client_id=POSTING, return_result=True)

    trace.assert_closed_by_server(1000, None)
    check_emrtd_passport(trace.result)
    (post,) = stack.results.posts
    assert post.body["emrtd_passport"] == trace.result
    images = [trace.result["face_photo"]] + trace.result["signature_photos"]
    sizes = []
    for b64 in images:
        data = base64.b64decode(b64)
        with Image.open(io.BytesIO(data)) as picture:
            assert picture.format == "JPEG"
            sizes.append(picture.size)
    assert sizes == [(120, 160), (100, 40)]
    assert trace.result["passive_authentication"] is True
    assert trace.result["passive_authentication_details"]["data_groups_with_valid_hash"] == [1, 2, 7, 14, 15]
