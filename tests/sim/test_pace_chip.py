"""The terminal (docval.emrtd.pace) against the chip (docval.sim.pace_chip) on every variant.

The two sides share the mapping and token functions, which tests/emrtd/test_pace.py
pins to the ICAO worked examples; here every curve, group, mapping, cipher and
password kind runs end to end through VirtualChip, and Secure Messaging is
proven with a protected command afterwards.
"""
from __future__ import annotations

import os
import time

import pytest

from docval.emrtd import ec, ecpoint, flow, pace, tlv
from docval.emrtd.apdu import CommandAPDU
from docval.emrtd.errors import AccessControlError, StatusError, UnsupportedError
from docval.emrtd.mrz import CanKey, MrzKey
from docval.emrtd.securityinfo import PACEInfo, pace_oid
from docval.sim.chip import VirtualChip
from docval.sim import profiles
from docval.sim.pace_chip import PaceChip, cam_public_point
from tests.support.rng import scripted_rng

MRZ = MrzKey("L898902C3", "740812", "120415")
CAN = CanKey("123456")
CIPHERS = ("TDES", "AES128", "AES192", "AES256")


def make_chip(passwords, oid, param, cam_key=None):
    chip = VirtualChip()
    mech = PaceChip(passwords, oid, param, cam_private_key=cam_key)
    chip.mechanisms.append(mech)
    return chip, mech


def run_pace(chip, password, info, **kw):
    link = flow.Link()
    result = flow.run(pace.pace(password, info, **kw), link, chip.transmit)
    link.start(result.sm)
    return result, link


def protected_challenge(chip, link):
    def get_challenge():
        resp = yield CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8)
        return resp
    resp = flow.run(get_challenge(), link, chip.transmit)
    assert resp.ok and len(resp.data) == 8
    assert chip.sm is not None and chip.access_granted


def check(ka, mapping, cipher, param, password=MRZ, cam_key=None):
    oid = pace_oid(ka, mapping, cipher)
    chip, mech = make_chip([MRZ, CAN], oid, param, cam_key)
    result, link = run_pace(chip, password, mech.pace_info)
    protected_challenge(chip, link)
    assert (result.mapping, result.oid, result.parameter_id) == (mapping, oid, param)
    return result, mech


@pytest.mark.parametrize("param", range(8, 19))
def test_ecdh_gm_every_curve(param):
    cipher = CIPHERS[param % 4]
    result, _ = check("ECDH", "GM", cipher, param)
    assert result.curve_or_group == ec.curve_by_pace_id(param).name


@pytest.mark.parametrize("param", [p for p in range(8, 19) if p != 10])
def test_ecdh_im_every_curve_with_p_3_mod_4(param):
    check("ECDH", "IM", CIPHERS[(param + 1) % 4], param, password=CAN)


@pytest.mark.parametrize("param,cipher", [(13, "AES128"), (9, "AES192"), (14, "AES256"),
                                          (18, "AES128"), (11, "AES256")])
def test_ecdh_cam(param, cipher):
    curve = ec.curve_by_pace_id(param)
    static = int.from_bytes(os.urandom(curve.byte_length + 8), "big") % (curve.n - 1) + 1
    result, mech = check("ECDH", "CAM", cipher, param, cam_key=static)
    assert result.cam_data is not None
    assert mech.cam_public_point == cam_public_point(curve, static)
    assert pace.verify_cam(result, mech.cam_public_point)
    # a clone: EF.CardSecurity carries another key than the one the chip holds
    assert not pace.verify_cam(result, cam_public_point(curve, static % (curve.n - 1) + 1))


@pytest.mark.parametrize("param", [0, 1, 2])
@pytest.mark.parametrize("mapping", ["GM", "IM"])
def test_dh_every_group(param, mapping):
    cipher = {0: "TDES", 1: "AES128", 2: "AES256"}[param] if mapping == "GM" else \
        {0: "AES192", 1: "TDES", 2: "AES128"}[param]
    result, _ = check("DH", mapping, cipher, param, password=CAN if param % 2 else MRZ)
    assert result.curve_or_group.startswith("MODP-")


@pytest.mark.parametrize("mapping", ["GM", "IM"])
@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("password", [MRZ, CAN], ids=["mrz", "can"])
def test_every_cipher_and_password_on_brainpool256(mapping, cipher, password):
    check("ECDH", mapping, cipher, 13, password=password)


def test_document_profiles():
    """The variants the virtual chip's named profiles use."""
    check("ECDH", "GM", "AES128", 13)                      # pace-ecdh-gm-aes128
    check("ECDH", "IM", "AES256", 13)                      # pace-ecdh-im-aes256
    check("ECDH", "CAM", "AES128", 13, cam_key=0x1234567)  # pace-ecdh-cam-aes128
    check("DH", "GM", "TDES", 0)                           # pace-dh-gm-3des
    chip, mech = make_chip(CAN, pace_oid("ECDH", "GM", "AES128"), 13)   # td1-idcard
    run_pace(chip, CAN, mech.pace_info)
    chip, mech = make_chip(CAN, pace_oid("ECDH", "GM", "AES128"), 13)
    with pytest.raises(StatusError) as err:                # the card has no MRZ password
        run_pace(chip, MRZ, mech.pace_info)
    assert err.value.sw == 0x6A88


@pytest.mark.parametrize("ka,mapping,param", [("ECDH", "GM", 13), ("ECDH", "IM", 12),
                                              ("DH", "GM", 0), ("ECDH", "CAM", 8)])
def test_wrong_password_fails_on_both_sides(ka, mapping, param):
    chip, mech = make_chip(MRZ, pace_oid(ka, mapping, "AES128"), param, cam_key=7)
    with pytest.raises(AccessControlError, match="refused the authentication token"):
        run_pace(chip, MrzKey("L898902C3", "740812", "120416"), mech.pace_info)
    assert mech.failed_attempts == 1 and not chip.access_granted and chip.sm is None
    run_pace(chip, MRZ, mech.pace_info)                    # the right key still works
    assert chip.access_granted and mech.completed == 1


def test_chip_refuses_hostile_terminal_messages():
    oid = pace_oid("ECDH", "GM", "AES128")
    chip, mech = make_chip(MRZ, oid, 13)
    curve = ec.curve_by_pace_id(13)

    def send(cla, data):
        return chip.transmit(CommandAPDU(cla, 0x86, 0, 0, tlv.encode(0x7C, data), le=256).encode())

    mse = pace.mse_set_at(oid, pace.PASSWORD_MRZ, 13).encode()
    # GA before MSE
    assert send(0x10, b"")[-2:] == b"\x69\x85"
    # wrong protocol, unknown password ref, wrong parameter id
    assert chip.transmit(pace.mse_set_at(pace_oid("ECDH", "IM", "AES128"), 1, 13).encode())[-2:] == b"\x6a\x80"
    assert chip.transmit(pace.mse_set_at(oid, 2, 13).encode())[-2:] == b"\x6a\x88"
    assert chip.transmit(pace.mse_set_at(oid, 1, 12).encode())[-2:] == b"\x6a\x88"
    # unchained first step, then an off-curve mapping key, then infinity
    assert chip.transmit(mse)[-2:] == b"\x90\x00"
    assert send(0x00, b"")[-2:] == b"\x6a\x80"
    g = ecpoint.encode_point(curve, ecpoint.generator(curve))
    for bad in (g[:-1] + bytes([g[-1] ^ 1]), b"\x00", g + b"\x00"):
        assert chip.transmit(mse)[-2:] == b"\x90\x00"
        assert send(0x10, b"")[-2:] == b"\x90\x00"
        assert send(0x10, tlv.encode(0x81, bad))[-2:] == b"\x6a\x80"
    # after a failure the chip wants a new MSE:Set AT
    assert send(0x10, b"")[-2:] == b"\x69\x85"
    assert not chip.access_granted


def test_chip_construction_checks():
    with pytest.raises(ValueError):
        PaceChip([], pace_oid("ECDH", "GM", "AES128"), 13)
    with pytest.raises(ValueError):
        PaceChip(MRZ, pace_oid("ECDH", "CAM", "AES128"), 13)      # CAM without a static key
    with pytest.raises(UnsupportedError):
        PaceChip(MRZ, pace_oid("ECDH", "GM", "AES128"), 42)       # not standardized
    mech = PaceChip(MRZ, pace_oid("ECDH", "GM", "AES128"), 13)
    assert repr(mech) == "<PaceChip PACE-ECDH-GM-AES-CBC-CMAC-128 brainpoolP256r1>"
    assert mech.pace_info == PACEInfo(pace_oid("ECDH", "GM", "AES128"), 2, 13)
    assert mech.cam_public_point is None


def test_cam_with_cryptography_key():
    from cryptography.hazmat.primitives.asymmetric import ec as cec
    key = cec.generate_private_key(cec.BrainpoolP256R1())
    result, mech = check("ECDH", "CAM", "AES256", 13, cam_key=key)
    nums = key.public_key().public_numbers()
    assert mech.cam_public_point == b"\x04" + nums.x.to_bytes(32, "big") + nums.y.to_bytes(32, "big")
    assert pace.verify_cam(result, mech.cam_public_point)


def test_big_groups_stay_fast():
    """The most expensive variants complete in bounded time (pure-Python arithmetic)."""
    start = time.perf_counter()
    check("ECDH", "GM", "AES256", 18)
    check("DH", "IM", "AES256", 2)
    assert time.perf_counter() - start < 5


def test_two_chips_of_one_profile_run_pace_interleaved():
    """Profiles cache their document, not their mechanisms: each chip runs PACE on its own."""
    profile = profiles.get_profile("pace-ecdh-gm-aes128")
    chips = [profile.chip(), profile.chip()]
    mechs = [chip.mechanism(PaceChip) for chip in chips]
    assert mechs[0] is not mechs[1]
    info = mechs[0].pace_info
    flows = [pace.pace(profile.access_key, info), pace.pace(CanKey(profiles.CAN), info)]
    links = [flow.Link(), flow.Link()]
    steps = [next(f) for f in flows]
    results = [None, None]
    while any(r is None for r in results):
        for i in (0, 1):
            if results[i] is not None:
                continue
            raw = links[i].protect((steps[i],))
            answer = links[i].unprotect([chips[i].transmit(raw[0])], 1)[0]
            try:
                steps[i] = flows[i].send(answer)
            except StopIteration as done:
                results[i] = done.value
    for chip, link, result in zip(chips, links, results, strict=True):
        link.start(result.sm)
        protected_challenge(chip, link)
    assert [mech.completed for mech in mechs] == [1, 1]


# ---------------------------------------------------------------- the chip reproduces the appendix

def _replay(chip, script):
    """Send the appendix's terminal commands; the chip must answer exactly as printed."""
    for command, answer in script:
        assert chip.transmit(bytes.fromhex(command)).hex().upper() == answer.upper()


def test_chip_reproduces_appendix_g1():
    from tests.emrtd.test_pace import G1, G1_SCRIPT, ICAO_MRZ, OID_ECDH_GM_AES128
    chip = VirtualChip(rng=scripted_rng(G1["s"], G1["map_sk_ic"], G1["sk_ic"]))
    chip.mechanisms.append(PaceChip(ICAO_MRZ, OID_ECDH_GM_AES128, 13))
    _replay(chip, G1_SCRIPT)
    assert chip.access_granted and chip.sm is not None


def test_chip_reproduces_appendix_g2():
    from tests.emrtd.test_pace import G2, G2_SCRIPT, ICAO_MRZ, OID_DH_GM_AES128
    chip = VirtualChip(rng=scripted_rng(G2["s"], bytes.fromhex("66DDAFEAC1609CB5B963BB0CB3FF8B3E047F336C"),
                                     bytes.fromhex("A5B780126B7C980E9FCEA1D4539DA1D27C342DFA")))
    chip.mechanisms.append(PaceChip(ICAO_MRZ, OID_DH_GM_AES128, 0))
    # our chip sends no Certification Authority Reference (no '7F4C' was asked for)
    last_cmd, _ = G2_SCRIPT[-1]
    _replay(chip, G2_SCRIPT[:-1] + [(last_cmd, "7C0A8608917F37B5C0E6D8D19000")])
    assert chip.access_granted


def test_session_state_repr_shows_no_password_nonce_or_keys():
    """The chip's per-session PACE state holds the password, nonce and session keys."""
    chip, mech = make_chip([MRZ], pace_oid("ECDH", "GM", "AES128"), 13)
    terminal = pace.pace(MRZ, mech.pace_info)
    cmd = next(terminal)
    for _ in range(4):      # MSE:Set AT and three GENERAL AUTHENTICATEs: keys are derived
        cmd = terminal.send(flow.Link().unprotect([chip.transmit(cmd.encode())], 1)[0])
    state = mech._session
    assert state.ks_enc and state.s
    text = repr(state)
    for secret in (state.password, state.s, state.ks_enc, state.ks_mac, state.public_raw):
        assert secret.hex() not in text and repr(secret) not in text
    assert str(state.map_private) not in text and "password" not in text


def test_chip_refuses_malformed_pace_commands_at_every_step():
    """Each malformed GENERAL AUTHENTICATE is 6A80/6A86 and costs the session."""
    oid = pace_oid("ECDH", "GM", "AES128")
    chip, mech = make_chip(MRZ, oid, 13)
    mse = pace.mse_set_at(oid, pace.PASSWORD_MRZ, 13).encode()

    def ga(cla, data, p1=0):
        return chip.transmit(CommandAPDU(cla, 0x86, p1, 0, data, le=256).encode())[-2:].hex()

    def fresh(steps=0):
        assert chip.transmit(mse)[-2:] == b"\x90\x00"
        if steps:
            assert ga(0x10, tlv.encode(0x7C, b"")) == "9000"

    # MSE data that is not TLV is not a PACE MSE at all; a PACE OID prefix with a broken tail is wrong data
    assert not mech.claims(CommandAPDU(0x00, 0x22, 0xC1, 0xA4, b"\x80\x05\x04"))
    broken_oid = bytes.fromhex("04007F000702020402") + b"\x82"
    assert chip.transmit(CommandAPDU(0x00, 0x22, 0xC1, 0xA4, tlv.encode(0x80, broken_oid)).encode())[-2:] == \
        b"\x6a\x80"
    cases = [
        (0, lambda: ga(0x10, tlv.encode(0x7C, b""), p1=1), "6a86"),                    # P1-P2 not 00 00
        (0, lambda: ga(0x10, tlv.encode(0x7C, tlv.encode(0x81, b"\x01"))), "6a80"),     # data in step 1
        (0, lambda: ga(0x10, b"\x7c\x03\x81\x05\x00"), "6a80"),                          # inner TLV truncated
        (0, lambda: ga(0x10, b"\x01\x00"), "6a80"),                                      # no '7C'
        (1, lambda: ga(0x10, tlv.encode(0x7C, tlv.encode(0x83, b"\x04"))), "6a80"),     # step 2 without '81'
        (1, lambda: ga(0x10, tlv.encode(0x7C, tlv.encode(0x81, b"\x04") * 2)), "6a80"), # duplicate '81'
    ]
    for steps, send, sw in cases:
        fresh(steps)
        assert send() == sw
        assert ga(0x10, tlv.encode(0x7C, b"")) == "6985"       # the session is gone
    assert not chip.access_granted and mech.completed == 0


def test_chip_refuses_a_key_agreement_step_without_the_terminal_key():
    oid = pace_oid("ECDH", "IM", "AES128")
    chip, mech = make_chip(MRZ, oid, 13)
    assert chip.transmit(pace.mse_set_at(oid, pace.PASSWORD_MRZ, 13).encode())[-2:] == b"\x90\x00"

    def ga(data):
        return chip.transmit(CommandAPDU(0x10, 0x86, 0, 0, tlv.encode(0x7C, data), le=256).encode())[-2:].hex()
    assert ga(b"") == "9000"
    assert ga(tlv.encode(0x81, bytes(15))) == "6a80"              # IM nonce t of the wrong length
    assert chip.transmit(pace.mse_set_at(oid, pace.PASSWORD_MRZ, 13).encode())[-2:] == b"\x90\x00"
    assert ga(b"") == "9000" and ga(tlv.encode(0x81, bytes(16))) == "9000"
    assert ga(tlv.encode(0x85, bytes(8))) == "6a80"               # step 3 without '83'
    assert mech.completed == 0
