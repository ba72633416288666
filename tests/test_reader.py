"""The whole read-and-verify procedure against every virtual document, without a network."""
import base64

import pytest

from docval.emrtd.errors import AccessControlError
from docval.emrtd.mrz import CanKey, MrzKey
from docval.errors import close_for
from docval.reader import ReadParams
from docval.sim import profiles
from docval.sim.direct import ChipTransport, read_sync

from bench.classic import ClassicScheduler
from tests.schema import check_emrtd_passport
from tests.support.readers import read_sync_with

STATUS_ORDER = [
    "READ_ATR_INFO", "ACCESS_CONTROL", "READ_SOD", "READ_DG14", "CHIP_AUTHENTICATION", "READ_DG15",
    "ACTIVE_AUTHENTICATION", "READ_DG1", "READ_DG2", "READ_DG7", "READ_DG11", "READ_DG12",
    "PASSIVE_AUTHENTICATION",
]


def read(profile, trust, *, classic=False, **kwargs):
    params = ReadParams(access_key=kwargs.pop("access_key", profile.access_key),
                        extended_length=kwargs.pop("extended_length", True), trust=trust, **kwargs)
    statuses = []
    transport = ChipTransport(profile.chip())
    if classic:     # the benchmarks' baseline strategy
        report = read_sync_with(ClassicScheduler, transport, params, statuses.append)
    else:
        report = read_sync(transport.chip, params, statuses.append, transport=transport)
    return report, statuses, transport


@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
def test_every_profile_reads_and_verifies_as_expected(name, demo_trust):
    profile = profiles.get_profile(name)
    report, statuses, _ = read(profile, demo_trust)
    obj = report.to_emrtd_passport(files_binary=True)
    check_emrtd_passport(obj)
    expect = profile.expect
    assert report.access_control == expect.access_control
    assert obj["chip_authentication_result"] == expect.chip_authentication, obj["errors"]
    assert obj["active_authentication_result"] == expect.active_authentication, obj["errors"]
    assert obj["passive_authentication"] is expect.passive_authentication, obj["errors"]
    # statuses come in docs/websocket-api.md (statuses) order, each at most once
    assert statuses == sorted(statuses, key=STATUS_ORDER.index)
    assert len(statuses) == len(set(statuses))
    assert statuses[-1] == "PASSIVE_AUTHENTICATION"
    # the result carries the chip's data, field by field
    mrz = obj["mrz_info"]
    assert mrz["primary_identifier"] == "TRAVELLER"
    assert mrz["secondary_identifier"] == ["HAPPY", "JOY"]
    assert mrz["date_of_birth"] == "850312" and mrz["date_of_expiry"] == profiles.DATE_OF_EXPIRY
    assert mrz["gender"] == "FEMALE" and mrz["issuing_state"] == "UTO"
    if name.startswith("td1-idcard"):
        assert mrz["document_type"] == "TD1" and mrz["document_number"] == profiles.ID_CARD_NUMBER
    else:
        assert mrz["document_type"] == "TD3" and mrz["document_number"] == profiles.PASSPORT_NUMBER
    assert base64.b64decode(obj["face_photo"]) == profiles._face()
    assert obj["trust_store_version"] == demo_trust.version
    assert set(obj["files_binary"]) >= {"sod", "dg1", "dg2"}


def test_trusted_reference_passport_is_fully_valid(demo_trust):
    report, statuses, _ = read(profiles.get_profile("pace-ecdh-gm-aes128"), demo_trust)
    obj = report.to_emrtd_passport()
    details = obj["passive_authentication_details"]
    assert details["error"] is None and details["all_hashes_valid"]
    assert details["data_groups_checked"] == [1, 2, 11, 12, 14, 15]
    assert obj["errors"] == []
    dg11 = obj["additional_personal_details"]
    assert dg11["place_of_birth"] == "PORT UTOPIA" and dg11["full_date_of_birth"] == "19850312"
    assert obj["additional_document_details"]["date_of_issue"] == "20240701"
    assert statuses == [s for s in STATUS_ORDER if s != "READ_DG7"]


def test_tampered_dg_fails_exactly_that_hash(demo_trust):
    report, _, _ = read(profiles.get_profile("tampered"), demo_trust)
    details = report.to_emrtd_passport()["passive_authentication_details"]
    assert 11 in details["data_groups_checked"] and 11 not in details["data_groups_with_valid_hash"]
    assert set(details["data_groups_with_valid_hash"]) == {1, 2, 12, 14, 15}
    assert details["sod_signature_valid"] and details["document_certificate_valid"]


def test_untrusted_document_certificate(demo_trust):
    report, _, _ = read(profiles.get_profile("untrusted"), demo_trust)
    details = report.to_emrtd_passport()["passive_authentication_details"]
    assert details["sod_signature_valid"] and not details["document_certificate_valid"]
    assert details["error"]


def test_without_trust_nothing_is_proven():
    report, _, _ = read(profiles.get_profile("pace-ecdh-gm-aes128"), None)
    obj = report.to_emrtd_passport()
    assert obj["passive_authentication"] is False
    assert obj["chip_authentication_result"] == "FAILED"
    assert obj["active_authentication_result"] == "FAILED"


@pytest.mark.parametrize("name", ["pace-ecdh-gm-aes128", "bac-3des"])
def test_wrong_mrz_is_access_control_failed(name, demo_trust):
    with pytest.raises(AccessControlError) as info:
        read(profiles.get_profile(name), demo_trust, access_key=MrzKey("XX0000000", "850312", "340630"))
    assert close_for(info.value).reason == "ACCESS_CONTROL_FAILED"


def test_wrong_can_is_access_control_failed(demo_trust):
    with pytest.raises(AccessControlError):
        read(profiles.get_profile("td1-idcard"), demo_trust, access_key=CanKey("000000"))


def test_can_on_a_bac_only_passport_is_refused(demo_trust):
    with pytest.raises(AccessControlError):
        read(profiles.get_profile("bac-3des"), demo_trust, access_key=CanKey(profiles.CAN))


def test_can_works_on_a_pace_passport(demo_trust):
    report, _, _ = read(profiles.get_profile("pace-ecdh-gm-aes128"), demo_trust,
                        access_key=CanKey(profiles.CAN))
    assert report.pa.passive_authentication and report.chip_authentication == "SUCCESS"


def test_dg1_mismatch_with_access_key_is_flagged(demo_trust):
    # The chip accepts a key with the same check data but the document says otherwise:
    # forge it by reading with the CAN while telling the reader MRZ data it did not use.
    report, _, _ = read(profiles.get_profile("pace-ecdh-gm-aes128"), demo_trust)
    assert not any("does not match the MRZ" in e for e in report.errors)


@pytest.mark.parametrize("options", [
    dict(extended_length=False),
    dict(extended_length=True, max_response_bytes=1024),
    dict(extended_length=True, max_pipelined=16),
    dict(extended_length=False, max_pipelined=8),
    dict(classic=True, extended_length=False),
])
def test_read_strategies_give_the_same_result(options, demo_trust):
    profile = profiles.get_profile("pace-ecdh-gm-aes128")
    base, _, _ = read(profile, demo_trust)
    other, _, transport = read(profile, demo_trust, **options)
    assert other.files == base.files
    assert other.to_emrtd_passport()["passive_authentication"] is True


def test_fewer_round_trips_than_the_classic_reader(demo_trust):
    profile = profiles.get_profile("pace-ecdh-gm-aes128")
    _, _, classic = read(profile, demo_trust, classic=True, extended_length=False)
    _, _, android = read(profile, demo_trust, extended_length=False)
    _, _, ios = read(profile, demo_trust, extended_length=True)
    _, _, piped = read(profile, demo_trust, extended_length=False, max_pipelined=16)
    # Without extended length or pipelining only SFI reads save round trips (223-byte
    # chunks either way); extended length or pipelining must cut them at least 3x.
    assert android.round_trips < classic.round_trips
    assert ios.round_trips * 3 < classic.round_trips
    assert piped.round_trips * 3 < classic.round_trips


@pytest.mark.parametrize("name", ["td1-idcard", "bac-3des"])
def test_phone_that_left_the_application_selected(name, demo_trust):
    """Some phones select the eMRTD application themselves: PACE must still be found."""
    from docval.emrtd.files import EMRTD_AID

    profile = profiles.get_profile(name)
    chip = profile.chip()
    assert chip.transmit(bytes.fromhex("00A4040C07") + EMRTD_AID) == b"\x90\x00"
    transport = ChipTransport(chip)
    report = read_sync(chip, ReadParams(access_key=profile.access_key, extended_length=False,
                                        trust=demo_trust), transport=transport)
    assert report.access_control == profile.expect.access_control
    assert report.pa.passive_authentication


def test_long_document_number_with_fillers_opens_the_td1_card(demo_trust):
    """The 12-character number is the whole password; fillers typed after it are ignored."""
    profile = profiles.get_profile("td1-idcard-mrz")
    key = MrzKey(profiles.ID_CARD_NUMBER + "<<<", "850312", profiles.DATE_OF_EXPIRY)
    report, _, _ = read(profile, demo_trust, access_key=key)
    assert report.pa.passive_authentication
    assert not any("does not match the MRZ" in e for e in report.errors)
    with pytest.raises(AccessControlError):     # the first nine characters alone are not it
        read(profile, demo_trust, access_key=MrzKey(profiles.ID_CARD_NUMBER[:9], "850312",
                                                    profiles.DATE_OF_EXPIRY))


# -- close reasons that do not blame the user wrongly (issue 15 §4) ------------------------

def _refuse_second_access_control(chip):
    """A chip that accepts the first PACE/BAC and refuses every later one."""
    from docval.emrtd.apdu import ResponseAPDU
    from tests.support.hostile_chips import HostileChip

    hostile = HostileChip(chip, "second-access-control-refused")

    def hook(c, cmd, resp):
        if cmd.ins == 0x22 and (cmd.p1, cmd.p2) == (0xC1, 0xA4):
            c.state["pace"] = c.state.get("pace", 0) + 1
        if cmd.ins == 0x82:
            c.state["bac"] = c.state.get("bac", 0) + 1
        if (cmd.ins == 0x86 and c.state.get("pace", 0) >= 2) or c.state.get("bac", 0) >= 2 or \
                (cmd.ins == 0x82 and c.state.get("pace", 0) >= 1):
            return ResponseAPDU(b"", 0x6300)
        return resp
    hostile.plain_hooks.append(hook)
    return hostile


@pytest.mark.parametrize("name", ["clone", "bac-3des"])
def test_access_control_failing_after_it_once_succeeded_is_communication_failed(name, demo_trust):
    # A clone fails CA, the reader re-establishes access control, and that fails: the
    # user's CAN/MRZ already worked once, so the app must not tell them to check it.
    from docval.emrtd.errors import AccessControlLost
    profile = profiles.get_profile(name)
    chip = profile.chip()
    if name == "bac-3des":
        from docval.sim.ca_chip import CaChip, CaKey
        chip.mechanisms = [m for m in chip.mechanisms if not isinstance(m, CaChip)]
        chip.mechanisms.append(CaChip(CaKey.generate_dh(1)))       # a clone's CA key
    hostile = _refuse_second_access_control(chip)
    params = ReadParams(access_key=profile.access_key, extended_length=True, trust=demo_trust)
    with pytest.raises(AccessControlLost) as info:
        read_sync(hostile, params)
    assert close_for(info.value).reason == "COMMUNICATION_FAILED"


def test_first_access_control_failing_is_still_access_control_failed(demo_trust):
    profile = profiles.get_profile("pace-ecdh-gm-aes128")
    wrong = MrzKey("XX1234567", "850312", profiles.DATE_OF_EXPIRY)
    params = ReadParams(access_key=wrong, extended_length=True, trust=demo_trust)
    with pytest.raises(AccessControlError) as info:
        read_sync(profile.chip(), params)
    assert close_for(info.value).reason == "ACCESS_CONTROL_FAILED"


# -- one extended attempt at most (issue 15 §7) -------------------------------------------

class _CountingExtended(ChipTransport):
    def __init__(self, chip):
        super().__init__(chip)
        self.extended = 0

    async def transmit_many(self, apdus):
        from docval.emrtd.apdu import CommandAPDU
        self.extended += sum(CommandAPDU.decode(a).is_extended for a in apdus)
        return await super().transmit_many(apdus)


@pytest.mark.parametrize("pipeline", [1, 16])
def test_phone_claiming_extended_length_on_a_chip_without_it_wastes_one_round_trip(pipeline, demo_trust):
    profile = profiles.get_profile("pace-short-nosfi")         # the chip answers 6700 to extended APDUs
    runs = {}
    for extended in (True, False):
        transport = _CountingExtended(profile.chip())
        params = ReadParams(access_key=profile.access_key, extended_length=extended, trust=demo_trust,
                            max_pipelined=pipeline)
        report = read_sync(transport.chip, params, transport=transport)
        assert report.to_emrtd_passport()["passive_authentication"] is True
        runs[extended] = transport
    # One extended attempt (a burst when pipelining), answered 6700, then short APDUs only;
    # CA's GENERAL AUTHENTICATE is short at once.  Before: 9 extended commands, 127 round trips.
    assert runs[True].extended == (1 if pipeline == 1 else 2)
    # Reading EF.ATR/INFO (absent on this chip) and the one refused attempt are the whole cost.
    assert runs[True].round_trips <= runs[False].round_trips + 3
