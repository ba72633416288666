"""docval.sim.pki: the demo PKI is fixed across processes and its documents verify."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from docval.emrtd import keys
from docval.emrtd.certificate import parse_certificate
from docval.emrtd.lds.cms import parse_signed_data
from docval.emrtd.lds.sod import parse_sod
from docval.emrtd.pa import passive_authentication, verify_signed_data
from docval.sim import pki, pki_demo
from docval.trust.masterlist import verify_master_list
from docval.trust.store import TrustStore

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_demo_csca_is_a_utopian_ca():
    assert x509.load_pem_x509_certificate(pki.demo_csca_pem()).serial_number == 1
    parsed = parse_certificate(pki.demo_csca_der())
    assert parsed.subject_country == "UT" and parsed.self_issued and parsed.is_ca
    assert "TEST ONLY" in parsed.subject_text
    assert "key_cert_sign" in parsed.key_usage
    assert parsed.not_before.year == 2024 and parsed.not_after.year == 2049
    demo = pki.demo_pki()
    assert isinstance(demo.csca.key.curve, ec.BrainpoolP256R1) and isinstance(demo.dsc.key.curve, ec.BrainpoolP256R1)
    assert demo.dsc_rsa_pss.key.key_size == 2048 and demo.dsc_rsa_pss.scheme == keys.RSA_PSS
    for signer in (demo.dsc, demo.dsc_rsa_pss):
        dsc = parse_certificate(signer.cert_der)
        assert dsc.aki == parsed.ski and dsc.signed_by(parsed.public_key())
        assert dsc.key_usage == frozenset({"digital_signature"})
    assert "TEST ONLY" in repr(demo.dsc) and "PRIVATE" not in repr(demo)


def test_demo_pki_is_the_same_in_another_process():
    code = "from docval.sim import pki; print(pki.demo_pki().dsc.cert_der.hex())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip()
    assert out == pki.demo_pki().dsc.cert_der.hex()


def test_demo_sods_verify_against_the_demo_csca():
    store = TrustStore.from_certificates([pki.demo_csca_pem()])
    dgs = {1: b"\x61\x02\x01\x02", 2: b"\x75\x01\x00"}
    demo = pki.demo_pki()
    for signer, algorithm in ((demo.dsc, "ECDSA-SHA256"), (demo.dsc_rsa_pss, "RSASSA-PSS-SHA256")):
        data = pki.sign_sod({n: keys.digest("SHA-256", d) for n, d in dgs.items()}, "SHA-256",
                            signer.key, signer.cert, signing_time=AT)
        assert data[0] == 0x77
        sod = parse_sod(data)
        assert sod.signing_time == AT and sod.lds_version == "0108"
        r = passive_authentication(sod, dgs, store, at=AT)
        assert r.passive_authentication and r.signature_algorithm == algorithm


def test_sign_card_security_and_other_hashes():
    store = TrustStore.from_certificates([pki.demo_csca_pem()])
    infos = bytes.fromhex("3112300f060a04007f00070202040202020102020102")
    signed = parse_signed_data(pki.sign_card_security(infos))
    assert signed.content == infos and signed.econtent_type == pki.OID_SECURITY_OBJECT
    r = verify_signed_data(signed, store, AT)
    assert r.passive_authentication and r.signature_algorithm == "ECDSA-SHA256"
    demo = pki.demo_pki()
    r512 = verify_signed_data(parse_signed_data(pki.sign_card_security(
        infos, demo.dsc_rsa_pss.key, demo.dsc_rsa_pss.cert, "SHA-512")), store, AT)
    assert r512.passive_authentication and r512.signature_algorithm == "RSASSA-PSS-SHA512"


def test_generated_pkis_are_independent_and_verifiable():
    a, b = pki.generate_pki(), pki.generate_pki(country="XX", curve=ec.SECP384R1())
    assert a.csca.cert_der != b.csca.cert_der
    cb = parse_certificate(b.csca.cert_der)
    assert cb.subject_country == "XX" and cb.public_key().curve.name == "secp384r1"
    assert parse_certificate(b.dsc.cert_der).signed_by(cb.public_key())
    ml = verify_master_list(pki.make_master_list([a.csca.cert_der, b.csca.cert_der], a.csca),
                            [parse_certificate(a.csca.cert_der)])
    assert len(ml.certificates) == 2 and ml.signature_algorithm == "ECDSA-SHA256"


def test_demo_material_generator_makes_a_usable_demo_pki():
    """pki_demo._generate_demo_material is how the embedded demo constants were made: its
    output must be Python that defines the same six constants, forming a working PKI."""
    namespace: dict = {}
    exec(pki_demo._generate_demo_material(), namespace)
    names = ("_DEMO_CSCA_KEY", "_DEMO_CSCA_CERT", "_DEMO_DSC_KEY", "_DEMO_DSC_CERT",
             "_DEMO_DSC_RSA_KEY", "_DEMO_DSC_RSA_CERT")
    assert all(isinstance(namespace[n], str) and n in vars(pki_demo) for n in names)
    csca = parse_certificate(x509.load_pem_x509_certificate(namespace["_DEMO_CSCA_CERT"].encode()).public_bytes(
        serialization.Encoding.DER))
    assert csca.self_issued and "Demo CSCA (TEST ONLY)" in csca.subject_text
    for cert_name, key_name in (("_DEMO_DSC_CERT", "_DEMO_DSC_KEY"), ("_DEMO_DSC_RSA_CERT", "_DEMO_DSC_RSA_KEY")):
        cert = x509.load_pem_x509_certificate(namespace[cert_name].encode())
        dsc = parse_certificate(cert.public_bytes(serialization.Encoding.DER))
        assert dsc.signed_by(csca.public_key()) and "TEST ONLY" in dsc.subject_text
        key = serialization.load_pem_private_key(namespace[key_name].encode(), None)
        assert key.public_key().public_numbers() == cert.public_key().public_numbers()
