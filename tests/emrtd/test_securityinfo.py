from __future__ import annotations


import pytest
from asn1crypto import cms, core
from hypothesis import given, settings
from hypothesis import strategies as st

from docval.emrtd import securityinfo as si, tlv
from docval.emrtd.errors import LimitExceeded, ParseError, UnsupportedError

from tests.testdata import TESTDATA


def _read(rel: str) -> bytes:
    return (TESTDATA / rel).read_bytes()


def _card_security_content(rel: str) -> bytes:
    info = cms.ContentInfo.load(_read(rel))
    encap = info["content"]["encap_content_info"]
    assert encap["content_type"].dotted == "0.4.0.127.0.7.3.2.1"   # id-SecurityObject
    return encap["content"].native


def _ec_curve_of(spki: bytes) -> int:
    """Field prime of an explicit-parameter EC SPKI, read independently with asn1crypto."""
    from asn1crypto import keys

    params = keys.PublicKeyInfo.load(spki)["algorithm"]["parameters"].chosen
    return params["field_id"]["parameters"].native


@pytest.mark.testdata
def test_at_dg14():
    infos = si.parse_dg14(_read("dg14/AT_DG14.bin"))
    assert [p.name for p in infos.pace_infos] == ["PACE-ECDH-GM-AES-CBC-CMAC-128"]
    assert infos.pace_infos[0].parameter_id == 13 and infos.pace_infos[0].version == 2
    assert [(c.name, c.version, c.key_id) for c in infos.ca_infos] == [("CA-ECDH-AES-CBC-CMAC-128", 1, None)]
    (key,) = infos.ca_public_keys
    assert key.oid == si.ID_PK_ECDH and key.key_id is None and key.key_agreement == "ECDH"
    assert key.algorithm.oid == "1.2.840.10045.2.1"
    from docval.emrtd import ec
    assert _ec_curve_of(key.spki) == ec.BY_NAME["brainpoolP256r1"].p
    assert [t.version for t in infos.terminal_auth] == [1]
    assert infos.unknown == [] and infos.aa_infos == []


@pytest.mark.testdata
def test_de_dg14_key_id_and_cam():
    infos = si.parse_dg14(_read("dg14/DE_DG14.bin"))
    assert [p.name for p in infos.pace_infos] == ["PACE-ECDH-GM-AES-CBC-CMAC-128", "PACE-ECDH-CAM-AES-CBC-CMAC-128"]
    assert [p.parts.mapping for p in infos.pace_infos] == ["GM", "CAM"]
    assert [(c.oid, c.key_id) for c in infos.ca_infos] == [("0.4.0.127.0.7.2.2.3.2.2", 0xC3)]
    assert [k.key_id for k in infos.ca_public_keys] == [0xC3]


@pytest.mark.testdata
def test_fr_dg14_has_key_but_no_ca_info():
    infos = si.parse_dg14(_read("dg14/FR_DG14.bin"))
    assert infos.ca_infos == []
    (key,) = infos.ca_public_keys
    from docval.emrtd import ec
    assert _ec_curve_of(key.spki) == ec.BY_NAME["secp256r1"].p
    assert [(p.name, p.parameter_id) for p in infos.pace_infos] == [("PACE-ECDH-GM-AES-CBC-CMAC-256", 12)]


@pytest.mark.testdata
@pytest.mark.parametrize("rel", ["dg14/MY_DG14.bin", "bsi_etsi/BSI_TR-03105-5_ReferenceDataSet_DG14.bin",
                                 "bsi_etsi/ETSI_ePassport_Prototype_DG14.bin"])
def test_3des_ca_dg14(rel):
    infos = si.parse_dg14(_read(rel))
    assert [c.name for c in infos.ca_infos] == ["CA-ECDH-3DES-CBC-CBC"]
    assert infos.ca_infos[0].parts.cipher == "TDES"
    assert len(infos.ca_public_keys) == 1
    assert [t.version for t in infos.terminal_auth] == [1]


@pytest.mark.testdata
def test_icao_specimen_dg14():
    infos = si.parse_dg14(_read("icao_specimen/DG14.bin"))
    assert [c.name for c in infos.ca_infos] == ["CA-ECDH-AES-CBC-CMAC-256"]
    assert [(p.name, p.parameter_id) for p in infos.pace_infos] == [
        ("PACE-ECDH-GM-AES-CBC-CMAC-256", 16), ("PACE-ECDH-CAM-AES-CBC-CMAC-256", 16)]
    from docval.emrtd import ec
    assert _ec_curve_of(infos.ca_public_keys[0].spki) == ec.BY_NAME["brainpoolP384r1"].p


@pytest.mark.testdata
@pytest.mark.parametrize("kind,pace,ca_oid,std_id", [
    ("ecdh", "PACE-ECDH-GM-AES-CBC-CMAC-128", "0.4.0.127.0.7.2.2.3.2.2", 13),
    ("dh", "PACE-DH-GM-AES-CBC-CMAC-128", "0.4.0.127.0.7.2.2.3.1.2", 0),
])
def test_vsmartcard_card_access(kind, pace, ca_oid, std_id):
    infos = si.parse_card_access(_read(f"vsmartcard_npa/{kind}_ef_cardaccess.bin"))
    assert [p.name for p in infos.pace_infos] == [pace]
    assert [(c.oid, c.version, c.key_id) for c in infos.ca_infos] == [(ca_oid, 2, 1)]
    assert [(d.domain_parameter.standardized_id, d.key_id) for d in infos.ca_domain_parameters] == [(std_id, 1)]
    assert infos.unknown == ["0.4.0.127.0.7.2.2.6", si.ID_PT]     # CardInfoLocator, PrivilegedTerminalInfo
    assert [c.key_id for c in infos.privileged.ca_infos] == [2]
    assert [t.version for t in infos.terminal_auth] == [2]


@pytest.mark.testdata
@pytest.mark.parametrize("kind,pk_oid,std_id", [("ecdh", si.ID_PK_ECDH, 13), ("dh", si.ID_PK_DH, 0)])
def test_vsmartcard_card_security(kind, pk_oid, std_id):
    infos = si.parse_security_infos(_card_security_content(f"vsmartcard_npa/{kind}_ef_cardsecurity.bin"))
    (key,) = infos.ca_public_keys
    assert (key.oid, key.key_id, key.algorithm.standardized_id) == (pk_oid, 1, std_id)
    # id-RI (restricted identification) infos are kept as unknown, not an error
    assert all(u.startswith("0.4.0.127.0.7.2.2.") for u in infos.unknown)
    assert "0.4.0.127.0.7.2.2.5.1" in infos.unknown or "0.4.0.127.0.7.2.2.5.2" in infos.unknown


@pytest.mark.testdata
def test_de_card_security_two_keys():
    infos = si.parse_security_infos(_card_security_content("cardsecurity/DE_EF.CardSecurity.bin"))
    assert [(c.name, c.key_id) for c in infos.ca_infos] == [("CA-ECDH-AES-CBC-CMAC-128", 0x48)]
    assert sorted(k.key_id for k in infos.ca_public_keys) == [0x0D, 0x48]
    assert {k.algorithm.standardized_id for k in infos.ca_public_keys} == {13}
    assert [p.parts.mapping for p in infos.pace_infos] == ["GM", "CAM"]


@pytest.mark.testdata
def test_fi_card_security():
    infos = si.parse_security_infos(_card_security_content("cardsecurity/FI_EF.CardSecurity.bin"))
    assert [(p.name, p.parameter_id) for p in infos.pace_infos] == [
        ("PACE-ECDH-GM-AES-CBC-CMAC-256", 16), ("PACE-ECDH-CAM-AES-CBC-CMAC-256", 16)]
    assert [(k.key_id, k.algorithm.standardized_id) for k in infos.ca_public_keys] == [(16, 16)]


@pytest.mark.testdata
@pytest.mark.parametrize("rel", ["dg14/AT_DG14.bin", "dg14/DE_DG14.bin", "dg14/FR_DG14.bin", "dg14/MY_DG14.bin",
                                 "icao_specimen/DG14.bin"])
def test_reencoding_real_dg14_is_identical(rel):
    raw = _read(rel)
    assert si.encode_dg14(si.parse_dg14(raw).items) == raw


def test_protocol_names():
    assert si.protocol_name("0.4.0.127.0.7.2.2.4.2.2") == "PACE-ECDH-GM-AES-CBC-CMAC-128"
    assert si.protocol_name("0.4.0.127.0.7.2.2.4.1.1") == "PACE-DH-GM-3DES-CBC-CBC"
    assert si.protocol_name("0.4.0.127.0.7.2.2.4.3.3") == "PACE-DH-IM-AES-CBC-CMAC-192"
    assert si.protocol_name("0.4.0.127.0.7.2.2.4.4.4") == "PACE-ECDH-IM-AES-CBC-CMAC-256"
    assert si.protocol_name("0.4.0.127.0.7.2.2.4.6.3") == "PACE-ECDH-CAM-AES-CBC-CMAC-192"
    assert si.protocol_parts("0.4.0.127.0.7.2.2.4.6.1") is None          # no 3DES CAM
    assert si.protocol_name("0.4.0.127.0.7.2.2.3.1.1") == "CA-DH-3DES-CBC-CBC"
    assert si.protocol_name("1.2.3") == "1.2.3"
    parts = si.protocol_parts("0.4.0.127.0.7.2.2.3.2.4")
    assert (parts.family, parts.key_agreement, parts.cipher, parts.key_bits) == ("CA", "ECDH", "AES256", 256)
    assert si.ca_oid("DH", "TDES") == "0.4.0.127.0.7.2.2.3.1.1"
    assert si.pace_oid("ECDH", "CAM", "AES128") == "0.4.0.127.0.7.2.2.4.6.2"
    with pytest.raises(UnsupportedError):
        si.PACEInfo("1.2.3", 2).name  # noqa: B018 (the property raises)


@given(st.lists(st.integers(0, 2**64), min_size=1, max_size=5), st.integers(0, 2), st.integers(0, 39))
@settings(max_examples=100, deadline=None)
def test_oid_codec_matches_asn1crypto(tail, first, second):
    dotted = ".".join(str(a) for a in [first, second if first < 2 else second + 1000] + tail)
    der = si.encode_oid(dotted)
    assert der == core.ObjectIdentifier(dotted).dump()
    assert si.decode_oid(der[2:] if der[1] < 0x80 else der[3:]) == dotted


def test_synthetic_infos_roundtrip_and_quirks():
    aa = si.ActiveAuthenticationInfo(1, "0.4.0.127.0.7.1.1.4.1.3")   # ecdsa-plain-SHA256
    unknown = si.UnknownSecurityInfo("1.2.3.4", bytes.fromhex("300806032a03040101ff"))
    pdp = si.PACEDomainParameterInfo("0.4.0.127.0.7.2.2.4.2",
                                     si.AlgorithmIdentifier("1.2.840.10045.2.1", bytes.fromhex("300b06072a8648ce3d02010500")), 5)
    der = si.encode_security_infos([aa, unknown, pdp])
    infos = si.parse_security_infos(der)
    assert infos.aa_infos == [aa]
    assert infos.unknown == ["1.2.3.4"]
    assert infos.pace_domain_parameters[0].parameter_id == 5
    assert infos.pace_domain_parameters[0].domain_parameter.oid == "1.2.840.10045.2.1"
    # a key id written without its sign octet (C3, read as -61 by a strict DER
    # reader) names the same key as the correct 00C3
    body = si.encode_oid("0.4.0.127.0.7.2.2.3.2.2") + bytes.fromhex("020101") + bytes.fromhex("0201c3")
    sloppy = si.parse_security_infos(b"\x31" + bytes([len(body) + 2, 0x30, len(body)]) + body)
    assert sloppy.ca_infos[0].key_id == 0xC3


@pytest.mark.parametrize("hexdata", [
    "",                                    # nothing
    "3000",                                # SET expected
    "3100",                                # empty set is fine... (checked below)
    "31023000",                            # empty SecurityInfo
    "310430020500",                        # no OID
    "31083006060104020101",                # fine unknown (checked below)
    "310a3008060004007f000702",            # empty OID
    "310e300c060a04007f0007020204028202",  # truncated OID arc
    "31133011060a04007f00070202040202020102",  # PACEInfo with a trailing broken field (runs past end)
    "310f300d060a04007f000702020402020401",    # PACEInfo version not an INTEGER
    "3115301306080400" + "7f000702020201" + "020101020101",   # TA with bad OID length
    "6e023100",                            # DG14 tag where SecurityInfos expected
])
def test_malformed_security_infos(hexdata):
    data = bytes.fromhex(hexdata)
    try:
        result = si.parse_security_infos(data)
    except ParseError:
        return
    assert hexdata in ("3100", "31083006060104020101")
    assert result.pace_infos == []


def _info(*fields: bytes) -> bytes:
    return tlv.encode(0x31, tlv.encode(0x30, b"".join(fields)))


_PACE_GM = si.encode_oid(si.pace_oid("ECDH", "GM", "AES128"))
_CA_ECDH = si.encode_oid(si.ca_oid("ECDH", "AES128"))
_INT2 = si.encode_int(2)


@pytest.mark.parametrize("data,message", [
    (_info(_PACE_GM, tlv.encode(0x02, bytes(33))), "PACEInfo version: INTEGER of bad length"),
    (_info(_PACE_GM, tlv.encode(0x02, b"")), "PACEInfo version: INTEGER of bad length"),
    (_info(_PACE_GM, _INT2, si.encode_int(13), si.encode_int(1)), "PACEInfo: 4 fields, expected 2..3"),
    (_info(_PACE_GM), "PACEInfo: 1 fields, expected 2..3"),
    (_info(si.encode_oid(si.ID_PACE + ".2"), tlv.encode(0x30, b"")),
     "PACEDomainParameterInfo: empty AlgorithmIdentifier"),
    (_info(si.encode_oid(si.ID_PACE + ".2"), tlv.encode(0x02, b"\x01")),
     "PACEDomainParameterInfo: AlgorithmIdentifier is not a SEQUENCE"),
    (_info(si.encode_oid(si.ID_PACE + ".2"), tlv.encode(0x30, si.encode_oid(si.ID_STANDARDIZED_DOMAIN_PARAMETERS))),
     "PACEDomainParameterInfo: standardized domain parameters without an id"),
    (_info(si.encode_oid(si.ID_PK_ECDH), tlv.encode(0x04, b"\x00")),
     "ChipAuthenticationPublicKeyInfo: key is not a SubjectPublicKeyInfo"),
    (_info(si.encode_oid(si.ID_PK_ECDH), tlv.encode(0x30, tlv.encode(0x30, si.encode_oid("1.2.3")))),
     "ChipAuthenticationPublicKeyInfo: malformed SubjectPublicKeyInfo"),
    (_info(_CA_ECDH, _INT2, tlv.encode(0x04, b"\x01")),
     "ChipAuthenticationInfo keyId: expected an INTEGER, found tag 4"),
    (_info(si.encode_oid(si.ID_AA), si.encode_int(1)), "ActiveAuthenticationInfo: 2 fields, expected 3..3"),
    (_info(si.encode_oid(si.ID_AA), si.encode_int(1), si.encode_int(1)),
     "ActiveAuthenticationInfo signatureAlgorithm: expected an OBJECT IDENTIFIER, found tag 2"),
], ids=["version-33-bytes", "version-empty", "trailing-field", "too-few-fields", "empty-algorithm",
        "algorithm-not-sequence", "standardized-without-id", "ca-key-not-spki", "ca-key-without-bit-string",
        "ca-key-id-not-integer", "aa-missing-algorithm", "aa-algorithm-not-oid"])
def test_known_security_infos_that_are_malformed_say_what_is_wrong(data, message):
    """A known OID with broken fields is a broken file (not 'newer than us'): ParseError naming the field."""
    with pytest.raises(ParseError) as err:
        si.parse_security_infos(data)
    assert str(err.value) == message


def test_encode_oid_refuses_what_is_no_oid():
    for dotted in ("1", "3.1", "1.40", "0.40.1"):
        with pytest.raises(ValueError):
            si.encode_oid(dotted)
    assert si.decode_oid(si.encode_oid("2.999.3")[2:]) == "2.999.3"


def test_too_many_infos():
    item = si.TerminalAuthenticationInfo(1).encode()
    data = b"\x31\x82" + (len(item) * 65).to_bytes(2, "big") + item * 65
    with pytest.raises(ParseError):
        si.parse_security_infos(data)


@pytest.mark.testdata
def test_dg14_wrapper_required():
    with pytest.raises(ParseError):
        si.parse_dg14(_read("vsmartcard_npa/ecdh_ef_cardaccess.bin"))


@given(st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_fuzz_parse_security_infos(data):
    for parse in (si.parse_security_infos, si.parse_dg14):
        try:
            parse(data)
        except (ParseError, UnsupportedError, LimitExceeded):
            pass


@pytest.mark.testdata
@given(st.integers(0, 10_000), st.integers(0, 255))
@settings(max_examples=200, deadline=None)
def test_fuzz_mutated_card_access(pos, value):
    data = bytearray(_read("vsmartcard_npa/dh_ef_cardaccess.bin"))
    data[pos % len(data)] = value
    try:
        si.parse_security_infos(bytes(data))
    except (ParseError, UnsupportedError, LimitExceeded):
        pass


@pytest.mark.testdata
@pytest.mark.parametrize("rel,curve", [
    ("dg14/AT_DG14.bin", "brainpoolP256r1"), ("dg14/DE_DG14.bin", "brainpoolP256r1"),
    ("dg14/FR_DG14.bin", "secp256r1"), ("dg14/MY_DG14.bin", "brainpoolP256r1"),
    ("icao_specimen/DG14.bin", "brainpoolP384r1"),
    ("bsi_etsi/BSI_TR-03105-5_ReferenceDataSet_DG14.bin", "brainpoolP224r1"),
    ("bsi_etsi/ETSI_ePassport_Prototype_DG14.bin", "brainpoolP224r1"),
])
def test_real_dg14_ca_keys_load_on_their_named_curve(rel, curve):
    """Explicit parameters in every real DG14 match a standardized curve exactly."""
    from docval.emrtd.ca import load_ca_key

    (key,) = si.parse_dg14(_read(rel)).ca_public_keys
    loaded = load_ca_key(key)
    assert (loaded.kind, loaded.curve.name) == ("ec", curve)


@pytest.mark.testdata
@pytest.mark.parametrize("rel,kinds", [
    ("cardsecurity/DE_EF.CardSecurity.bin", {("ec", "brainpoolP256r1")}),
    ("cardsecurity/FI_EF.CardSecurity.bin", {("ec", "brainpoolP384r1")}),
    ("vsmartcard_npa/ecdh_ef_cardsecurity.bin", {("ec", "brainpoolP256r1")}),
    ("vsmartcard_npa/dh_ef_cardsecurity.bin", {("dh", "MODP-1024-160")}),
])
def test_card_security_ca_keys_by_standardized_id(rel, kinds):
    from docval.emrtd import dh
    from docval.emrtd.ca import load_ca_key

    infos = si.parse_security_infos(_card_security_content(rel))
    got = set()
    for key in infos.ca_public_keys:
        loaded = load_ca_key(key)
        group = next((g.name for g in dh.GROUPS if g.p == loaded.dh_p), None)
        got.add((loaded.kind, loaded.curve.name if loaded.curve else group))
    assert got == kinds


@pytest.mark.testdata
@pytest.mark.parametrize("kind", ["ecdh", "dh"])
def test_reencoding_card_access_keeps_privileged_info(kind):
    raw = _read(f"vsmartcard_npa/{kind}_ef_cardaccess.bin")
    infos = si.parse_card_access(raw)
    assert si.encode_security_infos(infos.items) == raw


def test_nesting_and_indefinite_lengths_are_refused_before_asn1crypto_sees_them():
    """T2/T3: tlv.check_depth runs over the whole SET first, inside unknown SecurityInfos too."""
    deep = b"\x05\x00"
    for _ in range(40):
        deep = tlv.encode(0x30, deep)
    with pytest.raises(ParseError, match="nesting deeper"):
        si.parse_security_infos(_info(si.encode_oid("1.2.3.4"), deep))
    indefinite = bytes.fromhex("308005000000")       # SEQUENCE of indefinite length holding a NULL
    with pytest.raises(ParseError):
        si.parse_security_infos(_info(si.encode_oid("1.2.3.4"), indefinite))
