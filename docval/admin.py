"""The admin HTTP endpoint: ``/healthz`` for load balancers, ``/metrics`` for Prometheus
and ``/jwks.json``, the public key(s) that verify ``emrtd_passport_jws``.

It listens on its own endpoint (``[admin] listen``, loopback by default) so that the
public WebSocket port exposes nothing but the API. Only GET and HEAD of those paths
answer (``/jwks.json`` only when a signing key is configured); everything else is a
bare 404/405 without a server banner or error page.
"""
from __future__ import annotations

import json
from typing import Callable, Protocol

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IService
from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import resource, server

from docval.endpoints import server_endpoint
from docval.metrics import CONTENT_TYPE
from docval.startup import StartupError, cannot_listen

Health = Callable[[], "tuple[bool, dict]"]


class MetricsPage(Protocol):
    """What /metrics serves: docval.metrics.Metrics (or NullMetrics, an empty page)."""

    def render(self) -> bytes: ...


_log = Logger()


class AdminResource(resource.Resource):
    """One leaf that routes by path itself, so no Twisted error page is ever rendered."""

    isLeaf = True

    def __init__(self, metrics: MetricsPage, health: Health, jwks: dict | None = None) -> None:
        super().__init__()
        self._metrics = metrics
        self._health = health
        # Serialised once: the key does not change while the server runs.
        self._jwks = (
            json.dumps(_public_jwks(jwks), sort_keys=True).encode("utf-8") + b"\n"
            if jwks is not None else None
        )

    def render(self, request: server.Request) -> bytes:
        # Request.process set "Server: TwistedWeb/<version>" before calling us.
        request.responseHeaders.removeHeader(b"server")
        request.setHeader(b"cache-control", b"no-store")
        paths = (b"/healthz", b"/metrics") + ((b"/jwks.json",) if self._jwks is not None else ())
        if request.path not in paths:
            return self._plain(request, 404, b"not found\n")
        if request.method not in (b"GET", b"HEAD"):
            request.setHeader(b"allow", b"GET, HEAD")
            return self._plain(request, 405, b"method not allowed\n")
        if request.path == b"/metrics":
            request.setHeader(b"content-type", CONTENT_TYPE.encode("ascii"))
            return self._metrics.render()
        if request.path == b"/jwks.json" and self._jwks is not None:
            request.setHeader(b"content-type", b"application/jwk-set+json")
            return self._jwks
        return self._healthz(request)

    def _healthz(self, request: server.Request) -> bytes:
        try:
            ok, details = self._health()
            body = json.dumps({"ok": bool(ok), **details}, sort_keys=True, default=str)
        except Exception:
            # A broken health check is itself unhealthy; the traceback goes to the log only.
            _log.failure("health check failed")
            ok, body = False, json.dumps({"ok": False, "error": "health check failed"})
        request.setResponseCode(200 if ok else 503)
        request.setHeader(b"content-type", b"application/json")
        return body.encode("utf-8") + b"\n"

    @staticmethod
    def _plain(request: server.Request, code: int, body: bytes) -> bytes:
        request.setResponseCode(code)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return body


_PUBLIC_EC_MEMBERS = ("kty", "crv", "x", "y", "kid", "use", "alg")


def _public_jwks(jwks: dict) -> dict:
    """Only the public members of each key: a private "d" must never be served."""
    return {"keys": [{k: jwk[k] for k in _PUBLIC_EC_MEMBERS if k in jwk} for jwk in jwks["keys"]]}


class AdminSite(server.Site):
    displayTracebacks = False
    # No "Starting factory <AdminSite ...>" line at start and on every reload of the port.
    noisy = False

    def log(self, request) -> None:
        # Prometheus scrapes every few seconds: access lines would flood the journal.
        pass


def admin_site(metrics: MetricsPage, health: Health, jwks: dict | None = None) -> AdminSite:
    return AdminSite(AdminResource(metrics, health, jwks))


class AdminService(StreamServerEndpointService):
    """Listens for the admin site. Like the WebSocket listeners, a port that cannot be
    bound stops start-up, instead of a server running without its health check."""

    _raiseSynchronously = True
    listen_description = ""   # the configured endpoint string, for the start-up error

    def privilegedStartService(self) -> None:
        try:
            super().privilegedStartService()
        except Exception as e:
            raise StartupError(cannot_listen(self.listen_description, e, "[admin] listen (or --admin)")) from None

    def when_listening(self) -> defer.Deferred:
        """Fires with the listening port once started (for tests and port 0)."""
        if self._waitingForPort is None:
            return defer.fail(RuntimeError("the admin service is not started"))
        d: defer.Deferred[object] = defer.Deferred()

        def fire(port):
            d.callback(port)
            return port

        self._waitingForPort.addCallback(fire)
        return d


def make_admin_service(listen: str, metrics: MetricsPage, health: Health, reactor=None,
                       jwks: dict | None = None) -> IService:
    """A service serving ``/healthz``, ``/metrics`` and ``/jwks.json`` (when ``jwks`` is
    given) on the endpoint ``listen``.

    ``health()`` returns ``(ok, details)``: 200 when ok else 503, with ``details`` (a
    JSON-serialisable dict, e.g. ``{"trust_store_loaded": True, "listening": True}``)
    in the body. Starting the service raises when the endpoint cannot be bound.
    """
    if reactor is None:
        # Not at module top: importing it installs the default reactor (see docval.tap).
        from twisted.internet import reactor  # type: ignore[no-redef]
    service = AdminService(server_endpoint(reactor, listen), admin_site(metrics, health, jwks))
    service.listen_description = listen
    service.setName("docval-admin")
    return service
