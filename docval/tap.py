"""twistd entry point: ``twistd -n docval [--config FILE] [--listen ENDPOINT]``.

``makeService`` composes a ``MultiService``: one WebSocket listener per endpoint
string, the admin endpoint (health and metrics) when configured, and the trust
store, reloaded on SIGHUP and on a timer.  A reload builds a new store and swaps
it in; sessions already running keep the store they started with.

Nothing here reads configuration or imports the reactor at import time: twistd
imports every plugin just to list them.
"""
from __future__ import annotations

import signal
from dataclasses import replace
from typing import Any, Callable

from twisted.application.service import MultiService, Service
from twisted.logger import Logger
from twisted.python import usage

_log = Logger(namespace="docval.service")


class ConfigFileError(SystemExit):
    """A bad configuration: the message goes to stderr and the process exits 1."""


class Options(usage.Options):
    synopsis = "[--config FILE] [--listen ENDPOINT] [--admin ENDPOINT|none]"
    longdesc = (
        "Runs the DocVal WebSocket server (ws://HOST:PORT/ws1/validate). Without --config it "
        "runs on built-in demo defaults: 127.0.0.1:8080, one client 'YOUR CLIENT ID' without "
        "a Result Server, trusting the demo CSCA of the virtual passport. SIGHUP reloads the "
        "trust anchors."
    )
    optParameters = [
        ["config", "c", None, "TOML configuration file (see /etc/docval/docval.toml)"],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []
        self["admin"] = []
        self.config: Any = None

    def opt_listen(self, endpoint: str) -> None:
        """Twisted endpoint string to listen on (repeatable); overrides [server] listen"""
        self["listen"].append(endpoint)

    def opt_admin(self, endpoint: str) -> None:
        """Endpoint for /healthz and /metrics (repeatable; 'none' for no admin endpoint); overrides [admin] listen"""
        self["admin"].append(endpoint)

    def postOptions(self) -> None:
        # Loaded here, not in makeService, so that a bad file is a one-line message
        # instead of a traceback.  Not a UsageError: Twisted 22.4's twistd prints those
        # and exits 0, and systemd would take a broken configuration for a clean stop.
        from docval.config import ConfigError, default_config, load_config

        try:
            config = load_config(self["config"]) if self["config"] else default_config()
        except ConfigError as e:
            raise ConfigFileError(f"docval: {e}") from None
        if self["listen"]:
            config = replace(config, server=replace(config.server, listen=tuple(self["listen"])))
        if self["admin"]:
            # Instances of docval@.service share one config file but need an admin port each.
            admin = tuple(e for e in self["admin"] if e.lower() != "none")
            config = replace(config, admin=replace(config.admin, listen=admin))
        self.config = config


class ListenerService(Service):
    """Listens on one endpoint; a bind failure at start-up makes twistd fail loudly."""

    def __init__(self, endpoint: Any, factory: Any, description: str):
        self.endpoint = endpoint
        self.factory = factory
        self.description = description
        self.port: Any = None
        self._starting: Any = None

    def privilegedStartService(self) -> None:
        Service.privilegedStartService(self)
        self._listen()

    def startService(self) -> None:
        Service.startService(self)
        if self._starting is None:
            self._listen()

    def _listen(self) -> None:
        errors: list[Any] = []
        self._starting = self.endpoint.listen(self.factory)
        self._starting.addCallbacks(self._listening, errors.append)
        if errors:
            # TCP and TLS ports bind synchronously: refuse to start without them.
            errors[0].raiseException()

    def _listening(self, port: Any) -> None:
        self.port = port
        _log.info("listening on {description}", description=self.description)

    def stopService(self) -> Any:
        Service.stopService(self)
        starting, self._starting = self._starting, None
        if self.port is not None:
            port, self.port = self.port, None
            return port.stopListening()
        if starting is not None and not starting.called:
            starting.cancel()
        return None


def load_trust(trust_config: Any) -> Any:
    """A fresh TrustStore from the [trust] section (plus the demo CSCA if asked)."""
    from docval.trust.store import TrustStore

    if not trust_config.demo_csca:
        return TrustStore.load(trust_config.csca, trust_config.crl)
    from docval.sim.pki import demo_csca_pem

    if not trust_config.csca and not trust_config.crl:
        return TrustStore.from_certificates([demo_csca_pem()])
    return _with_extra_anchor(trust_config, demo_csca_pem())


def _with_extra_anchor(trust_config: Any, pem: bytes) -> Any:
    import os
    import tempfile

    from docval.trust.store import TrustStore

    # TrustStore reads anchors from paths; the demo CSCA (a public certificate)
    # goes through a private temporary file that is removed right after.
    fd, path = tempfile.mkstemp(suffix=".pem", prefix="docval-demo-csca-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return TrustStore.load(list(trust_config.csca) + [path], trust_config.crl)
    finally:
        os.unlink(path)


class DocValService(MultiService):
    """The whole server: listeners, admin endpoint, trust store and its reloads."""

    def __init__(
        self,
        config: Any,
        reactor: Any = None,
        *,
        metrics: Any = None,
        trust_loader: Callable[[Any], Any] = load_trust,
        read_document: Any = None,
        poster: Any = None,
        clock: Any = None,
    ):
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor as _reactor
            reactor = _reactor
        from docval.poster import ResultPoster
        from docval.ws.factory import ValidateServerFactory

        if metrics is None:
            from docval.metrics import Metrics
            metrics = Metrics()
        self.config = config
        self.reactor = reactor
        self.clock = clock if clock is not None else reactor
        self.metrics = metrics
        self._trust_loader = trust_loader
        self.trust = trust_loader(config.trust)
        self._trust_loaded()
        self._reloading: Any = None
        self._reload_loop: Any = None
        self._previous_sighup: Any = None
        self._sighup_installed = False
        self.signer = _load_signer(config)
        self.poster = poster or ResultPoster(reactor, metrics=metrics)
        self.factory = ValidateServerFactory(
            config,
            trust=lambda: self.trust,
            poster=self.poster,
            reactor=reactor,
            clock=self.clock,
            metrics=metrics,
            read_document=read_document,
            offload=self._offload,
            signer=self.signer,
        )
        self.listeners: list[ListenerService] = []
        for description in config.server.listen:
            listener = ListenerService(_endpoint(reactor, description), self.factory, description)
            listener.setServiceParent(self)
            self.listeners.append(listener)
        self._add_admin()

    # -- composition --------------------------------------------------------------------

    def _add_admin(self) -> None:
        if not self.config.admin.listen:
            return
        from docval.admin import make_admin_service

        for i, description in enumerate(self.config.admin.listen):
            service = make_admin_service(
                description, self.metrics, self.health, reactor=self.reactor,
                jwks=self.signer.jwks() if self.signer is not None else None,
            )
            if i:
                service.setName(f"docval-admin-{i}")   # service names must be unique in a parent
            service.setServiceParent(self)

    def _offload(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Runs CPU-heavy verification in the reactor's thread pool."""
        from twisted.internet.threads import deferToThreadPool

        return deferToThreadPool(self.reactor, self.reactor.getThreadPool(), fn, *args)

    def health(self) -> tuple[bool, dict]:
        listening = all(listener.port is not None for listener in self.listeners)
        loaded = self.trust is not None and self.trust.count > 0
        details = {
            "listening": listening,
            "trust_store_loaded": loaded,
            "trust_store_version": getattr(self.trust, "version", None),
            "sessions": len(self.factory.sessions),
        }
        return listening and loaded, details

    # -- trust store ----------------------------------------------------------------------

    def _trust_loaded(self) -> None:
        store = self.trust
        problems = getattr(store, "problems", [])
        _log.info(
            "trust store {version}: {count} CSCA certificates, {crls} CRLs, {problems} problem(s)",
            version=store.version, count=store.count, crls=len(getattr(store, "crls", [])),
            problems=len(problems),
        )
        for problem in problems:
            _log.warn("trust store: {path}: {reason}", path=problem.path, reason=problem.reason)
        if store.count == 0:
            _log.warn("trust store has no CSCA certificates: Passive Authentication will fail")
        if self.config.trust.demo_csca:
            _log.warn("trusting the DEMO CSCA of the virtual passport: for testing only")
        set_trust = getattr(self.metrics, "set_trust_store", None)
        if set_trust is not None:
            set_trust(store.count, store.version)
        watch_crls = getattr(self.metrics, "watch_crls", None)
        if watch_crls is not None and hasattr(store, "stale_crls"):
            watch_crls(store)

    def reload_trust(self) -> Any:
        """Loads the trust anchors again off the reactor thread and swaps them in.

        Fires when done.  A failed load keeps the old store.
        """
        from twisted.internet.threads import deferToThreadPool

        if self._reloading is not None:
            return self._reloading
        d = deferToThreadPool(self.reactor, self.reactor.getThreadPool(), self._trust_loader, self.config.trust)

        def swap(store: Any) -> None:
            self.trust = store
            self._trust_loaded()

        def failed(failure: Any) -> None:
            _log.failure("trust store reload failed; keeping the previous store", failure)

        def done(result: Any) -> Any:
            self._reloading = None
            return result

        d.addCallbacks(swap, failed).addBoth(done)
        self._reloading = d
        return d

    def _on_sighup(self, signum: int, frame: Any) -> None:
        self.reactor.callFromThread(self.reload_trust)

    def startService(self) -> None:
        super().startService()
        interval = self.config.trust.reload_interval
        if interval > 0:
            from twisted.internet import task

            self._reload_loop = task.LoopingCall(self.reload_trust)
            self._reload_loop.clock = self.clock
            self._reload_loop.start(interval, now=False).addErrback(
                lambda f: _log.failure("trust reload timer stopped", f)
            )
        if hasattr(signal, "SIGHUP"):
            try:
                self._previous_sighup = signal.signal(signal.SIGHUP, self._on_sighup)
                self._sighup_installed = True
            except ValueError:
                pass   # not the main thread: no signals there
        _log.info(
            "DocVal started: {clients} client(s), timeouts start={start}s apdu={apdu}s session={session}s",
            clients=len(self.config.clients), start=self.config.timeouts.start_message,
            apdu=self.config.timeouts.apdu_response, session=self.config.timeouts.max_session,
        )

    def stopService(self) -> Any:
        from twisted.internet import defer

        if self._reload_loop is not None and self._reload_loop.running:
            self._reload_loop.stop()
        self._reload_loop = None
        if self._sighup_installed:
            previous = self._previous_sighup
            try:
                signal.signal(signal.SIGHUP, previous if previous is not None else signal.SIG_DFL)
            except ValueError:
                pass
            self._sighup_installed = False
        d = defer.maybeDeferred(super().stopService)
        d.addBoth(lambda _: self.poster.close())
        return d


def _load_signer(config: Any) -> Any:
    """The result-signing key of ``[signing] key_file``, or None.

    When a client asks for signed results, a key that cannot be used stops start-up
    with one line: the server would otherwise fail every session of that client.
    Without such a client the key only feeds /jwks.json, so a problem is a warning
    (e.g. the shipped configuration on a machine where no key was created yet).
    """
    key_file = getattr(getattr(config, "signing", None), "key_file", None)
    if key_file is None:
        return None
    from docval.signing import SigningKeyError, load_signer

    try:
        signer = load_signer(key_file)
    except SigningKeyError as e:
        if any(client.sign_returned_result for client in config.clients):
            raise SystemExit(f"docval: [signing] key_file: {e}") from None
        _log.warn("[signing] key_file: {problem}; no client signs results, continuing without "
                  "the key (/jwks.json is not served)", problem=str(e))
        return None
    _log.info("result signing key loaded: kid {kid}", kid=signer.kid)
    return signer


def _endpoint(reactor: Any, description: str) -> Any:
    from docval.endpoints import server_endpoint

    try:
        return server_endpoint(reactor, description)
    except ValueError as e:   # EndpointError and Twisted's own parse errors
        raise SystemExit(f"docval: cannot listen on {description!r}: {e}") from None


def makeService(options: Options) -> MultiService:
    config = options.config
    if config is None:   # called without parseOptions (tests)
        options.postOptions()
        config = options.config
    return DocValService(config)
