"""Terminal (docval.emrtd.ca/aa) against the virtual chip (docval.sim.ca_chip/aa_chip)."""
from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.asymmetric import rsa

from docval.emrtd import aa, ca, crypto, securityinfo as si
from docval.emrtd.apdu import CommandAPDU, ResponseAPDU
from docval.emrtd.errors import AuthenticationError, SecureMessagingError
from docval.emrtd.files import EMRTD_AID, dg
from docval.emrtd.flow import Link, run
from docval.emrtd.sm import SecureMessaging
from docval.sim.aa_chip import AaChip, build_dg15
from docval.sim.ca_chip import CaChip, CaKey, build_dg14
from docval.sim.chip import VirtualChip
from docval.sim.mechanism import Mechanism
from tests.support.flows import RecordingChip


def _session(dg14: bytes = b"", dg15: bytes = b"", spec=crypto.AES128):
    """A chip and a terminal link sharing access-control SM keys, as after PACE."""
    files = {dg(1): b"\x61\x03\x5f\x1f\x00"}
    if dg14:
        files[dg(14)] = dg14
    if dg15:
        files[dg(15)] = dg15
    chip = VirtualChip(app_files=files)
    assert chip.fs.select_application(EMRTD_AID)
    k_enc, k_mac = os.urandom(spec.key_length), os.urandom(spec.key_length)
    chip.start_sm(SecureMessaging(spec, k_enc, k_mac))
    chip.access_granted = True
    link = Link()
    link.start(SecureMessaging(spec, k_enc, k_mac))
    return chip, link


def _protected_read(link, chip) -> bytes:
    def flow():
        resp = yield CommandAPDU(0x00, 0xB0, 0x81, 0x00, le=5)      # READ BINARY DG1 by SFI
        return resp

    resp = run(flow(), link, chip.transmit)
    assert resp.sw == 0x9000
    return resp.data


def _run_ca(dg14: bytes, mechanism: CaChip, spec=crypto.AES128, **kw):
    chip, link = _session(dg14=dg14, spec=spec)
    chip.mechanisms.append(mechanism)
    choice = ca.choose_ca(si.parse_dg14(dg14))
    result = run(ca.chip_authentication(*choice, **kw), link, chip.transmit)
    link.start(result.sm)
    return result, link, chip


CA_CASES = [
    ("secp256r1", "AES128", "CA-ECDH-AES-CBC-CMAC-128"),
    ("brainpoolP256r1", "AES192", "CA-ECDH-AES-CBC-CMAC-192"),
    ("brainpoolP384r1", "AES256", "CA-ECDH-AES-CBC-CMAC-256"),
    ("brainpoolP224r1", "AES128", "CA-ECDH-AES-CBC-CMAC-128"),     # a curve only ecpoint knows
    ("brainpoolP256r1", "TDES", "CA-ECDH-3DES-CBC-CBC"),
]


@pytest.mark.parametrize("curve,cipher,name", CA_CASES)
def test_ca_ecdh(curve, cipher, name):
    key = CaKey.generate_ec(curve)
    result, link, chip = _run_ca(build_dg14(key, cipher=cipher, key_id=7), CaChip({7: key}))
    assert (result.protocol, result.key_id, result.domain) == (name, 7, curve)
    assert _protected_read(link, chip) == b"\x61\x03\x5f\x1f\x00"
    assert link.sm.spec == {"TDES": crypto.TDES, "AES128": crypto.AES128, "AES192": crypto.AES192,
                            "AES256": crypto.AES256}[cipher]


@pytest.mark.parametrize("group,cipher,name", [(2, "TDES", "CA-DH-3DES-CBC-CBC"), (1, "AES128", "CA-DH-AES-CBC-CMAC-128"),
                                               (0, "AES256", "CA-DH-AES-CBC-CMAC-256")])
def test_ca_dh(group, cipher, name):
    key = CaKey.generate_dh(group)
    result, link, chip = _run_ca(build_dg14(key, cipher=cipher), CaChip(key), spec=crypto.TDES)
    assert result.protocol == name and result.domain.startswith("MODP-")
    assert _protected_read(link, chip)


def test_ca_3des_via_general_authenticate():
    key = CaKey.generate_ec("secp256r1")
    result, link, chip = _run_ca(build_dg14(key, cipher="TDES"), CaChip(key), tdes_with_general_authenticate=True)
    assert _protected_read(link, chip)


def test_ca_french_fallback_without_info():
    key = CaKey.generate_ec("secp256r1")
    dg14 = build_dg14(key, include_ca_info=False, explicit_parameters=True)
    assert si.parse_dg14(dg14).ca_infos == []
    result, link, chip = _run_ca(dg14, CaChip(key))
    assert result.inferred and result.protocol == "CA-ECDH-3DES-CBC-CBC"
    assert _protected_read(link, chip)


def test_ca_picks_key_by_id():
    k1, k2 = CaKey.generate_ec("brainpoolP256r1"), CaKey.generate_ec("brainpoolP256r1")
    from docval.emrtd.securityinfo import encode_dg14
    from docval.sim.ca_chip import ca_security_infos

    infos = ca_security_infos(k1, key_id=1, include_ca_info=False) + ca_security_infos(k2, key_id=2)
    result, link, chip = _run_ca(encode_dg14(infos), CaChip({1: k1, 2: k2}))
    assert result.key_id == 2
    assert _protected_read(link, chip)


@pytest.mark.parametrize("cipher", ["AES128", "TDES"])
def test_ca_clone_fails_at_the_protected_read(cipher):
    published, actual = CaKey.generate_ec("brainpoolP256r1"), CaKey.generate_ec("brainpoolP256r1")
    result, link, chip = _run_ca(build_dg14(published, cipher=cipher), CaChip(actual))
    with pytest.raises(SecureMessagingError):
        _protected_read(link, chip)
    assert chip.sm is None                       # the chip ended the session too


def test_ca_unknown_key_id_refused_by_chip():
    key = CaKey.generate_ec("secp256r1")
    chip, link = _session()
    chip.mechanisms.append(CaChip({1: key}))
    infos = si.parse_dg14(build_dg14(key, key_id=9))
    with pytest.raises(AuthenticationError):
        run(ca.chip_authentication(*ca.choose_ca(infos)), link, chip.transmit)


def test_chip_refuses_off_curve_ephemeral_key():
    key = CaKey.generate_ec("secp256r1")
    chip, link = _session()
    mech = CaChip(key)
    chip.mechanisms.append(mech)

    def flow():
        oid = si.encode_oid(si.ca_oid("ECDH", "AES128"))[2:]
        resp = yield CommandAPDU(0x00, 0x22, 0x41, 0xA4, b"\x80" + bytes([len(oid)]) + oid)
        assert resp.sw == 0x9000
        bad = b"\x04" + bytes(31) + b"\x01" + bytes(31) + b"\x01"
        resp = yield CommandAPDU(0x00, 0x86, 0x00, 0x00, b"\x7c\x43\x80\x41" + bad, le=256)
        return resp

    assert run(flow(), link, chip.transmit).sw == 0x6A80 and mech.completed == 0


def _ca_oid_do(key_agreement: str = "ECDH") -> bytes:
    oid = si.encode_oid(si.ca_oid(key_agreement, "AES128"))[2:]
    return b"\x80" + bytes([len(oid)]) + oid


@pytest.mark.parametrize("commands,sw", [
    # MSE:Set KAT without the ephemeral key DO'91'
    ([CommandAPDU(0x00, 0x22, 0x41, 0xA6, b"\x83\x01\x01")], 0x6A80),
    # MSE:Set KAT whose data is not TLV
    ([CommandAPDU(0x00, 0x22, 0x41, 0xA6, b"\x91\x05\x04")], 0x6A80),
    # MSE:Set AT naming CA-DH for an EC key
    ([CommandAPDU(0x00, 0x22, 0x41, 0xA4, _ca_oid_do("DH"))], 0x6A80),
    # GENERAL AUTHENTICATE without MSE:Set AT first
    ([CommandAPDU(0x00, 0x86, 0x00, 0x00, b"\x7c\x02\x80\x00", le=256)], 0x6985),
    # GENERAL AUTHENTICATE without the '80' key inside '7C'
    ([CommandAPDU(0x00, 0x22, 0x41, 0xA4, _ca_oid_do()),
      CommandAPDU(0x00, 0x86, 0x00, 0x00, b"\x7c\x03\x81\x01\x00", le=256)], 0x6A80),
], ids=["kat-no-91", "kat-not-tlv", "at-wrong-agreement", "ga-first", "ga-no-80"])
def test_chip_refuses_malformed_ca_commands_and_keeps_its_keys(commands, sw):
    chip, link = _session()
    mech = CaChip(CaKey.generate_ec("secp256r1"))
    chip.mechanisms.append(mech)

    def flow():
        resp = None
        for cmd in commands:
            resp = yield cmd
        return resp

    assert run(flow(), link, chip.transmit).sw == sw
    assert mech.completed == 0 and _protected_read(link, chip) == b"\x61\x03\x5f\x1f\x00"


def test_mse_that_names_no_ca_protocol_is_not_for_the_ca_mechanism():
    mech = CaChip(CaKey.generate_ec("secp256r1"))
    for data in (b"\x80\x01", b"\x83\x01\x01", b"\x80\x02\x80\x00", b"\x80\x01\x2a"):
        assert not mech.claims(CommandAPDU(0x00, 0x22, 0x41, 0xA4, data))
    assert not mech.claims(CommandAPDU(0x00, 0x22, 0xC1, 0xA4, _ca_oid_do()))
    assert mech.claims(CommandAPDU(0x00, 0x22, 0x41, 0xA4, _ca_oid_do()))


# ---------------------------------------------------------------- Active Authentication

def _run_aa(dg15: bytes, chip_mechanism: Mechanism, dg14: bytes = b""):
    chip, link = _session(dg15=dg15)
    chip.mechanisms.append(chip_mechanism)
    key = aa.parse_dg15(dg15)
    infos = si.parse_dg14(dg14) if dg14 else si.SecurityInfos()
    return run(aa.active_authentication(key, infos.aa_infos[0] if infos.aa_infos else None), link, chip.transmit)


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(65537, 1024)


@pytest.mark.parametrize("hash_name", ["SHA-1", "SHA-256"])
def test_aa_rsa(rsa_key, hash_name):
    result = _run_aa(build_dg15(rsa_key), AaChip(rsa_key, hash_name=hash_name))
    assert result == aa.AaResult(True, f"RSA-1024 ISO9796-2 {hash_name}")


def test_aa_rsa_2048_min_representation():
    key = rsa.generate_private_key(65537, 2048)
    result = _run_aa(build_dg15(key), AaChip(key, hash_name="SHA-256", min_representation=True))
    assert result.success


def test_aa_ecdsa_p256_plain_with_aa_info():
    key = cec.generate_private_key(cec.SECP256R1())
    dg14 = build_dg14(aa_signature_algorithm="1.2.840.10045.4.3.2")
    result = _run_aa(build_dg15(key), AaChip(key, hash_name="SHA-256"), dg14)
    assert result == aa.AaResult(True, "ECDSA secp256r1 SHA-256 plain")


def test_aa_ecdsa_brainpool_der_without_aa_info():
    key = cec.generate_private_key(cec.BrainpoolP256R1())
    result = _run_aa(build_dg15(key), AaChip(key, hash_name="SHA-256", signature_format="der"))
    assert result == aa.AaResult(True, "ECDSA brainpoolP256r1 SHA-256 DER")


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_aa_clone_fails(rsa_key, kind):
    if kind == "rsa":
        published, actual = rsa_key, rsa.generate_private_key(65537, 1024)
    else:
        published, actual = cec.generate_private_key(cec.SECP256R1()), cec.generate_private_key(cec.SECP256R1())
    result = _run_aa(build_dg15(published), AaChip(actual, hash_name="SHA-256"))
    assert not result.success and result.error


def test_aa_replayed_signature_fails(rsa_key):
    """A relay that answers with a signature the genuine chip gave earlier."""
    genuine = AaChip(rsa_key)
    old = genuine.sign(bytes.fromhex("0001020304050607"))

    class Replay(Mechanism):
        def claims(self, cmd):
            return cmd.ins == 0x88

        def answer(self, chip, cmd):
            return ResponseAPDU(old, 0x9000)
    replay = Replay()
    result = _run_aa(build_dg15(rsa_key), replay)
    assert not result.success and "challenge" in result.error


def test_aa_chip_refuses_wrong_challenge_length(rsa_key):
    chip, link = _session()
    chip.mechanisms.append(AaChip(rsa_key))

    def flow():
        resp = yield CommandAPDU(0x00, 0x88, 0x00, 0x00, bytes(7), le=128)
        return resp

    assert run(flow(), link, chip.transmit).sw == 0x6700


def test_aa_chip_status_error_raises(rsa_key):
    chip, link = _session()       # no AaChip plugged in: 6D00
    with pytest.raises(AuthenticationError):
        run(aa.active_authentication(aa.parse_dg15(build_dg15(rsa_key))), link, chip.transmit)


def test_dg14_builder_round_trip():
    key = CaKey.generate_dh(2)
    dg14 = build_dg14(key, cipher="AES256", key_id=3, aa_signature_algorithm="0.4.0.127.0.7.1.1.4.1.3",
                      terminal_authentication=True,
                      extra=[si.PACEInfo(si.pace_oid("ECDH", "GM", "AES128"), 2, 13)])
    infos = si.parse_dg14(dg14)
    assert [c.name for c in infos.ca_infos] == ["CA-DH-AES-CBC-CMAC-256"]
    assert infos.ca_public_keys[0].key_id == 3 and infos.aa_infos[0].version == 1
    assert [p.name for p in infos.pace_infos] == ["PACE-ECDH-GM-AES-CBC-CMAC-128"]
    assert ca.load_ca_key(infos.ca_public_keys[0]).dh_p == key.group.p
    named = si.parse_dg14(build_dg14(CaKey.generate_ec("secp384r1"), explicit_parameters=False))
    assert ca.load_ca_key(named.ca_public_keys[0]).curve.name == "secp384r1"
    assert "private" not in repr(key) and str(key.private)[:12] not in repr(key)


def test_ca_and_aa_on_a_chip_without_extended_length(rsa_key):
    from docval.sim.chip import ChipQuirks

    key = CaKey.generate_ec("brainpoolP256r1")
    dg14 = build_dg14(key, cipher="AES128")
    chip, link = _session(dg14=dg14)
    chip.quirks = ChipQuirks(extended_length=False)
    chip.mechanisms.extend([CaChip(key), AaChip(rsa_key)])
    ca_result = run(ca.chip_authentication(*ca.choose_ca(si.parse_dg14(dg14))), link, chip.transmit)
    link.start(ca_result.sm)
    assert _protected_read(link, chip)
    aa_result = run(aa.active_authentication(aa.parse_dg15(build_dg15(rsa_key))), link, chip.transmit)
    assert aa_result.success


# -- ISO 7816-4 command chaining under Secure Messaging (issue 15 §1) ----------------------


@pytest.mark.parametrize("cipher", ["TDES", "AES128"])
def test_ca_dh_2048_is_chained_in_short_apdus_each_part_protected(cipher):
    key = CaKey.generate_dh(1)                          # 2048-bit MODP: a 256-byte public key
    chip, link = _session(dg14=build_dg14(key, cipher=cipher), spec=crypto.AES128)
    chip.mechanisms.append(CaChip(key))
    link.extended = False
    wire = RecordingChip(chip)
    choice = ca.choose_ca(si.parse_dg14(build_dg14(key, cipher=cipher)))
    max_data = link.max_command_data()
    assert max_data == link.sm.max_plain_lc(261) < 256
    ssc_before = link.sm.ssc
    result = run(ca.chip_authentication(*choice, extended_length=False, max_command_data=max_data),
                 link, wire.transmit)
    assert all(len(raw) <= 261 and raw[0] & 0x0C == 0x0C for raw in wire.sent)
    chained = [raw for raw in wire.sent if raw[0] & 0x10]
    assert len(chained) == 1 and chained[0][1] == (0x22 if cipher == "TDES" else 0x86)
    # Every part is a command of its own under SM: two SSC steps each.
    assert link.sm.ssc == ssc_before + 2 * len(wire.sent)
    assert chip.chained_parts == 2
    link.start(result.sm)
    assert _protected_read(link, chip) == b"\x61\x03\x5f\x1f\x00"


@pytest.mark.parametrize("sw", [0x6884, 0x6E00])
def test_a_chip_refusing_chaining_fails_ca_with_its_status(sw):
    from docval.emrtd.errors import StatusError
    key = CaKey.generate_dh(1)
    dg14 = build_dg14(key, cipher="TDES")
    chip, link = _session(dg14=dg14)
    chip.mechanisms.append(CaChip(key))
    chip.quirks.command_chaining = False
    chip.quirks.chaining_refusal_sw = sw
    link.extended = False
    with pytest.raises(StatusError, match=f"chained.*{sw:04X}"):
        run(ca.chip_authentication(*ca.choose_ca(si.parse_dg14(dg14)), extended_length=False,
                                   max_command_data=link.max_command_data()), link, chip.transmit)
    assert chip.mechanism(CaChip).completed == 0


def test_no_chaining_when_the_command_fits():
    key = CaKey.generate_ec("brainpoolP256r1")
    dg14 = build_dg14(key)
    chip, link = _session(dg14=dg14)
    chip.mechanisms.append(CaChip(key))
    wire = RecordingChip(chip)
    run(ca.chip_authentication(*ca.choose_ca(si.parse_dg14(dg14)), max_command_data=link.max_command_data()),
        link, wire.transmit)
    assert link.max_command_data() is None
    assert not any(raw[0] & 0x10 for raw in wire.sent) and chip.chained_parts == 0


def test_chip_joins_a_chain_and_drops_an_unfinished_one():
    chip = VirtualChip()
    key = CaKey.generate_ec("secp256r1")
    chip.mechanisms.append(CaChip(key))
    oid = si.encode_oid(si.ca_oid("ECDH", "AES128"))[2:]
    mse = CommandAPDU(0x00, 0x22, 0x41, 0xA4, b"\x80" + bytes([len(oid)]) + oid)
    first = CommandAPDU(0x10, 0x22, 0x41, 0xA4, mse.data[:3])
    assert ResponseAPDU.decode(chip.transmit(first.encode())).sw == 0x9000
    # a different command in between ends the chain: its last part alone is malformed
    assert ResponseAPDU.decode(chip.transmit(CommandAPDU(0x00, 0x84, 0, 0, le=8).encode())).sw == 0x9000
    rest = CommandAPDU(0x00, 0x22, 0x41, 0xA4, mse.data[3:])
    assert ResponseAPDU.decode(chip.transmit(rest.encode())).sw != 0x9000
    assert ResponseAPDU.decode(chip.transmit(first.encode())).sw == 0x9000
    assert ResponseAPDU.decode(chip.transmit(rest.encode())).sw == 0x9000
    # chaining other commands stays refused
    read = CommandAPDU(0x10, 0xB0, 0x81, 0x00, le=5)
    assert ResponseAPDU.decode(chip.transmit(read.encode())).sw == 0x6884
