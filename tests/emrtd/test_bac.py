"""BAC against ICAO 9303-11 Appendix D.3/D.4, and against its own chip-side helpers."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from docval.emrtd.apdu import CommandAPDU, ResponseAPDU
from docval.emrtd.bac import (bac, bac_chip_response, bac_session, derive_bac_keys,
                              encrypt_and_mac, verify_and_decrypt)
from docval.emrtd.errors import AccessControlError, StatusError
from docval.emrtd.flow import Link, run
from docval.emrtd.mrz import MrzKey
from tests.support.flows import drive, replies
from tests.support.rng import scripted_rng

h = bytes.fromhex

KEY = MrzKey("L898902C", "690806", "940623")
K_ENC = h("AB94FDECF2674FDFB9B391F85D7F76F2")
K_MAC = h("7962D9ECE03D1ACD4C76089DCE131543")
RND_IC = h("4608F91988702212")
RND_IFD = h("781723860C06C226")
K_IFD = h("0B795240CB7049B01C19B33E32804F0B")
K_IC = h("0B4F80323EB3191CB04970CB4052790B")
CMD_DATA = h("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2"
             "5F1448EEA8AD90A7")
RESP_DATA = h("46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F"
              "2F2D235D074D7449")
KS_ENC = h("979EC13B1CBFE9DCD01AB0FED307EAE5")
KS_MAC = h("F1CB1F1FB5ADF208806B89DC579DC1F8")
SSC = 0x887022120C06C226


def test_appendix_d1_keys():
    assert derive_bac_keys(KEY) == (K_ENC, K_MAC)


def test_appendix_d3_terminal():
    driven = drive(bac(KEY, scripted_rng(RND_IFD, K_IFD)),
                   replies(ResponseAPDU(RND_IC, 0x9000), ResponseAPDU(RESP_DATA, 0x9000)))
    sent, sm = driven.commands, driven.result
    assert sent[0].encode() == h("0084000008")
    assert sent[1].encode() == h("0082000028") + CMD_DATA + h("28")
    assert (sm._k_enc, sm._k_mac, sm.ssc) == (KS_ENC, KS_MAC, SSC)
    assert sm.spec.name == "3DES"


def test_appendix_d3_chip_helper():
    resp, sm = bac_chip_response(K_ENC, K_MAC, RND_IC, CMD_DATA, K_IC)
    assert resp == RESP_DATA
    assert (sm._k_enc, sm._k_mac, sm.ssc) == (KS_ENC, KS_MAC, SSC)
    assert encrypt_and_mac(K_ENC, K_MAC, RND_IFD + RND_IC + K_IFD) == CMD_DATA
    assert verify_and_decrypt(K_ENC, K_MAC, RESP_DATA) == RND_IC + RND_IFD + K_IC
    assert bac_session(K_IFD, K_IC, RND_IC, RND_IFD).ssc == SSC


def test_appendix_d3_d4_over_a_link():
    """BAC, then SELECT EF.COM and two READ BINARYs, all bytes from Appendix D."""
    script = {
        h("0084000008"): RND_IC + h("9000"),
        h("0082000028") + CMD_DATA + h("28"): RESP_DATA + h("9000"),
        h("0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800"):
            h("990290008E08FA855A5D4C50A8ED9000"),
        h("0CB000000D9701048E08ED6705417E96BA5500"):
            h("8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000"),
        h("0CB000040D9701128E082EA28A70F3C7B53500"):
            h("871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08"
              "C8B2787EAEA07D749000"),
    }

    def transmit(raw):
        return script[raw]

    def read_com():
        resp = yield CommandAPDU(0x00, 0xA4, 0x02, 0x0C, h("011E"))
        assert resp.ok
        first = yield CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=4)
        rest = yield CommandAPDU(0x00, 0xB0, 0x00, 0x04, le=0x12)
        return first.data + rest.data

    link = Link()
    link.start(run(bac(KEY, scripted_rng(RND_IFD, K_IFD)), link, transmit))
    assert run(read_com(), link, transmit) == h("60145F0104303130365F36063034303030305C026175")


def _chip(k_ic=K_IC):
    """A minimal BAC chip built from the pure helpers; returns a transmit function."""
    state = {"sm": None}

    def transmit(raw):
        cmd = CommandAPDU.decode(raw)
        if state["sm"] is not None:
            sm = state["sm"]
            plain = sm.unwrap_command(cmd)
            return sm.wrap_response(ResponseAPDU(b"data:" + bytes([plain.p2]), 0x9000)).encode()
        if cmd.ins == 0x84:
            return RND_IC + h("9000")
        try:
            resp, state["sm"] = bac_chip_response(K_ENC, K_MAC, RND_IC, cmd.data, k_ic)
        except AccessControlError:
            return h("6300")
        return resp + h("9000")
    return transmit


def test_terminal_and_chip_helpers_interoperate_with_random_nonces():
    transmit = _chip(k_ic=bytes(range(16)))
    link = Link()
    link.start(run(bac(KEY), link, transmit))

    def flow():
        resp = yield CommandAPDU(0x00, 0xB0, 0x00, 0x07, le=10)
        return resp.data
    assert run(flow(), link, transmit) == b"data:\x07"


def test_wrong_mrz_is_access_control_error():
    transmit = _chip()
    with pytest.raises(AccessControlError):
        run(bac(MrzKey("L898902C", "690806", "940624")), Link(), transmit)


@pytest.mark.parametrize("sw", [0x6300, 0x6982, 0x6700, 0x6A80, 0x6F00])
def test_rejection_statuses(sw):
    with pytest.raises(AccessControlError):
        drive(bac(KEY, scripted_rng(RND_IFD, K_IFD)),
              replies(ResponseAPDU(RND_IC, 0x9000), ResponseAPDU(b"", sw)))


def test_get_challenge_failure_is_status_error():
    with pytest.raises(StatusError) as err:
        drive(bac(KEY), replies(ResponseAPDU(b"", 0x6D00)))
    assert err.value.sw == 0x6D00
    with pytest.raises(AccessControlError):
        drive(bac(KEY), replies(ResponseAPDU(b"1234567", 0x9000)))


@pytest.mark.parametrize("data", [RESP_DATA[:-1], RESP_DATA + b"\x00", b"",
                                  RESP_DATA[:-1] + bytes([RESP_DATA[-1] ^ 1]),
                                  bytes([RESP_DATA[0] ^ 0x80]) + RESP_DATA[1:]])
def test_bad_external_authenticate_responses(data):
    with pytest.raises(AccessControlError):
        drive(bac(KEY, scripted_rng(RND_IFD, K_IFD)),
              replies(ResponseAPDU(RND_IC, 0x9000), ResponseAPDU(data, 0x9000)))


def test_wrong_nonce_echo_with_valid_mac():
    # a correctly MACed answer that echoes a different RND.IFD (a replayed session)
    forged = encrypt_and_mac(K_ENC, K_MAC, RND_IC + h("0000000000000000") + K_IC)
    with pytest.raises(AccessControlError):
        drive(bac(KEY, scripted_rng(RND_IFD, K_IFD)),
              replies(ResponseAPDU(RND_IC, 0x9000), ResponseAPDU(forged, 0x9000)))
    forged = encrypt_and_mac(K_ENC, K_MAC, h("0000000000000000") + RND_IFD + K_IC)
    with pytest.raises(AccessControlError):
        drive(bac(KEY, scripted_rng(RND_IFD, K_IFD)),
              replies(ResponseAPDU(RND_IC, 0x9000), ResponseAPDU(forged, 0x9000)))


def test_chip_helper_rejects_bad_terminal_data():
    with pytest.raises(AccessControlError):
        bac_chip_response(K_ENC, K_MAC, h("0000000000000000"), CMD_DATA, K_IC)  # RND.IC echo
    with pytest.raises(AccessControlError):
        bac_chip_response(K_ENC, K_MAC, RND_IC, CMD_DATA[:-1] + b"\x00", K_IC)  # MAC
    with pytest.raises(AccessControlError):
        bac_chip_response(K_ENC, K_MAC, RND_IC, CMD_DATA[:32], K_IC)            # length


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 0xFFFF), st.binary(max_size=12))
def test_arbitrary_answers_raise_only_documented_errors(data, sw, challenge):
    try:
        drive(bac(KEY), replies(ResponseAPDU(challenge, 0x9000), ResponseAPDU(data, sw)))
    except (AccessControlError, StatusError):
        return
    raise AssertionError("forged BAC accepted")
