"""The standardized MODP groups and DH key agreement, checked against OpenSSL."""
from __future__ import annotations

import os
import subprocess
import warnings

import pytest

with warnings.catch_warnings():
    # cryptography deprecates finite-field DH; ICAO 9303 still uses it, so do we.
    warnings.simplefilter("ignore")
    from cryptography.hazmat.primitives.asymmetric import dh as cdh
    from cryptography.hazmat.primitives.serialization import load_pem_parameters

from docval.emrtd import dh
from docval.emrtd.errors import ParseError

pytestmark = pytest.mark.filterwarnings("ignore:Diffie-Hellman over finite fields")


def _openssl_group(index: int) -> cdh.DHParameterNumbers:
    pem = subprocess.run(
        ["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", f"dh_rfc5114:{index}"],
        check=True, capture_output=True,
    ).stdout
    return load_pem_parameters(pem).parameter_numbers()


@pytest.mark.parametrize("group", dh.GROUPS, ids=lambda g: g.name)
def test_constants_equal_openssl_rfc5114(group):
    # OpenSSL numbers the RFC 5114 groups 1..3; PACE ids are 0..2.
    nums = _openssl_group(group.pace_id + 1)
    assert (group.p, group.g, group.q) == (nums.p, nums.g, nums.q)
    assert group.p.bit_length() == {0: 1024, 1: 2048, 2: 2048}[group.pace_id]
    assert group.q.bit_length() == {0: 160, 1: 224, 2: 256}[group.pace_id]
    assert pow(group.g, group.q, group.p) == 1
    assert (group.p - 1) % group.q == 0 and group.cofactor * group.q == group.p - 1
    assert dh.group_by_pace_id(group.pace_id) is group
    assert dh.group_by_pace_id(3) is None


@pytest.mark.parametrize("group", dh.GROUPS, ids=lambda g: g.name)
def test_key_agreement_matches_openssl(group):
    params = _openssl_group(group.pace_id + 1).parameters()
    peer = params.generate_private_key()
    x = dh.random_exponent(group, os.urandom)
    y = dh.public_value(group, x)
    ours = cdh.DHPublicNumbers(y, params.parameter_numbers()).public_key()
    expected = peer.exchange(ours)
    peer_y = peer.public_key().public_numbers().y
    secret = dh.key_agreement(group, x, dh.decode_value(group, dh.encode_value(group, peer_y)))
    # OpenSSL strips leading zeros of the shared secret; RFC 2631 keeps p's length.
    assert secret.lstrip(b"\x00") == expected.lstrip(b"\x00")
    assert len(secret) == group.byte_length


def test_public_value_checks():
    group = dh.GROUPS[0]
    p = group.p
    for bad in (0, 1, p - 1, p, p + 1):
        with pytest.raises(ParseError):
            dh.check_value(group, bad)
    # an element of order 2 (p-1) is excluded above; a random non-subgroup element:
    non_member = 2
    assert pow(non_member, group.q, p) != 1
    with pytest.raises(ParseError):
        dh.check_value(group, non_member)
    with pytest.raises(ParseError):
        dh.decode_value(group, b"")
    with pytest.raises(ParseError):
        dh.decode_value(group, b"\x01" + b"\x00" * group.byte_length)   # longer than p
    y = dh.public_value(group, 12345)
    assert dh.decode_value(group, y.to_bytes(group.byte_length + 0, "big").lstrip(b"\x00")) == y
    with pytest.raises(ParseError):
        dh.key_agreement(group, group.q, y)      # y^q = 1: degenerate


def test_random_exponent_injection():
    group = dh.GROUPS[0]
    draws = iter([b"\x00" * 20, (7).to_bytes(20, "big")])
    assert dh.random_exponent(group, lambda n: next(draws)) == 7
    with pytest.raises(RuntimeError):
        dh.random_exponent(group, lambda n: b"\x00" * n)
    assert repr(group) == "DHGroup(MODP-1024-160, pace_id=0)"
