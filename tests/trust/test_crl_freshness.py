"""A CRL past its nextUpdate: still revokes what it lists, never counts as a revocation check,
shows up as a warning in the result, as a trust store problem and in the metrics."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

from docval.emrtd import tlv
from docval.emrtd.hashes import digest
from docval.emrtd.lds.sod import parse_sod
from docval.emrtd.pa import passive_authentication
from docval.metrics import Metrics
from docval.sim import pki
from docval.trust.store import REVOCATION_CURRENT, REVOCATION_NO_CRL, REVOCATION_STALE, TrustStore

UTC = timezone.utc
AT = datetime(2026, 6, 1, tzinfo=UTC)
LAST_MONTH = AT - timedelta(days=30)
DGS = {1: b"\x61\x03\x5f\x1f\x00", 2: b"\x75\x00"}
STALE_WARNING = "the CSCA's CRL is stale (its nextUpdate was 2026-05-03): revocation of the document " \
                "signer certificate was not checked"


def _sod(signer: pki.Signer):
    hashes = {n: digest("SHA-256", data) for n, data in DGS.items()}
    der = pki.sign_signed_data(pki.OID_LDS_SECURITY_OBJECT, pki.lds_security_object(hashes, "SHA-256"), signer)
    return parse_sod(tlv.encode(0x77, der))


def _store(tmp_path: Path, p: pki.PKI, *crls: bytes) -> TrustStore:
    (tmp_path / "csca.pem").write_bytes(p.csca.cert_pem)
    paths = []
    for index, crl in enumerate(crls):
        paths.append(tmp_path / f"{index}.crl")
        paths[-1].write_bytes(crl)
    return TrustStore.load([tmp_path / "csca.pem"], paths, now=AT)


def _stale_crl(p: pki.PKI, revoked: list[int] = ()) -> bytes:
    return pki.make_crl(p.csca, list(revoked), this_update=LAST_MONTH - timedelta(days=30),
                        next_update=LAST_MONTH + timedelta(days=1))


def _current_crl(p: pki.PKI, revoked: list[int] = ()) -> bytes:
    return pki.make_crl(p.csca, list(revoked), this_update=LAST_MONTH, next_update=AT + timedelta(days=30))


def test_store_reports_a_stale_crl_as_a_problem_and_a_status(tmp_path):
    p = pki.generate_pki()
    store = _store(tmp_path, p, _stale_crl(p))
    csca = store.certificates[0]
    assert len(store.crls) == 1
    assert [(pr.path, pr.reason) for pr in store.problems] == [(
        str(tmp_path / "0.crl"),
        f"CRL of {store.crls[0].issuer_text} is stale (nextUpdate 2026-05-03): load a current one; "
        "until then revocation of its document signers is not checked")]
    assert store.revocation_status(csca, AT) == (REVOCATION_STALE, LAST_MONTH + timedelta(days=1))
    assert store.revocation_status(csca, LAST_MONTH)[0] == REVOCATION_CURRENT
    assert [c.fingerprint for c in store.stale_crls(AT)] == [store.crls[0].fingerprint]
    assert store.stale_crls(LAST_MONTH) == []
    assert TrustStore.load([tmp_path / "csca.pem"]).revocation_status(csca, AT) == (REVOCATION_NO_CRL, None)


def test_a_newer_crl_of_the_same_csca_supersedes_a_stale_one(tmp_path):
    p = pki.generate_pki()
    store = _store(tmp_path, p, _stale_crl(p), _current_crl(p))
    assert store.problems == [] and len(store.crls) == 2
    assert store.revocation_status(store.certificates[0], AT)[0] == REVOCATION_CURRENT
    assert store.stale_crls(AT) == [] and store.next_crl_update() == AT + timedelta(days=30)


def test_pa_with_a_stale_crl_warns_and_does_not_claim_revocation_checked(tmp_path):
    p = pki.generate_pki()
    sod = _sod(p.dsc)
    (tmp_path / "s").mkdir()
    stale = passive_authentication(sod, DGS, _store(tmp_path / "s", p, _stale_crl(p)), at=AT)
    assert stale.passive_authentication and stale.error is None
    assert stale.revocation_checked is False
    assert stale.warnings == [STALE_WARNING]

    (tmp_path / "c").mkdir()
    current = passive_authentication(sod, DGS, _store(tmp_path / "c", p, _current_crl(p)), at=AT)
    assert current.passive_authentication and current.revocation_checked is True and current.warnings == []

    (tmp_path / "n").mkdir()
    none = passive_authentication(sod, DGS, _store(tmp_path / "n", p), at=AT)
    assert none.passive_authentication and none.revocation_checked is False and none.warnings == []


def test_a_stale_crl_still_revokes_what_it_lists(tmp_path):
    p = pki.generate_pki()
    store = _store(tmp_path, p, _stale_crl(p, [p.dsc.cert.serial_number]))
    r = passive_authentication(_sod(p.dsc), DGS, store, at=AT)
    assert not r.passive_authentication and not r.document_certificate_valid
    assert "document signer certificate is revoked by its CSCA's CRL" in r.errors
    assert r.revocation_checked is False and STALE_WARNING in r.warnings


def test_the_warning_reaches_the_servers_result(tmp_path):
    """Read the virtual passport with a store whose demo-CSCA CRL is stale: the result's
    passive_authentication_details.warnings say so and PA stays true."""
    from docval.reader import ReadParams
    from docval.sim import profiles
    from docval.sim.direct import ChipTransport, read_sync

    demo = pki.demo_pki()
    (tmp_path / "csca.pem").write_bytes(pki.demo_csca_pem())
    (tmp_path / "ut.crl").write_bytes(pki.make_crl(demo.csca, [], this_update=datetime(2024, 1, 1, tzinfo=UTC),
                                                   next_update=datetime(2024, 2, 1, tzinfo=UTC)))
    store = TrustStore.load([tmp_path / "csca.pem"], [tmp_path / "ut.crl"])
    profile = profiles.get_profile("pace-ecdh-gm-aes128")
    transport = ChipTransport(profile.chip())
    report = read_sync(transport.chip, ReadParams(access_key=profile.access_key, extended_length=True,
                                                  trust=store), lambda status: None, transport=transport)
    obj = report.to_emrtd_passport()
    assert obj["passive_authentication"] is True, obj["errors"]
    assert any("CRL is stale (its nextUpdate was 2024-02-01)" in w
               for w in obj["passive_authentication_details"]["warnings"])


def _sample(metrics: Metrics, name: str) -> float:
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"{name} not exported")


def test_metrics_count_stale_crls_at_scrape_time(tmp_path):
    p, q = pki.generate_pki(), pki.generate_pki(country="XB", common_name="XB CSCA")
    (tmp_path / "a.pem").write_bytes(p.csca.cert_pem + q.csca.cert_pem)
    (tmp_path / "p.crl").write_bytes(_current_crl(p))
    (tmp_path / "q.crl").write_bytes(pki.make_crl(q.csca, [], this_update=LAST_MONTH,
                                                  next_update=AT + timedelta(days=5)))
    store = TrustStore.load([tmp_path / "a.pem"], [tmp_path / "p.crl", tmp_path / "q.crl"], now=AT)
    m = Metrics()
    assert _sample(m, "docval_trust_store_stale_crls") == 0
    assert math.isnan(_sample(m, "docval_trust_store_crl_next_update_timestamp_seconds"))
    now = [AT.timestamp()]
    m.watch_crls(store, clock=lambda: now[0])
    assert _sample(m, "docval_trust_store_stale_crls") == 0
    assert _sample(m, "docval_trust_store_crl_next_update_timestamp_seconds") == (AT + timedelta(days=5)).timestamp()
    # No reload in between: the CRL goes stale while the store is in use, and the gauge follows.
    now[0] = (AT + timedelta(days=6)).timestamp()
    assert _sample(m, "docval_trust_store_stale_crls") == 1
    now[0] = (AT + timedelta(days=31)).timestamp()
    assert _sample(m, "docval_trust_store_stale_crls") == 2
    assert b"docval_trust_store_stale_crls 2.0" in m.render()


def test_the_server_exports_the_stale_crls_of_the_store_it_loaded(tmp_path):
    from docval.config import ClientConfig, Config, ServerConfig, TrustConfig
    from docval.tap import DocValService

    p = pki.generate_pki()
    (tmp_path / "csca.pem").write_bytes(p.csca.cert_pem)
    (tmp_path / "old.crl").write_bytes(pki.make_crl(p.csca, [], this_update=datetime(2024, 1, 1, tzinfo=UTC),
                                                    next_update=datetime(2024, 2, 1, tzinfo=UTC)))
    cfg = Config(server=ServerConfig(listen=()),
                 trust=TrustConfig(csca=(tmp_path / "csca.pem",), crl=(tmp_path / "old.crl",)),
                 clients=(ClientConfig(client_id="a"),))
    metrics = Metrics()
    DocValService(cfg, metrics=metrics)
    assert _sample(metrics, "docval_trust_store_stale_crls") == 1
    assert _sample(metrics, "docval_trust_store_crl_next_update_timestamp_seconds") == \
        datetime(2024, 2, 1, tzinfo=UTC).timestamp()


def test_a_crl_without_next_update_is_never_current(tmp_path):
    """RFC 5280 and ICAO 9303-12 require nextUpdate; without it freshness cannot be known."""
    from asn1crypto import crl as asn1crl
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    p = pki.generate_pki()
    # cryptography refuses to build such a CRL: drop nextUpdate and sign again.
    listed = asn1crl.CertificateList.load(_current_crl(p))
    original = listed["tbs_cert_list"]
    tbs = asn1crl.TbsCertList({name: original[name] for name in
                               ("version", "signature", "issuer", "this_update", "crl_extensions")})
    signature = p.csca.key.sign(tbs.dump(), ec.ECDSA(hashes.SHA256()))
    der = asn1crl.CertificateList({"tbs_cert_list": tbs, "signature_algorithm": listed["signature_algorithm"],
                                   "signature": signature}).dump()
    store = _store(tmp_path, p, der)
    assert len(store.crls) == 1 and store.crls[0].next_update is None
    assert store.revocation_status(store.certificates[0], AT) == (REVOCATION_STALE, None)
    assert "no nextUpdate" in store.problems[0].reason
    r = passive_authentication(_sod(p.dsc), DGS, store, at=AT)
    assert r.revocation_checked is False and any("it has no nextUpdate" in w for w in r.warnings)
