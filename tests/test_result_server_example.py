"""examples/result_server.py: correctly and incorrectly signed POSTs, built from the header
format alone (``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``), stale timestamps,
secret rotation, de-duplication by Idempotency-Key, mutual TLS, and nothing personal printed."""
from __future__ import annotations

import hashlib
import hmac
import http.client
import importlib.util
import json
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.deploy.tlsutil import make_tls_files

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "result_server.py"
SECRET = "s3cret-äöü current"
OLD_SECRET = "previous secret"
SESSION = "3f2a9c0d1e4b5a69"
PERSONAL = ("ÅSTRÖM", "L898902C3", "/9j/4AAQ")


def load_example():
    spec = importlib.util.spec_from_file_location("result_server_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = load_example()


def body_bytes(session_id: str = SESSION, **changes) -> bytes:
    obj = {
        "emrtd_passport": {
            "passive_authentication": True, "chip_authentication_result": "SUCCESS",
            "active_authentication_result": "UNAVAILABLE", "errors": [],
            "mrz_info": {"primary_identifier": PERSONAL[0], "document_number": PERSONAL[1]},
            "face_photo": PERSONAL[2],
        },
        "client_validation_id": "cf847daa-a548-4509-bdeb-4edd51aee448",
        "session_id": session_id,
    }
    obj.update(changes)
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def header(t: int, body: bytes, *secrets: str) -> str:
    return f"t={t}" + "".join(f",v1={signature(s, t, body)}" for s in secrets)


class Served:
    def __init__(self, tmp_path: Path, lines: str = f"{SECRET}\n{OLD_SECRET}\r\n", tls=None, **kwargs):
        self.secrets = tmp_path / "secrets.txt"
        self.secrets.write_bytes(lines.encode("utf-8"))
        self.handled: list[tuple[str, dict]] = []
        self.reports: list[str] = []
        self.fail_next = False
        self.server = example.ResultServer(("127.0.0.1", 0), self.secrets, handle=self._handle,
                                           report=self.reports.append, **kwargs)
        self.server.tls = tls
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def _handle(self, key: str, result: dict) -> None:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("database down")
        self.handled.append((key, result))

    def post(self, body: bytes, headers: dict[str, str], path: str = "/docval",
             connection=None) -> tuple[int, dict]:
        conn = connection or http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
            response = conn.getresponse()
            return response.status, json.loads(response.read())
        finally:
            conn.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def served(tmp_path):
    s = Served(tmp_path)
    yield s
    s.close()


def signed_headers(body: bytes, *secrets: str, t: int | None = None, key: str = SESSION) -> dict[str, str]:
    t = int(time.time()) if t is None else t
    return {"DocVal-Signature": header(t, body, *(secrets or (SECRET,))), "Idempotency-Key": key}


def test_correct_signature_is_accepted_once_and_duplicates_are_acknowledged(served):
    body = body_bytes()
    assert served.post(body, signed_headers(body)) == (200, {"ok": True})
    # A retry of the same delivery: new timestamp, same body, same key.
    assert served.post(body, signed_headers(body, t=int(time.time()) + 1)) == \
        (200, {"ok": True, "duplicate": True})
    assert [key for key, _ in served.handled] == [SESSION]
    assert served.handled[0][1] == json.loads(body)


def test_rotation_any_listed_secret_and_several_v1(served):
    body = body_bytes("a1")
    assert served.post(body, signed_headers(body, OLD_SECRET, key="a1"))[0] == 200
    body = body_bytes("a2")
    assert served.post(body, signed_headers(body, "not configured", SECRET, key="a2"))[0] == 200
    assert [key for key, _ in served.handled] == ["a1", "a2"]


@pytest.mark.parametrize("case", [
    "missing", "wrong-secret", "stale", "future", "tampered-body", "spaces", "uppercase-hex",
    "no-v1", "two-t", "bad-t", "signed-other-timestamp",
])
def test_incorrect_signatures_are_401_and_nothing_is_handled(served, case):
    body = body_bytes()
    now = int(time.time())
    headers = signed_headers(body)
    if case == "missing":
        del headers["DocVal-Signature"]
    elif case == "wrong-secret":
        headers = signed_headers(body, "wrong")
    elif case == "stale":
        headers = signed_headers(body, t=now - example.DEFAULT_TOLERANCE - 5)
    elif case == "future":
        headers = signed_headers(body, t=now + example.DEFAULT_TOLERANCE + 5)
    elif case == "tampered-body":
        body = body_bytes(emrtd_passport={"passive_authentication": True, "errors": []})
    elif case == "spaces":
        headers["DocVal-Signature"] = headers["DocVal-Signature"].replace(",", ", ")
    elif case == "uppercase-hex":
        headers["DocVal-Signature"] = f"t={now},v1={signature(SECRET, now, body).upper()}"
    elif case == "no-v1":
        headers["DocVal-Signature"] = f"t={now}"
    elif case == "two-t":
        headers["DocVal-Signature"] = f"t={now},t={now}," + f"v1={signature(SECRET, now, body)}"
    elif case == "bad-t":
        headers["DocVal-Signature"] = f"t=-{now},v1={signature(SECRET, now, body)}"
    elif case == "signed-other-timestamp":
        headers["DocVal-Signature"] = f"t={now},v1={signature(SECRET, now - 1, body)}"
    status, answer = served.post(body, headers)
    assert status == 401, answer
    assert served.handled == []
    # A rejected request does not mark the session as delivered.
    good = body_bytes()
    assert served.post(good, signed_headers(good)) == (200, {"ok": True})


def test_bad_requests_after_a_valid_signature(served):
    body = body_bytes()
    headers = signed_headers(body)
    del headers["Idempotency-Key"]
    assert served.post(body, headers)[0] == 400
    assert served.post(body, signed_headers(body, key="another-session"))[0] == 400   # != session_id
    not_json = b"{not json"
    assert served.post(not_json, signed_headers(not_json))[0] == 400
    assert served.post(body, signed_headers(body), path="/elsewhere")[0] == 404
    assert served.handled == []


def test_a_failed_handler_is_500_and_the_retry_is_handled(served):
    body = body_bytes()
    served.fail_next = True
    assert served.post(body, signed_headers(body))[0] == 500
    assert served.post(body, signed_headers(body)) == (200, {"ok": True})
    assert len(served.handled) == 1


def test_a_delivery_still_being_handled_is_429_so_docval_retries(served):
    body = body_bytes()
    assert served.server.seen.claim(SESSION, time.time()) == "new"
    assert served.post(body, signed_headers(body))[0] == 429
    served.server.seen.release(SESSION)
    assert served.post(body, signed_headers(body))[0] == 200


def test_nothing_personal_is_printed(tmp_path):
    secrets = tmp_path / "secrets.txt"
    secrets.write_text(SECRET + "\n", encoding="utf-8")
    body = body_bytes()
    lines: list[str] = []
    server = example.ResultServer(("127.0.0.1", 0), secrets, report=lines.append)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
            conn.request("POST", "/docval", body=body,
                         headers={"Content-Type": "application/json", **signed_headers(body)})
            assert conn.getresponse().status == 200
            conn.close()
    finally:
        server.shutdown()
        server.server_close()
    printed = out.getvalue() + "\n".join(lines)
    assert f"session={SESSION}" in printed and "passive_authentication=True" in printed
    for value in PERSONAL + ("cf847daa",):
        assert value not in printed


def test_mutual_tls(tmp_path):
    server_tls = make_tls_files((tmp_path / "server").mkdir() or tmp_path / "server")
    client_tls = make_tls_files((tmp_path / "client").mkdir() or tmp_path / "client")
    fullchain = tmp_path / "server-fullchain.pem"
    fullchain.write_bytes(server_tls.cert.read_bytes() + server_tls.chain.read_bytes())
    client_chain = tmp_path / "client-fullchain.pem"
    client_chain.write_bytes(client_tls.cert.read_bytes() + client_tls.chain.read_bytes())
    context = example.tls_context(str(fullchain), str(server_tls.key), str(client_tls.root))
    served = Served(tmp_path, tls=context)
    try:
        def connection(with_certificate: bool):
            ctx = ssl.create_default_context(cafile=str(server_tls.root))
            if with_certificate:
                ctx.load_cert_chain(str(client_chain), str(client_tls.key))
            return http.client.HTTPSConnection("localhost", served.port, timeout=10, context=ctx)

        body = body_bytes()
        assert served.post(body, signed_headers(body), connection=connection(True)) == (200, {"ok": True})
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
            served.post(body, signed_headers(body), connection=connection(False))
        assert len(served.handled) == 1
        assert all("Traceback" not in line for line in served.reports)
    finally:
        served.close()


def test_runs_as_a_script(tmp_path):
    secrets = tmp_path / "secrets.txt"
    secrets.write_text(SECRET + "\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(EXAMPLE), "--secrets-file", str(secrets),
                             "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stderr.readline()
        assert line.startswith("listening on http://127.0.0.1:") and line.rstrip().endswith("/docval"), line
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        body = body_bytes()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/docval", body=body,
                     headers={"Content-Type": "application/json", **signed_headers(body)})
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    out = subprocess.run([sys.executable, str(EXAMPLE), "--secrets-file", str(empty)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "no secret" in out.stderr


def test_uses_the_standard_library_only():
    import ast

    tree = ast.parse(EXAMPLE.read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}
    assert modules <= set(sys.stdlib_module_names) | {"__future__"}, modules
