"""Pipelined bursts in the reader change how many round trips a read takes, nothing else."""
import pytest

from docval.reader import ReadParams
from docval.sim import profiles
from docval.sim.direct import ChipTransport, read_sync

from bench.classic import ClassicScheduler
from tests.support.readers import read_sync_with


def read(profile, trust, *, classic=False, **kwargs):
    params = ReadParams(access_key=profile.access_key, trust=trust, **kwargs)
    statuses = []
    transport = ChipTransport(profile.chip())
    if classic:     # the benchmarks' baseline strategy
        report = read_sync_with(ClassicScheduler, transport, params, statuses.append)
    else:
        report = read_sync(transport.chip, params, statuses.append, transport=transport)
    return report, statuses, transport


def comparable(report):
    # Some virtual documents sign their EF.SOD afresh per chip (ECDSA is randomized):
    # everything else must be identical.
    obj = report.to_emrtd_passport(files_binary=True)
    obj["files_binary"].pop("sod", None)
    return obj


@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
@pytest.mark.parametrize("extended_length", [False, True], ids=["short", "extended"])
@pytest.mark.parametrize("pipeline", [2, 16])
def test_pipelined_reads_report_exactly_what_sequential_reads_do(name, extended_length, pipeline, demo_trust):
    profile = profiles.get_profile(name)
    base, base_statuses, base_t = read(profile, demo_trust, extended_length=extended_length)
    piped, statuses, t = read(profile, demo_trust, extended_length=extended_length, max_pipelined=pipeline)
    assert statuses == base_statuses
    assert {k: v for k, v in piped.files.items() if k != "sod"} == \
        {k: v for k, v in base.files.items() if k != "sod"}
    assert comparable(piped) == comparable(base)
    assert piped.errors == base.errors
    assert t.round_trips <= base_t.round_trips
    assert t.apdus <= base_t.apdus + 3   # a burst redone on its own costs a few APDUs at most


def test_bursts_respect_the_declared_depth(demo_trust):
    profile = profiles.get_profile("pace-ecdh-gm-aes128")
    seen = []

    class Recording(ChipTransport):
        async def transmit_many(self, apdus):
            seen.append(len(apdus))
            return await super().transmit_many(apdus)

    transport = Recording(profile.chip())
    params = ReadParams(access_key=profile.access_key, extended_length=False, trust=demo_trust, max_pipelined=3)
    read_sync(transport.chip, params, transport=transport)
    assert max(seen) == 3


@pytest.mark.parametrize("options, ceiling", [
    (dict(extended_length=False, max_pipelined=16), 20),
    (dict(extended_length=True, max_response_bytes=1024, max_pipelined=16), 15),
    (dict(extended_length=True, max_pipelined=16), 16),
    (dict(extended_length=True, max_response_bytes=1024), 36),
])
def test_reference_passport_round_trips(options, ceiling, demo_trust):
    report, _, t = read(profiles.get_profile("pace-ecdh-gm-aes128"), demo_trust, **options)
    assert report.to_emrtd_passport()["passive_authentication"] is True
    assert t.round_trips <= ceiling


def test_classic_ignores_pipelining(demo_trust):
    profile = profiles.get_profile("pace-ecdh-gm-aes128")
    _, _, classic = read(profile, demo_trust, extended_length=False, classic=True)
    _, _, classic_piped = read(profile, demo_trust, extended_length=False, classic=True, max_pipelined=16)
    assert classic_piped.round_trips == classic.round_trips == classic.apdus


def test_a_document_without_dg14_costs_the_speculative_read_one_apdu(demo_trust):
    # PACE-GM without Chip Authentication: DG14 is read ahead with EF.SOD's last burst,
    # the chip answers 6A82, and the reader drops it at READ_DG14.
    profile = profiles._pace_profile("no-ca", "PACE-GM without CA", profiles.Expect(
        "PACE-ECDH-GM-AES-CBC-CMAC-128", "UNAVAILABLE", "UNAVAILABLE"),
        mapping="GM", cipher="AES128", parameter_id=13, ca_curve=None, aa=None)
    base, base_statuses, base_t = read(profile, demo_trust, extended_length=False)
    piped, statuses, t = read(profile, demo_trust, extended_length=False, max_pipelined=16)
    assert 14 not in base.sod_hashes
    assert statuses == base_statuses and piped.errors == base.errors == []
    assert comparable(piped) == comparable(base)
    assert t.round_trips < base_t.round_trips and t.apdus == base_t.apdus + 1
