from __future__ import annotations

import http.client
import json
import socket

import pytest
import pytest_twisted
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor
from twisted.internet.threads import deferToThread

from docval.admin import admin_site, make_admin_service
from docval.metrics import Metrics


def get(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


class Health:
    def __init__(self) -> None:
        self.ok = True
        self.broken = False

    def __call__(self):
        if self.broken:
            raise RuntimeError("secret internals")
        return self.ok, {"trust_store_loaded": self.ok, "listening": True}


@pytest.fixture
def served():
    metrics, health = Metrics(), Health()
    port = reactor.listenTCP(0, admin_site(metrics, health), interface="127.0.0.1")
    yield port.getHost().port, metrics, health
    port.stopListening()


@pytest_twisted.inlineCallbacks
def test_healthz_follows_the_health_check(served):
    port, _, health = served
    status, headers, body = yield deferToThread(get, port, "/healthz")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"ok": True, "trust_store_loaded": True, "listening": True}
    health.ok = False
    status, _, body = yield deferToThread(get, port, "/healthz")
    assert status == 503
    assert json.loads(body)["trust_store_loaded"] is False


@pytest_twisted.inlineCallbacks
def test_failing_health_check_is_503_without_traceback(served):
    port, _, health = served
    health.broken = True
    status, _, body = yield deferToThread(get, port, "/healthz")
    assert status == 503
    assert b"secret internals" not in body and b"Traceback" not in body
    assert json.loads(body)["ok"] is False


@pytest_twisted.inlineCallbacks
def test_metrics_are_served_in_prometheus_format(served):
    port, metrics, _ = served
    for _ in range(3):
        metrics.session_started()
        metrics.session_finished("failure", "INVALID_CLIENT_ID")
    status, headers, body = yield deferToThread(get, port, "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    finished = {
        (s.labels["outcome"], s.labels["close_reason"]): s.value
        for s in families["docval_sessions_finished"].samples
        if s.name.endswith("_total") and s.labels["protocol"] == "v1"
    }
    assert finished[("failure", "INVALID_CLIENT_ID")] == 3


@pytest_twisted.inlineCallbacks
def test_nothing_else_and_no_banner(served):
    port, _, _ = served
    for path in ("/", "/metrics/", "/healthz/x", "/favicon.ico", "/../etc/passwd"):
        status, headers, body = yield deferToThread(get, port, path)
        assert status == 404, path
        assert "server" not in headers
        assert b"Twisted" not in body
    status, headers, _ = yield deferToThread(get, port, "/metrics", "POST")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    status, headers, body = yield deferToThread(get, port, "/healthz", "HEAD")
    assert status == 200 and body == b"" and "server" not in headers
    status, headers, _ = yield deferToThread(get, port, "/healthz?verbose=1")
    assert status == 200 and "server" not in headers


@pytest_twisted.inlineCallbacks
def test_make_admin_service_listens_on_its_endpoint():
    metrics = Metrics()
    metrics.set_trust_store(7, "test")
    service = make_admin_service("tcp:0:interface=127.0.0.1", metrics, lambda: (True, {}),
                                 reactor=reactor)
    service.privilegedStartService()
    service.startService()
    try:
        number = (yield service.when_listening()).getHost().port
        status, _, body = yield deferToThread(get, number, "/metrics")
        assert status == 200
        assert b"docval_trust_store_certificates 7.0" in body
    finally:
        yield service.stopService()
    # Stopped means closed.
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", number)) != 0


def test_a_port_that_cannot_be_bound_stops_start_up():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        number = busy.getsockname()[1]
        service = make_admin_service(f"tcp:{number}:interface=127.0.0.1", Metrics(),
                                     lambda: (True, {}), reactor=reactor)
        # One line naming the key and the fix, not a traceback (docval.tap.StartupError).
        with pytest.raises(SystemExit, match=r"already in use.*\[admin\] listen"):
            service.privilegedStartService()


def test_when_listening_before_start_fails():
    service = make_admin_service("tcp:0:interface=127.0.0.1", Metrics(), lambda: (True, {}),
                                 reactor=reactor)
    failures = []
    service.when_listening().addErrback(failures.append)
    assert failures and failures[0].check(RuntimeError)
