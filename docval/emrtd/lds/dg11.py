"""EF.DG11, additional personal details (ICAO 9303-10 §4.7.11).

Every field is optional.  A field that is malformed, unknown or repeated is
reported in ``problems`` and otherwise ignored, so one odd issuer choice never
costs the rest of the data group; only a broken outer structure raises.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from docval.emrtd import tlv
from docval.emrtd.lds import dgfields

DG11_TAG = 0x6B
TAG_LIST = dgfields.TAG_LIST
OTHER_NAMES_TEMPLATE = 0xA0

FULL_NAME = 0x5F0E
OTHER_NAME = 0x5F0F
PERSONAL_NUMBER = 0x5F10
FULL_DATE_OF_BIRTH = 0x5F2B
PLACE_OF_BIRTH = 0x5F11
PERMANENT_ADDRESS = 0x5F42
TELEPHONE = 0x5F12
PROFESSION = 0x5F13
TITLE = 0x5F14
PERSONAL_SUMMARY = 0x5F15
PROOF_OF_CITIZENSHIP = 0x5F16
OTHER_TRAVEL_DOCUMENTS = 0x5F17
CUSTODY_INFORMATION = 0x5F18

MAX_OTHER_NAMES = dgfields.MAX_NAMES


@dataclass(repr=False)
class AdditionalPersonalDetails(dgfields.DetailsMixin):
    """DG11 as it goes into ``additional_personal_details`` (docs/result.md).

    Names are shown as ``SURNAME, GIVEN NAMES``; list fields are split on the
    ``<`` separator; absent fields are None.
    """

    full_name_of_holder: str | None = None
    other_names: list[str] | None = None
    personal_number: str | None = None
    full_date_of_birth: str | None = None
    place_of_birth: str | None = None
    permanent_address: list[str] | None = None
    telephone: str | None = None
    profession: str | None = None
    title: str | None = None
    personal_summary: str | None = None
    proof_of_citizenship_image: bytes | None = None
    other_valid_travel_document_numbers: list[str] | None = None
    custody_information: str | None = None
    problems: list[str] = field(default_factory=list, compare=False)



_TEXT_FIELDS = {
    PERSONAL_NUMBER: "personal_number",
    TELEPHONE: "telephone",
    PROFESSION: "profession",
    TITLE: "title",
    PERSONAL_SUMMARY: "personal_summary",
    CUSTODY_INFORMATION: "custody_information",
}
_LIST_FIELDS = {
    PERMANENT_ADDRESS: "permanent_address",
    OTHER_TRAVEL_DOCUMENTS: "other_valid_travel_document_numbers",
}
_DESCRIPTION = {
    FULL_NAME: "name of holder",
    OTHER_NAME: "other names",
    OTHER_NAMES_TEMPLATE: "other names",
    PERSONAL_NUMBER: "personal number",
    FULL_DATE_OF_BIRTH: "full date of birth",
    PLACE_OF_BIRTH: "place of birth",
    PERMANENT_ADDRESS: "permanent address",
    TELEPHONE: "telephone",
    PROFESSION: "profession",
    TITLE: "title",
    PERSONAL_SUMMARY: "personal summary",
    PROOF_OF_CITIZENSHIP: "proof of citizenship",
    OTHER_TRAVEL_DOCUMENTS: "other travel document numbers",
    CUSTODY_INFORMATION: "custody information",
}


def parse_dg11(data: bytes) -> AdditionalPersonalDetails:
    out = AdditionalPersonalDetails()
    for item, what in dgfields.template_fields(data, DG11_TAG, "DG11", _DESCRIPTION, out.problems,
                                               repeatable=OTHER_NAME, grouped_in=OTHER_NAMES_TEMPLATE):
        _apply(out, item, what, out.problems)
    return out


def _apply(out: AdditionalPersonalDetails, item: tlv.TLV, what: str, problems: list[str]) -> None:
    tag, raw = item.tag, item.value
    if tag == OTHER_NAMES_TEMPLATE:
        names = dgfields.names_in_template(item, OTHER_NAME, "DG11 other names", problems)
        out.other_names = (out.other_names or []) + names[: MAX_OTHER_NAMES - len(out.other_names or [])]
    elif tag == OTHER_NAME:
        if len(out.other_names or []) < MAX_OTHER_NAMES:
            name = dgfields.format_name(dgfields.decode_text(raw, what, problems))
            out.other_names = (out.other_names or []) + [name]
    elif tag == FULL_NAME:
        out.full_name_of_holder = dgfields.format_name(dgfields.decode_text(raw, what, problems))
    elif tag == FULL_DATE_OF_BIRTH:
        out.full_date_of_birth = dgfields.decode_date(raw, what, problems)
    elif tag == PLACE_OF_BIRTH:
        # ``ANYTOWN<MN``: the parts of a place, most specific first.
        out.place_of_birth = ", ".join(dgfields.split_list(dgfields.decode_text(raw, what, problems)))
    elif tag == PROOF_OF_CITIZENSHIP:
        out.proof_of_citizenship_image = raw
    elif tag in _LIST_FIELDS:
        setattr(out, _LIST_FIELDS[tag], dgfields.split_list(dgfields.decode_text(raw, what, problems)))
    else:
        setattr(out, _TEXT_FIELDS[tag], dgfields.filler_to_space(dgfields.decode_text(raw, what, problems)))
