"""Secure Messaging handed over by a phone, and Chip Authentication relayed through it.

In the Kinegram v2 protocol the phone runs PACE or BAC and reads the chip itself,
then hands its Secure Messaging session to the server (``CA_HANDOVER``): the
algorithm, both session keys and the Send Sequence Counter.  The server runs Chip
Authentication through the phone, which only relays APDUs, reads EF.DG1 under the
keys that Chip Authentication produced, and hands the session back
(``CA_HANDBACK``) so that the phone can go on reading where the server stopped.

The counter is the part both sides must agree on to the bit, and the phone's SDK
counts the way JMRTD does:

* ``wrap`` and ``unwrap`` each add one to the counter *before* using it, so the
  handed-over value is the one the phone used for its last unwrap, the server's
  first command is protected with ``ssc + 1`` and its answer with ``ssc + 2``;
  :func:`secure_messaging` continues exactly there (docval.emrtd.sm counts the same
  way), and the value handed back is the one of the server's last unwrap.
* The counter is a Java ``long``: on the wire a *signed* 64-bit number (negative
  after BAC about half of the time, since BAC's SSC comes from the random nonces).
  :class:`SMInfo` keeps it unsigned (``ssc & 0xFFFF_FFFF_FFFF_FFFF``) and writes a
  value of 2^63 or more back as its negative two's complement; Android would clamp a
  larger positive number.  It wraps at 2^64 for 3DES and AES alike; the AES SSC
  block is 8 zero bytes followed by the 8-byte big-endian counter.
* 3DES keys travel as 24 bytes K1 || K2 || K1 (JMRTD derives them so and refuses
  16-byte keys); the server accepts 16 or 24 bytes and always sends 24.

Malformed ``secureMessagingInfo`` raises :class:`InvalidSMInfo`, a ``ValueError``
(this package must not import the session layer): the WebSocket layer closes with
1008 ``UNEXPECTED_MESSAGE`` for it.  Key bytes never appear in a message or repr.

:func:`relay_chip_authentication` is a sans-IO flow (docval.emrtd.flow) with one
difference from the others: it protects its own commands, because the keys change
in the middle of it.  Drive it over a :class:`~docval.emrtd.flow.Link` *without*
Secure Messaging (``run(flow, Link(), transmit)``): every command it yields is
already protected and goes to the phone as it is; every answer is the chip's raw
answer, decoded.  It yields one command at a time (v2 relays without pipelining).
"""
from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, TypeVar

from docval.emrtd import crypto, files
from docval.emrtd.apdu import (MAX_SHORT_LE, SW_OK, SW_UNKNOWN, SW_WRONG_LENGTH, CommandAPDU,
                               ResponseAPDU)
from docval.emrtd.ca import CaResult, chip_authentication
from docval.emrtd.errors import (AuthenticationError, CommandTooLong, FileReadError, LimitExceeded,
                                 ParseError, SecureMessagingError, StatusError, UnsupportedError)
from docval.emrtd.flow import Answer, Flow, Link
from docval.emrtd.lds.dg1 import parse_dg1
from docval.emrtd.securityinfo import ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo
from docval.emrtd.sm import SSC_MODULUS, SecureMessaging

T = TypeVar("T")

AES = "AES"
DESEDE = "DESede"

# checkResult of CA_HANDBACK; the same words as docval.verdicts.SUCCESS / FAILED / UNAVAILABLE
# (repeated here: the ICAO layer does not import the verdict rules; a test pins them equal).
SUCCESS = "SUCCESS"
FAILED = "FAILED"
UNAVAILABLE = "UNAVAILABLE"

# Outcomes of the attempt, the attempt constants of docval.verdicts (pinned equal by a test).
PROVEN = "proven"
DISPROVEN = "disproven"
REFUSED = "refused"
COMMAND_TOO_LONG = "command-too-long"
RESPONSE_TOO_LONG = "response-too-long"

SSC_MIN = -(1 << 63)
SSC_MAX = (1 << 63) - 1
_SSC_MASK = SSC_MODULUS - 1

_ALGORITHMS = {"aes": AES, "desede": DESEDE, "3des": DESEDE, "des3": DESEDE}
_AES_KEY_LENGTHS = {16: crypto.AES128, 24: crypto.AES192, 32: crypto.AES256}
_MAX_KEY_TEXT = 64          # base64 of a 32-byte key is 44 characters: refuse more before decoding
_WIRE_FIELDS = ("algorithm", "encKey", "macKey", "ssc")


class InvalidSMInfo(ValueError):
    """``secureMessagingInfo`` is malformed; the session closes 1008 UNEXPECTED_MESSAGE.

    The message names the field, never its value.
    """


def _tdes_key(key: bytes, name: str) -> bytes:
    """Two-key 3DES K1 || K2 from 16 bytes, or from 24 bytes K1 || K2 || K1."""
    if len(key) == 16:
        return key
    if len(key) == 24 and key[16:] == key[:8]:
        return key[:16]
    if len(key) == 24:
        # Three independent DES keys: JMRTD never derives them, and ICAO 3DES is two-key.
        raise InvalidSMInfo(f"{name}: a 24-byte DESede key must be K1 || K2 || K1")
    raise InvalidSMInfo(f"{name}: a DESede key has 16 or 24 bytes, not {len(key)}")


@dataclass(frozen=True, repr=False)
class SMInfo:
    """One Secure Messaging session as phone and server hand it to each other.

    ``algorithm`` is ``"AES"`` or ``"DESede"``; ``enc_key`` / ``mac_key`` are the
    session keys (AES: 16, 24 or 32 bytes; DESede: stored as the 16 bytes K1 || K2,
    24-byte K1 || K2 || K1 keys are accepted and shortened); ``ssc`` is the counter
    of the last unwrap, unsigned (0 .. 2^64 - 1).  Construction validates and raises
    :class:`InvalidSMInfo`.
    """

    algorithm: str
    enc_key: bytes
    mac_key: bytes
    ssc: int

    def __post_init__(self) -> None:
        if self.algorithm not in (AES, DESEDE):
            raise InvalidSMInfo("algorithm must be AES or DESede")
        for name in ("enc_key", "mac_key"):
            key = getattr(self, name)
            if not isinstance(key, (bytes, bytearray)):
                raise InvalidSMInfo(f"{name} must be bytes")
            key = bytes(key)
            if self.algorithm == DESEDE:
                key = _tdes_key(key, name)
            elif len(key) not in _AES_KEY_LENGTHS:
                raise InvalidSMInfo(f"{name}: an AES key has 16, 24 or 32 bytes, not {len(key)}")
            object.__setattr__(self, name, key)
        if len(self.enc_key) != len(self.mac_key):
            raise InvalidSMInfo("encKey and macKey differ in length")
        if type(self.ssc) is not int or not 0 <= self.ssc <= _SSC_MASK:
            raise InvalidSMInfo("ssc must be an integer 0 .. 2^64 - 1")

    def __repr__(self) -> str:
        return f"SMInfo({self.algorithm}-{len(self.enc_key) * 8}, ssc={self.ssc})"

    @property
    def spec(self) -> crypto.CipherSpec:
        if self.algorithm == DESEDE:
            return crypto.TDES
        return _AES_KEY_LENGTHS[len(self.enc_key)]

    @property
    def signed_ssc(self) -> int:
        """The counter as the Java ``long`` the phone holds."""
        return self.ssc - SSC_MODULUS if self.ssc > SSC_MAX else self.ssc

    @classmethod
    def from_wire(cls, obj: object) -> "SMInfo":
        """Validate a ``secureMessagingInfo`` JSON object (already parsed by ``json``).

        ``algorithm``: ``AES`` or ``DESede``, any case, also ``3DES`` / ``DES3``.
        ``encKey`` / ``macKey``: standard base64 with its padding, nothing else (no
        line breaks, no URL-safe alphabet, no stray bits).  ``ssc``: a JSON integer
        (not a bool, not 14.0) in -2^63 .. 2^63 - 1.  Unknown fields are ignored, as
        everywhere in v2 (the SDKs add fields over versions).
        """
        if not isinstance(obj, Mapping):
            raise InvalidSMInfo("secureMessagingInfo must be an object")
        for name in _WIRE_FIELDS:
            if name not in obj:
                raise InvalidSMInfo(f"secureMessagingInfo.{name} is missing")
        algorithm = obj["algorithm"]
        if not isinstance(algorithm, str) or algorithm.lower() not in _ALGORITHMS:
            raise InvalidSMInfo("secureMessagingInfo.algorithm must be AES or DESede")
        ssc = obj["ssc"]
        if type(ssc) is not int:
            raise InvalidSMInfo("secureMessagingInfo.ssc must be an integer")
        if not SSC_MIN <= ssc <= SSC_MAX:
            raise InvalidSMInfo("secureMessagingInfo.ssc is outside the signed 64-bit range")
        return cls(_ALGORITHMS[algorithm.lower()], _key_from_wire(obj["encKey"], "encKey"),
                   _key_from_wire(obj["macKey"], "macKey"), ssc & _SSC_MASK)

    def to_wire(self) -> dict[str, Any]:
        """The JSON object for ``CA_HANDBACK``, written as Android's SDK reads it."""
        return {
            "algorithm": self.algorithm,
            "encKey": _key_to_wire(self.enc_key, self.algorithm),
            "macKey": _key_to_wire(self.mac_key, self.algorithm),
            "ssc": self.signed_ssc,
        }


def _key_from_wire(value: object, name: str) -> bytes:
    if not isinstance(value, str) or not value or len(value) > _MAX_KEY_TEXT:
        raise InvalidSMInfo(f"secureMessagingInfo.{name} must be a base64 string of a key")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSMInfo(f"secureMessagingInfo.{name} is not standard base64") from None
    if base64.b64encode(raw).decode("ascii") != value:
        # Missing padding, stray bits in the last character: decodes, but is not what the SDK writes.
        raise InvalidSMInfo(f"secureMessagingInfo.{name} is not canonical base64")
    return raw


def _key_to_wire(key: bytes, algorithm: str) -> str:
    if algorithm == DESEDE:
        key = key + key[:8]          # K1 || K2 || K1: the phone's JMRTD refuses a 16-byte key
    return base64.b64encode(key).decode("ascii")


def secure_messaging(info: SMInfo) -> SecureMessaging:
    """The session continuing exactly where the phone stopped: the next wrap uses ``ssc + 1``."""
    return SecureMessaging(info.spec, info.enc_key, info.mac_key, info.ssc)


def sm_info(sm: SecureMessaging) -> SMInfo:
    """What to hand back: the keys of ``sm`` and the counter of its last unwrap."""
    algorithm = DESEDE if sm.spec.name == crypto.TDES.name else AES
    # The keys are private to sm.py for every other caller; handing them over is this module's job.
    return SMInfo(algorithm, sm._k_enc, sm._k_mac, sm.ssc % SSC_MODULUS)


@dataclass(frozen=True)
class RelayOutcome:
    """What the relay produced, for ``FILE dg1`` + ``CA_HANDBACK`` and the verdicts.

    ``check_result``: ``SUCCESS`` (CA ran and EF.DG1 verified under its keys),
    ``FAILED`` (the chip refused, or a command could not be relayed: the old session
    goes on) or ``UNAVAILABLE`` (no attempt: DG14 gave nothing usable).  ``sm`` is
    the session the phone continues with; ``dg1`` the file read under it.
    ``attempt`` is None when CA was not attempted, else one of the attempt words of
    docval.verdicts.  ``protocol`` is set on success only, as the v1 report's
    ``chip_authentication_protocol``.  ``detail`` is for logs and errors and holds
    no document data.
    """

    check_result: str
    sm: SMInfo
    dg1: bytes = field(repr=False)
    attempt: str | None
    detail: str
    protocol: str | None


CaChoice = tuple[ChipAuthenticationInfo | None, ChipAuthenticationPublicKeyInfo]


class _Channel:
    """The relay's own Secure Messaging: runs plain flows and yields their protected commands.

    ``link`` does the wrapping, the size checks (:class:`CommandTooLong` before
    anything is sent) and the strict unwrapping; the driver outside only moves bytes.
    """

    def __init__(self, link: Link) -> None:
        self.link = link
        self.last_sw: int | None = None     # status of the last answer, after unwrapping

    def run(self, flow: Flow[T]) -> Flow[T]:
        try:
            step = next(flow)
        except StopIteration as done:
            result: T = done.value
            return result
        while True:
            cmds = step if isinstance(step, tuple) else (step,)
            wrapped = tuple(CommandAPDU.decode(raw) for raw in self.link.protect(cmds))
            answer = yield (wrapped if isinstance(step, tuple) else wrapped[0])
            answers = answer if isinstance(answer, tuple) else (answer,)
            for resp in answers:
                if not isinstance(resp, ResponseAPDU):
                    raise TypeError("the driver must send ResponseAPDUs")
                if resp.sw == SW_UNKNOWN and not resp.data:
                    # iOS reports a failed NFC exchange as a plain 6F00: whatever the chip
                    # did, nobody knows its counter any more.
                    self.link.sm = None
                    self.link.broken = True
                    raise SecureMessagingError("unprotected 6F00: the relay lost the chip")
            plain = self.link.unprotect([resp.encode() for resp in answers], len(cmds))
            self.last_sw = plain[-1].sw if plain else None
            reply: Answer = tuple(plain) if isinstance(step, tuple) else plain[0]
            try:
                step = flow.send(reply)
            except StopIteration as done:
                result = done.value
                return result


def relay_chip_authentication(choice: CaChoice | None, info: SMInfo, *, max_transceive: int,
                              max_block: int, rng: Callable[[int], bytes] = os.urandom,
                              caps: files.FileCaps | None = None) -> Flow[RelayOutcome]:
    """Chip Authentication through the phone with the handed-over session, then EF.DG1.

    ``choice`` is :func:`docval.emrtd.ca.choose_ca`'s answer for the SOD-checked
    DG14, or None when DG14 offers nothing usable: then no CA command is sent, EF.DG1
    is read with the handed-over keys and the result is ``UNAVAILABLE``.  3DES runs
    MSE:Set KAT, AES MSE:Set AT + GENERAL AUTHENTICATE; a DG14 with a key but no
    ChipAuthenticationInfo gets 3DES (docval.emrtd.ca).  ``max_transceive`` is the
    phone's ``maxTransceiveLengthForSecureMessaging``: 256 or less means short APDUs
    only, and a longer command (a 2048-bit DH key) goes as an ISO/IEC 7816-4 chain.
    ``max_block`` bounds the plain Le of READ BINARY (EF.DG1 is read in short APDUs
    in any case: it is small, and every chip and phone has them).  ``caps`` are the
    file caps of the v1 reader (default: files.FileCaps()).

    After a successful CA the session restarts from the shared secret with SSC 0 and
    EF.DG1 is read under it (SFI, falling back to SELECT): a DG1 that verifies under
    the new keys is the proof (``SUCCESS`` / ``proven``).  A chip that refuses
    MSE / GENERAL AUTHENTICATE, or a command the phone cannot relay even chained,
    leaves the old session: EF.DG1 is read with it (its counter going on) and the
    result is ``FAILED``; the DG1 answers verifying under the old keys are what shows
    the old session survived the refusal.  CA failing before any command (a DG14
    that disagrees with itself) counts as no attempt (``UNAVAILABLE``).

    Raises :class:`SecureMessagingError` (or another CommunicationError) when
    Secure Messaging broke: an answer that does not verify, 6987/6988, a plain 6F00
    (iOS), a clone chip that cannot follow the new keys; no handback is possible
    then.  Raises :class:`FileReadError` when EF.DG1 cannot be read or is not a DG1
    (the phone parses the one it gets back).  Raises ``InvalidSMInfo`` at once for
    limits that are not integers.  An error status that comes unprotected (some chips
    answer errors so) is a refusal like a protected one: if the chip dropped its
    session with it, the DG1 read under the old keys fails and SecureMessagingError
    follows.

    Driving it (the commands are protected already, see the module docstring)::

        outcome = await run_async(flow, Link(), transmit_many)   # one APDU per call
    """
    for name, value in (("maxTransceiveLengthForSecureMessaging", max_transceive), ("maxBlockSize", max_block)):
        if type(value) is not int:
            raise InvalidSMInfo(f"{name} must be an integer")
    return _relay(choice, info, extended=max_transceive > MAX_SHORT_LE,
                  max_le=min(max(max_block, 1), files.SHORT_SM_MAX_LE), rng=rng,
                  caps=caps if caps is not None else files.FileCaps())


def _relay(choice: CaChoice | None, info: SMInfo, *, extended: bool, max_le: int,
           rng: Callable[[int], bytes], caps: files.FileCaps) -> Flow[RelayOutcome]:
    old = secure_messaging(info)
    link = Link(extended=extended)
    link.start(old)
    channel = _Channel(link)
    if choice is None:
        dg1 = yield from _read_dg1(channel, max_le, caps)
        return RelayOutcome(UNAVAILABLE, sm_info(old), dg1, None,
                            "chip authentication not attempted: DG14 offers no usable key", None)
    got = yield from _attempt(channel, choice, rng)
    if isinstance(got, tuple) and got[0] == REFUSED and channel.last_sw == SW_WRONG_LENGTH and link.extended:
        # The phone relays extended length but the chip has none (6700, still protected):
        # once more in short APDUs, chained.
        link.extended = False
        got = yield from _attempt(channel, choice, rng)
    if isinstance(got, CaResult):
        link.start(got.sm)
        dg1 = yield from _read_dg1(channel, max_le, caps)
        return RelayOutcome(SUCCESS, sm_info(got.sm), dg1, PROVEN,
                            f"{got.protocol}: EF.DG1 verified under the new session keys", got.protocol)
    attempt, detail = got
    dg1 = yield from _read_dg1(channel, max_le, caps)
    if attempt is None:
        return RelayOutcome(UNAVAILABLE, sm_info(old), dg1, None,
                            f"chip authentication not attempted: {detail}", None)
    return RelayOutcome(FAILED, sm_info(old), dg1, attempt, f"chip authentication failed: {detail}", None)


def _attempt(channel: _Channel, choice: CaChoice,
             rng: Callable[[int], bytes]) -> Flow[CaResult | tuple[str | None, str]]:
    """One run of Chip Authentication: its result, or (attempt word or None, why).

    Anything that leaves the old session usable ends here; a broken session raises.
    """
    link = channel.link
    sent = link.commands_sent
    try:
        return (yield from channel.run(chip_authentication(
            choice[0], choice[1], rng=rng, extended_length=link.extended,
            max_command_data=_max_command_data(link))))
    except CommandTooLong as exc:
        return (RESPONSE_TOO_LONG if exc.response else COMMAND_TOO_LONG), str(exc)
    except StatusError as exc:              # a part of a chained command refused
        return REFUSED, str(exc)
    except AuthenticationError as exc:
        # A status other than 9000 is a refusal; 9000 with a malformed answer is not a proof.
        return (REFUSED if channel.last_sw != SW_OK else DISPROVEN), str(exc)
    except (UnsupportedError, ParseError, LimitExceeded) as exc:
        # Before any command (a DG14 that contradicts itself): not an attempt at all.
        return (None if link.commands_sent == sent else DISPROVEN), str(exc)


def _max_command_data(link: Link) -> int | None:
    """Most plain bytes per CA command before chaining (a seam for tests of the unchainable)."""
    return link.max_command_data()


def _read_dg1(channel: _Channel, max_le: int, caps: files.FileCaps) -> Flow[bytes]:
    limits = files.ReadLimits(max_le=max_le, extended=False, use_sfi=True, pipeline=1, caps=caps)
    try:
        data = yield from channel.run(files.read_file(files.dg(1), limits))
    except (LimitExceeded, StatusError, ParseError, UnsupportedError) as exc:
        raise FileReadError(f"EF.DG1 could not be read: {exc}") from None
    try:
        parse_dg1(data)
    except (ParseError, LimitExceeded) as exc:
        # Android parses the handed-back DG1 (JMRTD's DG1File) in its WebSocket thread and
        # dies on a malformed one: end the session cleanly instead.
        raise FileReadError(f"EF.DG1 is malformed: {exc}") from None
    return data


__all__ = ["AES", "DESEDE", "SUCCESS", "FAILED", "UNAVAILABLE", "PROVEN", "DISPROVEN", "REFUSED",
           "COMMAND_TOO_LONG", "RESPONSE_TOO_LONG", "InvalidSMInfo", "SMInfo", "RelayOutcome",
           "secure_messaging", "sm_info", "relay_chip_authentication"]
