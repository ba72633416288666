"""docval.trust: master lists (real DE/NL), certificate files, LDIF, CRLs, version, problems."""
from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings, strategies as st

from docval.emrtd import hashes
from docval.emrtd.certificate import parse_certificate
from docval.emrtd.errors import LimitExceeded, ParseError, UnsupportedError
from docval.sim import pki
from docval.trust import ldif
from docval.trust.masterlist import verify_master_list
from docval.trust.store import TrustStore
from tests.trust.realdata import DE_ML, DE_ROOT, IDN_CSCA, MASTER_LISTS, NL_ML, NL_ROOT, de_store, nl_store

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
    assert ml.signer_issuer_subject == ml.anchor_subject == root.subject_text
    assert ml.anchor_fingerprint == root.fingerprint
    assert store.by_ski(root.ski) and root.fingerprint in {c.fingerprint for c in store.certificates}
    assert {"DE", "AT", "FR", "FI"} <= set(store.countries())


@pytest.mark.testdata
def test_dutch_master_list():
    store = nl_store()
    assert store.problems == [] and store.count == 411
    (ml,) = store.master_lists
    assert ml.signature_algorithm == "RSA-PKCS1v15-SHA256" and "Masterlist Signer NL" in ml.signer_subject
    root = parse_certificate((MASTER_LISTS / "NL_ROOT_CA.cer").read_bytes())
    assert ml.signer_issuer_subject == root.subject_text and ml.anchor_fingerprint == root.fingerprint


@pytest.mark.testdata
def test_master_list_with_a_broken_signature_is_rejected(tmp_path):
    data = bytearray(NL_ML.read_bytes())
    data[-10] ^= 0xFF            # inside the signature value at the end
    bad = tmp_path / "bad.ml"
    bad.write_bytes(bytes(data))
    store = TrustStore.load([bad, NL_ROOT])
    assert store.count == 1 and store.master_lists == []
    assert len(store.problems) == 1 and "master list signature invalid" in store.problems[0].reason


def _ml_signer(csca: pki.Signer, name: str = "ML Signer") -> pki.Signer:
    key = ec.generate_private_key(ec.BrainpoolP256R1())
    return pki.Signer(key, pki.issue_certificate(csca, key.public_key(), serial=77, common_name=name))


def _cert(signer: pki.Signer):
    return parse_certificate(signer.cert_der)


def test_a_master_list_never_vouches_for_itself():
    """A list whose signer chains only to a CSCA inside the same list is rejected: anyone can
    make such a list. Pinning that CSCA independently is what makes it acceptable."""
    p = pki.generate_pki()
    ml = pki.make_master_list([p.csca.cert_der], _ml_signer(p.csca))
    with pytest.raises(ParseError, match="not issued by a CSCA trusted independently of the list") as exc:
        verify_master_list(ml)
    assert "DocVal Test CSCA" in str(exc.value) and "next to the master list" in str(exc.value)
    verified = verify_master_list(ml, [_cert(p.csca)])
    assert verified.signer_issuer.fingerprint == verified.anchor.fingerprint == _cert(p.csca).fingerprint
    # signed directly by the (self-signed) CSCA it carries: the same rule
    by_csca = pki.make_master_list([p.csca.cert_der], p.csca)
    with pytest.raises(ParseError, match="trusted independently"):
        verify_master_list(by_csca)
    assert verify_master_list(by_csca, [_cert(p.csca)]).anchor.fingerprint == _cert(p.csca).fingerprint


def test_a_forged_list_with_a_lookalike_csca_is_rejected():
    """The attacker's CSCA copies the genuine one's name; only the pinned key counts."""
    genuine = pki.generate_pki()
    forged = pki.generate_pki()          # same subject name, another key
    assert forged.csca.cert.subject == genuine.csca.cert.subject
    ml = pki.make_master_list([genuine.csca.cert_der, forged.csca.cert_der], _ml_signer(forged.csca))
    with pytest.raises(ParseError, match="trusted independently"):
        verify_master_list(ml, [_cert(genuine.csca)])


def test_the_signer_may_chain_through_a_link_certificate_of_the_list():
    """A publisher that renewed its CSCA signs with the new key; the list's link certificate
    (new key, signed by the old) leads to the pinned old CSCA. Without the link it does not."""
    old = pki.generate_pki()
    new_key = ec.generate_private_key(ec.BrainpoolP256R1())
    new_csca = pki.Signer(new_key, pki.make_csca(new_key, common_name="DocVal Test CSCA 2", serial=5))
    link = pki.issue_certificate(old.csca, new_key.public_key(), common_name="DocVal Test CSCA 2",
                                 serial=6, ca=True)
    link_der = link.public_bytes(serialization.Encoding.DER)
    signer = _ml_signer(new_csca)
    with_link = pki.make_master_list([old.csca.cert_der, new_csca.cert_der, link_der], signer)
    ml = verify_master_list(with_link, [_cert(old.csca)])
    assert ml.anchor.fingerprint == _cert(old.csca).fingerprint
    assert ml.signer_issuer.spki == _cert(new_csca).spki
    without_link = pki.make_master_list([old.csca.cert_der, new_csca.cert_der], signer)
    with pytest.raises(ParseError, match="trusted independently"):
        verify_master_list(without_link, [_cert(old.csca)])


def test_store_accepts_a_list_only_with_its_root_in_a_certificate_file(tmp_path):
    p = pki.generate_pki()
    other = pki.generate_pki(country="XB", common_name="XB CSCA")
    (tmp_path / "list.ml").write_bytes(pki.make_master_list([p.csca.cert_der, other.csca.cert_der],
                                                            _ml_signer(p.csca)))
    alone = TrustStore.load([tmp_path / "list.ml"])
    assert alone.count == 0 and alone.master_lists == []
    assert [pr.path for pr in alone.problems] == [str(tmp_path / "list.ml")]
    assert "trusted independently" in alone.problems[0].reason
    # The root file next to the list; the order of the paths does not matter.
    (tmp_path / "root.pem").write_bytes(p.csca.cert_pem)
    for paths in ([tmp_path / "list.ml", tmp_path / "root.pem"], [tmp_path / "root.pem", tmp_path / "list.ml"],
                  [tmp_path]):
        store = TrustStore.load(paths)
        assert store.problems == [] and store.count == 2
        (source,) = store.master_lists
        assert source.anchor_fingerprint == _cert(p.csca).fingerprint and source.csca_count == 2
    # A pin lets the list in without becoming an anchor itself.
    pinned = TrustStore.load([tmp_path / "list.ml"], pins=[_cert(pki.generate_pki().csca), _cert(p.csca)])
    assert pinned.problems == [] and pinned.count == 2


def test_one_master_list_cannot_vouch_for_another(tmp_path):
    """List A (pinned) carries country B's CSCA; B's own list must still be pinned on its own."""
    a, b = pki.generate_pki(), pki.generate_pki(country="XB", common_name="XB CSCA")
    (tmp_path / "a-root.pem").write_bytes(a.csca.cert_pem)
    (tmp_path / "a.ml").write_bytes(pki.make_master_list([a.csca.cert_der, b.csca.cert_der], _ml_signer(a.csca)))
    (tmp_path / "b.ml").write_bytes(pki.make_master_list([b.csca.cert_der], _ml_signer(b.csca, "B Signer")))
    store = TrustStore.load([tmp_path / "a-root.pem", tmp_path / "a.ml", tmp_path / "b.ml"])
    assert [m.path for m in store.master_lists] == [str(tmp_path / "a.ml")]
    assert [pr.path for pr in store.problems] == [str(tmp_path / "b.ml")]
    assert "its issuer is" in store.problems[0].reason and "XB CSCA" in store.problems[0].reason


@pytest.mark.testdata
def test_real_master_lists_need_their_publishers_csca(tmp_path):
    """The real German and Dutch lists each carry their own root and each other's: without
    the root pinned as a file neither is accepted, whatever else is loaded."""
    assert de_store().problems == [] and nl_store().problems == []
    for paths in ([DE_ML], [NL_ML], [NL_ROOT, DE_ML], [DE_ROOT, DE_ML, NL_ML]):
        store = TrustStore.load(paths)
        rejected = [pr for pr in store.problems if "trusted independently" in pr.reason]
        accepted = {m.path for m in store.master_lists}
        assert {pr.path for pr in rejected} == {str(p) for p in paths if p.suffix == ".ml"} - accepted
        assert rejected, paths
    only_de = TrustStore.load([DE_ROOT, DE_ML, NL_ML])
    assert only_de.count == de_store().count
    assert "Common Name: CSCA NL" in only_de.problems[0].reason


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
    (tmp_path / "roots.pem").write_bytes(p.csca.cert_pem + pki.demo_csca_pem())
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
    (tmp_path / "root.pem").write_bytes(p.csca.cert_pem)
    store = TrustStore.load([path, tmp_path / "root.pem"])
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
                               pki.lds_security_object({1: hashes.digest("SHA-256", dgs[1])}, "SHA-256"),
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
