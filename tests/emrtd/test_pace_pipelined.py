"""PACE with MSE:Set AT and the first GENERAL AUTHENTICATE in one burst (ICAO 9303-11 G.1 values)."""
import pytest

from docval.emrtd import crypto, pace
from docval.emrtd.apdu import ResponseAPDU
from docval.emrtd.errors import AccessControlError, StatusError
from docval.emrtd.securityinfo import PACEInfo
from tests.emrtd.test_pace import G1, G1_SCRIPT, ICAO_MRZ, OID_ECDH_GM_AES128, rng_of, same_keys


def drive(flow, script):
    """Answer each command from the script, recording the bursts as the flow yields them."""
    steps = iter(script)
    bursts = []

    def answer(cmd):
        expected, response = next(steps)
        if expected is not None:
            assert cmd.encode().hex().upper() == expected.upper()
        return ResponseAPDU.decode(bytes.fromhex(response))

    try:
        step = next(flow)
        while True:
            if isinstance(step, tuple):
                bursts.append(len(step))
                step = flow.send(tuple(answer(c) for c in step))
            else:
                bursts.append(1)
                step = flow.send(answer(step))
    except StopIteration as done:
        return done.value, bursts


def g1_flow(pipeline):
    return pace.pace(ICAO_MRZ, PACEInfo(OID_ECDH_GM_AES128, 2, 13),
                     rng=rng_of(G1["map_sk_ifd"], G1["sk_ifd"]), pipeline=pipeline)


@pytest.mark.parametrize("pipeline", [2, 16])
def test_mse_and_first_ga_share_a_burst_and_give_the_worked_example_keys(pipeline):
    result, bursts = drive(g1_flow(pipeline), G1_SCRIPT)
    assert bursts == [2, 1, 1, 1]
    assert same_keys(result.sm, G1["ks_enc"], G1["ks_mac"], crypto.AES128)


def test_without_pipelining_every_command_waits_for_its_answer():
    _, bursts = drive(g1_flow(1), G1_SCRIPT)
    assert bursts == [1, 1, 1, 1, 1]


@pytest.mark.parametrize("mse_sw, error", [("6A80", StatusError), ("6983", AccessControlError)])
def test_a_refused_mse_wins_over_whatever_the_ga_got(mse_sw, error):
    # The chip answers the GA sent behind a refused MSE with anything; it is never read.
    script = [(G1_SCRIPT[0][0], mse_sw), (G1_SCRIPT[1][0], G1_SCRIPT[1][1])]
    with pytest.raises(error):
        drive(g1_flow(2), script)
