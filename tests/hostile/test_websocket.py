"""docs/reliability.md, catalogue section b1 (transport / WebSocket): W1-W12 against a real server process over loopback."""
from __future__ import annotations

import socket
import time

import pytest

from tests.hostile.conftest import MAX_CONNECTIONS, TIMEOUTS, settle
from tests.support.wsclient import OP_CONT, OP_PING, OP_PONG, OP_TEXT, RawWebSocket, frame

pytestmark = pytest.mark.hostile
SLACK = 2.5


def _reading_session(server) -> RawWebSocket:
    """A session past its StartMessage, waiting for an APDU answer."""
    ws = RawWebSocket(server.port, "/ws1/validate?return_result=true")
    ws.send_json({"client_id": "YOUR CLIENT ID", "validation_id": "w1", "access_key": {"can": "123456"},
                  "nfc_adapter_supports_extended_length": True, "platform": "android"})
    while True:
        msg = ws.next_message()
        assert msg is not None, ws.received
        if msg[0] == 0x2:
            return ws


def test_W1_message_above_the_limit_closes_1009(server):
    ws = _reading_session(server)
    ws.send_raw(frame(0x2, b"", declared_length=1 << 20))
    ws.send_raw(b"x" * 4096)
    received = ws.drain()
    assert received.close_code == 1009
    ws.close()
    assert settle(server)["sessions"] == 0


def test_W1_oversized_first_message_is_an_invalid_start_message(server):
    """Before the StartMessage the same frame is refused on its declared length as P2 says."""
    ws = RawWebSocket(server.port)
    ws.send_raw(frame(OP_TEXT, b"", declared_length=1 << 20) + b"x" * 4096)
    received = ws.drain()
    assert (received.close_code, received.close_reason) == (1008, "INVALID_START_MESSAGE")
    ws.close()


def test_W1_memory_stays_bounded_when_a_frame_claims_a_gigabyte(server):
    before = server.state()["rss_kb"]
    for reading in (False, True):
        ws = _reading_session(server) if reading else RawWebSocket(server.port)
        ws.send_raw(frame(0x2 if reading else OP_TEXT, b"", declared_length=1 << 30))
        try:
            ws.send_raw(b"y" * (1 << 20))
        except OSError:
            pass
        assert ws.drain().close_code in (1009, 1008)
        ws.close()
    assert server.state()["rss_kb"] - before < 20_000


def test_W2_endless_continuation_frames_are_capped(server):
    ws = RawWebSocket(server.port)
    started = time.monotonic()
    ws.send_raw(frame(OP_TEXT, b"{", fin=False))
    try:
        for _ in range(100):
            ws.send_raw(b"".join(frame(OP_CONT, b"a", fin=False) for _ in range(1000)))
    except OSError:
        pass                     # the server hung up mid-flood: that is the point
    received = ws.drain()
    assert received.close_code in (1009, 1008, 1001) or received.eof
    assert time.monotonic() - started < TIMEOUTS["start_message"] + 10
    ws.close()


def test_W3_invalid_utf8_closes_1007(server):
    ws = RawWebSocket(server.port)
    ws.send_text(b'{"client_id": "\xff\xfe"}')
    assert ws.drain().close_code == 1007
    ws.close()


def test_W4_control_frame_above_125_bytes_is_a_protocol_error(server):
    ws = RawWebSocket(server.port)
    ws.send_raw(frame(OP_PING, b"p" * 200))
    assert ws.drain().close_code == 1002
    ws.close()


def test_W4_ping_flood_and_unsolicited_pongs_do_not_hold_the_session(server):
    ws = RawWebSocket(server.port)
    started = time.monotonic()
    ws.send_raw(b"".join(frame(OP_PING, b"x") + frame(OP_PONG, b"y") for _ in range(2000)))
    received = ws.drain()
    # Still just a session without a StartMessage: it times out as P1 says.
    assert received.close_code == 1001
    assert received.close_reason == "TIMEOUT_WHILE_WAITING_FOR_START_MESSAGE"
    assert time.monotonic() - started < TIMEOUTS["start_message"] + SLACK
    ws.close()


def test_W5_unmasked_client_frames_are_a_protocol_error(server):
    ws = RawWebSocket(server.port)
    ws.send_text('{"client_id": "x"}', mask=False)
    assert ws.drain().close_code == 1002
    ws.close()


def test_W6_header_flood_is_cut_by_the_handshake_size_cap(server):
    """25 MB of headers without CRLFCRLF: the server stops reading at its 16 KiB cap."""
    ws = RawWebSocket(server.port, handshake=False)
    before = server.state()["rss_kb"]
    started = time.monotonic()
    ws.send_raw(b"GET /ws1/validate HTTP/1.1\r\n")
    sent, cut = 0, False
    try:
        while sent < 25 << 20 and time.monotonic() - started < TIMEOUTS["open_handshake"] + 2 * SLACK:
            ws.send_raw(b"X-Flood: " + b"a" * 8000 + b"\r\n")
            sent += 8011
    except OSError:
        cut = True
    assert cut or ws.wait_eof(SLACK) < float("inf")
    assert sent < 25 << 20                 # cut long before the flood ended (socket buffers aside)
    ws.close()
    assert server.state()["rss_kb"] - before < 20_000


def test_W7_slowloris_is_cut_by_the_handshake_timeout(server):
    ws = RawWebSocket(server.port, handshake=False)
    started = time.monotonic()
    request = b"GET /ws1/validate HTTP/1.1\r\nHost: x\r\n"
    closed = False
    for byte in request:
        try:
            ws.send_raw(bytes([byte]))
        except OSError:
            closed = True
            break
        time.sleep(0.2)
        if time.monotonic() - started > TIMEOUTS["open_handshake"] + SLACK:
            break
    if not closed:
        closed = ws.wait_eof(SLACK) < float("inf")
    assert closed
    assert time.monotonic() - started < TIMEOUTS["open_handshake"] + 2 * SLACK
    ws.close()


def test_W8_connections_above_the_limit_are_refused(server):
    settle(server)
    open_sockets = []
    refused = 0
    try:
        for _ in range(MAX_CONNECTIONS + 10):
            ws = RawWebSocket(server.port, timeout=5)
            open_sockets.append(ws)
            if not ws.accepted:
                refused += 1
                assert ws.response_head.startswith(b"HTTP/1.1 503")
    finally:
        for ws in open_sockets:
            ws.close()
    assert refused >= 10
    # and the server serves again once they are gone
    time.sleep(0.5)
    ws = RawWebSocket(server.port)
    assert ws.accepted
    ws.close()


def test_W9_client_that_never_reads_is_aborted(server):
    """The phone stops reading: the session still ends on its timers and the socket is dropped."""
    ws = RawWebSocket(server.port, "/ws1/validate?return_result=true")
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    ws.send_json({"client_id": "YOUR CLIENT ID", "validation_id": "w9", "access_key": {"can": "123456"},
                  "nfc_adapter_supports_extended_length": True, "platform": "android"})
    started = time.monotonic()
    deadline = TIMEOUTS["apdu_response"] + TIMEOUTS["close_handshake"] + 2 * SLACK
    time.sleep(TIMEOUTS["apdu_response"] + TIMEOUTS["close_handshake"] + 1.0)
    assert settle(server, deadline)["sessions"] == 0
    assert ws.wait_eof(deadline) < float("inf")
    assert time.monotonic() - started < 3 * deadline
    ws.close()


def test_W10_permessage_deflate_is_refused(server):
    ws = RawWebSocket(server.port, extra_headers="Sec-WebSocket-Extensions: permessage-deflate; "
                                                 "client_max_window_bits\r\n")
    assert ws.accepted
    assert b"deflate" not in ws.response_head.lower()
    # and a compressed (RSV1) frame is a protocol error
    ws.send_raw(frame(OP_TEXT, b"\xaa\xbb", rsv=4))
    assert ws.drain().close_code == 1002
    ws.close()


def test_W11_peer_that_never_answers_the_close_is_dropped(server):
    ws = RawWebSocket(server.port)
    ws.send_text("not json")                   # the server closes: INVALID_START_MESSAGE
    started = time.monotonic()
    while ws.next_message(answer_close=False) is not None:
        pass
    assert ws.received.close_code == 1008
    assert ws.wait_eof(TIMEOUTS["close_handshake"] + SLACK) < float("inf")
    assert time.monotonic() - started < TIMEOUTS["close_handshake"] + SLACK
    ws.close()


@pytest.mark.parametrize("request_line", [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /ws1/validate HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /status HTTP/1.0\r\n\r\n",
])
def test_W12_plain_http_gets_no_status_page_and_no_version(server, request_line):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(request_line)
    answer = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    except socket.timeout:
        pass
    sock.close()
    status = answer.split(b"\r\n", 1)[0]
    code = int(status.split()[1])
    assert 400 <= code < 600, status            # refused (404/426/400/505), never a page
    lowered = answer.lower()
    for banner in (b"autobahn", b"twisted", b"python", b"server:"):
        assert banner not in lowered, answer[:300]
