"""Result posting (SPEC §5): treq stubs on a task.Clock, and a real twisted.web server."""
from __future__ import annotations

import json

import pytest
import pytest_twisted
from treq.testing import HasHeaders, RequestSequence, StringStubbingResource, StubTreq
from twisted.internet import defer, task
from twisted.web import resource, server

from docval.errors import ResultPostFailed
from docval.poster import PostOutcome, ResultPoster, encode_body

URL = "http://results.example/docval"
RESULT = {"passive_authentication": True, "errors": []}


class Scripted(resource.Resource):
    """Answers each POST with the next status of ``statuses`` (None: never answers)."""

    isLeaf = True

    def __init__(self, statuses):
        super().__init__()
        self.statuses = list(statuses)
        self.bodies = []
        self.headers = []

    def render_POST(self, request):
        self.bodies.append(request.content.read())
        self.headers.append(request.requestHeaders.getRawHeaders(b"content-type"))
        status = self.statuses.pop(0) if self.statuses else 200
        if status is None:
            return server.NOT_DONE_YET
        request.setResponseCode(status)
        if status in (301, 302):
            request.setHeader(b"location", b"http://elsewhere.example/")
        return b"ok"


class Metrics:
    def __init__(self):
        self.attempts = []

    def post_attempt(self, ok):
        self.attempts.append(ok)


def stub_poster(statuses, clock=None):
    res = Scripted(statuses)
    stub = StubTreq(res)
    clock = clock or task.Clock()
    metrics = Metrics()
    poster = ResultPoster(clock, clock=clock, http_client=stub, backoff=lambda n: 0.5 * 2 ** n,
                          metrics=metrics)
    return poster, res, stub, clock, metrics


def settle(stub, clock, seconds=20.0, step=0.25):
    stub.flush()
    t = 0.0
    while t < seconds:
        clock.advance(step)
        stub.flush()
        t += step


def result_of(d):
    out = []
    d.addBoth(out.append)
    return out


def test_body_and_headers():
    poster, res, stub, clock, metrics = stub_poster([200])
    out = result_of(poster.post(URL, RESULT, "vid-1"))
    settle(stub, clock, 0)
    assert out == [PostOutcome(attempts=1, status=200)]
    assert json.loads(res.bodies[0]) == {"emrtd_passport": RESULT, "client_validation_id": "vid-1"}
    assert res.headers[0] == [b"application/json"]
    assert metrics.attempts == [True]


@pytest.mark.parametrize("statuses, attempts", [
    ([500, 500, 200], 3), ([503, 200], 2), ([408, 429, 502, 204], 4), ([201], 1),
])
def test_retryable_statuses_then_success(statuses, attempts):
    poster, res, stub, clock, metrics = stub_poster(statuses)
    out = result_of(poster.post(URL, RESULT, "v"))
    settle(stub, clock)
    assert out == [PostOutcome(attempts=attempts, status=statuses[-1])]
    assert len(res.bodies) == attempts
    assert metrics.attempts == [False] * (attempts - 1) + [True]


def test_gives_up_after_three_retries():
    poster, res, stub, clock, metrics = stub_poster([500] * 10)
    out = result_of(poster.post(URL, RESULT, "v"))
    settle(stub, clock)
    assert len(res.bodies) == 4
    assert out[0].check(ResultPostFailed)
    assert metrics.attempts == [False] * 4


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 301, 302])
def test_other_statuses_fail_at_once(status):
    poster, res, stub, clock, metrics = stub_poster([status, 200])
    out = result_of(poster.post(URL, RESULT, "v"))
    settle(stub, clock)
    assert len(res.bodies) == 1
    assert out[0].check(ResultPostFailed)


def test_backoff_runs_on_the_clock():
    poster, res, stub, clock, metrics = stub_poster([500, 500, 200])
    out = result_of(poster.post(URL, RESULT, "v"))
    stub.flush()
    assert len(res.bodies) == 1
    clock.advance(0.49)
    stub.flush()
    assert len(res.bodies) == 1
    clock.advance(0.02)
    stub.flush()
    assert len(res.bodies) == 2
    clock.advance(1.0)
    stub.flush()
    assert len(res.bodies) == 3 and out[0] == PostOutcome(3, 200)


def test_attempt_timeout_is_three_seconds_then_retried():
    poster, res, stub, clock, metrics = stub_poster([None, 200])
    out = result_of(poster.post(URL, RESULT, "v"))
    stub.flush()
    clock.advance(2.9)
    stub.flush()
    assert out == [] and len(res.bodies) == 1
    clock.advance(0.2)       # 3 s: the attempt is abandoned
    settle(stub, clock, 2)
    assert len(res.bodies) == 2
    assert out == [PostOutcome(2, 200)]


def test_always_silent_server_fails_after_four_timeouts():
    poster, res, stub, clock, metrics = stub_poster([None] * 4)
    out = result_of(poster.post(URL, RESULT, "v"))
    settle(stub, clock, 4 * 3 + 0.5 + 1 + 2 + 1)
    assert len(res.bodies) == 4
    assert out[0].check(ResultPostFailed)
    assert clock.getDelayedCalls() == []


def test_cancel_stops_retrying():
    poster, res, stub, clock, metrics = stub_poster([500] * 4)
    d = poster.post(URL, RESULT, "v")
    out = result_of(d)
    stub.flush()
    d.cancel()
    settle(stub, clock)
    assert len(res.bodies) == 1
    assert out[0].check(defer.CancelledError)
    assert clock.getDelayedCalls() == []


def test_network_errors_are_retried():
    class Flaky:
        def __init__(self):
            self.calls = 0
            self.stub = StubTreq(Scripted([200]))

        def post(self, *args, **kwargs):
            self.calls += 1
            if self.calls < 3:
                from twisted.internet.error import ConnectionRefusedError
                return defer.fail(ConnectionRefusedError())
            return self.stub.post(*args, **kwargs)

    clock = task.Clock()
    flaky = Flaky()
    poster = ResultPoster(clock, clock=clock, http_client=flaky, backoff=lambda n: 0.1)
    out = result_of(poster.post(URL, RESULT, "v"))
    for _ in range(10):
        clock.advance(0.1)
        flaky.stub.flush()
    assert flaky.calls == 3 and out == [PostOutcome(3, 200)]


def test_request_sequence_sees_the_exact_request():
    body = encode_body(RESULT, "vid-9")
    seq = RequestSequence([
        ((b"post", URL, {}, HasHeaders({b"Content-Type": [b"application/json"]}), body),
         (200, {}, b"")),
    ])
    stub = StubTreq(StringStubbingResource(seq))
    clock = task.Clock()
    poster = ResultPoster(clock, clock=clock, http_client=stub)
    with seq.consume(pytest.fail):
        out = result_of(poster.post(URL, RESULT, "vid-9"))
        stub.flush()
    assert out == [PostOutcome(1, 200)]


def test_body_is_strict_json():
    with pytest.raises(ValueError):
        encode_body({"x": float("nan")}, "v")


# --- a real HTTP server on 127.0.0.1 -----------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_real_server_500_500_200_succeeds():
    outcome, res = await _real([500, 500, 200])
    assert outcome == PostOutcome(3, 200)
    assert len(res.bodies) == 3
    assert json.loads(res.bodies[-1])["client_validation_id"] == "real-1"


async def _real(statuses):
    from twisted.internet import reactor

    res = Scripted(statuses)
    port = reactor.listenTCP(0, server.Site(res), interface="127.0.0.1")
    poster = ResultPoster(reactor, backoff=lambda n: 0.01)
    url = f"http://127.0.0.1:{port.getHost().port}/results"
    try:
        try:
            outcome = await poster.post(url, RESULT, "real-1")
        except ResultPostFailed as e:
            outcome = e
        return outcome, res
    finally:
        await poster.close()
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_real_server_always_500_fails():
    outcome, res = await _real([500] * 10)
    assert isinstance(outcome, ResultPostFailed)
    assert len(res.bodies) == 4


@pytest_twisted.ensureDeferred
async def test_real_server_400_is_not_retried():
    outcome, res = await _real([400, 200])
    assert isinstance(outcome, ResultPostFailed)
    assert len(res.bodies) == 1


@pytest_twisted.ensureDeferred
async def test_real_server_connection_refused_is_retried_then_fails():
    from twisted.internet import reactor

    port = reactor.listenTCP(0, server.Site(Scripted([])), interface="127.0.0.1")
    number = port.getHost().port
    await port.stopListening()
    poster = ResultPoster(reactor, backoff=lambda n: 0.01)
    with pytest.raises(ResultPostFailed):
        await poster.post(f"http://127.0.0.1:{number}/", RESULT, "v")
    await poster.close()
