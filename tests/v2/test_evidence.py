"""docval.v2.evidence: every CA and AA case of the v2 verdict table, through the real rule table.

Documents are built like the virtual ones (demo PKI, real keys, signed EF.SOD); the AA
signatures come from the virtual chip's own signer, over this session's challenge or another.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import pytest
from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.asymmetric import rsa

from docval import verdicts as v
from docval.emrtd import files
from docval.emrtd.handover import RelayOutcome, SMInfo
from docval.emrtd.lds.sod import parse_sod
from docval.emrtd.securityinfo import ActiveAuthenticationInfo, PACEInfo, pace_oid
from docval.sim import datagroups, pki, profiles
from docval.sim.aa_chip import AaChip, build_dg15
from docval.sim.ca_chip import CaKey, build_dg14
from docval.sim.chip import VirtualChip
from docval.v2 import evidence

CHALLENGE = bytes.fromhex("0102030405060708")
OTHER_CHALLENGE = bytes.fromhex("1112131415161718")
PROTOCOL = "CA-ECDH-AES-CBC-CMAC-128"
ECDSA_SHA256 = "1.2.840.10045.4.3.2"


@lru_cache(maxsize=None)
def _keys():
    return (CaKey.generate_ec("brainpoolP256r1"), rsa.generate_private_key(public_exponent=65537, key_size=1024),
            cec.generate_private_key(cec.SECP256R1()))


@dataclass
class Doc:
    sod: object
    dgs: dict
    aa: AaChip | None


def document(*, dg14: str | None = "ca", aa: str | None = "rsa", in_sod=(1, 14, 15), tamper=()) -> Doc:
    """A signed document: DG1 always; DG14 "ca" (CA key), "aa-only" (AA info only), "cam"
    (a PACE-CAM PACEInfo only) or None; DG15 "rsa", "ecdsa" or None.  ``in_sod`` lists the
    DGs EF.SOD covers, ``tamper`` the ones changed after signing."""
    ca_key, rsa_key, ec_key = _keys()
    dgs = {1: datagroups.encode_dg1(profiles._passport_mrz())}
    aa_key = {"rsa": rsa_key, "ecdsa": ec_key, None: None}[aa]
    aa_alg = ECDSA_SHA256 if aa == "ecdsa" else None
    if dg14 == "ca":
        dgs[14] = build_dg14(ca_key, aa_signature_algorithm=aa_alg)
    elif dg14 == "aa-only":
        dgs[14] = build_dg14(None, extra=[ActiveAuthenticationInfo(1, ECDSA_SHA256)])
    elif dg14 == "cam":
        dgs[14] = build_dg14(None, extra=[PACEInfo(pace_oid("ECDH", "CAM", "AES128"), 2, 13)])
    if aa_key is not None:
        dgs[15] = build_dg15(aa_key)
    signer = pki.demo_pki().dsc
    sod = pki.sign_sod({n: hashlib.sha256(d).digest() for n, d in dgs.items() if n in in_sod}, "SHA-256",
                       signer.key, signer.cert, scheme=signer.scheme)
    for n in tamper:
        dgs[n] = dgs[n][:-1] + bytes((dgs[n][-1] ^ 1,))
    chip = AaChip(aa_key, hash_name="SHA-256") if aa_key is not None else None
    return Doc(parse_sod(sod), dgs, chip)


def relay(attempt=v.PROVEN, check="SUCCESS", detail="chip authentication failed: MSE:Set AT status 6A80"):
    sm = SMInfo("AES", bytes(16), bytes(range(16)), 0)
    protocol = PROTOCOL if attempt == v.PROVEN else None
    return RelayOutcome(check, sm, b"\x61\x00", attempt, detail, protocol)


def judge(doc: Doc, *, outcome=None, at_handover="same", signature=None, sod_valid=True, send=None):
    """Record, decide; returns (CA, AA, errors, Recorded)."""
    dgs = dict(doc.dgs) if send is None else {n: d for n, d in doc.dgs.items() if n in send}
    dg14_at_handover = dgs.get(14) if at_handover == "same" else at_handover
    facts = v.Facts()
    recorded = evidence.record(facts, doc.sod, dgs, relay=outcome, dg14_at_handover=dg14_at_handover,
                               challenge=CHALLENGE, signature=signature)
    facts.sod_valid = sod_valid        # what assess sets after PA
    d = v.decide(facts)
    return d.chip_authentication, d.active_authentication, d.errors, recorded


def signed(doc: Doc, challenge: bytes = CHALLENGE) -> bytes:
    return doc.aa.sign(challenge)


# --- Chip Authentication --------------------------------------------------------------------

SKIPPED = "chip authentication failed: the phone skipped chip authentication"

CA_CASES = [
    # id, document, judge kwargs, CA verdict, text expected in errors (None: no CA error)
    ("relay-proven", dict(), dict(outcome=relay()), "SUCCESS", None),
    ("proven-invalid-sod", dict(), dict(outcome=relay(), sod_valid=False), "FAILED", "not covered by a valid EF.SOD"),
    ("phone-skipped-handover", dict(), dict(), "FAILED", SKIPPED),
    ("phone-withheld-dg14", dict(), dict(send={1, 15}), "FAILED", SKIPPED + " (EF.DG14 was not sent)"),
    ("no-dg14-in-document", dict(dg14=None, in_sod=(1, 15)), dict(), "UNAVAILABLE", None),
    ("dg14-without-ca", dict(dg14="aa-only", aa="ecdsa"), dict(), "UNAVAILABLE", None),
    ("cam-only-no-handover", dict(dg14="cam"), dict(), "FAILED", "PACE-CAM"),
    ("cam-only-handover", dict(dg14="cam"), dict(outcome=relay(None, "UNAVAILABLE")), "FAILED", "PACE-CAM"),
    ("dg14-tampered-proven", dict(tamper=(14,)), dict(outcome=relay()), "FAILED", "DG14 does not match its hash"),
    ("dg14-not-in-sod-proven", dict(in_sod=(1, 15)), dict(outcome=relay()), "FAILED", "DG14 does not match its hash"),
    ("dg14-not-in-sod-skipped", dict(in_sod=(1, 15)), dict(), "FAILED", "DG14 does not match its hash"),
    ("chip-refused", dict(), dict(outcome=relay(v.REFUSED, "FAILED")), "FAILED", "refused it (MSE:Set AT status 6A80)"),
    ("command-too-long", dict(), dict(outcome=relay(v.COMMAND_TOO_LONG, "FAILED", "chip authentication failed: "
                                                                          "300-byte command")),
     "FAILED", "cannot relay its commands (300-byte command)"),
    ("response-too-long", dict(), dict(outcome=relay(v.RESPONSE_TOO_LONG, "FAILED")), "FAILED", "cannot relay"),
    ("disproven", dict(), dict(outcome=relay(v.DISPROVEN, "FAILED")), "FAILED", "chip authentication failed: MSE"),
    ("relay-not-attempted", dict(), dict(outcome=relay(None, "UNAVAILABLE", "chip authentication not attempted: "
                                                                             "unknown curve")),
     "FAILED", "holds no usable key (unknown curve)"),
    ("key-not-from-the-checked-dg14", dict(), dict(outcome=relay(), at_handover=b"\x6e\x00"),
     "FAILED", "not from the EF.DG14 checked against EF.SOD"),
    ("key-without-dg14-at-handover", dict(), dict(outcome=relay(), at_handover=None), "FAILED", "not from the EF.DG14"),
]


@pytest.mark.parametrize("doc_kwargs,kwargs,expected,error", [c[1:] for c in CA_CASES], ids=[c[0] for c in CA_CASES])
def test_chip_authentication(doc_kwargs, kwargs, expected, error):
    ca, _, errors, recorded = judge(document(**doc_kwargs), signature=None, **kwargs)
    assert ca == expected, errors
    ca_errors = [e for e in errors if e.startswith("chip authentication")]
    if error is None:
        assert ca_errors == []
    else:
        assert len(ca_errors) == 1 and error in ca_errors[0], ca_errors
    # The protocol the relay ran (informational, as v1's): whenever it ran with the checked DG14's key.
    relayed = kwargs.get("outcome") is not None and kwargs["outcome"].attempt == v.PROVEN
    assert recorded.ca_protocol == (PROTOCOL if relayed and "at_handover" not in kwargs else None)


def test_ca_choice_for_the_relay():
    choice, why = evidence.ca_choice(document().dgs[14])
    assert choice is not None and why == ""
    for dg14, reason in ((document(dg14="aa-only").dgs[14], "no Chip Authentication public key"),
                         (b"\x6e\x03\x31\x01\x00", ""), (b"garbage", "")):
        choice, why = evidence.ca_choice(dg14)
        assert choice is None and why and (reason in why)


# --- Active Authentication ------------------------------------------------------------------

def aa_case(doc_kwargs, *, sig="valid", outcome="proven", sod_valid=True, send=None):
    doc = document(**doc_kwargs)
    signature = {"valid": lambda: signed(doc), "replayed": lambda: signed(doc, OTHER_CHALLENGE),
                 "garbage": lambda: b"\x01" * 128, "none": lambda: None}[sig]()
    out = relay() if outcome == "proven" else relay(v.REFUSED, "FAILED") if outcome == "failed" else None
    return judge(doc, outcome=out, signature=signature, sod_valid=sod_valid, send=send)


DOWNGRADE = "the phone sent no signature and chip authentication did not prove the chip (a downgrade)"

AA_CASES = [
    # id, document, case kwargs, AA verdict, text expected in errors (None: no AA error)
    ("rsa-valid", dict(aa="rsa"), dict(), "SUCCESS", None),
    ("ecdsa-valid", dict(aa="ecdsa"), dict(), "SUCCESS", None),
    ("valid-without-ca", dict(aa="rsa", dg14=None, in_sod=(1, 15)), dict(outcome=None), "SUCCESS", None),
    ("valid-invalid-sod", dict(aa="rsa"), dict(sod_valid=False), "FAILED", "not covered by a valid EF.SOD"),
    ("replayed-challenge", dict(aa="rsa"), dict(sig="replayed"), "FAILED", "does not cover the challenge"),
    ("replayed-challenge-ecdsa", dict(aa="ecdsa"), dict(sig="replayed"), "FAILED", "does not verify"),
    ("garbage", dict(aa="rsa"), dict(sig="garbage"), "FAILED", "active authentication failed"),
    ("none-ca-proven", dict(aa="rsa"), dict(sig="none"), "UNAVAILABLE", None),
    ("none-ca-failed", dict(aa="rsa"), dict(sig="none", outcome="failed"), "FAILED", DOWNGRADE),
    ("none-ca-skipped", dict(aa="rsa"), dict(sig="none", outcome=None), "FAILED", DOWNGRADE),
    ("none-no-ca-document", dict(aa="rsa", dg14=None, in_sod=(1, 15)), dict(sig="none", outcome=None),
     "FAILED", DOWNGRADE),
    ("none-ca-proven-invalid-sod", dict(aa="rsa"), dict(sig="none", sod_valid=False), "FAILED", DOWNGRADE),
    ("none-dg15-not-sent-ca-proven", dict(aa="rsa"), dict(sig="none", send={1, 14}), "UNAVAILABLE", None),
    ("none-dg15-tampered-ca-proven", dict(aa="rsa", tamper=(15,)), dict(sig="none"), "FAILED",
     "DG15 does not match its hash"),
    ("none-no-dg15-in-document", dict(aa=None, in_sod=(1, 14)), dict(sig="none"), "UNAVAILABLE", None),
    ("signature-no-dg15-in-sod", dict(aa="rsa", in_sod=(1, 14)), dict(), "UNAVAILABLE", None),
    ("signature-dg15-not-sent", dict(aa="rsa"), dict(send={1, 14}), "FAILED", "a signature but not EF.DG15"),
    ("signature-dg15-tampered", dict(aa="rsa", tamper=(15,)), dict(), "FAILED", "DG15 does not match its hash"),
]


@pytest.mark.parametrize("doc_kwargs,kwargs,expected,error", [c[1:] for c in AA_CASES], ids=[c[0] for c in AA_CASES])
def test_active_authentication(doc_kwargs, kwargs, expected, error):
    _, aa, errors, recorded = aa_case(doc_kwargs, **kwargs)
    assert aa == expected, errors
    aa_errors = [e for e in errors if e.startswith("active authentication")]
    if error is None:
        assert aa_errors == []
    else:
        assert len(aa_errors) == 1 and error in aa_errors[0], aa_errors
    if expected == "SUCCESS":
        assert recorded.aa_algorithm.startswith(("RSA-1024 ISO9796-2 SHA-256", "ECDSA"))


# --- the virtual documents: their own files and their chip's own AA signer -------------------

def _profile_files(name):
    chip = profiles.get_profile(name).chip()
    by_fid = chip.fs.application.by_fid
    sod = parse_sod(by_fid[files.EF_SOD.fid].content)
    dgs = {n: by_fid[files.dg(n).fid].content for n in range(1, 17) if files.dg(n).fid in by_fid}
    return chip, sod, dgs


@pytest.mark.parametrize("name,ca_expected,aa_expected", [
    ("pace-ecdh-gm-aes128", "SUCCESS", "SUCCESS"),          # CA ECDH, AA ECDSA (DG14 names the hash)
    ("pace-dh-gm-3des", "SUCCESS", "SUCCESS"),              # CA DH 3DES, AA RSA-2048 SHA-256
    ("bac-3des", "SUCCESS", "SUCCESS"),                     # AA RSA-2048 SHA-1 (trailer BC)
    ("pace-ecdh-im-aes256", "SUCCESS", "UNAVAILABLE"),      # no DG15
    ("td1-idcard", "SUCCESS", "UNAVAILABLE"),
])
def test_virtual_documents_with_a_proven_relay_and_their_chips_signature(name, ca_expected, aa_expected):
    chip, sod, dgs = _profile_files(name)
    aa = chip.mechanism(AaChip)
    signature = aa.sign(CHALLENGE) if aa is not None else None
    facts = v.Facts()
    recorded = evidence.record(facts, sod, dgs, relay=relay(), dg14_at_handover=dgs[14], challenge=CHALLENGE,
                               signature=signature)
    facts.sod_valid = True
    d = v.decide(facts)
    assert (d.chip_authentication, d.active_authentication, d.errors) == (ca_expected, aa_expected, [])
    assert (recorded.aa_algorithm is not None) == (signature is not None)


def _aa(chip: VirtualChip) -> AaChip:
    aa = chip.mechanism(AaChip)
    assert aa is not None
    return aa


def test_the_clone_fails_aa_with_its_own_signature():
    # The clone's chip signs with a key that is not DG15's.
    chip, sod, dgs = _profile_files("clone")
    facts = v.Facts()
    evidence.record(facts, sod, dgs, relay=relay(v.DISPROVEN, "FAILED"), dg14_at_handover=dgs[14],
                    challenge=CHALLENGE, signature=_aa(chip).sign(CHALLENGE))
    facts.sod_valid = True
    d = v.decide(facts)
    assert (d.chip_authentication, d.active_authentication) == ("FAILED", "FAILED")
