"""twistd entry point: ``twistd -n docval [--config FILE] [--listen ENDPOINT]``.

``makeService`` composes a ``MultiService``: one WebSocket listener per endpoint
string, the admin endpoint (health and metrics) when configured, and the trust
store, reloaded on SIGHUP and on a timer.  A reload builds a new store and swaps
it in; sessions already running keep the store they started with.

Nothing here reads configuration or imports the reactor at import time: importing
``twisted.internet.reactor`` installs the default reactor, and whoever imports this module
(twistd, tests) chooses the reactor itself.  Listing the twistd plugins does not import
this module at all: twisted/plugins/docval_plugin.py only names it.
"""
from __future__ import annotations

import signal
from dataclasses import replace
from typing import Any, Callable

from twisted.application.service import MultiService
from twisted.internet import defer, task
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python import usage

from docval import __version__
from docval.admin import make_admin_service
from docval.config import ConfigError, check_demo, check_endpoint, default_config, load_config
from docval.endpoints import port_of
from docval.imaging import ImageDecoder
from docval.metrics import Metrics
from docval.poster import ResultPoster
from docval.signing import SigningKeyError, load_signer
# Start-up failures and the listeners live in docval.startup; tap.X keeps working for them.
from docval.startup import ConfigFileError as ConfigFileError
from docval.startup import ListenerService as ListenerService
from docval.startup import StartupError as StartupError
from docval.startup import cannot_listen as cannot_listen
from docval.startup import server_endpoint_or_exit
from docval.trustload import exposed_listener, holds_demo_csca
from docval.trustload import load_trust as load_trust
from docval.ws.factory import ValidateServerFactory

_log = Logger(namespace="docval.service")


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

    def opt_version(self) -> None:
        """Print DocVal's version and exit"""
        print(f"DocVal {__version__}")
        raise SystemExit(0)

    def opt_listen(self, endpoint: str) -> None:
        """Twisted endpoint string to listen on (repeatable); overrides [server] listen"""
        self["listen"].append(endpoint)

    def opt_admin(self, endpoint: str) -> None:
        """Endpoint for /healthz and /metrics (repeatable; 'none' for no admin endpoint; '+N' for 127.0.0.1 on the WebSocket port plus N); overrides [admin] listen"""
        self["admin"].append(endpoint)

    def postOptions(self) -> None:
        # Loaded here, not in makeService, so that a bad file is a one-line message
        # instead of a traceback.  Not a UsageError: Twisted 22.4's twistd prints those
        # and exits 0, and systemd would take a broken configuration for a clean stop.
        try:
            config = load_config(self["config"]) if self["config"] else default_config()
        except ConfigError as e:
            raise ConfigFileError(f"docval: {e}") from None
        try:
            if self["listen"]:
                listen = tuple(check_endpoint(e, "--listen") for e in self["listen"])
                config = replace(config, server=replace(config.server, listen=listen))
            if self["admin"]:
                # Instances of docval@.service share one config file but need an admin port each.
                admin = tuple(check_endpoint(relative_admin(e, config.server.listen), "--admin")
                              for e in self["admin"] if e.lower() != "none")
                config = replace(config, admin=replace(config.admin, listen=admin))
            check_demo(config)
        except ConfigError as e:
            raise ConfigFileError(f"docval: {e}") from None
        self.config = config


def relative_admin(value: str, listen: tuple[str, ...]) -> str:
    """``--admin +N``: the admin endpoint on 127.0.0.1 at the first WebSocket port plus N.

    docval@PORT instances share one configuration; each needs its own admin port, and a
    unit file can only paste text, not add: ``--admin +10000`` gives docval@8081 the admin
    port 18081 and docval@20000 30000, with a one-line error when the sum leaves 1-65535.
    """
    if not value.startswith("+"):
        return value
    offset = value[1:]
    if not offset.isdigit():
        raise ConfigError(f"--admin: {value!r}: '+N' needs a number, e.g. --admin +10000")
    port = port_of(listen[0]) if listen else None
    if port is None:
        raise ConfigError(f"--admin {value}: the first listen endpoint {listen[0] if listen else ''!r} "
                          "has no port to add to; give the admin endpoint in full")
    admin = int(port) + int(offset)
    if not 1 <= admin <= 65535:
        raise ConfigError(
            f"--admin {value}: WebSocket port {port} + {offset} = {admin} is out of range (1-65535): "
            f"use a WebSocket port up to {65535 - int(offset)} (docval@ instance names are ports)")
    return f"tcp:{admin}:interface=127.0.0.1"


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
        image_decoder: Any = None,
    ):
        super().__init__()
        if reactor is None:
            # Not at module top: importing it installs the default reactor (module docstring).
            from twisted.internet import reactor as _reactor
            reactor = _reactor
        if metrics is None:
            metrics = Metrics()
        self.config = config
        self.reactor = reactor
        self.clock = clock if clock is not None else reactor
        self.metrics = metrics
        self._trust_loader = trust_loader
        self.trust = trust_loader(config.trust)
        self._trust_loaded()
        exposed = exposed_listener(config)
        if exposed is not None and holds_demo_csca(self.trust):
            raise StartupError(
                "docval: the trust anchors include the demo CSCA of the virtual passport (its "
                f"private key ships with DocVal), but {exposed[0]} has {exposed[1]!r}, not on "
                "loopback: remove it from [trust] csca (docval-trust list --country UT)")
        if self.trust.count == 0 and not config.trust.allow_empty:
            # A mistyped [trust] csca path would otherwise run a server on which every
            # Passive Authentication fails.
            raise StartupError(
                "docval: no CSCA certificate could be loaded from [trust] csca "
                f"({', '.join(str(p) for p in config.trust.csca) or 'no paths'}): correct the paths, "
                "or set [trust] allow_empty = true to start without trust anchors")
        self._reloading: Any = None
        self._reload_loop: Any = None
        self._previous_sighup: Any = None
        self._sighup_installed = False
        self.signer = _load_signer(config)
        self.poster = poster or ResultPoster(reactor, metrics=metrics)
        # JPEG 2000 decoding holds the GIL: worker processes, bounded server-wide.
        self.decoder = image_decoder or ImageDecoder(reactor)
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
            decode_image=self.decoder.decode,
        )
        self.listeners: list[ListenerService] = []
        for description in config.server.listen:
            listener = ListenerService(server_endpoint_or_exit(reactor, description, "[server] listen"),
                                       self.factory, description)
            listener.setServiceParent(self)
            self.listeners.append(listener)
        self._add_admin()

    # -- composition --------------------------------------------------------------------

    def _add_admin(self) -> None:
        if not self.config.admin.listen:
            return
        for i, description in enumerate(self.config.admin.listen):
            try:
                service = make_admin_service(
                    description, self.metrics, self.health, reactor=self.reactor,
                    jwks=self.signer.jwks() if self.signer is not None else None,
                )
            except (ValueError, TypeError, LookupError) as e:
                raise StartupError(f"docval: cannot listen on {description!r} ([admin] listen): {e}") from None
            if i:
                service.setName(f"docval-admin-{i}")   # service names must be unique in a parent
            service.setServiceParent(self)

    def _offload(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Runs CPU-heavy verification in the reactor's thread pool."""
        return deferToThreadPool(self.reactor, self.reactor.getThreadPool(), fn, *args)

    def health(self) -> tuple[bool, dict]:
        listening = all(listener.port is not None for listener in self.listeners)
        loaded = self.trust is not None and self.trust.count > 0
        details = {
            "version": __version__,
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
        if self._reloading is not None:
            return self._reloading
        d = deferToThreadPool(self.reactor, self.reactor.getThreadPool(), self._trust_loader, self.config.trust)

        def swap(store: Any) -> None:
            exposed = exposed_listener(self.config)
            if exposed is not None and holds_demo_csca(store):
                _log.error("trust store reload refused: the new anchors include the demo CSCA of "
                           "the virtual passport and {key} is not on loopback; keeping the previous "
                           "store", key=exposed[0])
                return
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

    def privilegedStartService(self) -> None:
        _log.info("DocVal {version} starting", version=__version__)
        super().privilegedStartService()

    def startService(self) -> None:
        super().startService()
        interval = self.config.trust.reload_interval
        if interval > 0:
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
        d.addBoth(lambda _: self.decoder.stop())
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


def makeService(options: Options) -> MultiService:
    config = options.config
    if config is None:   # called without parseOptions (tests)
        options.postOptions()
        config = options.config
    return DocValService(config)
