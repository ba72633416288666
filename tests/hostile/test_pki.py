"""HOSTILE_INPUTS b7 (Passive Authentication and PKI): X1-X7.

Forged EF.SODs are real CMS structures re-signed with the demo DSC key, so each
one is wrong in exactly the way its test names.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from asn1crypto import cms, core

from docval.emrtd import keys, tlv
from docval.emrtd.errors import EmrtdError, UnsupportedError
from docval.emrtd.lds.sod import parse_sod
from docval.emrtd.pa import passive_authentication
from docval.sim import pki
from docval.sim.hostile import fake_curve_spki
from tests.hostile.chipharness import run_chip, run_hostile

pytestmark = pytest.mark.hostile

TESTDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"
DG1 = b"\x61\x05\x5f\x1f\x02AB"
DGS = {1: DG1}


def _content_info(sod: bytes) -> cms.ContentInfo:
    return cms.ContentInfo.load(tlv.parse_single(sod, 0x77).value)


def _resign(info: cms.ContentInfo, signer_info: cms.SignerInfo) -> None:
    dsc = pki.demo_pki().dsc
    attrs = signer_info["signed_attrs"]
    data = attrs.dump(force=True) if not isinstance(attrs, core.Void) else \
        info["content"]["encap_content_info"]["content"].contents
    signer_info["signature"] = pki._sign(dsc.key, dsc.scheme, "SHA-256", data)


def forged_sod(change) -> bytes:
    info = _content_info(pki.sod_for_data_groups(DGS))
    change(info)
    return tlv.encode(0x77, info.dump(force=True))


def _set_attr(name: str, value) -> callable:
    def change(info):
        si = info["content"]["signer_infos"][0]
        attrs = [a for a in si["signed_attrs"] if a["type"].native != name]
        attrs.append({"type": name, "values": [value]})
        si["signed_attrs"] = cms.CMSAttributes(attrs)
        _resign(info, si)
    return change


def _no_signed_attrs(info):
    si = info["content"]["signer_infos"][0]
    si["signed_attrs"] = None
    _resign(info, si)


def _two_signers(info):
    signer_infos = info["content"]["signer_infos"]
    info["content"]["signer_infos"] = cms.SignerInfos([signer_infos[0], signer_infos[0].copy()])


def _unknown_digest(info):
    si = info["content"]["signer_infos"][0]
    si["digest_algorithm"] = {"algorithm": "1.2.3.4.5"}
    info["content"]["digest_algorithms"] = [{"algorithm": "1.2.3.4.5"}]


X1 = {
    "no-signed-attrs": _no_signed_attrs,
    "wrong-content-type": _set_attr("content_type", "data"),
    "message-digest-mismatch": _set_attr("message_digest", b"\x00" * 32),
    "several-signer-infos": _two_signers,
    "unknown-digest": _unknown_digest,
}


@pytest.mark.parametrize("kind", sorted(X1))
def test_X1_malformed_signed_data_fails_pa_with_a_precise_error(kind, demo_trust):
    sod = forged_sod(X1[kind])
    try:
        parsed = parse_sod(sod)
    except EmrtdError as exc:
        assert str(exc)                     # refused while parsing, with a reason
        return
    result = passive_authentication(parsed, DGS, demo_trust)
    assert result.passive_authentication is False
    assert result.error, kind


def test_X1_the_reader_reports_a_forged_sod(demo_trust):
    """The same forgery on a chip: the session ends with a result that says PA failed."""
    from docval.sim.hostile import hostile_chip
    chip = hostile_chip("dg14-unknown-oids")
    info = _content_info(chip.fs.application.by_fid[0x011D].content)
    _set_attr("message_digest", b"\x00" * 32)(info)
    from docval.emrtd import files
    chip.fs.application.put(files.EF_SOD, tlv.encode(0x77, info.dump(force=True)))
    from docval.sim.profiles import get_profile
    out = run_chip(chip, get_profile("pace-ecdh-gm-aes128").access_key, demo_trust)
    assert out.exc is None
    assert out.result["passive_authentication"] is False
    assert out.result["passive_authentication_details"]["error"]
    # and neither chip-authenticity verdict survives an unverified SOD
    assert out.result["chip_authentication_result"] == "FAILED"
    assert out.result["active_authentication_result"] == "FAILED"


def test_X2_legacy_lds_oid_is_accepted(demo_trust):
    out = run_hostile("sod-legacy-oid", demo_trust)
    assert out.exc is None
    assert out.result["passive_authentication"] is True, out.errors


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
