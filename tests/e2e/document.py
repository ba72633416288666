"""What a correct result must say about a virtual chip, worked out from the chip's own
files without DocVal's parsers: DG1 is sliced by the ICAO 9303-4/5 character
positions, images are cut out of DG2/DG7 by their JPEG markers, hashes are SHA-256
of the file bytes."""
from __future__ import annotations

import base64
import hashlib
from typing import Any

from docval.emrtd import files

SOD_FID = files.EF_SOD.fid
GENDER = {"M": "MALE", "F": "FEMALE", "<": "UNSPECIFIED"}

# The values the virtual documents' DG11 and DG12 were personalised with (docval.sim.profiles).
DG11 = {
    "full_name_of_holder": "TRAVELLER, HAPPY JOY",
    "other_names": ["JOY HAPPY TRAVELLER"],
    "personal_number": "UTO-55-0312-9",
    "full_date_of_birth": "19850312",
    "place_of_birth": "PORT UTOPIA",
    "permanent_address": ["1 HARBOUR ROAD", "PORT UTOPIA"],
    "telephone": "+999 555 0100",
    "profession": "NAVIGATOR",
    "title": "DR",
    "personal_summary": "VIRTUAL TEST DOCUMENT",
    "proof_of_citizenship_image": None,
    "other_valid_travel_document_numbers": None,
    "custody_information": None,
}
DG12 = {
    "issuing_authority": "UTOPIA PASSPORT OFFICE",
    "date_of_issue": "20240701",
    "names_of_other_persons": None,
    "endorsements_and_observations": "VIRTUAL DOCUMENT FOR TESTING",
    "tax_or_exit_requirements": None,
    "image_of_front": None,
    "image_of_rear": None,
    "date_and_time_of_personalization": "20240701093000",
    "personalization_system_serial_number": "DOCVAL-SIM-1",
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def chip_files(chip: Any) -> dict[str, bytes]:
    """The eMRTD application's files as files_binary names them: "sod", "dg1", ..."""
    out = {}
    for fid, ef in chip.fs.application.by_fid.items():
        if fid == SOD_FID:
            out["sod"] = ef.content
        elif 0x0101 <= fid <= 0x0110:
            out[f"dg{fid - 0x0100}"] = ef.content
    return out


def data_groups(chip: Any) -> dict[int, bytes]:
    return {int(k[2:]): v for k, v in chip_files(chip).items() if k.startswith("dg")}


def _value(data: bytes, tag: bytes) -> bytes:
    """The value of the first ``tag`` element found scanning ``data`` (DER lengths)."""
    at = data.index(tag) + len(tag)
    first = data[at]
    if first < 0x80:
        return data[at + 1:at + 1 + first]
    n = first & 0x7F
    length = int.from_bytes(data[at + 1:at + 1 + n], "big")
    return data[at + 1 + n:at + 1 + n + length]


def mrz_text(dg1: bytes) -> str:
    assert dg1[0] == 0x61
    return _value(dg1, b"\x5f\x1f").decode("ascii")


def _names(field: str) -> tuple[str, list[str]]:
    primary, _, secondary = field.partition("<<")
    return primary.replace("<", " ").strip(), [n for n in secondary.strip("<").split("<") if n]


def _clean(s: str) -> str:
    return s.replace("<", " ").strip()


def expected_mrz_info(dg1: bytes) -> dict[str, Any]:
    mrz = mrz_text(dg1)
    if len(mrz) == 88:     # TD3: 2 x 44
        l1, l2 = mrz[:44], mrz[44:]
        primary, secondary = _names(l1[5:44])
        return {
            "document_type": "TD3", "document_code": _clean(l1[0:2]), "issuing_state": l1[2:5],
            "primary_identifier": primary, "secondary_identifier": secondary,
            "nationality": l2[10:13], "document_number": l2[0:9].rstrip("<"),
            "date_of_birth": l2[13:19], "date_of_expiry": l2[21:27], "gender": GENDER[l2[20]],
            "optional_data1": _clean(l2[28:42]), "optional_data2": None,
        }
    assert len(mrz) == 90, len(mrz)   # TD1: 3 x 30
    l1, l2, l3 = mrz[:30], mrz[30:60], mrz[60:]
    number, optional = l1[5:14], l1[15:30]
    if l1[14] == "<" and optional.strip("<"):
        # ICAO 9303-5 note j: the rest of a long number, its check digit, "<", then optional data.
        overflow, _, optional = optional.partition("<")
        number += overflow[:-1]
    primary, secondary = _names(l3)
    return {
        "document_type": "TD1", "document_code": _clean(l1[0:2]), "issuing_state": l1[2:5],
        "primary_identifier": primary, "secondary_identifier": secondary,
        "nationality": l2[15:18], "document_number": number.rstrip("<"),
        "date_of_birth": l2[0:6], "date_of_expiry": l2[8:14], "gender": GENDER[l2[7]],
        "optional_data1": _clean(optional), "optional_data2": _clean(l2[18:29]),
    }


def jpeg_at_end(data_group: bytes) -> bytes:
    """The one JPEG of a DG2/DG7 holding a single image: it is the last element, so it
    runs from its SOI marker to the end of the file."""
    image = data_group[data_group.index(b"\xff\xd8\xff"):]
    assert image.endswith(b"\xff\xd9")
    return image


def expected_statuses(dgs: dict[int, bytes], read_atr_info: bool = True) -> list[str]:
    """docs/websocket-api.md (statuses) for a chip with these data groups (CA runs when DG14 is there)."""
    seq = ["READ_ATR_INFO"] if read_atr_info else []
    seq += ["ACCESS_CONTROL", "READ_SOD"]
    if 14 in dgs:
        seq += ["READ_DG14", "CHIP_AUTHENTICATION"]
    if 15 in dgs:
        seq += ["READ_DG15", "ACTIVE_AUTHENTICATION"]
    seq += ["READ_DG1", "READ_DG2"]
    seq += [f"READ_DG{n}" for n in (7, 11, 12) if n in dgs]
    return seq + ["PASSIVE_AUTHENTICATION", "DONE"]


def sha256(data: bytes) -> str:
    return b64(hashlib.sha256(data).digest())
