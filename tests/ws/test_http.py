"""The handshake as raw bytes: paths, banners, the status page, limits and handshake timeouts
(docs/reliability.md W4-W12)."""
from __future__ import annotations

import os
import struct

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from tests.support.wsframes import close_codes, frame, handshake_request

from .harness import Harness, start_message

PEER = IPv4Address("TCP", "127.0.0.1", 40000)


class Transport(StringTransport):
    def unregisterProducer(self):
        # Autobahn unregisters on every drop, registered or not.
        self.producer = None

    def abortConnection(self):
        self.loseConnection()


def lose(proto) -> None:
    """What the reactor does once the transport has closed."""
    proto.connectionLost(Failure(ConnectionDone()))


def handshake(path: str = "/ws1/validate", extra: str = "") -> bytes:
    return handshake_request(path, "127.0.0.1:8080", extra)


def open_raw(h: Harness):
    proto = h.factory.buildProtocol(PEER)
    transport = Transport(peerAddress=PEER)
    proto.makeConnection(transport)
    return proto, transport


def test_other_path_is_404_without_banner():
    h = Harness()
    proto, t = open_raw(h)
    proto.dataReceived(handshake("/ws1/validate/../admin"))
    out = t.value()
    assert out.startswith(b"HTTP/1.1 404")
    assert b"server:" not in out.lower() and b"autobahn" not in out.lower()
    assert t.disconnecting
    lose(proto)
    h.assert_clean()


def test_handshake_has_no_server_banner():
    h = Harness()
    proto, t = open_raw(h)
    proto.dataReceived(handshake())
    out = t.value()
    assert out.startswith(b"HTTP/1.1 101")
    assert b"server:" not in out.lower()
    assert b"sec-websocket-extensions" not in out.lower()


def test_compression_offer_is_refused():
    h = Harness()
    proto, t = open_raw(h)
    proto.dataReceived(handshake(extra="Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"))
    out = t.value()
    assert out.startswith(b"HTTP/1.1 101")
    assert b"permessage-deflate" not in out.lower()


def test_plain_get_gets_no_status_page():
    h = Harness()
    proto, t = open_raw(h)
    proto.dataReceived(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    out = t.value()
    assert out.startswith(b"HTTP/1.1 426") or out.startswith(b"HTTP/1.1 404")
    assert b"autobahn" not in out.lower() and b"<html" not in out.lower()


def test_connections_beyond_the_limit_are_refused():
    from dataclasses import replace

    base = Harness()
    h = Harness(config=replace(base.config, server=replace(base.config.server, max_connections=2)))
    answers = []
    for _ in range(3):
        proto, t = open_raw(h)
        proto.dataReceived(handshake())
        answers.append(t.value().split(b"\r\n", 1)[0])
    assert answers[:2] == [b"HTTP/1.1 101 Switching Protocols"] * 2
    assert answers[2].startswith(b"HTTP/1.1 503")


def test_open_handshake_timeout_drops_slowloris():
    h = Harness(open_handshake=5)
    proto, t = open_raw(h)
    proto.dataReceived(b"GET /ws1/validate HTTP/1.1\r\n")
    h.clock.advance(4.9)
    assert not t.disconnecting
    h.clock.advance(0.3)
    assert t.disconnecting
    lose(proto)
    h.assert_clean()


def test_header_flood_is_cut_off():
    h = Harness()
    proto, t = open_raw(h)
    proto.dataReceived(b"GET /ws1/validate HTTP/1.1\r\n")
    for _ in range(10):
        proto.dataReceived(b"X-Flood: " + b"a" * 4000 + b"\r\n")
        if t.disconnecting:
            break
    assert t.disconnecting and t.value() == b""
    lose(proto)
    h.assert_clean()


def test_large_but_legal_headers_pass():
    h = Harness()
    proto, t = open_raw(h)
    proto.dataReceived(handshake(extra="X-Padding: " + "a" * 8000 + "\r\n"))
    assert t.value().startswith(b"HTTP/1.1 101")


def test_unmasked_client_frames_are_a_protocol_error():
    h = Harness()
    proto, t = open_raw(h)
    proto.dataReceived(handshake())
    t.clear()
    proto.dataReceived(frame(1, b'{"a":1}', mask=False))
    assert close_codes(t.value()) == [1002]


def test_oversized_control_frame_is_a_protocol_error():
    h = Harness()
    proto, t = open_raw(h)
    proto.dataReceived(handshake())
    t.clear()
    proto.dataReceived(frame(9, b"p" * 126))     # a ping longer than 125 bytes
    assert close_codes(t.value()) == [1002]


def test_pings_are_answered_and_do_not_touch_the_session():
    h = Harness()
    proto, t = open_raw(h)
    proto.dataReceived(handshake())
    t.clear()
    for _ in range(100):
        proto.dataReceived(frame(9, b"x"))
    proto.dataReceived(frame(10, b"unsolicited"))
    out = t.value()
    assert out.count(b"\x8a\x01x") == 100          # 100 pongs
    assert close_codes(out) == []
    h.clock.advance(10.1)                             # the start-message timeout still applies
    assert close_codes(t.value()) == [1001]


def test_invalid_utf8_text_is_1007():
    h = Harness()
    proto, t = open_raw(h)
    proto.dataReceived(handshake())
    t.clear()
    proto.dataReceived(frame(1, b"\xff\xfe"))
    assert close_codes(t.value()) == [1007]


def test_oversized_frame_before_the_start_message_is_refused_before_its_payload():
    h = Harness()
    proto, t = open_raw(h)
    proto.dataReceived(handshake())
    t.clear()
    # Only the header of a 1 MB frame: refused on its declared length.
    header = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 1 << 20) + os.urandom(4)
    proto.dataReceived(header)
    assert close_codes(t.value()) == [1008]
    assert b"INVALID_START_MESSAGE" in t.value()
    # The payload that follows is not buffered.
    proto.dataReceived(os.urandom(1 << 16))
    assert len(proto.data) < 1 << 16


def test_close_handshake_timeout_drops_a_silent_peer():
    h = Harness(close_handshake=1, start_message=2)
    proto, t = open_raw(h)
    proto.dataReceived(handshake())
    h.clock.advance(2.0)       # start-message timeout: we send the close frame
    assert close_codes(t.value()) == [1001]
    assert not t.disconnecting
    h.clock.advance(1.1)       # the peer never answers the close
    assert t.disconnecting
    lose(proto)
    h.assert_clean()


def test_oversized_start_message_over_fragments_is_capped():
    h = Harness()
    proto, t = open_raw(h)
    proto.dataReceived(handshake())
    t.clear()
    # W2: a text message in many continuation frames, growing past the limit.
    proto.dataReceived(frame(1, b"{" + b" " * 1000, fin=False))
    for _ in range(80):
        if t.value():
            break
        proto.dataReceived(frame(0, b" " * 1000, fin=False))
    assert close_codes(t.value()) == [1008]


def test_start_message_in_fragments_is_accepted():
    import json

    h = Harness()
    proto, t = open_raw(h)
    proto.dataReceived(handshake("/ws1/validate?return_result=true"))
    t.clear()
    payload = json.dumps(start_message()).encode()
    proto.dataReceived(frame(1, payload[:10], fin=False))
    proto.dataReceived(frame(0, payload[10:], fin=True))
    assert b"ACCESS_CONTROL" in t.value()
