import pytest
from hypothesis import given, strategies as st

from docval.emrtd import tlv
from docval.emrtd.errors import TLVError


def test_multibyte_tags_and_long_lengths():
    value = b"\xAA" * 300
    enc = tlv.encode(0x5F2E, value)
    assert enc[:5] == bytes.fromhex("5F2E82012C")
    item = tlv.parse_single(enc, 0x5F2E)
    assert item.value == value and not item.constructed
    assert tlv.read_header(enc) == (0x5F2E, 5, 300)
    nested = tlv.encode(0x7F61, tlv.encode(0x02, b"\x01") + tlv.encode(0x7F60, tlv.encode(0xA1, b"")))
    outer = tlv.parse_single(nested)
    assert outer.constructed
    assert [c.tag for c in outer.children()] == [0x02, 0x7F60]
    assert outer.require(0x7F60).find(0xA1).value == b""


@pytest.mark.parametrize(
    "raw",
    [
        "", "5F", "5F1F", "61", "6105", "618401", "6185FFFFFFFFFF", "6180",
        "1FFFFFFFFF01", "6103010203FF",
    ],
)
def test_malformed(raw):
    with pytest.raises(TLVError):
        tlv.parse_single(bytes.fromhex(raw))


def test_length_cap():
    with pytest.raises(TLVError):
        tlv.parse_single(bytes.fromhex("618400010000") + b"\0" * 65536, max_length=65535)


def test_deep_nesting_is_a_tlv_error():
    data = b""
    for _ in range(3000):
        data = tlv.encode(0x30, data)
    with pytest.raises(TLVError):
        tlv.check_depth(data)
    tlv.check_depth(data, max_depth=3001)


@given(st.lists(st.tuples(st.sampled_from([0x01, 0x30, 0x5F1F, 0x7F61, 0x9F8101]), st.binary(max_size=300))))
def test_round_trip(items):
    data = tlv.encode_many(*items)
    assert [(i.tag, i.value) for i in tlv.parse_all(data)] == items


@given(st.binary(max_size=200))
def test_hostile_bytes_raise_only_tlv_error(raw):
    try:
        tlv.check_depth(raw)
        tlv.parse_all(raw)
    except TLVError:
        pass
