"""The virtual chip: ICAO 9303-11 Appendix D byte for byte, file system, strict SM, the mechanism registry."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from docval.emrtd import tlv
from docval.emrtd.apdu import CommandAPDU, ResponseAPDU
from docval.emrtd.bac import bac
from docval.emrtd.crypto import AES128, AES256, TDES
from docval.emrtd.errors import AccessControlError, FileAccessDenied, SecureMessagingError
from docval.emrtd.files import (ATR_INFO, CARD_ACCESS, CARD_SECURITY, EF_COM, EF_SOD, EMRTD_AID, ReadLimits,
                                dg, read_file, select_application, select_master_file)
from docval.emrtd.flow import Flow, Link, run
from docval.emrtd.mrz import MrzKey
from docval.emrtd.sm import SecureMessaging
from docval.sim.bac_chip import BacChip
from docval.sim.chip import ChipQuirks, VirtualChip
from docval.sim.file_chip import FileCommands
from docval.sim.mechanism import ChipContext, Mechanism
from tests.support.rng import scripted_rng

h = bytes.fromhex

# ICAO 9303-11 Appendix D.3 (BAC) and D.4 (Secure Messaging reading EF.COM)
KEY = MrzKey("L898902C", "690806", "940623")
RND_IC = h("4608F91988702212")
K_IC = h("0B4F80323EB3191CB04970CB4052790B")
CMD_DATA = h("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F25F1448EEA8AD90A7")
RESP_DATA = h("46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D7449")
EF_COM_D4 = h("60145F0104303130365F36063034303030305C026175")
D4 = [
    ("0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800", "990290008E08FA855A5D4C50A8ED9000"),
    ("0CB000000D9701048E08ED6705417E96BA5500",
     "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000"),
    ("0CB000040D9701128E082EA28A70F3C7B53500",
     "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000"),
]

DG1 = tlv.encode(0x61, b"\x5F\x1F" + b"X" * 88)
ATR = h("7F6608020208000202080047030000C0")


def apdu(chip: VirtualChip, hexstr: str) -> str:
    return chip.transmit(h(hexstr)).hex().upper()


def make_chip(**kw: Any) -> VirtualChip:
    kw.setdefault("bac_key", KEY)
    return VirtualChip(master_files={CARD_ACCESS: tlv.encode(0x31, b"\x30\x00"), ATR_INFO: ATR},
                       app_files={EF_COM: EF_COM_D4, dg(1): DG1, EF_SOD: tlv.encode(0x77, b"\x30\x00")}, **kw)


def bac_session(chip: VirtualChip, key: MrzKey = KEY) -> Link:
    link = Link()
    run(select_application(), link, chip.transmit)
    link.start(run(bac(key), link, chip.transmit))
    return link


def test_appendix_d3_and_d4_byte_for_byte() -> None:
    chip = make_chip(rng=scripted_rng(RND_IC, K_IC))
    assert apdu(chip, "00A4040C07A0000002471001") == "9000"
    assert apdu(chip, "0084000008") == RND_IC.hex().upper() + "9000"
    assert apdu(chip, "0082000028" + CMD_DATA.hex() + "28") == RESP_DATA.hex().upper() + "9000"
    assert chip.access_granted and chip.sm is not None and chip.sm.ssc == 0x887022120C06C226
    for command, response in D4:
        assert apdu(chip, command) == response


def test_bac_and_read_through_the_terminal_flows() -> None:
    chip = make_chip()
    link = bac_session(chip)
    assert run(read_file(dg(1), ReadLimits(max_le=223)), link, chip.transmit) == DG1
    assert run(read_file(EF_COM, ReadLimits(max_le=223, use_sfi=False)), link, chip.transmit) == EF_COM_D4


def test_wrong_mrz_key_is_6300_and_nothing_is_readable() -> None:
    chip = make_chip()
    link = Link()
    run(select_application(), link, chip.transmit)
    with pytest.raises(AccessControlError, match="6300"):
        run(bac(MrzKey("L898902C", "690806", "940624")), link, chip.transmit)
    assert not chip.access_granted and chip.sm is None
    with pytest.raises(FileAccessDenied):
        run(read_file(dg(1), ReadLimits(max_le=223)), link, chip.transmit)


def test_external_authenticate_needs_a_fresh_challenge() -> None:
    chip = make_chip(rng=scripted_rng(RND_IC, K_IC))
    apdu(chip, "00A4040C07A0000002471001")
    assert apdu(chip, "0082000028" + CMD_DATA.hex() + "28") == "6985"   # no challenge yet
    apdu(chip, "0084000008")
    assert apdu(chip, "0082000027" + CMD_DATA.hex()[:-2] + "28") == "6700"
    assert apdu(chip, "0082000028" + CMD_DATA.hex() + "28") == RESP_DATA.hex().upper() + "9000"
    # a replay (plain, so it also ends SM) finds the challenge used up
    assert apdu(chip, "0082000028" + CMD_DATA.hex() + "28") == "6985"


def test_chip_without_bac_refuses_external_authenticate() -> None:
    chip = make_chip(bac_key=None)
    assert chip.mechanism(BacChip) is None
    link = Link()
    run(select_application(), link, chip.transmit)
    with pytest.raises(AccessControlError, match="6D00"):
        run(bac(KEY), link, chip.transmit)


def test_external_authenticate_under_sm_is_6985() -> None:
    chip = make_chip()
    link = bac_session(chip)
    raw = link.protect((CommandAPDU(0x00, 0x82, 0, 0, CMD_DATA, le=40),))[0]
    assert link.unprotect([chip.transmit(raw)], 1)[0].sw == 0x6985
    assert chip.access_granted          # the running session is untouched


def test_tampered_mac_ends_sm_with_6988_and_nothing_is_readable_afterwards() -> None:
    chip = make_chip()
    link = bac_session(chip)
    sm = link.sm
    assert sm is not None
    protected = sm.wrap(CommandAPDU(0x00, 0xB0, 0x81, 0x00, le=16)).encode()
    tampered = protected[:-3] + bytes([protected[-3] ^ 1]) + protected[-2:]
    assert chip.transmit(tampered).hex().upper() == "6988"
    assert chip.sm is None and not chip.access_granted
    # the old keys are dead: a correctly wrapped command under them is refused too
    assert chip.transmit(sm.wrap(CommandAPDU(0x00, 0xB0, 0x81, 0x00, le=16)).encode()) == h("6988")
    # and plain reads of the application are refused
    assert chip.transmit(CommandAPDU(0x00, 0xB0, 0x81, 0x00, le=16).encode()) == h("6982")
    assert chip.transmit(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, h("0101")).encode()) == h("9000")
    assert chip.transmit(CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=16).encode()) == h("6982")
    assert chip.sm_failures == 1


def test_replayed_command_fails_because_the_ssc_moved() -> None:
    chip = make_chip()
    link = bac_session(chip)
    raw = link.protect((CommandAPDU(0x00, 0xB0, 0x81, 0x00, le=16),))[0]
    first = chip.transmit(raw)
    assert first.endswith(h("9000"))
    assert chip.transmit(raw) == h("6988")


def test_terminal_link_breaks_on_the_plain_6988() -> None:
    chip = make_chip()
    link = bac_session(chip)
    chip.drop_sm()   # the chip lost the session (e.g. after a MAC failure)
    with pytest.raises(SecureMessagingError):
        run(read_file(dg(1), ReadLimits(max_le=223)), link, chip.transmit)
    assert link.broken


def test_plain_command_ends_sm() -> None:
    chip = make_chip()
    bac_session(chip)
    assert chip.transmit(h("00A4040C07A0000002471001")) == h("9000")
    assert chip.sm is None and not chip.access_granted


def test_select_application_with_atr_info_selected_first() -> None:
    chip = make_chip()
    link = Link()
    run(select_master_file(), link, chip.transmit)
    limits = ReadLimits(max_le=223)
    assert run(read_file(ATR_INFO, limits), link, chip.transmit) == ATR   # leaves EF.ATR/INFO current
    assert chip.fs.current_ef is not None and chip.fs.current_ef.ref == ATR_INFO
    run(select_application(), link, chip.transmit)
    link.start(run(bac(KEY), link, chip.transmit))
    assert run(read_file(dg(1), limits), link, chip.transmit) == DG1


def test_master_file_is_readable_without_access_control_the_application_is_not() -> None:
    chip = make_chip()
    link = Link()
    limits = ReadLimits(max_le=223)
    assert run(read_file(CARD_ACCESS, limits), link, chip.transmit) == tlv.encode(0x31, b"\x30\x00")
    assert chip.transmit(h("00B0830010")) == h("6A82")        # DG3 is not in the master file
    run(select_application(), link, chip.transmit)
    with pytest.raises(FileAccessDenied):
        run(read_file(dg(1), limits), link, chip.transmit)
    open_chip = make_chip(quirks=ChipQuirks(access_control_required=False))
    run(select_application(), link, open_chip.transmit)
    assert run(read_file(dg(1), limits), link, open_chip.transmit) == DG1


def test_denied_files_stay_denied_after_access_control() -> None:
    chip = make_chip(denied_files=(dg(1),))
    link = bac_session(chip)
    with pytest.raises(FileAccessDenied):
        run(read_file(dg(1), ReadLimits(max_le=223)), link, chip.transmit)


def test_select_forms() -> None:
    chip = make_chip()
    assert chip.transmit(h("00A4040C07A0000002471002")) == h("6A82")
    fci = chip.transmit(h("00A4040007A000000247100100"))
    assert fci == tlv.encode(0x6F, tlv.encode(0x84, EMRTD_AID)) + h("9000")
    assert chip.transmit(h("00A4020C020999")) == h("6A82")
    assert chip.transmit(h("00A4020C03011E00")) == h("6700")
    fcp = chip.transmit(h("00A4020002011E00"))
    assert fcp[-2:] == h("9000") and tlv.parse_single(fcp[:-2], 0x62).require(0x80).value == h("0016")
    assert chip.transmit(h("00A4000C023F00")) == h("9000")
    assert chip.fs.current_df is chip.fs.master
    assert chip.transmit(h("00A4000C")) == h("9000")
    assert chip.transmit(h("00A4080C023F00")) == h("6A86")
    assert chip.transmit(h("00A4020102011C")) == h("6A86")
    # CardSecurity and SOD share FID 011D and SFI 1D: the current DF decides
    chip2 = VirtualChip(master_files={CARD_SECURITY: tlv.encode(0x30, b"\x01")},
                        app_files={EF_SOD: tlv.encode(0x77, b"\x02")},
                        quirks=ChipQuirks(access_control_required=False))
    assert chip2.transmit(h("00B09D0000")) == tlv.encode(0x30, b"\x01") + h("6282")
    chip2.transmit(h("00A4040C07A0000002471001"))
    assert chip2.transmit(h("00B09D0000")) == tlv.encode(0x77, b"\x02") + h("6282")


def test_read_binary_edges() -> None:
    content = bytes(range(256)) * 160     # 40960 bytes
    chip = VirtualChip(app_files={dg(2): content}, quirks=ChipQuirks(access_control_required=False))
    chip.transmit(h("00A4040C07A0000002471001"))
    assert chip.transmit(h("00B0000010")) == h("6986")             # no current EF yet
    assert chip.transmit(h("00B0820004")) == content[:4] + h("9000")
    assert chip.transmit(h("00B09F0000")) == h("6A82")              # SFI 31 absent
    assert chip.transmit(h("00B0C20000")) == h("6A86")              # bad SFI form
    assert chip.transmit(h("00B0A00000")) == h("6A86")              # SFI form with bits 7-6 set
    assert chip.transmit(h("00B0200000")) == content[0x2000:0x2100] + h("9000")
    assert chip.transmit(h("00B0010000")) == content[256:512] + h("9000")
    assert chip.transmit(h("00B0")) == h("6700")
    end = CommandAPDU(0x00, 0xB0, 0x7F, 0xF0, le=0x20).encode()
    assert chip.transmit(end) == content[0x7FF0:0x8010] + h("9000")
    # odd INS beyond 32767, DO'54' offset, DO'53' answer (Le counts its header)
    odd = CommandAPDU(0x00, 0xB1, 0, 0, h("54029F00"), le=0x22).encode()
    assert chip.transmit(odd) == tlv.encode(0x53, content[0x9F00:0x9F20]) + h("9000")
    last = CommandAPDU(0x00, 0xB1, 0, 0, h("54029F00"), le=0x1000, extended=True).encode()
    assert chip.transmit(last) == h("53820100") + content[0x9F00:] + h("6282")
    assert chip.transmit(CommandAPDU(0x00, 0xB1, 0, 0, h("5402A001"), le=8).encode()) == h("6B00")
    assert chip.transmit(CommandAPDU(0x00, 0xB1, 0, 0, h("5502A000"), le=8).encode()) == h("6A80")
    # by SFI on the odd INS, and at exactly the end of the file
    assert chip.transmit(CommandAPDU(0x00, 0xB1, 0x82, 0, h("540100"), le=6).encode()) == \
        tlv.encode(0x53, content[:4]) + h("9000")
    assert chip.transmit(CommandAPDU(0x00, 0xB1, 0, 0, h("5402A000"), le=8).encode()) == h("5300") + h("6282")


def test_odd_read_binary_by_fid_and_other_plain_refusals() -> None:
    content = bytes(range(200))
    chip = VirtualChip(app_files={dg(2): content, dg(3): b"\x63\x00"},
                       quirks=ChipQuirks(access_control_required=False))
    chip.transmit(h("00A4040C07A0000002471001"))
    # odd INS naming the EF by its FID in P1-P2 (ISO 7816-4), also switching the current EF
    assert chip.transmit(CommandAPDU(0x00, 0xB1, 0x01, 0x02, h("540100"), le=6).encode()) == \
        tlv.encode(0x53, content[:4]) + h("9000")
    assert chip.transmit(CommandAPDU(0x00, 0xB1, 0x01, 0x09, h("540100"), le=6).encode()) == h("6A82")
    assert chip.transmit(h("00B0000004")) == content[:4] + h("9000")
    assert chip.transmit(h("00B00000")) == h("6700")                 # READ BINARY without Le
    assert chip.transmit(h("00840100" "08")) == h("6A86")            # GET CHALLENGE with P1
    assert chip.transmit(h("0084000004")) == h("6700")               # ... asking for 4 bytes
    assert chip.transmit(h("0086000000")) == h("6985")               # GA before any MSE
    assert chip.transmit(h("002241A4028000")) == h("6A86")           # MSE nobody accepts
    assert chip.transmit(h("00CA000000")) == h("6D00")               # an instruction it lacks


OK = ResponseAPDU(b"", 0x9000)


class Fixed(Mechanism):
    """Claims one instruction and answers it with a fixed response (or a bug)."""

    def __init__(self, ins: int, resp: ResponseAPDU = OK, *, requires_access: bool = False,
                 crash: bool = False):
        self.ins, self.resp, self.crash = ins, resp, crash
        self.requires_access = requires_access
        self.seen: list[CommandAPDU] = []

    def claims(self, cmd: CommandAPDU) -> bool:
        return cmd.ins == self.ins

    def answer(self, chip: ChipContext, cmd: CommandAPDU) -> ResponseAPDU:
        if self.crash:
            raise RuntimeError("boom")
        self.seen.append(cmd)
        return self.resp


def test_plain_answer_longer_than_le_is_6700() -> None:
    chip = VirtualChip(app_files={dg(1): DG1}, quirks=ChipQuirks(access_control_required=False),
                       mechanisms=[Fixed(0x88, ResponseAPDU(bytes(64), 0x9000))])
    assert chip.transmit(CommandAPDU(0x00, 0x88, 0, 0, bytes(8), le=16).encode()) == h("6700")
    assert chip.transmit(CommandAPDU(0x00, 0x88, 0, 0, bytes(8), le=64).encode()) == bytes(64) + h("9000")


def test_quirks() -> None:
    content = tlv.encode(0x75, bytes(2000))
    files = {dg(2): content}
    open_: dict[str, Any] = dict(access_control_required=False)
    chip = VirtualChip(app_files=files, quirks=ChipQuirks(max_le=200, **open_))
    chip.transmit(h("00A4040C07A0000002471001"))
    assert chip.transmit(h("00B08200C9")) == h("6700")
    assert chip.transmit(h("00B08200C8"))[-2:] == h("9000")
    chip = VirtualChip(app_files=files, quirks=ChipQuirks(max_le=200, too_long_sw="6C", **open_))
    chip.transmit(h("00A4040C07A0000002471001"))
    assert chip.transmit(h("00B0820000")) == h("6CC8")
    chip = VirtualChip(app_files=files, quirks=ChipQuirks(extended_length=False, **open_))
    chip.transmit(h("00A4040C07A0000002471001"))
    assert chip.transmit(h("00B08200000010")) == h("6700")
    for sw in (0x6A86, 0x6D00):
        chip = VirtualChip(app_files=files, quirks=ChipQuirks(sfi=False, sfi_error=sw, **open_))
        chip.transmit(h("00A4040C07A0000002471001"))
        assert chip.transmit(h("00B0820010")) == sw.to_bytes(2, "big")
    chip = VirtualChip(app_files={dg(1): b"\x61\x01\x00"}, quirks=ChipQuirks(eof_sw=0x9000, **open_))
    chip.transmit(h("00A4040C07A0000002471001"))
    assert chip.transmit(h("00B0810010")) == h("6101009000")
    chip = VirtualChip(app_files={dg(1): b"\x61\x01\x00"}, quirks=ChipQuirks(eof_sw=0x6C00, **open_))
    chip.transmit(h("00A4040C07A0000002471001"))
    assert chip.transmit(h("00B0810010")) == h("6C03")
    assert chip.transmit(h("00B0000003")) == h("6101009000")
    assert chip.transmit(h("00B0000300")) == h("6282")          # nothing left to name
    assert chip.transmit(CommandAPDU(0x00, 0xB1, 0, 0, h("540101"), le=10).encode()) == h("6C04")
    for bad in (dict(max_le=0), dict(too_long_sw="6D"), dict(eof_sw=0x6B00)):
        with pytest.raises(ValueError):
            ChipQuirks(**bad)


def test_protected_answer_larger_than_a_short_le_is_a_protected_6700() -> None:
    chip = make_chip(quirks=ChipQuirks(access_control_required=False))
    chip.fs.application.put(dg(2), tlv.encode(0x75, bytes(1000)))
    k = bytes(range(16))
    chip.start_sm(SecureMessaging(AES128, k, k, 0))
    term = SecureMessaging(AES128, k, k, 0)
    chip.transmit(term.wrap(CommandAPDU(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID)).encode())
    term.ssc += 1
    # a hand-made short protected command asking 250 plain bytes: the answer cannot fit 256
    cmd = term.wrap(CommandAPDU(0x00, 0xB0, 0x82, 0x00, le=250))
    short = CommandAPDU(cmd.cla, cmd.ins, cmd.p1, cmd.p2, cmd.data, le=256)
    resp = term.unwrap(ResponseAPDU.decode(chip.transmit(short.encode())))
    assert resp.sw == 0x6700 and chip.sm is not None


def test_plain_errors_quirk_keeps_the_ssc_in_step() -> None:
    chip = make_chip(quirks=ChipQuirks(plain_errors=True))
    link = bac_session(chip)
    raw = link.protect((CommandAPDU(0x00, 0xB0, 0x8B, 0x00, le=16),))[0]   # DG11 is absent
    assert chip.transmit(raw) == h("6A82")
    link.unprotect([h("6A82")], 1)
    assert run(read_file(dg(1), ReadLimits(max_le=223)), link, chip.transmit) == DG1


def test_transmit_never_raises_on_garbage() -> None:
    chip = make_chip()
    for raw in (b"", b"\x00", b"\x00\xA4", h("00A4040C09A000"), h("0CB0000000"), h("FFFFFFFF"), h("80CA9F7F00")):
        out = chip.transmit(raw)
        assert len(out) >= 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=40), max_size=6), st.booleans())
def test_transmit_answers_every_byte_string(raws: list[bytes], with_sm: bool) -> None:
    chip = make_chip()
    if with_sm:
        chip.start_sm(SecureMessaging(TDES, bytes(16), bytes(range(16)), 0))
    for raw in raws:
        out = chip.transmit(raw)
        assert len(out) >= 2


def test_a_bug_in_a_mechanism_becomes_6f00_and_ends_sm() -> None:
    chip = make_chip(mechanisms=[Fixed(0x88, crash=True)])
    link = bac_session(chip)
    raw = link.protect((CommandAPDU(0x00, 0x88, 0, 0, bytes(8), le=256),))[0]
    assert chip.transmit(raw) == h("6F00")
    assert chip.sm is None and not chip.access_granted


# --- the mechanism registry ----------------------------------------------------


class EchoMechanism(Mechanism):
    """A fake MSE/GA mechanism recording what reaches it."""

    def __init__(self, p1: int, chip_keys: SecureMessaging | None = None, after: bool = False):
        self.p1 = p1
        self.seen: list[tuple[str, CommandAPDU]] = []
        self.chip_keys = chip_keys
        self.after = after

    def claims(self, cmd: CommandAPDU) -> bool:
        return cmd.ins == 0x86 or (cmd.ins == 0x22 and cmd.p1 == self.p1)

    def answer(self, chip: ChipContext, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.ins == 0x22:
            self.seen.append(("mse", cmd))
            return ResponseAPDU(b"", 0x9000)
        self.seen.append(("ga", cmd))
        if self.chip_keys is not None and not cmd.cla & 0x10:
            if self.after:
                chip.start_sm_after_response(self.chip_keys)
            else:
                chip.start_sm(self.chip_keys)
            chip.access_granted = True
        return ResponseAPDU(b"\x7C\x00", 0x9000)


def test_mse_and_general_authenticate_reach_the_mechanism() -> None:
    chip = make_chip()
    m1, m2 = EchoMechanism(0xC1), EchoMechanism(0x41)
    chip.mechanisms.extend([m1, m2])
    assert chip.transmit(h("002286A4")) == h("6A86")              # nobody accepts
    assert chip.transmit(h("0086000002" "7C00" "00")) == h("6985")  # no current mechanism
    assert chip.transmit(h("0022C1A4038001FF")) == h("9000")
    assert chip.transmit(h("1086000002" "7C00")) == h("7C009000")   # chained part
    assert chip.transmit(h("0086000002" "7C00" "00")) == h("7C009000")
    assert [kind for kind, _ in m1.seen] == ["mse", "ga", "ga"] and not m2.seen
    assert m1.seen[1][1].cla == 0x10
    assert chip.transmit(h("1084000008")) == h("6884")              # chaining only for GA


def test_pace_like_mechanism_starts_sm_after_a_plain_answer() -> None:
    chip = make_chip()
    k = bytes(range(32))
    mech = EchoMechanism(0xC1, SecureMessaging(AES256, k, k, 0))
    chip.mechanisms.append(mech)
    link = Link()
    run(select_application(), link, chip.transmit)
    chip.transmit(h("0022C1A4038001FF"))
    assert chip.transmit(h("0086000002" "7C00" "00")) == h("7C009000")   # plain, SM starts after
    link.start(SecureMessaging(AES256, k, k, 0))
    assert run(read_file(dg(1), ReadLimits(max_le=1024, extended=True)), link, chip.transmit) == DG1


@pytest.mark.parametrize("after", [True, False])
def test_ca_like_key_change(after: bool) -> None:
    """start_sm_after_response wraps the answer with the old keys; start_sm with the new ones."""
    chip = make_chip()
    link = bac_session(chip)
    new_key = bytes(range(16, 32))
    mech = EchoMechanism(0x41, SecureMessaging(AES128, new_key, new_key, 0), after=after)
    chip.mechanisms.append(mech)
    run(_mse_ga(), link, chip.transmit)             # MSE under the BAC keys
    old = link.sm
    raw = link.protect((CommandAPDU(0x00, 0x86, 0, 0, h("7C00"), le=256),))[0]
    answer = chip.transmit(raw)
    new = SecureMessaging(AES128, new_key, new_key, 0)
    if after:
        assert link.unprotect([answer], 1)[0] == ResponseAPDU(b"\x7C\x00", 0x9000)
    else:
        assert new.unwrap(ResponseAPDU.decode(answer)) == ResponseAPDU(b"\x7C\x00", 0x9000)
        new = SecureMessaging(AES128, new_key, new_key, 1)
    assert old is not None
    link.start(new)
    assert run(read_file(dg(1), ReadLimits(max_le=223)), link, chip.transmit) == DG1


def _mse_ga() -> Flow[None]:
    resp = yield CommandAPDU(0x00, 0x22, 0x41, 0xA4, h("800A04007F00070202030202"))
    assert isinstance(resp, ResponseAPDU) and resp.sw == 0x9000


def test_a_mechanism_requiring_access_control_gets_its_command_only_after_it() -> None:
    chip = make_chip()
    assert chip.transmit(h("008800000811223344556677880000"[:-2])) == h("6D00")
    aa = Fixed(0x88, ResponseAPDU(b"\x01" * 8, 0x9000), requires_access=True)
    chip.mechanisms.append(aa)
    cmd = CommandAPDU(0x00, 0x88, 0, 0, bytes(8), le=256)
    assert chip.transmit(cmd.encode()) == h("6982") and not aa.seen
    link = bac_session(chip)
    resp = link.unprotect([chip.transmit(link.protect((cmd,))[0])], 1)[0]
    assert resp == ResponseAPDU(b"\x01" * 8, 0x9000)
    assert aa.seen[0].data == bytes(8) and aa.seen[0].cla == 0x00
    # a chip whose quirks need no access control answers at once
    open_aa = Fixed(0x88, ResponseAPDU(b"\x01" * 8, 0x9000), requires_access=True)
    open_chip = make_chip(quirks=ChipQuirks(access_control_required=False), mechanisms=[open_aa])
    assert open_chip.transmit(cmd.encode()) == b"\x01" * 8 + h("9000")


def test_mechanisms_are_plugged_after_the_file_commands_and_bac_and_found_by_class() -> None:
    extra = Fixed(0xCA, ResponseAPDU(b"\x42", 0x9000))
    chip = make_chip(mechanisms=[extra])
    assert [type(m) for m in chip.mechanisms] == [FileCommands, BacChip, Fixed]
    assert chip.mechanism(Fixed) is extra and chip.mechanism(EchoMechanism) is None
    assert chip.transmit(h("00CA000000")) == h("429000")          # an instruction the core lacks
    assert chip.transmit(h("10CA000000")) == h("6884")            # chained: only MSE and GA chain
    assert len(extra.seen) == 1


def test_the_first_mechanism_claiming_a_command_answers_it() -> None:
    first, second = Fixed(0xCA, ResponseAPDU(b"\x01", 0x9000)), Fixed(0xCA, ResponseAPDU(b"\x02", 0x9000))
    chip = make_chip(mechanisms=[first, second])
    assert chip.transmit(h("00CA000000")) == h("019000") and not second.seen


def test_general_authenticate_goes_only_to_the_current_environment() -> None:
    """GA never reaches a mechanism whose MSE did not set the environment, even if it claims GA."""
    m1, m2 = EchoMechanism(0xC1), EchoMechanism(0x41)
    chip = make_chip(mechanisms=[m1, m2])
    assert chip.transmit(h("002241A4038001FF")) == h("9000")       # m2 takes the MSE
    assert chip.transmit(h("0086000002" "7C00" "00")) == h("7C009000")
    assert not m1.seen and [kind for kind, _ in m2.seen] == ["mse", "ga"]
    chip.drop_sm()                                                  # access control lost: no environment
    assert chip.transmit(h("0086000002" "7C00" "00")) == h("6985")
    assert len(m2.seen) == 2


def test_repr_shows_no_keys_or_data() -> None:
    chip = make_chip()
    bac_session(chip)
    text = repr(chip) + repr(chip.mechanisms) + repr(chip.fs) + repr(chip.fs.application.by_fid[dg(1).fid])
    assert "XXXX" not in text and "L898902C" not in text


def test_files_must_be_in_their_dedicated_file() -> None:
    with pytest.raises(ValueError):
        VirtualChip(master_files={dg(1): b"\x61\x00"})
    with pytest.raises(ValueError):
        VirtualChip(app_files={CARD_ACCESS: b"\x31\x00"})
    with pytest.raises(ValueError):
        VirtualChip(app_files={dg(2): bytes(65536)})


def test_files_can_be_replaced_and_removed() -> None:
    chip = make_chip(quirks=ChipQuirks(access_control_required=False))
    chip.fs.application.put(dg(1), b"\x61\x01\x01")
    chip.transmit(h("00A4040C07A0000002471001"))
    assert chip.transmit(h("00B0810010")) == h("6101016282")
    chip.fs.application.remove(dg(1))
    assert chip.transmit(h("00B0810010")) == h("6A82")
