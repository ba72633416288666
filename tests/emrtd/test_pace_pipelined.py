"""PACE with MSE:Set AT and the first GENERAL AUTHENTICATE in one burst (ICAO 9303-11 G.1 values)."""
import pytest

from docval.emrtd import crypto, pace
from docval.emrtd.errors import AccessControlError, StatusError
from docval.emrtd.securityinfo import PACEInfo
from tests.emrtd.test_pace import G1, G1_SCRIPT, ICAO_MRZ, OID_ECDH_GM_AES128, same_keys
from tests.support.flows import Script, drive
from tests.support.rng import scripted_rng


def g1_flow(pipeline):
    return pace.pace(ICAO_MRZ, PACEInfo(OID_ECDH_GM_AES128, 2, 13),
                     rng=scripted_rng(G1["map_sk_ifd"], G1["sk_ifd"]), pipeline=pipeline)


@pytest.mark.parametrize("pipeline", [2, 16])
def test_mse_and_first_ga_share_a_burst_and_give_the_worked_example_keys(pipeline):
    driven = drive(g1_flow(pipeline), Script(G1_SCRIPT).answer)
    assert driven.bursts == [2, 1, 1, 1]
    assert same_keys(driven.result.sm, G1["ks_enc"], G1["ks_mac"], crypto.AES128)


def test_without_pipelining_every_command_waits_for_its_answer():
    assert drive(g1_flow(1), Script(G1_SCRIPT).answer).bursts == [1, 1, 1, 1, 1]


@pytest.mark.parametrize("mse_sw, error", [("6A80", StatusError), ("6983", AccessControlError)])
def test_a_refused_mse_wins_over_whatever_the_ga_got(mse_sw, error):
    # The chip answers the GA sent behind a refused MSE with anything; it is never read.
    script = [(G1_SCRIPT[0][0], mse_sw), (G1_SCRIPT[1][0], G1_SCRIPT[1][1])]
    with pytest.raises(error):
        drive(g1_flow(2), Script(script).answer)
