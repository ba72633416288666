"""DocVal delivers to the shipped example Result Server (examples/result_server.py), run as
an integrator would run it: its own process, HTTPS with a required client certificate, the
signing secrets in a file.  The example accepts only what verifies (DocVal-Signature over
the raw body, Idempotency-Key == session_id), so a session that ends in DONE/1000 proves
both sides agree on the formats the docs describe; a DocVal with the wrong secret is
refused (401) and the phone is told POST_TO_RESULT_SERVER_FAILED, never DONE."""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet import threads

from docval import tap
from docval.sim import profiles
from docval.sim.phone import PhoneOptions, access_key_json
from tests import certs
from tests.schema import check_emrtd_passport

from .stack import run_traced_phone
from .test_delivery import make_pki

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "result_server.py"
CLIENT_ID = "e2e-example-result-server-7d1f"
SECRET = b"the example's signing secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ExampleServer:
    def __init__(self, tmp: Path, pki: dict[str, certs.Issued]):
        secrets = certs.write_private(tmp / "example-secrets", SECRET + b"\n", 0o600)
        server_pem = tmp / "server.pem"
        server_pem.write_bytes(pki["server"].cert_pem)
        server_key = certs.write_private(tmp / "server.key", pki["server"].key_pem())
        client_ca = tmp / "client-ca.pem"
        client_ca.write_bytes(pki["client_ca"].cert_pem)
        self.port = free_port()
        self.out = tmp / "example.out"
        self.proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE), "--secrets-file", str(secrets),
             "--listen", f"127.0.0.1:{self.port}", "--tls-cert", str(server_pem),
             "--tls-key", str(server_key), "--client-ca", str(client_ca)],
            stdout=self.out.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while "listening on" not in self.output():
            assert self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, "the example Result Server did not start"
            time.sleep(0.05)
        self.url = f"https://127.0.0.1:{self.port}/docval"

    def output(self) -> str:
        return self.out.read_text(errors="replace") if self.out.exists() else ""

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def start_docval(tmp: Path, pki: dict[str, certs.Issued], url: str, secret: bytes) -> tuple[Any, str]:
    ca = tmp / "result-ca.pem"
    ca.write_bytes(pki["server_ca"].cert_pem)
    cert = tmp / "client.pem"
    cert.write_bytes(pki["client"].cert_pem)
    key = certs.write_private(tmp / "client.key", pki["client"].key_pem())
    secrets = certs.write_private(tmp / "docval-secrets", secret + b"\n", 0o640)
    config = tmp / "docval.toml"
    config.write_text("\n".join([
        "[server]", 'listen = "tcp:0:interface=127.0.0.1"', "",
        "[trust]", "demo_csca = true", "reload_interval = 0", "",
        "[[client]]", f'client_id = "{CLIENT_ID}"', 'name = "example"', f'result_url = "{url}"',
        f'result_signing_secret_file = "{secrets}"', f'result_ca_file = "{ca}"',
        f'result_client_certificate_file = "{cert}"', f'result_client_key_file = "{key}"',
    ]) + "\n")
    options = tap.Options()
    options.parseOptions(["--config", str(config)])
    service = tap.makeService(options)
    service.startService()
    port = service.listeners[0].port.getHost().port
    return service, f"ws://127.0.0.1:{port}/ws1/validate"


async def one_session(tmp: Path, pki: dict[str, certs.Issued], example: ExampleServer, secret: bytes,
                      validation_id: str) -> Any:
    from twisted.internet import reactor

    service, url = start_docval(tmp, pki, example.url, secret)
    try:
        profile = profiles.get_profile(profiles.DEFAULT_PROFILE)
        opts = PhoneOptions(access_key=access_key_json(profile.access_key), client_id=CLIENT_ID,
                            return_result=True, validation_id=validation_id)
        return await run_traced_phone(url, profile.chip(), opts, reactor)
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_docval_delivers_to_the_example_result_server(tmp_path):
    pki = make_pki()
    example = await threads.deferToThread(ExampleServer, tmp_path, pki)
    try:
        (tmp_path / "good").mkdir()
        good = await one_session(tmp_path / "good", pki, example, SECRET, "example-1")
        good.assert_closed_by_server(1000, None)
        assert good.statuses[-1] == "DONE"
        check_emrtd_passport(good.result)

        (tmp_path / "bad").mkdir()
        bad = await one_session(tmp_path / "bad", pki, example, b"not the example's secret", "example-2")
        # 401 is not retried: the phone hears the failure, and never DONE.
        bad.assert_closed_by_server(1011, "POST_TO_RESULT_SERVER_FAILED")
        assert "DONE" not in bad.statuses
    finally:
        await threads.deferToThread(example.stop)
    out = example.output()
    accepted = re.findall(r"^result session=([0-9a-f]+) passive_authentication=True "
                          r"chip_authentication=SUCCESS active_authentication=SUCCESS", out, flags=re.M)
    assert len(accepted) == 1, out
    assert re.search(r"^rejected 401: ", out, flags=re.M), out
    # Nothing personal reaches the example's output: only the session id and verdicts.
    key = profiles.get_profile(profiles.DEFAULT_PROFILE).access_key
    secret_values = [v for v in (getattr(key, "document_number", None), getattr(key, "can", None)) if v]
    assert secret_values and not any(v in out for v in secret_values)
