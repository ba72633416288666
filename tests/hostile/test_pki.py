"""docs/reliability.md, catalogue section b7 (Passive Authentication and PKI): X1-X7.

Forged EF.SODs are real CMS structures re-signed with the demo DSC key, so each
one is wrong in exactly the way its test names.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from docval.emrtd import keys
from docval.emrtd.errors import EmrtdError, UnsupportedError
from docval.emrtd.lds.sod import parse_sod
from docval.sim import pki
from tests.support.hostile_chips import fake_curve_spki
from tests.hostile.chipharness import run_chip, run_hostile
from tests.testdata import TESTDATA

pytestmark = pytest.mark.hostile

DG1 = b"\x61\x05\x5f\x1f\x02AB"
DGS = {1: DG1}


X1 = {"sod-no-signed-attrs": "no signed attributes", "sod-wrong-content-type": "contentType",
      "sod-digest-mismatch": "messageDigest", "sod-two-signers": "2 SignerInfos",
      "sod-unknown-digest": "unsupported hash algorithm"}


@pytest.mark.parametrize("name", sorted(X1))
def test_X1_malformed_signed_data_fails_pa_with_a_precise_error(name, demo_trust):
    out = run_hostile(name, demo_trust)
    assert out.exc is None, repr(out.exc)
    details = out.result["passive_authentication_details"]
    assert out.result["passive_authentication"] is False
    assert X1[name] in (details["error"] or ""), details["error"]
    # and neither chip-authenticity verdict survives an unverified SOD
    assert out.result["chip_authentication_result"] == "FAILED"
    assert out.result["active_authentication_result"] == "FAILED"


def test_X1_the_forgeries_are_what_they_claim():
    """Each forged SOD still parses as CMS and differs from the genuine one only as named."""
    from docval.emrtd import files
    from tests.support.hostile_chips import hostile_chip
    digest = hostile_chip("sod-digest-mismatch")
    sod = parse_sod(digest.fs.application.by_fid[files.EF_SOD.fid].content)
    assert sod.signer.message_digest == b"\x00" * 32
    two = hostile_chip("sod-two-signers")
    assert len(parse_sod(two.fs.application.by_fid[files.EF_SOD.fid].content).signed.signer_infos) == 2
    bare = hostile_chip("sod-no-signed-attrs")
    assert parse_sod(bare.fs.application.by_fid[files.EF_SOD.fid].content).signer.signed_attrs_der is None


def test_X2_legacy_lds_oid_is_accepted(demo_trust):
    out = run_hostile("sod-legacy-oid", demo_trust)
    assert out.exc is None
    assert out.result["passive_authentication"] is True, out.errors


@pytest.mark.testdata
def test_X3_real_explicit_brainpool_parameters_verify():
    """The German SOD's DSC carries explicit brainpool parameters: matched strictly, then verified."""
    from docval.emrtd.pa import check_signer, find_signer_certificate
    sod = parse_sod((TESTDATA / "sod" / "DE_EF.SOD.bin").read_bytes())
    signer = sod.signed.signer_infos[0]
    cert, _ = find_signer_certificate(sod.signed, signer)
    assert check_signer(sod.signed, signer, cert).valid


def test_X3_fake_curve_sharing_brainpools_prime_is_rejected():
    with pytest.raises((UnsupportedError, EmrtdError)):
        keys.load_public_key(fake_curve_spki())


@pytest.mark.testdata
def test_X4_rsassa_pss_real_document_verifies():
    from docval.emrtd.pa import check_signer, find_signer_certificate
    for name in ("ID_EF.SOD.bin", "MY_EF.SOD.bin"):
        sod = parse_sod((TESTDATA / "sod" / name).read_bytes())
        signer = sod.signed.signer_infos[0]
        cert, _ = find_signer_certificate(sod.signed, signer)
        assert check_signer(sod.signed, signer, cert).valid, name


def test_X4_ecdsa_plain_signature_verifies():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    from cryptography.hazmat.primitives import serialization
    private = ec.generate_private_key(ec.SECP256R1())
    der_sig = private.sign(b"msg", ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der_sig)
    plain = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    spki = private.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    key = keys.load_public_key(spki)
    assert keys.verify_signature(key, keys.ECDSA_PLAIN, "SHA-256", plain, b"msg") is True
    assert keys.verify_signature(key, keys.ECDSA, "SHA-256", der_sig, b"msg") is True
    assert keys.verify_signature(key, keys.ECDSA_PLAIN, "SHA-256", plain[:-1] + bytes([plain[-1] ^ 1]), b"msg") is False


def test_X5_untrusted_csca(demo_trust):
    from docval.sim.profiles import get_profile
    prof = get_profile("untrusted")
    out = run_chip(prof.chip(), prof.access_key, demo_trust)
    details = out.result["passive_authentication_details"]
    assert details["document_certificate_valid"] is False
    assert details["error"]


def test_X5_expired_document_signer(demo_trust):
    from docval.sim.profiles import get_profile
    prof = get_profile("pace-ecdh-gm-aes128")
    out = run_chip(prof.chip(), prof.access_key, demo_trust, at=datetime(2070, 1, 1, tzinfo=timezone.utc))
    details = out.result["passive_authentication_details"]
    assert details["document_certificate_valid"] is False
    assert "expired" in (details["error"] or "") + " ".join(details.get("warnings", []))


def test_X5_revoked_document_signer(tmp_path):
    from docval.sim.profiles import get_profile
    from docval.trust.store import TrustStore
    demo = pki.demo_pki()
    (tmp_path / "csca.pem").write_bytes(pki.demo_csca_pem())
    (tmp_path / "revoked.crl").write_bytes(pki.make_crl(demo.csca, [demo.dsc.cert.serial_number]))
    store = TrustStore.load([tmp_path])
    prof = get_profile("pace-ecdh-gm-aes128")
    out = run_chip(prof.chip(), prof.access_key, store)
    details = out.result["passive_authentication_details"]
    assert details["document_certificate_valid"] is False
    assert "revoked" in (details["error"] or "")


def test_X6_sha1_on_a_recent_document_verifies_and_is_flagged(demo_trust):
    out = run_hostile("sod-sha1", demo_trust)
    assert out.exc is None
    assert out.result["passive_authentication"] is True
    warnings = out.result["passive_authentication_details"].get("warnings", [])
    assert any("SHA-1" in w for w in warnings), warnings


def test_X7_dg_hashing_differently_fails_integrity(demo_trust):
    from docval.sim.profiles import get_profile
    prof = get_profile("tampered")
    out = run_chip(prof.chip(), prof.access_key, demo_trust)
    details = out.result["passive_authentication_details"]
    assert out.result["passive_authentication"] is False
    assert 11 in details["data_groups_checked"] and 11 not in details["data_groups_with_valid_hash"]
    assert any("DG11" in e for e in out.errors)
