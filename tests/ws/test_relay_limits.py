"""ApduRelay: every answer held to its command's Le (plus Secure Messaging overhead) as it
arrives, and the answers of one burst to a per-session byte cap."""
from __future__ import annotations

import tracemalloc

import pytest
from twisted.internet import task

from docval.emrtd.apdu import CommandAPDU
from docval.emrtd.burst import SM_RESPONSE_OVERHEAD, answer_limit
from docval.emrtd.crypto import AES128
from docval.emrtd.errors import CommunicationError
from docval.emrtd.sm import SecureMessaging
from docval.errors import UnexpectedMessage, close_for
from docval.ws.relay import ApduRelay

from .harness import Harness, scripted_reader, start_message

SW = b"\x90\x00"


def make(max_pipelined=64, **kw):
    clock = task.Clock()
    sent = []
    relay = ApduRelay(sent.append, clock, 15.0, max_pipelined, on_timeout=lambda: None, **kw)
    return relay, clock, sent


def read_binary(le, extended=False):
    return CommandAPDU(0x00, 0xB0, 0x81, 0x00, le=le, extended=extended).encode()


def outcome(d):
    out = []
    d.addBoth(out.append)
    return out


@pytest.mark.parametrize("raw, ne", [
    (read_binary(16), 16),
    (read_binary(256), 256),                       # short Le 00
    (read_binary(65536, extended=True), 65536),    # extended Le 0000
    (read_binary(300, extended=True), 300),
    (bytes.fromhex("00A4020C020101"), 0),          # no Le: status word (and slack) only
])
def test_plain_command_limit_is_its_ne_plus_overhead(raw, ne):
    assert answer_limit(raw) == ne + SM_RESPONSE_OVERHEAD + 2


def test_protected_command_limit_comes_from_the_plain_le_in_do97():
    sm = SecureMessaging(AES128, b"\x01" * 16, b"\x02" * 16)
    wrapped = sm.wrap(CommandAPDU(0x00, 0xB0, 0x81, 0x00, le=100))
    assert wrapped.le in (256, 65536)                 # the wire Le says little under SM
    assert answer_limit(wrapped.encode()) == 100 + SM_RESPONSE_OVERHEAD + 2
    no_le = sm.wrap(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, b"\x01\x01"))
    assert answer_limit(no_le.encode()) == SM_RESPONSE_OVERHEAD + 2


def test_protected_answer_of_a_full_read_fits_the_limit():
    """The overhead allowed covers what SM really adds, for every plain length."""
    spec = AES128
    chip = SecureMessaging(spec, b"\x01" * 16, b"\x02" * 16)
    terminal = SecureMessaging(spec, b"\x01" * 16, b"\x02" * 16)
    from docval.emrtd.apdu import ResponseAPDU
    for n in (1, 15, 16, 127, 223, 255, 256, 4096, 65536):
        cmd = terminal.wrap(CommandAPDU(0x00, 0xB0, 0x81, 0x00, le=n, extended=n > 256))
        chip.unwrap_command(cmd)
        answer = chip.wrap_response(ResponseAPDU(b"\xAA" * n, 0x9000)).encode()
        terminal.unwrap(ResponseAPDU.decode(answer))
        assert len(answer) <= answer_limit(cmd.encode()), n


def test_answer_longer_than_le_is_refused_on_arrival():
    relay, clock, sent = make()
    out = outcome(relay.transmit_many([read_binary(16), read_binary(16)]))
    limit = 16 + SM_RESPONSE_OVERHEAD + 2
    relay.deliver(b"\x00" * (limit - 2) + SW)               # exactly the limit: kept
    with pytest.raises(CommunicationError, match=f"at most {limit}"):
        relay.deliver(b"\x00" * (limit + 1))
    assert close_for(CommunicationError("x")).reason == "COMMUNICATION_FAILED"
    # The relay is done: nothing more is buffered, and the session cancels the reader.
    with pytest.raises(UnexpectedMessage):
        relay.deliver(SW)
    assert relay._responses == [] and relay._buffered == 0
    assert out == [] and clock.getDelayedCalls() == []


def test_burst_answers_are_capped_per_session():
    relay, clock, sent = make(max_buffered=100_000)
    relay.transmit_many([read_binary(65536, extended=True)] * 4)
    relay.deliver(b"\x00" * 40_000)
    relay.deliver(b"\x00" * 40_000)
    with pytest.raises(CommunicationError, match="exceed 100000 bytes"):
        relay.deliver(b"\x00" * 40_000)       # each is within its Le; together they are not
    assert relay._responses == []


def test_cap_counts_one_burst_at_a_time():
    relay, clock, sent = make(max_buffered=1000)
    for _ in range(5):
        out = outcome(relay.transmit_many([read_binary(600)]))
        relay.deliver(b"\x00" * 600 + SW)
        assert len(out[0][0]) == 602


def test_memory_stays_bounded_under_a_burst_of_maximal_answers():
    """64 answers of 64 KiB, each within an extended Le: the cap stops the buffering at
    ~384 KiB instead of 4 MiB."""
    relay, clock, sent = make()
    relay.transmit_many([read_binary(65536, extended=True)] * 64)
    answer = b"\x00" * 65536 + SW
    tracemalloc.start()
    refused_at = None
    try:
        for i in range(64):
            try:
                relay.deliver(answer)
            except CommunicationError:
                refused_at = i
                break
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused_at == 5                       # 5 x 65538 bytes <= 384 KiB < 6 x
    assert peak < 600_000


def test_session_closes_communication_failed_on_an_over_long_answer():
    h = Harness(read_document=scripted_reader())
    conn = h.raw(start_message(), path="/ws1/validate?return_result=true",
                 answer=lambda apdu: b"\x00" * 5000 + SW)   # a SELECT without Le
    h.run(conn, 2.0, step=0.5)
    assert conn.closed[2] == "COMMUNICATION_FAILED"
    assert h.metrics.finished
    h.assert_clean()
