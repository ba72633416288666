"""The HTTP side of the endpoint over real sockets (docs/websocket-api.md): the handshake path, no
banner or status page, the connection limit, and several listening endpoints."""
from __future__ import annotations

import base64
import os

import pytest_twisted
from twisted.internet import defer, protocol

from docval.sim import profiles

from .stack import POSTING, RETURNING, wait_until


class RawHTTP(protocol.Protocol):
    """Sends one request and collects the answer's head (then hangs up)."""

    def __init__(self, request: bytes):
        self.request = request
        self.data = b""
        self.done: defer.Deferred = defer.Deferred()

    def connectionMade(self):
        self.transport.write(self.request)

    def dataReceived(self, data):
        self.data += data
        if b"\r\n\r\n" in self.data and not self.done.called:
            self.done.callback(self.data)
            self.transport.abortConnection()

    def connectionLost(self, reason=None):
        if not self.done.called:
            self.done.callback(self.data)


async def http(reactor, port: int, path: str, upgrade: bool = True) -> bytes:
    headers = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if upgrade:
        key = base64.b64encode(os.urandom(16)).decode()
        headers += ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                    "Sec-WebSocket-Version: 13"]
    raw = RawHTTP(("\r\n".join(headers) + "\r\n\r\n").encode())
    await protocol.ClientCreator(reactor, lambda: raw).connectTCP("127.0.0.1", port)
    return await raw.done


def status_line(answer: bytes) -> bytes:
    return answer.split(b"\r\n", 1)[0]


@pytest_twisted.ensureDeferred
async def test_handshake_paths_banner_and_status_page(make_stack, reactor):
    stack = make_stack()
    ok = await http(reactor, stack.port, "/ws1/validate?return_result=true")
    assert status_line(ok) == b"HTTP/1.1 101 Switching Protocols"
    for path in ("/ws1/validate/", "/ws1/other", "/ws2/validate/", "/ws3/validate", "/", "/ws1/VALIDATE"):
        answer = await http(reactor, stack.port, path)
        assert status_line(answer).startswith(b"HTTP/1.1 404"), path
    plain = await http(reactor, stack.port, "/", upgrade=False)
    assert not status_line(plain).startswith(b"HTTP/1.1 2")
    for answer in (ok, plain):
        head = answer.split(b"\r\n\r\n")[0].lower()
        assert b"\r\nserver:" not in head and b"autobahn" not in answer.lower()
    await wait_until(reactor, lambda: not stack.factory.sessions)


@pytest_twisted.ensureDeferred
async def test_connections_beyond_the_limit_are_refused_and_the_slots_come_back(make_stack, reactor):
    stack = make_stack(max_connections=2, timeouts={"start_message": 1})
    waiting = [stack.phone(client_id=POSTING, silent=True) for _ in range(2)]
    await wait_until(reactor, lambda: len(stack.factory.sessions) == 2)
    refused = await http(reactor, stack.port, "/ws1/validate")
    assert status_line(refused).startswith(b"HTTP/1.1 503")
    for trace in await defer.gatherResults(waiting):
        trace.assert_closed_by_server(1001, "TIMEOUT_WHILE_WAITING_FOR_START_MESSAGE")
    await wait_until(reactor, lambda: stack.factory.countConnections == 0)
    trace = await stack.phone(client_id=RETURNING, return_result=True)
    trace.assert_closed_by_server(1000, None)


@pytest_twisted.ensureDeferred
async def test_every_configured_endpoint_serves(make_stack):
    stack = make_stack(listen=["tcp:0:interface=127.0.0.1", "tcp:0:interface=127.0.0.1"])
    ports = [listener.port.getHost().port for listener in stack.service.listeners]
    assert len(set(ports)) == 2
    for port in ports:
        stack.url = f"ws://127.0.0.1:{port}/ws1/validate"
        trace = await stack.phone("td1-idcard", client_id=POSTING)
        trace.assert_closed_by_server(1000, None)
    assert len(stack.results.posts) == 2
    assert {p.body["emrtd_passport"]["mrz_info"]["document_number"] for p in stack.results.posts} == {
        profiles.ID_CARD_NUMBER}
