"""Data groups of the virtual passport: MRZ builders and LDS encoders.

The encoders write what ICAO 9303-10 specifies (and what the parsers in
:mod:`docval.emrtd.lds` read back): DG1, DG2 (CBEFF + ISO/IEC 19794-5:2005
facial record), DG7, DG11 and DG12.  :func:`make_face_jpeg` draws a synthetic,
face-like picture so that demos and benchmarks carry a realistic DG2 without a
real person's photograph.
"""
from __future__ import annotations

import io
import random
from typing import Iterable, Sequence

from docval.emrtd import tlv
from docval.emrtd.lds import dg11, dg12, dgfields
from docval.emrtd.lds.dg11 import AdditionalPersonalDetails
from docval.emrtd.lds.dg12 import AdditionalDocumentDetails
from docval.emrtd.mrz import check_digit

_MRZ_ALPHABET = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<")
_SEX = {"M": "M", "MALE": "M", "F": "F", "FEMALE": "F", "<": "<", "X": "<", "UNSPECIFIED": "<", "": "<"}


# --------------------------------------------------------------------------- DG1

def _field(value: str, width: int, name: str) -> str:
    """An MRZ field: upper case, spaces as fillers, padded; too long is an error."""
    text = value.upper().replace(" ", "<")
    if any(c not in _MRZ_ALPHABET for c in text):
        raise ValueError(f"{name}: characters outside the MRZ alphabet")
    if len(text) > width:
        raise ValueError(f"{name}: longer than {width} characters")
    return text.ljust(width, "<")


def _date(value: str, name: str) -> str:
    if len(value) != 6 or not value.isdigit():
        raise ValueError(f"{name} must be yyMMdd")
    return value


def _sex(gender: str) -> str:
    try:
        return _SEX[gender.upper()]
    except KeyError:
        raise ValueError("gender must be M, F, X/< or MALE, FEMALE, UNSPECIFIED") from None


def _name_field(primary: str, secondary: str | Sequence[str], width: int) -> str:
    given = secondary.split() if isinstance(secondary, str) else list(secondary)
    text = primary.upper().replace(" ", "<")
    if given:
        text += "<<" + "<".join(g.upper().replace(" ", "<") for g in given)
    # 9303-3 truncates names that do not fit; the virtual passport does the same.
    return _field(text[:width], width, "name")


def _number_and_optional(number: str, optional: str, width: int) -> str:
    """Document number (9), check digit and the optional data that follows it;
    a longer number overflows into the optional data (9303-5 §4.2.2 note j)."""
    number = number.upper()
    if len(number) <= 9:
        padded = _field(number, 9, "document_number")
        return padded + check_digit(padded) + _field(optional, width, "optional_data")
    full = _field(number, len(number), "document_number")
    overflow = full[9:] + check_digit(full) + "<" + optional.upper()
    return full[:9] + "<" + _field(overflow, width, "optional_data")


def make_td3_mrz(*, issuing_state: str, primary_identifier: str, secondary_identifier: str | Sequence[str],
                 document_number: str, nationality: str, date_of_birth: str, gender: str,
                 date_of_expiry: str, document_code: str = "P", optional_data: str = "") -> str:
    """A passport MRZ (2 x 44), lines concatenated as DG1 stores them."""
    line1 = _field(document_code, 2, "document_code") + _field(issuing_state, 3, "issuing_state") \
        + _name_field(primary_identifier, secondary_identifier, 39)
    number = _field(document_number, 9, "document_number")
    optional = _field(optional_data, 14, "optional_data")
    dob, doe = _date(date_of_birth, "date_of_birth"), _date(date_of_expiry, "date_of_expiry")
    line2 = (number + check_digit(number) + _field(nationality, 3, "nationality")
             + dob + check_digit(dob) + _sex(gender) + doe + check_digit(doe)
             + optional + check_digit(optional))
    composite = line2[0:10] + line2[13:20] + line2[21:43]
    return line1 + line2 + check_digit(composite)


def make_td2_mrz(*, issuing_state: str, primary_identifier: str, secondary_identifier: str | Sequence[str],
                 document_number: str, nationality: str, date_of_birth: str, gender: str,
                 date_of_expiry: str, document_code: str = "I", optional_data: str = "") -> str:
    """A TD2 MRZ (2 x 36), lines concatenated."""
    line1 = _field(document_code, 2, "document_code") + _field(issuing_state, 3, "issuing_state") \
        + _name_field(primary_identifier, secondary_identifier, 31)
    head = _number_and_optional(document_number, optional_data, 7)
    number, optional = head[:10], head[10:]
    dob, doe = _date(date_of_birth, "date_of_birth"), _date(date_of_expiry, "date_of_expiry")
    line2 = (number + _field(nationality, 3, "nationality") + dob + check_digit(dob)
             + _sex(gender) + doe + check_digit(doe) + optional)
    composite = line2[0:10] + line2[13:20] + line2[21:35]
    return line1 + line2 + check_digit(composite)


def make_td1_mrz(*, issuing_state: str, primary_identifier: str, secondary_identifier: str | Sequence[str],
                 document_number: str, nationality: str, date_of_birth: str, gender: str,
                 date_of_expiry: str, document_code: str = "ID", optional_data1: str = "",
                 optional_data2: str = "") -> str:
    """An ID-card MRZ (3 x 30), lines concatenated; numbers over 9 characters overflow."""
    line1 = _field(document_code, 2, "document_code") + _field(issuing_state, 3, "issuing_state") \
        + _number_and_optional(document_number, optional_data1, 15)
    dob, doe = _date(date_of_birth, "date_of_birth"), _date(date_of_expiry, "date_of_expiry")
    line2 = (dob + check_digit(dob) + _sex(gender) + doe + check_digit(doe)
             + _field(nationality, 3, "nationality") + _field(optional_data2, 11, "optional_data2"))
    composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    line2 += check_digit(composite)
    line3 = _name_field(primary_identifier, secondary_identifier, 30)
    return line1 + line2 + line3


def encode_dg1(mrz_text: str) -> bytes:
    text = mrz_text.replace("\r", "").replace("\n", "")
    if len(text) not in (72, 88, 90) or any(c not in _MRZ_ALPHABET for c in text):
        raise ValueError("not a TD1, TD2 or TD3 MRZ")
    return tlv.encode(0x61, tlv.encode(0x5F1F, text.encode("ascii")))


# --------------------------------------------------------------------------- DG2

_DATA_TYPE = {"jpeg": 0, "jp2": 1, "j2k": 1}


def _facial_record(image: bytes, width: int, height: int, kind: str, feature_points: int) -> bytes:
    """ISO/IEC 19794-5:2005: record header, facial information, feature points,
    image information, image."""
    if kind not in _DATA_TYPE:
        raise ValueError("image kind must be jpeg, jp2 or j2k")
    points = b"".join(bytes([0x01, 0x11 + i % 4]) + (100 + i).to_bytes(2, "big") + (120).to_bytes(2, "big")
                      + b"\0\0" for i in range(feature_points))
    image_info = bytes([
        0x01,                       # face image type: full frontal
        _DATA_TYPE[kind],
    ]) + width.to_bytes(2, "big") + height.to_bytes(2, "big") + bytes([
        0x01,                       # colour space: 24-bit RGB
        0x02,                       # source type: digital still camera
    ]) + b"\0\0" + b"\0\0"          # device type, quality: unspecified
    # gender, eye and hair colour, feature mask, expression, pose: unspecified
    facial_info_tail = feature_points.to_bytes(2, "big") + bytes(14)
    block = facial_info_tail + points + image_info + image
    block = (4 + len(block)).to_bytes(4, "big") + block
    header_len = 14
    return b"FAC\0" + b"010\0" + (header_len + len(block)).to_bytes(4, "big") + (1).to_bytes(2, "big") + block


def _biometric_header() -> bytes:
    return tlv.encode_many(
        (0x80, b"\x01\x01"),        # ICAO header version
        (0x81, b"\x02"),            # biometric type: facial features
        (0x87, b"\x01\x01"),        # format owner: ISO/IEC JTC 1/SC 37
        (0x88, b"\x00\x08"),        # format type: 19794-5 face
    )


def encode_dg2(faces: Iterable[tuple[bytes, int, int, str]], *, feature_points: int = 0) -> bytes:
    """``faces``: (image bytes, width, height, "jpeg" | "jp2" | "j2k")."""
    templates = [
        tlv.encode(0x7F60, tlv.encode(0xA1, _biometric_header())
                   + tlv.encode(0x5F2E, _facial_record(image, w, h, kind, feature_points)))
        for image, w, h, kind in faces
    ]
    group = tlv.encode(0x02, bytes([len(templates)])) + b"".join(templates)
    return tlv.encode(0x75, tlv.encode(0x7F61, group))


def make_face_jpeg(width: int = 480, height: int = 640, seed: int = 0, *, quality: int = 75) -> bytes:
    """A synthetic portrait: a drawn head and shoulders on a plain background,
    with film grain so that it compresses like a photograph (~15-20 KB at
    480x640).  Deterministic for a seed; no real person."""
    # Deliberately late: Pillow is only needed when a synthetic face is drawn.
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)
    w, h = width, height

    def tone(base: tuple[int, int, int], spread: int) -> tuple[int, int, int]:
        return tuple(max(0, min(255, c + rng.randint(-spread, spread))) for c in base)  # type: ignore[return-value]

    background = tone((214, 220, 226), 12)
    skin = tone((198, 156, 128), 40)
    hair = tone((70, 50, 35), 30)
    clothes = tone((60, 70, 100), 40)
    image = Image.new("RGB", (w, h), background)
    draw = ImageDraw.Draw(image)
    cx = w // 2 + rng.randint(-w // 40, w // 40)
    head_w, head_h = int(w * rng.uniform(0.38, 0.44)), int(h * rng.uniform(0.44, 0.50))
    top = int(h * 0.13)
    draw.ellipse((cx - int(w * 0.50), int(h * 0.74), cx + int(w * 0.50), int(h * 1.30)), fill=clothes)
    draw.rectangle((cx - head_w // 5, top + head_h - 20, cx + head_w // 5, int(h * 0.80)), fill=skin)
    draw.ellipse((cx - head_w // 2 - 8, top - 18, cx + head_w // 2 + 8, top + head_h // 2 + 20), fill=hair)
    draw.ellipse((cx - head_w // 2, top, cx + head_w // 2, top + head_h), fill=skin)
    for side in (-1, 1):
        ex, ey = cx + side * head_w // 5, top + int(head_h * 0.45)
        draw.ellipse((cx + side * head_w // 2 - 12, ey - 6, cx + side * head_w // 2 + 12, ey + 40), fill=skin)
        draw.ellipse((ex - 22, ey - 9, ex + 22, ey + 9), fill=(245, 245, 245))
        draw.ellipse((ex - 9, ey - 9, ex + 9, ey + 9), fill=tone((80, 60, 40), 30))
        draw.ellipse((ex - 4, ey - 4, ex + 4, ey + 4), fill=(10, 10, 10))
        draw.line((ex - 26, ey - 24, ex + 26, ey - 28 + side * 2), fill=hair, width=7)
    nose_y = top + int(head_h * 0.62)
    draw.line((cx, top + int(head_h * 0.48), cx - 8, nose_y), fill=tone((160, 115, 95), 10), width=4)
    draw.arc((cx - 14, nose_y - 8, cx + 14, nose_y + 8), 20, 160, fill=(150, 105, 85), width=3)
    mouth_y = top + int(head_h * 0.78)
    draw.arc((cx - 40, mouth_y - 18, cx + 40, mouth_y + 12), 20, 160, fill=(150, 70, 70), width=6)
    image = image.filter(ImageFilter.GaussianBlur(2))
    # Grain from the seeded generator (Pillow's effect_noise is not seedable).
    grain = Image.frombytes("L", (w, h), rng.randbytes(w * h)).filter(ImageFilter.GaussianBlur(0.6))
    image = Image.blend(image, Image.merge("RGB", (grain, grain, grain)), 0.06)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


# --------------------------------------------------------------------------- DG7

def encode_dg7(images: Sequence[bytes]) -> bytes:
    body = tlv.encode(0x02, bytes([len(images)])) + b"".join(tlv.encode(0x5F43, i) for i in images)
    return tlv.encode(0x67, body)


# ------------------------------------------------------------------- DG11 / DG12

def _text(value: str) -> bytes:
    return value.replace(" ", "<").encode("utf-8")


def _list(values: Sequence[str]) -> bytes:
    return "<".join(values).encode("utf-8")


def _date_value(value: str, bcd: bool) -> bytes:
    return dgfields.encode_bcd(value) if bcd else value.encode("ascii")


def _with_tag_list(template_tag: int, fields: list[tuple[int, bytes]]) -> bytes:
    tag_list = b"".join(tlv.encode_tag(tag) for tag, _ in fields)
    return tlv.encode(template_tag, tlv.encode(0x5C, tag_list) + tlv.encode_many(*fields))


def _names_template(names: Sequence[str], name_tag: int) -> bytes:
    return tlv.encode(0x02, bytes([len(names)])) + b"".join(
        tlv.encode(name_tag, dgfields.unformat_name(n).encode("utf-8")) for n in names)


def encode_dg11(details: AdditionalPersonalDetails, *, bcd_dates: bool = False) -> bytes:
    """DG11 from the values as the parser presents them (the inverse of
    :func:`docval.emrtd.lds.dg11.parse_dg11` for normalised text)."""
    d = details
    fields: list[tuple[int, bytes]] = []
    if d.full_name_of_holder is not None:
        fields.append((dg11.FULL_NAME, dgfields.unformat_name(d.full_name_of_holder).encode("utf-8")))
    if d.other_names is not None:
        fields.append((dg11.OTHER_NAMES_TEMPLATE, _names_template(d.other_names, dg11.OTHER_NAME)))
    if d.personal_number is not None:
        fields.append((dg11.PERSONAL_NUMBER, _text(d.personal_number)))
    if d.full_date_of_birth is not None:
        fields.append((dg11.FULL_DATE_OF_BIRTH, _date_value(d.full_date_of_birth, bcd_dates)))
    if d.place_of_birth is not None:
        fields.append((dg11.PLACE_OF_BIRTH, _list(d.place_of_birth.split(", "))))
    if d.permanent_address is not None:
        fields.append((dg11.PERMANENT_ADDRESS, _list(d.permanent_address)))
    for tag, value in ((dg11.TELEPHONE, d.telephone), (dg11.PROFESSION, d.profession),
                       (dg11.TITLE, d.title), (dg11.PERSONAL_SUMMARY, d.personal_summary)):
        if value is not None:
            fields.append((tag, _text(value)))
    if d.proof_of_citizenship_image is not None:
        fields.append((dg11.PROOF_OF_CITIZENSHIP, d.proof_of_citizenship_image))
    if d.other_valid_travel_document_numbers is not None:
        fields.append((dg11.OTHER_TRAVEL_DOCUMENTS, _list(d.other_valid_travel_document_numbers)))
    if d.custody_information is not None:
        fields.append((dg11.CUSTODY_INFORMATION, _text(d.custody_information)))
    return _with_tag_list(dg11.DG11_TAG, fields)


def encode_dg12(details: AdditionalDocumentDetails, *, bcd_dates: bool = False) -> bytes:
    """DG12 from the values as the parser presents them; other persons are
    given as one string separated by ``"; "`` (as the result shows them)."""
    d = details
    fields: list[tuple[int, bytes]] = []
    if d.issuing_authority is not None:
        fields.append((dg12.ISSUING_AUTHORITY, _text(d.issuing_authority)))
    if d.date_of_issue is not None:
        fields.append((dg12.DATE_OF_ISSUE, _date_value(d.date_of_issue, bcd_dates)))
    if d.names_of_other_persons is not None:
        persons = d.names_of_other_persons.split(dg12.PERSONS_SEPARATOR)
        fields.append((dg12.OTHER_PERSONS_TEMPLATE, _names_template(persons, dg12.OTHER_PERSON)))
    if d.endorsements_and_observations is not None:
        fields.append((dg12.ENDORSEMENTS, _text(d.endorsements_and_observations)))
    if d.tax_or_exit_requirements is not None:
        fields.append((dg12.TAX_OR_EXIT, _text(d.tax_or_exit_requirements)))
    if d.image_of_front is not None:
        fields.append((dg12.IMAGE_OF_FRONT, d.image_of_front))
    if d.image_of_rear is not None:
        fields.append((dg12.IMAGE_OF_REAR, d.image_of_rear))
    if d.date_and_time_of_personalization is not None:
        fields.append((dg12.PERSONALIZATION_TIME, _date_value(d.date_and_time_of_personalization, bcd_dates)))
    if d.personalization_system_serial_number is not None:
        fields.append((dg12.PERSONALIZATION_SERIAL, _text(d.personalization_system_serial_number)))
    return _with_tag_list(dg12.DG12_TAG, fields)
