"""ApduRelay: the reader's transport over the WebSocket."""
from __future__ import annotations

import pytest
from twisted.internet import defer, task

from docval.errors import ConnectionLost, ServerError, UnexpectedMessage
from docval.ws.relay import ApduRelay


def make(max_pipelined=4, timeout=15.0):
    clock = task.Clock()
    sent, timeouts, trips = [], [], []
    relay = ApduRelay(sent.append, clock, timeout, max_pipelined,
                      on_timeout=lambda: timeouts.append(clock.seconds()), on_round_trip=trips.append)
    return relay, clock, sent, timeouts, trips


def outcome(d):
    out = []
    d.addBoth(out.append)
    return out


def test_pipelined_responses_fire_in_order_once_all_arrived():
    relay, clock, sent, timeouts, trips = make()
    out = outcome(relay.transmit_many([b"\x01", b"\x02", b"\x03"]))
    assert sent == [b"\x01", b"\x02", b"\x03"] and relay.waiting
    clock.advance(0.1)
    relay.deliver(b"a")
    relay.deliver(b"b")
    assert out == []
    clock.advance(0.1)
    relay.deliver(b"c")
    assert out == [[b"a", b"b", b"c"]] and not relay.waiting
    assert trips == pytest.approx([0.1, 0.1, 0.2])
    assert (relay.commands, relay.bytes_out, relay.bytes_in) == (3, 3, 3)
    assert clock.getDelayedCalls() == []


def test_single_transmit():
    relay, clock, sent, *_ = make()
    out = outcome(relay.transmit(b"\x00\xa4"))
    relay.deliver(b"\x90\x00")
    assert out == [b"\x90\x00"]


def test_each_response_restarts_the_timeout():
    relay, clock, sent, timeouts, trips = make(timeout=15)
    relay.transmit_many([b"\x01", b"\x02"])
    clock.advance(14)
    relay.deliver(b"a")
    clock.advance(14)
    assert timeouts == []
    clock.advance(1)
    assert timeouts == [29]


def test_unexpected_and_misused():
    relay, clock, sent, *_ = make(max_pipelined=2)
    with pytest.raises(UnexpectedMessage):
        relay.deliver(b"\x90\x00")
    assert outcome(relay.transmit_many([]))[0].check(ServerError)
    assert outcome(relay.transmit_many([b"1", b"2", b"3"]))[0].check(ServerError)
    relay.transmit_many([b"1"])
    assert outcome(relay.transmit_many([b"2"]))[0].check(ServerError)


def test_close_fails_the_outstanding_transmit_and_refuses_more():
    relay, clock, sent, *_ = make()
    out = outcome(relay.transmit_many([b"1"]))
    relay.close()
    assert out[0].check(ConnectionLost)
    assert outcome(relay.transmit_many([b"2"]))[0].check(ConnectionLost)
    with pytest.raises(UnexpectedMessage):
        relay.deliver(b"late")
    assert clock.getDelayedCalls() == []


def test_cancel_stops_the_timer():
    relay, clock, sent, timeouts, _ = make()
    d = relay.transmit_many([b"1"])
    out = outcome(d)
    d.cancel()
    assert out[0].check(defer.CancelledError)
    assert clock.getDelayedCalls() == []
    with pytest.raises(UnexpectedMessage):
        relay.deliver(b"late")
