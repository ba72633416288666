from __future__ import annotations


import pytest
from asn1crypto import keys as asn1keys

from docval.emrtd import ca, crypto, securityinfo as si
from docval.emrtd.apdu import CommandAPDU, ResponseAPDU
from docval.emrtd.errors import AuthenticationError, LimitExceeded, ParseError, UnsupportedError
from docval.emrtd.flow import Link, run
from docval.emrtd.sm import SecureMessaging

from tests.support.rng import number_rng
from tests.testdata import TESTDATA

# SELECT EF DG14 (short id 010E) by file id, no response data: the first command
# after Chip Authentication in the recorded sessions below.
SELECT_DG14 = CommandAPDU(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("010E"))


class Script:
    """A recorded session: each command must carry exactly the recorded header and
    SM data objects (cryptograms, DO'97', MAC).  Only the outer Le's encoding is
    not compared: docval.emrtd.sm sends a command whose plain Le is 256 as an
    extended APDU, where the recording has the short form.
    """

    def __init__(self, pairs):
        self.pairs = [(bytes.fromhex(c), bytes.fromhex(r)) for c, r in pairs]

    def __call__(self, raw: bytes) -> bytes:
        assert self.pairs, "more commands than recorded"
        expected, response = self.pairs.pop(0)
        got, want = CommandAPDU.decode(raw), CommandAPDU.decode(expected)
        assert (got.cla, got.ins, got.p1, got.p2, got.data.hex()) == (
            want.cla, want.ins, want.p1, want.p2, want.data.hex())
        if not got.is_extended:
            assert raw == expected
        return response


def _recorded_session(dg14: str, spec, k_enc, k_mac, ssc, eph, ca_cmds, select, **kw):
    infos = si.parse_dg14((TESTDATA / dg14).read_bytes())
    choice = ca.choose_ca(infos)
    assert choice is not None
    link = Link()
    link.start(SecureMessaging(spec, bytes.fromhex(k_enc), bytes.fromhex(k_mac), ssc))
    script = Script(ca_cmds + [select])
    result = run(ca.chip_authentication(*choice, rng=number_rng(eph), **kw), link, script)
    link.start(result.sm)
    resp = run(_one(SELECT_DG14), link, script)
    assert resp.sw == 0x9000 and resp.data == b""
    assert result.sm.ssc == 2 and not script.pairs
    return result


def _one(cmd):
    resp = yield cmd
    return resp


# Real sessions recorded by gmrtd (chipauth tests) with the passports whose DG14
# is in the real-document data set (DOCVAL_TESTDATA, dg14/): ephemeral keys, APDUs and the SM state are theirs.

@pytest.mark.testdata
def test_recorded_at_aes128_without_key_id():
    result = _recorded_session(
        "dg14/AT_DG14.bin", crypto.AES128, "524170DE3419B7AF2F23E45AD6EF9595", "97893F5FDC29A5C13A924FE7D8ED44FD",
        0xF0, "80EBAFC8A51BECD4D90BB640EE38C9FD5C12748D28AAA37096B98C4533C4F5F5",
        [("0C2241A41D8711015D8F69B1EA365CCE4304970DB12421F38E085340D338128085E700", "990290008E083F5136E82A6C34779000"),
         ("0C860000608751019E18F1BA79D805379752BB560EB70AAC3CE3BC5AFE2FDD4AEB325CA8B578B4A93B9F66A5DF40005F8E87853525"
          "1D33DD974AAF77FB858773E5799FA9DC1034E89B1150EC7F0BB3DB4BF37A1B9EA4458A9701008E089D204D950C0B95DB00",
          "8711010B0A5DFFC7432DE4DEB604291377A05B990290008E08B3384A1F5D1579739000")],
        ("0CA4020C1D8711011B2EE500E84960DF7F37AFE7ADFF53838E084500F3B43E192A5700", "990290008E0803C4B125B4218CEF9000"))
    assert (result.protocol, result.key_id, result.domain, result.inferred) == (
        "CA-ECDH-AES-CBC-CMAC-128", None, "brainpoolP256r1", False)


@pytest.mark.testdata
def test_recorded_de_aes128_with_key_id():
    result = _recorded_session(
        "dg14/DE_DG14.bin", crypto.AES128, "CC86415F2ED7E8FD663B754265695AE1", "581E84B8EE06C4D3EEE30461498D7FB3",
        0xBA, "84A5145885678EE9307C28C52736896267511203B7B8009C5FE27ABCBAECDCAA",
        [("0C2241A41D871101980953D37F67558690045D78A853B18A8E08929767A2CEF172E200", "990290008E08FC873EBB62219C8A9000"),
         ("0C8600006087510161912C367A6322D24AA1D4522DC47A7345369257672DF1D1163D506EB6489395D8083FAD393A394297CE8703C4"
          "2F22C864C1F4C8E70EE1CF9B497ACF6579190D90F36CF9E16FE2149FF57247285D9E1E9701008E08A1D7A16EFBFD932C00",
          "87110123E7159AC9B0EF92CE1F6755B89697E3990290008E088972F1595E1508C29000")],
        ("0CA4020C1D871101FAD37EADBCDE7E6A0833035A9FFF5B708E0836560BBCE1FECD5F00", "990290008E0829D0E1EBBB61BE7A9000"))
    assert (result.protocol, result.key_id) == ("CA-ECDH-AES-CBC-CMAC-128", 0xC3)


@pytest.mark.testdata
def test_recorded_my_3des_with_general_authenticate():
    result = _recorded_session(
        "dg14/MY_DG14.bin", crypto.TDES, "896de34a942c7076fec207207acb79c2", "d6c47ff4677ac8ae91cb49f4ce673432",
        0x9646C154BFB7BE79, "3a31f4e18418312fcb40f3efbe719182c046a9719e1ed8c376197aa9e8ed7465",
        [("0C2241A41D8711019D1E70C6F5EE06A7CA1E98FBF5C945C98E087AC379DC78702E6300", "990290008E08643C2C3AC66585E49000"),
         ("0C86000058874901A9C6BF370C62AA43CA1EC9B97071727654822361DEB8BA4E5719AA05D8E86AA36164DFA5E506DBF60DC7418858"
          "179FD25DAC5E9E49393DDE37E29652444941B562142AB5F19AEA919701008E085083316637060C4D00",
          "87090108166157B375BC1E990290008E08FF8A254C50179F519000")],
        ("0CA4020C1587090106904D37288D69488E08A13B74E87B87E44600", "990290008E08C2BF01FDDD1D599D9000"),
        tdes_with_general_authenticate=True)
    assert result.protocol == "CA-ECDH-3DES-CBC-CBC" and not result.inferred


@pytest.mark.testdata
def test_recorded_fr_inferred_3des_kat():
    result = _recorded_session(
        "dg14/FR_DG14.bin", crypto.AES256, "17da5d46e356f5b31c3d65b1369ef531ca811effc76967d2b62335e1ad9fe5cb",
        "5cb99a25e6081581fac80c8da621087939b6bde273f2f7c65693b3a0ea3051ed",
        0xC6, "d9c3b06a4dcb735351429403fcb56db520dc882512d775971f724d6112f96586",
        [("0c2241a65d8751013ae386873df68bd7e9f8d7ab2e696ced29eeb8da78d502645b5e97d566361341e2eaa56318f6d84bf0bc44f780"
          "8afaf14798d16048aab03545f017f557d2cce9dee724f099e3d643abd0fb03e567d9b18e08f2d238dede5abbf100",
          "990290008e089666ac14d11e8c2c9000")],
        ("0ca4020c15870901db66e918fe3525f98e08d870008cea2ba80000", "990290008e08420dea0a913418ae9000"))
    assert (result.protocol, result.inferred, result.domain) == ("CA-ECDH-3DES-CBC-CBC", True, "secp256r1")


# ---------------------------------------------------------------- choosing

@pytest.mark.testdata
def test_choose_by_key_id_in_card_security():
    from asn1crypto import cms

    raw = (TESTDATA / "cardsecurity/DE_EF.CardSecurity.bin").read_bytes()
    content = cms.ContentInfo.load(raw)["content"]["encap_content_info"]["content"].native
    info, key = ca.choose_ca(si.parse_security_infos(content))
    assert info.key_id == 0x48 and key.key_id == 0x48
    assert ca.load_ca_key(key).curve.name == "brainpoolP256r1"


@pytest.mark.testdata
def test_choose_without_keys_and_mismatches():
    assert ca.choose_ca(si.SecurityInfos()) is None
    infos = si.parse_dg14((TESTDATA / "dg14/DE_DG14.bin").read_bytes())
    info = infos.ca_infos[0]
    other = si.SecurityInfos()
    other.add(si.ChipAuthenticationInfo(info.oid, 1, 0x99))
    other.add(si.ChipAuthenticationPublicKeyInfo(si.ID_PK_ECDH, infos.ca_public_keys[0].spki, 0xC3))
    with pytest.raises(ParseError):
        ca.choose_ca(other)
    # the only key of the right kind is used when the info names no key id
    plain = si.SecurityInfos()
    plain.add(si.ChipAuthenticationInfo(info.oid, 1))
    plain.add(si.ChipAuthenticationPublicKeyInfo(si.ID_PK_DH, b"\x30\x00"))
    plain.add(infos.ca_public_keys[0])
    assert ca.choose_ca(plain) == (plain.ca_infos[0], infos.ca_public_keys[0])


def _spki_with_point(spki: bytes, point: bytes) -> bytes:
    info = asn1keys.PublicKeyInfo.load(spki)
    return asn1keys.PublicKeyInfo({"algorithm": info["algorithm"], "public_key": point}).dump()


@pytest.mark.testdata
def test_off_curve_key_refused_before_any_command():
    key = si.parse_dg14((TESTDATA / "dg14/AT_DG14.bin").read_bytes()).ca_public_keys[0]
    point = bytearray(asn1keys.PublicKeyInfo.load(key.spki)["public_key"].native)
    point[-1] ^= 1
    bad = si.ChipAuthenticationPublicKeyInfo(key.oid, _spki_with_point(key.spki, bytes(point)))
    flow = ca.chip_authentication(None, bad)
    with pytest.raises(ParseError):
        next(flow)
    infos = si.SecurityInfos()
    infos.add(bad)
    with pytest.raises(ParseError):          # choose_ca already checks the key it picks
        ca.choose_ca(infos)


def test_dh_key_outside_the_subgroup_refused():
    from docval.emrtd import dh

    group = dh.BY_PACE_ID[2]
    spki = asn1keys.PublicKeyInfo({
        "algorithm": {"algorithm": "dh", "parameters": {"p": group.p, "g": group.g, "q": group.q}},
        "public_key": group.p - 2,                # order 2 element's neighbour: not in the q-subgroup
    }).dump()
    infos = si.SecurityInfos()
    infos.add(si.ChipAuthenticationPublicKeyInfo(si.ID_PK_DH, spki))
    with pytest.raises(ParseError):
        ca.choose_ca(infos)


def test_huge_dh_key_refused():
    p = (1 << 8191) | 1
    spki = asn1keys.PublicKeyInfo({
        "algorithm": {"algorithm": "dh", "parameters": {"p": p, "g": 2, "q": 11}},
        "public_key": 5,
    }).dump()
    with pytest.raises(LimitExceeded):
        next(ca.chip_authentication(None, si.ChipAuthenticationPublicKeyInfo(si.ID_PK_DH, spki)))


@pytest.mark.testdata
def test_kind_mismatch_refused():
    key = si.parse_dg14((TESTDATA / "dg14/AT_DG14.bin").read_bytes()).ca_public_keys[0]
    with pytest.raises(ParseError):
        next(ca.chip_authentication(si.ChipAuthenticationInfo(si.ca_oid("DH", "AES128"), 1), key))
    with pytest.raises(ParseError):
        next(ca.chip_authentication(None, si.ChipAuthenticationPublicKeyInfo(si.ID_PK_DH, key.spki)))


@pytest.mark.testdata
@pytest.mark.parametrize("sw_step", [0, 1])
def test_refusal_raises_authentication_error(sw_step):
    infos = si.parse_dg14((TESTDATA / "dg14/AT_DG14.bin").read_bytes())
    flow = ca.chip_authentication(*ca.choose_ca(infos))
    cmd = next(flow)
    assert (cmd.cla, cmd.ins, cmd.p1, cmd.p2) == (0x00, 0x22, 0x41, 0xA4)
    assert cmd.data == bytes.fromhex("800a04007f00070202030202")
    with pytest.raises(AuthenticationError):
        if sw_step == 0:
            flow.send(ResponseAPDU(b"", 0x6A80))
        else:
            ga = flow.send(ResponseAPDU(b"", 0x9000))
            assert (ga.ins, ga.le) == (0x86, 256) and ga.data[:4] == bytes.fromhex("7c438041")
            flow.send(ResponseAPDU(b"", 0x6300))


@pytest.mark.testdata
@pytest.mark.parametrize("data,error", [(b"\x7c\x04\x81\x02\x00\x00", UnsupportedError),
                                        (b"\x7d\x00", AuthenticationError), (b"\x7c\x05", AuthenticationError)])
def test_bad_general_authenticate_response(data, error):
    infos = si.parse_dg14((TESTDATA / "dg14/AT_DG14.bin").read_bytes())
    flow = ca.chip_authentication(*ca.choose_ca(infos))
    next(flow)
    flow.send(ResponseAPDU(b"", 0x9000))
    with pytest.raises(error):
        flow.send(ResponseAPDU(data, 0x9000))


@pytest.mark.testdata
def test_kat_command_with_key_id():
    infos = si.parse_dg14((TESTDATA / "dg14/FR_DG14.bin").read_bytes())
    _, key = ca.choose_ca(infos)
    keyed = si.ChipAuthenticationPublicKeyInfo(key.oid, key.spki, 0x0102)
    cmd = next(ca.chip_authentication(None, keyed))
    assert (cmd.p1, cmd.p2, cmd.le) == (0x41, 0xA6, None)
    assert cmd.data[:3] == bytes.fromhex("914104") and cmd.data[-4:] == bytes.fromhex("84020102")


def test_result_repr_hides_keys():
    result = ca.CaResult(SecureMessaging(crypto.AES128, b"k" * 16, b"m" * 16), "CA-ECDH-AES-CBC-CMAC-128",
                         si.ca_oid("ECDH", "AES128"), 1, "ECDH", "secp256r1")
    assert "kkkk" not in repr(result) and "6b6b" not in repr(result)


@pytest.mark.testdata
def test_general_authenticate_retried_with_short_le_after_6700():
    infos = si.parse_dg14((TESTDATA / "dg14/AT_DG14.bin").read_bytes())
    flow = ca.chip_authentication(*ca.choose_ca(infos))
    sent = [next(flow)]
    for resp in (ResponseAPDU(b"", 0x9000), ResponseAPDU(b"", 0x6700), ResponseAPDU(b"", 0x9000)):
        sent.append(flow.send(resp))
    with pytest.raises(StopIteration) as done:
        flow.send(ResponseAPDU(b"\x7c\x00", 0x9000))
    assert [(c.ins, c.le) for c in sent] == [(0x22, None), (0x86, 256), (0x22, None), (0x86, 223)]
    assert sent[1].data == sent[3].data and done.value.value.protocol == "CA-ECDH-AES-CBC-CMAC-128"


@pytest.mark.testdata
@pytest.mark.parametrize("spec", [crypto.TDES, crypto.AES128, crypto.AES256], ids=["3DES", "AES128", "AES256"])
def test_without_extended_length_general_authenticate_is_short_from_the_start(spec):
    """A phone without extended length cannot relay the protected GA with Le 256 (an
    extended APDU) at all: the reader says so and CA asks for a short Le at once."""
    infos = si.parse_dg14((TESTDATA / "dg14/AT_DG14.bin").read_bytes())
    flow = ca.chip_authentication(*ca.choose_ca(infos), extended_length=False)
    sm = SecureMessaging(spec, bytes(spec.key_length), bytes(spec.key_length))
    sent = [next(flow)]
    sent.append(flow.send(ResponseAPDU(b"", 0x9000)))
    with pytest.raises(StopIteration) as done:
        flow.send(ResponseAPDU(b"\x7c\x00", 0x9000))
    assert [(c.ins, c.le) for c in sent] == [(0x22, None), (0x86, 223)]
    assert not any(sm.wrap(c).is_extended for c in sent)
    assert done.value.value.protocol == "CA-ECDH-AES-CBC-CMAC-128"
