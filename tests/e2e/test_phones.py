"""The phones DocVal meets, all reading the same passport at the same time: each gets
the very same result, and the server keeps to what each phone declared (short APDUs,
response size, how many commands may be in flight)."""
from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import defer

from docval.emrtd import files
from docval.emrtd.apdu import CommandAPDU
from docval.sim import profiles
from tests.schema import check_emrtd_passport

from . import document as doc
from .stack import RETURNING, TapChip

SHORT_RESPONSE = 256 + 2       # Le = 256 at most, plus SW1 SW2


def ios_chip(profile_name):
    """A chip as the iOS SDK hands it over: it read EF.ATR/INFO itself, so the master
    file and EF.ATR/INFO are left selected."""
    chip = profiles.get_profile(profile_name).chip()
    for command in ("00A4000C023F00", f"00A4020C02{files.ATR_INFO.fid:04X}", "00B0000000"):
        assert chip.transmit(bytes.fromhex(command))[-2:] in (b"\x90\x00", b"\x62\x82")
    return chip


PHONES = {
    # name: (StartMessage options, reads EF.ATR/INFO)
    "sdk-default": (dict(), True),
    "android": (dict(platform="android", extended_length=False), False),
    "android-limits": (dict(platform="android", extended_length=False, max_command_bytes=261,
                            max_response_bytes=258), False),
    # IsoDep.getMaxTransceiveLength() of many phones without extended length.
    "android-253": (dict(platform="android", extended_length=False, max_command_bytes=253,
                         max_response_bytes=253), False),
    "extended-300": (dict(max_command_bytes=300, max_response_bytes=300), False),
    "ios": (dict(platform="ios"), True),
    "ios-1024": (dict(platform="ios", max_response_bytes=1024), False),
    # docs/websocket-api.md (statuses): either limit alone is enough to skip EF.ATR/INFO.
    "ios-1024-command-only": (dict(platform="ios", max_command_bytes=1024), False),
    "ios-1024-both": (dict(platform="ios", max_command_bytes=1024, max_response_bytes=1024), False),
    "pipelined-16": (dict(max_pipelined_apdus=16, delay=0.01), True),
    "delayed": (dict(delay=0.02), True),
    "android-pipelined-delayed": (dict(platform="android", extended_length=False,
                                       max_pipelined_apdus=4, delay=0.01), False),
    "ios-pipelined-delayed": (dict(platform="ios", max_pipelined_apdus=16, delay=0.015,
                                   max_response_bytes=1024), False),
}


@pytest_twisted.ensureDeferred
async def test_every_phone_variant_gets_the_same_result(make_stack):
    stack = make_stack()
    name = profiles.DEFAULT_PROFILE
    chips = {phone: TapChip(ios_chip(name) if phone.startswith("ios") else profiles.get_profile(name).chip())
             for phone in PHONES}
    traces = dict(zip(PHONES, await defer.gatherResults([
        stack.phone(name, chip=chips[phone], client_id=RETURNING, return_result=True, **options)
        for phone, (options, _) in PHONES.items()
    ]), strict=True))
    reference = traces["sdk-default"].result
    check_emrtd_passport(reference)
    dgs = doc.data_groups(chips["sdk-default"].chip)
    assert reference["passive_authentication"] is True
    assert reference["mrz_info"] == doc.expected_mrz_info(dgs[1])

    for phone, (options, reads_atr_info) in PHONES.items():
        trace, chip = traces[phone], chips[phone]
        trace.assert_closed_by_server(1000, None)
        assert trace.result == reference, phone
        assert trace.statuses == doc.expected_statuses(dgs, read_atr_info=reads_atr_info), phone
        # Never more commands in flight than the phone allows (1 unless it said otherwise).
        assert trace.max_outstanding() <= options.get("max_pipelined_apdus", 1), phone
        if not options.get("extended_length", True):
            # (Extended commands to such phones: test_android_without_extended_length below.)
            assert max(map(len, chip.responses)) <= SHORT_RESPONSE, phone
        if options.get("max_response_bytes"):
            assert max(map(len, chip.responses)) <= options["max_response_bytes"], phone
        if options.get("max_command_bytes"):
            assert max(map(len, chip.commands)) <= options["max_command_bytes"], phone
    # Pipelining is used when allowed: it is what makes a slow network bearable.
    assert traces["pipelined-16"].max_outstanding() > 1
    assert len(chips["pipelined-16"].commands) <= len(chips["delayed"].commands) + 4


class ShortOnlyAdapter:
    """An NFC adapter without extended length support, as on many Android phones:
    ``IsoDep.transceive`` of an extended APDU fails, and the SDK gives up on the tag."""

    def __init__(self, chip):
        self.chip = chip
        self.refused = []

    def transmit(self, apdu):
        command = CommandAPDU.decode(apdu)
        if command.is_extended or len(apdu) > 261:
            self.refused.append((command.cla, command.ins))
            raise OSError("transceive failed: extended length not supported by the NFC adapter")
        return self.chip.transmit(apdu)


# A phone without extended length cannot carry RSA-2048 Active Authentication (a 285-byte
# protected answer); 3DES Chip Authentication with a 2048-bit DH key (a 279-byte MSE:Set
# KAT) goes as an ISO 7816-4 command chain.  Everything runs in short APDUs; AA is
# UNAVAILABLE only where CA proved the chip, with nothing in errors (docs/verdicts.md).


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("name", [
    n for n in sorted(profiles.PROFILES)])
async def test_android_without_extended_length_reads_every_document(make_stack, name):
    stack = make_stack()
    adapter = ShortOnlyAdapter(profiles.get_profile(name).chip())
    trace = await stack.phone(name, chip=adapter, client_id=RETURNING, return_result=True,
                              platform="android", extended_length=False)
    assert adapter.refused == [], f"extended commands sent: {adapter.refused}"
    trace.assert_closed_by_server(1000, None)
    result, expect = trace.result, profiles.get_profile(name).expect
    assert result["passive_authentication"] is expect.passive_authentication
    assert result["chip_authentication_result"] == expect.chip_authentication
    if name in ("bac-3des", "pace-dh-gm-3des"):      # RSA-2048 AA: its answer needs extended length
        assert result["chip_authentication_result"] == "SUCCESS"
        assert result["active_authentication_result"] == "UNAVAILABLE"
        assert result["errors"] == []
    else:
        assert result["active_authentication_result"] == expect.active_authentication


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("name, limit", [("bac-3des", 261), ("pace-dh-gm-3des", 128),
                                         ("pace-ecdh-im-aes256", 128)])
async def test_commands_stay_within_max_command_bytes(make_stack, name, limit):
    stack = make_stack()
    chip = TapChip(profiles.get_profile(name).chip())
    trace = await stack.phone(name, chip=chip, client_id=RETURNING, return_result=True,
                              max_command_bytes=limit, max_response_bytes=1024)
    assert trace.record.close_message is not None      # however it ends, the server ends it
    too_long = [len(c) for c in chip.commands if len(c) > limit]
    assert too_long == [], f"commands longer than {limit} bytes: {too_long}"
    # Chaining carries CA within the limit: the chip is proven, not skipped.
    trace.assert_closed_by_server(1000, None)
    assert trace.result["chip_authentication_result"] == "SUCCESS", trace.result["errors"]


@pytest_twisted.ensureDeferred
async def test_start_message_forms_the_sdks_send_are_accepted(make_stack):
    stack = make_stack()
    key = {"document_number": profiles.PASSPORT_NUMBER.lower(), "date_of_birth": profiles.HOLDER["date_of_birth"],
           "date_of_expiry": profiles.DATE_OF_EXPIRY}
    forms = {
        "null limits (read EF.ATR/INFO)": (lambda m: dict(m, max_command_bytes=None, max_response_bytes=None), True),
        "diagnostics asked": (lambda m: dict(m, enable_diagnostics=True), True),
        "diagnostics false": (lambda m: dict(m, enable_diagnostics=False), True),
        "another platform": (lambda m: dict(m, platform="harmonyos"), True),
        "lower-case document number": (lambda m: dict(m, access_key=key), True),
        "most pipelining": (lambda m: dict(m, max_pipelined_apdus=64), True),
        "no extended length, null limits": (
            lambda m: dict(m, nfc_adapter_supports_extended_length=False, max_command_bytes=None), False),
    }
    traces = await defer.gatherResults([
        stack.phone(client_id=RETURNING, return_result=True, edit=edit) for edit, _ in forms.values()])
    for (what, (_, atr_info)), trace in zip(forms.items(), traces, strict=True):
        trace.assert_closed_by_server(1000, None)
        assert (trace.statuses[0] == "READ_ATR_INFO") is atr_info, what
        assert trace.result["mrz_info"]["document_number"] == profiles.PASSPORT_NUMBER, what
        assert trace.result["passive_authentication"] is True, what
