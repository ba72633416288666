"""One test per rule of docval.verdicts.RULES, and the table's overall promises."""
from __future__ import annotations

import pytest

from docval import verdicts as v
from docval.verdicts import AA, CA, FAILED, SUCCESS, UNAVAILABLE, Facts


def facts(*, ca=(), aa=(), sod_valid=True) -> Facts:
    f = Facts(sod_valid=sod_valid)
    for source in ca:
        f.ca.declare(source)
    for source in aa:
        f.aa.declare(source)
    return f


def rule_for(mech, f, ca_result=None):
    rule, verdict = v.verdict(mech, f, ca_result)
    return rule.name, verdict.result, verdict.error


def test_not_declared():
    assert rule_for(CA, facts()) == ("not-declared", UNAVAILABLE, None)
    assert rule_for(AA, facts()) == ("not-declared", UNAVAILABLE, None)


def test_key_file_withheld():
    f = facts(ca=["EF.SOD"])
    f.ca.file("EF.DG14", v.FILE_WITHHELD, "status 6A82: file not found")
    name, result, error = rule_for(CA, f)
    assert (name, result) == ("key-file-withheld", FAILED)
    assert "EF.DG14" in error and "6A82" in error and "EF.SOD declares it" in error


def test_key_file_unreadable():
    f = facts(aa=["EF.SOD"])
    f.aa.file("EF.DG15", v.FILE_UNREADABLE, "READ BINARY status 6B00")
    assert rule_for(AA, f)[:2] == ("key-file-unreadable", FAILED)


def test_key_file_hash_mismatch():
    f = facts(aa=["EF.SOD"])
    f.aa.file("EF.DG15", v.FILE_HASH_MISMATCH)
    assert rule_for(AA, f) == ("key-file-hash-mismatch", FAILED,
                               "active authentication not attempted: DG15 does not match its hash in EF.SOD")


def test_key_file_unsigned():
    f = facts(ca=["EF.CardAccess"])
    f.ca.file("EF.CardSecurity", v.FILE_UNSIGNED, "no trusted CSCA")
    name, result, error = rule_for(CA, f)
    assert (name, result) == ("key-file-unsigned", FAILED) and "not validly signed" in error


def test_key_file_unusable():
    f = facts(ca=["EF.SOD"])
    f.ca.file("EF.DG14", v.FILE_UNPARSABLE, "unknown curve")
    name, result, error = rule_for(CA, f)
    assert (name, result) == ("key-file-unusable", FAILED) and "unknown curve" in error


def test_aa_answer_not_relayable_chip_proven():
    f = facts(aa=["EF.SOD"])
    f.aa.file("EF.DG15", v.FILE_READ)
    f.aa.tried(v.RESPONSE_TOO_LONG, "INS 88 needs extended length")
    assert rule_for(AA, f, SUCCESS) == ("aa-answer-not-relayable-chip-proven", UNAVAILABLE, None)


@pytest.mark.parametrize("ca_result", [FAILED, UNAVAILABLE])
def test_answer_not_relayable(ca_result):
    # Without a proven chip, an AA the phone cannot carry is a failed proof, not a missing one.
    f = facts(aa=["EF.SOD"])
    f.aa.tried(v.RESPONSE_TOO_LONG, "INS 88 needs extended length")
    name, result, error = rule_for(AA, f, ca_result)
    assert (name, result) == ("answer-not-relayable", FAILED) and "cannot relay" in error


def test_command_not_relayable():
    f = facts(ca=["EF.SOD"])
    f.ca.tried(v.COMMAND_TOO_LONG, "INS 22 needs a 300-byte command")
    name, result, error = rule_for(CA, f)
    assert (name, result) == ("command-not-relayable", FAILED) and "300-byte" in error


def test_chip_refused():
    f = facts(ca=["EF.SOD"])
    f.ca.tried(v.REFUSED, "MSE:Set KAT sent as 2 chained commands: status 6884")
    name, result, error = rule_for(CA, f)
    assert (name, result) == ("chip-refused", FAILED) and "6884" in error


def test_secure_messaging_broken():
    f = facts(ca=["EF.SOD"])
    f.ca.tried(v.SM_BROKEN)
    assert rule_for(CA, f) == ("secure-messaging-broken", FAILED, "chip authentication failed: the chip "
                               "did not continue secure messaging with the new keys")


def test_timeout():
    f = facts(aa=["EF.SOD"])
    f.aa.tried(v.TIMEOUT, "no answer within 5 s")
    assert rule_for(AA, f)[:2] == ("timeout", FAILED)


def test_disproven():
    f = facts(aa=["EF.SOD"])
    f.aa.tried(v.DISPROVEN, "signature does not verify")
    assert rule_for(AA, f) == ("disproven", FAILED, "active authentication failed: signature does not verify")


@pytest.mark.parametrize("sod_valid", [False, None])
def test_proven_without_valid_sod(sod_valid):
    f = facts(ca=["EF.SOD"], sod_valid=sod_valid)
    f.ca.tried(v.PROVEN)
    assert rule_for(CA, f)[:2] == ("proven-without-valid-sod", FAILED)


def test_proven():
    f = facts(ca=["EF.SOD"])
    f.ca.tried(v.PROVEN)
    assert rule_for(CA, f) == ("proven", SUCCESS, None)


def test_declared_not_performed():
    # EF.CardAccess says the chip has CA, yet nothing was read or run: never UNAVAILABLE.
    name, result, error = rule_for(CA, facts(ca=["EF.CardAccess"]))
    assert (name, result) == ("declared-not-performed", FAILED) and "EF.CardAccess declares it" in error


# --- Kinegram v2 (facts recorded by docval.v2.evidence) ---------------------------------------

@pytest.mark.parametrize("detail,suffix", [("", ""), ("EF.DG14 was not sent", " (EF.DG14 was not sent)")])
def test_ca_skipped_by_phone(detail, suffix):
    f = facts(ca=["EF.SOD"])
    f.ca.file("EF.DG14", v.FILE_READ)
    f.ca.tried(v.PHONE_SKIPPED, detail)
    assert rule_for(CA, f) == ("ca-skipped-by-phone", FAILED,
                               "chip authentication failed: the phone skipped chip authentication" + suffix)


def test_cam_not_verifiable():
    f = facts(ca=["EF.DG14"])
    f.ca.file("EF.DG14", v.FILE_READ)
    f.ca.tried(v.CAM_ONLY)
    name, result, error = rule_for(CA, f)
    assert (name, result) == ("cam-not-verifiable", FAILED) and "PACE-CAM" in error


def test_aa_not_performed_chip_proven():
    f = facts(aa=["EF.SOD"])
    f.aa.file("EF.DG15", v.FILE_READ)
    f.aa.tried(v.NO_SIGNATURE)
    assert rule_for(AA, f, SUCCESS) == ("aa-not-performed-chip-proven", UNAVAILABLE, None)


@pytest.mark.parametrize("ca_result", [FAILED, UNAVAILABLE])
def test_aa_not_performed_downgrade(ca_result):
    f = facts(aa=["EF.SOD"])
    f.aa.tried(v.NO_SIGNATURE)
    name, result, error = rule_for(AA, f, ca_result)
    assert (name, result) == ("aa-not-performed-downgrade", FAILED)
    assert error == ("active authentication failed: EF.SOD declares it, but the phone sent no signature "
                     "and chip authentication did not prove the chip (a downgrade)")


def test_v2_exception_never_covers_a_dg15_that_fails_its_hash():
    f = facts(aa=["EF.SOD"])
    f.aa.file("EF.DG15", v.FILE_HASH_MISMATCH)
    f.aa.tried(v.NO_SIGNATURE)
    assert rule_for(AA, f, SUCCESS)[:2] == ("key-file-hash-mismatch", FAILED)


def test_v2_skipped_ca_never_passes_as_proven_aa_exception():
    # A phone that skips CA gets CA FAILED, and then no AA exception applies either.
    f = facts(ca=["EF.SOD"], aa=["EF.SOD"])
    f.ca.tried(v.PHONE_SKIPPED)
    f.aa.tried(v.NO_SIGNATURE)
    d = v.decide(f)
    assert (d.chip_authentication, d.active_authentication) == (FAILED, FAILED) and len(d.errors) == 2


def test_every_rule_has_its_test():
    tested = {n[len("test_"):].replace("_", "-") for n in globals() if n.startswith("test_")}
    assert {rule.name for rule in v.RULES} <= tested


def test_aa_exception_never_covers_a_withheld_dg15():
    f = facts(aa=["EF.SOD"])
    f.aa.file("EF.DG15", v.FILE_WITHHELD, "status 6982")
    f.aa.tried(v.RESPONSE_TOO_LONG)
    assert rule_for(AA, f, SUCCESS)[1] == FAILED


def test_decide_names_unread_groups_and_uses_the_final_ca_verdict():
    f = facts(ca=["EF.SOD"], aa=["EF.SOD"], sod_valid=False)
    f.ca.tried(v.PROVEN)                     # downgraded by the invalid EF.SOD ...
    f.aa.tried(v.RESPONSE_TOO_LONG)          # ... so the AA exception does not apply
    f.not_read = {11: (v.FILE_WITHHELD, "status 6982"), 3: (v.FILE_UNREADABLE, "READ BINARY status 6B00")}
    d = v.decide(f)
    assert (d.chip_authentication, d.active_authentication) == (FAILED, FAILED)
    assert d.data_groups_not_read == [3, 11]
    assert d.errors[0] == "EF.DG3 could not be read: READ BINARY status 6B00 (it is listed in EF.SOD)"
    assert d.errors[1] == "EF.DG11 is listed in EF.SOD but the chip withheld it (status 6982)"
    assert len(d.errors) == 4


def test_nothing_declared_nothing_said():
    d = v.decide(Facts(sod_valid=True))
    assert (d.chip_authentication, d.active_authentication, d.errors, d.data_groups_not_read) == \
        (UNAVAILABLE, UNAVAILABLE, [], [])
