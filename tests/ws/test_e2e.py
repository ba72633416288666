"""Whole sessions over real sockets on 127.0.0.1: the twistd service (DocValService) with
the real reader, virtual phones, a real Result Server (twisted.web), the closes,
the captured log, and what is left after many sessions."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
import pytest_twisted
from twisted.internet import defer, task
from twisted.web import resource, server

from docval.config import ClientConfig, Config, ServerConfig, Timeouts, TrustConfig
from docval.metrics import Metrics
from docval.poster import ResultPoster
from docval.sim import profiles
from docval.sim.phone import PhoneOptions, access_key_json, run_phone
from docval.tap import DocValService
from tests.schema import check_emrtd_passport
from tests.support.readers import SwitchableReader

from .harness import RawClientFactory, start_message

POSTING = "posting-client"
RETURNING = "YOUR CLIENT ID"


class ResultServer(resource.Resource):
    isLeaf = True

    def __init__(self, statuses=()):
        super().__init__()
        self.statuses = list(statuses)
        self.bodies: list[dict] = []

    def render_POST(self, request):
        self.bodies.append(json.loads(request.content.read()))
        request.setResponseCode(self.statuses.pop(0) if self.statuses else 200)
        return b"{}"


class Stack:
    """DocValService on tcp:0 with a Result Server on tcp:0, torn down in order."""

    def __init__(self, reactor, result_statuses=(), **timeouts):
        self.reactor = reactor
        self.reader = SwitchableReader()
        self.results = ResultServer(result_statuses)
        self.result_port = reactor.listenTCP(0, server.Site(self.results), interface="127.0.0.1")
        url = f"http://127.0.0.1:{self.result_port.getHost().port}/results"
        self.config = Config(
            server=ServerConfig(listen=("tcp:0:interface=127.0.0.1",)),
            timeouts=replace(Timeouts(), **timeouts),
            trust=TrustConfig(demo_csca=True, reload_interval=0),
            clients=(ClientConfig(client_id=RETURNING), ClientConfig(client_id=POSTING, result_url=url)),
        )
        metrics = Metrics()
        # Fast retries keep the always-500 case short; the documented 3 s attempt timeout stays.
        poster = ResultPoster(reactor, backoff=lambda n: 0.05, metrics=metrics)
        self.service = DocValService(self.config, reactor, metrics=metrics, poster=poster,
                                     read_document=self.reader)
        self.service.startService()
        port = self.service.listeners[0].port.getHost().port
        self.url = f"ws://127.0.0.1:{port}/ws1/validate"

    async def stop(self):
        await self.service.stopService()
        await self.result_port.stopListening()

    def phone(self, profile_name="pace-ecdh-gm-aes128", **options):
        profile = profiles.get_profile(profile_name)
        opts = PhoneOptions(access_key=access_key_json(profile.access_key), **options)
        self.last_options = opts
        return run_phone(self.url, profile.chip(), opts, reactor=self.reactor)

    async def raw(self, first=None, answer=None, path="/ws1/validate?return_result=true"):
        """A hand-driven client; fires when it is closed."""
        if isinstance(first, dict):
            first = (json.dumps(first).encode(), False)
        factory = RawClientFactory("ws://127.0.0.1" + path, self.reactor, first, answer)
        closed = defer.Deferred()
        original = factory.protocol.onClose

        class Client(factory.protocol):
            def onClose(self, wasClean, code, reason):
                original(self, wasClean, code, reason)
                closed.callback(factory)

        factory.protocol = Client
        port = self.service.listeners[0].port.getHost().port
        self.reactor.connectTCP("127.0.0.1", port, factory)
        return await closed


@pytest.fixture
def reactor():
    from twisted.internet import reactor as r

    return r


def texts(factory):
    return [json.loads(p) for b, p in factory.messages if not b]


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
async def test_every_profile_posts_and_returns_the_same_result(reactor, name):
    stack = Stack(reactor)
    try:
        record = await stack.phone(name, client_id=POSTING, return_result=True)
    finally:
        await stack.stop()
    profile = profiles.get_profile(name)
    assert record.close_code == 1000 and record.close_message == {"close_code": 1000}
    assert record.statuses[-1] == "DONE" and record.statuses[-2] == "PASSIVE_AUTHENTICATION"
    (posted,) = stack.results.bodies
    assert posted["client_validation_id"] == stack.last_options.validation_id
    assert posted["emrtd_passport"] == record.result
    result = record.result
    check_emrtd_passport(result)
    mrz = result["mrz_info"]
    holder = profiles.HOLDER
    assert mrz["primary_identifier"] == holder["primary_identifier"]
    assert mrz["secondary_identifier"] == holder["secondary_identifier"]
    assert mrz["date_of_birth"] == holder["date_of_birth"] and mrz["gender"] == holder["gender"]
    assert mrz["date_of_expiry"] == profiles.DATE_OF_EXPIRY
    expected_number = getattr(profile.access_key, "document_number", None)
    if expected_number:
        assert mrz["document_number"] == expected_number
    assert result["access_control"] == profile.expect.access_control
    assert result["chip_authentication_result"] == profile.expect.chip_authentication
    assert result["active_authentication_result"] == profile.expect.active_authentication
    assert result["passive_authentication"] is profile.expect.passive_authentication


@pytest_twisted.ensureDeferred
async def test_pipelined_session_with_network_delay(reactor):
    stack = Stack(reactor)
    try:
        record = await stack.phone(return_result=True, max_pipelined_apdus=16, delay=0.005)
    finally:
        await stack.stop()
    assert record.close_code == 1000
    assert record.result["passive_authentication"] is True


@pytest_twisted.ensureDeferred
async def test_result_server_500_500_200(reactor):
    stack = Stack(reactor, result_statuses=[500, 500, 200])
    try:
        record = await stack.phone(client_id=POSTING)
    finally:
        await stack.stop()
    assert record.close_code == 1000 and record.statuses[-1] == "DONE"
    assert len(stack.results.bodies) == 3
    assert record.result is None     # return_result not asked


@pytest_twisted.ensureDeferred
async def test_result_server_always_500(reactor):
    stack = Stack(reactor, result_statuses=[500] * 10)
    try:
        record = await stack.phone(client_id=POSTING, return_result=True)
    finally:
        await stack.stop()
    assert (record.close_code, record.close_reason) == (1011, "POST_TO_RESULT_SERVER_FAILED")
    assert record.close_message == {"close_code": 1011, "close_reason": "POST_TO_RESULT_SERVER_FAILED"}
    assert "DONE" not in record.statuses and record.result is None
    assert len(stack.results.bodies) == 4


@pytest_twisted.ensureDeferred
async def test_result_server_400_is_not_retried(reactor):
    stack = Stack(reactor, result_statuses=[400, 200])
    try:
        record = await stack.phone(client_id=POSTING)
    finally:
        await stack.stop()
    assert record.close_reason == "POST_TO_RESULT_SERVER_FAILED"
    assert len(stack.results.bodies) == 1


@pytest_twisted.ensureDeferred
async def test_wrong_access_key_is_access_control_failed_and_nothing_posted(reactor):
    stack = Stack(reactor)
    profile = profiles.get_profile("pace-ecdh-gm-aes128")
    opts = PhoneOptions(access_key={"can": "000000"}, client_id=POSTING)
    try:
        record = await run_phone(stack.url, profile.chip(), opts, reactor=reactor)
        bac = profiles.get_profile("bac-3des")
        wrong = dict(access_key_json(bac.access_key), date_of_birth="010101")
        record2 = await run_phone(stack.url, bac.chip(), PhoneOptions(access_key=wrong, client_id=POSTING),
                                  reactor=reactor)
    finally:
        await stack.stop()
    for r in (record, record2):
        assert (r.close_code, r.close_reason) == (4403, "ACCESS_CONTROL_FAILED")
        assert r.close_message == {"close_code": 4403, "close_reason": "ACCESS_CONTROL_FAILED"}
    assert stack.results.bodies == []


@pytest_twisted.ensureDeferred
async def test_chip_that_vanishes_is_a_disconnect_and_nothing_posted(reactor):
    stack = Stack(reactor)
    profile = profiles.get_profile("pace-ecdh-gm-aes128")
    chip = profile.chip()
    calls = []

    class Vanishing:
        def transmit(self, apdu):
            calls.append(1)
            if len(calls) > 6:
                raise OSError("tag lost")
            return chip.transmit(apdu)

    opts = PhoneOptions(access_key=access_key_json(profile.access_key), client_id=POSTING)
    try:
        record = await run_phone(stack.url, Vanishing(), opts, reactor=reactor)
        await task.deferLater(reactor, 0.05, lambda: None)
        sessions = set(stack.service.factory.sessions)
    finally:
        await stack.stop()
    assert record.chip_error == "OSError"
    assert stack.results.bodies == [] and sessions == set()


# --- closes over real sockets ------------------------------------------------------------
# The three timeouts are tested on task.Clock (tests/ws/test_protocol.py) and, waited out
# for real from a configuration file, in tests/e2e/test_closes.py.

@pytest_twisted.ensureDeferred
async def test_real_unexpected_message_and_invalid_start(reactor):
    stack = Stack(reactor)
    try:
        f1 = await stack.raw((b"\x00\x01", True))
        f2 = await stack.raw({"client_id": "x"})
        f3 = await stack.raw(start_message(client_id="nobody"))
        f4 = await stack.raw(start_message(access_key={"can": "12"}))
        f5 = await stack.raw(start_message(), answer=lambda apdu: (b'{"status": "x"}', False))
        f6 = await stack.raw(start_message(), answer=lambda apdu: b"\x90\x00")
    finally:
        await stack.stop()
    assert f1.closed[1:] == (1008, "INVALID_START_MESSAGE")
    assert f2.closed[1:] == (1008, "INVALID_START_MESSAGE")
    assert f3.closed[1:] == (4401, "INVALID_CLIENT_ID")
    assert f4.closed[1:] == (1008, "INVALID_ACCESS_KEY_VALUES")
    assert f5.closed[1:] == (1008, "UNEXPECTED_MESSAGE")
    for f in (f1, f2, f3, f4, f5):
        assert texts(f)[-1] == {"close_code": f.closed[1], "close_reason": f.closed[2]}
    # A fake chip answering 9000 to everything gets past nothing: the close names the step.
    assert f6.closed[1] in (1011, 4403)


class Intercept:
    """A chip behind a phone that replaces the answers to some commands."""

    def __init__(self, inner, predicate, answer):
        self.inner, self.predicate, self.answer = inner, predicate, answer
        self.count = 0

    def transmit(self, apdu):
        self.count += 1
        if self.predicate(self.count, apdu):
            return self.answer
        return self.inner.transmit(apdu)


def _not_an_emrtd():
    return Intercept(profiles.get_profile("pace-ecdh-gm-aes128").chip(),
                     lambda n, a: a[1] == 0xA4 and a[2] == 0x04, b"\x6a\x82")


def _garbled_response():
    return Intercept(profiles.get_profile("pace-ecdh-gm-aes128").chip(), lambda n, a: n == 3, b"\x90")


def _dg1_denied():
    chip = profiles.get_profile("pace-ecdh-gm-aes128").chip()
    chip.denied_fids = frozenset({0x0101})
    return chip


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("make_chip, code, reason", [
    (_garbled_response, 1011, "COMMUNICATION_FAILED"),         # an R-APDU of one byte
    (_dg1_denied, 1011, "FILE_READ_ERROR"),                    # mandatory DG1 refused (6982)
    (_not_an_emrtd, 1011, "EMRTD_PASSPORT_READER_ERROR"),      # no eMRTD application (6A82)
])
async def test_chip_failures_by_their_real_cause(reactor, make_chip, code, reason):
    stack = Stack(reactor)
    profile = profiles.get_profile("pace-ecdh-gm-aes128")
    opts = PhoneOptions(access_key=access_key_json(profile.access_key), client_id=POSTING,
                        return_result=True)
    try:
        record = await run_phone(stack.url, make_chip(), opts, reactor=reactor)
    finally:
        await stack.stop()
    assert (record.close_code, record.close_reason) == (code, reason)
    assert record.close_message == {"close_code": code, "close_reason": reason}
    assert "DONE" not in record.statuses and record.result is None
    assert stack.results.bodies == []


# --- privacy and leaks --------------------------------------------------------------------

SECRETS = [
    profiles.PASSPORT_NUMBER, profiles.ID_CARD_NUMBER, profiles.CAN, profiles.DATE_OF_EXPIRY,
    profiles.HOLDER["primary_identifier"], profiles.HOLDER["date_of_birth"], "HAPPY",
]


@pytest_twisted.ensureDeferred
async def test_captured_log_has_no_personal_data(reactor, caplog_events):
    stack = Stack(reactor, result_statuses=[500, 200])
    faces = []
    try:
        for name in ("pace-ecdh-gm-aes128", "bac-3des", "td1-idcard", "tampered", "clone"):
            record = await stack.phone(name, client_id=POSTING, return_result=True)
            assert record.close_code == 1000
            faces.append(record.result["face_photo"])
        # Failures too: a wrong CAN, and a reader bug whose message quotes document data.
        profile = profiles.get_profile("td1-idcard")
        await run_phone(stack.url, profile.chip(), PhoneOptions(access_key={"can": "111111"},
                                                               client_id=POSTING), reactor=reactor)

        async def leaky(transport, params, progress):
            raise RuntimeError(f"bug near {profiles.PASSPORT_NUMBER} {profiles.CAN}")

        stack.reader.read = leaky
        await stack.phone(client_id=POSTING)
    finally:
        await stack.stop()
    log = "\n".join(caplog_events())
    assert "session" in log and "outcome=success" in log and "SERVER_ERROR" in log
    for secret in SECRETS:
        assert secret not in log, secret
    for face in faces:
        assert face[40:80] not in log
    # No APDU bytes: the SELECT of the eMRTD application would show its AID.
    assert "A0000002471001" not in log.upper() and "a0 00 00 02 47" not in log


@pytest_twisted.ensureDeferred
async def test_many_mixed_sessions_leave_nothing_behind(reactor):
    before = set(reactor.getDelayedCalls())
    stack = Stack(reactor, result_statuses=[200, 500, 200, 400] * 10, apdu_response=0.5, start_message=0.5)
    names = ["pace-ecdh-gm-aes128", "bac-3des", "td1-idcard", "pace-ecdh-cam-aes128"]
    try:
        runs = []
        for i in range(24):
            kind = i % 6
            if kind == 0:
                runs.append(stack.phone(names[i % 4], client_id=POSTING, return_result=True))
            elif kind == 1:
                runs.append(stack.phone(names[i % 4], return_result=True, max_pipelined_apdus=8))
            elif kind == 2:
                runs.append(defer.ensureDeferred(stack.raw(start_message(client_id="nobody"))))
            elif kind == 3:
                runs.append(defer.ensureDeferred(stack.raw(start_message(), answer=lambda a: None)))
            elif kind == 4:
                runs.append(defer.ensureDeferred(stack.raw()))
            else:
                runs.append(stack.phone(names[i % 4], client_id=POSTING))
        results = await defer.gatherResults(runs, consumeErrors=True)
        await task.deferLater(reactor, 0.2, lambda: None)
        factory = stack.service.factory
        assert factory.sessions == set() and factory.posts == set()
        assert factory.countConnections == 0
    finally:
        await stack.stop()
    assert len(results) == 24
    await task.deferLater(reactor, 1.2, lambda: None)   # Autobahn's own 1 s close timers
    assert set(reactor.getDelayedCalls()) - before == set()
