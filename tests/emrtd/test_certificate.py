"""docval.emrtd.certificate: eager X.509 reading, order-insensitive names, hostile bytes."""
from __future__ import annotations

import functools

import pytest
from asn1crypto import x509 as asn1x509
from hypothesis import given, settings, strategies as st

from docval.emrtd.certificate import name_country, name_key, parse_certificate, signature_scheme
from docval.emrtd import keys
from docval.emrtd.errors import LimitExceeded, ParseError, UnsupportedError
from docval.sim import pki
from tests.trust.realdata import IDN_CSCA, MASTER_LISTS


@pytest.mark.testdata
def test_real_certificate_fields():
    cert = parse_certificate((MASTER_LISTS / "DE_ROOT_CA_CSCA07.cer").read_bytes())
    assert cert.self_issued and cert.is_ca and "key_cert_sign" in cert.key_usage
    assert cert.subject_country == "DE" and "csca-germany" in cert.subject_text
    assert cert.ski and len(cert.fingerprint) == 64
    assert cert.not_before < cert.not_after and cert.not_before.tzinfo is not None
    assert cert.signed_by(cert.public_key())
    link = parse_certificate((IDN_CSCA / "2020-10_CSCA_LINK.cer").read_bytes())
    new = parse_certificate((IDN_CSCA / "2020-10_CSCA.cer").read_bytes())
    old = parse_certificate((IDN_CSCA / "2016-01_CSCA.cer").read_bytes())
    # a link certificate: the new key (same SKI and name as the new CSCA) signed by the old key
    assert link.ski == new.ski and link.aki == old.ski and link.subject_key == new.subject_key
    assert link.signed_by(old.public_key()) and not link.signed_by(new.public_key())


def test_names_compare_regardless_of_rdn_order_case_and_string_type():
    a = asn1x509.Name.build({"country_name": "MY", "organization_name": "Jabatan  Imigresen",
                             "common_name": "Malaysia Country Signer"})
    rdns = list(a.chosen)
    b = asn1x509.Name(name="", value=asn1x509.RDNSequence(list(reversed(rdns))))
    c = asn1x509.Name.build({"country_name": "MY", "organization_name": "jabatan imigresen",
                             "common_name": "Malaysia Country Signer"}, use_printable=True)
    assert name_key(a) == name_key(b) == name_key(c)
    other = asn1x509.Name.build({"country_name": "MY", "common_name": "Malaysia Country Signer"})
    assert name_key(other) != name_key(a)
    assert name_country(b) == "MY"


def test_signature_scheme_table():
    assert signature_scheme("1.2.840.10045.4.3.3", b"", None) == (keys.ECDSA, "SHA-384", None)
    assert signature_scheme(keys.OID_RSA, b"", "SHA-256") == (keys.RSA_PKCS1, "SHA-256", None)
    assert signature_scheme(keys.OID_RSASSA_PSS, b"", None) == (keys.RSA_PSS, "SHA-1", None)
    with pytest.raises(UnsupportedError):
        signature_scheme(keys.OID_RSA, b"", None)
    with pytest.raises(UnsupportedError):
        signature_scheme("1.2.840.113549.1.1.4", b"", "SHA-256")   # md5WithRSA


def test_generated_dsc_is_verified_by_its_csca_only():
    a, b = pki.generate_pki(), pki.generate_pki()
    dsc = parse_certificate(a.dsc.cert_der)
    assert dsc.signed_by(parse_certificate(a.csca.cert_der).public_key())
    assert not dsc.signed_by(parse_certificate(b.csca.cert_der).public_key())
    assert "DocVal" in repr(dsc) and a.dsc.cert_der.hex()[:40] not in repr(dsc)


def test_size_cap():
    with pytest.raises(ParseError):
        parse_certificate(b"\x30\x83\x01\x00\x00" + bytes(0x10000))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes(data):
    try:
        parse_certificate(data)
    except ParseError:
        pass


@pytest.mark.testdata
@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_certificates(data):
    raw = bytearray(_base())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        cert = parse_certificate(bytes(raw))
    except ParseError:
        return
    try:
        cert.public_key()
    except (ParseError, UnsupportedError, LimitExceeded):
        pass


@functools.lru_cache(maxsize=None)
def _base() -> bytes:
    return (MASTER_LISTS / "DE_ROOT_CA_CSCA07.cer").read_bytes()
