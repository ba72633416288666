"""docs/reliability.md P11 and P12: one outcome on both sides, and results of any real size.

P11: from the moment the result is being posted, the phone cannot change how the session
ends -- not with text or binary messages, not by breaking the WebSocket protocol, and the
maximum session time does not run out under the post.  P12: a result far larger than the
incoming message limit reaches phone and Result Server, the limit on what phones send
stays strict, and the file caps bound what is read.

The socket tests run against their own server process with a Result Server that holds
each POST until the session's maximum time has passed.
"""
from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from docval.emrtd.files import FileCaps
from docval.emrtd.lds.dg2 import parse_dg2
from docval.emrtd.lds.dg7 import parse_dg7
from docval.sim import largest
from docval.sim.edit import app_files, put_dg
from docval.sim.phone import access_key_json
from docval.sim.profiles import get_profile
from docval.ws.factory import MAX_MESSAGE_BYTES
from tests.hostile.chipharness import assert_closed, run_chip
from tests.hostile.conftest import settle
from tests.support.processes import ServerProcess
from tests.support.wsclient import OP_BINARY, RawWebSocket, frame

pytestmark = pytest.mark.hostile

PROFILE = get_profile("pace-ecdh-gm-aes128")
TIMEOUTS = {"start_message": 2.0, "apdu_response": 2.0, "max_session": 3.0,
            "open_handshake": 1.0, "close_handshake": 1.0}
POSTING = "posting-client"
RR = "/ws1/validate?return_result=true"


class ResultServer:
    """A Result Server on a thread: ``on_post(body)`` decides the status (and may block)."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.on_post = lambda body: 200
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.bodies.append(body)
                status = owner.on_post(body)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass        # DocVal gave up on this attempt (its timeout) and retried

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/results"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def results():
    rs = ResultServer()
    yield rs
    rs.stop()


@pytest.fixture(scope="module")
def posting_server(results):
    proc = ServerProcess(timeouts=TIMEOUTS, result_url=results.url)
    yield proc
    state = settle(proc, timeout=TIMEOUTS["close_handshake"] + 5)
    log = proc.log()
    proc.stop()
    assert (state["sessions"], state["posts"], state["session_calls"]) == (0, 0, 0), state
    assert "Traceback" not in log and "PayloadExceeded" not in log, log[-4000:]


def start(client_id=POSTING, **overrides):
    msg = {"client_id": client_id, "validation_id": "hostile-p11", "access_key": access_key_json(PROFILE.access_key),
           "nfc_adapter_supports_extended_length": True, "platform": "android"}
    msg.update(overrides)
    return msg


def hold_past_max_session(opened: float, status: int, during=None):
    """An ``on_post`` that keeps the first POST until the session's maximum time is over
    (later attempts, if DocVal's attempt timeout came first, answer at once)."""
    def on_post(body):
        if during is not None and not during.done:
            during.done = True
            during()
        time.sleep(max(0.0, opened + TIMEOUTS["max_session"] + 0.5 - time.monotonic()))
        return status
    return on_post


def texts(received):
    return [t for t in received.texts if "raw" not in t]


# --- P11 ---------------------------------------------------------------------------------------

STRAY_TEXT = b'{"status":"P11-STRAY-CONTENT"}'


def _stray(ws):
    def send():
        ws.send_text(STRAY_TEXT)
        ws.send_binary(b"\x90\x00")
        ws.send_text(b'{"close_code":1000}')
    send.done = False
    return send


def test_P11_messages_and_the_session_timer_during_the_post_leave_the_outcome_to_the_post(
        posting_server, results):
    opened = time.monotonic()
    ws = RawWebSocket(posting_server.port, RR)
    stray = _stray(ws)
    results.bodies.clear()
    results.on_post = hold_past_max_session(opened, 200, during=stray)
    ws.send_json(start(validation_id="p11-ok"))
    received = ws.run_chip(PROFILE.chip())
    elapsed = time.monotonic() - opened
    ws.close()
    assert stray.done
    assert elapsed > TIMEOUTS["max_session"]            # the timer would have fired
    statuses = [t["status"] for t in texts(received) if "status" in t]
    assert statuses[-1] == "DONE"
    (result,) = [t["emrtd_passport"] for t in texts(received) if "emrtd_passport" in t]
    assert (received.close_code, received.close_reason) == (1000, None)
    assert received.close_message == {"close_code": 1000}
    assert results.bodies and all(b["emrtd_passport"] == result for b in results.bodies)
    settle(posting_server)
    log = posting_server.log()
    lines = [line for line in log.splitlines() if "ignored a " in line]
    assert any(f"ignored a text message of {len(STRAY_TEXT)} bytes" in line for line in lines), lines
    assert any("ignored a binary message of 2 bytes" in line for line in lines), lines
    assert "P11-STRAY-CONTENT" not in log
    (ended,) = [line for line in log.splitlines() if " ended: " in line and "validation_id=p11-ok" in line]
    assert "outcome=success" in ended and "ignored_messages=3" in ended


def test_P11_a_failed_post_is_post_failed_and_nothing_else(posting_server, results):
    opened = time.monotonic()
    ws = RawWebSocket(posting_server.port, RR)
    stray = _stray(ws)
    results.bodies.clear()
    results.on_post = hold_past_max_session(opened, 400, during=stray)   # 400: not retried
    ws.send_json(start(validation_id="p11-refused"))
    received = ws.run_chip(PROFILE.chip())
    ws.close()
    assert stray.done and results.bodies
    assert not any(t.get("status") == "DONE" or "emrtd_passport" in t for t in texts(received))
    assert [t for t in texts(received) if "close_code" in t] == [
        {"close_code": 1011, "close_reason": "POST_TO_RESULT_SERVER_FAILED"}]
    assert (received.close_code, received.close_reason) == (1011, "POST_TO_RESULT_SERVER_FAILED")


def test_P11_a_phone_breaking_the_protocol_during_the_post_still_gets_the_posts_outcome(
        posting_server, results):
    """An oversized frame would be 1009 at once; during the post it only stops the server
    from reading the phone, and the phone still learns the post's outcome."""
    opened = time.monotonic()
    ws = RawWebSocket(posting_server.port, RR)

    def oversized():
        ws.send_raw(frame(OP_BINARY, b"", declared_length=1 << 20) + b"z" * 4096)
    oversized.done = False
    results.bodies.clear()
    results.on_post = hold_past_max_session(opened, 200, during=oversized)
    ws.send_json(start(validation_id="p11-broken"))
    received = ws.run_chip(PROFILE.chip())
    ws.close()
    assert oversized.done
    assert [t["status"] for t in texts(received) if "status" in t][-1] == "DONE"
    assert (received.close_code, received.close_reason) == (1000, None)
    settle(posting_server)
    assert "broke the WebSocket protocol (would close 1009)" in posting_server.log()


# --- P12 ---------------------------------------------------------------------------------------

def test_P12_a_result_far_above_the_message_limit_reaches_phone_and_result_server(posting_server, results):
    chip = PROFILE.chip()
    grown = largest.fill_to_caps(chip)
    results.bodies.clear()
    results.on_post = lambda body: 200
    ws = RawWebSocket(posting_server.port, RR)
    ws.send_json(start(validation_id="p12-largest"))
    received = ws.run_chip(chip)
    ws.close()
    assert (received.close_code, received.close_reason) == (1000, None)
    (message,) = [data for op, data in received.messages if b'"emrtd_passport"' in data[:20]]
    assert len(message) > 4 * MAX_MESSAGE_BYTES
    result = json.loads(message)["emrtd_passport"]
    (body,) = results.bodies
    assert body["emrtd_passport"] == result
    assert result["errors"] == [] and result["passive_authentication"] is True
    assert base64.b64decode(result["face_photo"]) == parse_dg2(grown[2])[0].data
    assert [base64.b64decode(p) for p in result["signature_photos"]] == parse_dg7(grown[7])


def test_P12_the_incoming_limit_stays_strict(posting_server):
    ws = RawWebSocket(posting_server.port, RR)
    ws.send_json(start(client_id="YOUR CLIENT ID", validation_id="p12-incoming"))
    while True:
        msg = ws.next_message()
        assert msg is not None, ws.received
        if msg[0] == OP_BINARY:
            break
    ws.send_binary(b"\x00" * (MAX_MESSAGE_BYTES + 1))
    received = ws.drain()
    ws.close()
    assert received.close_code == 1009
    assert not any("emrtd_passport" in t for t in texts(received))


def test_P12_a_mandatory_file_above_the_configured_cap_ends_the_session(demo_trust):
    chip = PROFILE.chip()
    largest.fill_to_caps(chip, 20_000)
    out = run_chip(chip, PROFILE.access_key, demo_trust, file_caps=FileCaps(max_file_bytes=16_384))
    assert_closed(out, "FILE_READ_ERROR")          # DG2 is mandatory, never half-read
    assert "16384" in str(out.exc)
    # The same document under caps it fits is read completely.
    chip = PROFILE.chip()
    largest.fill_to_caps(chip, 20_000)
    out = run_chip(chip, PROFILE.access_key, demo_trust, file_caps=FileCaps(max_file_bytes=20_000))
    assert out.report is not None and out.result["errors"] == []


def test_P12_optional_files_above_the_cap_are_named_in_errors(demo_trust):
    chip = PROFILE.chip()
    largest.fill_to_caps(chip, 30_000)
    put_dg(chip, 2, app_files(PROFILE.chip())[2])     # a face of ordinary size (18 KB), re-signed
    out = run_chip(chip, PROFILE.access_key, demo_trust, file_caps=FileCaps(max_file_bytes=20_000))
    assert out.report is not None, repr(out.exc)
    result = out.result
    for n in (7, 11, 12):
        assert any(f"EF.DG{n} could not be read" in e and "20000" in e for e in result["errors"]), result["errors"]
    assert result["signature_photos"] is None and result["additional_personal_details"] is None
    assert result["face_photo"] is not None


def test_P12_commands_per_file_are_capped(demo_trust):
    """Without extended length 65535 bytes take about 300 READ BINARY commands of 223
    bytes; a cap of 100 ends the mandatory DG2 there, one command past it at most."""
    chip = PROFILE.chip()
    largest.fill_to_caps(chip)
    out = run_chip(chip, PROFILE.access_key, demo_trust, extended_length=False,
                   file_caps=FileCaps(max_commands_per_file=100))
    assert_closed(out, "FILE_READ_ERROR")
    assert "more than 100 commands" in str(out.exc)
    unlimited = run_chip(PROFILE.chip(), PROFILE.access_key, demo_trust, extended_length=False)
    assert unlimited.report is not None
    # Every file before DG2 is small; DG2 stopped at its cap.
    assert out.transport.apdus < unlimited.transport.apdus + 101
