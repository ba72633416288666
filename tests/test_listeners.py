"""docval.startup.ListenerService: Twisted's StreamServerEndpointService with DocVal's
one-line start-up errors, the bound port for health checks, and clean stop/restart."""
from __future__ import annotations

import socket

import pytest
import pytest_twisted
from twisted.internet import protocol, reactor
from twisted.internet.endpoints import TCP4ServerEndpoint

from docval.startup import ListenerService, StartupError


def listener(port: int = 0) -> ListenerService:
    return ListenerService(TCP4ServerEndpoint(reactor, port, interface="127.0.0.1"),
                           protocol.Factory.forProtocol(protocol.Protocol), f"tcp:{port}:interface=127.0.0.1")


def test_stopping_a_listener_that_never_started_is_a_no_op():
    service = listener()
    assert service.stopService() is None
    assert service.port is None and not service.running


def test_a_port_in_use_is_a_startup_error_naming_the_option():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        service = listener(s.getsockname()[1])
        with pytest.raises(StartupError, match=r"already in use.*\[server\] listen") as raised:
            service.privilegedStartService()
        assert raised.value.code.count("\n") == 0
        assert service.port is None


@pytest_twisted.inlineCallbacks
def test_listens_stops_and_listens_again():
    service = listener()
    service.privilegedStartService()
    service.startService()           # after privilegedStartService: no second bind
    first = service.port
    assert first is not None and first.getHost().port > 0
    yield service.stopService()
    assert service.port is None
    service.startService()           # a restart binds again
    try:
        assert service.port is not None and service.port is not first
    finally:
        yield service.stopService()
