"""Hostile chips: a virtual passport that lies, selectable by name (docs/reliability.md).

A phone can forge any chip answer, so a server has to survive chips that answer
garbage, truncate or replay responses, break Secure Messaging, send 4 GB length
fields, drip-feed files, carry 16k-bit keys or forge PACE points.  Each behaviour
here wraps a genuine profile chip (:mod:`docval.sim.profiles`) and changes exactly
one thing, so a test can assert the one outcome the
catalogue demands::

    chip = hostile_chip("bad-mac")             # a HostileChip; .transmit(raw) -> raw
    chip = hostile_chip("pace-point-off-curve", profile="pace-ecdh-gm-aes128")

``BEHAVIOURS`` maps each name to its description, the catalogue row it plays and
the profile it needs; :func:`hostile_chip` builds a fresh chip per session.

A behaviour acts at one of three levels: *files* (a different file, with EF.SOD
re-signed by the demo DSC when the forgery must survive the hash check), *plain*
answers (a mechanism's answer before Secure Messaging wraps it: wrong status
words, short reads, forged signatures, forged PACE data) and *raw* answers (the
bytes on the wire: bad MACs, replays, truncation, garbage).  Plain answers are
forged through the chip's one plug-in style (:mod:`docval.sim.mechanism`):
every mechanism of the genuine chip is replaced by a :class:`ForgedAnswers`
around it.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

from asn1crypto import cms, core
from asn1crypto import keys as akeys
from cryptography.hazmat.primitives.asymmetric import rsa

from docval.emrtd import ec, files, tlv
from docval.emrtd.apdu import CommandAPDU, ResponseAPDU
from docval.emrtd.bac import derive_bac_keys, encrypt_and_mac, verify_and_decrypt
from docval.emrtd.crypto import cbc_encrypt
from docval.emrtd.securityinfo import (
    ID_CA_ECDH,
    ID_PACE,
    ID_PK_DH,
    ID_PK_ECDH,
    AlgorithmIdentifier,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PACEDomainParameterInfo,
    PACEInfo,
    UnknownSecurityInfo,
    ca_oid,
    encode_dg14,
    encode_oid,
    encode_security_infos,
    pace_oid,
    parse_dg14,
)
from docval.emrtd.sm import DO_ENCRYPTED, DO_ENCRYPTED_ODD, DO_MAC, DO_STATUS, SM_CLA_BITS, SecureMessaging
from docval.sim import datagroups, pki, pki_cms
from docval.sim.aa_chip import AaChip
from docval.sim.ca_chip import CaChip
from docval.sim.chip import VirtualChip
from docval.sim.edit import app_files, put_dg, resign_sod
from docval.sim.mechanism import ChipContext, Mechanism
from docval.sim.pace_chip import PaceChip
from docval.sim.profiles import get_profile

INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_READ_BINARY_ODD = 0xB1
INS_EXTERNAL_AUTHENTICATE = 0x82
INS_GENERAL_AUTHENTICATE = 0x86
INS_INTERNAL_AUTHENTICATE = 0x88
INS_MSE = 0x22

RawHook = Callable[["HostileChip", bytes, bytes], bytes]
PlainHook = Callable[["HostileChip", CommandAPDU, ResponseAPDU], ResponseAPDU]
M = TypeVar("M")


class ForgedAnswers(Mechanism):
    """A genuine mechanism whose answers pass through the hostile chip's plain hooks.

    The chip asks a mechanism between SM unwrap and SM wrap, so a forged answer
    still carries a valid MAC, as a phone holding the session keys could make it.
    """

    def __init__(self, genuine: Mechanism, chip: HostileChip):
        self.genuine = genuine
        self.chip = chip
        self.requires_access = genuine.requires_access
        self.reassembles_chains = genuine.reassembles_chains

    def __repr__(self) -> str:
        return f"<ForgedAnswers {self.genuine!r}>"

    def claims(self, cmd: CommandAPDU) -> bool:
        return self.genuine.claims(cmd)

    def answer(self, chip: ChipContext, cmd: CommandAPDU) -> ResponseAPDU:
        resp = self.genuine.answer(chip, cmd)
        for hook in self.chip.plain_hooks:
            resp = hook(self.chip, cmd, resp)
        return resp


class HostileChip:
    """A chip that misbehaves: ``transmit`` runs the genuine chip, then the hooks.

    Other attributes (``fs``, ``commands``, ``sm`` ...) are the wrapped chip's;
    its mechanisms answer through :class:`ForgedAnswers`, so plug in any extra
    mechanism before wrapping.  ``exchanges`` counts raw commands, ``protected``
    the SM-protected ones, ``ga_steps`` the GENERAL AUTHENTICATE commands of the
    current PACE run.
    """

    def __init__(self, inner: VirtualChip, name: str = "custom", seed: int = 0):
        self.inner = inner
        self.name = name
        self.rnd = random.Random(seed)
        self.raw_hooks: list[RawHook] = []
        self.plain_hooks: list[PlainHook] = []
        self.exchanges = 0
        self.protected = 0
        self.ga_steps = 0
        self.state: dict[str, Any] = {}
        self._sm_answers: list[bytes] = []
        inner.mechanisms = [ForgedAnswers(m, self) for m in inner.mechanisms]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def mechanism(self, kind: type[M]) -> M:
        """The genuine mechanism of class ``kind`` behind the forging wrapper."""
        for m in self.inner.mechanisms:
            genuine = m.genuine if isinstance(m, ForgedAnswers) else m
            if isinstance(genuine, kind):
                return genuine
        raise LookupError(f"{self.name}: the chip has no {kind.__name__}")

    def __repr__(self) -> str:
        return f"<HostileChip {self.name} {self.inner!r}>"

    def transmit(self, raw: bytes) -> bytes:
        raw = bytes(raw)
        self.exchanges += 1
        if len(raw) >= 2 and raw[1] == INS_MSE:
            self.ga_steps = 0
        elif len(raw) >= 2 and raw[1] == INS_GENERAL_AUTHENTICATE:
            self.ga_steps += 1
        resp = self.inner.transmit(raw)
        if raw and raw[0] & SM_CLA_BITS == SM_CLA_BITS:
            self.protected += 1
        for hook in self.raw_hooks:
            resp = hook(self, raw, resp)
        if raw and raw[0] & SM_CLA_BITS == SM_CLA_BITS:
            self._sm_answers.append(resp)
        return resp

    @property
    def previous_protected_answer(self) -> bytes | None:
        return self._sm_answers[-1] if self._sm_answers else None


# ----------------------------------------------------------------------------- helpers

def is_protected(raw: bytes) -> bool:
    return bool(raw) and raw[0] & SM_CLA_BITS == SM_CLA_BITS


def _ssc_bytes(sm: SecureMessaging) -> bytes:
    return sm.ssc.to_bytes(sm.spec.block_size, "big")


def _session(chip: HostileChip) -> SecureMessaging:
    """The chip's SM session keys, which a phone that ran access control holds as well."""
    sm = chip.inner.sm
    if sm is None:
        raise AssertionError("forging a protected answer needs a Secure Messaging session")
    return sm


def remac(chip: HostileChip, dos: bytes, sw: int) -> bytes:
    """A protected answer with these data objects and a MAC valid under the chip's keys.

    Only a party holding the session keys can do this: after BAC the phone can
    (it knows the MRZ), so everything *after* the MAC check must hold too (S2-S4).
    """
    sm = _session(chip)
    mac = sm._mac(_ssc_bytes(sm), dos)
    return dos + tlv.encode(DO_MAC, mac) + sw.to_bytes(2, "big")


def _dos(data: bytes) -> list[tlv.TLV]:
    return tlv.parse_all(data)


def nth_protected(n: int) -> Callable[[HostileChip, bytes], bool]:
    """True for the n-th protected command (1-based) of the session."""
    return lambda chip, raw: is_protected(raw) and chip.protected == n


def reading(ref: files.FileRef) -> Callable[[HostileChip, CommandAPDU], bool]:
    """True for a SELECT or READ BINARY of that file (by FID, by SFI, or while it is current)."""
    def match(chip: HostileChip, cmd: CommandAPDU) -> bool:
        if cmd.ins == INS_SELECT and cmd.p1 in (0x00, 0x02) and cmd.data == ref.fid.to_bytes(2, "big"):
            return True
        if cmd.ins in (INS_READ_BINARY, INS_READ_BINARY_ODD):
            if cmd.ins == INS_READ_BINARY and cmd.p1 & 0x80:
                return ref.sfi is not None and cmd.p1 & 0x1F == ref.sfi
            current = chip.inner.fs.current_ef
            return current is not None and current.ref.fid == ref.fid \
                and current.ref.in_application == ref.in_application
        return False
    return match


# ----------------------------------------------------------------------------- raw faults

def answer_raw(when: Callable[[HostileChip, bytes], bool], make: Callable[[HostileChip, bytes, bytes], bytes]) -> RawHook:
    def hook(chip: HostileChip, raw: bytes, resp: bytes) -> bytes:
        return make(chip, raw, resp) if when(chip, raw) else resp
    return hook


def _flip_mac(chip: HostileChip, raw: bytes, resp: bytes) -> bytes:
    out = bytearray(resp)
    out[-3] ^= 0x01          # last MAC byte (before SW1 SW2)
    return bytes(out)


def _drop_mac(chip: HostileChip, raw: bytes, resp: bytes) -> bytes:
    return resp[:-12] + resp[-2:] if len(resp) >= 12 else resp


def _garbage(chip: HostileChip, raw: bytes, resp: bytes) -> bytes:
    n = chip.rnd.randrange(0, 48)
    return bytes(chip.rnd.getrandbits(8) for _ in range(n))


def _replay(chip: HostileChip, raw: bytes, resp: bytes) -> bytes:
    old = chip.previous_protected_answer
    return old if old is not None else resp


def _status_do_mismatch(chip: HostileChip, raw: bytes, resp: bytes) -> bytes:
    # A genuine MAC over DO'99', but the outer status word says something else.
    return resp[:-2] + (b"\x62\x82" if resp[-2:] == b"\x90\x00" else b"\x90\x00")


def _forge_sm(make_dos: Callable[[HostileChip, list[tlv.TLV]], bytes], sw: int | None = None
              ) -> Callable[[HostileChip, bytes, bytes], bytes]:
    """Replace the data objects of a protected answer and MAC them with the chip's keys."""
    def make(chip: HostileChip, raw: bytes, resp: bytes) -> bytes:
        items = _dos(resp[:-2])
        body = make_dos(chip, items)
        return remac(chip, body, sw if sw is not None else int.from_bytes(resp[-2:], "big"))
    return make


def _find(items: list[tlv.TLV], tag: int) -> tlv.TLV | None:
    return next((i for i in items if i.tag == tag), None)


def _status_do(items: list[tlv.TLV]) -> bytes:
    item = _find(items, DO_STATUS)
    return item.encode() if item else tlv.encode(DO_STATUS, b"\x90\x00")


def _data_do(items: list[tlv.TLV]) -> tlv.TLV:
    item = _find(items, DO_ENCRYPTED) or _find(items, DO_ENCRYPTED_ODD)
    return item if item is not None else tlv.TLV(DO_ENCRYPTED, b"\x01" + bytes(16))


def _bad_indicator(chip: HostileChip, items: list[tlv.TLV]) -> bytes:
    data = _data_do(items)
    return tlv.encode(DO_ENCRYPTED, b"\x02" + data.value[1:]) + _status_do(items)


def _ragged_cryptogram(chip: HostileChip, items: list[tlv.TLV]) -> bytes:
    data = _data_do(items)
    return tlv.encode(DO_ENCRYPTED, data.value[:-1]) + _status_do(items)


def _bad_padding(chip: HostileChip, items: list[tlv.TLV]) -> bytes:
    """A cryptogram that decrypts to a block without ISO 9797-1 M2 padding (padding-oracle probe)."""
    sm = _session(chip)
    bs = sm.spec.block_size
    iv = sm._iv(_ssc_bytes(sm))
    cryptogram = cbc_encrypt(sm.spec, sm._k_enc, iv, b"\x41" * bs)   # no 80 00.. at the end
    return tlv.encode(DO_ENCRYPTED, b"\x01" + cryptogram) + _status_do(items)


def _duplicate_status(chip: HostileChip, items: list[tlv.TLV]) -> bytes:
    return _data_do(items).encode() + _status_do(items) + _status_do(items)


def _odd_do(chip: HostileChip, items: list[tlv.TLV]) -> bytes:
    data = _data_do(items)
    return tlv.encode(DO_ENCRYPTED_ODD, data.value[1:]) + _status_do(items)


def _missing_status(chip: HostileChip, items: list[tlv.TLV]) -> bytes:
    return _data_do(items).encode()


def _short_status(chip: HostileChip, items: list[tlv.TLV]) -> bytes:
    return _data_do(items).encode() + tlv.encode(DO_STATUS, b"\x90")


def _trailing(chip: HostileChip, raw: bytes, resp: bytes) -> bytes:
    return resp[:-2] + b"\x00\x00" + resp[-2:]


# ----------------------------------------------------------------------------- plain faults

def answer_plain(when: Callable[[HostileChip, CommandAPDU], bool],
                 make: Callable[[HostileChip, CommandAPDU, ResponseAPDU], ResponseAPDU]) -> PlainHook:
    def hook(chip: HostileChip, cmd: CommandAPDU, resp: ResponseAPDU) -> ResponseAPDU:
        return make(chip, cmd, resp) if when(chip, cmd) else resp
    return hook


def status(sw: int) -> Callable[[HostileChip, CommandAPDU, ResponseAPDU], ResponseAPDU]:
    return lambda chip, cmd, resp: ResponseAPDU(b"", sw)


def _is_read(chip: HostileChip, cmd: CommandAPDU) -> bool:
    return cmd.ins in (INS_READ_BINARY, INS_READ_BINARY_ODD)


def _zero_bytes(chip: HostileChip, cmd: CommandAPDU, resp: ResponseAPDU) -> ResponseAPDU:
    chip.state["zero_reads"] = chip.state.get("zero_reads", 0) + 1
    return ResponseAPDU(b"", 0x9000)


def _one_byte(chip: HostileChip, cmd: CommandAPDU, resp: ResponseAPDU) -> ResponseAPDU:
    chip.state["one_byte_reads"] = chip.state.get("one_byte_reads", 0) + 1
    return ResponseAPDU(resp.data[:1], 0x9000) if resp.data else resp


def _longer_than_le(chip: HostileChip, cmd: CommandAPDU, resp: ResponseAPDU) -> ResponseAPDU:
    if resp.sw not in (0x9000, 0x6282) or cmd.le is None:
        return resp
    return ResponseAPDU(resp.data.ljust(cmd.le, b"\x00") + b"\x00" * 8, 0x9000)


def _data_on_select(chip: HostileChip, cmd: CommandAPDU, resp: ResponseAPDU) -> ResponseAPDU:
    return ResponseAPDU(b"\x6F\x03\x84\x01\x00", resp.sw) if resp.sw == 0x9000 else resp


def _early_eof(chip: HostileChip, cmd: CommandAPDU, resp: ResponseAPDU) -> ResponseAPDU:
    # The header promised more: EOF (6282) with fewer bytes than the file holds.
    if resp.sw in (0x9000, 0x6282) and len(resp.data) > 8:
        return ResponseAPDU(resp.data[: len(resp.data) // 2], 0x6282)
    return resp


def _first_ga_non_iso(chip: HostileChip, cmd: CommandAPDU, resp: ResponseAPDU) -> ResponseAPDU:
    return ResponseAPDU(b"\xFF\xFF", 0xC200)


def _ga_objects(resp: ResponseAPDU) -> list[tlv.TLV]:
    return tlv.parse_single(resp.data, 0x7C).children()


def _replace_ga(tag: int, forge: Callable[[HostileChip, CommandAPDU, bytes], bytes]
                ) -> Callable[[HostileChip, CommandAPDU, ResponseAPDU], ResponseAPDU]:
    """Replace one dynamic-authentication-data object of a GENERAL AUTHENTICATE answer."""
    def make(chip: HostileChip, cmd: CommandAPDU, resp: ResponseAPDU) -> ResponseAPDU:
        if resp.sw != 0x9000 or not resp.data:
            return resp
        out = b""
        for item in _ga_objects(resp):
            value = forge(chip, cmd, item.value) if item.tag == tag else item.value
            out += tlv.encode(item.tag, value)
        return ResponseAPDU(tlv.encode(0x7C, out), resp.sw)
    return make


def ga_step(n: int) -> Callable[[HostileChip, CommandAPDU], bool]:
    return lambda chip, cmd: cmd.ins == INS_GENERAL_AUTHENTICATE and chip.ga_steps == n


def _flip_last(chip: HostileChip, cmd: CommandAPDU, value: bytes) -> bytes:
    return value[:-1] + bytes([value[-1] ^ 0x01]) if value else b"\x01"


def _shorter(chip: HostileChip, cmd: CommandAPDU, value: bytes) -> bytes:
    return value[:-1]


def _infinity(chip: HostileChip, cmd: CommandAPDU, value: bytes) -> bytes:
    return b"\x00"


def _echo_terminal_key(chip: HostileChip, cmd: CommandAPDU, value: bytes) -> bytes:
    """PK_IC = PK_PCD: the terminal's own key sent back (a reflection attack)."""
    item = tlv.parse_single(cmd.data, 0x7C).find(0x83)
    return item.value if item is not None else value


def _pace_domain(chip: HostileChip) -> Any:
    return chip.mechanism(PaceChip).suite.domain


def _dh_value(which: str) -> Callable[[HostileChip, CommandAPDU, bytes], bytes]:
    def forge(chip: HostileChip, cmd: CommandAPDU, value: bytes) -> bytes:
        p: int = _pace_domain(chip).prime
        number = {"zero": 0, "one": 1, "p-1": p - 1, "p": p,
                  "non-subgroup": _non_subgroup_element(_pace_domain(chip))}[which]
        return number.to_bytes(len(value), "big")
    return forge


def _non_subgroup_element(domain: Any) -> int:
    """An element of Z_p* outside the order-q subgroup (h = 2 is one for every MODP group here)."""
    group = domain.group
    for h in range(2, 100):
        if pow(h, group.q, group.p) != 1:
            return h
    raise AssertionError("no element outside the subgroup found")


def _aa_truncate(chip: HostileChip, cmd: CommandAPDU, resp: ResponseAPDU) -> ResponseAPDU:
    return ResponseAPDU(resp.data[:-1], resp.sw)


def _aa_flip(chip: HostileChip, cmd: CommandAPDU, resp: ResponseAPDU) -> ResponseAPDU:
    data = bytearray(resp.data)
    data[len(data) // 2] ^= 0x40
    return ResponseAPDU(bytes(data), resp.sw)


def _aa_replay(chip: HostileChip, cmd: CommandAPDU, resp: ResponseAPDU) -> ResponseAPDU:
    """The signature of an earlier challenge: what a recorded session would give."""
    return ResponseAPDU(chip.mechanism(AaChip).sign(b"\x00" * 8, chip.inner.rng), 0x9000)


def _aa_bad_trailer(chip: HostileChip, cmd: CommandAPDU, resp: ResponseAPDU) -> ResponseAPDU:
    """A correctly *signed* ISO 9796-2 block whose trailer names no hash (RSA only)."""
    key = chip.mechanism(AaChip).private_key
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("aa-bad-trailer needs a chip with an RSA Active Authentication key")
    numbers = key.private_numbers()
    n, d = numbers.public_numbers.n, numbers.d
    k = (n.bit_length() + 7) // 8
    f = bytearray(b"\x6A" + bytes(chip.rnd.getrandbits(8) for _ in range(k - 3)) + b"\x77\xCC")
    f[0] = 0x6A
    return ResponseAPDU(pow(int.from_bytes(f, "big"), d, n).to_bytes(k, "big"), 0x9000)


def _bac_truncate(chip: HostileChip, cmd: CommandAPDU, resp: ResponseAPDU) -> ResponseAPDU:
    return ResponseAPDU(resp.data[:32], resp.sw) if resp.sw == 0x9000 else resp


def _bac_flip_mac(chip: HostileChip, cmd: CommandAPDU, resp: ResponseAPDU) -> ResponseAPDU:
    return ResponseAPDU(resp.data[:-1] + bytes([resp.data[-1] ^ 1]), resp.sw) if resp.data else resp


def _bac_wrong_rnd_ifd(chip: HostileChip, cmd: CommandAPDU, resp: ResponseAPDU) -> ResponseAPDU:
    """A correctly encrypted and MACed answer whose RND.IFD is not the terminal's."""
    if resp.sw != 0x9000:
        return resp
    k_enc, k_mac = derive_bac_keys(chip.state["mrz_key"])
    plain = bytearray(verify_and_decrypt(k_enc, k_mac, resp.data))
    plain[8] ^= 0xFF                  # RND.IC (8) || RND.IFD (8) || K.IC (16)
    return ResponseAPDU(encrypt_and_mac(k_enc, k_mac, bytes(plain)), resp.sw)


# ----------------------------------------------------------------------------- hostile files

def huge_rsa_spki(bits: int = 16384, e: int = (1 << 16) + 1) -> bytes:
    """A SubjectPublicKeyInfo with an RSA modulus of ``bits`` bits (K6: 7 s of CPU if accepted)."""
    rnd = random.Random(bits)
    n = rnd.getrandbits(bits) | (1 << (bits - 1)) | 1
    der: bytes = akeys.PublicKeyInfo({
        "algorithm": {"algorithm": "rsa"},
        "public_key": akeys.RSAPublicKey({"modulus": n, "public_exponent": e}),
    }).dump()
    return der


def _integer(v: int) -> bytes:
    return tlv.encode(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big"))


def huge_dh_spki(bits: int = 16384) -> bytes:
    """A DH key (X9.42 parameters p, g, q) with a ``bits``-bit prime."""
    rnd = random.Random(bits)
    p = rnd.getrandbits(bits) | (1 << (bits - 1)) | 1
    params = tlv.encode(0x30, _integer(p) + _integer(2) + _integer((p - 1) // 2))
    algo = tlv.encode(0x30, encode_oid("1.2.840.10046.2.1") + params)
    return tlv.encode(0x30, algo + tlv.encode(0x03, b"\x00" + _integer(p - 5)))


def fake_curve_spki() -> bytes:
    """An EC key with explicit parameters that share brainpoolP256r1's prime but not its curve (X3/K4)."""
    curve = ec.BY_NAME["brainpoolP256r1"]
    p, a, n = curve.p, curve.a, curve.n
    b = (curve.b + 1) % p
    size = curve.byte_length
    integer = _integer
    field_id = tlv.encode(0x30, encode_oid("1.2.840.10045.1.1") + integer(p))
    curve_seq = tlv.encode(0x30, tlv.encode(0x04, a.to_bytes(size, "big")) + tlv.encode(0x04, b.to_bytes(size, "big")))
    g = b"\x04" + curve.gx.to_bytes(size, "big") + curve.gy.to_bytes(size, "big")
    params = tlv.encode(0x30, integer(1) + field_id + curve_seq + tlv.encode(0x04, g) + integer(n) + integer(1))
    algo = tlv.encode(0x30, encode_oid("1.2.840.10045.2.1") + params)
    return tlv.encode(0x30, algo + tlv.encode(0x03, b"\x00" + g))


def _dg15(spki: bytes) -> bytes:
    return tlv.encode(0x6F, spki)


def _ca_key_info(spki: bytes, key_id: int | None = None) -> ChipAuthenticationPublicKeyInfo:
    algo_oid = tlv.parse_single(spki, 0x30).children()[0].children()[0]
    oid = ID_PK_ECDH if algo_oid.value == encode_oid("1.2.840.10045.2.1")[2:] else ID_PK_DH
    return ChipAuthenticationPublicKeyInfo(oid, spki, key_id)


def nested(depth: int, tag: int = 0x30, inner: bytes = b"\x05\x00") -> bytes:
    """``depth`` definite-length constructed TLVs inside each other (T3)."""
    data = inner
    for _ in range(depth):
        data = tlv.encode(tag, data)
    return data


def jp2_bomb(width: int = 60000, height: int = 60000) -> bytes:
    """A raw JPEG 2000 codestream whose SIZ declares width x height pixels (D2)."""
    siz = (b"\x00\x00" + width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes(8)
           + width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes(8) + b"\x00\x01" + b"\x07\x01\x01")
    return b"\xFF\x4F" + b"\xFF\x51" + (len(siz) + 2).to_bytes(2, "big") + siz + b"\xFF\xD9"


def _dg2_with(images: list[bytes]) -> bytes:
    return datagroups.encode_dg2([(img, 64, 64, "j2k" if img[:2] == b"\xFF\x4F" else "jpeg") for img in images])


def _latin1_dg11() -> bytes:
    body = tlv.encode(0x5C, b"\x5F\x0E\x5F\x11") + tlv.encode(0x5F0E, "MÜLLER<<JÖRG".encode("latin-1")) \
        + tlv.encode(0x5F11, "SÃO PAULO".encode("latin-1"))
    return tlv.encode(0x6B, body)


# ----------------------------------------------------------------------------- the catalogue

@dataclass(frozen=True)
class Behaviour:
    name: str
    row: str                         # docs/reliability.md ID
    description: str
    setup: Callable[[HostileChip, Any], None]
    profile: str = "pace-ecdh-gm-aes128"


def _raw(when: Callable[[HostileChip, bytes], bool], make: Callable[[HostileChip, bytes, bytes], bytes]
         ) -> Callable[[HostileChip, Any], None]:
    return lambda chip, profile: chip.raw_hooks.append(answer_raw(when, make))


def _plain(when: Callable[[HostileChip, CommandAPDU], bool],
           make: Callable[[HostileChip, CommandAPDU, ResponseAPDU], ResponseAPDU]) -> Callable[[HostileChip, Any], None]:
    return lambda chip, profile: chip.plain_hooks.append(answer_plain(when, make))


def _files(change: Callable[[VirtualChip], None]) -> Callable[[HostileChip, Any], None]:
    return lambda chip, profile: change(chip.inner)


def _quirks(**changes: Any) -> Callable[[HostileChip, Any], None]:
    def setup(chip: HostileChip, profile: Any) -> None:
        for name, value in changes.items():
            setattr(chip.inner.quirks, name, value)
    return setup


def _both(*setups: Callable[[HostileChip, Any], None]) -> Callable[[HostileChip, Any], None]:
    def setup(chip: HostileChip, profile: Any) -> None:
        for s in setups:
            s(chip, profile)
    return setup


def _mark_sod(chip: HostileChip, profile: Any) -> None:
    seen = reading(files.EF_SOD)

    def hook(c: HostileChip, cmd: CommandAPDU, resp: ResponseAPDU) -> ResponseAPDU:
        if seen(c, cmd):
            c.state["sod_seen"] = True
        return resp
    chip.plain_hooks.insert(0, hook)


def _remember_key(chip: HostileChip, profile: Any) -> None:
    chip.state["mrz_key"] = profile.access_key


def _card_access(infos: list[Any]) -> Callable[[VirtualChip], None]:
    return lambda c: c.fs.master.put(files.CARD_ACCESS, encode_security_infos(infos))


def _gm() -> PACEInfo:
    return PACEInfo(pace_oid("ECDH", "GM", "AES128"), 2, 13)


def _sixteen_k_domain() -> PACEDomainParameterInfo:
    rnd = random.Random(7)
    p = rnd.getrandbits(16384) | (1 << 16383) | 1
    params = tlv.encode(0x30, _integer(p) + _integer(2) + _integer((p - 1) // 2))
    der = tlv.encode(0x30, encode_oid("1.2.840.10046.2.1") + params)
    return PACEDomainParameterInfo(ID_PACE + ".1", AlgorithmIdentifier("1.2.840.10046.2.1", der), 32)


def _nonstandard_pace(c: VirtualChip) -> None:
    # A PACEInfo whose parameterId points at explicit (non-standard) domain parameters.
    _card_access([_sixteen_k_domain(), PACEInfo(pace_oid("DH", "GM", "AES128"), 2, 32)])(c)


def _dg14_variant(kind: str) -> Callable[[VirtualChip], None]:
    def change(c: VirtualChip) -> None:
        genuine = parse_dg14(app_files(c)[14])
        infos: list[Any] = list(genuine.items)
        if kind == "unknown-curve":
            infos = [ChipAuthenticationInfo(ca_oid("ECDH", "AES128"), 1, None), _ca_key_info(fake_curve_spki())]
        elif kind == "huge-dh":
            infos = [ChipAuthenticationInfo(ca_oid("DH", "AES128"), 1, None), _ca_key_info(huge_dh_spki())]
        elif kind == "many-keys":
            key = genuine.ca_public_keys[0]
            infos = [ChipAuthenticationInfo(ca_oid("ECDH", "AES128"), 1, 1),
                     ChipAuthenticationInfo(ca_oid("ECDH", "AES128"), 1, 2),
                     ChipAuthenticationPublicKeyInfo(key.oid, key.spki, 1),
                     ChipAuthenticationPublicKeyInfo(key.oid, fake_curve_spki(), 2)]
        elif kind == "unknown-oids":
            infos = list(genuine.ca_infos) + list(genuine.ca_public_keys) + [
                UnknownSecurityInfo("1.2.3.4.5.6", tlv.encode(0x30, encode_oid("1.2.3.4.5.6") + tlv.encode(0x02, b"\x01"))),
                UnknownSecurityInfo(ID_CA_ECDH + ".99", tlv.encode(0x30, encode_oid(ID_CA_ECDH + ".99")))]
        put_dg(c, 14, encode_dg14(infos))
    return change


def _huge_dg15(signed: bool) -> Callable[[VirtualChip], None]:
    return lambda c: put_dg(c, 15, _dg15(huge_rsa_spki()), resign=signed)


def _sod_bomb(c: VirtualChip) -> None:
    c.fs.application.put(files.EF_SOD, b"\x77\x84\xFF\xFF\xFF\xFF" + b"\x30" * 64)


def _sod_long_length(c: VirtualChip) -> None:
    sod = c.fs.application.by_fid[files.EF_SOD.fid].content
    _, hlen, length = tlv.read_header(sod)
    c.fs.application.put(files.EF_SOD, b"\x77\x85\x00" + length.to_bytes(4, "big") + sod[hlen:])


def _sod_deep(c: VirtualChip) -> None:
    c.fs.application.put(files.EF_SOD, tlv.encode(0x77, nested(3000)))


def _dg11_deep(c: VirtualChip) -> None:
    put_dg(c, 11, tlv.encode(0x6B, nested(3000, tag=0xA0)))


def _dg1_other_person(c: VirtualChip) -> None:
    mrz = datagroups.make_td3_mrz(issuing_state="UTO", primary_identifier="OTHER", secondary_identifier="PERSON",
                                  document_number="XX0000000", nationality="UTO", date_of_birth="010101",
                                  gender="M", date_of_expiry="300101")
    put_dg(c, 1, datagroups.encode_dg1(mrz))


def _not_in_sod(c: VirtualChip) -> None:
    """DG7 on the chip but not listed in EF.SOD; DG11 listed but unreadable (T6)."""
    dgs = app_files(c)
    dgs.pop(7, None)
    sod = pki.sod_for_data_groups(dgs)
    c.fs.application.put(files.dg(7), datagroups.encode_dg7([datagroups.make_face_jpeg(40, 20, seed=9)]))
    c.fs.application.put(files.EF_SOD, sod)


def _sha1_sod(c: VirtualChip) -> None:
    resign_sod(c, hash_name="SHA-1", signing_time=datetime(2021, 5, 1, tzinfo=timezone.utc))


def _legacy_oid(c: VirtualChip) -> None:
    resign_sod(c, legacy_oid=True)


def forge_sod(change: Callable[[Any], None]) -> Callable[[VirtualChip], None]:
    """EF.SOD edited as CMS (asn1crypto ContentInfo) by ``change``, then put back on the chip."""
    def edit(c: VirtualChip) -> None:
        sod = c.fs.application.by_fid[files.EF_SOD.fid].content
        info = cms.ContentInfo.load(tlv.parse_single(sod, 0x77).value)
        change(info)
        c.fs.application.put(files.EF_SOD, tlv.encode(0x77, info.dump(force=True)))
    return edit


def _resign_signer_info(info: Any) -> None:
    """Sign the (changed) signed attributes -- or the content when there are none -- again."""
    dsc = pki.demo_pki().dsc
    si = info["content"]["signer_infos"][0]
    attrs = si["signed_attrs"]
    data = attrs.dump(force=True) if not isinstance(attrs, core.Void) else \
        info["content"]["encap_content_info"]["content"].contents
    si["signature"] = pki_cms._sign(dsc.key, dsc.scheme, "SHA-256", data)


def _set_signed_attr(name: str, value: Any) -> Callable[[Any], None]:
    def change(info: Any) -> None:
        si = info["content"]["signer_infos"][0]
        attrs = [a for a in si["signed_attrs"] if a["type"].native != name]
        attrs.append({"type": name, "values": [value]})
        si["signed_attrs"] = cms.CMSAttributes(attrs)
        _resign_signer_info(info)
    return change


def _drop_signed_attrs(info: Any) -> None:
    info["content"]["signer_infos"][0]["signed_attrs"] = None
    _resign_signer_info(info)


def _two_signers(info: Any) -> None:
    signer_infos = info["content"]["signer_infos"]
    info["content"]["signer_infos"] = cms.SignerInfos([signer_infos[0], signer_infos[0].copy()])


def _unknown_digest(info: Any) -> None:
    info["content"]["signer_infos"][0]["digest_algorithm"] = {"algorithm": "1.2.3.4.5"}
    info["content"]["digest_algorithms"] = [{"algorithm": "1.2.3.4.5"}]


BEHAVIOURS: dict[str, Behaviour] = {b.name: b for b in [
    # b3 plain APDU layer
    Behaviour("garbage", "A1", "every answer is random bytes", _raw(lambda c, r: True, _garbage)),
    Behaviour("empty-response", "A1", "the first protected answer is empty (no status word)",
              _raw(nth_protected(1), lambda c, r, s: b"")),
    Behaviour("one-byte-response", "A1", "the first protected answer is one byte",
              _raw(nth_protected(1), lambda c, r, s: s[:1])),
    Behaviour("non-iso-status", "A2", "the first PACE step answers FFFF C200 (old Android NFC timeout)",
              _plain(ga_step(1), _first_ga_non_iso)),
    Behaviour("sod-absent", "A2", "EF.SOD answers 6A82", _plain(reading(files.EF_SOD), status(0x6A82))),
    Behaviour("dg2-absent", "A2", "DG2 (mandatory) answers 6A82", _plain(reading(files.dg(2)), status(0x6A82))),
    Behaviour("dg11-absent", "A2", "DG11 (listed in EF.SOD) answers 6A82", _plain(reading(files.dg(11)), status(0x6A82))),
    Behaviour("dg11-needs-eac", "A2", "DG11 answers 6982 (needs Extended Access Control)",
              _plain(reading(files.dg(11)), status(0x6982))),
    Behaviour("dg12-offset-outside", "A2", "DG12 answers 6B00", _plain(reading(files.dg(12)), status(0x6B00))),
    Behaviour("sm-data-incorrect", "A2", "once EF.SOD is being read, every protected command gets a plain 6988",
              _raw(lambda c, r: is_protected(r) and c.state.get("sod_seen", False), lambda c, r, s: b"\x69\x88")),
    Behaviour("sm-data-missing", "A2", "the first protected answer is a plain 6987",
              _raw(nth_protected(1), lambda c, r, s: b"\x69\x87")),
    Behaviour("wrong-length-6700", "A2", "READ BINARY above 200 bytes answers 6700 (the Le ladder)",
              _quirks(max_le=200)),
    Behaviour("wrong-length-6c", "A2", "READ BINARY above 100 bytes answers 6C64",
              _quirks(max_le=100, too_long_sw="6C")),
    Behaviour("longer-than-le", "A3", "READ BINARY answers 8 bytes more than Le", _plain(_is_read, _longer_than_le)),
    Behaviour("data-on-select", "A3", "SELECT without response data (P2=0C) answers data",
              _plain(lambda c, cmd: cmd.ins == INS_SELECT and cmd.p2 == 0x0C, _data_on_select)),
    Behaviour("card-access-malformed", "A4", "EF.CardAccess is not a SET of SecurityInfos (MRZ key: BAC fallback)",
              _files(lambda c: c.fs.master.put(files.CARD_ACCESS, b"\x31\x84\xFF\xFF\xFF\xFF"))),
    Behaviour("card-access-unknown-oids", "A4", "EF.CardAccess lists unknown OIDs next to the real PACEInfo",
              _files(_card_access([UnknownSecurityInfo("1.2.3.4", tlv.encode(0x30, encode_oid("1.2.3.4")
                                                                                + tlv.encode(0x02, b"\x01"))),
                                   _gm(),
                                   UnknownSecurityInfo(pace_oid("ECDH", "GM", "AES128")[:-1] + "9",
                                                       tlv.encode(0x30, encode_oid(pace_oid("ECDH", "GM", "AES128")[:-1] + "9")
                                                                  + tlv.encode(0x02, b"\x02")))]))),
    Behaviour("card-access-several-pace", "A4", "EF.CardAccess offers several PACEInfos (the chip runs only one)",
              _files(_card_access([PACEInfo(pace_oid("ECDH", "GM", "TDES"), 2, 13), _gm(),
                                   PACEInfo(pace_oid("ECDH", "GM", "AES128"), 2, 99)]))),
    Behaviour("card-access-nonstandard", "A4", "EF.CardAccess offers only PACE with a 16k-bit non-standard prime",
              _files(_nonstandard_pace)),
    # b4 SM
    Behaviour("bad-mac", "S1", "the first protected answer has a wrong MAC", _raw(nth_protected(1), _flip_mac)),
    Behaviour("bad-mac-later", "S1", "the fourth protected answer has a wrong MAC", _raw(nth_protected(4), _flip_mac)),
    Behaviour("missing-mac", "S1", "the first protected answer has no DO'8E'", _raw(nth_protected(1), _drop_mac)),
    Behaviour("status-do-mismatch", "S2", "DO'99' (under a valid MAC) differs from the outer status word",
              _raw(nth_protected(2), _status_do_mismatch)),
    Behaviour("status-do-missing", "S2", "no DO'99', valid MAC", _raw(nth_protected(2), _forge_sm(_missing_status))),
    Behaviour("status-do-short", "S2", "DO'99' of one byte, valid MAC", _raw(nth_protected(2), _forge_sm(_short_status))),
    Behaviour("padding-indicator", "S3", "DO'87' padding indicator 02, valid MAC",
              _raw(nth_protected(2), _forge_sm(_bad_indicator))),
    Behaviour("ragged-cryptogram", "S3", "DO'87' cryptogram not a block multiple, valid MAC",
              _raw(nth_protected(2), _forge_sm(_ragged_cryptogram))),
    Behaviour("bad-padding", "S3", "DO'87' decrypts without ISO 9797-1 M2 padding, valid MAC",
              _raw(nth_protected(2), _forge_sm(_bad_padding))),
    Behaviour("duplicate-do", "S4", "DO'99' twice, valid MAC", _raw(nth_protected(2), _forge_sm(_duplicate_status))),
    Behaviour("odd-do-for-even-ins", "S4", "DO'85' answering an even-INS READ BINARY, valid MAC",
              _raw(nth_protected(2), _forge_sm(_odd_do))),
    Behaviour("trailing-bytes", "S4", "bytes after DO'8E'", _raw(nth_protected(2), _trailing)),
    Behaviour("naked-sw", "S5", "a plain 6988 in the middle of Secure Messaging",
              _raw(nth_protected(3), lambda c, r, s: b"\x69\x88")),
    Behaviour("replay", "S6", "the third protected answer is the second one again", _raw(nth_protected(3), _replay)),
    # b5 TLV / files
    Behaviour("sod-length-bomb", "T1", "EF.SOD declares 4 GB (77 84 FFFFFFFF)", _files(_sod_bomb)),
    Behaviour("sod-long-form-length", "T2", "EF.SOD length in 5 octets (85 00 ...)", _files(_sod_long_length)),
    Behaviour("sod-deep-nesting", "T3", "EF.SOD holds 3000 nested SEQUENCEs", _files(_sod_deep)),
    Behaviour("dg11-deep-nesting", "T3", "DG11 (hash valid) holds 3000 nested templates", _files(_dg11_deep)),
    Behaviour("zero-bytes-forever", "T4", "READ BINARY of DG11 answers 0 bytes with 9000, forever",
              _plain(lambda c, cmd: _is_read(c, cmd) and reading(files.dg(11))(c, cmd), _zero_bytes)),
    Behaviour("one-byte-at-a-time", "T4", "READ BINARY answers one byte at a time (EF.SOD needs more than 1000 reads)",
              _plain(_is_read, _one_byte)),
    Behaviour("early-eof", "T5", "DG1 ends early with 6282", _plain(
        lambda c, cmd: _is_read(c, cmd) and reading(files.dg(1))(c, cmd), _early_eof)),
    Behaviour("dg-not-in-sod", "T6", "DG7 on the chip but not in EF.SOD, DG11 listed but answering 6A82",
              _both(_files(_not_in_sod), _plain(reading(files.dg(11)), status(0x6A82)))),
    # b6 access control and authentication
    Behaviour("bac-short-response", "K1", "BAC MUTUAL AUTHENTICATE answer of 32 bytes",
              _plain(lambda c, cmd: cmd.ins == INS_EXTERNAL_AUTHENTICATE, _bac_truncate), profile="bac-3des"),
    Behaviour("bac-bad-mac", "K1", "BAC MUTUAL AUTHENTICATE answer with a wrong MAC",
              _plain(lambda c, cmd: cmd.ins == INS_EXTERNAL_AUTHENTICATE, _bac_flip_mac), profile="bac-3des"),
    Behaviour("bac-wrong-rnd-ifd", "K1", "BAC answer correctly MACed but echoing another RND.IFD",
              _both(_remember_key, _plain(lambda c, cmd: cmd.ins == INS_EXTERNAL_AUTHENTICATE, _bac_wrong_rnd_ifd)),
              profile="bac-3des"),
    Behaviour("pace-nonce-length", "K2", "PACE encrypted nonce one byte short", _plain(ga_step(1), _replace_ga(0x80, _shorter))),
    Behaviour("pace-mapping-off-curve", "K2", "PACE mapping point not on the curve",
              _plain(ga_step(2), _replace_ga(0x82, _flip_last))),
    Behaviour("pace-point-off-curve", "K2", "PACE PK_IC not on the curve", _plain(ga_step(3), _replace_ga(0x84, _flip_last))),
    Behaviour("pace-point-infinity", "K2", "PACE PK_IC is the point at infinity", _plain(ga_step(3), _replace_ga(0x84, _infinity))),
    Behaviour("pace-point-echo", "K2", "PACE PK_IC equal to the terminal's PK_PCD",
              _plain(ga_step(3), _replace_ga(0x84, _echo_terminal_key))),
    Behaviour("pace-bad-token", "K2", "PACE authentication token T_IC wrong", _plain(ga_step(4), _replace_ga(0x86, _flip_last))),
    Behaviour("pace-dh-zero", "K2", "PACE DH PK_IC = 0", _plain(ga_step(3), _replace_ga(0x84, _dh_value("zero"))),
              profile="pace-dh-gm-3des"),
    Behaviour("pace-dh-one", "K2", "PACE DH PK_IC = 1", _plain(ga_step(3), _replace_ga(0x84, _dh_value("one"))),
              profile="pace-dh-gm-3des"),
    Behaviour("pace-dh-p-minus-1", "K2", "PACE DH PK_IC = p - 1", _plain(ga_step(3), _replace_ga(0x84, _dh_value("p-1"))),
              profile="pace-dh-gm-3des"),
    Behaviour("pace-dh-outside-subgroup", "K2", "PACE DH PK_IC outside the order-q subgroup",
              _plain(ga_step(3), _replace_ga(0x84, _dh_value("non-subgroup"))), profile="pace-dh-gm-3des"),
    Behaviour("cam-bad-data", "K3", "PACE-CAM chip authentication data that does not verify",
              _plain(ga_step(4), _replace_ga(0x8A, _flip_last)), profile="pace-ecdh-cam-aes128"),
    Behaviour("dg14-unknown-curve", "K4", "DG14 (hash valid) CA key with explicit parameters of a fake curve",
              _files(_dg14_variant("unknown-curve"))),
    Behaviour("dg14-many-keys", "K4", "DG14 with two CA infos and keys by keyId, one on a fake curve",
              _files(_dg14_variant("many-keys"))),
    Behaviour("dg14-unknown-oids", "K4", "DG14 with unknown OIDs next to the genuine CA info",
              _files(_dg14_variant("unknown-oids"))),
    Behaviour("aa-short-signature", "K5", "AA signature one byte short",
              _plain(lambda c, cmd: cmd.ins == INS_INTERNAL_AUTHENTICATE, _aa_truncate)),
    Behaviour("aa-bad-signature", "K5", "AA signature with a flipped bit",
              _plain(lambda c, cmd: cmd.ins == INS_INTERNAL_AUTHENTICATE, _aa_flip)),
    Behaviour("aa-replay", "K5", "AA signature of an old challenge",
              _plain(lambda c, cmd: cmd.ins == INS_INTERNAL_AUTHENTICATE, _aa_replay)),
    Behaviour("aa-bad-trailer", "K5", "AA RSA signature that recovers a block with an unknown trailer",
              _plain(lambda c, cmd: cmd.ins == INS_INTERNAL_AUTHENTICATE, _aa_bad_trailer), profile="bac-3des"),
    Behaviour("huge-dg15-key", "K6", "DG15 with a 16384-bit RSA key, EF.SOD unchanged (hash mismatch)",
              _files(_huge_dg15(False))),
    Behaviour("huge-dg15-key-signed", "K6", "DG15 with a 16384-bit RSA key covered by a re-signed EF.SOD",
              _files(_huge_dg15(True))),
    Behaviour("huge-dg14-key-signed", "K6", "DG14 with a 16384-bit DH prime covered by a re-signed EF.SOD",
              _files(_dg14_variant("huge-dh"))),
    # b7 PA
    Behaviour("sod-no-signed-attrs", "X1", "EF.SOD SignerInfo without signedAttrs (signature over the content)",
              _files(forge_sod(_drop_signed_attrs))),
    Behaviour("sod-wrong-content-type", "X1", "EF.SOD signed contentType attribute is id-data",
              _files(forge_sod(_set_signed_attr("content_type", "data")))),
    Behaviour("sod-digest-mismatch", "X1", "EF.SOD messageDigest does not match the content (validly signed)",
              _files(forge_sod(_set_signed_attr("message_digest", b"\x00" * 32)))),
    Behaviour("sod-two-signers", "X1", "EF.SOD with two SignerInfos", _files(forge_sod(_two_signers))),
    Behaviour("sod-unknown-digest", "X1", "EF.SOD digest algorithm 1.2.3.4.5", _files(forge_sod(_unknown_digest))),
    Behaviour("sod-legacy-oid", "X2", "EF.SOD with eContentType 1.3.27.1.1.1", _files(_legacy_oid)),
    Behaviour("sod-sha1", "X6", "EF.SOD hashed and signed with SHA-1, signed in 2021", _files(_sha1_sod)),
    # b8 DG content
    Behaviour("dg1-mismatch", "D1", "DG1 (hash valid) holds another person's MRZ", _files(_dg1_other_person)),
    Behaviour("dg2-jp2-bomb", "D2", "DG2 (hash valid) face is a JPEG 2000 declaring 60000x60000 pixels",
              _files(lambda c: put_dg(c, 2, _dg2_with([jp2_bomb()])))),
    Behaviour("dg2-many-faces", "D2", "DG2 (hash valid) with 40 faces",
              _files(lambda c: put_dg(c, 2, _dg2_with([_small_jpeg()] * 40)))),
    Behaviour("dg11-latin1", "D3", "DG11 (hash valid) text in Latin-1", _files(lambda c: put_dg(c, 11, _latin1_dg11()))),
]}


def _refuse_chaining(sw: int) -> Callable[[HostileChip, Any], None]:
    def setup(chip: HostileChip, profile: Any) -> None:
        chip.inner.quirks.command_chaining = False
        chip.inner.quirks.chaining_refusal_sw = sw
    return setup


def _ca_done(chip: HostileChip, raw: bytes) -> bool:
    return chip.mechanism(CaChip).completed > 0


def _shift_from(when: Callable[[HostileChip, bytes], bool]) -> Callable[[HostileChip, Any], None]:
    """From the first protected command ``when`` matches, every answer is the one before
    (a phone that duplicated one answer and is one behind ever after)."""
    def hook(chip: HostileChip, raw: bytes, resp: bytes) -> bytes:
        if "shift" not in chip.state:
            if not (is_protected(raw) and when(chip, raw)):
                return resp
            chip.state["shift"] = chip.previous_protected_answer or resp
        out: bytes = chip.state["shift"]
        chip.state["shift"] = resp
        return out
    return lambda chip, profile: chip.raw_hooks.append(hook)


def _garbage_dg14(chip: VirtualChip) -> None:
    # Not a DG14 at all, yet EF.SOD (re-signed) covers it: "no usable key", never UNAVAILABLE.
    put_dg(chip, 14, tlv.encode(0x6E, bytes(range(7, 200))))


K7_K8_BEHAVIOURS = [
    Behaviour("dg14-withheld", "K7", "DG14 (listed in EF.SOD) answers 6A82", _plain(reading(files.dg(14)), status(0x6A82))),
    Behaviour("dg15-withheld", "K7", "DG15 (listed in EF.SOD) answers 6A82", _plain(reading(files.dg(15)), status(0x6A82))),
    Behaviour("dg14-dg15-denied", "K7", "DG14 and DG15 (listed in EF.SOD) answer 6982",
              _both(_plain(reading(files.dg(14)), status(0x6982)), _plain(reading(files.dg(15)), status(0x6982)))),
    Behaviour("dg14-garbage", "K7", "DG14 answers bytes that are not its content (hash mismatch)",
              _files(lambda c: put_dg(c, 14, tlv.encode(0x6E, bytes(range(7, 200))), resign=False))),
    Behaviour("dg14-garbage-signed", "K7", "DG14 is garbage that a re-signed EF.SOD covers", _files(_garbage_dg14)),
    Behaviour("chaining-refused", "K7", "the chip refuses ISO 7816-4 command chaining with 6884",
              _refuse_chaining(0x6884), profile="bac-3des"),
    Behaviour("chaining-refused-6e00", "K7", "the chip refuses a chained command's CLA with 6E00",
              _refuse_chaining(0x6E00), profile="bac-3des"),
    Behaviour("shifted-after-ca", "K8", "from the first read under the CA keys, every answer is the previous one",
              _shift_from(_ca_done)),
    Behaviour("duplicated-after-access-control", "K8",
              "the third protected answer repeats the second, and every later one is one behind",
              _shift_from(lambda c, raw: c.protected == 3)),
]
BEHAVIOURS.update({b.name: b for b in K7_K8_BEHAVIOURS})


def _small_jpeg() -> bytes:
    return datagroups.make_face_jpeg(16, 16, seed=2, quality=20)


def hostile_chip(name: str, profile: str | None = None, *, seed: int = 0) -> HostileChip:
    """A fresh chip of ``profile`` (default: the behaviour's) misbehaving as ``name`` says."""
    try:
        behaviour = BEHAVIOURS[name]
    except KeyError:
        raise KeyError(f"unknown hostile behaviour {name!r}; known: {', '.join(sorted(BEHAVIOURS))}") from None
    prof = get_profile(profile or behaviour.profile)
    chip = HostileChip(prof.chip(), name, seed=seed)
    _mark_sod(chip, prof)
    behaviour.setup(chip, prof)
    return chip


def access_key_for(name: str, profile: str | None = None) -> Any:
    return get_profile(profile or BEHAVIOURS[name].profile).access_key
