"""200 sessions of mixed outcomes in one process leave no session, timer, post or
connection behind (in memory on a task.Clock, and over real sockets)."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest_twisted
from twisted.internet import defer, task
from twisted.web import resource, server

from docval.config import ClientConfig, Config, ServerConfig, Timeouts, TrustConfig
from docval.errors import ResultPostFailed
from docval.metrics import Metrics
from docval.poster import PostOutcome, ResultPoster
from docval.sim import profiles
from docval.sim.phone import PhoneOptions, access_key_json, run_phone
from docval.tap import DocValService
from tests.support.readers import SwitchableReader

from .harness import DROP, POST_CLIENT, FakePoster, Harness, RawClientFactory, scripted_reader, start_message

RR = "/ws1/validate?return_result=true"


def in_memory_session(h: Harness, i: int):
    kind = i % 8
    if kind == 0:
        return h.raw(start_message(), path=RR), 0
    if kind == 1:
        return h.raw(start_message(client_id=POST_CLIENT, validation_id=f"ok-{i}")), 0
    if kind == 2:
        return h.raw(start_message(client_id=POST_CLIENT, validation_id=f"fail-{i}")), 0
    if kind == 3:
        return h.raw(start_message(client_id="nobody"), path=RR), 0
    if kind == 4:
        return h.raw(start_message(), path=RR, answer=lambda a: None), 16   # response timeout
    if kind == 5:
        return h.raw(), 11                                                   # start timeout
    if kind == 6:
        return h.raw(start_message(), path=RR, answer=lambda a: DROP), 0    # phone leaves
    return h.raw(start_message(), path=RR, answer=lambda a: (b"{}", False)), 0   # unexpected text


def test_200_sessions_in_memory():
    def outcome():
        # Alternate success and failure of the Result Server.
        outcome.n += 1
        if outcome.n % 2:
            return PostOutcome(1, 200)
        raise ResultPostFailed("result server: HTTP 500")
    outcome.n = 0

    h = Harness(poster=FakePoster(outcome=outcome))
    closes = {}
    for i in range(200):
        conn, wait = in_memory_session(h, i)
        h.run(conn, wait, step=1.0)
        h.run(conn, 2.0, step=0.5)      # close handshakes
        reason = conn.closed[2] if conn.closed else "open"
        closes[reason] = closes.get(reason, 0) + 1
    assert h.metrics.started == 200 and len(h.metrics.finished) == 200
    assert set(closes) >= {None, "INVALID_CLIENT_ID", "TIMEOUT_WHILE_WAITING_FOR_RESPONSE",
                           "TIMEOUT_WHILE_WAITING_FOR_START_MESSAGE", "UNEXPECTED_MESSAGE",
                           "POST_TO_RESULT_SERVER_FAILED"}
    assert "open" not in closes
    h.assert_clean()
    assert h.factory.countConnections == 0


class Results(resource.Resource):
    isLeaf = True

    def __init__(self):
        super().__init__()
        self.count = 0

    def render_POST(self, request):
        self.count += 1
        body = json.loads(request.content.read())
        request.setResponseCode(500 if body["client_validation_id"].startswith("fail") else 200)
        return b""


@pytest_twisted.ensureDeferred
async def test_200_sessions_over_sockets():
    from twisted.internet import reactor

    before = set(reactor.getDelayedCalls())
    results = Results()
    result_port = reactor.listenTCP(0, server.Site(results), interface="127.0.0.1")
    config = Config(
        server=ServerConfig(listen=("tcp:0:interface=127.0.0.1",)),
        timeouts=replace(Timeouts(), start_message=1.0, apdu_response=1.0),
        trust=TrustConfig(demo_csca=True, reload_interval=0),
        clients=(ClientConfig(client_id="YOUR CLIENT ID"),
                 ClientConfig(client_id=POST_CLIENT,
                              result_url=f"http://127.0.0.1:{result_port.getHost().port}/")),
    )
    metrics = Metrics()
    reader = SwitchableReader(scripted_reader())
    service = DocValService(config, reactor, metrics=metrics, read_document=reader,
                            poster=ResultPoster(reactor, backoff=lambda n: 0.01, metrics=metrics))
    service.startService()
    port = service.listeners[0].port.getHost().port
    url = f"ws://127.0.0.1:{port}"

    def raw(first=None, answer=None, path=RR):
        from .harness import chip_echo

        if isinstance(first, dict):
            first = (json.dumps(first).encode(), False)
        factory = RawClientFactory(url + path, reactor, first, answer or chip_echo)
        done = defer.Deferred()

        class Client(factory.protocol):
            def onClose(self, wasClean, code, reason):
                super().onClose(wasClean, code, reason)
                done.callback(reason)

        factory.protocol = Client
        reactor.connectTCP("127.0.0.1", port, factory)
        return done

    real = profiles.get_profile("pace-ecdh-gm-aes128")

    def session(i):
        kind = i % 8
        if kind == 0:
            return raw(start_message())
        if kind == 1:
            return raw(start_message(client_id=POST_CLIENT, validation_id=f"ok-{i}"), path="/ws1/validate")
        if kind == 2:
            return raw(start_message(client_id=POST_CLIENT, validation_id=f"fail-{i}"), path="/ws1/validate")
        if kind == 3:
            return raw(start_message(client_id="nobody"))
        if kind == 4:
            return raw(start_message(), answer=lambda a: None)
        if kind == 5:
            return raw()
        if kind == 6:
            return raw(start_message(), answer=lambda a: DROP)
        return raw(start_message(), answer=lambda a: (b"{}", False))

    try:
        reasons = []
        for batch in range(5):
            reasons += await defer.gatherResults([session(batch * 40 + i) for i in range(40)])
        # And a few real chips through the real reader.
        reader.read = None
        for _ in range(3):
            record = await run_phone(url + "/ws1/validate", real.chip(),
                                     PhoneOptions(access_key=access_key_json(real.access_key),
                                                  return_result=True), reactor=reactor)
            assert record.close_code == 1000
        await task.deferLater(reactor, 0.1, lambda: None)
        assert service.factory.sessions == set() and service.factory.posts == set()
        assert service.factory.countConnections == 0
    finally:
        await service.stopService()
        await result_port.stopListening()
    assert len(reasons) == 200
    assert reasons.count("POST_TO_RESULT_SERVER_FAILED") == 25
    assert reasons.count("TIMEOUT_WHILE_WAITING_FOR_RESPONSE") == 25
    assert results.count == 25 + 25 * 4
    await task.deferLater(reactor, 1.2, lambda: None)   # Autobahn's own close timers
    assert set(reactor.getDelayedCalls()) - before == set()
