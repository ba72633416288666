import base64
import json

import pytest
from hypothesis import given, settings, strategies as st

from docval.emrtd import tlv
from docval.emrtd.errors import ParseError
from docval.emrtd.lds.dg11 import AdditionalPersonalDetails, parse_dg11
from docval.emrtd.lds.dg12 import AdditionalDocumentDetails, parse_dg12
from docval.emrtd.lds.dgfields import encode_bcd
from docval.sim.datagroups import encode_dg11, encode_dg12

from tests.testdata import SPECIMEN

DG11_KEYS = [
    "full_name_of_holder", "other_names", "personal_number", "full_date_of_birth", "place_of_birth",
    "permanent_address", "telephone", "profession", "title", "personal_summary",
    "proof_of_citizenship_image", "other_valid_travel_document_numbers", "custody_information",
]
DG12_KEYS = [
    "issuing_authority", "date_of_issue", "names_of_other_persons", "endorsements_and_observations",
    "tax_or_exit_requirements", "image_of_front", "image_of_rear", "date_and_time_of_personalization",
    "personalization_system_serial_number",
]


def dg11(*fields, tag_list=True):
    body = tlv.encode_many(*fields)
    if tag_list:
        body = tlv.encode(0x5C, b"".join(tlv.encode_tag(t) for t, _ in fields)) + body
    return tlv.encode(0x6B, body)


def dg12(*fields, tag_list=True):
    body = tlv.encode_many(*fields)
    if tag_list:
        body = tlv.encode(0x5C, b"".join(tlv.encode_tag(t) for t, _ in fields)) + body
    return tlv.encode(0x6C, body)


# ------------------------------------------------------------------ specimens

@pytest.mark.testdata
def test_icao_specimen_dg11():
    details = parse_dg11((SPECIMEN / "DG11.bin").read_bytes())
    assert details.problems == []
    assert details.to_json() == {
        "full_name_of_holder": "SMITH, JOHN J",
        "other_names": None,
        "personal_number": None,
        "full_date_of_birth": None,
        "place_of_birth": "ANYTOWN, MN",
        "permanent_address": ["123 MAPLE RD", "ANYTOWN", "MN"],
        "telephone": "16125551212",
        "profession": "TRAVEL AGENT",
        "title": None,
        "personal_summary": None,
        "proof_of_citizenship_image": None,
        "other_valid_travel_document_numbers": None,
        "custody_information": None,
    }
    assert list(details.to_json()) == DG11_KEYS
    assert "SMITH" not in repr(details)


@pytest.mark.testdata
def test_icao_specimen_dg12():
    details = parse_dg12((SPECIMEN / "DG12.bin").read_bytes())
    assert details.problems == []
    assert details.date_and_time_of_personalization == "20161115013612"
    assert details.personalization_system_serial_number == "N-4962"
    assert list(details.to_json()) == DG12_KEYS
    assert all(details.to_json()[k] is None for k in DG12_KEYS[:-2])
    assert "N-4962" not in repr(details)


# ------------------------------------------------------------------ round trips

FULL_DG11 = AdditionalPersonalDetails(
    full_name_of_holder="VAN DER BERG, ANNA MARIA",
    other_names=["BERG, ANNA", "MÜLLER, ÄNNE"],
    personal_number="123-45-6789",
    full_date_of_birth="19740812",
    place_of_birth="ZÜRICH, ZH, CHE",
    permanent_address=["12 RUE DE LA PAIX", "75002 PARIS", "FRANCE"],
    telephone="+33 1 23 45 67 89",
    profession="TRAVEL AGENT",
    title="DR",
    personal_summary="EYES BLUE, HEIGHT 170 CM",
    proof_of_citizenship_image=b"\xFF\xD8\xFF\xE0 citizenship",
    other_valid_travel_document_numbers=["L898902C3", "D23145890"],
    custody_information="NONE",
)
FULL_DG12 = AdditionalDocumentDetails(
    issuing_authority="CITY OF ANYTOWN",
    date_of_issue="20200131",
    names_of_other_persons="BROWN, MARY J; SMITH, CHARLES R",
    endorsements_and_observations="VALID FOR ALL COUNTRIES",
    tax_or_exit_requirements="NO EXIT TAX",
    image_of_front=b"\xFF\xD8front",
    image_of_rear=b"\xFF\xD8rear",
    date_and_time_of_personalization="20200130235959",
    personalization_system_serial_number="SN 0042",
)


@pytest.mark.parametrize("bcd", [False, True])
def test_dg11_round_trip_every_field(bcd):
    parsed = parse_dg11(encode_dg11(FULL_DG11, bcd_dates=bcd))
    assert parsed.problems == []
    assert parsed == FULL_DG11
    out = parsed.to_json()
    assert out["proof_of_citizenship_image"] == base64.b64encode(FULL_DG11.proof_of_citizenship_image).decode()
    json.dumps(out)


@pytest.mark.parametrize("bcd", [False, True])
def test_dg12_round_trip_every_field(bcd):
    encoded = encode_dg12(FULL_DG12, bcd_dates=bcd)
    if bcd:
        assert bytes.fromhex("5F260420200131") in encoded
        assert bytes.fromhex("5F55072020013023595 9".replace(" ", "")) in encoded
    parsed = parse_dg12(encoded)
    assert parsed.problems == []
    assert parsed == FULL_DG12
    out = parsed.to_json()
    assert out["image_of_rear"] == base64.b64encode(b"\xFF\xD8rear").decode()
    json.dumps(out)


def test_encoded_dg11_uses_icao_separators():
    encoded = encode_dg11(FULL_DG11)
    assert "VAN<DER<BERG<<ANNA<MARIA".encode() in encoded
    assert "12 RUE DE LA PAIX<75002 PARIS<FRANCE".encode() in encoded
    assert tlv.parse_single(encoded).children()[0].tag == 0x5C


_WORD = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ÄÖÜÉÑŁЖДЯ-'./+", min_size=1, max_size=8)
_TEXT = st.lists(_WORD, min_size=1, max_size=4).map(" ".join)
_NAME = st.one_of(_TEXT, st.tuples(_TEXT, _TEXT).map(", ".join))
_DATE = st.dates().map(lambda d: d.strftime("%Y%m%d")).filter(lambda s: len(s) == 8)
_STAMP = st.datetimes().map(lambda d: d.strftime("%Y%m%d%H%M%S")).filter(lambda s: len(s) == 14)


@settings(max_examples=100, deadline=None)
@given(
    st.builds(
        AdditionalPersonalDetails,
        full_name_of_holder=st.none() | _NAME,
        other_names=st.none() | st.lists(_NAME, max_size=3),
        personal_number=st.none() | _TEXT,
        full_date_of_birth=st.none() | _DATE,
        place_of_birth=st.none() | st.lists(_TEXT, min_size=1, max_size=3).map(", ".join),
        permanent_address=st.none() | st.lists(_TEXT, min_size=1, max_size=3),
        telephone=st.none() | _TEXT,
        profession=st.none() | _TEXT,
        title=st.none() | _TEXT,
        personal_summary=st.none() | _TEXT,
        proof_of_citizenship_image=st.none() | st.binary(max_size=64),
        other_valid_travel_document_numbers=st.none() | st.lists(_WORD, min_size=1, max_size=3),
        custody_information=st.none() | _TEXT,
    ),
    st.booleans(),
)
def test_dg11_round_trip_property(details, bcd):
    parsed = parse_dg11(encode_dg11(details, bcd_dates=bcd))
    assert parsed == details and parsed.problems == []


@settings(max_examples=100, deadline=None)
@given(
    st.builds(
        AdditionalDocumentDetails,
        issuing_authority=st.none() | _TEXT,
        date_of_issue=st.none() | _DATE,
        names_of_other_persons=st.none() | st.lists(_NAME, min_size=1, max_size=3).map("; ".join),
        endorsements_and_observations=st.none() | _TEXT,
        tax_or_exit_requirements=st.none() | _TEXT,
        image_of_front=st.none() | st.binary(max_size=64),
        image_of_rear=st.none() | st.binary(max_size=64),
        date_and_time_of_personalization=st.none() | _STAMP,
        personalization_system_serial_number=st.none() | _TEXT,
    ),
    st.booleans(),
)
def test_dg12_round_trip_property(details, bcd):
    parsed = parse_dg12(encode_dg12(details, bcd_dates=bcd))
    assert parsed == details and parsed.problems == []


# ------------------------------------------------------------------ dates

@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"19740812", "19740812"),
        (encode_bcd("19740812"), "19740812"),
        (b"1974", "1974"),                      # partial: year only
        (b"197408", "197408"),                  # partial: year and month
        (b"19740000", "19740000"),              # unknown month and day written as zeros
        (encode_bcd("197408"), "197408"),
        (b"1974-08-12", "19740812"),
        (b"12.08.1974", "19740812"),
        (b"12/08/1974", "19740812"),
        (b" 19740812<<", "19740812"),
    ],
)
def test_date_formats(raw, expected):
    parsed = parse_dg11(dg11((0x5F2B, raw)))
    assert parsed.full_date_of_birth == expected and parsed.problems == []


@pytest.mark.parametrize("raw", [b"19741312", b"19740832", b"19740012", b"AUG 1974", b"\xAA\xBB\xCC\xDD", b""])
def test_bad_dates_become_problems(raw):
    parsed = parse_dg11(dg11((0x5F2B, raw), (0x5F0E, b"SMITH<<JOHN")))
    assert parsed.full_date_of_birth is None
    assert parsed.full_name_of_holder == "SMITH, JOHN"
    assert len(parsed.problems) == 1 and "date of birth" in parsed.problems[0]


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"20161115013612", "20161115013612"),
        (encode_bcd("20161115013612"), "20161115013612"),
    ],
)
def test_personalization_time_formats(raw, expected):
    assert parse_dg12(dg12((0x5F55, raw))).date_and_time_of_personalization == expected


@pytest.mark.parametrize("raw", [b"20161115253612", b"201611150136", b"2016-11-15T01:36:12", encode_bcd("20161315013612")])
def test_bad_personalization_time_becomes_a_problem(raw):
    parsed = parse_dg12(dg12((0x5F55, raw), (0x5F56, b"N-4962")))
    assert parsed.date_and_time_of_personalization is None
    assert parsed.personalization_system_serial_number == "N-4962"
    assert len(parsed.problems) == 1


def test_bcd_date_of_issue():
    assert parse_dg12(dg12((0x5F26, bytes.fromhex("20200131")))).date_of_issue == "20200131"


# ------------------------------------------------------------------ tolerance

def test_latin1_text_is_decoded_and_reported_without_data():
    parsed = parse_dg11(dg11((0x5F0E, b"M\xdcLLER<<J\xd6RG"), (0x5F11, b"K\xd6LN")))
    assert parsed.full_name_of_holder == "MÜLLER, JÖRG"
    assert parsed.place_of_birth == "KÖLN"
    assert len(parsed.problems) == 2
    assert all("Latin-1" in p and "LLER" not in p and "LN" not in p for p in parsed.problems)


def test_utf8_text():
    parsed = parse_dg11(dg11((0x5F0E, "ДОСТОЕВСКИЙ<<ФЁДОР".encode())))
    assert parsed.full_name_of_holder == "ДОСТОЕВСКИЙ, ФЁДОР" and parsed.problems == []


def test_control_characters_and_padding_are_dropped():
    parsed = parse_dg11(dg11((0x5F13, b"TRAVEL<AGENT\x00\x00"), (0x5F12, b"\x07123<<")))
    assert parsed.profession == "TRAVEL AGENT" and parsed.telephone == "123"


def test_name_without_given_names():
    assert parse_dg11(dg11((0x5F0E, b"SMITH"))).full_name_of_holder == "SMITH"
    assert parse_dg11(dg11((0x5F0E, b"SMITH<<"))).full_name_of_holder == "SMITH"
    assert parse_dg11(dg11((0x5F0E, b"<<JOHN"))).full_name_of_holder == "JOHN"


def test_bare_other_names_outside_the_template():
    parsed = parse_dg11(dg11((0x5F0F, b"SMITH<<J"), (0x5F0F, b"SMYTHE<<JOHN")))
    assert parsed.other_names == ["SMITH, J", "SMYTHE, JOHN"] and parsed.problems == []


def test_other_names_count_mismatch():
    template = tlv.encode(0x02, b"\x03") + tlv.encode(0x5F0F, b"SMITH<<J")
    parsed = parse_dg11(dg11((0xA0, template)))
    assert parsed.other_names == ["SMITH, J"]
    assert parsed.problems == ["DG11 other names: count says 3, found 1"]


def test_malformed_other_names_template():
    parsed = parse_dg11(dg11((0xA0, b"\x02\x05\x01"), (0x5F13, b"PILOT")))
    assert parsed.other_names == [] and parsed.profession == "PILOT"
    assert parsed.problems == ["DG11 other names: malformed template"]


def test_unknown_and_repeated_fields():
    parsed = parse_dg11(dg11((0x5F0E, b"SMITH<<JOHN"), (0x5F0E, b"JONES<<JIM"), (0x5F77, b"secret")))
    assert parsed.full_name_of_holder == "SMITH, JOHN"
    assert len(parsed.problems) == 2
    assert any("repeated" in p for p in parsed.problems)
    assert any("unknown" in p and "5F77" in p for p in parsed.problems)
    assert not any("secret" in p or "JONES" in p for p in parsed.problems)


def test_tag_list_mismatch():
    body = tlv.encode(0x5C, bytes.fromhex("5F0E5F13")) + tlv.encode(0x5F0E, b"SMITH<<J") \
        + tlv.encode(0x5F12, b"123")
    parsed = parse_dg11(tlv.encode(0x6B, body))
    assert parsed.full_name_of_holder == "SMITH, J" and parsed.telephone == "123"
    assert parsed.problems == ["DG11: tag list names absent fields 5F13",
                               "DG11: fields missing from the tag list 5F12"]


def test_malformed_tag_list():
    parsed = parse_dg11(tlv.encode(0x6B, tlv.encode(0x5C, b"\x5F") + tlv.encode(0x5F12, b"1")))
    assert parsed.telephone == "1" and parsed.problems == ["DG11: malformed tag list"]


def test_missing_tag_list_is_accepted():
    parsed = parse_dg11(dg11((0x5F12, b"1"), tag_list=False))
    assert parsed.telephone == "1" and parsed.problems == []


def test_tag_list_may_name_the_other_names_template():
    body = tlv.encode(0x5C, bytes.fromhex("A0")) + tlv.encode(0xA0, tlv.encode(0x5F0F, b"A<<B"))
    assert parse_dg11(tlv.encode(0x6B, body)).problems == []


def test_dg12_bare_other_persons_and_unknown_field():
    parsed = parse_dg12(dg12((0x5F1A, b"BROWN<<MARY"), (0x5F1A, b"SMITH<<JOE"), (0x5F77, b"x")))
    assert parsed.names_of_other_persons == "BROWN, MARY; SMITH, JOE"
    assert len(parsed.problems) == 1 and "5F77" in parsed.problems[0]


def test_dg12_latin1_authority():
    parsed = parse_dg12(dg12((0x5F19, b"MAIRIE<DE<S\xc8TE")))
    assert parsed.issuing_authority == "MAIRIE DE SÈTE" and len(parsed.problems) == 1


@pytest.mark.parametrize("parse, tag", [(parse_dg11, 0x6B), (parse_dg12, 0x6C)])
@pytest.mark.parametrize(
    "body",
    [b"\x5F\x0E\x05AB", b"\x5F", b"\x5F\x0E\x85\x01\x00\x00\x00\x00"],
)
def test_structurally_broken_files_raise(parse, tag, body):
    with pytest.raises(ParseError):
        parse(tlv.encode(tag, body))


@pytest.mark.parametrize("parse", [parse_dg11, parse_dg12])
def test_wrong_data_group_tag(parse):
    with pytest.raises(ParseError):
        parse(tlv.encode(0x6D, b""))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_parse_error(raw):
    for parse, tag in ((parse_dg11, 0x6B), (parse_dg12, 0x6C)):
        for data in (raw, tlv.encode(tag, raw)):
            try:
                parse(data)
            except ParseError:
                pass


@pytest.mark.testdata
@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["DG11.bin", "DG12.bin"]), st.data())
def test_mutated_specimens_raise_only_parse_error(name, data):
    original = (SPECIMEN / name).read_bytes()
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        mutated[data.draw(st.integers(0, len(original) - 1))] = data.draw(st.integers(0, 255))
    parse = parse_dg11 if name == "DG11.bin" else parse_dg12
    try:
        result = parse(bytes(mutated))
    except ParseError:
        return
    json.dumps(result.to_json())


@pytest.mark.parametrize("parse, tag", [(parse_dg11, 0x6B), (parse_dg12, 0x6C)])
def test_problems_are_capped(parse, tag):
    parsed = parse(tlv.encode(tag, tlv.encode(0x5F77, b"") * 5000))
    assert len(parsed.problems) == 33
    assert parsed.problems[-1].endswith("4968 further problems not listed")


def test_hostile_tag_list_is_reported_briefly():
    # 4-byte tags 5F 81 xx yy: thousands of distinct tags, listed but absent.
    tags = [0x5F810000 | (a << 8) | b for a in range(0x80, 0x100) for b in range(0x80)][:12000]
    body = tlv.encode(0x5C, b"".join(tlv.encode_tag(t) for t in tags[:6000])) \
        + b"".join(tlv.encode(t, b"") for t in tags[6000:6010])
    parsed = parse_dg11(tlv.encode(0x6B, body))
    assert len(parsed.problems) == 12
    assert parsed.problems[-2].startswith("DG11: tag list names absent fields 5F818000, 5F818001,")
    assert parsed.problems[-2].endswith("and 5992 more")
    assert parsed.problems[-1].endswith("and 2 more")


def test_many_other_persons_are_capped():
    parsed = parse_dg12(dg12(*[(0x5F1A, b"A<<B")] * 500, tag_list=False))
    assert parsed.names_of_other_persons == "; ".join(["A, B"] * 64)
