"""[server] max_connections_per_address: sockets count from accept, handshake or not, so one
host holding its maximum cannot lock anyone else out (W7/W8); real sockets from two loopback
addresses."""
from __future__ import annotations

import socket
import time
from dataclasses import replace

import pytest_twisted
from twisted.internet import reactor, task
from twisted.internet.threads import deferToThread

from docval.config import ServerConfig, parse_config
from docval.ws.factory import ValidateServerFactory
from tests.ws.harness import make_config

LIMIT = 3
UPGRADE = (b"GET /ws1/validate HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")


def _connect(source: str, port: int) -> socket.socket:
    s = socket.socket()
    s.settimeout(5)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def _closed_at_once(s: socket.socket) -> bool:
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        return False


def _upgrades(s: socket.socket) -> bool:
    s.sendall(UPGRADE)
    return s.recv(12) == b"HTTP/1.1 101"


@pytest_twisted.ensureDeferred
async def test_one_address_at_its_maximum_does_not_lock_out_another():
    config = make_config()
    config = replace(config, server=replace(config.server, max_connections_per_address=LIMIT))
    factory = ValidateServerFactory(config, reactor=reactor, trust=lambda: None)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    number = port.getHost().port
    held: list[socket.socket] = []
    try:
        # LIMIT sockets from 127.0.0.1 that never send a handshake
        for _ in range(LIMIT):
            held.append(await deferToThread(_connect, "127.0.0.1", number))
        for _ in range(100):
            if factory.connections_per_address.get("127.0.0.1") == LIMIT:
                break
            await task.deferLater(reactor, 0.01, lambda: None)
        assert factory.connections_per_address == {"127.0.0.1": LIMIT}

        one_more = await deferToThread(_connect, "127.0.0.1", number)
        held.append(one_more)
        assert await deferToThread(_closed_at_once, one_more)

        other = await deferToThread(_connect, "127.0.0.2", number)
        held.append(other)
        assert await deferToThread(_upgrades, other)
        assert factory.connections_per_address["127.0.0.2"] == 1

        # a slot freed by the first host is usable again
        held[0].close()
        for _ in range(100):
            if factory.connections_per_address.get("127.0.0.1") == LIMIT - 1:
                break
            await task.deferLater(reactor, 0.01, lambda: None)
        again = await deferToThread(_connect, "127.0.0.1", number)
        held.append(again)
        assert await deferToThread(_upgrades, again)
    finally:
        for s in held:
            s.close()
        await port.stopListening()
        deadline = time.monotonic() + 5
        while factory.connections_per_address and time.monotonic() < deadline:
            await task.deferLater(reactor, 0.02, lambda: None)
    assert factory.connections_per_address == {}


def test_the_default_is_off_behind_a_local_proxy_and_on_when_reachable():
    assert ServerConfig().per_address_limit() == 0
    assert ServerConfig(listen=("tcp:443",)).per_address_limit() == 50
    assert ServerConfig(listen=("tcp:443",), max_connections_per_address=0).per_address_limit() == 0
    parsed = parse_config({"server": {"max_connections_per_address": 7}, "trust": {"demo_csca": True},
                           "client": [{"client_id": "x"}]})
    assert parsed.server.per_address_limit() == 7
