"""Why the server cannot start, as one line and exit status 1, and the listeners whose
bind failure is such a reason.

twistd prints a traceback for any other exception at start-up; operators need the cause
and the fix instead (port in use, unreadable TLS files, no trust anchors).  Each listener
is Twisted's ``StreamServerEndpointService``, told to raise a bind failure at once so
that start-up fails rather than a server running without its port.
"""
from __future__ import annotations

import errno
from typing import Any

from twisted.application.internet import StreamServerEndpointService
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort, IProtocolFactory, IStreamServerEndpoint
from twisted.logger import Logger

from docval.endpoints import server_endpoint

_log = Logger(namespace="docval.service")

SERVER_LISTEN = "[server] listen (or --listen)"


class ConfigFileError(SystemExit):
    """A bad configuration: the message goes to stderr and the process exits 1."""


class StartupError(SystemExit, Exception):
    """The server cannot start (port in use, no trust anchors): one line, exit status 1.

    A SystemExit, so ``twistd -n`` prints the message alone instead of a traceback; also an
    Exception, so daemonizing twistd passes it to the waiting parent through its status
    pipe (which only reports Exceptions) and the parent exits 1 with the message.
    """


def cannot_listen(description: str, error: BaseException, option: str) -> str:
    """One line for a listener that could not bind, with the fix."""
    socket_error = getattr(error, "socketError", None)
    code = getattr(socket_error or error, "errno", None)
    if code == errno.EADDRINUSE:
        why = "the port is already in use (another DocVal or another program)"
        fix = f"stop that program or choose another port in {option}"
    elif code == errno.EACCES:
        why = "permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)"
        fix = f"choose a port of 1024 or more in {option}, or see docs/operations.md"
    elif code == errno.EADDRNOTAVAIL:
        why = "the interface address is not on this machine"
        fix = f"correct the interface in {option}"
    else:
        why = str(socket_error or error).splitlines()[0] or type(error).__name__
        fix = f"check {option}"
    return f"docval: cannot listen on {description!r}: {why}: {fix}"


def server_endpoint_or_exit(reactor: Any, description: str, option: str) -> IStreamServerEndpoint:
    """The endpoint for ``description``; a StartupError naming ``option`` if it is unusable
    (bad TLS files, a keyword Twisted does not know)."""
    try:
        return server_endpoint(reactor, description)
    except (ValueError, TypeError, LookupError) as e:   # EndpointError and Twisted's own
        raise StartupError(f"docval: cannot listen on {description!r} ({option}): {e}") from None


class ListenerService(StreamServerEndpointService):
    """Listens on one endpoint; a bind failure at start-up is a StartupError.

    ``port`` is the listening port once bound (health checks, tests using port 0).
    """

    # Twisted then raises a failure of endpoint.listen() from privilegedStartService
    # instead of logging it; TCP and TLS ports bind synchronously.
    _raiseSynchronously = True

    def __init__(self, endpoint: IStreamServerEndpoint, factory: IProtocolFactory, description: str,
                 option: str = SERVER_LISTEN) -> None:
        super().__init__(endpoint, factory)
        self.description = description
        self.option = option
        self.port: IListeningPort | None = None

    def privilegedStartService(self) -> None:
        try:
            super().privilegedStartService()
        except Exception as e:
            raise StartupError(cannot_listen(self.description, e, self.option)) from None
        waiting: Deferred[IListeningPort] = self._waitingForPort
        waiting.addCallback(self._listening)

    def _listening(self, port: IListeningPort) -> IListeningPort:
        self.port = port
        _log.info("listening on {description}", description=self.description)
        return port

    def stopService(self) -> Deferred[None] | None:
        self.port = None
        if self._waitingForPort is None:     # never started: nothing to stop
            self.running = False
            return None
        stopped: Deferred[None] = super().stopService()
        self._waitingForPort = None          # so that a restart listens again
        return stopped
