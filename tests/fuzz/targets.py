"""Every parser that sees untrusted bytes, as a fuzz target, with seeds and a mutation engine.

Shared by the bounded hypothesis tests (``tests/fuzz/test_*.py``) and the long
runs of ``bench/fuzz.py``: a target is a function of one ``bytes`` argument and
the exception types it may raise.  Anything else escaping is a bug (docs/reliability.md:
"never a traceback").  Seeds are real documents from the data set (``tests/testdata.py``), when present, and
files the virtual passport builds, so mutations start from structures deep enough
to reach the interesting code, not only the first length check.
"""
from __future__ import annotations

import functools
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from docval.emrtd.errors import EmrtdError
from docval.emrtd.flow import Link
from tests.support.flows import drive as drive_flow
from tests.support.rng import pattern_rng

ROOT = Path(__file__).resolve().parents[2]
from tests.testdata import TESTDATA  # noqa: E402


@dataclass(frozen=True)
class Target:
    name: str
    fn: Callable[[bytes], object]
    seeds: Callable[[], list[bytes]]
    allowed: tuple[type[BaseException], ...] = (EmrtdError,)
    max_size: int = 8192      # generated inputs are capped: hostile sizes are tested explicitly


def _read(*parts: str) -> bytes:
    return (TESTDATA.joinpath(*parts)).read_bytes()


def _opt(*parts: str) -> list[bytes]:
    """The file as a one-seed list, or no seed without the data set."""
    path = TESTDATA.joinpath(*parts)
    return [path.read_bytes()] if path.is_file() else []


def _glob(pattern: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted(TESTDATA.glob(pattern))]


# --------------------------------------------------------------------------- mutations

INTERESTING = (0x00, 0x01, 0x02, 0x7F, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0xFF, 0x30, 0x04, 0x06)
LENGTH_BOMBS = (b"\x84\xFF\xFF\xFF\xFF", b"\x85\x01\x00\x00\x00\x00", b"\x80", b"\x82\x00\x01",
                b"\x81\x05", b"\x89" + b"\xFF" * 9)

# An operation is (kind, a, b, c): plain integers, so hypothesis can draw and shrink them
# and bench/fuzz.py can generate them with random.Random.
N_KINDS = 9


def apply_op(data: bytearray, op: tuple[int, int, int, int], other: bytes) -> None:
    kind, a, b, c = op
    n = len(data)
    pos = a % (n + 1)
    if kind == 0 and n:                       # flip one bit
        data[pos % n] ^= 1 << (b % 8)
    elif kind == 1 and n:                     # interesting byte
        data[pos % n] = INTERESTING[b % len(INTERESTING)]
    elif kind == 2:                           # insert bytes
        data[pos:pos] = bytes((b + i * c) & 0xFF for i in range(1 + c % 8))
    elif kind == 3 and n:                     # delete a range
        del data[pos : pos + 1 + b % 32]
    elif kind == 4 and n:                     # duplicate a range (duplicate TLV objects)
        chunk = data[pos : pos + 1 + b % 64]
        data[pos:pos] = chunk
    elif kind == 5:                           # truncate
        del data[pos:]
    elif kind == 6:                           # length bomb where a length byte may be
        bomb = LENGTH_BOMBS[b % len(LENGTH_BOMBS)]
        data[pos : pos + 1 + c % 3] = bomb
    elif kind == 7 and other:                 # splice in part of another seed
        start = b % len(other)
        data[pos : pos + c % 64] = other[start : start + 1 + c % 128]
    elif kind == 8 and n:                     # set a 2-byte big-endian value (lengths, SWs)
        data[pos % n : pos % n + 2] = ((b << 8 | c) & 0xFFFF).to_bytes(2, "big")


def mutate(seed: bytes, ops: Iterable[tuple[int, int, int, int]], other: bytes = b"",
           max_size: int = 1 << 16) -> bytes:
    data = bytearray(seed)
    for op in ops:
        apply_op(data, op, other)
        if len(data) > max_size:
            del data[max_size:]
    return bytes(data)


def random_ops(rnd: random.Random, max_ops: int = 6) -> list[tuple[int, int, int, int]]:
    return [(rnd.randrange(N_KINDS), rnd.getrandbits(24), rnd.getrandbits(16), rnd.getrandbits(8))
            for _ in range(rnd.randint(1, max_ops))]


def random_input(target: Target, seeds: Sequence[bytes], rnd: random.Random) -> bytes:
    """One input for a long run: mostly mutated seeds, sometimes plain random bytes."""
    if not seeds or rnd.random() < 0.1:
        return os.urandom(rnd.randrange(0, 300)) if rnd.random() < 0.5 else \
            bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 64)))
    seed = seeds[rnd.randrange(len(seeds))]
    other = seeds[rnd.randrange(len(seeds))]
    return mutate(seed, random_ops(rnd), other, target.max_size)


# --------------------------------------------------------------------------- seeds built here

@functools.lru_cache(maxsize=None)
def _virtual_dgs() -> dict[str, bytes]:
    from docval.emrtd.lds.dg11 import AdditionalPersonalDetails
    from docval.emrtd.lds.dg12 import AdditionalDocumentDetails
    from docval.sim import datagroups as d

    mrz3 = d.make_td3_mrz(issuing_state="UTO", primary_identifier="ERIKSSON", secondary_identifier="ANNA MARIA",
                          document_number="L898902C3", nationality="UTO", date_of_birth="740812",
                          gender="F", date_of_expiry="120415")
    mrz1 = d.make_td1_mrz(issuing_state="UTO", primary_identifier="ERIKSSON", secondary_identifier="ANNA",
                          document_number="D23145890734", nationality="UTO", date_of_birth="740812",
                          gender="F", date_of_expiry="120415")
    jpeg = d.make_face_jpeg(48, 64, seed=1, quality=30)
    out = {
        "dg1_td3": d.encode_dg1(mrz3),
        "dg1_td1": d.encode_dg1(mrz1),
        "dg2": d.encode_dg2([(jpeg, 48, 64, "jpeg")]),
        "dg7": d.encode_dg7([jpeg]),
        "jpeg": jpeg,
    }
    try:
        out["dg11"] = d.encode_dg11(AdditionalPersonalDetails(
            full_name_of_holder="ERIKSSON, ANNA MARIA", place_of_birth="ZENITH",
            full_date_of_birth="19740812", permanent_address=["1 MAIN ST", "ZENITH"]))
        out["dg12"] = d.encode_dg12(AdditionalDocumentDetails(
            issuing_authority="UTOPIA", date_of_issue="20020415"))
    except TypeError:
        pass
    return out


def _jp2_seed() -> bytes:
    import io

    from PIL import Image
    out = io.BytesIO()
    try:
        Image.new("RGB", (8, 8), (200, 100, 50)).save(out, "JPEG2000")
    except (OSError, KeyError):
        return b""
    return out.getvalue()


def _start_message_seeds() -> list[bytes]:
    base = {"client_id": "demo-client", "validation_id": "cf847daa-a548-4509-bdeb-4edd51aee448",
            "access_key": {"can": "153036"}, "nfc_adapter_supports_extended_length": True,
            "max_command_bytes": 1024, "max_response_bytes": 1024, "platform": "ios"}
    mrz = dict(base, access_key={"document_number": "L898902C3", "date_of_birth": "740812",
                                 "date_of_expiry": "120415"}, max_pipelined_apdus=8,
               enable_diagnostics=True)
    bare = {k: v for k, v in base.items() if not k.startswith("max_")}
    return [json.dumps(m).encode() for m in (base, mrz, bare)] + [b'{"a":' * 5 + b"1" + b"}" * 5]


def _spki_seeds() -> list[bytes]:
    from docval.emrtd import tlv
    out = []
    for raw in _glob("dg15/*.bin") + _glob("bsi_etsi/*DG15.bin"):
        try:
            out.append(tlv.parse_single(raw, 0x6F).value)
        except EmrtdError:
            pass
    return out


def _certificate_seeds() -> list[bytes]:
    return _glob("master_lists/IDN_CSCA/*.cer") + _opt("master_lists", "DE_ROOT_CA_CSCA07.cer")


def _master_list_content_seeds() -> list[bytes]:
    from docval.emrtd import tlv
    certs = _certificate_seeds()[:3]
    body = tlv.encode(0x02, b"\x00") + tlv.encode(0x31, b"".join(certs))
    return [tlv.encode(0x30, body), tlv.encode(0x30, tlv.encode(0x02, b"\x00") + tlv.encode(0x31, b""))]


@functools.lru_cache(maxsize=None)
def _crl_seed() -> bytes:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec as cec
    from cryptography.x509.oid import NameOID

    key = cec.generate_private_key(cec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "UT"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "CSCA")])
    now = datetime.datetime(2025, 1, 1)
    revoked = x509.RevokedCertificateBuilder().serial_number(7).revocation_date(now).build()
    crl = (x509.CertificateRevocationListBuilder().issuer_name(name).last_update(now)
           .next_update(now + datetime.timedelta(days=90)).add_revoked_certificate(revoked)
           .sign(key, hashes.SHA256()))
    return crl.public_bytes(serialization.Encoding.DER)


def _ldif_seeds() -> list[bytes]:
    import base64
    certificates = _certificate_seeds()
    if not certificates:
        return []
    cert = base64.b64encode(certificates[0]).decode()
    folded = "\n ".join(cert[i : i + 76] for i in range(0, len(cert), 76))
    text = f"dn: cn=x,o=ml\nuserCertificate;binary:: {folded}\nsn: 1\n\n# comment\ncn:: YWJj\n"
    return [text.encode()]


# --------------------------------------------------------------------------- flows driven by scripts

class _Exhausted(Exception):
    """The script ran out of responses: the flow is waiting, which is fine."""


def encode_script(responses: Iterable[bytes]) -> bytes:
    out = bytearray()
    for raw in responses:
        if len(raw) < 0xFF:
            out.append(len(raw))
        else:
            out += b"\xFF" + min(len(raw), 0xFFFF).to_bytes(2, "big")
        out += raw[:0xFFFF]
    return bytes(out)


def decode_script(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(data) and len(out) < 2000:
        n = data[i]
        i += 1
        if n == 0xFF:
            n = int.from_bytes(data[i : i + 2], "big")
            i += 2
        out.append(bytes(data[i : i + n]))
        i += n
    return out


_fixed_rng = pattern_rng(0x5A)
# Not the terminal's: equal ephemeral keys on both sides are refused (K2).
_chip_rng = pattern_rng(0xA7, 13)


def drive(flow_factory: Callable[[], object], script: bytes, link_factory: Callable[[], object] | None = None) -> object:
    """Run a flow with the responses of a script; running out of responses is not an error."""
    responses = iter(decode_script(script))

    def transmit(_raw: bytes) -> bytes:
        try:
            return next(responses)
        except StopIteration:
            raise _Exhausted() from None
    try:
        return drive_flow(flow_factory(), transmit=transmit, link=(link_factory or Link)()).result
    except _Exhausted:
        return None


def _record(flow_factory: Callable[[], object], chip) -> bytes:
    """The responses a virtual chip gives a flow: a valid script to mutate."""
    answers: list[bytes] = []

    def transmit(raw: bytes) -> bytes:
        resp = chip.transmit(raw)
        answers.append(resp)
        return resp
    drive_flow(flow_factory(), transmit=transmit)
    return encode_script(answers)


MRZ_KEY_ARGS = ("L898902C3", "740812", "120415")


def _pace_info():
    from docval.emrtd.securityinfo import PACEInfo, pace_oid
    return PACEInfo(pace_oid("ECDH", "GM", "AES128"), 2, 13)


def _pace_flow():
    from docval.emrtd.mrz import MrzKey
    from docval.emrtd.pace import pace
    return pace(MrzKey(*MRZ_KEY_ARGS), _pace_info(), rng=_fixed_rng)


@functools.lru_cache(maxsize=None)
def _pace_seeds() -> list[bytes]:
    from docval.emrtd.mrz import MrzKey
    from docval.sim.chip import VirtualChip
    from docval.sim.pace_chip import PaceChip
    info = _pace_info()
    chip = VirtualChip(rng=_chip_rng)
    chip.mechanisms.append(PaceChip(MrzKey(*MRZ_KEY_ARGS), info.oid, info.parameter_id))
    return [_record(_pace_flow, chip)]


def _bac_flow():
    from docval.emrtd.bac import bac
    from docval.emrtd.mrz import MrzKey
    return bac(MrzKey(*MRZ_KEY_ARGS), rng=_fixed_rng)


@functools.lru_cache(maxsize=None)
def _bac_seeds() -> list[bytes]:
    from docval.emrtd.mrz import MrzKey
    from docval.sim.chip import VirtualChip
    return [_record(_bac_flow, VirtualChip(bac_key=MrzKey(*MRZ_KEY_ARGS), rng=_chip_rng))]


def _read_file_flow():
    from docval.emrtd import files
    return files.read_file(files.dg(1), files.ReadLimits(max_le=512, extended=True, pipeline=2))


def _read_file_classic_flow():
    from docval.emrtd import files
    return files.read_file(files.dg(2), files.ReadLimits.classic())


@functools.lru_cache(maxsize=None)
def _read_file_seeds() -> list[bytes]:
    from docval.emrtd import files
    from docval.sim.chip import ChipQuirks, VirtualChip
    dgs = _virtual_dgs()
    app = {files.dg(1): dgs["dg1_td3"], files.dg(2): dgs["dg2"]}
    out = []
    for quirks in (ChipQuirks(), ChipQuirks(max_le=100, too_long_sw="6C"), ChipQuirks(sfi=False)):
        for factory in (_read_file_flow, _read_file_classic_flow):
            chip = VirtualChip(app_files=app, quirks=quirks)
            chip.access_granted = True
            chip.fs.select_application(files.EMRTD_AID)
            out.append(_record(factory, chip))
    return out


@functools.lru_cache(maxsize=None)
def _ca_parts():
    from docval.emrtd.ca import choose_ca
    from docval.emrtd.securityinfo import parse_dg14
    return choose_ca(parse_dg14(_read("dg14", "AT_DG14.bin")))


def _ca_flow():
    from docval.emrtd.ca import chip_authentication
    info, key = _ca_parts()
    return chip_authentication(info, key, rng=_fixed_rng)


@functools.lru_cache(maxsize=None)
def _aa_key():
    from docval.emrtd.aa import parse_dg15
    return parse_dg15(_read("dg15", "AA_RSA1792_DG15.bin"))


def _aa_flow():
    from docval.emrtd.aa import active_authentication
    return active_authentication(_aa_key(), rng=_fixed_rng)


def _generic_response_seeds() -> list[bytes]:
    return [encode_script([b"\x90\x00"] * 4),
            encode_script([b"\x7c\x00\x90\x00", b"\x6a\x82", b"\x67\x00", b"\x6c\x10", b"\x62\x82"]),
            encode_script([bytes(range(40)) + b"\x90\x00", b"\x69\x88"])]


# --------------------------------------------------------------------------- SM

_SM_KEYS = (bytes(range(16)), bytes(range(16, 32)))


def _sm(spec_name: str):
    from docval.emrtd import crypto
    from docval.emrtd.sm import SecureMessaging
    return SecureMessaging(getattr(crypto, spec_name), *_SM_KEYS, ssc=0)


def _sm_unwrap(data: bytes) -> object:
    from docval.emrtd.apdu import ResponseAPDU
    return _sm("AES128").unwrap(ResponseAPDU.decode(data))


def _sm_unwrap_macced(data: bytes) -> object:
    """Arbitrary data objects under a *valid* MAC: exercises everything after the MAC check
    (S2, S3, S4), which a forged-but-unMACed response never reaches."""
    from docval.emrtd.apdu import ResponseAPDU
    from docval.emrtd.sm import DO_MAC
    from docval.emrtd.tlv import encode
    spec = "TDES" if data[:1] == b"\x00" else "AES128"
    body, sw = data[1:-2], int.from_bytes(data[-2:].rjust(2, b"\x00"), "big")
    terminal = _sm(spec)
    mac = terminal._mac(((terminal.ssc + 1) % (1 << (8 * terminal.spec.block_size)))
                        .to_bytes(terminal.spec.block_size, "big"), body)
    return terminal.unwrap(ResponseAPDU(body + encode(DO_MAC, mac), sw))


@functools.lru_cache(maxsize=None)
def _sm_seeds() -> list[bytes]:
    from docval.emrtd.apdu import ResponseAPDU
    out = []
    for plain in (ResponseAPDU(b"", 0x9000), ResponseAPDU(bytes(range(40)), 0x9000),
                  ResponseAPDU(b"abc", 0x6282), ResponseAPDU(b"", 0x6A82)):
        chip = _sm("AES128")
        out.append(chip.wrap_response(plain).encode())
    return out


@functools.lru_cache(maxsize=None)
def _sm_macced_seeds() -> list[bytes]:
    from docval.emrtd.apdu import ResponseAPDU
    out = []
    for spec, prefix in (("AES128", b"\x01"), ("TDES", b"\x00")):
        for plain in (ResponseAPDU(bytes(range(40)), 0x9000), ResponseAPDU(b"", 0x9000)):
            wrapped = _sm(spec).wrap_response(plain)
            body = wrapped.data[:-10]            # strip DO'8E': the target recomputes it
            out.append(prefix + body + wrapped.sw.to_bytes(2, "big"))
    return out


# --------------------------------------------------------------------------- the table

def _tlv_all(data: bytes) -> object:
    from docval.emrtd import tlv
    items = tlv.parse_all(data)
    for item in items[:8]:
        if item.constructed:
            item.children()
    tlv.check_depth(data)
    return items


def _image(data: bytes) -> object:
    from docval.emrtd.images import declared_size, to_jpeg
    try:
        declared_size(data)
    except EmrtdError:
        pass
    return to_jpeg(data, max_pixels=256 * 256)


def _start_message(data: bytes) -> object:
    from docval.ws.startmessage import parse_start_message
    return parse_start_message(data)


def _start_message_allowed() -> tuple[type[BaseException], ...]:
    from docval.errors import InvalidAccessKey, InvalidStartMessage
    return (InvalidStartMessage, InvalidAccessKey)


def _imp(module: str, name: str) -> Callable[[bytes], object]:
    def call(data: bytes) -> object:
        import importlib
        return getattr(importlib.import_module(module), name)(data)
    call.__name__ = name
    return call


def _response_apdu(data: bytes) -> object:
    from docval.emrtd.flow import Link
    # Link.unprotect is where every raw answer from the phone enters the pure layer.
    return Link().unprotect([data], 1)


def _atr_seeds() -> list[bytes]:
    from docval.emrtd.atrinfo import encode_atr_info
    return [encode_atr_info(65535, 65536), encode_atr_info(1000, 1000, extended=False)]


def _ml_verify(data: bytes) -> object:
    from docval.trust.masterlist import verify_master_list
    return verify_master_list(data)


def _cms_seeds() -> list[bytes]:
    from docval.emrtd.lds.cms import unwrap_application
    out = []
    for raw in _glob("sod/*.bin")[:3]:
        try:
            out.append(unwrap_application(raw, 0x77))
        except EmrtdError:
            pass
    return out + _glob("cardsecurity/*.bin")


def _dg_seeds(*keys: str, specimen: str = "", extra: Sequence[str] = ()) -> Callable[[], list[bytes]]:
    def seeds() -> list[bytes]:
        dgs = _virtual_dgs()
        out = [dgs[k] for k in keys if k in dgs]
        if specimen:
            out += _opt("icao_specimen", specimen)
        for pattern in extra:
            out += _glob(pattern)
        return out
    return seeds


TARGETS: dict[str, Target] = {t.name: t for t in [
    Target("tlv", _tlv_all, lambda: _glob("sod/*.bin")[:2] + _glob("dg14/*.bin") + _glob("icao_specimen/DG1*.bin")),
    Target("response_apdu", _response_apdu, lambda: [b"\x90\x00", b"\x01\x02\x62\x82", b"\xff\xff\xc2\x00", b""]),
    Target("sm_unwrap", _sm_unwrap, _sm_seeds),
    Target("sm_unwrap_valid_mac", _sm_unwrap_macced, _sm_macced_seeds),
    Target("card_access", _imp("docval.emrtd.securityinfo", "parse_card_access"),
           lambda: _glob("vsmartcard_npa/*cardaccess.bin")),
    Target("security_infos", _imp("docval.emrtd.securityinfo", "parse_security_infos"),
           lambda: _glob("vsmartcard_npa/*cardaccess.bin")),
    Target("dg14", _imp("docval.emrtd.securityinfo", "parse_dg14"),
           lambda: _glob("dg14/*.bin") + _glob("bsi_etsi/*DG14.bin") + _opt("icao_specimen", "DG14.bin")),
    Target("dg15", _imp("docval.emrtd.aa", "parse_dg15"),
           lambda: _glob("dg15/*.bin") + _glob("bsi_etsi/*DG15.bin") + _opt("icao_specimen", "DG15.bin")),
    Target("public_key", _imp("docval.emrtd.keys", "load_public_key"), _spki_seeds),
    Target("sod", _imp("docval.emrtd.lds.sod", "parse_sod"), lambda: _glob("sod/*.bin") + _glob("bsi_etsi/*SOD.bin")),
    Target("cms", _imp("docval.emrtd.lds.cms", "parse_signed_data"), _cms_seeds),
    Target("certificate", _imp("docval.emrtd.certificate", "parse_certificate"), _certificate_seeds),
    Target("dg1", _imp("docval.emrtd.lds.dg1", "parse_dg1"), _dg_seeds("dg1_td3", "dg1_td1", specimen="DG1_TD2.bin")),
    Target("dg2", _imp("docval.emrtd.lds.dg2", "parse_dg2"), _dg_seeds("dg2", specimen="DG2.bin")),
    Target("dg7", _imp("docval.emrtd.lds.dg7", "parse_dg7"), _dg_seeds("dg7", specimen="DG7.bin")),
    Target("dg11", _imp("docval.emrtd.lds.dg11", "parse_dg11"), _dg_seeds("dg11", specimen="DG11.bin")),
    Target("dg12", _imp("docval.emrtd.lds.dg12", "parse_dg12"), _dg_seeds("dg12", specimen="DG12.bin")),
    Target("image", _image, lambda: [s for s in (_virtual_dgs()["jpeg"], _jp2_seed()) if s]),
    Target("atr_info", _imp("docval.emrtd.atrinfo", "parse_atr_info"), _atr_seeds),
    Target("master_list_content", _imp("docval.trust.masterlist", "parse_master_list_content"),
           _master_list_content_seeds, max_size=16384),
    Target("master_list", _ml_verify, _cms_seeds),
    Target("crl", _imp("docval.trust.crl", "parse_crl"), lambda: [_crl_seed()]),
    Target("ldif", lambda data: list(_imp("docval.trust.ldif", "iter_binary_values")(
        data.decode("utf-8", "replace"))), _ldif_seeds),
    Target("start_message", _start_message, _start_message_seeds, allowed=()),
    Target("flow_read_file", lambda s: (drive(_read_file_flow, s), drive(_read_file_classic_flow, s)),
           lambda: _read_file_seeds() + _generic_response_seeds(), max_size=1 << 16),
    Target("flow_bac", lambda s: drive(_bac_flow, s), lambda: _bac_seeds() + _generic_response_seeds()),
    Target("flow_pace", lambda s: drive(_pace_flow, s), lambda: _pace_seeds() + _generic_response_seeds()),
    Target("flow_ca", lambda s: drive(_ca_flow, s), _generic_response_seeds),
    Target("flow_aa", lambda s: drive(_aa_flow, s), _generic_response_seeds),
]}


# Targets whose only seeds, or whose keys (CA, AA flows), come from the real-document data
# set: their tests carry the `testdata` marker and skip without it.  The others fall back to
# the virtual chip's files and recorded sessions.
NEEDS_TESTDATA = frozenset({
    "card_access", "certificate", "cms", "dg14", "dg15", "flow_aa", "flow_ca", "ldif",
    "master_list", "public_key", "security_infos", "sod", "tlv",
})


def target_params() -> list:
    """Every target name for ``pytest.mark.parametrize``, marked when it needs the data set."""
    import pytest

    return [pytest.param(name, marks=pytest.mark.testdata) if name in NEEDS_TESTDATA else name
            for name in sorted(TARGETS)]


def allowed_for(target: Target) -> tuple[type[BaseException], ...]:
    if target.name == "start_message":
        return _start_message_allowed()
    return target.allowed


@functools.lru_cache(maxsize=None)
def seeds_for(name: str) -> tuple[bytes, ...]:
    return tuple(TARGETS[name].seeds())


def check_one(target: Target, data: bytes) -> None:
    """Run the target; only its documented exceptions may escape (re-raised otherwise)."""
    try:
        target.fn(data)
    except allowed_for(target):
        pass
