"""EF.DG12, additional document details (ICAO 9303-10 §4.7.12).

Tolerant like DG11: each malformed, unknown or repeated field becomes a
problem; only a broken outer structure raises.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from docval.emrtd import tlv
from docval.emrtd.lds import dgfields

DG12_TAG = 0x6C
TAG_LIST = dgfields.TAG_LIST
OTHER_PERSONS_TEMPLATE = 0xA0

ISSUING_AUTHORITY = 0x5F19
DATE_OF_ISSUE = 0x5F26
OTHER_PERSON = 0x5F1A
ENDORSEMENTS = 0x5F1B
TAX_OR_EXIT = 0x5F1C
IMAGE_OF_FRONT = 0x5F1D
IMAGE_OF_REAR = 0x5F1E
PERSONALIZATION_TIME = 0x5F55
PERSONALIZATION_SERIAL = 0x5F56

# docs/result.md has one string for all other persons.
PERSONS_SEPARATOR = "; "


@dataclass(repr=False)
class AdditionalDocumentDetails(dgfields.DetailsMixin):
    """DG12 as it goes into ``additional_document_details`` (docs/result.md)."""

    issuing_authority: str | None = None
    date_of_issue: str | None = None
    names_of_other_persons: str | None = None
    endorsements_and_observations: str | None = None
    tax_or_exit_requirements: str | None = None
    image_of_front: bytes | None = None
    image_of_rear: bytes | None = None
    date_and_time_of_personalization: str | None = None
    personalization_system_serial_number: str | None = None
    problems: list[str] = field(default_factory=list, compare=False)



_TEXT_FIELDS = {
    ISSUING_AUTHORITY: "issuing_authority",
    ENDORSEMENTS: "endorsements_and_observations",
    TAX_OR_EXIT: "tax_or_exit_requirements",
    PERSONALIZATION_SERIAL: "personalization_system_serial_number",
}
_DESCRIPTION = {
    ISSUING_AUTHORITY: "issuing authority",
    DATE_OF_ISSUE: "date of issue",
    OTHER_PERSON: "other persons",
    OTHER_PERSONS_TEMPLATE: "other persons",
    ENDORSEMENTS: "endorsements and observations",
    TAX_OR_EXIT: "tax or exit requirements",
    IMAGE_OF_FRONT: "image of front",
    IMAGE_OF_REAR: "image of rear",
    PERSONALIZATION_TIME: "date and time of personalization",
    PERSONALIZATION_SERIAL: "personalization system serial number",
}


def parse_dg12(data: bytes) -> AdditionalDocumentDetails:
    out = AdditionalDocumentDetails()
    persons: list[str] | None = None
    for item, what in dgfields.template_fields(data, DG12_TAG, "DG12", _DESCRIPTION, out.problems,
                                               repeatable=OTHER_PERSON, grouped_in=OTHER_PERSONS_TEMPLATE):
        if item.tag in (OTHER_PERSONS_TEMPLATE, OTHER_PERSON):
            persons = persons or []
            if len(persons) < dgfields.MAX_NAMES:
                persons.extend(_persons(item, what, out.problems))
        else:
            _apply(out, item, what, out.problems)
    if persons is not None:
        out.names_of_other_persons = PERSONS_SEPARATOR.join(persons[: dgfields.MAX_NAMES])
    return out


def _persons(item: tlv.TLV, what: str, problems: list[str]) -> list[str]:
    if item.tag == OTHER_PERSONS_TEMPLATE:
        return dgfields.names_in_template(item, OTHER_PERSON, what, problems)
    # Bare 5F1A outside the template, as some issuers write it.
    return [dgfields.format_name(dgfields.decode_text(item.value, what, problems))]


def _apply(out: AdditionalDocumentDetails, item: tlv.TLV, what: str, problems: list[str]) -> None:
    tag, raw = item.tag, item.value
    if tag == DATE_OF_ISSUE:
        out.date_of_issue = dgfields.decode_date(raw, what, problems)
    elif tag == PERSONALIZATION_TIME:
        out.date_and_time_of_personalization = dgfields.decode_timestamp(raw, what, problems)
    elif tag == IMAGE_OF_FRONT:
        out.image_of_front = raw
    elif tag == IMAGE_OF_REAR:
        out.image_of_rear = raw
    else:
        setattr(out, _TEXT_FIELDS[tag], dgfields.filler_to_space(dgfields.decode_text(raw, what, problems)))
