"""PACE, terminal side, against the ICAO 9303-11 worked examples and real traces.

Appendix G.1 (ECDH-GM) and I.1 (ECDH-CAM) are replayed APDU by APDU as the
standard prints them; G.2 (DH-GM), H.1 (ECDH-IM) and H.2 (DH-IM) publish the
chip's values, so the scripted chip is built from them and every command we send
is checked against the terminal values the appendix prints.  The injected rng
returns the example's private keys and nonces.
"""
from __future__ import annotations

import pytest

from docval.emrtd import crypto, ec, ecpoint, flow, pace, tlv
from docval.emrtd import dh as dhmod
from docval.emrtd.apdu import CommandAPDU
from docval.emrtd.errors import AccessControlError, ParseError, StatusError, UnsupportedError
from docval.emrtd.mrz import CanKey, MrzKey
from docval.emrtd.securityinfo import PACEInfo
from docval.emrtd.sm import SecureMessaging
from tests.support.flows import Script, drive
from tests.support.rng import scripted_rng


def H(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


ICAO_MRZ = MrzKey("T22000129", "640812", "101031")   # Appendix G
ICAO_CAN = CanKey("123456")                           # Appendix H
BP256 = ec.BY_NAME["brainpoolP256r1"]
MODP0 = dhmod.GROUPS[0]

OID_ECDH_GM_AES128 = "0.4.0.127.0.7.2.2.4.2.2"
OID_ECDH_GM_3DES = "0.4.0.127.0.7.2.2.4.2.1"
OID_DH_GM_AES128 = "0.4.0.127.0.7.2.2.4.1.2"
OID_ECDH_IM_AES128 = "0.4.0.127.0.7.2.2.4.4.2"
OID_DH_IM_AES128 = "0.4.0.127.0.7.2.2.4.3.2"
OID_ECDH_CAM_AES128 = "0.4.0.127.0.7.2.2.4.6.2"


class _PasswordHash(MrzKey):
    """An MRZ key whose SHA-1 is given directly (Appendix I prints only the hash)."""

    def __new__(cls, digest: bytes):
        obj = super().__new__(cls)
        object.__setattr__(obj, "_digest", digest)
        return obj

    def __init__(self, digest: bytes):
        super().__init__("X", "000000", "000000")

    @property
    def pace_password(self) -> bytes:
        return self._digest


def run_script(the_flow, script):
    """Drive a flow against a recorded script that must be used up; (result, raw commands)."""
    chip = Script(script)
    driven = drive(the_flow, transmit=chip)
    chip.assert_done()
    return driven.result, driven.sent


def same_keys(sm, ks_enc: bytes, ks_mac: bytes, spec) -> bool:
    """Compare SM sessions by what they produce: wrap the same command under both."""
    ref = SecureMessaging(spec, ks_enc, ks_mac, ssc=0)
    cmd = CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=4)
    return sm.ssc == 0 and sm.wrap(cmd).encode() == ref.wrap(cmd).encode()


def ga(data_objects: bytes, last: bool = False) -> str:
    return pace.general_authenticate(data_objects, last).encode().hex()


def resp(data_objects: bytes) -> str:
    return tlv.encode(0x7C, data_objects).hex() + "9000"


# ---------------------------------------------------------------- G.1 ECDH-GM

G1 = dict(
    k_pi=H("89DED1B2 6624EC1E 634C1989 302849DD"),
    z=H("95A3A016 522EE98D 01E76CB6 B98B42C3"),
    s=H("3F00C4D3 9D153F2B 2A214A07 8D899B22"),
    map_sk_ifd=H("7F4EF07B 9EA82FD7 8AD689B3 8D0BC78C F21F249D 953BC46F 4C6E1925 9C010F99"),
    map_sk_ic=H("498FF497 56F2DC15 87840041 839A8598 2BE7761D 14715FB0 91EFA7BC E9058560"),
    h=(0x60332EF2450B5D247EF6D3868397D398852ED6E8CAF6FFEEF6BF85CA57057FD5,
       0x0840CA7415BAF3E43BD414D35AA4608B93A2CAF3A4E3EA4E82C9C13D03EB7181),
    g_hat=(0x8CED63C91426D4F0EB1435E7CB1D74A46723A0AF21C89634F65A9AE87A9265E2,
           0x8C879506743F8611AC33645C5B985C80B5F09A0B83407C1B6A4D857AE76FE522),
    sk_ifd=H("A73FB703 AC1436A1 8E0CFA5A BB3F7BEC 7A070E7A 6788486B EE230C4A 22762595"),
    sk_ic=H("107CF586 96EF6155 053340FD 633392BA 81909DF7 B9706F22 6F32086C 7AFF974A"),
    k=H("28768D20 701247DA E81804C9 E780EDE5 82A9996D B4A31502 0B273319 7DB84925"),
    ks_enc=H("F5F0E35C 0D7161EE 6724EE51 3A0D9A7F"),
    ks_mac=H("FE251C78 58B356B2 4514B3BD 5F4297D1"),
    t_ifd=H("C2B0BD78 D94BA866"),
    t_ic=H("3ABB9674 BCE93C08"),
)
G1_SCRIPT = [
    ("0022C1A412800A04007F0007020204020283010184010D", "9000"),
    ("10860000027C0000", "7C12801095A3A016522EE98D01E76CB6B98B42C39000"),
    ("10860000457C438141047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E"
     "544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D00",
     "7C43824104824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F5730D8C879AA"
     "A9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C549000"),
    ("10860000457C438341042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C"
     "3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB3646200",
     "7C438441049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB7764B22277"
     "A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F0949000"),
    ("008600000C7C0A8508C2B0BD78D94BA86600", "7C0A86083ABB9674BCE93C089000"),
]


def test_g1_intermediate_values():
    spec = crypto.AES128
    assert pace.password_key(ICAO_MRZ.pace_password, spec) == G1["k_pi"]
    assert pace.decrypt_nonce(spec, G1["k_pi"], G1["z"]) == G1["s"]
    assert pace.encrypt_nonce(spec, G1["k_pi"], G1["s"]) == G1["z"]
    dom = pace.EcDomain(BP256)
    pk_map_ic = dom.public(int.from_bytes(G1["map_sk_ic"], "big"), dom.generator)
    pk_map_ifd = dom.public(int.from_bytes(G1["map_sk_ifd"], "big"), dom.generator)
    # H computed by both sides
    assert dom.shared_element(int.from_bytes(G1["map_sk_ifd"], "big"), pk_map_ic) == G1["h"]
    assert dom.shared_element(int.from_bytes(G1["map_sk_ic"], "big"), pk_map_ifd) == G1["h"]
    g_hat = dom.gm_map(int.from_bytes(G1["s"], "big"), G1["h"])
    assert g_hat == G1["g_hat"]
    pk_ic = dom.public(int.from_bytes(G1["sk_ic"], "big"), g_hat)
    pk_ifd = dom.public(int.from_bytes(G1["sk_ifd"], "big"), g_hat)
    assert dom.encode(pk_ifd).hex().upper().startswith("042DB7A64C")
    assert dom.shared_secret(int.from_bytes(G1["sk_ifd"], "big"), pk_ic) == G1["k"]
    assert dom.shared_secret(int.from_bytes(G1["sk_ic"], "big"), pk_ifd) == G1["k"]
    assert pace.session_keys(spec, G1["k"]) == (G1["ks_enc"], G1["ks_mac"])
    assert pace.token_input(OID_ECDH_GM_AES128, 0x86, dom.encode(pk_ic)) == H(
        "7F494F060A04007F000702020402028641049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D2"
        "8C1D9EC65DF6DB7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094")
    assert pace.auth_token(spec, G1["ks_mac"], OID_ECDH_GM_AES128, 0x86, dom.encode(pk_ic)) == G1["t_ifd"]
    assert pace.auth_token(spec, G1["ks_mac"], OID_ECDH_GM_AES128, 0x86, dom.encode(pk_ifd)) == G1["t_ic"]


@pytest.mark.parametrize("send_id", [True, False])
def test_g1_full_flow(send_id):
    script = list(G1_SCRIPT)
    if not send_id:   # the appendix itself omits DO'84'
        script[0] = ("0022C1A40F800A04007F00070202040202830101", "9000")
    result, _ = run_script(
        pace.pace(ICAO_MRZ, PACEInfo(OID_ECDH_GM_AES128, 2, 13),
                  rng=scripted_rng(G1["map_sk_ifd"], G1["sk_ifd"]), send_parameter_id=send_id),
        script)
    assert same_keys(result.sm, G1["ks_enc"], G1["ks_mac"], crypto.AES128)
    assert result.protocol == "PACE-ECDH-GM-AES-CBC-CMAC-128"
    assert (result.mapping, result.curve_or_group, result.cipher) == ("GM", "brainpoolP256r1", crypto.AES128)
    assert result.chip_public_key == H(G1_SCRIPT[3][1][8:-4])
    assert result.cam_data is None
    assert "9E880F" not in repr(result) and "PACE-ECDH-GM" in repr(result)


def test_g1_wrong_password_is_access_control_error():
    script = list(G1_SCRIPT)
    script[-1] = (G1_SCRIPT[-1][0], "6300")
    with pytest.raises(AccessControlError, match="refused the authentication token"):
        run_script(pace.pace(ICAO_MRZ, PACEInfo(OID_ECDH_GM_AES128, 2, 13),
                             rng=scripted_rng(G1["map_sk_ifd"], G1["sk_ifd"])), script)


def test_g1_corrupted_chip_token():
    script = list(G1_SCRIPT)
    script[-1] = (G1_SCRIPT[-1][0], "7C0A86083ABB9674BCE93C099000")
    with pytest.raises(AccessControlError, match="does not verify"):
        run_script(pace.pace(ICAO_MRZ, PACEInfo(OID_ECDH_GM_AES128, 2, 13),
                             rng=scripted_rng(G1["map_sk_ifd"], G1["sk_ifd"])), script)


# ---------------------------------------------------------------- G.2 DH-GM

G2 = dict(
    z=H("854D8DF5 827FA685 2D1A4FA7 01CDDDCA"),
    s=H("FA5B7E3E 49753A0D B9178B7B 9BD898C8"),
    map_sk_ifd=H("5265030F 751F4AD1 8B08AC56 5FC7AC95 2E41618D"),
    map_pk_ifd=H("""23FB3749 EA030D2A 25B278D2 A562047A DE3F01B7 4F17A154 02CB7352 CA7D2B3E
        B71C343D B13D1DEB CE9A3666 DBCFC920 B49174A6 02CB4796 5CAA73DC 702489A4
        4D41DB91 4DE9613D C5E98C94 160551C0 DF86274B 9359BC04 90D01B03 AD54022D
        CB4F57FA D6322497 D7A1E28D 46710F46 1AFE710F BBBC5F8B A166F431 1975EC6C"""),
    map_pk_ic=H("""78879F57 225AA808 0D52ED0F C890A4B2 5336F699 AA89A2D3 A189654A F70729E6
        23EA5738 B26381E4 DA19E004 706FACE7 B235C2DB F2F38748 312F3C98 C2DD4882
        A41947B3 24AA1259 AC22579D B93F7085 655AF308 89DBB845 D9E6783F E42C9F24
        49400306 254C8AE8 EE9DD812 A804C0B6 6E8CAFC1 4F84D825 8950A91B 44126EE6"""),
    h=H("""5BABEBEF 5B74E5BA 94B5C063 FDA15F1F 1CDE9487 3EE0A5D3 A2FCAB49 F258D07F
        544F13CB 66658C3A FEE9E727 389BE3F6 CBBBD321 28A8C21D D6EEA3CF 7091CDDF
        B08B8D00 7D40318D CCA4FFBF 51208790 FB4BD111 E5A968ED 6B6F08B2 6CA87C41
        0B3CE0C3 10CE104E ABD16629 AA48620C 1279270C B0750C0D 37C57FFF E302AE7F"""),
    g_hat=H("""7C9CBFE9 8F9FBDDA 8D143506 FA7D9306 F4CB17E3 C71707AF F5E1C1A1 23702496
        84D64EE3 7AF44B8D BD9D45BF 6023919C BAA027AB 97ACC771 666C8E98 FF483301
        BFA4872D EDE9034E DFACB708 14166B7F 36067682 9B826BEA 57291B5A D69FBC84
        EF1E7790 32A30580 3F743417 93E86974 2D401325 B37EE856 5FFCDEE6 18342DC5"""),
    sk_ifd=H("89CCD99B 0E8D3B1F 11E1296D CA68EC53 411CF2CA"),
    pk_ifd=H("""907D89E2 D425A178 AA81AF4A 7774EC8E 388C115C AE67031E 85EECE52 0BD91155
        1B9AE4D0 4369F29A 02626C86 FBC6747C C7BC3526 45B6161A 2A42D44E DA80A08F
        A8D61B76 D3A154AD 8A5A5178 6B0BC071 47057871 A922212C 5F67F431 73172236
        B7747D16 71E6D692 A3C7D40A 0C3C5CE3 97545D01 5C175EB5 130551ED BC2EE5D4"""),
    pk_ic=H("""075693D9 AE941877 573E634B 6E644F8E 60AF17A0 076B8B12 3D920107 4D36152B
        D8B3A213 F53820C4 2ADC79AB 5D0AEEC3 AEFB9139 4DA476BD 97B9B14D 0A65C1FC
        71A0E019 CB08AF55 E1F72900 5FBA7E3F A5DC4189 9238A250 767A6D46 DB974064
        386CD456 743585F8 E5D90CC8 B4004B1F 6D866C79 CE0584E4 9687FF61 BC29AEA1"""),
    k=H("""6BABC7B3 A72BCD7E A385E4C6 2DB2625B D8613B24 149E146A 629311C4 CA6698E3
        8B834B6A 9E9CD718 4BA8834A FF5043D4 36950C4C 1E783236 7C10CB8C 314D40E5
        990B0DF7 013E64B4 549E2270 923D06F0 8CFF6BD3 E977DDE6 ABE4C31D 55C0FA2E
        465E553E 77BDF75E 3193D383 4FC26E8E B1EE2FA1 E4FC97C1 8C3F6CFF FE2607FD"""),
    ks_enc=H("2F7F46AD CC9E7E52 1B45D192 FAFA9126"),
    ks_mac=H("805A1D27 D45A5116 F73C5446 9462B7D8"),
    t_ifd=H("B46DD9BD 4D98381F"),
    t_ic=H("917F37B5 C0E6D8D1"),
)


def test_g2_dh_gm_worked_example():
    spec = crypto.AES128
    k_pi = pace.password_key(ICAO_MRZ.pace_password, spec)
    assert pace.decrypt_nonce(spec, k_pi, G2["z"]) == G2["s"]
    dom = pace.DhDomain(MODP0)
    assert dom.encode(dom.public(int.from_bytes(G2["map_sk_ifd"], "big"), dom.generator)) == G2["map_pk_ifd"]
    h = dom.shared_element(int.from_bytes(G2["map_sk_ifd"], "big"), dom.decode(G2["map_pk_ic"]))
    assert dom.encode(h) == G2["h"]
    g_hat = dom.gm_map(int.from_bytes(G2["s"], "big"), h)
    assert dom.encode(g_hat) == G2["g_hat"]
    assert dom.encode(dom.public(int.from_bytes(G2["sk_ifd"], "big"), g_hat)) == G2["pk_ifd"]
    assert dom.shared_secret(int.from_bytes(G2["sk_ifd"], "big"), dom.decode(G2["pk_ic"])) == G2["k"]
    assert pace.session_keys(spec, G2["k"]) == (G2["ks_enc"], G2["ks_mac"])
    assert pace.auth_token(spec, G2["ks_mac"], OID_DH_GM_AES128, 0x84, G2["pk_ic"]) == G2["t_ifd"]
    assert pace.auth_token(spec, G2["ks_mac"], OID_DH_GM_AES128, 0x84, G2["pk_ifd"]) == G2["t_ic"]

    result, _ = run_script(pace.pace(ICAO_MRZ, PACEInfo(OID_DH_GM_AES128, 2, 0),
                                     rng=scripted_rng(G2["map_sk_ifd"], G2["sk_ifd"]),
                                     send_parameter_id=False), G2_SCRIPT)
    assert same_keys(result.sm, G2["ks_enc"], G2["ks_mac"], spec)
    assert result.curve_or_group == "MODP-1024-160" and result.protocol == "PACE-DH-GM-AES-CBC-CMAC-128"


# The APDUs of Appendix G.2 as printed (the chip's last answer also carries a
# Certification Authority Reference '87', which the terminal ignores).
G2_SCRIPT = [
    ("0022C1A40F800A04007F00070202040102830101", "9000"),
    ("10860000027C0000", "7C128010854D8DF5827FA6852D1A4FA701CDDDCA9000"),
    ("10860000867C818381818023FB3749EA030D2A25B278D2A562047ADE3F01B74F17A15402CB7352CA7D2B3E"
     "B71C343DB13D1DEBCE9A3666DBCFC920B49174A602CB47965CAA73DC702489A44D41DB914DE9613DC5E98C"
     "94160551C0DF86274B9359BC0490D01B03AD54022DCB4F57FAD6322497D7A1E28D46710F461AFE710FBBBC"
     "5F8BA166F4311975EC6C00",
     "7C818382818078879F57225AA8080D52ED0FC890A4B25336F699AA89A2D3A189654AF70729E623EA5738B2"
     "6381E4DA19E004706FACE7B235C2DBF2F38748312F3C98C2DD4882A41947B324AA1259AC22579DB93F7085"
     "655AF30889DBB845D9E6783FE42C9F2449400306254C8AE8EE9DD812A804C0B66E8CAFC14F84D8258950A9"
     "1B44126EE69000"),
    ("10860000867C8183838180907D89E2D425A178AA81AF4A7774EC8E388C115CAE67031E85EECE520BD91155"
     "1B9AE4D04369F29A02626C86FBC6747CC7BC352645B6161A2A42D44EDA80A08FA8D61B76D3A154AD8A5A51"
     "786B0BC07147057871A922212C5F67F43173172236B7747D1671E6D692A3C7D40A0C3C5CE397545D015C17"
     "5EB5130551EDBC2EE5D400",
     "7C8183848180075693D9AE941877573E634B6E644F8E60AF17A0076B8B123D9201074D36152BD8B3A213F5"
     "3820C42ADC79AB5D0AEEC3AEFB91394DA476BD97B9B14D0A65C1FC71A0E019CB08AF55E1F729005FBA7E3F"
     "A5DC41899238A250767A6D46DB974064386CD456743585F8E5D90CC8B4004B1F6D866C79CE0584E49687FF"
     "61BC29AEA19000"),
    ("008600000C7C0A8508B46DD9BD4D98381F00",
     "7C1B8608917F37B5C0E6D8D1870F4445544553544356434130303030339000"),
]


# ---------------------------------------------------------------- H.1 ECDH-IM

H1 = dict(
    k_pi=H("591468CD A83D6521 9CCCB856 0233600F"),
    z=H("143DC40C 08C8E891 FBED7DED B92B64AD"),
    s=H("2923BE84 E16CD6AE 529049F1 F1BBE9EB"),
    t=H("5DD4CBFC 96F5453B 130D890A 1CDBAE32"),
    r=H("""E4447E2D FB3586BA C05DDB00 156B57FB B2179A39 49294C97 25418980 0C517BAA
        8DA0FF39 7ED8C445 D3E421E4 FEB57322"""),
    rp=0xA2F8FF2DF50E52C6599F386ADCB595D229F6A167ADE2BE5F2C3296ADD5B7430E,
    g_hat=(0x8E82D31559ED0FDE92A4D0498ADD3C23BABA94FB77691E31E90AEA77FB17D427,
           0x4C1AE14BD0C3DBAC0C871B7F3608169364437CA30AC243A089D3F266C1E60FAD),
    sk_ifd=H("A73FB703 AC1436A1 8E0CFA5A BB3F7BEC 7A070E7A 6788486B EE230C4A 22762595"),
    pk_ifd=H("""04 89CBA23F FE96AA18 D824627C 3E934E54 A9FD0B87 A95D1471 DC1C0ABF DCD640D4
        6755DE9B 7B778280 B6BEBD57 439ADFEB 0E21FD4E D6DF4257 8C13418A 59B34C37"""),
    pk_ic=H("""04 67F78E5F 7F768608 2B293E8D 087E0569 16D0F74B C01A5F89 57D0DE45 691E51E8
        932B69A9 62B52A09 85AD2C0A 271EE6A1 3A8ADDDC D1A3A994 B9DED257 F4D22753"""),
    k=H("4F150FDE 1D4F0E38 E95017B8 91BAE171 33A0DF45 B0D3E18B 60BA7BEA FDC2C713"),
    ks_enc=H("0D3FEB33 251A6370 893D62AE 8DAAF51B"),
    ks_mac=H("B01E89E3 D9E8719E 586B50B4 A7506E0B"),
    t_ifd=H("450F02B8 6F6A0909"),
    t_ic=H("75D4D96E 8D5B0308"),
)


def test_h1_ecdh_im_worked_example():
    spec = crypto.AES128
    assert pace.password_key(ICAO_CAN.pace_password, spec) == H1["k_pi"]
    assert pace.decrypt_nonce(spec, H1["k_pi"], H1["z"]) == H1["s"]
    # R_p(s, t) and its reduction: the full x_1||x_2||x_3 equals the printed R.
    assert int.from_bytes(H1["r"], "big") % BP256.p == H1["rp"]
    assert pace.im_pseudo_random(spec, H1["s"], H1["t"], BP256.p) == H1["rp"]
    assert pace.point_encode_fg(BP256, H1["rp"]) == H1["g_hat"]
    assert ecpoint.is_on_curve(BP256, H1["g_hat"])
    dom = pace.EcDomain(BP256)
    assert dom.encode(dom.public(int.from_bytes(H1["sk_ifd"], "big"), H1["g_hat"])) == H1["pk_ifd"]
    assert dom.shared_secret(int.from_bytes(H1["sk_ifd"], "big"), dom.decode(H1["pk_ic"])) == H1["k"]
    assert pace.session_keys(spec, H1["k"]) == (H1["ks_enc"], H1["ks_mac"])

    script = [
        ("0022C1A412800A04007F0007020204040283010284010D", "9000"),
        ("10860000027C0000", resp(tlv.encode(0x80, H1["z"]))),
        (ga(tlv.encode(0x81, H1["t"])), resp(tlv.encode(0x82, b""))),
        (ga(tlv.encode(0x83, H1["pk_ifd"])), resp(tlv.encode(0x84, H1["pk_ic"]))),
        (ga(tlv.encode(0x85, H1["t_ifd"]), last=True), resp(tlv.encode(0x86, H1["t_ic"]))),
    ]
    result, _ = run_script(pace.pace(ICAO_CAN, PACEInfo(OID_ECDH_IM_AES128, 2, 13),
                                     rng=scripted_rng(H1["t"], H1["sk_ifd"])), script)
    assert same_keys(result.sm, H1["ks_enc"], H1["ks_mac"], spec)
    assert result.mapping == "IM" and result.chip_mapping_public_key is None


@pytest.mark.parametrize("step2", ["9000", "7C009000"])
def test_im_map_nonce_answer_variants(step2):
    """Chips answer the IM map-nonce step with 7C 02 82 00, an empty 7C, or nothing."""
    script = [
        (None, "9000"),
        (None, resp(tlv.encode(0x80, H1["z"]))),
        (None, step2),
        (None, resp(tlv.encode(0x84, H1["pk_ic"]))),
        (None, resp(tlv.encode(0x86, H1["t_ic"]))),
    ]
    run_script(pace.pace(ICAO_CAN, PACEInfo(OID_ECDH_IM_AES128, 2, 13),
                         rng=scripted_rng(H1["t"], H1["sk_ifd"])), script)


# ---------------------------------------------------------------- H.2 DH-IM

H2 = dict(
    z=H("9ABB8864 CA0FF155 1E620D1E F4E13510"),
    s=H("FA5B7E3E 49753A0D B9178B7B 9BD898C8"),
    t=H("B3A6DB3C 870C3E99 245E0D1C 06B747DE"),
    r=H("""EAB98D13 E0905295 2AA72990 7C3C9461 84DEA0FE 74AD2B3A F506F0A8 3018459C
        38099CD1 F7FF4EA0 A078DB1F AC136550 5E3DC855 00EF95E2 0B4EEF2E 88489233
        BEE0546B 472F994B 618D1687 02406791 DEEF3CB4 810932EC 278F3533 FDB860EB
        4835C36F A4F1BF3F A0B828A7 18C96BDE 88FBA38A 3E6C35AA A1095925 1EB5FC71
        0FC18725 8995944C 0F926E24 9373F485"""),
    rp=H("""A0C7C50C 002061A5 1CC87D25 4EF38068 607417B6 EE1B3647 3CFB800D 2D2E5FA2
        B6980F01 105D24FA B22ACD1B FA5C8A4C 093ECDFA FE6D7125 D42A843E 33860383
        5CF19AFA FF75EFE2 1DC5F6AA 1F9AE46C 25087E73 68166FB0 8C1E4627 AFED7D93
        570417B7 90FF7F74 7E57F432 B04E1236 819E0DFE F5B6E77C A4999925 328182D2"""),
    g_hat=H("""1D7D767F 11E333BC D6DBAEF4 0E799E7A 926B9697 3550656F F3C83072 6D118D61
        C276CDCC 61D475CF 03A98E0C 0E79CAEB A5BE2557 8BD4551D 0B109032 36F0B0F9
        76852FA7 8EEA14EA 0ACA87D1 E91F688F E0DFF897 BBE35A47 2621D343 564B262F
        34223AE8 FC59B664 BFEDFA2B FE7516CA 5510A6BB B633D517 EC25D4E0 BBAA16C2"""),
    sk_ifd=H("""4BD0E547 40F9A028 E6A515BF DAF96784 8C4F5F5F FF65AA09 15947FFD 1A0DF2FA
        6981271B C905F355 1457B7E0 3AC3B806 6DE4AA40 6C1171FB 43DD939C 4BA16175
        103BA3DE E16419AA 248118F9 0CC36A3D 6F4C3736 52E0C3CC E7F0F1D0 C5425B36
        00F0F0D6 A67F004C 8BBA33F2 B4733C72 52445C1D FC4F1107 203F71D2 EFB28161"""),
    pk_ifd=H("""0F0CC629 45A80292 51FB7EF3 C094E12E C68E4EF0 7F27CB9D 9CD04C5C 4250FAE0
        E4F8A951 557E929A EB48E5C6 DD47F2F5 CD7C351A 9BD2CD72 2C07EDE1 66770F08
        FFCB3702 62CF308D D7B07F2E 0DA9CAAA 1492344C 85290691 9538C98A 4BA4187E
        76CE9D87 832386D3 19CE2E04 3C3343AE AE6EDBA1 A9894DC5 094D22F7 FE1351D5"""),
    pk_ic=H("""928D9A0F 9DBA450F 13FC859C 6F290D1D 36E42431 138A4378 500BEB4E 0401854C
        FF111F71 CB6DC1D0 335807A1 1388CC8E AA87B079 07AAD9FB A6B169AF 6D8C26AF
        8DDDC39A DC3AD2E3 FF882B84 D23E9768 E95A80E4 746FB07A 9767679F E92133B4
        D379935C 771BD7FB ED6C7BB4 B1708B27 5EA75679 524CDC9C 6A91370C C662A2F3"""),
    k=H("""419410D6 C0A17A4C 07C54872 CE1CBCEB 0A2705C1 A434C8A8 9A4CFE41 F1D78124
        CA7EC52B DE7615E5 345E48AB 1ABB6E7D 1D59A57F 3174084D 3CA45703 97C1F622
        28BDFDB2 DA191EA2 239E2C06 0DBE3BBC 23C2FCD0 AF12E0F9 E0B99FCF 91FF1959
        011D5798 B2FCBC1F 14FCC24E 441F4C8F 9B08D977 E9498560 E63E7FFA B3134EA7"""),
    ks_enc=H("01AFC10C F87BE36D 8179E873 70171F07"),
    ks_mac=H("23F0FBD0 5FD6C7B8 B88F4C83 09669061"),
    t_ifd=H("55D61977 CBF5307E"),
    t_ic=H("C2F04230 187E1525"),
)


def test_h2_dh_im_worked_example():
    spec = crypto.AES128
    k_pi = pace.password_key(ICAO_CAN.pace_password, spec)
    assert pace.decrypt_nonce(spec, k_pi, H2["z"]) == H2["s"]
    assert int.from_bytes(H2["r"], "big") % MODP0.p == int.from_bytes(H2["rp"], "big")
    rp = pace.im_pseudo_random(spec, H2["s"], H2["t"], MODP0.p)
    assert rp == int.from_bytes(H2["rp"], "big")
    dom = pace.DhDomain(MODP0)
    g_hat = dom.im_map(rp)
    assert dom.encode(g_hat) == H2["g_hat"]
    sk = int.from_bytes(H2["sk_ifd"], "big")
    assert dom.encode(dom.public(sk, g_hat)) == H2["pk_ifd"]
    assert dom.shared_secret(sk, dom.decode(H2["pk_ic"])) == H2["k"]
    assert pace.session_keys(spec, H2["k"]) == (H2["ks_enc"], H2["ks_mac"])
    assert pace.auth_token(spec, H2["ks_mac"], OID_DH_IM_AES128, 0x84, H2["pk_ic"]) == H2["t_ifd"]
    assert pace.auth_token(spec, H2["ks_mac"], OID_DH_IM_AES128, 0x84, H2["pk_ifd"]) == H2["t_ic"]

    # The appendix's 1024-bit private key acts through g^ of order q: sk mod q
    # gives the same public key, and is what our rng (exponents below q) yields.
    sk_mod_q = (sk % MODP0.q).to_bytes(20, "big")
    script = [
        ("0022C1A412800A04007F0007020204030283010284010" "0", "9000"),
        ("10860000027C0000", resp(tlv.encode(0x80, H2["z"]))),
        (ga(tlv.encode(0x81, H2["t"])), resp(tlv.encode(0x82, b""))),
        (ga(tlv.encode(0x83, H2["pk_ifd"])), resp(tlv.encode(0x84, H2["pk_ic"]))),
        (ga(tlv.encode(0x85, H2["t_ifd"]), last=True), resp(tlv.encode(0x86, H2["t_ic"]))),
    ]
    result, _ = run_script(pace.pace(ICAO_CAN, PACEInfo(OID_DH_IM_AES128, 2, 0),
                                     rng=scripted_rng(H2["t"], sk_mod_q)), script)
    assert same_keys(result.sm, H2["ks_enc"], H2["ks_mac"], spec)


# ---------------------------------------------------------------- I.1 ECDH-CAM

I1_PASSWORD = _PasswordHash(H("894D03F1 48C6265E 89845B21 8856EA34 D00EF8E8"))
I1 = dict(
    k_pi=H("4E6F6FBF 7BE748B9 32C7B741 61BBA9DF"),
    map_sk_ifd=H("5D8BB87B D74D985A 4B7D4325 B9F7B976 FE835122 77340079 8914AA22 738135CC"),
    sk_ifd=H("76ECFDAA 9841C323 A3F5FC5E 88B88DB3 EFF7E35E BF57A7E6 946CB630 006C2120"),
    k=H("67950559 D0C06B4D 4B86972D 14460837 461087F8 419FDBC3 6AAF6CEA AC462832"),
    ks_enc=H("0A9DA4DB 03BDDE39 FC5202BC 44B2E89E"),
    ks_mac=H("4B1C0649 1ED5140C A2B537D3 44C6C0B1"),
    ca_ic=H("85DC3FA9 3D0952BF A82F5FD1 89EE75BD 82F11D1F 0B8ED4BF 5319AC9B 53C426B3"),
    pk_ic_static=H("""04 18727094 94399E74 70A6431B E25E83EE E24FEA56 8C2ED28D B48E05DB 3A610DC8
        84D256A4 0E35EFCB 59BF6753 D3A489D2 8C7A4D97 3C2DA138 A6E7A4A0 8F68E16F"""),
)
I1_SCRIPT = [
    ("0022C1A40F800A04007F00070202040602830101", "9000"),
    ("10860000027C0000", "7C128010CB60E8E0D85B76A9BD304747C2AD42E29000"),
    ("10860000457C438141047F1D410ADB7DDB3B84BF1030800981A9105D7457B4A3ADE002384F3086C67EDE"
     "1AB889104A27DB6D842B019020FBF3CEACB0DC627F7BDCAC29969E19D0E553C100",
     "7C43824104A234236AA9B9621E8EFB73B5245C0E09D2576E5277183C1208BDD55280CAE8B304F365713A"
     "356E65A451E165ECC9AC0AC46E3771342C8FE5AEDD092685338E239000"),
    ("10860000457C43834104446C934084D9DAB863944F219520076C29EE3F7AE6722B11FF319EC1C7728F95"
     "5483400BFF60BF0C5929270009277DC2A515E12575010AD9BA916CF1BF86FEFC00",
     "7C4384410402AD566F3C6EC7F9324509AD50A51FA52030782A4968FCFEDF737DAEA993333111C3B9B4C2"
     "287789BD137E7F8AA882E2A3C633CCD6ECC2C63C57AD401A09C2E19000"),
    ("008600000C7C0A8508E86BD06018A1CD3B00",
     "7C3C86088596CF055C67C1A38A301EEA964DAAE372AC990E3EFDE6333353BFC89A6704D93DA8798CF77F"
     "5B7A54BD10CBA372B42BE0B9B5F28AA8DE2F4F929000"),
]


def _run_i1(script=I1_SCRIPT):
    return run_script(pace.pace(I1_PASSWORD, PACEInfo(OID_ECDH_CAM_AES128, 2, 13),
                                rng=scripted_rng(I1["map_sk_ifd"], I1["sk_ifd"]),
                                send_parameter_id=False), script)


def test_i1_ecdh_cam_worked_example():
    assert pace.password_key(I1_PASSWORD.pace_password, crypto.AES128) == I1["k_pi"]
    assert pace.session_keys(crypto.AES128, I1["k"]) == (I1["ks_enc"], I1["ks_mac"])
    iv = crypto.ecb_encrypt_block(crypto.AES128, I1["ks_enc"], b"\xff" * 16)
    assert iv == H("F6A3B75A 1E933941 DD7A13E2 520779DF")
    result, _ = _run_i1()
    assert same_keys(result.sm, I1["ks_enc"], I1["ks_mac"], crypto.AES128)
    assert result.mapping == "CAM" and result.cam_data == I1["ca_ic"]
    assert pace.verify_cam(result, I1["pk_ic_static"])
    # a different static key (the clone case) does not verify
    other = ecpoint.encode_point(BP256, ecpoint.multiply_generator(BP256, 12345))
    assert not pace.verify_cam(result, other)
    assert not pace.verify_cam(result, b"\x04" + b"\x00" * 64)
    # through docval.emrtd.keys: the ChipAuthenticationPublicKeyInfo of the appendix
    from docval.emrtd import keys
    spki = H("3052300C 060704007F00070102 02010D 034200") + I1["pk_ic_static"]
    key = keys.load_public_key(spki)
    assert pace.verify_cam(result, key)


def test_i1_missing_or_bad_cam_data():
    script = list(I1_SCRIPT)
    script[-1] = (I1_SCRIPT[-1][0], "7C0A86088596CF055C67C1A39000")
    with pytest.raises(AccessControlError, match="8A missing"):
        _run_i1(script)
    script[-1] = (I1_SCRIPT[-1][0], "7C1C86088596CF055C67C1A38A10" + "00" * 16 + "9000")
    with pytest.raises(AccessControlError, match="padded"):
        _run_i1(script)


# ---------------------------------------------------------------- real documents (gmrtd traces)

def test_real_nz_passport_ecdh_gm_3des():
    script = [
        ("0022c1a40f800a04007f00070202040201830101", "9000"),
        ("10860000027c0000", "7c128010b88382812290017af1cc906ff00e7f4d9000"),
        ("10860000457c438141047706b2b6246ab4612229b8a11212ddba7fea0568c9c0975dee22c0e3dd3a3f03"
         "21e8afee836e373b570d24000d56fb195104d486e63321ff8c819dd5ee018dcb00",
         "7c43824104780b4edec9b926f9f964fad826d9990a667608d96ba7b397ae8609b6533e0d036d148365dd"
         "f4e5ff6611c2b62aa17fc9899f327bc929db543e7abd0ee724e4be9000"),
        ("10860000457c43834104507a0156efae8fb8acc519036c0b2fe0393c878744c7f91878ee4e07a41412ba"
         "5c0753d68a44a91e9f57f3f992ab689e6c2065d3b2a27c3658a4fd632931ee3800",
         "7c438441042dbaf62e6fdfb31eb66f206493b9e7721586f0e5c93754d7bd5a884ca251ee4d720ab539a6"
         "0561bc46812fa289b58ac69f0c6e32adbaf7241049a31211f80f5b9000"),
        ("008600000c7c0a85088d7c617d43efe09e00", "7c0a8608cb57047c809079f69000"),
    ]
    result, _ = run_script(pace.pace(
        MrzKey("LM277954", "781214", "271115"), PACEInfo(OID_ECDH_GM_3DES, 2, 13),
        rng=scripted_rng(H("2808272c0ec20e01a3450030ef32855e9feb5cb17719e985389b1cf47609e69f"),
                   H("8f89449052df6c7983750c7b042c3cea12b36819174424c7cd28153f7b70b402")),
        send_parameter_id=False), script)
    assert result.cipher == crypto.TDES
    assert same_keys(result.sm, H("430e4c8c38dfefaed92067b919a897f8"),
                     H("c1bc1f075797b970b5a45e64a764b0cb"), crypto.TDES)


DE_SCRIPT = [
    ("0022c1a40f800a04007f00070202040602830101", "9000"),
    ("10860000027c0000", "7c1280109bff93e6ed9f5f9764ec0d783d14fb039000"),
    ("10860000457c43814104303f340815eea501772393e299a4a6f6694600189c249c63a8513ff3fefa66e3"
     "46d11970b5f76fb564c3b0e54b215528f647ec5a9ab209cdbe262e763d6119a100",
     "7c4382410476dc295c4fb14237d87318d70967e25ec45f74d6fd4aff588c90efb3d868f05b450ba6b649"
     "67227c2246dbe2905522c8086dac7f3bbe5cf3b192f0a0c2d97ee59000"),
    ("10860000457c438341048442b191ef5346a6b6dacb6cd5728c4a72f0ca7aecdf7afdfb3ef175e12a6f7c"
     "74f509af768b8dbe2cf42d16c1f00714691d78a19cdf1b493390d1173785f2b700",
     "7c438441042315ae8143f21de15b35f083cfa148c5fcbd9f2eb9dcdc4519bcf337443e79e55b28a5e218"
     "fb919c30880d263e469645ff114c46ed29918910be3453527d21649000"),
    ("008600000c7c0a8508fee088a4d7be1b7f00",
     "7c3c860819a2b9192e11512a8a30b3ae8830311b1d5605777f47cb4ed028346cd00105d32859de127da3"
     "d8398865358f26f08ebe410864eaf6e39f33f3f59000"),
]


def test_real_de_id_card_ecdh_cam():
    result, _ = run_script(pace.pace(
        MrzKey("C4KHNY1PF", "780214", "330315"), PACEInfo(OID_ECDH_CAM_AES128, 2, 13),
        rng=scripted_rng(H("01fd26013f5bc41fad8bb09811e435f16fbe2eb3c2e1d999b0f63da8c3d58bb5"),
                   H("1fcd3d8ac4fae3960a14fea2925d75add335f13b248eba192358dded93a89552")),
        send_parameter_id=False), DE_SCRIPT)
    assert same_keys(result.sm, H("a8e85e938514ec67ae33cda3d43d3c48"),
                     H("27f1adeb705a049a305b0c619b14b9b3"), crypto.AES128)
    assert result.cam_data is not None and len(result.cam_data) == 32


# ---------------------------------------------------------------- hostile chips

def _g1_with(step: int, response: str):
    script = list(G1_SCRIPT)
    script[step] = (None, response)
    return script[: step + 1]


def _run_g1(script):
    return run_script(pace.pace(ICAO_MRZ, PACEInfo(OID_ECDH_GM_AES128, 2, 13),
                                rng=scripted_rng(G1["map_sk_ifd"], G1["sk_ifd"])), script)


G1_PK_IC = H(G1_SCRIPT[3][1][8:-4])
BAD_POINT = G1_PK_IC[:-1] + bytes([G1_PK_IC[-1] ^ 1])


@pytest.mark.parametrize("step,response,message", [
    (1, "9000", "malformed"),                                        # no 7C at all
    (1, "7C009000", "80 missing"),
    (1, "7C0280009000", "wrong length"),                             # empty nonce
    (1, "7C0F800D" + "00" * 13 + "9000", "wrong length"),            # not a block multiple
    (1, "7C438041" + "00" * 65 + "9000", "wrong length"),            # oversized
    (1, "7C1280109999" + "9000", "malformed"),                       # truncated TLV
    (1, "7C048000800090" + "00", "duplicate"),
    (1, "6A80", "6A80"),
    (2, resp(tlv.encode(0x82, BAD_POINT)), "not on the curve"),
    (2, resp(tlv.encode(0x82, b"\x00")), "expected size"),           # infinity
    (2, resp(tlv.encode(0x82, b"\x04" + b"\x00" * 64)), "not on the curve"),
    (3, resp(tlv.encode(0x84, BAD_POINT)), "not on the curve"),
    (3, resp(tlv.encode(0x84, H("042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C"
                                "3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462"))),
     "equals ours"),
    (3, resp(tlv.encode(0x85, G1_PK_IC)), "84 missing"),
    (4, "7C0A8508C2B0BD78D94BA8669000", "86 missing"),
    (4, "6982", "refused"),
    (4, "63C2", "refused"),
])
def test_hostile_chip_answers_fail_cleanly(step, response, message):
    with pytest.raises(AccessControlError, match=message):
        _run_g1(_g1_with(step, response))


def test_mapped_generator_at_infinity_is_refused():
    # A chip that sends -s*G as its mapping key forces G^ = infinity; with the
    # appendix nonce the terminal cannot know s... but the chip does: emulate it.
    dom = pace.EcDomain(BP256)
    s = int.from_bytes(G1["s"], "big")
    sk_ifd = int.from_bytes(G1["map_sk_ifd"], "big")
    # H = sk_ifd * PK_chip must be -s*G, so PK_chip = -(s/sk_ifd)*G
    k = (-s * pow(sk_ifd, -1, BP256.n)) % BP256.n
    evil = dom.encode(ecpoint.multiply_generator(BP256, k))
    with pytest.raises(AccessControlError, match="infinity"):
        _run_g1(_g1_with(2, resp(tlv.encode(0x82, evil))))


@pytest.mark.parametrize("value", [0, 1, "p-1", "p", "nonmember", "long"])
def test_hostile_dh_values(value):
    p = MODP0.p
    raw = {0: b"\x00", 1: b"\x01", "p-1": (p - 1).to_bytes(128, "big"), "p": p.to_bytes(128, "big"),
           "nonmember": (2).to_bytes(128, "big"), "long": b"\x01" + bytes(128)}[value]
    script = [
        (None, "9000"),
        (None, resp(tlv.encode(0x80, G2["z"]))),
        (None, resp(tlv.encode(0x82, raw))),
    ]
    with pytest.raises(AccessControlError, match="PACE failed"):
        run_script(pace.pace(ICAO_MRZ, PACEInfo(OID_DH_GM_AES128, 2, 0),
                             rng=scripted_rng(G2["map_sk_ifd"], G2["sk_ifd"])), script)


@pytest.mark.parametrize("oid,param,version", [
    ("0.4.0.127.0.7.2.2.4.2.2", None, 2),        # explicit/proprietary domain parameters
    ("0.4.0.127.0.7.2.2.4.2.2", 19, 2),          # unknown curve id
    ("0.4.0.127.0.7.2.2.4.2.2", 7, 2),           # reserved id
    ("0.4.0.127.0.7.2.2.4.1.2", 3, 2),           # unknown group id
    ("0.4.0.127.0.7.2.2.4.1.2", 13, 2),          # a curve id for DH
    ("0.4.0.127.0.7.2.2.4.5.2", 13, 2),          # no such mapping
    ("0.4.0.127.0.7.2.2.4.6.1", 13, 2),          # CAM has no 3DES variant
    ("0.4.0.127.0.7.2.2.3.2.2", 13, 2),          # a CA OID
    ("1.2.3.4", 13, 2),
    ("0.4.0.127.0.7.2.2.4.4.2", 10, 2),          # IM on P-224 (p = 1 mod 4)
    ("0.4.0.127.0.7.2.2.4.2.2", 13, 1),          # PACE v1
])
def test_unsupported_parameters_refused_before_any_command(oid, param, version):
    sent = []
    with pytest.raises(UnsupportedError):
        flow.run(pace.pace(ICAO_MRZ, PACEInfo(oid, version, param)), flow.Link(),
                 lambda raw: sent.append(raw) or b"\x90\x00")
    assert sent == []


def test_mse_refusal_and_blocked_password():
    with pytest.raises(StatusError):
        _run_g1([(None, "6A80")])
    with pytest.raises(AccessControlError, match="blocked"):
        _run_g1([(None, "6983")])
    # 63Cx on MSE:Set AT is a retry-counter warning: PACE continues
    script = list(G1_SCRIPT)
    script[0] = (None, "63C2")
    _run_g1(script)


def test_can_password_reference_and_repr():
    cmd = pace.mse_set_at(OID_ECDH_GM_AES128, pace.PASSWORD_CAN, None)
    assert cmd.encode().hex().upper() == "0022C1A40F800A04007F00070202040202830102"
    assert "123456" not in repr(ICAO_CAN)


# ---------------------------------------------------------------- choosing a PACEInfo

def test_choose_pace_info():
    gm3des = PACEInfo("0.4.0.127.0.7.2.2.4.2.1", 2, 13)
    gm128 = PACEInfo("0.4.0.127.0.7.2.2.4.2.2", 2, 13)
    gm128_384 = PACEInfo("0.4.0.127.0.7.2.2.4.2.2", 2, 16)
    im256 = PACEInfo("0.4.0.127.0.7.2.2.4.4.4", 2, 13)
    dh_gm = PACEInfo("0.4.0.127.0.7.2.2.4.1.4", 2, 2)
    cam = PACEInfo("0.4.0.127.0.7.2.2.4.6.2", 2, 13)
    explicit = PACEInfo("0.4.0.127.0.7.2.2.4.6.4", 2, None)
    unknown = PACEInfo("0.4.0.127.0.7.2.2.4.9.9", 2, 13)
    weird_id = PACEInfo("0.4.0.127.0.7.2.2.4.6.4", 2, 42)
    assert pace.choose_pace_info([]) is None
    assert pace.choose_pace_info([explicit, unknown, weird_id]) is None
    assert pace.choose_pace_info([gm3des, gm128]) is gm128
    assert pace.choose_pace_info([im256, gm3des]) is gm3des
    assert pace.choose_pace_info([im256, dh_gm]) is dh_gm      # the mapping ranks first
    assert pace.choose_pace_info([dh_gm, gm3des]) is gm3des
    assert pace.choose_pace_info([gm128, cam, explicit]) is cam
    assert pace.choose_pace_info([gm128, gm128_384]) is gm128_384
    assert pace.choose_pace_info([PACEInfo(gm128.oid, 1, 13)]) is None


# ---------------------------------------------------------------- CAM against real EF.CardSecurity

from tests.testdata import TESTDATA  # noqa: E402


def _card_security_infos(name: str):
    from asn1crypto import cms
    from docval.emrtd.securityinfo import parse_security_infos
    raw = (TESTDATA / "cardsecurity" / name).read_bytes()
    content = cms.ContentInfo.load(raw)["content"]["encap_content_info"]["content"].native
    return parse_security_infos(content)


@pytest.mark.testdata
def test_real_de_cam_verifies_against_its_card_security():
    """The DE trace above is a real ID card whose EF.CardSecurity is in testdata."""
    result, _ = run_script(pace.pace(
        MrzKey("C4KHNY1PF", "780214", "330315"), PACEInfo(OID_ECDH_CAM_AES128, 2, 13),
        rng=scripted_rng(H("01fd26013f5bc41fad8bb09811e435f16fbe2eb3c2e1d999b0f63da8c3d58bb5"),
                   H("1fcd3d8ac4fae3960a14fea2925d75add335f13b248eba192358dded93a89552")),
        send_parameter_id=False), DE_SCRIPT)
    infos = _card_security_infos("DE_EF.CardSecurity.bin")
    verdicts = {info.key_id: pace.verify_cam(result, info) for info in infos.ca_public_keys}
    assert verdicts == {13: True, 72: False}
    # another document's key (FI, brainpoolP384r1) never verifies
    fi = _card_security_infos("FI_EF.CardSecurity.bin")
    assert not any(pace.verify_cam(result, info) for info in fi.ca_public_keys)
    # the CardSecurity offers GM and CAM: CAM is chosen
    assert pace.choose_pace_info(infos.pace_infos).oid == OID_ECDH_CAM_AES128

    class Broken:
        spki = b"\x30\x03\x02\x01\x00"
    assert not pace.verify_cam(result, Broken())


def test_verify_cam_needs_a_cam_result():
    result, _ = run_script(pace.pace(ICAO_MRZ, PACEInfo(OID_ECDH_GM_AES128, 2, 13),
                                     rng=scripted_rng(G1["map_sk_ifd"], G1["sk_ifd"])), G1_SCRIPT)
    assert not pace.verify_cam(result, I1["pk_ic_static"])


@pytest.mark.testdata
def test_choose_on_real_card_access_files():
    from docval.emrtd.securityinfo import parse_card_access
    for name, oid, param in [("ecdh_ef_cardaccess.bin", OID_ECDH_GM_AES128, 13),
                             ("dh_ef_cardaccess.bin", OID_DH_GM_AES128, 0)]:
        infos = parse_card_access((TESTDATA / "vsmartcard_npa" / name).read_bytes())
        chosen = pace.choose_pace_info(infos.pace_infos)
        assert (chosen.oid, chosen.parameter_id) == (oid, param)


def test_explicit_huge_domain_parameters_are_refused_without_work():
    """docs/reliability.md A4: a PACEDomainParameterInfo with a 16k-bit prime."""
    import time
    from docval.emrtd.securityinfo import encode_int, encode_oid, parse_card_access
    huge = (1 << 16384) - 1
    dh_params = tlv.encode(0x30, encode_int(huge) + encode_int(2) + encode_int(huge >> 1))
    algorithm = tlv.encode(0x30, encode_oid("1.2.840.10046.2.1") + dh_params)
    card_access = tlv.encode(0x31, b"".join([
        tlv.encode(0x30, encode_oid(OID_DH_GM_AES128) + encode_int(2) + encode_int(32)),
        tlv.encode(0x30, encode_oid("0.4.0.127.0.7.2.2.4.1") + algorithm + encode_int(32)),
    ]))
    start = time.perf_counter()
    infos = parse_card_access(card_access)
    assert infos.pace_domain_parameters and infos.pace_infos
    assert pace.choose_pace_info(infos.pace_infos) is None
    with pytest.raises(UnsupportedError):
        flow.run(pace.pace(ICAO_MRZ, infos.pace_infos[0]), flow.Link(), lambda raw: b"\x90\x00")
    assert time.perf_counter() - start < 1.0


# ---------------------------------------------------------------- properties and fuzzing

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

IM_CURVES = [c for c in ec.CURVES if c.p % 4 == 3]


@settings(max_examples=60, deadline=None)
@given(curve=st.sampled_from(IM_CURVES), t=st.integers(min_value=1, max_value=2**600))
def test_point_encoding_always_lands_on_the_curve(curve, t):
    t %= curve.p
    try:
        point = pace.point_encode_fg(curve, t)
    except ParseError as exc:      # only the two degenerate inputs alpha in {0, -1}
        assert "maps to no point" in str(exc)
        return
    assert ecpoint.is_on_curve(curve, point)


@settings(max_examples=40, deadline=None)
@given(x=st.integers(min_value=2, max_value=2**1100))
def test_dh_integrated_mapping_lands_in_the_subgroup(x):
    dom = pace.DhDomain(MODP0)
    x %= MODP0.p
    try:
        g = dom.im_map(x)
    except ParseError as exc:
        assert "identity" in str(exc) or "outside" in str(exc)
        return
    assert pow(g, MODP0.q, MODP0.p) == 1 and g != 1


class _Proceeded(Exception):
    """The terminal accepted the answer and sent its next command."""


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(step=st.integers(min_value=1, max_value=4), junk=st.binary(max_size=300),
       sw=st.sampled_from(["9000", "6300", "6A80", "63C1", "6982"]))
def test_terminal_survives_arbitrary_chip_answers(step, junk, sw):
    answers = [H(r) for _, r in G1_SCRIPT[:step]] + [H(junk.hex() + sw)]

    def transmit(raw: bytes) -> bytes:
        if not answers:
            raise _Proceeded
        return answers.pop(0)
    with pytest.raises((AccessControlError, _Proceeded)):
        flow.run(pace.pace(ICAO_MRZ, PACEInfo(OID_ECDH_GM_AES128, 2, 13),
                           rng=scripted_rng(G1["map_sk_ifd"], G1["sk_ifd"])), flow.Link(), transmit)


@settings(max_examples=100, deadline=None)
@given(step=st.integers(min_value=1, max_value=4), data=st.binary(max_size=200),
       cla=st.sampled_from([0x00, 0x10]))
def test_chip_survives_arbitrary_terminal_commands(step, data, cla):
    from docval.sim.chip import VirtualChip
    from docval.sim.pace_chip import PaceChip
    chip = VirtualChip()
    mech = PaceChip(ICAO_MRZ, OID_ECDH_GM_AES128, 13)
    chip.mechanisms.append(mech)
    link = flow.Link()
    terminal = pace.pace(ICAO_MRZ, mech.pace_info)
    cmd = next(terminal)
    for _ in range(step):      # run the honest protocol up to the step to attack
        raw = chip.transmit(link.protect((cmd,))[0])
        cmd = terminal.send(link.unprotect([raw], 1)[0])
    answer = chip.transmit(CommandAPDU(cla, 0x86, 0, 0, data, le=256).encode())
    # a handled refusal, never the 6F00 a crashing handler would produce
    assert answer[-2:] != b"\x6f\x00"


def test_dh_keys_never_have_a_leading_zero_byte():
    """Fixed-length and minimal-length encodings of our DH values must coincide."""
    dom = pace.DhDomain(MODP0)
    # find an exponent whose public value starts with a zero byte
    short = next(x for x in range(1, 100000) if dom.public(x, dom.generator) < 1 << (8 * 127))
    draws = scripted_rng(short.to_bytes(20, "big"), (7).to_bytes(20, "big"))
    private, public = dom.keypair(draws, dom.generator)
    assert private == 7 and dom.encode(public)[0] != 0
    with pytest.raises(RuntimeError):
        dom.keypair(lambda n: short.to_bytes(20, "big"), dom.generator)
