"""EF.SOD and CMS SignedData parsing on real documents, BER variants and hostile bytes."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from docval.emrtd import keys, tlv
from docval.emrtd.errors import LimitExceeded, ParseError, UnsupportedError
from docval.emrtd.lds import cms
from docval.emrtd.lds.sod import OID_LDS_SECURITY_OBJECT_LEGACY, parse_sod
from docval.sim import pki
from tests.emrtd.ber import to_indefinite
from tests.trust.realdata import BSI_ETSI, CARD_SECURITY, SOD_DIR

DOCUMENTED = (ParseError, UnsupportedError, LimitExceeded)

# README facts: hash algorithm and DG numbers of each real SOD
REAL = {
    "AT": ("SHA-256", [1, 2, 3, 11, 12, 14], "1.2.840.10045.4.3.2"),
    "DE": ("SHA-384", [1, 2, 3, 14], "1.2.840.10045.4.3.3"),
    "FI": ("SHA-512", [1, 2, 3, 7, 14], "1.2.840.10045.4.3.4"),
    "FR": ("SHA-256", [1, 2, 3, 11, 12, 13, 14], "1.2.840.113549.1.1.11"),
    "ID": ("SHA-256", [1, 2, 3, 14, 15], "1.2.840.113549.1.1.10"),
    "MY": ("SHA-256", [1, 2, 3, 11, 12, 14], "1.2.840.113549.1.1.10"),
}


def real_sod(country: str) -> bytes:
    return (SOD_DIR / f"{country}_EF.SOD.bin").read_bytes()


@pytest.mark.testdata
@pytest.mark.parametrize("country", sorted(REAL))
def test_real_sods_parse(country):
    hash_name, dgs, sig_oid = REAL[country]
    sod = parse_sod(real_sod(country))
    assert sod.hash_algorithm == hash_name
    assert sorted(sod.dg_hashes) == dgs
    assert all(len(h) == keys.digest_size(hash_name) for h in sod.dg_hashes.values())
    assert sod.econtent_type == "2.23.136.1.1.1"
    assert sod.signer is not None and sod.signer.signature_oid == sig_oid
    assert len(sod.certificates) == 1
    assert sod.signer.content_type == "2.23.136.1.1.1" and sod.signer.message_digest
    assert sod.signed_attrs and cms.OID_MESSAGE_DIGEST in sod.signed_attrs
    assert country not in repr(sod) or "SOD" in repr(sod)


@pytest.mark.testdata
def test_optional_fields_of_real_sods():
    de = parse_sod(real_sod("DE"))
    assert (de.version, de.lds_version, de.unicode_version) == (1, "0108", "040000")
    assert de.signing_time is None
    fr = parse_sod(real_sod("FR"))
    assert fr.lds_version is None and fr.signing_time.isoformat() == "2017-09-05T20:41:33+00:00"
    my = parse_sod(real_sod("MY"))
    # issuer+serial identification (the MY issuer RDN order differs from the DSC's)
    assert my.signer.serial == my.certificates[0].serial and my.signer.ski is None


@pytest.mark.testdata
@pytest.mark.parametrize("country", sorted(REAL))
def test_ber_indefinite_lengths_parse_to_the_same_values(country):
    der = real_sod(country)
    inner = tlv.parse_single(der, 0x77).value
    ber = b"\x77\x80" + to_indefinite(inner) + b"\x00\x00"
    a, b = parse_sod(der), parse_sod(ber)
    assert b.dg_hashes == a.dg_hashes and b.hash_algorithm == a.hash_algorithm
    assert b.signed.econtent == a.signed.econtent
    assert b.signer.signed_attrs_der == a.signer.signed_attrs_der
    assert [c.der for c in b.certificates] == [c.der for c in a.certificates]


@pytest.mark.testdata
def test_to_definite_keeps_definite_input_byte_for_byte():
    inner = tlv.parse_single(real_sod("AT"), 0x77).value
    assert cms.to_definite(inner) == inner
    with pytest.raises(ParseError):
        cms.to_definite(inner + b"\x00")
    with pytest.raises(ParseError):
        cms.to_definite(b"\x30\x80\x04\x80")     # indefinite primitive
    with pytest.raises(ParseError):
        cms.to_definite(b"\x30\x80\x02\x01\x01")  # no end-of-contents


def test_joining_octet_string_chunks_refuses_an_indefinite_chunk():
    # to_definite never hands one over (it refuses indefinite primitives first); the
    # joiner still ends in ParseError rather than arithmetic on a missing length.
    with pytest.raises(ParseError, match="indefinite"):
        cms._join_octet_string([b"\x04\x80\x01\x00\x00"])
    assert cms._join_octet_string([b"\x04\x01a", b"\x04\x02bc"]) == b"\x04\x03abc"


@pytest.mark.parametrize("tag,length", [(b"\x30", b"\x07"), (b"\x30", b"\x81\x07"),
                                        (b"\x30", b"\x84\x00\x00\x00\x07"), (b"\x7f\x61", b"\x07"),
                                        (b"\xbf\x81\x01", b"\x07")],
                         ids=["short", "long-1", "long-4", "two-byte-tag", "three-byte-tag"])
def test_definite_element_around_an_indefinite_one_gets_its_length_redone(tag, length):
    """Only the inner element is BER: the outer keeps its tag, its length is recomputed."""
    inner = b"\x30\x80\x02\x01\x05\x00\x00"
    assert cms.to_definite(tag + length + inner) == tag + b"\x05\x30\x03\x02\x01\x05"


def _with_ber_inside(der: bytes, old: bytes) -> bytes:
    """``der`` with its element ``old`` in indefinite-length BER and every ancestor definite."""
    if der == old:
        return to_indefinite(old)
    item = tlv.parse_single(der)
    if not item.constructed or old not in item.value:
        return der
    return tlv.encode(item.tag, b"".join(_with_ber_inside(c.encode(), old) for c in item.children()))


@pytest.mark.testdata
def test_real_sod_with_only_its_encapsulated_content_in_ber_parses_the_same():
    der = real_sod("AT")
    signed_data = tlv.parse_single(tlv.parse_single(der, 0x77).value, 0x30).children()[1].children()[0]
    encap = signed_data.children()[2].encode()
    mixed = _with_ber_inside(der, encap)
    assert mixed != der and mixed[:2] == der[:2]          # the outer 77 stays definite
    a, b = parse_sod(der), parse_sod(mixed)
    assert (b.dg_hashes, b.hash_algorithm, b.signed.econtent) == (a.dg_hashes, a.hash_algorithm, a.signed.econtent)
    assert b.signer.signed_attrs_der == a.signer.signed_attrs_der


def test_deep_nesting_is_refused_before_asn1crypto():
    deep = b"\x30\x80" * 3000 + b"\x00\x00" * 3000
    with pytest.raises(ParseError):
        cms.parse_signed_data(deep)
    definite = b""
    for _ in range(200):
        definite = b"\x30" + tlv.encode_length(len(definite)) + definite
    with pytest.raises(ParseError):
        cms.parse_signed_data(definite)


@pytest.mark.testdata
@pytest.mark.parametrize("name", ["DE_EF.CardSecurity.bin", "FI_EF.CardSecurity.bin"])
def test_card_security_is_signed_data_with_security_infos(name):
    signed = cms.parse_signed_data((CARD_SECURITY / name).read_bytes())
    assert signed.econtent_type == "0.4.0.127.0.7.3.2.1"
    assert signed.content == signed.econtent and signed.content[0] == 0x31
    assert len(signed.signer_infos) == 1 and len(signed.certificates) == 1


@pytest.mark.testdata
def test_bsi_sods_and_the_modified_one():
    sod = parse_sod((BSI_ETSI / "BSI_TR-03105-5_ReferenceDataSet_EF_SOD.bin").read_bytes())
    assert sorted(sod.dg_hashes) == [1, 2, 3, 4, 14]
    assert sod.signer.signature_oid == keys.OID_RSASSA_PSS and sod.signer.serial is not None
    modified = parse_sod((BSI_ETSI / "BSI_TR-03105-5_ReferenceDataSet_MODIFIED_EF_SOD.bin").read_bytes())
    # Parsing is not verification: the altered content type is for PA to reject.
    assert modified.econtent_type == "1.2.840.113549.1.7.1"


def test_generated_sod_round_trip_and_legacy_oid():
    dsc = pki.demo_pki().dsc
    hashes = {1: bytes(range(32)), 2: bytes(32), 15: b"\x01" * 32}
    sod = parse_sod(pki.sign_sod(hashes, "SHA-256", dsc.key, dsc.cert, lds_version=None))
    assert sod.dg_hashes == hashes and sod.lds_version is None and sod.version == 0
    legacy = parse_sod(pki.sign_sod(hashes, "SHA-256", dsc.key, dsc.cert, legacy_oid=True))
    assert legacy.econtent_type == OID_LDS_SECURITY_OBJECT_LEGACY
    by_ski = parse_sod(pki.sign_sod(hashes, "SHA-256", dsc.key, dsc.cert, use_ski=True))
    assert by_ski.signer.ski == by_ski.certificates[0].ski and by_ski.signer.serial is None


def _sod_with_content(content: bytes) -> bytes:
    dsc = pki.demo_pki().dsc
    return tlv.encode(0x77, pki.sign_signed_data(pki.OID_LDS_SECURITY_OBJECT, content, dsc))


def test_malformed_lds_security_objects():
    good = pki.lds_security_object({1: bytes(32)}, "SHA-256")
    assert parse_sod(_sod_with_content(good)).dg_hashes == {1: bytes(32)}
    with pytest.raises(ParseError, match="hash length"):
        parse_sod(_sod_with_content(pki.lds_security_object({1: bytes(20)}, "SHA-256")))
    with pytest.raises(ParseError, match="outside 1-16"):
        parse_sod(_sod_with_content(pki.lds_security_object({17: bytes(32)}, "SHA-256")))
    version, algorithm, dg_list = tlv.parse_all(tlv.parse_single(good).value)
    doubled = tlv.encode(0x30, dg_list.value + dg_list.value)
    with pytest.raises(ParseError, match="twice"):
        parse_sod(_sod_with_content(tlv.encode(0x30, version.encode() + algorithm.encode() + doubled)))
    md5 = tlv.encode(0x30, bytes.fromhex("06082a864886f70d0205"))
    with pytest.raises(UnsupportedError):
        parse_sod(_sod_with_content(tlv.encode(0x30, version.encode() + md5 + dg_list.encode())))
    with pytest.raises(ParseError):
        parse_sod(_sod_with_content(b"\x30\x00"))


@pytest.mark.testdata
def test_wrapper_and_size_errors():
    inner = tlv.parse_single(real_sod("AT"), 0x77).value
    with pytest.raises(ParseError):
        parse_sod(inner)                 # no tag 77
    with pytest.raises(ParseError):
        parse_sod(b"\x77\x80" + inner)   # unterminated
    with pytest.raises(ParseError):
        parse_sod(b"\x77\x82\xff\xff" + bytes(65535))
    with pytest.raises(ParseError):
        parse_sod(b"")
    not_signed = tlv.encode(0x77, bytes.fromhex("300f06092a864886f70d010701a0020400"))
    with pytest.raises(ParseError, match="not CMS SignedData"):
        parse_sod(not_signed)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes(data):
    for candidate in (data, b"\x77" + tlv.encode_length(len(data)) + data):
        try:
            parse_sod(candidate)
        except DOCUMENTED:
            pass
        try:
            cms.parse_signed_data(candidate)
        except DOCUMENTED:
            pass


@pytest.mark.testdata
@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_real_sods(data):
    raw = bytearray(real_sod(data.draw(st.sampled_from(sorted(REAL)))))
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    try:
        sod = parse_sod(bytes(raw))
    except DOCUMENTED:
        return
    # whatever parsed is plain data: touching it cannot raise
    assert isinstance(sod.dg_hashes, dict) and isinstance(sod.certificates, list)
    for cert in sod.certificates:
        assert cert.subject_text is not None and cert.fingerprint
