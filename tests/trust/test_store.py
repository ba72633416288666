"""docval.trust: master lists (real DE/NL), certificate files, LDIF, CRLs, version, problems."""
from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings, strategies as st

from docval.emrtd.certificate import parse_certificate
from docval.emrtd.errors import LimitExceeded, ParseError, UnsupportedError
from docval.sim import pki
from docval.trust import ldif
from docval.trust.masterlist import verify_master_list
from docval.trust.store import TrustStore
from tests.trust.realdata import IDN_CSCA, MASTER_LISTS, NL_ML, de_store, nl_store

DOCUMENTED = (ParseError, UnsupportedError, LimitExceeded)


@pytest.mark.testdata
def test_german_master_list():
    store = de_store()
    assert store.problems == []
    assert store.count == 588
    (ml,) = store.master_lists
    assert ml.csca_count == 588 and ml.signature_algorithm == "ECDSA-SHA256"
    assert "CSCA Master List Signer" in ml.signer_subject and "Country: DE" in ml.signer_subject
    root = parse_certificate((MASTER_LISTS / "DE_ROOT_CA_CSCA07.cer").read_bytes())
    # the list signer was issued by the German root CSCA07, which the list contains
    assert ml.signer_issuer_subject == root.subject_text
    assert store.by_ski(root.ski) and root.fingerprint in {c.fingerprint for c in store.certificates}
    assert {"DE", "AT", "FR", "FI"} <= set(store.countries())


@pytest.mark.testdata
def test_dutch_master_list():
    store = nl_store()
    assert store.problems == [] and store.count == 411
    (ml,) = store.master_lists
    assert ml.signature_algorithm == "RSA-PKCS1v15-SHA256" and "Masterlist Signer NL" in ml.signer_subject
    root = parse_certificate((MASTER_LISTS / "NL_ROOT_CA.cer").read_bytes())
    assert ml.signer_issuer_subject == root.subject_text


@pytest.mark.testdata
def test_master_list_with_a_broken_signature_is_rejected(tmp_path):
    data = bytearray(NL_ML.read_bytes())
    data[-10] ^= 0xFF            # inside the signature value at the end
    bad = tmp_path / "bad.ml"
    bad.write_bytes(bytes(data))
    store = TrustStore.load([bad])
    assert store.count == 0 and store.master_lists == []
    assert len(store.problems) == 1 and "master list signature invalid" in store.problems[0].reason


def test_master_list_signer_must_chain_into_the_list_or_the_store():
    p, other = pki.generate_pki(), pki.generate_pki(common_name="Other CSCA")
    signer_key = pki.ec.generate_private_key(pki.ec.BrainpoolP256R1())
    signer = pki.Signer(signer_key, pki.issue_certificate(p.csca, signer_key.public_key(), serial=77,
                                                          common_name="ML Signer"))
    ml = pki.make_master_list([p.csca.cert_der], signer)
    assert verify_master_list(ml).signer_issuer.fingerprint == parse_certificate(p.csca.cert_der).fingerprint
    foreign = pki.make_master_list([other.csca.cert_der], signer)
    with pytest.raises(ParseError, match="not issued by a CSCA"):
        verify_master_list(foreign)
    assert verify_master_list(foreign, [parse_certificate(p.csca.cert_der)]).certificates


@pytest.mark.testdata
def test_directory_of_pem_and_der_and_link_certificates(tmp_path):
    p = pki.generate_pki()
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.pem").write_bytes(p.csca.cert_pem + pki.demo_csca_pem())   # two PEM blocks
    (tmp_path / "sub" / "b.cer").write_bytes((IDN_CSCA / "2020-10_CSCA_LINK.cer").read_bytes())
    (tmp_path / "sub" / "junk.txt").write_bytes(b"not a certificate")
    (tmp_path / ".hidden").write_bytes(b"ignored")
    store = TrustStore.load([tmp_path])
    assert store.count == 3 and store.countries() == ["ID", "UT"]
    assert [pr.path for pr in store.problems] == [str(tmp_path / "sub" / "junk.txt")]
    assert "neither a certificate" in store.problems[0].reason


def test_master_lists_without_ml_suffix_and_in_pem_and_other_pem_blocks(tmp_path):
    """A master list is recognised by content too (DER of another name, PEM 'CMS'); a DER
    file that is a master list with a broken signature says so; odd PEM blocks are named."""
    p = pki.generate_pki()
    ml = pki.make_master_list([p.csca.cert_der], p.dsc)
    (tmp_path / "list.der").write_bytes(ml)
    body = base64.encodebytes(pki.make_master_list([pki.demo_csca_der()], pki.demo_pki().dsc))
    (tmp_path / "list.pem").write_bytes(b"-----BEGIN CMS-----\n" + body + b"-----END CMS-----\n")
    broken = bytearray(ml)
    broken[-5] ^= 0xFF
    (tmp_path / "broken.bin").write_bytes(bytes(broken))
    (tmp_path / "key.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    (tmp_path / "bad64.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
    store = TrustStore.load([tmp_path])
    assert store.count == 2 and len(store.master_lists) == 2
    assert sorted(m.path for m in store.master_lists) == [str(tmp_path / "list.der"), str(tmp_path / "list.pem")]
    problems = {pr.path.rsplit("/", 1)[-1]: pr.reason for pr in store.problems}
    assert problems == {"bad64.pem": "bad base64 in PEM block", "key.pem": "ignored PEM block PRIVATE KEY",
                        "broken.bin": problems["broken.bin"]}
    assert problems["broken.bin"].startswith("master list signature invalid")


def test_missing_and_empty_paths_are_problems(tmp_path):
    store = TrustStore.load([tmp_path / "nope", tmp_path])
    reasons = sorted(p.reason for p in store.problems)
    assert reasons == ["directory holds no files", "no such file or directory"]
    assert store.count == 0


@pytest.mark.testdata
def test_version_is_a_stable_fingerprint_of_the_set(tmp_path):
    a = TrustStore.load([IDN_CSCA])
    files = sorted(IDN_CSCA.iterdir())
    b = TrustStore.load(list(reversed(files)))
    assert a.version == b.version and len(a.version) == 16
    int(a.version, 16)
    c = TrustStore.load(files[1:])
    assert c.version != a.version
    # the same certificate twice counts once
    assert TrustStore.load(files + files).version == a.version and a.count == 5
    assert TrustStore().version == TrustStore.load([]).version


@pytest.mark.testdata
def test_lookup_by_ski_and_name():
    store = TrustStore.load([IDN_CSCA])
    cert = parse_certificate((IDN_CSCA / "2020-10_CSCA.cer").read_bytes())
    assert cert.fingerprint in {c.fingerprint for c in store.by_ski(cert.ski)}
    assert cert.fingerprint in {c.fingerprint for c in store.by_subject(cert.subject_key)}
    assert store.by_ski(b"\x00" * 20) == []


def test_crls_are_used_only_when_signed_by_a_trusted_csca(tmp_path):
    p, other = pki.generate_pki(), pki.generate_pki()
    (tmp_path / "ca.pem").write_bytes(p.csca.cert_pem)
    crl = tmp_path / "good.crl"
    crl.write_bytes(pki.make_crl(p.csca, [2]))
    foreign = tmp_path / "foreign.crl"
    foreign.write_bytes(pki.make_crl(other.csca, [2]))
    pem_crl = tmp_path / "pem.crl"
    pem_crl.write_bytes(b"-----BEGIN X509 CRL-----\n" + base64.encodebytes(pki.make_crl(p.csca, [4]))
                        + b"-----END X509 CRL-----\n")
    store = TrustStore.load([tmp_path / "ca.pem"], [crl, foreign, pem_crl])
    assert len(store.crls) == 2
    assert [pr.reason for pr in store.problems] == [f"CRL of {store.crls[0].issuer_text} is not signed by a trusted CSCA"]
    dsc, csca = parse_certificate(p.dsc.cert_der), parse_certificate(p.csca.cert_der)
    other_dsc, other_csca = parse_certificate(other.dsc.cert_der), parse_certificate(other.csca.cert_der)
    assert store.is_revoked(dsc, csca) and store.is_revoked(dsc)
    # same CSCA name, different key: its DSC with serial 2 is not revoked
    assert not store.is_revoked(other_dsc, other_csca)
    assert not store.is_revoked(parse_certificate(p.dsc_rsa_pss.cert_der), csca)
    assert store.version != TrustStore.load([tmp_path / "ca.pem"]).version


def _ldif_value(name: str, data: bytes) -> str:
    text = base64.b64encode(data).decode()
    lines = [f"{name}:: {text[:60]}"] + [" " + text[i:i + 76] for i in range(60, len(text), 76)]
    return "\n".join(lines)


def test_pkd_ldif_files(tmp_path):
    p = pki.generate_pki()
    ml = pki.make_master_list([p.csca.cert_der], p.csca)
    text = "\n".join([
        "version: 1", "",
        "dn: cn=ml,o=ml,c=UT,dc=CSCAMasterList,dc=pkdDownload",
        "objectClass: CscaMasterList",
        _ldif_value("CscaMasterListData", ml), "",
        "dn: cn=dsc,o=dsc,c=UT,dc=data,dc=pkdDownload",
        "sn: 2",
        _ldif_value("userCertificate;binary", p.dsc.cert_der), "",
        "dn: cn=crl,o=crl,c=UT,dc=data,dc=pkdDownload",
        _ldif_value("certificateRevocationList;binary", pki.make_crl(p.csca, [99])), "",
        "dn: cn=bad,dc=data",
        _ldif_value("userCertificate;binary", b"\x30\x03\x02\x01\x01"), "",
    ])
    path = tmp_path / "icaopkd-001.ldif"
    path.write_text(text)
    store = TrustStore.load([path])
    # the DSC is known (to find a signer) but is not a trust anchor
    assert store.count == 1 and len(store.document_signers) == 1 and len(store.crls) == 1
    assert len(store.master_lists) == 1
    assert [("LDIF value 3" in pr.path, pr.reason) for pr in store.problems] == [(True, "malformed X.509 certificate")]
    values = list(ldif.iter_binary_values(text))
    assert [v[0] for v in values] == ["cscamasterlistdata", "usercertificate;binary",
                                      "certificaterevocationlist;binary", "usercertificate;binary"]
    assert values[0][1] == ml
    with pytest.raises(ParseError):
        list(ldif.iter_binary_values("dn: x\nuserCertificate;binary:: ***\n"))


def test_sod_without_embedded_certificate_uses_a_dsc_from_ldif(tmp_path):
    from docval.emrtd.lds.sod import parse_sod
    from docval.emrtd.pa import passive_authentication
    from docval.emrtd import tlv

    p = pki.generate_pki()
    text = _ldif_value("userCertificate;binary", p.dsc.cert_der) + "\n" + \
        _ldif_value("userCertificate;binary", p.csca.cert_der) + "\n"
    (tmp_path / "pkd.ldif").write_text("dn: cn=x\n" + text)
    store = TrustStore.load([tmp_path / "pkd.ldif"])
    assert store.count == 1 and len(store.document_signers) == 1
    dgs = {1: b"\x61\x00"}
    der = pki.sign_signed_data(pki.OID_LDS_SECURITY_OBJECT,
                               pki.lds_security_object({1: pki.keys.digest("SHA-256", dgs[1])}, "SHA-256"),
                               p.dsc, include_certificate=False)
    sod = parse_sod(tlv.encode(0x77, der))
    assert sod.certificates == []
    assert passive_authentication(sod, dgs, store, at=pki.DEMO_NOT_BEFORE.replace(year=2025)).passive_authentication


@pytest.mark.testdata
def test_summary_has_no_certificates():
    s = TrustStore.load([IDN_CSCA]).summary()
    assert s["csca_count"] == 5 and s["countries"] == ["ID"] and s["problems"] == []


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_into_master_list_parsing(data):
    try:
        verify_master_list(data)
    except DOCUMENTED:
        pass


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_mutated_master_lists(data):
    raw = bytearray(_SMALL_ML)
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        verify_master_list(bytes(raw))
    except DOCUMENTED:
        pass


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_files_never_break_a_load(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("fuzz")
    for name in ("x.ml", "x.crl", "x.ldif", "x.pem", "x.der"):
        (d / name).write_bytes(data)
    store = TrustStore.load([d], [d / "x.crl"])
    assert store.count <= 5


_SMALL_ML = pki.make_master_list([pki.demo_csca_der()], pki.demo_pki().csca)
