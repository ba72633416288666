"""The shared test instruments of tests/support hold the contracts the tests rely on: a
scripted RNG or chip that silently tolerated a different draw or command would let a test
pass for the wrong reason. And the product ships none of them."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from docval.emrtd.apdu import CommandAPDU, ResponseAPDU
from docval.emrtd.errors import CommunicationError
from docval.emrtd.flow import Link
from tests.support.flows import Driver, Script, drive, plain, replies
from tests.support.rng import ScriptedRng, number_rng, pattern_rng
from tests.support.wsframes import OP_CLOSE, OP_TEXT, close_codes, decode_frame, frame, handshake_request

ROOT = Path(__file__).resolve().parents[1]
GET_CHALLENGE = CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8)


def two_commands():
    first = yield GET_CHALLENGE
    both = yield (GET_CHALLENGE, GET_CHALLENGE)
    return [first.sw] + [r.sw for r in both]


def test_scripted_rng_gives_its_values_in_order_and_refuses_another_size():
    rng = ScriptedRng(b"\x01" * 8, b"\x02" * 16)
    assert rng(8) == b"\x01" * 8
    with pytest.raises(AssertionError, match="asked for 8 bytes"):
        rng(8)
    with pytest.raises(AssertionError, match="ran out"):
        rng(1)


def test_number_rng_keeps_the_number_whatever_the_size():
    rng = number_rng("0102")
    assert rng(4) == b"\x00\x00\x01\x02" and rng(1) == b"\x02"
    assert pattern_rng(0xFE, 1)(3) == b"\xfe\xff\x00" == pattern_rng(0xFE, 1)(3)


def test_driver_records_steps_commands_and_bursts():
    driven = drive(two_commands(), replies(*[ResponseAPDU(b"", 0x9000)] * 3))
    assert driven.result == [0x9000] * 3
    assert driven.bursts == [1, 2] and len(driven.commands) == 3
    assert driven.sent == [GET_CHALLENGE.encode()] * 3


def test_driver_keeps_the_record_when_the_flow_raises():
    driver = Driver(replies(ResponseAPDU(b"", 0x9000)))
    with pytest.raises(AssertionError, match="did not finish"):
        driver.run(two_commands())
    assert driver.bursts == [1, 2]


def test_only_the_link_refuses_a_status_word_outside_iso_7816():
    """Plain answers reach the flow as they are (to test the flow); through a Link, as in
    the product, a non-ISO status word is refused before the flow sees it."""
    odd = ResponseAPDU(b"", 0x1234)
    assert drive(two_commands(), replies(odd, odd, odd)).result == [0x1234] * 3
    with pytest.raises(CommunicationError):
        drive(two_commands(), transmit=plain(replies(odd)), link=Link())


def test_script_checks_every_command_and_that_it_was_used_up():
    chip = Script([("0084 0000 08", "9000"), (None, "6A82")])
    assert chip(GET_CHALLENGE.encode()) == bytes.fromhex("9000")
    with pytest.raises(AssertionError, match="1 scripted answers not used"):
        chip.assert_done()
    assert chip(b"\x00\xb0\x00\x00\x01") == bytes.fromhex("6A82")
    chip.assert_done()
    with pytest.raises(AssertionError, match="more commands"):
        chip(GET_CHALLENGE.encode())
    with pytest.raises(AssertionError):
        Script([("00B0000001", "9000")])(GET_CHALLENGE.encode())


def test_frames_round_trip_and_may_lie():
    raw = frame(OP_TEXT, b"x" * 300, mask=False)
    assert decode_frame(raw) == (OP_TEXT, b"x" * 300, len(raw))
    assert decode_frame(frame(OP_TEXT, b"", declared_length=1 << 20, mask=False)) is None
    server = b"HTTP/1.1 101 Switching Protocols\r\n\r\n" + frame(OP_TEXT, b"{}", mask=False) \
        + frame(OP_CLOSE, b"\x03\xf0bye", mask=False)
    assert close_codes(server) == [1008]
    assert handshake_request("/p", extra_headers="X: 1\r\n").startswith(b"GET /p HTTP/1.1\r\nHost: 127.0.0.1\r\n")


def test_the_product_imports_no_test_code():
    """The hostile chips and phones are test instruments (docs/reliability.md): no module
    of the docval package may import them, or anything else from tests."""
    offenders = []
    for path in (ROOT / "docval").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "tests"]
    assert offenders == []
    assert not list((ROOT / "docval").rglob("hostile*.py"))
