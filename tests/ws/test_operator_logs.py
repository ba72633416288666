"""What the log shows an operator: client addresses only as [server] log_addresses allows
(Autobahn's own handshake-failure lines included), client TLS failures below error level,
and a refused StartMessage named by field (never value) with its validation_id."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
from OpenSSL import SSL
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel, globalLogPublisher
from twisted.python.failure import Failure

from docval.addresses import show_address, show_peer
from docval.config import ServerConfig
from tests.ws.harness import Harness, make_config, start_message
from tests.ws.test_protocol import assert_closed

PHONE = "203.0.113.7"


@pytest.fixture
def events():
    seen: list[dict] = []
    globalLogPublisher.addObserver(seen.append)
    yield seen
    globalLogPublisher.removeObserver(seen.append)


def text_of(events: list[dict]) -> str:
    from twisted.logger import formatEvent

    return "\n".join(formatEvent(e) for e in events)


class _Transport(StringTransport):
    def unregisterProducer(self) -> None:
        self.producer = None

    def abortConnection(self) -> None:
        self.loseConnection()


def session(policy: str = "truncated"):
    config = make_config()
    h = Harness(replace(config, server=replace(config.server, log_addresses=policy)))
    proto = h.factory.buildProtocol(IPv4Address("TCP", PHONE, 50312))
    proto.makeConnection(_Transport(peerAddress=IPv4Address("TCP", PHONE, 50312)))
    return h, proto


@pytest.mark.parametrize("policy, shown", [
    ("truncated", "203.0.113.x"), ("none", "tcp4:-"), ("hashed", "tcp4:h-"), ("full", "203.0.113.7:50312"),
])
def test_autobahn_handshake_failure_lines_follow_the_address_policy(events, policy, shown):
    h, proto = session(policy)
    proto.dropConnection(abort=True)   # what the opening-handshake timeout does
    text = text_of(events)
    assert "dropping connection to peer" in text and shown in text
    if policy != "full":
        assert PHONE not in text


def test_address_policies():
    assert show_address("198.51.100.23", "truncated") == "198.51.100.x"
    assert show_address("2001:db8:abcd:12::1", "truncated") == "2001:db8:abcd::/48"
    assert show_address("::ffff:198.51.100.23", "truncated") == "198.51.100.x"
    hashed = show_address("198.51.100.23", "hashed")
    assert hashed.startswith("h-") and hashed == show_address("198.51.100.23", "hashed")
    assert hashed != show_address("198.51.100.24", "hashed") and "198" not in hashed
    assert show_peer("tcp4:198.51.100.23:4711", "truncated") == "tcp4:198.51.100.x"
    assert show_peer("tcp4:198.51.100.23:4711", "none") == "tcp4:-"


def test_log_addresses_is_checked():
    from docval.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match=r"\[server\] log_addresses: must be one of truncated, hashed"):
        parse_config({"server": {"log_addresses": "partial"}, "trust": {"demo_csca": True},
                      "client": [{"client_id": "x"}]})
    assert ServerConfig().log_addresses == "truncated"


def test_a_client_tls_failure_is_not_an_error(events):
    h, proto = session()
    error = SSL.Error([("SSL routines", "", "wrong version number")])
    proto.connectionLost(Failure(error))
    assert not [e for e in events if e.get("log_level") in (LogLevel.error, LogLevel.critical)], \
        text_of(events)
    text = text_of(events)
    assert "TLS handshake with tcp4:203.0.113.x failed: wrong version number" in text
    assert "SSL error" not in text and PHONE not in text
    assert h.factory.connections_per_address == {}


def _ended(events: list[dict]) -> str:
    lines = [line for line in text_of(events).splitlines() if " ended: " in line]
    assert len(lines) == 1, text_of(events)
    return lines[0]


def test_a_refused_start_message_names_the_field_and_keeps_the_validation_id(events):
    h = Harness()
    c = h.raw(start_message(colour="SECRET-VALUE-42"))
    h.run(c)
    assert_closed(c, 1008, "INVALID_START_MESSAGE")
    line = _ended(events)
    assert "unknown field 'colour'" in line
    assert "validation_id=cf847daa-a548-4509-bdeb-4edd51aee448" in line
    assert "SECRET-VALUE-42" not in text_of(events)


@pytest.mark.parametrize("overrides, named, secret", [
    ({"platform": 424242}, "platform has the wrong type", "424242"),
    ({"access_key": {"can": "123456", "pin": "777999"}}, "unknown field 'access_key.pin'", "777999"),
    ({"access_key": {"can": "12x456"}}, "CAN must be exactly 6 digits", "12x456"),
    ({"\u202egotcha\x1b[31m": 1}, "unknown field (a name that is not printed)", "gotcha"),
])
def test_refusals_name_fields_never_values(events, overrides, named, secret):
    h = Harness()
    c = h.raw(start_message(**overrides))
    h.run(c)
    line = _ended(events)
    assert named in line and "validation_id=cf847daa" in line
    assert secret not in text_of(events)


def test_without_a_validation_id_the_line_says_so(events):
    h = Harness()
    message = {k: v for k, v in start_message().items() if k != "validation_id"}
    c = h.raw((json.dumps(message).encode(), False))
    h.run(c)
    line = _ended(events)
    assert "validation_id is missing" in line and "validation_id=-" in line
