"""Chip and Active Authentication verdicts: the one table that decides them.

The reader (for the v2 API, docval.v2.evidence) only records *facts*: which
files declare a mechanism, what happened to the file carrying its key (read,
withheld with a status, unreadable, hash mismatch, unparsable), and what
happened to the attempt (proven, disproven, refused by the chip, a command or
answer the phone cannot relay, Secure Messaging broken under the new keys, a
timeout, skipped by a v2 phone).  :func:`decide` turns those
facts into ``chip_authentication_result``, ``active_authentication_result`` and
the sentences for ``errors``, by the first matching rule of :data:`RULES`.

The principle (docs/verdicts.md): ``UNAVAILABLE`` only when the *document* says
it lacks the mechanism.  A document that declares it gets ``SUCCESS`` when the
chip proved it and ``FAILED`` whatever else stopped the proof, because a copied
chip can always arrange for the proof to be "impossible" (withhold DG14, break
a command) and must not look like an older passport.  The one exception is for
genuine documents on limited phones: Active Authentication whose answer the
phone cannot relay (or, in the Kinegram v2 API, that the phone did not perform), on
a chip that Chip Authentication already proved.

Everything here is pure: no I/O, no clocks, no document data in any message.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

SUCCESS = "SUCCESS"
FAILED = "FAILED"
UNAVAILABLE = "UNAVAILABLE"

CA = "CA"
AA = "AA"
_NAMES = {CA: "chip authentication", AA: "active authentication"}

# What happened to the file that carries a mechanism's key (DG14, DG15, EF.CardSecurity).
FILE_READ = "read"
FILE_WITHHELD = "withheld"            # the chip answered a status (6A82, 6982, ...) instead of the file
FILE_UNREADABLE = "unreadable"        # reading started but could not complete
FILE_HASH_MISMATCH = "hash-mismatch"  # read, but not what EF.SOD signs
FILE_UNPARSABLE = "unparsable"        # read and covered, but no usable key in it
FILE_UNSIGNED = "unsigned"            # EF.CardSecurity whose signature does not verify

# What happened to the protocol run itself.
PROVEN = "proven"
DISPROVEN = "disproven"               # ran to the end, and the chip did not prove its key
REFUSED = "refused"                   # the chip answered a command with an error status
COMMAND_TOO_LONG = "command-too-long"  # a command the phone cannot relay (even chained)
RESPONSE_TOO_LONG = "response-too-long"  # an answer the phone cannot relay
SM_BROKEN = "sm-broken"               # Secure Messaging did not continue under the new keys
TIMEOUT = "timeout"                   # the chip or phone stopped answering mid-protocol
# Kinegram v2 (docval.v2.evidence): the phone reads the chip and decides what to hand over.
PHONE_SKIPPED = "phone-skipped"       # CA: the phone never handed chip authentication over
CAM_ONLY = "cam-only"                 # CA: only PACE-CAM, run on the phone, where the server cannot check it
NO_SIGNATURE = "no-signature"         # AA: FINISH carried no signature


@dataclass
class MechanismFacts:
    """What the session learned about one mechanism (CA or AA)."""

    declared_by: list[str] = field(default_factory=list)   # "EF.SOD", "EF.CardAccess", "EF.CardSecurity"
    key_file: str | None = None                             # "EF.DG14", "EF.DG15", "EF.CardSecurity"
    file_state: str | None = None                           # FILE_* (None: not read yet)
    file_detail: str = ""
    attempt: str | None = None                              # PROVEN ... TIMEOUT (None: never run)
    attempt_detail: str = ""

    def declare(self, source: str) -> None:
        if source not in self.declared_by:
            self.declared_by.append(source)

    def file(self, name: str, state: str, detail: str = "") -> None:
        self.key_file, self.file_state, self.file_detail = name, state, detail

    def tried(self, outcome: str, detail: str = "") -> None:
        self.attempt, self.attempt_detail = outcome, detail


@dataclass
class Facts:
    ca: MechanismFacts = field(default_factory=MechanismFacts)
    aa: MechanismFacts = field(default_factory=MechanismFacts)
    # Whether EF.SOD's signature and its certificate verified; None before PA ran.
    sod_valid: Optional[bool] = None
    # Data groups EF.SOD lists that the chip did not deliver: (FILE_WITHHELD or
    # FILE_UNREADABLE, the status or read error in plain words).
    not_read: dict[int, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    result: str
    error: str | None


@dataclass(frozen=True)
class Decision:
    chip_authentication: str
    active_authentication: str
    errors: list[str]
    data_groups_not_read: list[int]


@dataclass(frozen=True)
class Rule:
    """``applies`` to (mechanism, its facts, all facts, CA's verdict so far) -> verdict and error."""

    name: str
    mechanisms: tuple[str, ...]
    applies: Callable[[str, MechanismFacts, Facts, Optional[str]], bool]
    result: str
    say: Callable[[str, MechanismFacts], Optional[str]]


def _file_is(state: str) -> Callable[[str, MechanismFacts, Facts, Optional[str]], bool]:
    return lambda mech, m, facts, ca: m.file_state == state


def _tried(outcome: str) -> Callable[[str, MechanismFacts, Facts, Optional[str]], bool]:
    return lambda mech, m, facts, ca: m.attempt == outcome


def _detail(text: str) -> str:
    return f" ({text})" if text else ""


def _declared(m: MechanismFacts) -> str:
    return " and ".join(m.declared_by)


RULES: tuple[Rule, ...] = (
    Rule("not-declared", (CA, AA),
         lambda mech, m, facts, ca: not m.declared_by,
         UNAVAILABLE, lambda mech, m: None),
    Rule("key-file-withheld", (CA, AA), _file_is(FILE_WITHHELD), FAILED,
         lambda mech, m: f"{_NAMES[mech]} failed: {_declared(m)} declares it, but the chip did not "
                         f"deliver {m.key_file}{_detail(m.file_detail)}"),
    Rule("key-file-unreadable", (CA, AA), _file_is(FILE_UNREADABLE), FAILED,
         lambda mech, m: f"{_NAMES[mech]} failed: {m.key_file} could not be read{_detail(m.file_detail)}"),
    Rule("key-file-hash-mismatch", (CA, AA), _file_is(FILE_HASH_MISMATCH), FAILED,
         lambda mech, m: f"{_NAMES[mech]} not attempted: {(m.key_file or '')[3:]} does not match its hash in EF.SOD"),
    Rule("key-file-unsigned", (CA,), _file_is(FILE_UNSIGNED), FAILED,
         lambda mech, m: f"{_NAMES[mech]} failed: {m.key_file} is not validly signed{_detail(m.file_detail)}"),
    Rule("key-file-unusable", (CA, AA), _file_is(FILE_UNPARSABLE), FAILED,
         lambda mech, m: f"{_NAMES[mech]} not possible: {m.key_file} holds no usable key"
                         f"{_detail(m.file_detail)}"),
    # A genuine document on a phone that cannot carry an RSA-2048 signature under Secure
    # Messaging: the chip is already proven by CA, so AA adds nothing a clone could exploit.
    Rule("aa-answer-not-relayable-chip-proven", (AA,),
         lambda mech, m, facts, ca: m.attempt == RESPONSE_TOO_LONG and ca == SUCCESS,
         UNAVAILABLE, lambda mech, m: None),
    Rule("answer-not-relayable", (CA, AA), _tried(RESPONSE_TOO_LONG), FAILED,
         lambda mech, m: f"{_NAMES[mech]} failed: the phone cannot relay the chip's answer"
                         f"{_detail(m.attempt_detail)}"),
    Rule("command-not-relayable", (CA, AA), _tried(COMMAND_TOO_LONG), FAILED,
         lambda mech, m: f"{_NAMES[mech]} failed: the phone cannot relay its commands"
                         f"{_detail(m.attempt_detail)}"),
    Rule("chip-refused", (CA, AA), _tried(REFUSED), FAILED,
         lambda mech, m: f"{_NAMES[mech]} failed: the chip refused it{_detail(m.attempt_detail)}"),
    Rule("secure-messaging-broken", (CA,), _tried(SM_BROKEN), FAILED,
         lambda mech, m: f"{_NAMES[mech]} failed: the chip did not continue secure messaging with the new keys"),
    Rule("timeout", (CA, AA), _tried(TIMEOUT), FAILED,
         lambda mech, m: f"{_NAMES[mech]} failed: the chip stopped answering{_detail(m.attempt_detail)}"),
    Rule("disproven", (CA, AA), _tried(DISPROVEN), FAILED,
         lambda mech, m: f"{_NAMES[mech]} failed: {m.attempt_detail or 'the chip did not prove its key'}"),
    Rule("proven-without-valid-sod", (CA, AA),
         lambda mech, m, facts, ca: m.attempt == PROVEN and facts.sod_valid is not True,
         FAILED, lambda mech, m: f"{_NAMES[mech]} is not proof: its key is not covered by a valid EF.SOD"),
    Rule("proven", (CA, AA), _tried(PROVEN), SUCCESS, lambda mech, m: None),
    # Kinegram v2, where the phone runs access control and reads the chip: the server
    # proves CA itself through the relay, and AA from the signature FINISH carries.
    Rule("ca-skipped-by-phone", (CA,), _tried(PHONE_SKIPPED), FAILED,
         lambda mech, m: f"{_NAMES[mech]} failed: the phone skipped chip authentication"
                         f"{_detail(m.attempt_detail)}"),
    Rule("cam-not-verifiable", (CA,), _tried(CAM_ONLY), FAILED,
         lambda mech, m: f"{_NAMES[mech]} failed: the chip offers it only through PACE-CAM, "
                         f"which runs on the phone and cannot be verified by the server"),
    # The official reader may skip AA once CA succeeded (and Android then sends no
    # signature at all): the chip is proven, as in aa-answer-not-relayable-chip-proven.
    Rule("aa-not-performed-chip-proven", (AA,),
         lambda mech, m, facts, ca: m.attempt == NO_SIGNATURE and ca == SUCCESS,
         UNAVAILABLE, lambda mech, m: None),
    Rule("aa-not-performed-downgrade", (AA,), _tried(NO_SIGNATURE), FAILED,
         lambda mech, m: f"{_NAMES[mech]} failed: {_declared(m)} declares it, but the phone sent no "
                         f"signature and chip authentication did not prove the chip (a downgrade)"),
    # Declared, and nothing above explains why no proof came: never a silent downgrade.
    Rule("declared-not-performed", (CA, AA), lambda mech, m, facts, ca: True, FAILED,
         lambda mech, m: f"{_NAMES[mech]} failed: {_declared(m)} declares it, but it was not performed"),
)


def _not_read(dg: int, state: str, why: str) -> str:
    if state == FILE_WITHHELD:
        return f"EF.DG{dg} is listed in EF.SOD but the chip withheld it ({why})"
    return f"EF.DG{dg} could not be read: {why} (it is listed in EF.SOD)"


def verdict(mech: str, facts: Facts, ca_result: Optional[str] = None) -> tuple[Rule, Verdict]:
    """The first rule of :data:`RULES` that applies to ``mech`` ("CA" or "AA")."""
    m = facts.ca if mech == CA else facts.aa
    for rule in RULES:
        if mech in rule.mechanisms and rule.applies(mech, m, facts, ca_result):
            return rule, Verdict(rule.result, rule.say(mech, m))
    raise AssertionError("the last rule applies to everything")


def decide(facts: Facts) -> Decision:
    """Both verdicts, the sentences for ``errors`` and ``data_groups_not_read``."""
    errors = [_not_read(dg, state, why) for dg, (state, why) in sorted(facts.not_read.items())]
    _, ca = verdict(CA, facts)
    _, aa = verdict(AA, facts, ca.result)
    errors += [v.error for v in (ca, aa) if v.error]
    return Decision(ca.result, aa.result, errors, sorted(facts.not_read))
