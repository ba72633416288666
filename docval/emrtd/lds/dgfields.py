"""Shared decoding of data-group templates and their text and date fields.

Data groups 1, 2, 7, 11 and 12 all start with one application tag whose value
is a list of TLVs.  DG11 and DG12 hold free text that ICAO 9303-10 wants in
UTF-8 with ``<`` as filler and separator, and dates that issuers write in
several ways (``yyyyMMdd`` text, 4-byte BCD, partial dates, separators).
Decoding here is tolerant: a field that does not fit is reported as a problem by
the caller; only a broken outer structure raises :class:`ParseError`.
"""
from __future__ import annotations

import base64
import dataclasses
import re
from typing import Any, Iterator

from docval.emrtd import tlv
from docval.emrtd.errors import ParseError, TLVError

COUNT = 0x02
MAX_NAMES = 64   # other names / other persons: far beyond any real document
MAX_PROBLEMS = 32   # a hostile file of thousands of bad fields must not flood the result

# ICAO 9303 files are read with 2-byte offsets; nothing bigger is a data group.
MAX_DG_SIZE = 65535


def open_template(data: bytes, tag: int, name: str) -> tlv.TLV:
    """The data group's outer TLV, with its size capped before any parsing."""
    if len(data) > MAX_DG_SIZE + 8:
        raise ParseError(f"{name}: larger than {MAX_DG_SIZE} bytes")
    try:
        # Bytes after the template are ignored: a raw file dump may be padded
        # past the declared length, and the hash covers what was read anyway.
        return tlv.parse_single(bytes(data), tag, allow_trailing=True, max_length=MAX_DG_SIZE)
    except TLVError as exc:
        raise ParseError(f"{name}: {exc}") from None


def children(item: tlv.TLV, name: str) -> list[tlv.TLV]:
    try:
        return item.children()
    except TLVError as exc:
        raise ParseError(f"{name}: {exc}") from None


def cap_problems(problems: list[str], where: str) -> None:
    if len(problems) > MAX_PROBLEMS:
        omitted = len(problems) - MAX_PROBLEMS
        del problems[MAX_PROBLEMS:]
        problems.append(f"{where}: {omitted} further problems not listed")


def decode_text(raw: bytes, what: str, problems: list[str]) -> str:
    """UTF-8 as ICAO asks; Latin-1 (never fails) for issuers that ignore that."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{what}: not UTF-8, decoded as Latin-1")
        text = raw.decode("latin-1")
    # NUL padding and control characters are never content; they would only
    # confuse whoever displays the result.
    return "".join(ch for ch in text if ch >= " " or ch == "\n").strip()


def filler_to_space(text: str) -> str:
    """``TRAVEL<AGENT`` → ``TRAVEL AGENT``; trailing filler dropped."""
    return " ".join(part for part in text.split("<") if part.strip()).strip()


def split_list(text: str) -> list[str]:
    """``123 MAPLE RD<ANYTOWN<MN`` → ``["123 MAPLE RD", "ANYTOWN", "MN"]``."""
    return [part.strip() for part in text.split("<") if part.strip()]


def format_name(text: str) -> str:
    """A 9303 name: primary and secondary identifiers separated by ``<<``.

    ``SMITH<<JOHN<J`` → ``SMITH, JOHN J``: the comma keeps the boundary between
    surname and given names that plain spaces would lose.
    """
    primary, sep, secondary = text.partition("<<")
    primary = filler_to_space(primary)
    secondary = filler_to_space(secondary)
    if sep and secondary:
        return f"{primary}, {secondary}" if primary else secondary
    return primary


def unformat_name(name: str) -> str:
    """The inverse of :func:`format_name` (used by the encoders)."""
    primary, sep, secondary = name.partition(", ")
    primary = primary.replace(" ", "<")
    if sep:
        return primary + "<<" + secondary.replace(" ", "<")
    return primary


_SEPARATED_YMD = re.compile(r"(\d{4})[-./ ](\d{2})[-./ ](\d{2})")
_SEPARATED_DMY = re.compile(r"(\d{2})[-./ ](\d{2})[-./ ](\d{4})")


def _bcd_digits(raw: bytes) -> str | None:
    digits = []
    for byte in raw:
        high, low = byte >> 4, byte & 0x0F
        if high > 9 or low > 9:
            return None
        digits.append(f"{high}{low}")
    return "".join(digits)


def _plausible_date(digits: str) -> bool:
    """Year, month and day in range; 00 stands for an unknown month or day."""
    month = int(digits[4:6]) if len(digits) >= 6 else 0
    day = int(digits[6:8]) if len(digits) >= 8 else 0
    return month <= 12 and day <= 31 and not (month == 0 and day != 0)


def decode_date(raw: bytes, what: str, problems: list[str]) -> str | None:
    """A date as ``yyyyMMdd`` (or ``yyyyMM`` / ``yyyy`` when the document gives
    only part of it).  Accepts text, separated text and 4-byte BCD."""
    text = raw.decode("latin-1").strip().rstrip("<")
    if text.isascii() and text.isdigit() and len(text) in (4, 6, 8):
        digits = text
    elif (m := _SEPARATED_YMD.fullmatch(text)) is not None:
        digits = "".join(m.groups())
    elif (m := _SEPARATED_DMY.fullmatch(text)) is not None:
        digits = m.group(3) + m.group(2) + m.group(1)
    elif len(raw) in (2, 3, 4) and (bcd := _bcd_digits(raw)) is not None:
        digits = bcd
    else:
        problems.append(f"{what}: unrecognised date format")
        return None
    if not _plausible_date(digits):
        problems.append(f"{what}: not a valid date")
        return None
    return digits


def decode_timestamp(raw: bytes, what: str, problems: list[str]) -> str | None:
    """``yyyyMMddhhmmss`` as text or as 7-byte BCD."""
    text = raw.decode("latin-1").strip()
    if text.isascii() and text.isdigit() and len(text) == 14:
        digits = text
    elif len(raw) == 7 and (bcd := _bcd_digits(raw)) is not None:
        digits = bcd
    else:
        problems.append(f"{what}: unrecognised date and time format")
        return None
    hour, minute, second = int(digits[8:10]), int(digits[10:12]), int(digits[12:14])
    if not _plausible_date(digits[:8]) or hour > 23 or minute > 59 or second > 60:
        problems.append(f"{what}: not a valid date and time")
        return None
    return digits


def encode_bcd(digits: str) -> bytes:
    """``"19710219"`` → ``19 71 02 19`` (used by the encoders and tests)."""
    if len(digits) % 2 or not digits.isdigit():
        raise ValueError("BCD needs an even number of digits")
    return bytes(int(digits[i : i + 2], 16) for i in range(0, len(digits), 2))


TAG_LIST = 0x5C


class DetailsMixin:
    """to_json and a data-free repr for the DG11/DG12 dataclasses (fields + ``problems``)."""

    problems: list[str]

    def _values(self) -> list[tuple[str, Any]]:
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)  # type: ignore[arg-type]
                if f.name != "problems"]

    def to_json(self) -> dict[str, Any]:
        """docs/result.md values: strings, lists of strings or null; images base64."""
        out: dict[str, Any] = {}
        for name, value in self._values():
            if isinstance(value, bytes):
                value = base64.b64encode(value).decode("ascii")
            elif isinstance(value, list):
                value = list(value)
            out[name] = value
        return out

    def __repr__(self) -> str:
        # Which fields are present, never their values: reprs reach tracebacks and logs.
        present = [name for name, value in self._values() if value is not None]
        return f"{type(self).__name__}(present={present}, problems={len(self.problems)})"


def template_fields(data: bytes, template_tag: int, name: str, descriptions: dict[int, str],
                    problems: list[str], *, repeatable: int, grouped_in: int) -> Iterator[tuple[tlv.TLV, str]]:
    """Each known field of a DG11/DG12 template once, with its description for messages.

    Unknown and repeated fields become problems, not errors; ``repeatable`` may
    occur bare several times (real chips put 5F0F/5F1A names side by side instead
    of inside their ``grouped_in`` template).  After the last field the tag list
    is checked - it may name either the template or the names inside it - and
    the problems are capped.  Consume the iterator fully.
    """
    root = open_template(data, template_tag, name)
    declared: list[int] | None = None
    seen: list[int] = []     # tags in file order, for the tag list
    seen_set: set[int] = set()
    for item in children(root, name):
        if item.tag == TAG_LIST:
            if declared is None:
                declared = parse_tag_list(item.value, name, problems)
            else:
                problems.append(f"{name}: more than one tag list")
            continue
        what = f"{name} " + descriptions.get(item.tag, f"tag {item.tag:X}")
        if item.tag not in descriptions:
            problems.append(f"{what}: unknown field ignored")
            seen.append(item.tag)     # present, so the tag list may name it
            seen_set.add(item.tag)
            continue
        if item.tag in seen_set and item.tag != repeatable:
            problems.append(f"{what}: repeated field ignored")
            continue
        seen.append(item.tag)
        seen_set.add(item.tag)
        yield item, what

    def same(tags: list[int]) -> list[int]:
        return [repeatable if t == grouped_in else t for t in tags]

    check_tag_list(None if declared is None else same(declared), same(seen), name, problems)
    cap_problems(problems, name)


def parse_tag_list(value: bytes, where: str, problems: list[str]) -> list[int] | None:
    """The ``5C`` list of the tags present: a concatenation of bare tags."""
    tags: list[int] = []
    offset = 0
    try:
        while offset < len(value):
            tag, offset = tlv.read_tag(value, offset)
            tags.append(tag)
    except TLVError:
        problems.append(f"{where}: malformed tag list")
        return None
    return tags


def check_tag_list(declared: list[int] | None, found: list[int], where: str, problems: list[str]) -> None:
    """The tag list must name exactly the fields present; a mismatch is reported."""
    if declared is None:
        return
    declared_set, found_set = set(declared), set(found)
    missing = [t for t in dict.fromkeys(declared) if t not in found_set]
    unlisted = [t for t in dict.fromkeys(found) if t not in declared_set]
    if missing:
        problems.append(f"{where}: tag list names absent fields {_tags(missing)}")
    if unlisted:
        problems.append(f"{where}: fields missing from the tag list {_tags(unlisted)}")


def _tags(tags: list[int], shown: int = 8) -> str:
    text = ", ".join(f"{t:X}" for t in tags[:shown])
    return text + (f" and {len(tags) - shown} more" if len(tags) > shown else "")


def names_in_template(item: tlv.TLV, name_tag: int, where: str, problems: list[str]) -> list[str]:
    """``A0`` { ``02`` count, name, name, ... } as in DG11 other names and DG12
    other persons (9303-10 Tables 53/54): the formatted names."""
    try:
        inner = item.children()
    except TLVError:
        problems.append(f"{where}: malformed template")
        return []
    names: list[str] = []
    declared = None
    for child in inner:
        if child.tag == COUNT and declared is None and len(child.value) == 1:
            declared = child.value[0]
        elif child.tag == name_tag:
            if len(names) < MAX_NAMES:
                names.append(format_name(decode_text(child.value, where, problems)))
        else:
            problems.append(f"{where}: unexpected tag {child.tag:X}")
    if declared is not None and declared != len(names):
        problems.append(f"{where}: count says {declared}, found {len(names)}")
    return names
