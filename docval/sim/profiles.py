"""Virtual documents, selectable by name: the chips the demo, tests and benchmarks read.

Each profile is a complete, validly signed eMRTD of a fictional holder from
Utopia ("UTO") under the demo PKI of :mod:`docval.sim.pki` — the CSCA that the
server's built-in defaults trust — with the access-control, Chip Authentication
and Active Authentication variants real documents use.  ``clone``, ``tampered``
and ``untrusted`` are documents that must *fail* the matching check.

A profile builds a fresh :class:`~docval.sim.chip.VirtualChip` per session,
with its own mechanisms (BAC, PACE, CA, AA: :mod:`docval.sim.mechanism`); keys
and signed files are made once per process and cached.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, Callable, TypedDict

from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.asymmetric import rsa

from docval.emrtd import files
from docval.emrtd.atrinfo import encode_atr_info
from docval.emrtd.ec import curve_by_pace_id
from docval.emrtd.lds.dg11 import AdditionalPersonalDetails
from docval.emrtd.lds.dg12 import AdditionalDocumentDetails
from docval.emrtd.mrz import CanKey, MrzKey
from docval.emrtd.securityinfo import PACEInfo, encode_security_infos, pace_oid
from docval.sim import datagroups, pki
from docval.sim.aa_chip import AaChip, PrivateKey, build_dg15
from docval.sim.bac_chip import BacChip
from docval.sim.ca_chip import CaChip, CaKey, build_dg14, ca_security_infos
from docval.sim.chip import ChipQuirks, VirtualChip
from docval.sim.mechanism import Mechanism
from docval.sim.pace_chip import PaceChip

DEFAULT_PROFILE = "pace-ecdh-gm-aes128"



class _Holder(TypedDict):
    primary_identifier: str
    secondary_identifier: list[str]
    nationality: str
    date_of_birth: str
    gender: str


# The fictional holder.  Tests search logs for these values to prove none leak.
HOLDER: _Holder = {
    "primary_identifier": "TRAVELLER",
    "secondary_identifier": ["HAPPY", "JOY"],
    "nationality": "UTO",
    "date_of_birth": "850312",
    "gender": "FEMALE",
}
PASSPORT_NUMBER = "DV7Q31K52"
ID_CARD_NUMBER = "IDV9K4471203"      # 12 characters: overflows into TD1 optional data
DATE_OF_EXPIRY = "340630"
CAN = "491736"

ECDSA_SHA256 = "1.2.840.10045.4.3.2"

_Files = dict[files.FileRef, bytes]


@dataclass(frozen=True)
class Expect:
    """What a correct reader must report for the profile (used by tests and the soak)."""

    access_control: str
    chip_authentication: str = "SUCCESS"
    active_authentication: str = "UNAVAILABLE"
    passive_authentication: bool = True


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    access_key: MrzKey | CanKey
    expect: Expect
    _build: Callable[[], VirtualChip] = field(repr=False, compare=False)

    def chip(self) -> VirtualChip:
        """A fresh chip (own session state) holding this document."""
        return self._build()


# -- documents -----------------------------------------------------------------------------


def _passport_mrz(number: str = PASSPORT_NUMBER) -> str:
    return datagroups.make_td3_mrz(
        issuing_state="UTO", primary_identifier=HOLDER["primary_identifier"],
        secondary_identifier=HOLDER["secondary_identifier"], document_number=number,
        nationality=HOLDER["nationality"], date_of_birth=HOLDER["date_of_birth"],
        gender=HOLDER["gender"], date_of_expiry=DATE_OF_EXPIRY, optional_data="",
        document_code="P",
    )


def _id_card_mrz() -> str:
    return datagroups.make_td1_mrz(
        issuing_state="UTO", primary_identifier=HOLDER["primary_identifier"],
        secondary_identifier=HOLDER["secondary_identifier"], document_number=ID_CARD_NUMBER,
        nationality=HOLDER["nationality"], date_of_birth=HOLDER["date_of_birth"],
        gender=HOLDER["gender"], date_of_expiry=DATE_OF_EXPIRY, optional_data1="",
        optional_data2="", document_code="ID",
    )


@lru_cache(maxsize=None)
def _face() -> bytes:
    return datagroups.make_face_jpeg(480, 640, seed=7)


@lru_cache(maxsize=None)
def _dg11() -> bytes:
    details = AdditionalPersonalDetails(
        full_name_of_holder="TRAVELLER, HAPPY JOY",
        other_names=["JOY HAPPY TRAVELLER"],
        personal_number="UTO-55-0312-9",
        full_date_of_birth="19850312",
        place_of_birth="PORT UTOPIA",
        permanent_address=["1 HARBOUR ROAD", "PORT UTOPIA"],
        telephone="+999 555 0100",
        profession="NAVIGATOR",
        title="DR",
        personal_summary="VIRTUAL TEST DOCUMENT",
    )
    return datagroups.encode_dg11(details)


@lru_cache(maxsize=None)
def _dg12() -> bytes:
    details = AdditionalDocumentDetails(
        issuing_authority="UTOPIA PASSPORT OFFICE",
        date_of_issue="20240701",
        endorsements_and_observations="VIRTUAL DOCUMENT FOR TESTING",
        date_and_time_of_personalization="20240701093000",
        personalization_system_serial_number="DOCVAL-SIM-1",
    )
    return datagroups.encode_dg12(details)


@dataclass(repr=False)
class _Doc:
    """The files and keys of one document, before it becomes a chip."""

    mrz: str
    content: dict[int, bytes]
    ca_key: CaKey | None = None
    ca_cipher: str = "AES128"
    aa_key: PrivateKey | None = None
    aa_hash: str = "SHA-256"
    card_access: bytes | None = None
    card_security: bytes | None = None
    pace: Callable[[], PaceChip] | None = None     # a fresh PACE mechanism for each chip


@lru_cache(maxsize=None)
def _untrusted_signer() -> pki.Signer:
    return pki.generate_pki(common_name="Untrusted CSCA").dsc


def _signed_files(doc: _Doc, *, signer: pki.Signer | None = None,
                  tamper_dg: int | None = None) -> dict[files.FileRef, bytes]:
    dgs = dict(doc.content)
    dgs[1] = datagroups.encode_dg1(doc.mrz)
    if doc.ca_key is not None or doc.aa_key is not None:
        dgs[14] = build_dg14(doc.ca_key, cipher=doc.ca_cipher,
                             aa_signature_algorithm=ECDSA_SHA256 if isinstance(doc.aa_key, cec.EllipticCurvePrivateKey) else None)
    if doc.aa_key is not None:
        dgs[15] = build_dg15(doc.aa_key)
    hashes = {n: hashlib.sha256(data).digest() for n, data in dgs.items()}
    signer = signer or pki.demo_pki().dsc
    sod = pki.sign_sod(hashes, "SHA-256", signer.key, signer.cert, scheme=signer.scheme)
    if tamper_dg is not None:
        data = bytearray(dgs[tamper_dg])
        data[-1] ^= 0x01        # one byte changed after signing: exactly that DG must fail
        dgs[tamper_dg] = bytes(data)
    out = {files.dg(n): data for n, data in dgs.items()}
    out[files.EF_SOD] = sod
    return out


def _chip(doc: _Doc, app_files: dict[files.FileRef, bytes], *, bac_key: MrzKey | None,
          quirks: ChipQuirks | None = None, ca_key: CaKey | None = None,
          aa_key: PrivateKey | None = None) -> VirtualChip:
    master: dict[files.FileRef, bytes] = {files.ATR_INFO: encode_atr_info(65535, 65536)}
    if doc.card_access is not None:
        master[files.CARD_ACCESS] = doc.card_access
    if doc.card_security is not None:
        master[files.CARD_SECURITY] = doc.card_security
    mechanisms: list[Mechanism] = []
    if bac_key is not None:
        mechanisms.append(BacChip(bac_key))
    if doc.pace is not None:
        mechanisms.append(doc.pace())
    ca = ca_key or doc.ca_key
    if ca is not None:
        mechanisms.append(CaChip(ca))
    aa = aa_key or doc.aa_key
    if aa is not None:
        mechanisms.append(AaChip(aa, hash_name=doc.aa_hash if isinstance(aa, rsa.RSAPrivateKey) else "SHA-256"))
    return VirtualChip(master, app_files, quirks=quirks, mechanisms=mechanisms)


def _pace_card_access(oid: str, parameter_id: int) -> bytes:
    return encode_security_infos([PACEInfo(oid, 2, parameter_id)])


def _mrz_key(number: str = PASSPORT_NUMBER) -> MrzKey:
    return MrzKey(number, HOLDER["date_of_birth"], DATE_OF_EXPIRY)


# -- the profiles ----------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _pace_passport(mapping: str, cipher: str, parameter_id: int, key_agreement: str = "ECDH",
                   ca_curve: str | None = "brainpoolP256r1", ca_dh_group: int | None = None,
                   ca_cipher: str = "AES128", aa: str | None = "ecdsa") -> tuple[_Doc, _Files]:
    oid = pace_oid(key_agreement, mapping, cipher)
    ca_key = None
    if ca_curve:
        ca_key = CaKey.generate_ec(ca_curve)
    elif ca_dh_group is not None:
        ca_key = CaKey.generate_dh(ca_dh_group)
    aa_key: PrivateKey | None = None
    if aa == "ecdsa":
        aa_key = cec.generate_private_key(cec.SECP256R1())
    elif aa == "rsa":
        aa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    doc = _Doc(mrz=_passport_mrz(), content={2: datagroups.encode_dg2([(_face(), 480, 640, "jpeg")]),
                                            11: _dg11(), 12: _dg12()},
               ca_key=ca_key, ca_cipher=ca_cipher, aa_key=aa_key,
               card_access=_pace_card_access(oid, parameter_id))
    cam_key = None
    if mapping == "CAM":
        cam = CaKey.generate_ec(_curve_name(parameter_id))
        cam_key = cam.private
        infos = [PACEInfo(oid, 2, parameter_id)] + ca_security_infos(cam, cipher=cipher)
        doc.card_security = pki.sign_card_security(encode_security_infos(infos))
    doc.pace = partial(PaceChip, [_mrz_key(), CanKey(CAN)], oid, parameter_id, cam_private_key=cam_key)
    return doc, _signed_files(doc)


def _curve_name(parameter_id: int) -> str:
    curve = curve_by_pace_id(parameter_id)
    if curve is None:
        raise ValueError(f"PACE parameter id {parameter_id} names no elliptic curve")
    return curve.name


def _pace_profile(name: str, description: str, expect: Expect, **kwargs: Any) -> Profile:
    def build() -> VirtualChip:
        doc, app = _pace_passport(**kwargs)
        return _chip(doc, app, bac_key=_mrz_key())
    return Profile(name, description, _mrz_key(), expect, build)


@lru_cache(maxsize=None)
def _bac_passport() -> tuple[_Doc, _Files]:
    doc = _Doc(mrz=_passport_mrz(), content={2: datagroups.encode_dg2([(_face(), 480, 640, "jpeg")]),
                                            7: datagroups.encode_dg7([datagroups.make_face_jpeg(200, 80, seed=3)])},
               ca_key=CaKey.generate_dh(1), ca_cipher="TDES",
               aa_key=rsa.generate_private_key(public_exponent=65537, key_size=2048), aa_hash="SHA-1")
    return doc, _signed_files(doc)


def _bac_profile() -> Profile:
    def build() -> VirtualChip:
        doc, app = _bac_passport()
        return _chip(doc, app, bac_key=_mrz_key())
    return Profile("bac-3des", "BAC (3DES) + Chip Authentication DH 3DES + Active Authentication RSA-2048 SHA-1",
                   _mrz_key(), Expect("BAC", "SUCCESS", "SUCCESS"), build)


@lru_cache(maxsize=None)
def _id_card(with_mrz: bool) -> tuple[_Doc, _Files]:
    oid = pace_oid("ECDH", "GM", "AES128")
    doc = _Doc(mrz=_id_card_mrz(), content={2: datagroups.encode_dg2([(_face(), 480, 640, "jpeg")])},
               ca_key=CaKey.generate_ec("secp256r1"), card_access=_pace_card_access(oid, 12))
    passwords = [CanKey(CAN)] + ([_mrz_key(ID_CARD_NUMBER)] if with_mrz else [])
    doc.pace = partial(PaceChip, passwords, oid, 12)
    return doc, _signed_files(doc)


def _id_card_profile(with_mrz: bool = False) -> Profile:
    def build() -> VirtualChip:
        doc, app = _id_card(with_mrz)
        return _chip(doc, app, bac_key=None)
    if with_mrz:
        # A long document number overflows into TD1 optional data; the MRZ password
        # uses all 12 characters, which is what readers that truncate to 9 get wrong.
        return Profile("td1-idcard-mrz", "TD1 ID card, PACE with the MRZ of a 12-character document number + CA",
                       _mrz_key(ID_CARD_NUMBER), Expect("PACE-ECDH-GM-AES-CBC-CMAC-128"), build)
    return Profile("td1-idcard", "TD1 ID card, CAN-only PACE ECDH-GM P-256 AES-128 + CA, 12-character document number",
                   CanKey(CAN), Expect("PACE-ECDH-GM-AES-CBC-CMAC-128"), build)


def _clone_profile() -> Profile:
    def build() -> VirtualChip:
        doc, app = _pace_passport("GM", "AES128", 13)
        # A copy of a genuine chip's files on a chip that lacks the genuine private keys.
        return _chip(doc, app, bac_key=_mrz_key(), ca_key=_clone_keys()[0], aa_key=_clone_keys()[1])
    return Profile("clone", "files of pace-ecdh-gm-aes128 on a chip with other CA/AA keys: CA and AA must fail",
                   _mrz_key(), Expect("PACE-ECDH-GM-AES-CBC-CMAC-128", "FAILED", "FAILED"), build)


@lru_cache(maxsize=None)
def _clone_keys() -> tuple[CaKey, PrivateKey]:
    return CaKey.generate_ec("brainpoolP256r1"), cec.generate_private_key(cec.SECP256R1())


def _tampered_profile() -> Profile:
    def build() -> VirtualChip:
        doc, _ = _pace_passport("GM", "AES128", 13)
        return _chip(doc, _signed_files(doc, tamper_dg=11), bac_key=_mrz_key())
    return Profile("tampered", "pace-ecdh-gm-aes128 with DG11 changed after signing: PA must fail on DG11",
                   _mrz_key(), Expect("PACE-ECDH-GM-AES-CBC-CMAC-128", "SUCCESS", "SUCCESS", False), build)


def _untrusted_profile() -> Profile:
    def build() -> VirtualChip:
        doc, _ = _pace_passport("GM", "AES128", 13)
        return _chip(doc, _untrusted_files(), bac_key=_mrz_key())
    return Profile("untrusted", "pace-ecdh-gm-aes128 signed under a CSCA nobody trusts: PA, CA and AA are not proof",
                   _mrz_key(), Expect("PACE-ECDH-GM-AES-CBC-CMAC-128", "FAILED", "FAILED", False), build)


@lru_cache(maxsize=None)
def _untrusted_files() -> _Files:
    doc, _ = _pace_passport("GM", "AES128", 13)
    return _signed_files(doc, signer=_untrusted_signer())


def _short_chip_profile() -> Profile:
    def build() -> VirtualChip:
        doc, app = _pace_passport("GM", "AES128", 13)
        return _chip(doc, app, bac_key=_mrz_key(),
                     quirks=ChipQuirks(extended_length=False, max_le=256, sfi=False))
    return Profile("pace-short-nosfi", "pace-ecdh-gm-aes128 on a chip without extended length or SFI support",
                   _mrz_key(), Expect("PACE-ECDH-GM-AES-CBC-CMAC-128", "SUCCESS", "SUCCESS"), build)


def _all() -> dict[str, Profile]:
    gm = "PACE-ECDH-GM-AES-CBC-CMAC-128"
    profiles = [
        _pace_profile("pace-ecdh-gm-aes128",
                      "PACE ECDH-GM brainpoolP256r1 AES-128 + CA ECDH AES-128 + AA ECDSA P-256 (the reference passport)",
                      Expect(gm, "SUCCESS", "SUCCESS"), mapping="GM", cipher="AES128", parameter_id=13),
        _pace_profile("pace-ecdh-im-aes256", "PACE ECDH-IM brainpoolP384r1 AES-256 + CA ECDH AES-256 (brainpoolP384r1)",
                      Expect("PACE-ECDH-IM-AES-CBC-CMAC-256", "SUCCESS", "UNAVAILABLE"),
                      mapping="IM", cipher="AES256", parameter_id=16, ca_curve="brainpoolP384r1",
                      ca_cipher="AES256", aa=None),
        _pace_profile("pace-ecdh-cam-aes128", "PACE-CAM brainpoolP256r1 AES-128 (chip authenticated during PACE)",
                      Expect("PACE-ECDH-CAM-AES-CBC-CMAC-128", "SUCCESS", "UNAVAILABLE"),
                      mapping="CAM", cipher="AES128", parameter_id=13, ca_curve=None, aa=None),
        _pace_profile("pace-dh-gm-3des", "PACE DH-GM 1024-bit MODP 3DES + CA DH 3DES + AA RSA-2048 SHA-256",
                      Expect("PACE-DH-GM-3DES-CBC-CBC", "SUCCESS", "SUCCESS"),
                      mapping="GM", cipher="TDES", parameter_id=0, key_agreement="DH", ca_curve=None,
                      ca_dh_group=0, ca_cipher="TDES", aa="rsa"),
        _bac_profile(),
        _id_card_profile(),
        _id_card_profile(with_mrz=True),
        _clone_profile(),
        _tampered_profile(),
        _untrusted_profile(),
        _short_chip_profile(),
    ]
    return {p.name: p for p in profiles}


PROFILES = _all()


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r}; known: {', '.join(sorted(PROFILES))}") from None
