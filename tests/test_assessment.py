"""assess(): the files handed in directly (no chip, no reader), as a v2 phone would send them."""
import hashlib
import io
from datetime import datetime, timezone

import pytest
from PIL import Image
import pytest_twisted

from docval import keyfiles, verdicts
from docval.assessment import AssessParams, assess, parse_sod_file, run_inline
from docval.emrtd import files, images
from docval.emrtd.errors import FileReadError, UnsupportedError
from docval.emrtd.lds import CONTENT_DGS, parse_dg
from docval.emrtd.lds.dg1 import parse_dg1
from docval.emrtd.lds.dg11 import parse_dg11
from docval.emrtd.mrz import MrzKey
from docval.result import Report
from docval.sim import datagroups, pki, profiles
from docval.sim.ca_chip import build_dg14


def document(name="pace-ecdh-gm-aes128"):
    """EF.SOD and the data groups of a virtual document, as its chip holds them."""
    app = profiles.get_profile(name).chip().fs.application
    by_name = {ef.ref.name: ef.content for ef in app.by_fid.values()}
    sod = by_name.pop(files.EF_SOD.name)
    return sod, {int(n[len("EF.DG"):]): data for n, data in by_name.items()}


def signed(dgs):
    """EF.SOD over ``dgs``, signed by the demo document signer."""
    signer = pki.demo_pki().dsc
    return pki.sign_sod({n: hashlib.sha256(d).digest() for n, d in dgs.items()}, "SHA-256",
                        signer.key, signer.cert, scheme=signer.scheme)


class Decoder:
    def __init__(self):
        self.calls = 0

    async def __call__(self, data, max_pixels):
        self.calls += 1
        return images.convert(data, max_pixels)


def params(trust, **kwargs):
    kwargs.setdefault("decode_image", Decoder())
    return AssessParams(trust=trust, at=datetime.now(timezone.utc), offload=run_inline,
                        decode_limits=None, **kwargs)


@pytest_twisted.ensureDeferred
async def test_a_valid_document_verifies_and_fills_the_report(demo_trust):
    sod, dgs = document()
    report = await assess(sod, dgs, verdicts.Facts(), params(demo_trust))
    assert report.pa.passive_authentication and report.pa.all_hashes_valid
    assert report.pa.data_groups_with_valid_hash == sorted(dgs)
    assert report.errors == [] and report.pa.data_groups_not_read == []
    assert report.mrz.primary_identifier == "TRAVELLER"
    assert report.face_photo == profiles._face()
    assert report.additional_personal_details.place_of_birth == "PORT UTOPIA"
    assert report.additional_document_details.issuing_authority == "UTOPIA PASSPORT OFFICE"
    assert report.files["sod"] == sod and report.files["dg14"] == dgs[14]
    assert report.sod_hashes.keys() == dgs.keys() and report.sod_hash_algorithm == "SHA-256"
    assert report.trust_store_version == demo_trust.version
    # Nothing declared CA or AA in these facts: the document "lacks" them.
    assert report.chip_authentication == report.active_authentication == verdicts.UNAVAILABLE


@pytest_twisted.ensureDeferred
async def test_a_withheld_data_group_is_named_in_data_groups_not_read(demo_trust):
    sod, dgs = document()
    del dgs[11]
    facts = verdicts.Facts()
    report = await assess(sod, dgs, facts, params(demo_trust))
    assert report.pa.data_groups_not_read == [11]
    assert facts.not_read[11] == (verdicts.FILE_UNREADABLE, "not delivered")
    assert "EF.DG11 could not be read: not delivered (it is listed in EF.SOD)" in report.errors
    assert report.additional_personal_details is None
    # PA checks what was delivered; the missing DG does not make the others fail.
    assert report.pa.all_hashes_valid and report.pa.passive_authentication


@pytest_twisted.ensureDeferred
async def test_a_reason_the_caller_recorded_is_kept(demo_trust):
    sod, dgs = document()
    del dgs[12]
    facts = verdicts.Facts()
    facts.not_read[12] = (verdicts.FILE_WITHHELD, "status 6982: protected by Extended Access Control")
    report = await assess(sod, dgs, facts, params(demo_trust))
    assert report.pa.data_groups_not_read == [12]
    assert report.errors == ["EF.DG12 is listed in EF.SOD but the chip withheld it "
                             "(status 6982: protected by Extended Access Control)"]


@pytest_twisted.ensureDeferred
async def test_only_expected_data_groups_are_reported_missing(demo_trust):
    # The v1 reader never asks for DG3/DG4 (Extended Access Control): not "missing".
    sod, dgs = document()
    del dgs[11]
    report = await assess(sod, dgs, verdicts.Facts(), params(demo_trust, expected_dgs={1, 2}))
    assert report.pa.data_groups_not_read == [] and report.errors == []


@pytest_twisted.ensureDeferred
async def test_a_malformed_sod_raises_file_read_error(demo_trust):
    sod, dgs = document()
    with pytest.raises(FileReadError, match="EF.SOD is malformed"):
        await assess(sod[:40], dgs, verdicts.Facts(), params(demo_trust))


@pytest_twisted.ensureDeferred
async def test_a_data_group_with_a_wrong_hash_is_reported(demo_trust):
    sod, dgs = document()
    dgs[11] = dgs[11][:-1] + bytes([dgs[11][-1] ^ 1])
    report = await assess(sod, dgs, verdicts.Facts(), params(demo_trust))
    assert "DG11 does not match its hash in EF.SOD" in report.errors
    assert 11 not in report.pa.data_groups_with_valid_hash
    assert report.pa.sod_signature_valid and not report.pa.passive_authentication


@pytest_twisted.ensureDeferred
async def test_without_trust_the_signature_chain_is_not_valid():
    sod, dgs = document()
    report = await assess(sod, dgs, verdicts.Facts(), params(None))
    assert not report.pa.passive_authentication and report.trust_store_version is None


@pytest_twisted.ensureDeferred
async def test_a_proven_mechanism_succeeds_only_over_a_valid_sod(demo_trust):
    for trust, expect in ((demo_trust, verdicts.SUCCESS), (None, verdicts.FAILED)):
        sod, dgs = document()
        facts = verdicts.Facts()
        keyfiles.declare_from_sod(parsed(sod), facts)
        facts.ca.tried(verdicts.PROVEN)
        facts.aa.tried(verdicts.PROVEN)
        report = await assess(sod, dgs, facts, params(trust))
        assert report.chip_authentication == report.active_authentication == expect
        assert facts.sod_valid is (expect == verdicts.SUCCESS)


def parsed(sod):
    return parse_sod_file(sod)


@pytest_twisted.ensureDeferred
async def test_before_decide_runs_after_pa_and_its_facts_count(demo_trust):
    sod, dgs = document()
    facts = verdicts.Facts()
    seen = []

    async def cam(report):
        seen.append(report.pa.passive_authentication)
        facts.ca.declare("EF.CardAccess")
        facts.ca.tried(verdicts.DISPROVEN, "the chip's data does not match")

    report = await assess(sod, dgs, facts, params(demo_trust), before_decide=cam)
    assert seen == [True]
    assert report.chip_authentication == verdicts.FAILED
    assert "chip authentication failed: the chip's data does not match" in report.errors


@pytest_twisted.ensureDeferred
async def test_dg1_must_match_the_mrz_key_used_for_access_control(demo_trust):
    sod, dgs = document()
    wrong = MrzKey("X0000000", "850312", profiles.DATE_OF_EXPIRY)
    report = await assess(sod, dgs, verdicts.Facts(), params(demo_trust, access_key=wrong))
    assert report.errors == ["DG1 does not match the MRZ data used for access control"]
    right = profiles.get_profile("bac-3des").access_key
    report = await assess(sod, dgs, verdicts.Facts(), params(demo_trust, access_key=right))
    assert report.errors == []


@pytest_twisted.ensureDeferred
async def test_an_unparsable_content_group_is_an_error_not_a_failure(demo_trust):
    dgs = {1: datagroups.encode_dg1(profiles._passport_mrz()), 11: b"\x6b\x03\x01\x02\x03"}
    report = await assess(signed(dgs), dgs, verdicts.Facts(), params(demo_trust))
    assert [e for e in report.errors if e.startswith("DG11 could not be parsed")]
    assert report.pa.passive_authentication and report.mrz is not None


def _j2k(width=40, height=30):
    out = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(out, "JPEG2000", no_jp2=True)
    return out.getvalue()


@pytest_twisted.ensureDeferred
async def test_jpeg_2000_is_converted_only_for_a_verified_data_group(demo_trust):
    dgs = {1: datagroups.encode_dg1(profiles._passport_mrz()),
           2: datagroups.encode_dg2([(_j2k(), 40, 30, "j2k")])}
    sod = signed(dgs)
    decoder = Decoder()
    report = await assess(sod, dgs, verdicts.Facts(), params(demo_trust, decode_image=decoder))
    assert decoder.calls == 1 and report.face_photo[:2] == b"\xff\xd8"

    # The same face in a DG2 that EF.SOD does not cover: never decoded.
    tampered = {**dgs, 2: datagroups.encode_dg2([(_j2k(41, 30), 41, 30, "j2k")])}
    decoder = Decoder()
    report = await assess(sod, tampered, verdicts.Facts(), params(demo_trust, decode_image=decoder))
    assert decoder.calls == 0 and report.face_photo is None
    assert ("DG2 face image not converted from JPEG 2000: DG2 is not covered by a validly signed EF.SOD"
            in report.errors)


@pytest_twisted.ensureDeferred
async def test_the_report_given_is_the_one_filled(demo_trust):
    sod, dgs = document()
    report = Report()
    report.error("from the read")
    assert await assess(sod, dgs, verdicts.Facts(), params(demo_trust), report) is report
    assert report.errors == ["from the read"]


# -- keyfiles ------------------------------------------------------------------------------


def test_hash_matches_only_the_signed_bytes_of_a_listed_group():
    sod_bytes, dgs = document()
    sod = parsed(sod_bytes)
    assert keyfiles.hash_matches(sod, 14, dgs[14])
    assert not keyfiles.hash_matches(sod, 14, dgs[14] + b"\x00")
    assert not keyfiles.hash_matches(sod, 3, dgs[14])       # not listed


def test_check_dg14_gives_the_key_and_records_the_file():
    sod_bytes, dgs = document()
    sod = parsed(sod_bytes)
    ca = verdicts.MechanismFacts()
    choice = keyfiles.check_dg14(sod, dgs[14], ca)
    assert choice is not None and choice[1].oid
    assert (ca.key_file, ca.file_state) == ("EF.DG14", verdicts.FILE_READ)
    ca = verdicts.MechanismFacts()
    assert keyfiles.check_dg14(sod, dgs[14][:-1] + b"\x00", ca) is None
    assert ca.file_state == verdicts.FILE_HASH_MISMATCH


def test_check_dg14_unusable_content_signed_by_the_sod():
    dgs = {14: b"\x6e\x03\x31\x01\x00"}
    sod = parsed(signed(dgs))
    ca = verdicts.MechanismFacts()
    assert keyfiles.check_dg14(sod, dgs[14], ca) is None
    assert ca.file_state == verdicts.FILE_UNPARSABLE and ca.file_detail


def test_a_signed_dg14_without_ca_says_the_document_has_none():
    # Only an ActiveAuthenticationInfo: EF.SOD's declaration is withdrawn.
    dg14 = build_dg14(None, aa_signature_algorithm="1.2.840.10045.4.3.2")
    sod = parsed(signed({14: dg14}))
    facts = verdicts.Facts()
    keyfiles.declare_from_sod(sod, facts)
    assert keyfiles.check_dg14(sod, dg14, facts.ca) is None
    assert facts.ca.declared_by == [] and facts.ca.file_state == verdicts.FILE_READ


def test_check_dg15_gives_the_key_and_the_dg14_algorithm():
    sod_bytes, dgs = document()
    sod = parsed(sod_bytes)
    aa = verdicts.MechanismFacts()
    key, aa_info = keyfiles.check_dg15(sod, dgs[15], dgs[14], aa)
    assert key.kind == "ec" and aa_info is not None
    assert (aa.key_file, aa.file_state) == ("EF.DG15", verdicts.FILE_READ)
    # A DG14 that EF.SOD does not cover is not asked for the algorithm.
    _, aa_info = keyfiles.check_dg15(sod, dgs[15], dgs[14] + b"\x00", verdicts.MechanismFacts())
    assert aa_info is None
    aa = verdicts.MechanismFacts()
    assert keyfiles.check_dg15(sod, dgs[15][:-1] + b"\x00", None, aa) is None
    assert aa.file_state == verdicts.FILE_HASH_MISMATCH


def test_check_dg15_unusable_key():
    dgs = {15: b"\x6f\x02\x30\x00"}
    sod = parsed(signed(dgs))
    aa = verdicts.MechanismFacts()
    assert keyfiles.check_dg15(sod, dgs[15], None, aa) is None
    assert aa.file_state == verdicts.FILE_UNPARSABLE


# -- parse_dg ------------------------------------------------------------------------------


def test_parse_dg_dispatches_to_each_content_parser():
    _, dgs = document()
    assert CONTENT_DGS == (1, 2, 7, 11, 12)
    assert parse_dg(1, dgs[1]) == parse_dg1(dgs[1])
    assert parse_dg(11, dgs[11]) == parse_dg11(dgs[11])
    assert parse_dg(2, dgs[2])[0].data == profiles._face()
    assert parse_dg(7, datagroups.encode_dg7([b"\xff\xd8\xff1"])) == [b"\xff\xd8\xff1"]
    with pytest.raises(UnsupportedError):
        parse_dg(14, dgs[14])
