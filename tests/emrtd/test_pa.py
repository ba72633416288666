"""Passive Authentication on real documents (DE/NL master lists, Indonesian CSCAs)
and on documents of generated PKIs for every failure the verdict must name."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from asn1crypto import algos, cms as asn1cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from hypothesis import given, settings, strategies as st

from docval.emrtd import ec as ecdomain, keys, tlv
from docval.emrtd.certificate import parse_certificate
from docval.emrtd.errors import LimitExceeded, ParseError, UnsupportedError
from docval.emrtd.lds.cms import parse_signed_data
from docval.emrtd.lds.sod import SOD as SOD_T, parse_sod
from docval.emrtd.pa import passive_authentication, verify_signed_data
from docval.sim import pki
from docval.trust.store import TrustStore
from tests.emrtd.ber import to_indefinite
from tests.trust.realdata import BSI_ETSI, CARD_SECURITY, IDN_CSCA, MASTER_LISTS, SOD_DIR, real_store

UTC = timezone.utc
SIGNED_2025 = datetime(2025, 6, 1, tzinfo=UTC)
DGS = {1: b"\x61\x05\x5f\x1f\x02AB", 2: b"\x75\x03\x01\x02\x03", 14: b"\x6e\x02\x31\x00", 15: b"\x6f\x01\x00"}

# country: (signature algorithm, DG hash algorithm, evaluation instant inside the DSC's validity)
REAL = {
    "AT": ("ECDSA-SHA256", "SHA-256"),
    "DE": ("ECDSA-SHA384", "SHA-384"),
    "FI": ("ECDSA-SHA512", "SHA-512"),
    "FR": ("RSA-PKCS1v15-SHA256", "SHA-256"),
    "ID": ("RSASSA-PSS-SHA256", "SHA-256"),
    "MY": ("RSASSA-PSS-SHA256", "SHA-256"),
}


def _signed_at(sod) -> datetime:
    """The signing time, or a day after the DSC became valid when the SOD has none."""
    return sod.signing_time or sod.certificates[0].not_before + timedelta(days=1)


@pytest.fixture(scope="module")
def store() -> TrustStore:
    return real_store()


@pytest.fixture(scope="module")
def demo_store() -> TrustStore:
    return TrustStore.from_certificates([pki.demo_csca_pem()])


# --- real documents ---------------------------------------------------------------

@pytest.mark.testdata
@pytest.mark.parametrize("country", sorted(REAL))
def test_real_sod_verifies_with_the_right_algorithms(store, country):
    sod = parse_sod((SOD_DIR / f"{country}_EF.SOD.bin").read_bytes())
    r = passive_authentication(sod, {}, store, at=_signed_at(sod))
    assert r.sod_signature_valid and r.document_certificate_valid, r.error
    assert (r.signature_algorithm, r.hash_algorithm) == REAL[country]
    assert r.dsc_valid_at_time is True
    assert r.dsc_fingerprint == sod.certificates[0].fingerprint
    assert r.csca_subject and f"Country: {country}" in r.csca_subject
    # MY names the DSC issuer with its RDNs in another order: still an exact match
    assert r.warnings == []
    # nothing was read, so the overall verdict cannot be true
    assert not r.passive_authentication and r.data_groups_checked == []
    assert r.error == "no data group was read, so no hash could be checked"


@pytest.mark.testdata
def test_indonesian_sod_chains_to_the_2020_csca(store):
    sod = parse_sod((SOD_DIR / "ID_EF.SOD.bin").read_bytes())
    r = passive_authentication(sod, {}, TrustStore.load([IDN_CSCA]), at=_signed_at(sod))
    expected = parse_certificate((IDN_CSCA / "2020-10_CSCA.cer").read_bytes())
    assert r.document_certificate_valid and r.csca_fingerprint == expected.fingerprint


@pytest.mark.testdata
def test_german_chain_uses_explicit_brainpool_parameters(store):
    sod = parse_sod((SOD_DIR / "DE_EF.SOD.bin").read_bytes())
    r = passive_authentication(sod, {}, store, at=_signed_at(sod))
    csca = next(c for c in store.certificates if c.fingerprint == r.csca_fingerprint)
    prime_field_oid = bytes.fromhex("06072a8648ce3d0101")
    assert prime_field_oid in csca.spki           # explicit parameters, not a curve OID
    assert csca.public_key().curve.name == "brainpoolP512r1"
    assert sod.certificates[0].public_key().curve.name == "brainpoolP384r1"


@pytest.mark.testdata
def test_expired_dsc_is_reported_as_expiry_not_as_a_bad_signature(store):
    sod = parse_sod((SOD_DIR / "FI_EF.SOD.bin").read_bytes())
    r = passive_authentication(sod, {}, store, at=datetime(2030, 1, 1, tzinfo=UTC))
    assert r.sod_signature_valid
    assert not r.document_certificate_valid and r.dsc_valid_at_time is False
    assert "document signer certificate expired on 2028-10-30" in r.error
    assert r.warnings == ["document signer certificate expired on 2028-10-30"]
    assert "signature" not in r.error.replace("document signer certificate", "")
    early = passive_authentication(sod, {}, store, at=datetime(2020, 1, 1, tzinfo=UTC))
    assert "not valid before 2023-07-30" in early.error


@pytest.mark.testdata
@pytest.mark.parametrize("country", ["AT", "DE", "FR"])
def test_real_sod_in_ber_with_indefinite_lengths_still_verifies(store, country):
    inner = tlv.parse_single((SOD_DIR / f"{country}_EF.SOD.bin").read_bytes(), 0x77).value
    sod = parse_sod(b"\x77\x80" + to_indefinite(inner) + b"\x00\x00")
    r = passive_authentication(sod, {}, store, at=_signed_at(sod))
    assert r.sod_signature_valid and r.document_certificate_valid, r.error


@pytest.mark.testdata
@pytest.mark.parametrize("country,algorithm", [("DE", "ECDSA-SHA384"), ("FI", "ECDSA-SHA512")])
def test_real_card_security_verifies(store, country, algorithm):
    signed = parse_signed_data((CARD_SECURITY / f"{country}_EF.CardSecurity.bin").read_bytes())
    r = verify_signed_data(signed, store, signed.certificates[0].not_before + timedelta(days=1))
    assert r.sod_signature_valid and r.document_certificate_valid and r.passive_authentication, r.error
    assert r.signature_algorithm == algorithm and f"Country: {country}" in r.csca_subject


@pytest.mark.testdata
@pytest.mark.parametrize("name", ["BSI_TR-03105-5_ReferenceDataSet_EF_SOD.bin", "ETSI_ePassport_Prototype_EF_SOD.bin"])
def test_reference_sods_have_valid_signatures_but_no_trusted_csca(store, name):
    sod = parse_sod((BSI_ETSI / name).read_bytes())
    r = passive_authentication(sod, {}, store, at=_signed_at(sod))
    assert r.sod_signature_valid and r.signature_algorithm == "RSASSA-PSS-SHA256"
    assert not r.document_certificate_valid and not r.passive_authentication
    assert "document signer certificate is not issued by a trusted CSCA" in r.error


@pytest.mark.testdata
def test_modified_bsi_sod_fails_the_signature(store):
    sod = parse_sod((BSI_ETSI / "BSI_TR-03105-5_ReferenceDataSet_MODIFIED_EF_SOD.bin").read_bytes())
    r = passive_authentication(sod, {}, store, at=_signed_at(sod))
    assert not r.sod_signature_valid and not r.passive_authentication
    assert "signature over the signed attributes is invalid" in r.error


@pytest.mark.testdata
def test_real_document_under_an_untrusted_store_only():
    sod = parse_sod((SOD_DIR / "FR_EF.SOD.bin").read_bytes())
    only_nl = TrustStore.load([MASTER_LISTS / "NL_ROOT_CA.cer"])
    r = passive_authentication(sod, {}, only_nl, at=_signed_at(sod))
    assert r.sod_signature_valid and not r.document_certificate_valid
    assert "not issued by a trusted CSCA" in r.error


# --- generated documents ----------------------------------------------------------------

def _sod(signer=None, dgs=DGS, **kwargs) -> bytes:
    kwargs.setdefault("signing_time", SIGNED_2025)
    return pki.sod_for_data_groups(dgs, signer or pki.demo_pki().dsc, **kwargs)


def test_demo_document_passes(demo_store):
    r = passive_authentication(parse_sod(_sod()), DGS, demo_store, at=SIGNED_2025, issuing_state="UTO")
    assert r.passive_authentication and r.all_hashes_valid and r.error is None
    assert r.data_groups_checked == r.data_groups_with_valid_hash == [1, 2, 14, 15]
    assert r.evaluated_at == "2025-06-01T00:00:00Z"


def test_tampering_one_byte_fails_exactly_that_dg(demo_store):
    sod = parse_sod(_sod())
    for dg in DGS:
        tampered = dict(DGS)
        data = bytearray(tampered[dg])
        data[-1] ^= 1
        tampered[dg] = bytes(data)
        r = passive_authentication(sod, tampered, demo_store, at=SIGNED_2025)
        assert r.sod_signature_valid and r.document_certificate_valid
        assert r.data_groups_with_valid_hash == sorted(set(DGS) - {dg})
        assert not r.all_hashes_valid and not r.passive_authentication
        assert r.error == f"DG{dg} hash does not match EF.SOD"


def test_dg_not_read_is_not_checked_and_dg_not_listed_fails(demo_store):
    sod = parse_sod(_sod())
    r = passive_authentication(sod, {1: DGS[1]}, demo_store, at=SIGNED_2025)
    assert r.passive_authentication and r.data_groups_checked == [1]
    extra = passive_authentication(sod, {1: DGS[1], 11: b"\x6b\x00"}, demo_store, at=SIGNED_2025)
    assert not extra.passive_authentication and extra.data_groups_with_valid_hash == [1]
    assert extra.error == "DG11 was read but is not listed in EF.SOD"


def test_dsc_from_an_untrusted_csca(demo_store):
    other = pki.generate_pki()
    r = passive_authentication(parse_sod(_sod(other.dsc)), DGS, demo_store, at=SIGNED_2025)
    assert r.sod_signature_valid and r.all_hashes_valid
    assert not r.document_certificate_valid and not r.passive_authentication
    assert "not issued by a trusted CSCA" in r.error


def test_dsc_with_the_trusted_name_but_a_foreign_key(demo_store):
    """Same CSCA name as the demo, different key: the DSC signature must not verify."""
    impostor = pki.generate_pki(common_name="DocVal Demo CSCA (TEST ONLY)")
    r = passive_authentication(parse_sod(_sod(impostor.dsc)), DGS, demo_store, at=SIGNED_2025)
    assert not r.document_certificate_valid
    assert "does not verify with any trusted CSCA" in r.error


@pytest.mark.parametrize("variant", ["rsa-pss", "p256", "rsa-csca", "pkcs1"])
def test_algorithm_variants(variant):
    if variant == "p256":
        p = pki.generate_pki(curve=ec.SECP256R1())
        signer, expected = p.dsc, "ECDSA-SHA256"
    elif variant == "rsa-csca":
        p = pki.generate_pki(csca_rsa=True)
        signer, expected = p.dsc, "ECDSA-SHA256"
    elif variant == "pkcs1":
        p = pki.generate_pki()
        signer, expected = pki.Signer(p.dsc_rsa_pss.key, p.dsc_rsa_pss.cert, keys.RSA_PKCS1), "RSA-PKCS1v15-SHA384"
    else:
        p = pki.generate_pki()
        signer, expected = p.dsc_rsa_pss, "RSASSA-PSS-SHA384"
    hash_name = "SHA-256" if expected.endswith("256") else "SHA-384"
    store = TrustStore.from_certificates([p.csca.cert_der])
    r = passive_authentication(parse_sod(_sod(signer, hash_name=hash_name)), DGS, store, at=SIGNED_2025)
    assert r.passive_authentication, r.error
    assert r.signature_algorithm == expected and r.hash_algorithm == hash_name


def test_revoked_dsc():
    p = pki.generate_pki()
    sod = parse_sod(_sod(p.dsc))
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "csca.pem").write_bytes(p.csca.cert_pem)
        (Path(d) / "ut.crl").write_bytes(pki.make_crl(p.csca, [p.dsc.cert.serial_number]))
        store = TrustStore.load([Path(d) / "csca.pem"], [Path(d) / "ut.crl"])
        assert len(store.crls) == 1
        r = passive_authentication(sod, DGS, store, at=SIGNED_2025)
        assert r.sod_signature_valid and not r.document_certificate_valid
        assert r.error == "document signer certificate is revoked by its CSCA's CRL"
        other = passive_authentication(parse_sod(_sod(p.dsc_rsa_pss)), DGS, store, at=SIGNED_2025)
        assert other.passive_authentication


def test_issuing_state_must_match_the_csca_country(demo_store):
    sod = parse_sod(_sod())
    r = passive_authentication(sod, DGS, demo_store, at=SIGNED_2025, issuing_state="D<<")
    assert not r.document_certificate_valid and r.error == "issuing state D does not match the CSCA country UT"
    unknown = passive_authentication(sod, DGS, demo_store, at=SIGNED_2025, issuing_state="ZZZ")
    assert unknown.passive_authentication and "no known country code" in unknown.warnings[0]


def test_dsc_without_digital_signature_key_usage():
    p = pki.generate_pki()
    key = ec.generate_private_key(ec.BrainpoolP256R1())
    wrong = pki.Signer(key, pki.issue_certificate(p.csca, key.public_key(), ca=True, serial=9))
    store = TrustStore.from_certificates([p.csca.cert_der])
    r = passive_authentication(parse_sod(_sod(wrong)), DGS, store, at=SIGNED_2025)
    assert r.sod_signature_valid and not r.document_certificate_valid
    assert "key usage does not allow digital signatures" in r.error


def _sod_signed(signer, *, include_certificate: bool = True, extra_certificates: tuple[bytes, ...] = ()) -> SOD_T:
    content = pki.lds_security_object({n: keys.digest("SHA-256", d) for n, d in DGS.items()}, "SHA-256")
    return parse_sod(tlv.encode(0x77, pki.sign_signed_data(
        pki.OID_LDS_SECURITY_OBJECT, content, signer, signing_time=SIGNED_2025,
        include_certificate=include_certificate, extra_certificates=extra_certificates)))


def test_signer_certificate_neither_embedded_nor_known(demo_store):
    r = passive_authentication(_sod_signed(pki.demo_pki().dsc, include_certificate=False), DGS, demo_store,
                               at=SIGNED_2025)
    assert not r.sod_signature_valid and not r.document_certificate_valid and not r.passive_authentication
    assert r.error.startswith("the signer certificate is neither in the signed data nor in the trust store")
    assert r.all_hashes_valid          # the hashes are still judged, and reported apart


def test_only_embedded_certificate_not_named_by_the_sid_is_tried_with_a_warning(demo_store):
    """Some issuers get the sid wrong; the one embedded certificate is tried, and only its
    signature decides. Two embedded certificates and no match: nothing is guessed."""
    demo = pki.demo_pki()

    def other_serial(sd):
        sd["signer_infos"][0]["sid"].chosen["serial_number"] = 424242
    r = passive_authentication(parse_sod(_patched(_sod(), other_serial)), DGS, demo_store, at=SIGNED_2025)
    assert r.passive_authentication, r.error
    assert r.warnings == ["SignerInfo does not identify the embedded certificate"]
    two = _sod_signed(demo.dsc, extra_certificates=(demo.dsc_rsa_pss.cert_der,))
    assert passive_authentication(two, DGS, demo_store, at=SIGNED_2025).passive_authentication
    r = passive_authentication(parse_sod(_patched(two.raw, other_serial)), DGS, demo_store, at=SIGNED_2025)
    assert not r.sod_signature_valid and "neither in the signed data nor in the trust store" in r.error


def test_csca_without_certificate_signing_key_usage_is_not_an_issuer():
    key = ec.generate_private_key(ec.BrainpoolP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "UT"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Signing-only CSCA")])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(pki.DEMO_NOT_BEFORE).not_valid_after(pki.DEMO_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    csca = pki.Signer(key, cert, keys.ECDSA)
    dsc_key = ec.generate_private_key(ec.BrainpoolP256R1())
    dsc = pki.Signer(dsc_key, pki.issue_certificate(csca, dsc_key.public_key()), keys.ECDSA)
    store = TrustStore.from_certificates([csca.cert_der])
    r = passive_authentication(parse_sod(_sod(dsc)), DGS, store, at=SIGNED_2025)
    assert r.sod_signature_valid and not r.document_certificate_valid
    assert "CSCA key usage does not allow certificate signing" in r.error


def test_dsc_issuer_country_must_be_the_csca_country(demo_store):
    """A DSC whose issuer name claims another country, found through its key identifier."""
    demo = pki.demo_pki()
    key = ec.generate_private_key(ec.BrainpoolP256R1())
    csca_ski = demo.csca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    foreign = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "ZZ"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "DocVal Demo CSCA (TEST ONLY)")])
    cert = (x509.CertificateBuilder().subject_name(foreign).issuer_name(foreign).public_key(key.public_key())
            .serial_number(77).not_valid_before(pki.DEMO_NOT_BEFORE).not_valid_after(pki.DEMO_NOT_AFTER)
            .add_extension(x509.AuthorityKeyIdentifier(csca_ski.digest, None, None), critical=False)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(demo.csca.key, hashes.SHA256()))
    r = passive_authentication(parse_sod(_sod(pki.Signer(key, cert, keys.ECDSA))), DGS, demo_store, at=SIGNED_2025)
    assert r.sod_signature_valid and not r.document_certificate_valid
    assert "document signer certificate country ZZ differs from the CSCA country UT" in r.error


def test_link_certificate_chain():
    old = pki.generate_pki(common_name="DocVal Test CSCA")
    new_key = ec.generate_private_key(ec.BrainpoolP256R1())
    link = pki.issue_certificate(old.csca, new_key.public_key(), common_name="DocVal Test CSCA",
                                 ca=True, serial=50)
    new_csca = pki.Signer(new_key, link)
    dsc_key = ec.generate_private_key(ec.BrainpoolP256R1())
    dsc = pki.Signer(dsc_key, pki.issue_certificate(new_csca, dsc_key.public_key(), serial=51))
    store = TrustStore.from_certificates([old.csca.cert_der, new_csca.cert_der])
    r = passive_authentication(parse_sod(_sod(dsc)), DGS, store, at=SIGNED_2025)
    assert r.passive_authentication, r.error
    assert r.csca_fingerprint == parse_certificate(new_csca.cert_der).fingerprint
    only_old = TrustStore.from_certificates([old.csca.cert_der])
    assert not passive_authentication(parse_sod(_sod(dsc)), DGS, only_old, at=SIGNED_2025).document_certificate_valid


def test_legacy_oid_and_ski_identification(demo_store):
    r = passive_authentication(parse_sod(_sod(legacy_oid=True)), DGS, demo_store, at=SIGNED_2025)
    assert r.passive_authentication and "legacy LDS security object OID" in r.warnings[0]
    r = passive_authentication(parse_sod(_sod(use_ski=True)), DGS, demo_store, at=SIGNED_2025)
    assert r.passive_authentication and r.warnings == []


def test_sha1_on_a_recent_document_is_flagged(demo_store):
    sod = parse_sod(_sod(hash_name="SHA-1", signing_time=datetime(2020, 3, 1, tzinfo=UTC)))
    r = passive_authentication(sod, DGS, demo_store, at=SIGNED_2025)
    assert r.passive_authentication and r.signature_algorithm == "ECDSA-SHA1"
    assert any("SHA-1" in w and "2020" in w for w in r.warnings)


def test_no_trust_store(demo_store):
    r = passive_authentication(parse_sod(_sod()), DGS, None, at=SIGNED_2025)
    assert r.sod_signature_valid and not r.document_certificate_valid
    assert "no trust store" in r.error


# --- CMS structure errors (docs/reliability.md X1, X4) ---------------------------------------

def _patched(sod_bytes: bytes, patch) -> bytes:
    info = asn1cms.ContentInfo.load(tlv.parse_single(sod_bytes, 0x77).value)
    patch(info["content"])
    return tlv.encode(0x77, info.dump(force=True))


def _resign(signer_info, key, sign) -> None:
    attrs = signer_info["signed_attrs"]
    signer_info["signature"] = sign(key, asn1cms.CMSAttributes.load(b"\x31" + attrs.dump()[1:]).dump())


def test_two_signer_infos(demo_store):
    def twice(sd):
        si = sd["signer_infos"][0]
        sd["signer_infos"] = asn1cms.SignerInfos([si, asn1cms.SignerInfo.load(si.dump())])
    r = passive_authentication(parse_sod(_patched(_sod(), twice)), DGS, demo_store, at=SIGNED_2025)
    assert not r.sod_signature_valid and "2 SignerInfos, exactly one is required" in r.error


def _replace_element(der: bytes, old: bytes, new: bytes) -> bytes:
    """``der`` with the DER element ``old`` inside it replaced by ``new``, lengths redone."""
    if der == old:
        return new
    item = tlv.parse_single(der)
    if not item.constructed or old not in item.value:
        return der
    return tlv.encode(item.tag, b"".join(_replace_element(c.encode(), old, new) for c in item.children()))


def test_dsc_key_with_a_huge_standardized_id_is_a_verdict_not_a_crash(demo_store):
    """The chip supplies the DSC: a key naming standardized domain parameter id 2^16800
    must end in a failed signature check, not in an exception out of PA."""
    from asn1crypto import core

    curve = ecdomain.BY_PACE_ID[13]
    point = b"\x04" + curve.gx.to_bytes(32, "big") + curve.gy.to_bytes(32, "big")
    alg = tlv.encode(0x30, core.ObjectIdentifier(keys.OID_STANDARDIZED_DOMAIN_PARAMETERS).dump()
                     + core.Integer(1 << (8 * 2100)).dump())
    hostile_spki = tlv.encode(0x30, alg + core.OctetBitString(point).dump())
    sod = _sod()
    dsc_spki = parse_sod(sod).certificates[0].spki
    r = passive_authentication(parse_sod(_replace_element(sod, dsc_spki, hostile_spki)), DGS, demo_store,
                               at=SIGNED_2025)
    assert not r.sod_signature_valid and not r.passive_authentication
    assert "signer certificate key: unsupported standardized domain parameters" in r.error


def test_message_digest_mismatch(demo_store):
    def other_content(sd):
        other = pki.lds_security_object({1: bytes(32)}, "SHA-256")
        sd["encap_content_info"]["content"] = other
    r = passive_authentication(parse_sod(_patched(_sod(), other_content)), DGS, demo_store, at=SIGNED_2025)
    assert not r.sod_signature_valid and "messageDigest does not match" in r.error


def test_missing_signed_attributes(demo_store):
    key = pki.demo_pki().dsc.key

    def drop(sd):
        si = sd["signer_infos"][0]
        content = sd["encap_content_info"]["content"].contents
        new = asn1cms.SignerInfo({
            "version": "v1", "sid": si["sid"], "digest_algorithm": si["digest_algorithm"],
            "signature_algorithm": si["signature_algorithm"],
            "signature": key.sign(content, ec.ECDSA(hashes.SHA256())),
        })
        sd["signer_infos"] = asn1cms.SignerInfos([new])
    r = passive_authentication(parse_sod(_patched(_sod(), drop)), DGS, demo_store, at=SIGNED_2025)
    assert not r.sod_signature_valid and r.error.startswith("SignerInfo has no signed attributes")


def test_unknown_digest_algorithm(demo_store):
    def md5(sd):
        sd["signer_infos"][0]["digest_algorithm"] = {"algorithm": "md5"}
    r = passive_authentication(parse_sod(_patched(_sod(), md5)), DGS, demo_store, at=SIGNED_2025)
    assert not r.sod_signature_valid and "unsupported hash algorithm" in r.error


def test_rsassa_pss_with_absent_parameters_uses_rfc4055_defaults():
    p = pki.generate_pki()
    store = TrustStore.from_certificates([p.csca.cert_der])

    def pss_defaults(sd):
        si = sd["signer_infos"][0]
        si["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss"})
        _resign(si, p.dsc_rsa_pss.key, lambda k, d: k.sign(
            d, padding.PSS(mgf=padding.MGF1(hashes.SHA1()), salt_length=20), hashes.SHA1()))
    sod = parse_sod(_patched(_sod(p.dsc_rsa_pss), pss_defaults))
    r = passive_authentication(sod, DGS, store, at=SIGNED_2025)
    assert r.passive_authentication, r.error
    assert r.signature_algorithm == "RSASSA-PSS-SHA1"


def test_ecdsa_plain_signature_oid(demo_store):
    key = pki.demo_pki().dsc.key

    def plain(sd):
        si = sd["signer_infos"][0]
        si["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "0.4.0.127.0.7.1.1.4.1.3"})

        def sign(k, data):
            r, s = decode_dss_signature(k.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        _resign(si, key, sign)
    r = passive_authentication(parse_sod(_patched(_sod(), plain)), DGS, demo_store, at=SIGNED_2025)
    assert r.passive_authentication and r.signature_algorithm == "ECDSA-plain-SHA256"


def test_signer_issuer_rdns_in_another_order_still_match(demo_store):
    from asn1crypto import x509 as asn1x509

    def reorder(sd):
        sid = sd["signer_infos"][0]["sid"].chosen
        rdns = list(sid["issuer"].chosen)
        sid["issuer"] = asn1x509.Name(name="", value=asn1x509.RDNSequence(list(reversed(rdns))))
    r = passive_authentication(parse_sod(_patched(_sod(), reorder)), DGS, demo_store, at=SIGNED_2025)
    assert r.passive_authentication and r.warnings == []


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_mutated_documents_never_raise(data):
    store = TrustStore.from_certificates([pki.demo_csca_pem()])
    raw = bytearray(_MUTATION_BASE)
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        sod = parse_sod(bytes(raw))
    except (ParseError, UnsupportedError, LimitExceeded):
        return
    r = passive_authentication(sod, DGS, store, at=SIGNED_2025)
    assert isinstance(r.passive_authentication, bool)
    if r.passive_authentication:
        assert r.error is None


_MUTATION_BASE = _sod()
