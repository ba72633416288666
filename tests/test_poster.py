"""Result posting (docs/result-server.md): treq stubs on a task.Clock, and a real twisted.web server."""
from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest
import pytest_twisted
from treq.testing import HasHeaders, RequestSequence, StringStubbingResource, StubTreq
from twisted.internet import defer, task
from twisted.web import resource, server

from docval.config import ClientConfig, ResultTLS
from docval.errors import ResultPostFailed
from docval.poster import PostOutcome, ResultPoster, encode_body, loggable_host, signature_header
from tests import certs

URL = "http://results.example/docval"
RESULT = {"passive_authentication": True, "errors": []}


class Scripted(resource.Resource):
    """Answers each POST with the next status of ``statuses`` (None: never answers)."""

    isLeaf = True

    def __init__(self, statuses):
        super().__init__()
        self.statuses = list(statuses)
        self.bodies = []
        self.headers = []
        self.all_headers = []

    def render_POST(self, request):
        self.bodies.append(request.content.read())
        self.headers.append(request.requestHeaders.getRawHeaders(b"content-type"))
        self.all_headers.append(
            {k.lower(): v for k, v in request.requestHeaders.getAllRawHeaders()})
        status = self.statuses.pop(0) if self.statuses else 200
        if status is None:
            return server.NOT_DONE_YET
        request.setResponseCode(status)
        if status in (301, 302):
            request.setHeader(b"location", b"http://elsewhere.example/")
        return b"ok"


class Metrics:
    def __init__(self):
        self.attempts = []
        self.clients = []
        self.deliveries = []

    def post_attempt(self, ok, client):
        self.attempts.append(ok)
        self.clients.append(client)

    def result_delivery(self, ok, client):
        self.deliveries.append((ok, client))


def stub_poster(statuses, clock=None):
    res = Scripted(statuses)
    stub = StubTreq(res)
    clock = clock or task.Clock()
    metrics = Metrics()
    poster = ResultPoster(clock, clock=clock, http_client=stub, backoff=lambda n: 0.5 * 2 ** n,
                          metrics=metrics)
    return poster, res, stub, clock, metrics


def settle(stub, clock, seconds=20.0, step=0.25):
    stub.flush()
    t = 0.0
    while t < seconds:
        clock.advance(step)
        stub.flush()
        t += step


def result_of(d):
    out = []
    d.addBoth(out.append)
    return out


def test_body_and_headers():
    poster, res, stub, clock, metrics = stub_poster([200])
    out = result_of(poster.post(URL, RESULT, "vid-1"))
    settle(stub, clock, 0)
    assert out == [PostOutcome(attempts=1, status=200)]
    body = json.loads(res.bodies[0])
    assert set(body) == {"emrtd_passport", "client_validation_id", "session_id"}
    assert body["emrtd_passport"] == RESULT and body["client_validation_id"] == "vid-1"
    assert res.headers[0] == [b"application/json"]
    assert metrics.attempts == [True]
    assert metrics.deliveries == [(True, "-")]


@pytest.mark.parametrize("statuses, attempts", [
    ([500, 500, 200], 3), ([503, 200], 2), ([408, 429, 502, 204], 4), ([201], 1),
])
def test_retryable_statuses_then_success(statuses, attempts):
    poster, res, stub, clock, metrics = stub_poster(statuses)
    out = result_of(poster.post(URL, RESULT, "v"))
    settle(stub, clock)
    assert out == [PostOutcome(attempts=attempts, status=statuses[-1])]
    assert len(res.bodies) == attempts
    assert metrics.attempts == [False] * (attempts - 1) + [True]


def test_gives_up_after_three_retries():
    poster, res, stub, clock, metrics = stub_poster([500] * 10)
    out = result_of(poster.post(URL, RESULT, "v"))
    settle(stub, clock)
    assert len(res.bodies) == 4
    assert out[0].check(ResultPostFailed)
    assert metrics.attempts == [False] * 4


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 301, 302])
def test_other_statuses_fail_at_once(status):
    poster, res, stub, clock, metrics = stub_poster([status, 200])
    out = result_of(poster.post(URL, RESULT, "v"))
    settle(stub, clock)
    assert len(res.bodies) == 1
    assert out[0].check(ResultPostFailed)


def test_backoff_runs_on_the_clock():
    poster, res, stub, clock, metrics = stub_poster([500, 500, 200])
    out = result_of(poster.post(URL, RESULT, "v"))
    stub.flush()
    assert len(res.bodies) == 1
    clock.advance(0.49)
    stub.flush()
    assert len(res.bodies) == 1
    clock.advance(0.02)
    stub.flush()
    assert len(res.bodies) == 2
    clock.advance(1.0)
    stub.flush()
    assert len(res.bodies) == 3 and out[0] == PostOutcome(3, 200)


def test_attempt_timeout_is_three_seconds_then_retried():
    poster, res, stub, clock, metrics = stub_poster([None, 200])
    out = result_of(poster.post(URL, RESULT, "v"))
    stub.flush()
    clock.advance(2.9)
    stub.flush()
    assert out == [] and len(res.bodies) == 1
    clock.advance(0.2)       # 3 s: the attempt is abandoned
    settle(stub, clock, 2)
    assert len(res.bodies) == 2
    assert out == [PostOutcome(2, 200)]


def test_always_silent_server_fails_after_four_timeouts():
    poster, res, stub, clock, metrics = stub_poster([None] * 4)
    out = result_of(poster.post(URL, RESULT, "v"))
    settle(stub, clock, 4 * 3 + 0.5 + 1 + 2 + 1)
    assert len(res.bodies) == 4
    assert out[0].check(ResultPostFailed)
    assert clock.getDelayedCalls() == []


def test_cancel_stops_retrying():
    poster, res, stub, clock, metrics = stub_poster([500] * 4)
    d = poster.post(URL, RESULT, "v")
    out = result_of(d)
    stub.flush()
    d.cancel()
    settle(stub, clock)
    assert len(res.bodies) == 1
    assert out[0].check(defer.CancelledError)
    assert clock.getDelayedCalls() == []


def test_network_errors_are_retried():
    class Flaky:
        def __init__(self):
            self.calls = 0
            self.stub = StubTreq(Scripted([200]))

        def post(self, *args, **kwargs):
            self.calls += 1
            if self.calls < 3:
                from twisted.internet.error import ConnectionRefusedError
                return defer.fail(ConnectionRefusedError())
            return self.stub.post(*args, **kwargs)

    clock = task.Clock()
    flaky = Flaky()
    poster = ResultPoster(clock, clock=clock, http_client=flaky, backoff=lambda n: 0.1)
    out = result_of(poster.post(URL, RESULT, "v"))
    for _ in range(10):
        clock.advance(0.1)
        flaky.stub.flush()
    assert flaky.calls == 3 and out == [PostOutcome(3, 200)]


def test_request_sequence_sees_the_exact_request():
    body = encode_body(RESULT, "vid-9", "0123456789abcdef")
    seq = RequestSequence([
        ((b"post", URL, {}, HasHeaders({b"Content-Type": [b"application/json"],
                                        b"Idempotency-Key": [b"0123456789abcdef"]}), body),
         (200, {}, b"")),
    ])
    stub = StubTreq(StringStubbingResource(seq))
    clock = task.Clock()
    poster = ResultPoster(clock, clock=clock, http_client=stub)
    with seq.consume(pytest.fail):
        out = result_of(poster.post(URL, RESULT, "vid-9", session_id="0123456789abcdef"))
        stub.flush()
    assert out == [PostOutcome(1, 200)]


def test_body_is_strict_json():
    with pytest.raises(ValueError):
        encode_body({"x": float("nan")}, "v")


# --- a real HTTP server on 127.0.0.1 -----------------------------------------------------
# Which statuses are retried and how often is tested on the clock above; over real sockets,
# one retried delivery and a refused connection show the real HTTP client classifies them
# the same way.

@pytest_twisted.ensureDeferred
async def test_real_server_500_500_200_succeeds():
    outcome, res = await _real([500, 500, 200])
    assert outcome == PostOutcome(3, 200)
    assert len(res.bodies) == 3
    assert json.loads(res.bodies[-1])["client_validation_id"] == "real-1"


async def _real(statuses):
    from twisted.internet import reactor

    res = Scripted(statuses)
    port = reactor.listenTCP(0, server.Site(res), interface="127.0.0.1")
    poster = ResultPoster(reactor, backoff=lambda n: 0.01)
    url = f"http://127.0.0.1:{port.getHost().port}/results"
    try:
        try:
            outcome = await poster.post(url, RESULT, "real-1")
        except ResultPostFailed as e:
            outcome = e
        return outcome, res
    finally:
        await poster.close()
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_real_server_connection_refused_is_retried_then_fails():
    from twisted.internet import reactor

    port = reactor.listenTCP(0, server.Site(Scripted([])), interface="127.0.0.1")
    number = port.getHost().port
    await port.stopListening()
    poster = ResultPoster(reactor, backoff=lambda n: 0.01)
    with pytest.raises(ResultPostFailed):
        await poster.post(f"http://127.0.0.1:{number}/", RESULT, "v")
    await poster.close()


# --- what a Result Server can authenticate (issue 14 §1) ----------------------------------

SIGNATURE = re.compile(rb"t=(\d+)((?:,v1=[0-9a-f]{64})+)")


def client(**kwargs):
    kwargs.setdefault("client_id", "secret-client-id")
    kwargs.setdefault("name", "acme")
    kwargs.setdefault("result_url", URL)
    return ClientConfig(**kwargs)


def verify(header: bytes, body: bytes, secret: bytes) -> bool:
    """What a Result Server does: recompute the HMAC over "<t>.<body>" and compare."""
    m = SIGNATURE.fullmatch(header)
    assert m, header
    t = m.group(1)
    expected = hmac.new(secret, t + b"." + body, hashlib.sha256).hexdigest().encode()
    return any(hmac.compare_digest(expected, v) for v in m.group(2).split(b",v1=")[1:])


def test_every_attempt_has_the_same_body_idempotency_key_and_a_fresh_signature():
    poster, res, stub, clock, metrics = stub_poster([503, 500, 200])
    clock.advance(1_700_000_000)
    secrets_ = (b"current secret", b"old secret \xc3\xa9")
    out = result_of(poster.post(URL, RESULT, "vid-1", session_id="5e55",
                                client=client(result_signing_secrets=secrets_)))
    settle(stub, clock)
    assert out == [PostOutcome(3, 200)]
    assert len(set(res.bodies)) == 1                       # the same bytes on every attempt
    body = res.bodies[0]
    assert json.loads(body)["session_id"] == "5e55"
    stamps = []
    for headers in res.all_headers:
        assert headers[b"idempotency-key"] == [b"5e55"]
        (sig,) = headers[b"docval-signature"]
        assert b" " not in sig
        parts = sig.split(b",")
        assert len(parts) == 3 and parts[0].startswith(b"t=")   # one v1 per secret
        stamps.append(int(parts[0][2:]))
        # Each v1, in file order, is the HMAC of its own secret.
        signed = parts[0][2:] + b"." + body
        assert parts[1] == b"v1=" + hmac.new(secrets_[0], signed, hashlib.sha256).hexdigest().encode()
        assert parts[2] == b"v1=" + hmac.new(secrets_[1], signed, hashlib.sha256).hexdigest().encode()
        assert verify(sig, body, secrets_[1]) and not verify(sig, body, b"wrong")
    # t is taken per attempt (after the backoffs of 0.5 and 1 s), from the clock.
    assert stamps == [1_700_000_000, 1_700_000_000, 1_700_000_001]
    assert metrics.clients == ["acme"] * 3 and metrics.deliveries == [(True, "acme")]


def test_signature_header_format():
    assert signature_header((b"k",), 12, b"{}") == (
        b"t=12,v1=" + hmac.new(b"k", b"12.{}", hashlib.sha256).hexdigest().encode())
    assert SIGNATURE.fullmatch(signature_header((b"a", b"b", b"c"), 1, b"x"))


def test_no_signature_or_token_unless_configured_and_a_random_idempotency_key_without_a_session():
    poster, res, stub, clock, metrics = stub_poster([200, 200])
    result_of(poster.post(URL, RESULT, "v", client=client()))
    result_of(poster.post(URL, RESULT, "v"))
    settle(stub, clock, 0)
    for headers in res.all_headers:
        assert b"docval-signature" not in headers and b"authorization" not in headers
    keys = [h[b"idempotency-key"][0] for h in res.all_headers]
    assert keys[0] != keys[1] and all(re.fullmatch(rb"[0-9a-f]{16}", k) for k in keys)
    assert [json.loads(b)["session_id"].encode() for b in res.bodies] == keys


def test_bearer_token_on_every_attempt():
    poster, res, stub, clock, metrics = stub_poster([500, 200])
    result_of(poster.post(URL, RESULT, "v", client=client(result_bearer_token="tok.EN-1~")))
    settle(stub, clock)
    assert [h[b"authorization"] for h in res.all_headers] == [[b"Bearer tok.EN-1~"]] * 2


def test_loggable_host_never_has_path_query_or_userinfo():
    assert loggable_host("https://results.example/x?token=abc") == "results.example"
    assert loggable_host("https://results.example:8443/x?token=abc") == "results.example:8443"
    assert loggable_host("http://[::1]:80/p") == "[::1]:80"


@pytest.fixture
def warnings_logged():
    from twisted.logger import LogLevel, formatEvent, globalLogPublisher

    events = []
    globalLogPublisher.addObserver(events.append)
    yield lambda: [(e["log_level"], formatEvent(e)) for e in events
                   if e.get("log_namespace") == "docval.poster"]
    globalLogPublisher.removeObserver(events.append)
    del LogLevel


def test_failed_delivery_is_a_warning_with_client_host_attempts_and_last_status(warnings_logged):
    from twisted.logger import LogLevel

    poster, res, stub, clock, metrics = stub_poster([503, 503, 500, 502])
    url = "http://results.example:8080/hook/SECRET-PATH?token=SECRET-QUERY"
    out = result_of(poster.post(url, {"name": "PRIVATE"}, "v", session_id="ab12", client=client()))
    settle(stub, clock)
    assert out[0].check(ResultPostFailed)
    lines = warnings_logged()
    warnings = [text for level, text in lines if level == LogLevel.warn]
    assert len(warnings) == 1
    (line,) = warnings
    assert "client=acme" in line and "host=results.example:8080" in line
    assert "attempts=4" in line and "last=HTTP 502" in line and "ab12" in line
    assert all(level == LogLevel.info for level, text in lines if text != line)   # the retries
    for _, text in lines:
        assert "SECRET" not in text and "PRIVATE" not in text and "secret-client-id" not in text
        assert "client=acme" in text
    assert metrics.deliveries == [(False, "acme")]


def test_failed_delivery_names_the_last_network_error(warnings_logged):
    from twisted.internet.error import ConnectionRefusedError

    class Refusing:
        def post(self, *args, **kwargs):
            return defer.fail(ConnectionRefusedError())

    clock = task.Clock()
    poster = ResultPoster(clock, clock=clock, http_client=Refusing(), backoff=lambda n: 0.1)
    out = result_of(poster.post(URL, RESULT, "v", client=client()))
    clock.pump([0.1] * 10)
    assert out[0].check(ResultPostFailed)
    assert any("last=ConnectionRefusedError" in text and "attempts=4" in text
               for _, text in warnings_logged())


# --- the attempt timeout ends with the status line ----------------------------------------

class Trickle(resource.Resource):
    """Answers 200 at once, then sends its body one byte per ``every`` seconds."""

    isLeaf = True

    def __init__(self, reactor, every=0.5, chunks=40):
        super().__init__()
        self.reactor = reactor
        self.every = every
        self.chunks = chunks
        self.posts = 0
        self.calls = []

    def render_POST(self, request):
        self.posts += 1
        request.setResponseCode(200)
        request.setHeader(b"content-length", str(self.chunks).encode())
        request.write(b"x")
        self._more(request, self.chunks - 1)
        return server.NOT_DONE_YET

    def _more(self, request, left):
        if left == 0:
            request.finish()
            return
        def go():
            if not request.finished and not request._disconnected:
                request.write(b"x")
                self._more(request, left - 1)
        self.calls.append(self.reactor.callLater(self.every, go))

    def stop(self):
        for call in self.calls:
            if call.active():
                call.cancel()


@pytest_twisted.ensureDeferred
async def test_slow_body_after_2xx_is_one_delivery():
    """The status arrived in time: a body trickling for 20 s neither fails the attempt
    nor causes a second POST (before, reading the body counted against the 3 s)."""
    from twisted.internet import reactor

    res = Trickle(reactor)
    port = reactor.listenTCP(0, server.Site(res), interface="127.0.0.1")
    metrics = Metrics()
    poster = ResultPoster(reactor, backoff=lambda n: 0.01, metrics=metrics, attempt_timeout=2.0)
    url = f"http://127.0.0.1:{port.getHost().port}/results"
    try:
        t0 = reactor.seconds()
        outcome = await poster.post(url, RESULT, "v", client=client(result_url=url))
        assert outcome == PostOutcome(1, 200)
        assert reactor.seconds() - t0 < 2.0       # not waiting for the 20 s body
        # Well past the attempt timeout and any retry: still one POST.
        await task.deferLater(reactor, 3.0, lambda: None)
        assert res.posts == 1 and metrics.attempts == [True]
    finally:
        res.stop()
        await poster.close()
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_slow_body_is_dropped_after_the_discard_timeout():
    from twisted.internet import reactor

    res = Trickle(reactor, every=0.2)
    port = reactor.listenTCP(0, server.Site(res), interface="127.0.0.1")
    poster = ResultPoster(reactor, discard_timeout=0.5)
    url = f"http://127.0.0.1:{port.getHost().port}/results"
    try:
        assert await poster.post(url, RESULT, "v") == PostOutcome(1, 200)
        assert len(poster._discards) == 1
        await task.deferLater(reactor, 1.0, lambda: None)
        assert poster._discards == set()                   # the reader gave up on the body
    finally:
        res.stop()
        await poster.close()
        await port.stopListening()


def test_headers_late_are_a_timeout():
    """Sending and getting the status share the 3 s: no status in 3 s is a failed attempt."""
    poster, res, stub, clock, metrics = stub_poster([None, None, None, None])
    out = result_of(poster.post(URL, RESULT, "v"))
    settle(stub, clock, 30)
    assert out[0].check(ResultPostFailed) and "no answer within 3s" in str(out[0].value)


# --- TLS: the client's CA bundle, hostname and IP checks, mutual TLS -----------------------

@pytest.fixture(scope="module")
def pki():
    ca = certs.make_ca("Result Server CA")
    other_ca = certs.make_ca("Another CA")
    client_ca = certs.make_ca("DocVal client CA")
    return {
        "ca": ca,
        "other_ca": other_ca,
        "ip": certs.issue(ca, "127.0.0.1", ips=("127.0.0.1",)),
        "dns": certs.issue(ca, "localhost", dns=("localhost",)),
        "wrong_ip": certs.issue(ca, "10.9.9.9", ips=("10.9.9.9",), dns=("results.example",)),
        "by_other": certs.issue(other_ca, "127.0.0.1", ips=("127.0.0.1",)),
        "client_ca": client_ca,
        "client": certs.issue(client_ca, "docval", client=True),
        "stranger": certs.issue(certs.make_ca("Stranger CA"), "docval", client=True),
    }


async def _tls_post(server_cert, tls, client_cas=(), host="127.0.0.1"):
    from twisted.internet import reactor

    res = Scripted([])
    port = reactor.listenSSL(0, server.Site(res), certs.server_options(server_cert, *client_cas),
                             interface="127.0.0.1")
    url = f"https://{host}:{port.getHost().port}/results"
    poster = ResultPoster(reactor, backoff=lambda n: 0.01, retries=0)
    try:
        try:
            return await poster.post(url, RESULT, "v", client=client(result_url=url, result_tls=tls)), res
        except ResultPostFailed as e:
            return e, res
    finally:
        await poster.close()
        await port.stopListening()


def tls_of(pki, *cas, client=None):
    c = pki[client] if client else None
    return ResultTLS(
        ca_pems=tuple(pki[ca].cert_pem for ca in cas),
        client_certificate_pem=c.cert_pem if c else None,
        client_key_pem=c.key_pem() if c else None,
    )


@pytest_twisted.ensureDeferred
async def test_tls_ip_address_url_with_the_clients_ca(pki):
    outcome, res = await _tls_post(pki["ip"], tls_of(pki, "ca"))
    assert outcome == PostOutcome(1, 200) and len(res.bodies) == 1


@pytest_twisted.ensureDeferred
async def test_tls_hostname_url_with_the_clients_ca(pki):
    outcome, res = await _tls_post(pki["dns"], tls_of(pki, "ca"), host="localhost")
    assert outcome == PostOutcome(1, 200)


@pytest_twisted.ensureDeferred
async def test_tls_every_certificate_of_the_bundle_is_trusted(pki):
    outcome, _ = await _tls_post(pki["by_other"], tls_of(pki, "ca", "other_ca"))
    assert outcome == PostOutcome(1, 200)
    outcome, _ = await _tls_post(pki["ip"], tls_of(pki, "other_ca", "ca"))
    assert outcome == PostOutcome(1, 200)


@pytest_twisted.ensureDeferred
async def test_tls_ip_address_mismatch_fails(pki):
    outcome, res = await _tls_post(pki["wrong_ip"], tls_of(pki, "ca"))
    assert isinstance(outcome, ResultPostFailed) and res.bodies == []


@pytest_twisted.ensureDeferred
async def test_tls_hostname_mismatch_fails(pki):
    outcome, res = await _tls_post(pki["ip"], tls_of(pki, "ca"), host="localhost")
    assert isinstance(outcome, ResultPostFailed) and res.bodies == []


@pytest_twisted.ensureDeferred
async def test_tls_a_ca_outside_the_bundle_is_not_trusted(pki):
    outcome, res = await _tls_post(pki["by_other"], tls_of(pki, "ca"))
    assert isinstance(outcome, ResultPostFailed) and res.bodies == []


@pytest_twisted.ensureDeferred
async def test_tls_the_system_store_does_not_trust_a_private_ca(pki):
    outcome, res = await _tls_post(pki["ip"], ResultTLS())
    assert isinstance(outcome, ResultPostFailed) and res.bodies == []


@pytest_twisted.ensureDeferred
async def test_mutual_tls_sends_the_client_certificate(pki):
    outcome, res = await _tls_post(pki["ip"], tls_of(pki, "ca", client="client"), client_cas=[pki["client_ca"]])
    assert outcome == PostOutcome(1, 200) and len(res.bodies) == 1


@pytest_twisted.ensureDeferred
async def test_mutual_tls_without_or_with_a_foreign_certificate_fails(pki):
    outcome, res = await _tls_post(pki["ip"], tls_of(pki, "ca"), client_cas=[pki["client_ca"]])
    assert isinstance(outcome, ResultPostFailed) and res.bodies == []
    outcome, res = await _tls_post(pki["ip"], tls_of(pki, "ca", client="stranger"),
                                   client_cas=[pki["client_ca"]])
    assert isinstance(outcome, ResultPostFailed) and res.bodies == []


@pytest_twisted.ensureDeferred
async def test_mutual_tls_sends_the_intermediate_certificates(pki):
    """A client certificate from an intermediate CA: the server trusts only the root, so
    the handshake works only if the intermediate from the certificate file is sent."""
    root = certs.make_ca("Client root CA")
    intermediate = certs.make_intermediate(root)
    leaf = certs.issue(intermediate, "docval", client=True)
    with_chain = ResultTLS(ca_pems=(pki["ca"].cert_pem,), client_certificate_pem=leaf.cert_pem,
                           client_chain_pems=(intermediate.cert_pem,), client_key_pem=leaf.key_pem())
    outcome, res = await _tls_post(pki["ip"], with_chain, client_cas=[root])
    assert outcome == PostOutcome(1, 200) and len(res.bodies) == 1
    without = ResultTLS(ca_pems=(pki["ca"].cert_pem,), client_certificate_pem=leaf.cert_pem,
                        client_key_pem=leaf.key_pem())
    outcome, res = await _tls_post(pki["ip"], without, client_cas=[root])
    assert isinstance(outcome, ResultPostFailed) and res.bodies == []


def test_clients_with_the_same_tls_settings_share_a_pool(pki):
    from twisted.internet import reactor

    poster = ResultPoster(reactor)
    a = poster._http_for(tls_of(pki, "ca"))
    assert poster._http_for(tls_of(pki, "ca")) is a
    assert poster._http_for(tls_of(pki, "ca", client="client")) is not a
    assert poster._http_for(ResultTLS()) is not a
    assert len(poster._pools) == 3
