"""Issue 14 §1 and §4 end to end: DocVal, composed from a TOML file as ``twistd docval``
does, reads a virtual passport through the virtual phone and delivers the result to an
HTTPS Result Server on 127.0.0.1 that demands a client certificate.  The Result Server
checks what an integrator's would: the TLS client certificate, DocVal-Signature over the
raw body, the bearer token, and Idempotency-Key == the body's session_id."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

import pytest_twisted
from cryptography.x509.oid import NameOID
from twisted.internet import defer
from twisted.logger import LogLevel, formatEvent, globalLogPublisher
from twisted.web import resource, server

from docval import tap
from docval.sim import profiles
from docval.sim.phone import PhoneOptions, access_key_json
from tests import certs
from tests.schema import check_emrtd_passport

from .stack import run_traced_phone

CLIENT_ID = "e2e-delivery-client-id-0f3c9a"
NAME = "acme-results"
SECRETS = (b"current signing secret", b"previous signing secret")
TOKEN = "e2e-bearer.T0ken"
SIGNATURE = re.compile(rb"t=(\d+)((?:,v1=[0-9a-f]{64})+)")


class VerifyingResultServer(resource.Resource):
    """Records each POST with its raw body, headers and the TLS peer's certificate;
    answers ``statuses`` in order, then 200."""

    isLeaf = True

    def __init__(self, statuses: list[int] | None = None):
        super().__init__()
        self.statuses = list(statuses or [])
        self.posts: list[dict[str, Any]] = []

    def render_POST(self, request: Any) -> bytes:
        peer = request.channel.transport.getPeerCertificate()
        if peer is not None:
            peer = peer.to_cryptography().subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        self.posts.append({
            "body": request.content.read(),
            "headers": {k.lower(): v for k, v in request.requestHeaders.getAllRawHeaders()},
            "peer_cn": peer,
            "path": request.uri,
        })
        request.setResponseCode(self.statuses.pop(0) if self.statuses else 200)
        return b'{"received": true}'


def verify_signature(header: bytes, body: bytes, secret: bytes) -> int:
    """A Result Server's check: some v1 is HMAC-SHA256(secret, "<t>.<body>"); returns t."""
    m = SIGNATURE.fullmatch(header)
    assert m, header
    t = m.group(1)
    expected = hmac.new(secret, t + b"." + body, hashlib.sha256).hexdigest().encode()
    assert any(hmac.compare_digest(expected, v) for v in m.group(2).split(b",v1=")[1:])
    return int(t)


def write_files(tmp: Path, pki: dict[str, certs.Issued]) -> dict[str, Path]:
    ca = tmp / "result-ca.pem"
    ca.write_bytes(pki["server_ca"].cert_pem)
    cert = tmp / "client.pem"
    cert.write_bytes(pki["client"].cert_pem)
    return {
        "result_ca_file": ca,
        "result_client_certificate_file": cert,
        "result_client_key_file": certs.write_private(tmp / "client.key", pki["client"].key_pem()),
        # The current secret, a blank line, the previous one (a rotation in progress).
        "result_signing_secret_file": certs.write_private(
            tmp / "signing-secrets", SECRETS[0] + b"\n\n" + SECRETS[1] + b"\n", 0o640),
        "result_bearer_token_file": certs.write_private(tmp / "token", TOKEN.encode() + b"\n"),
    }


def make_pki() -> dict[str, certs.Issued]:
    server_ca = certs.make_ca("Result Server CA")
    client_ca = certs.make_ca("DocVal client CA")
    return {
        "server_ca": server_ca,
        "server": certs.issue(server_ca, "127.0.0.1", ips=("127.0.0.1",)),
        "client_ca": client_ca,
        "client": certs.issue(client_ca, "docval-e2e", client=True),
    }


class HTTPSStack:
    def __init__(self, reactor: Any, tmp: Path, statuses: list[int] | None = None):
        self.reactor = reactor
        pki = make_pki()
        self.results = VerifyingResultServer(statuses)
        self.result_port = reactor.listenSSL(
            0, server.Site(self.results), certs.server_options(pki["server"], pki["client_ca"]),
            interface="127.0.0.1")
        self.result_url = f"https://127.0.0.1:{self.result_port.getHost().port}/hook?key=QUERY-TOKEN"
        files = write_files(tmp, pki)
        lines = [
            "[server]", 'listen = "tcp:0:interface=127.0.0.1"', "",
            "[trust]", "demo_csca = true", "reload_interval = 0", "",
            "[[client]]", f'client_id = "{CLIENT_ID}"', f'name = "{NAME}"',
            f'result_url = "{self.result_url}"',
        ] + [f'{key} = "{path}"' for key, path in files.items()]
        config = tmp / "docval.toml"
        config.write_text("\n".join(lines) + "\n")
        options = tap.Options()
        options.parseOptions(["--config", str(config)])
        self.service = tap.makeService(options)
        self.service.startService()
        port = self.service.listeners[0].port.getHost().port
        self.url = f"ws://127.0.0.1:{port}/ws1/validate"

    def phone(self, **options: Any) -> defer.Deferred:
        profile = profiles.get_profile(profiles.DEFAULT_PROFILE)
        opts = PhoneOptions(access_key=access_key_json(profile.access_key), client_id=CLIENT_ID,
                            return_result=True, **options)
        return run_traced_phone(self.url, profile.chip(), opts, self.reactor)

    async def stop(self) -> None:
        await self.service.stopService()
        await self.result_port.stopListening()


class Log:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> "Log":
        globalLogPublisher.addObserver(self.events.append)
        return self

    def __exit__(self, *exc: Any) -> None:
        globalLogPublisher.removeObserver(self.events.append)

    def lines(self, level: Any = None) -> list[str]:
        """DocVal's own lines (the test's Result Server and phone log for themselves)."""
        ours = [e for e in self.events
                if str(e.get("log_namespace", "")).startswith("docval")
                and not str(e.get("log_namespace", "")).startswith("docval.sim")]
        return [formatEvent(e) for e in ours if level is None or e.get("log_level") == level]


@pytest_twisted.ensureDeferred
async def test_signed_idempotent_delivery_over_mutual_tls(tmp_path):
    from twisted.internet import reactor

    stack = HTTPSStack(reactor, tmp_path, statuses=[503])      # one retry: two attempts
    try:
        with Log() as log:
            trace = await stack.phone(validation_id="e2e-delivery-1")
    finally:
        await stack.stop()
    trace.assert_closed_by_server(1000, None)
    assert trace.statuses[-1] == "DONE"

    posts = stack.results.posts
    assert len(posts) == 2
    assert all(p["peer_cn"] == "docval-e2e" for p in posts)        # mutual TLS
    assert posts[0]["body"] == posts[1]["body"]                      # the same bytes again
    body = json.loads(posts[0]["body"])
    assert body["client_validation_id"] == "e2e-delivery-1"
    assert body["emrtd_passport"] == trace.result
    check_emrtd_passport(body["emrtd_passport"])
    session_id = body["session_id"]
    assert re.fullmatch(r"[0-9a-f]{16}", session_id)
    for post in posts:
        headers = post["headers"]
        assert headers[b"idempotency-key"] == [session_id.encode()]
        assert headers[b"authorization"] == [b"Bearer " + TOKEN.encode()]
        assert headers[b"content-type"] == [b"application/json"]
        (signature,) = headers[b"docval-signature"]
        assert signature.count(b",v1=") == 2                         # one per secret
        t = verify_signature(signature, post["body"], SECRETS[0])
        assert verify_signature(signature, post["body"], SECRETS[1]) == t
        assert abs(t - reactor.seconds()) < 60

    metrics = stack.service.metrics.render().decode()
    assert f'docval_result_post_attempts_total{{client="{NAME}",result="failed"}} 1.0' in metrics
    assert f'docval_result_post_attempts_total{{client="{NAME}",result="ok"}} 1.0' in metrics
    assert f'docval_result_deliveries_total{{client="{NAME}",result="ok"}} 1.0' in metrics
    assert CLIENT_ID not in metrics

    text = "\n".join(log.lines())
    (ended,) = [line for line in log.lines() if " ended: " in line]
    assert f"session {session_id} ended" in ended and f"client={NAME}" in ended
    assert "outcome=success" in ended
    assert CLIENT_ID not in text and "QUERY-TOKEN" not in text and TOKEN not in text
    assert "signing secret" not in text


@pytest_twisted.ensureDeferred
async def test_failed_delivery_is_a_warning_an_operator_can_follow(tmp_path):
    from twisted.internet import reactor

    stack = HTTPSStack(reactor, tmp_path, statuses=[401])
    try:
        with Log() as log:
            trace = await stack.phone(validation_id="e2e-delivery-2")
    finally:
        await stack.stop()
    trace.assert_closed_by_server(1011, "POST_TO_RESULT_SERVER_FAILED")
    (post,) = stack.results.posts
    session_id = json.loads(post["body"])["session_id"]
    (warning,) = [line for line in log.lines(LogLevel.warn) if "delivery failed" in line]
    port = stack.result_url.split(":")[2].split("/")[0]
    assert f"client={NAME}" in warning and f"host=127.0.0.1:{port}" in warning
    assert "attempts=1" in warning and "last=HTTP 401" in warning and session_id in warning
    (ended,) = [line for line in log.lines() if " ended: " in line]
    assert f"client={NAME}" in ended and "POST_TO_RESULT_SERVER_FAILED" in ended
    text = "\n".join(log.lines())
    assert CLIENT_ID not in text and "QUERY-TOKEN" not in text and "/hook" not in text
    assert "received" not in text        # the Result Server's answer body is never logged
