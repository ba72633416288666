"""The curve table must equal OpenSSL's own explicit parameters (an independent source)."""
import shutil
import subprocess

import pytest
from asn1crypto import keys

from docval.emrtd import ec

OPENSSL_NAMES = {"secp192r1": "prime192v1", "secp256r1": "prime256v1"}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not installed")
@pytest.mark.parametrize("curve", ec.CURVES, ids=lambda c: c.name)
def test_curve_matches_openssl(curve):
    der = subprocess.run(
        ["openssl", "ecparam", "-name", OPENSSL_NAMES.get(curve.name, curve.name),
         "-param_enc", "explicit", "-outform", "DER"],
        check=True, capture_output=True,
    ).stdout
    spec = keys.SpecifiedECDomain.load(der)
    gx, gy = spec["base"].to_coords()
    assert curve.params() == (
        spec["field_id"]["parameters"].native,
        int.from_bytes(spec["curve"]["a"].native, "big"),
        int.from_bytes(spec["curve"]["b"].native, "big"),
        gx, gy, spec["order"].native, spec["cofactor"].native,
    )
    assert ec.match_explicit(*curve.params()) is curve


def test_pace_ids_are_the_standardized_ones():
    assert sorted(ec.BY_PACE_ID) == list(range(8, 19))
    assert ec.curve_by_pace_id(13).name == "brainpoolP256r1"
    assert ec.curve_by_pace_id(12).name == "secp256r1"


def test_fake_curve_sharing_p_is_rejected():
    bp = ec.BY_NAME["brainpoolP256r1"]
    assert ec.match_explicit(bp.p, bp.a, bp.b + 1, bp.gx, bp.gy, bp.n, bp.h) is None


def test_curve_for_a_cryptography_curve():
    from cryptography.hazmat.primitives.asymmetric import ec as cec
    assert ec.curve_for(cec.BrainpoolP384R1()) is ec.BY_NAME["brainpoolP384r1"]
    assert ec.curve_for(cec.SECP256R1()) is ec.BY_NAME["secp256r1"]
    assert ec.curve_for(cec.SECP256K1()) is None          # not an eMRTD curve
