"""The Link: SM wrapping for flows, pipelined SSC prediction, and what it refuses to send."""
import pytest

from docval.emrtd import crypto
from docval.emrtd.apdu import CommandAPDU, ResponseAPDU
from docval.emrtd.errors import CommandTooLong, CommunicationError, SecureMessagingError
from docval.emrtd.flow import Link, exchange, exchange_all, returned, run
from docval.emrtd.sm import SecureMessaging

K_ENC, K_MAC = bytes(range(16)), bytes(range(16, 32))


class EchoChip:
    """Chip side of SM: answers every command with its own P1 as data."""

    def __init__(self):
        self.sm = SecureMessaging(crypto.AES128, K_ENC, K_MAC, ssc=0)
        self.seen = []

    def transmit(self, raw):
        cmd = self.sm.unwrap_command(CommandAPDU.decode(raw))
        self.seen.append(cmd)
        return self.sm.wrap_response(ResponseAPDU(bytes([cmd.p1]), 0x9000)).encode()


def pipelined_flow(n):
    answers = yield tuple(CommandAPDU(0, 0xB0, i, 0, le=1) for i in range(n))
    single = yield CommandAPDU(0, 0xB0, 0x7F, 0, le=1)
    return [a.data[0] for a in answers] + [single.data[0]]


def test_pipelined_commands_get_predicted_sscs():
    chip = EchoChip()
    link = Link()
    link.start(SecureMessaging(crypto.AES128, K_ENC, K_MAC, ssc=0))
    assert run(pipelined_flow(5), link, chip.transmit) == [0, 1, 2, 3, 4, 0x7F]
    assert link.sm.ssc == chip.sm.ssc == 12
    assert link.commands_sent == 6


def test_a_failed_response_ends_secure_messaging_for_good():
    chip = EchoChip()
    link = Link()
    link.start(SecureMessaging(crypto.AES128, K_ENC, K_MAC, ssc=0))

    def tamper(raw):
        answer = bytearray(chip.transmit(raw))
        answer[-4] ^= 1     # inside DO'8E'
        return bytes(answer)

    with pytest.raises(SecureMessagingError):
        run(pipelined_flow(1), link, tamper)
    assert link.broken and link.sm is None
    with pytest.raises(SecureMessagingError):
        link.protect((CommandAPDU(0, 0xB0, 0, 0, le=1),))


@pytest.mark.parametrize("raw", [b"\xff\xff", b"\x01\xc2\x00"])
def test_non_iso_status_words_are_communication_failures(raw):
    with pytest.raises(CommunicationError):
        Link().unprotect([raw], 1)


def test_response_count_must_match():
    with pytest.raises(SecureMessagingError):
        Link().unprotect([b"\x90\x00", b"\x90\x00"], 1)


def test_extended_command_refused_for_a_short_only_phone_before_the_ssc_moves():
    link = Link(extended=False)
    link.start(SecureMessaging(crypto.AES128, K_ENC, K_MAC, ssc=7))
    with pytest.raises(CommandTooLong, match="extended length"):
        link.protect((CommandAPDU(0, 0x88, 0, 0, b"\x01" * 8, le=65536),))
    assert link.sm.ssc == 7 and link.commands_sent == 0
    assert len(link.protect((CommandAPDU(0, 0x88, 0, 0, b"\x01" * 8, le=100),))) == 1


def test_max_command_bytes_is_enforced():
    link = Link(max_command_bytes=64)
    with pytest.raises(CommandTooLong, match="64"):
        link.protect((CommandAPDU(0, 0x86, 0, 0, b"\x00" * 100, le=256),))
    assert len(link.protect((CommandAPDU(0, 0x86, 0, 0, b"\x00" * 50, le=256),))[0]) == 56


def test_max_command_data_follows_what_the_phone_relays():
    assert Link().max_command_data() is None
    assert Link(extended=False).max_command_data() == 255
    assert Link(max_command_bytes=64).max_command_data() == 58
    assert Link(max_command_bytes=1000).max_command_data() == 991
    link = Link(extended=False)
    link.start(SecureMessaging(crypto.AES128, bytes(16), bytes(16)))
    assert link.max_command_data() == 223
    link.max_command_bytes = 64
    assert link.max_command_data() == link.sm.max_plain_lc(64) == 31


def test_too_long_only_because_of_the_answer_says_so():
    link = Link(extended=False)
    link.start(SecureMessaging(crypto.AES128, bytes(16), bytes(16)))
    with pytest.raises(CommandTooLong) as info:
        link.protect((CommandAPDU(0x00, 0x88, 0, 0, bytes(8), le=256),))
    assert info.value.response
    with pytest.raises(CommandTooLong) as info:
        link.protect((CommandAPDU(0x00, 0x22, 0x41, 0xA6, bytes(300)),))
    assert not info.value.response


def test_send_chained_stops_at_a_refused_part():
    from docval.emrtd.errors import StatusError
    from docval.emrtd.flow import send_chained
    seen = []

    def chip(raw):
        seen.append(raw)
        return ResponseAPDU(b"", 0x6884).encode()
    with pytest.raises(StatusError, match="MSE:Set KAT sent as 2 chained commands: status 6884"):
        run(send_chained(CommandAPDU(0x00, 0x22, 0x41, 0xA6, bytes(300)), 255, "MSE:Set KAT"), Link(), chip)
    assert len(seen) == 1 and seen[0][0] == 0x10


def _two_step_flow():
    first = yield from exchange(CommandAPDU(0x00, 0xB0, 0, 0, le=1))
    both = yield from exchange_all((CommandAPDU(0x00, 0xB0, 0, 1, le=1), CommandAPDU(0x00, 0xB0, 0, 2, le=1)))
    return first.data + b"".join(r.data for r in both)


def test_exchange_and_exchange_all_hand_typed_answers_through_run():
    answers = iter([b"\x01\x90\x00", b"\x02\x90\x00", b"\x03\x90\x00"])
    assert run(_two_step_flow(), Link(), lambda raw: next(answers)) == b"\x01\x02\x03"


def test_an_answer_of_the_wrong_shape_is_a_driver_bug_not_a_response():
    ok = ResponseAPDU(b"", 0x9000)
    flow = _two_step_flow()
    next(flow)
    with pytest.raises(TypeError, match="single response"):
        flow.send((ok,))
    flow = _two_step_flow()
    next(flow)
    flow.send(ok)
    with pytest.raises(TypeError, match="one response each"):
        flow.send((ok,))          # two commands, one answer
    flow = _two_step_flow()
    next(flow)
    flow.send(ok)
    with pytest.raises(TypeError, match="one response each"):
        flow.send(ok)


def test_returned_is_the_flows_return_value():
    flow = _two_step_flow()
    try:
        next(flow)
        flow.send(ResponseAPDU(b"a", 0x9000))
        flow.send((ResponseAPDU(b"b", 0x9000), ResponseAPDU(b"c", 0x9000)))
    except StopIteration as done:
        assert returned(flow, done) == b"abc"
    else:
        pytest.fail("the flow did not end")
