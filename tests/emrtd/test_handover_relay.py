"""Chip Authentication relayed with a phone's handed-over session, against the virtual chip.

Each test plays the v2 phone first: BAC or PACE with docval.emrtd.bac / pace, a few
reads to move the counter, then the handover through JSON exactly as it crosses the
WebSocket.  The server's relay runs next, and afterwards the phone reads on with the
handed-back session: a file read that verifies is what proves both sides (and the
chip) still agree on keys and counter.
"""
from __future__ import annotations

import base64
import json
from functools import lru_cache

import pytest

from docval.emrtd import files, handover
from docval.emrtd.apdu import CommandAPDU, ResponseAPDU
from docval.emrtd.bac import bac
from docval.emrtd.ca import choose_ca
from docval.emrtd.errors import CommunicationError, FileReadError, SecureMessagingError
from docval.emrtd.flow import Link, run
from docval.emrtd.handover import InvalidSMInfo, RelayOutcome, SMInfo, relay_chip_authentication
from docval.emrtd.mrz import MrzKey
from docval.emrtd.pace import pace
from docval.emrtd.securityinfo import ChipAuthenticationInfo, ca_oid, parse_dg14, pace_oid
from docval.sim import datagroups, profiles
from docval.sim.ca_chip import CaChip, CaKey, build_dg14
from docval.sim.chip import ChipQuirks, VirtualChip
from docval.sim.edit import app_files
from docval.sim.pace_chip import PaceChip
from tests.support.flows import RecordingChip
from tests.support.rng import scripted_rng

KEY = MrzKey("RLY4X7Q21", "900214", "330101")
DG1 = datagroups.encode_dg1(datagroups.make_td3_mrz(
    issuing_state="UTO", primary_identifier="RELAY", secondary_identifier=["TEST"], document_number="RLY4X7Q21",
    nationality="UTO", date_of_birth="900214", gender="FEMALE", date_of_expiry="330101", optional_data="",
    document_code="P"))
DG2 = bytes.fromhex("7582") + (300).to_bytes(2, "big") + bytes(range(256)) + bytes(44)
SHORT, EXTENDED = 256, 65536


# -- the chip -----------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def ec_key(tag: str = "genuine") -> CaKey:
    return CaKey.generate_ec("brainpoolP256r1")


@lru_cache(maxsize=None)
def dh_key() -> CaKey:
    return CaKey.generate_dh(1)         # MODP-2048-224: a 256-byte public key


def make_chip(dg14: bytes | None, chip_ca: CaChip | None, *, access: str = "pace", cipher: str = "AES128",
              quirks: ChipQuirks | None = None, rng=None, dg1: bytes | None = DG1) -> VirtualChip:
    app = {files.dg(2): DG2}
    if dg1 is not None:
        app[files.dg(1)] = dg1
    if dg14 is not None:
        app[files.dg(14)] = dg14
    kw = {"rng": rng} if rng is not None else {}
    chip = VirtualChip({}, app, bac_key=KEY if access == "bac" else None, quirks=quirks, **kw)
    if access == "pace":
        chip.mechanisms.append(PaceChip([KEY], pace_oid("ECDH", "GM", cipher), 13))
    if chip_ca is not None:
        chip.mechanisms.append(chip_ca)
    return chip


def phone_opens(chip, *, access: str = "pace", key=KEY, rng=None) -> tuple[Link, bytes | None]:
    """What the phone does before CA_HANDOVER: access control, EF.DG14 (and a read of DG2's
    head to move the counter further).  Returns the phone's link and DG14."""
    link = Link()
    run(files.select_application(), link, chip.transmit)
    if access == "bac":
        link.start(run(bac(key, **({"rng": rng} if rng else {})), link, chip.transmit))
    else:
        mech = next(m for m in chip.mechanisms if isinstance(m, PaceChip))
        link.start(run(pace(key, mech.pace_info), link, chip.transmit).sm)
        run(files.select_application(), link, chip.transmit)
    classic = files.ReadLimits.classic()        # JMRTD's way: SELECT, 8 bytes, then the rest
    try:
        dg14 = run(files.read_file(files.dg(14), classic), link, chip.transmit)
    except files.FileNotFoundOnChip:
        dg14 = None
    return link, dg14


def handed_over(link: Link) -> SMInfo:
    """CA_HANDOVER's secureMessagingInfo as the server parses it from the WebSocket text."""
    return SMInfo.from_wire(json.loads(json.dumps(handover.sm_info(link.sm).to_wire())))


def relay(chip, choice, info: SMInfo, *, max_transceive: int = EXTENDED, max_block: int = 223,
          **kw) -> tuple[RelayOutcome, RecordingChip]:
    phone = RecordingChip(chip)
    flow = relay_chip_authentication(choice, info, max_transceive=max_transceive, max_block=max_block, **kw)
    return run(flow, Link(), phone.transmit), phone


def phone_continues(chip, outcome: RelayOutcome) -> None:
    """After CA_HANDBACK: a new wrapper from the handback's values, and the next file."""
    info = SMInfo.from_wire(json.loads(json.dumps(outcome.sm.to_wire())))
    link = Link()
    link.start(handover.secure_messaging(info))
    assert run(files.read_file(files.dg(2), files.ReadLimits.classic()), link, chip.transmit) == DG2


class PlainLog:
    """The commands the chip executes after unwrapping them (what the phone cannot see)."""

    def __init__(self, chip: VirtualChip):
        self.commands: list[CommandAPDU] = []
        inner = chip._dispatch

        def dispatch(cmd: CommandAPDU) -> ResponseAPDU:
            self.commands.append(cmd)
            return inner(cmd)
        chip._dispatch = dispatch

    def ins(self) -> list[tuple[int, int, int]]:
        return [(c.ins, c.p1, c.p2) for c in self.commands]


MSE_KAT, MSE_AT, GA = (0x22, 0x41, 0xA6), (0x22, 0x41, 0xA4), (0x86, 0x00, 0x00)
READ_DG1_BY_SFI = (0xB0, 0x81, 0x00)


def choice_of(dg14: bytes):
    return choose_ca(parse_dg14(dg14))


# -- success --------------------------------------------------------------------------------------


@pytest.mark.parametrize("max_transceive", [SHORT, EXTENDED])
def test_ecdh_aes(max_transceive):
    chip = make_chip(build_dg14(ec_key(), cipher="AES128"), CaChip(ec_key()))
    link, dg14 = phone_opens(chip)
    info = handed_over(link)
    assert info.algorithm == "AES" and info.ssc > 0
    log = PlainLog(chip)
    outcome, phone = relay(chip, choice_of(dg14), info, max_transceive=max_transceive)
    assert (outcome.check_result, outcome.attempt, outcome.protocol) == (
        "SUCCESS", "proven", "CA-ECDH-AES-CBC-CMAC-128")
    assert outcome.dg1 == DG1
    assert log.ins() == [MSE_AT, GA, READ_DG1_BY_SFI]
    # New keys from CA, counter restarted at 0: one command (1) and its answer (2).
    assert outcome.sm.algorithm == "AES" and outcome.sm.ssc == 2 and outcome.sm.to_wire()["ssc"] == 2
    assert outcome.sm.enc_key != info.enc_key
    assert all(len(raw) <= 261 for raw in phone.sent) or max_transceive == EXTENDED
    phone_continues(chip, outcome)


def test_ecdh_3des_after_bac_with_a_negative_counter():
    # BAC's SSC is RND.IC[4:8] || RND.IFD[4:8]: with the top bit set the phone sends it negative.
    chip = make_chip(build_dg14(ec_key(), cipher="TDES"), CaChip(ec_key()), access="bac",
                     rng=scripted_rng(bytes.fromhex("0102030490000001"), bytes(range(16))))
    link, dg14 = phone_opens(chip, access="bac", rng=scripted_rng(bytes.fromhex("0506070800000002"),
                                                                 bytes(range(16, 32))))
    wire = handover.sm_info(link.sm).to_wire()
    assert wire["algorithm"] == "DESede" and wire["ssc"] < 0
    log = PlainLog(chip)
    outcome, _ = relay(chip, choice_of(dg14), SMInfo.from_wire(json.loads(json.dumps(wire))))
    assert (outcome.check_result, outcome.attempt, outcome.protocol) == ("SUCCESS", "proven", "CA-ECDH-3DES-CBC-CBC")
    assert log.ins() == [MSE_KAT, READ_DG1_BY_SFI]
    assert outcome.sm.algorithm == "DESede" and outcome.sm.ssc == 2
    back = outcome.sm.to_wire()
    assert len(base64.b64decode(back["encKey"])) == len(base64.b64decode(back["macKey"])) == 24
    phone_continues(chip, outcome)


@pytest.mark.parametrize("cipher, ours", [("TDES", MSE_KAT), ("AES128", MSE_AT)])
def test_dh_2048_on_a_short_apdu_phone_is_chained(cipher, ours):
    chip = make_chip(build_dg14(dh_key(), cipher=cipher), CaChip(dh_key()), access="bac")
    link, dg14 = phone_opens(chip, access="bac")
    log = PlainLog(chip)
    outcome, phone = relay(chip, choice_of(dg14), handed_over(link), max_transceive=SHORT)
    assert outcome.check_result == "SUCCESS" and outcome.protocol == f"CA-DH-{'3DES-CBC-CBC' if cipher == 'TDES' else 'AES-CBC-CMAC-128'}"
    assert chip.chained_parts >= 2
    assert max(len(raw) for raw in phone.sent) <= 261            # short APDUs only
    assert ours in log.ins()
    assert outcome.sm.algorithm == ("DESede" if cipher == "TDES" else "AES")
    phone_continues(chip, outcome)


def test_dh_2048_on_an_extended_length_phone_is_one_command():
    chip = make_chip(build_dg14(dh_key(), cipher="TDES"), CaChip(dh_key()), access="bac")
    link, dg14 = phone_opens(chip, access="bac")
    outcome, phone = relay(chip, choice_of(dg14), handed_over(link), max_transceive=EXTENDED)
    assert outcome.check_result == "SUCCESS" and chip.chained_parts == 0
    assert max(len(raw) for raw in phone.sent) > 261
    phone_continues(chip, outcome)


@pytest.mark.parametrize("cipher", ["TDES", "AES128"])
def test_an_extended_length_phone_with_a_chip_without_it_falls_back_to_chaining(cipher):
    # The phone can relay extended APDUs, the chip answers them 6700: short and chained instead.
    chip = make_chip(build_dg14(dh_key(), cipher=cipher), CaChip(dh_key()), access="bac",
                     quirks=ChipQuirks(extended_length=False))
    link, dg14 = phone_opens(chip, access="bac")
    outcome, phone = relay(chip, choice_of(dg14), handed_over(link), max_transceive=EXTENDED)
    assert (outcome.check_result, outcome.attempt) == ("SUCCESS", "proven")
    assert chip.chained_parts >= 2 and any(len(raw) > 261 for raw in phone.sent)
    phone_continues(chip, outcome)


def test_no_chip_authentication_info_falls_back_to_3des():
    # DG14 with the key only (some French passports): MSE:Set KAT, 3DES session keys after
    # an AES PACE session.
    chip = make_chip(build_dg14(ec_key(), include_ca_info=False), CaChip(ec_key()))
    link, dg14 = phone_opens(chip)
    info = handed_over(link)
    assert info.algorithm == "AES"
    choice = choice_of(dg14)
    assert choice[0] is None
    log = PlainLog(chip)
    outcome, _ = relay(chip, choice, info)
    assert (outcome.check_result, outcome.protocol) == ("SUCCESS", "CA-ECDH-3DES-CBC-CBC")
    assert log.ins() == [MSE_KAT, READ_DG1_BY_SFI]
    assert outcome.sm.algorithm == "DESede"
    phone_continues(chip, outcome)


@pytest.mark.parametrize("max_transceive", [SHORT, EXTENDED])
@pytest.mark.parametrize("name", ["pace-ecdh-gm-aes128", "pace-ecdh-im-aes256", "pace-dh-gm-3des", "bac-3des",
                                  "td1-idcard", "pace-short-nosfi"])
def test_every_virtual_document_with_chip_authentication(name, max_transceive):
    profile = profiles.get_profile(name)
    chip = profile.chip()
    access = "bac" if name.startswith("bac") else "pace"
    link, dg14 = phone_opens(chip, access=access, key=profile.access_key)
    outcome, _ = relay(chip, choice_of(dg14), handed_over(link), max_transceive=max_transceive)
    assert outcome.check_result == profile.expect.chip_authentication == "SUCCESS"
    assert outcome.dg1 == app_files(chip)[1]
    info = SMInfo.from_wire(json.loads(json.dumps(outcome.sm.to_wire())))
    link = Link()
    link.start(handover.secure_messaging(info))
    sod = run(files.read_file(files.EF_SOD, files.ReadLimits.classic()), link, chip.transmit)
    assert sod == chip.fs.application.by_fid[files.EF_SOD.fid].content


def test_dg1_is_read_within_max_block_and_the_counter_counts_every_read():
    chip = make_chip(build_dg14(ec_key(), cipher="AES128"), CaChip(ec_key()))
    link, dg14 = phone_opens(chip)
    log = PlainLog(chip)
    outcome, _ = relay(chip, choice_of(dg14), handed_over(link), max_block=40)
    reads = [c for c in log.commands if c.ins == 0xB0]
    assert len(reads) == -(-len(DG1) // 40) and all(c.le <= 40 for c in reads)
    assert outcome.dg1 == DG1 and outcome.sm.ssc == 2 * len(reads)
    phone_continues(chip, outcome)


def test_dg1_falls_back_to_select_when_the_chip_has_no_sfi():
    chip = make_chip(build_dg14(ec_key(), cipher="AES128"), CaChip(ec_key()), quirks=ChipQuirks(sfi=False))
    link, dg14 = phone_opens(chip)
    log = PlainLog(chip)
    outcome, _ = relay(chip, choice_of(dg14), handed_over(link))
    assert outcome.check_result == "SUCCESS" and outcome.dg1 == DG1
    assert log.ins()[2:4] == [READ_DG1_BY_SFI, (0xA4, 0x02, 0x0C)]
    assert log.commands[3].data == b"\x01\x01"
    phone_continues(chip, outcome)


# -- no attempt ---------------------------------------------------------------------------------


def test_dg14_unusable_reads_dg1_with_the_handed_over_keys():
    chip = make_chip(None, None)
    link, _ = phone_opens(chip)
    info = handed_over(link)
    log = PlainLog(chip)
    outcome, _ = relay(chip, None, info)
    assert (outcome.check_result, outcome.attempt, outcome.protocol) == ("UNAVAILABLE", None, None)
    assert log.ins() == [READ_DG1_BY_SFI]
    assert outcome.dg1 == DG1
    assert (outcome.sm.enc_key, outcome.sm.mac_key, outcome.sm.ssc) == (info.enc_key, info.mac_key, info.ssc + 2)
    phone_continues(chip, outcome)


def test_a_choice_that_fails_before_any_command_is_no_attempt():
    # ChipAuthenticationInfo for DH with an ECDH key: nothing to send.
    chip = make_chip(build_dg14(ec_key(), cipher="AES128"), CaChip(ec_key()))
    link, dg14 = phone_opens(chip)
    _, key = choice_of(dg14)
    bad = (ChipAuthenticationInfo(ca_oid("DH", "AES128"), 1, None), key)
    log = PlainLog(chip)
    outcome, _ = relay(chip, bad, handed_over(link))
    assert (outcome.check_result, outcome.attempt) == ("UNAVAILABLE", None)
    assert log.ins() == [READ_DG1_BY_SFI]
    phone_continues(chip, outcome)


@pytest.mark.parametrize("handed, back", [(-1, 1), (-3, -1), ((1 << 63) - 1, -(1 << 63) + 1), (-(1 << 63), -(1 << 63) + 2)])
def test_the_counter_wraps_at_2_64_through_the_chip(handed, back):
    # BAC with chosen nonces gives any SSC; the phone hands it over right after BAC.
    ssc = handed % (1 << 64)
    ic, ifd = ssc.to_bytes(8, "big")[:4], ssc.to_bytes(8, "big")[4:]
    chip = make_chip(None, None, access="bac", rng=scripted_rng(b"\xaa" * 4 + ic, bytes(16)))
    link = Link()
    run(files.select_application(), link, chip.transmit)
    link.start(run(bac(KEY, scripted_rng(b"\xbb" * 4 + ifd, bytes(range(16)))), link, chip.transmit))
    wire = handover.sm_info(link.sm).to_wire()
    assert wire["ssc"] == handed
    outcome, _ = relay(chip, None, SMInfo.from_wire(json.loads(json.dumps(wire))))
    assert outcome.sm.to_wire()["ssc"] == back
    phone_continues(chip, outcome)


# -- the chip refuses: old keys go on -----------------------------------------------------------


@pytest.mark.parametrize("cipher, commands", [("AES128", [MSE_AT]), ("TDES", [MSE_KAT])])
@pytest.mark.parametrize("plain_errors", [False, True])
def test_chip_refusing_ca_leaves_the_old_session(cipher, commands, plain_errors):
    # DG14 names key 3, the chip only has key 9: MSE answered 6A88 (referenced data not found),
    # protected, or plain as some chips do.
    chip = make_chip(build_dg14(ec_key(), cipher=cipher, key_id=3), CaChip({9: ec_key()}),
                     quirks=ChipQuirks(plain_errors=plain_errors))
    link, dg14 = phone_opens(chip)
    info = handed_over(link)
    log = PlainLog(chip)
    outcome, _ = relay(chip, choice_of(dg14), info)
    assert (outcome.check_result, outcome.attempt, outcome.protocol) == ("FAILED", "refused", None)
    assert "6A88" in outcome.detail
    assert log.ins() == commands + [READ_DG1_BY_SFI]
    assert outcome.dg1 == DG1
    assert (outcome.sm.enc_key, outcome.sm.ssc) == (info.enc_key, info.ssc + 4)
    phone_continues(chip, outcome)


def test_chip_refusing_command_chaining_is_refused():
    chip = make_chip(build_dg14(dh_key(), cipher="TDES"), CaChip(dh_key()), access="bac",
                     quirks=ChipQuirks(command_chaining=False))
    link, dg14 = phone_opens(chip, access="bac")
    info = handed_over(link)
    outcome, _ = relay(chip, choice_of(dg14), info, max_transceive=SHORT)
    assert (outcome.check_result, outcome.attempt) == ("FAILED", "refused")
    assert "6884" in outcome.detail
    assert outcome.sm.ssc == info.ssc + 4 and outcome.dg1 == DG1
    phone_continues(chip, outcome)


def test_a_command_that_cannot_be_relayed_even_chained(monkeypatch):
    # Chaining switched off at its seam: the 2048-bit DH key does not fit a short APDU.
    monkeypatch.setattr(handover, "_max_command_data", lambda link: None)
    chip = make_chip(build_dg14(dh_key(), cipher="TDES"), CaChip(dh_key()), access="bac")
    link, dg14 = phone_opens(chip, access="bac")
    info = handed_over(link)
    log = PlainLog(chip)
    outcome, phone = relay(chip, choice_of(dg14), info, max_transceive=SHORT)
    assert (outcome.check_result, outcome.attempt) == ("FAILED", "command-too-long")
    assert log.ins() == [READ_DG1_BY_SFI]          # nothing was sent before the DG1 read
    assert outcome.sm.ssc == info.ssc + 2
    phone_continues(chip, outcome)


# -- Secure Messaging broken: no handback --------------------------------------------------------


def test_clone_chip_breaks_secure_messaging_after_general_authenticate():
    chip = make_chip(build_dg14(ec_key(), cipher="AES128"), CaChip(ec_key("clone")))
    link, dg14 = phone_opens(chip)
    log = PlainLog(chip)
    with pytest.raises(SecureMessagingError):
        relay(chip, choice_of(dg14), handed_over(link))
    assert log.ins() == [MSE_AT, GA]          # the DG1 read under the new keys never reached it
    assert chip.sm is None and chip.sm_failures == 1


def test_clone_profile():
    profile = profiles.get_profile("clone")
    chip = profile.chip()
    link, dg14 = phone_opens(chip, key=profile.access_key)
    with pytest.raises(SecureMessagingError):
        relay(chip, choice_of(dg14), handed_over(link))


def test_a_phone_lying_about_the_counter_is_caught_by_the_chip():
    chip = make_chip(build_dg14(ec_key(), cipher="AES128"), CaChip(ec_key()))
    link, dg14 = phone_opens(chip)
    real = handover.sm_info(link.sm).to_wire()
    with pytest.raises(SecureMessagingError):
        relay(chip, choice_of(dg14), SMInfo.from_wire(dict(real, ssc=real["ssc"] + 2)))
    assert chip.sm_failures == 1


class Meddler:
    """A phone that answers one relayed command itself."""

    def __init__(self, chip, ins: int, answer):
        self.chip, self.ins, self.answer = chip, ins, answer

    def transmit(self, raw: bytes) -> bytes:
        if raw[1] == self.ins:
            return self.answer(self.chip.transmit(raw))
        return self.chip.transmit(raw)


@pytest.mark.parametrize("ins", [0x22, 0x86, 0xB0])
@pytest.mark.parametrize("answer", [
    lambda real: b"\x6f\x00",                                     # iOS: the NFC exchange failed
    lambda real: b"\x69\x88",
    lambda real: b"\x69\x87",
    lambda real: real[:-12] + bytes([real[-12] ^ 1]) + real[-11:],   # one bit of the MAC
    lambda real: real[:4] + real[-2:] if len(real) > 6 else b"\x90\x00",
], ids=["6F00", "6988", "6987", "bad-mac", "cut"])
def test_broken_secure_messaging_raises(ins, answer):
    chip = make_chip(build_dg14(ec_key(), cipher="AES128"), CaChip(ec_key()))
    link, dg14 = phone_opens(chip)
    phone = Meddler(chip, ins, answer)
    flow = relay_chip_authentication(choice_of(dg14), handed_over(link), max_transceive=EXTENDED, max_block=223)
    with pytest.raises(SecureMessagingError):
        run(flow, Link(), phone.transmit)


def test_a_non_iso_status_is_a_communication_failure():
    chip = make_chip(build_dg14(ec_key(), cipher="AES128"), CaChip(ec_key()))
    link, dg14 = phone_opens(chip)
    phone = Meddler(chip, 0x22, lambda real: b"\xff\xff")
    flow = relay_chip_authentication(choice_of(dg14), handed_over(link), max_transceive=EXTENDED, max_block=223)
    with pytest.raises(CommunicationError):
        run(flow, Link(), phone.transmit)


# -- DG1 -----------------------------------------------------------------------------------------


def test_dg1_missing_is_a_file_read_error():
    chip = make_chip(build_dg14(ec_key(), cipher="AES128"), CaChip(ec_key()), dg1=None)
    link, dg14 = phone_opens(chip)
    with pytest.raises(FileReadError):
        relay(chip, choice_of(dg14), handed_over(link))


def test_dg1_above_the_file_cap_is_a_file_read_error():
    big = b"\x61\x82" + (5000).to_bytes(2, "big") + bytes(5000)
    chip = make_chip(None, None, dg1=big)
    link, _ = phone_opens(chip)
    with pytest.raises(FileReadError, match="EF.DG1"):
        relay(chip, None, handed_over(link), caps=files.FileCaps(max_file_bytes=4096))


@pytest.mark.parametrize("dg1", [bytes.fromhex("6105 5F1F 02 4142"), bytes.fromhex("6103 5F0100"),
                                 bytes.fromhex("6104 5F1F 01 FF")], ids=["short-mrz", "no-mrz", "not-ascii"])
def test_a_malformed_dg1_is_a_file_read_error(dg1):
    # Android parses the handed-back DG1 and would die on it: the server closes instead.
    chip = make_chip(None, None, dg1=dg1)
    link, _ = phone_opens(chip)
    with pytest.raises(FileReadError, match="EF.DG1 is malformed"):
        relay(chip, None, handed_over(link))


# -- the limits the phone announces ------------------------------------------------------------------


@pytest.mark.parametrize("kw", [{"max_transceive": True}, {"max_block": "223"}, {"max_block": 2.5},
                                {"max_transceive": None}])
def test_limits_must_be_integers(kw):
    args = {"max_transceive": SHORT, "max_block": 223}
    args.update(kw)
    with pytest.raises(InvalidSMInfo):
        relay_chip_authentication(None, SMInfo("AES", bytes(16), bytes(16), 0), **args)


@pytest.mark.parametrize("max_block", [0, -5])
def test_nonsense_block_sizes_still_read(max_block):
    chip = make_chip(None, None)
    link, _ = phone_opens(chip)
    outcome, _ = relay(chip, None, handed_over(link), max_block=max_block)
    assert outcome.dg1 == DG1
    phone_continues(chip, outcome)
