import pytest
from hypothesis import given, strategies as st

from docval.emrtd.apdu import CommandAPDU, ResponseAPDU, is_iso_status, sw_name
from docval.emrtd.errors import CommunicationError


@pytest.mark.parametrize(
    "cmd, encoded",
    [
        (CommandAPDU(0x00, 0x84, 0, 0, le=8), "0084000008"),
        (CommandAPDU(0x00, 0xB0, 0, 0, le=256), "00B0000000"),
        (CommandAPDU(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("011E")), "00A4020C02011E"),
        (CommandAPDU(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("A0000002471001"), le=256),
         "00A4040C07A000000247100100"),
        # extended: case 2E, 3E, 4E; 65536 encodes as 0000
        (CommandAPDU(0x00, 0xB0, 0, 0, le=1024), "00B00000000400"),
        (CommandAPDU(0x00, 0xB0, 0, 0, le=65536), "00B00000000000"),
        (CommandAPDU(0x00, 0x88, 0, 0, b"\x01" * 300), "00880000" + "00012C" + "01" * 300),
        (CommandAPDU(0x00, 0x88, 0, 0, b"\x01" * 8, le=256, extended=True),
         "00880000" + "000008" + "01" * 8 + "0100"),
    ],
)
def test_command_encoding(cmd, encoded):
    assert cmd.encode().hex().upper() == encoded.upper()
    assert CommandAPDU.decode(cmd.encode()).encode() == cmd.encode()


@given(
    ins=st.integers(0, 255),
    data=st.binary(max_size=400),
    le=st.one_of(st.none(), st.integers(1, 65536)),
    extended=st.booleans(),
)
def test_command_round_trip(ins, data, le, extended):
    cmd = CommandAPDU(0x0C, ins, 1, 2, data, le, extended)
    back = CommandAPDU.decode(cmd.encode())
    assert (back.ins, back.data, back.le) == (ins, data, le)
    if data or le is not None:  # a case-1 APDU has no length field to carry the form
        assert back.is_extended == cmd.is_extended


@given(st.binary(max_size=300))
def test_command_decode_hostile(raw):
    try:
        CommandAPDU.decode(raw)
    except ValueError:
        pass


def test_response():
    r = ResponseAPDU.decode(bytes.fromhex("01029000"))
    assert r.data == b"\x01\x02" and r.ok and (r.sw1, r.sw2) == (0x90, 0x00)
    assert ResponseAPDU(b"", 0x6C1F).sw2 == 0x1F
    assert repr(ResponseAPDU(b"SECRET", 0x9000)) == "ResponseAPDU(len=6 sw=9000)"
    assert ResponseAPDU.decode(r.encode()) == r
    with pytest.raises(CommunicationError):
        ResponseAPDU.decode(b"\x90")


def test_status_words():
    assert is_iso_status(0x9000) and is_iso_status(0x6A82) and is_iso_status(0x6C10)
    assert not is_iso_status(0xFFFF) and not is_iso_status(0xC200)
    assert "not found" in sw_name(0x6A82)
    assert "16" in sw_name(0x6C10)


def test_repr_hides_data():
    cmd = CommandAPDU(0, 0x82, 0, 0, b"SECRETKEY")
    assert "SECRET" not in repr(cmd) and "534543" not in repr(cmd)


def test_chain_splits_data_and_keeps_le_on_the_last_part():
    from docval.emrtd.apdu import chain
    cmd = CommandAPDU(0x00, 0x86, 0x00, 0x00, bytes(range(250)) * 2, le=223)
    parts = chain(cmd, 200)
    assert [len(p.data) for p in parts] == [200, 200, 100]
    assert [p.cla for p in parts] == [0x10, 0x10, 0x00]
    assert [p.le for p in parts] == [None, None, 223]
    assert b"".join(p.data for p in parts) == cmd.data
    assert chain(cmd, None) == [cmd] and chain(cmd, 500) == [cmd]
    with pytest.raises(ValueError):
        chain(cmd, 0)
