"""200 real sessions of mixed outcomes in one process, through the real reader and real
virtual chips: afterwards no session, timer, connection or protocol object of DocVal's
is left, and memory stays roughly flat."""
from __future__ import annotations

import gc
import os
from collections import Counter

import pytest_twisted
from twisted.internet import defer, task
from twisted.logger import globalLogBeginner

from docval.result import Report
from docval.ws.protocol import ValidateServerProtocol
from docval.ws.relay import ApduRelay

from .stack import POSTING, RETURNING, wait_until

SESSIONS = 200
WARM_UP = 40
CONCURRENT = 20
NAMES = ["pace-ecdh-gm-aes128", "bac-3des", "td1-idcard", "pace-ecdh-cam-aes128"]


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def session(stack, i):
    """The i-th session: ten kinds of outcome, in turn."""
    kind = i % 10
    name = NAMES[(i // 10) % len(NAMES)]
    vid = f"soak-{i}"
    if kind == 0:
        return stack.phone(name, client_id=POSTING, validation_id=vid)
    if kind == 1:
        return stack.phone(name, client_id=RETURNING, return_result=True, validation_id=vid)
    if kind == 2:
        return stack.phone(name, client_id=RETURNING, return_result=True, max_pipelined_apdus=8, delay=0.002)
    if kind == 3:
        return stack.phone("td1-idcard", access_key={"can": "000000"}, client_id=POSTING)
    if kind == 4:
        return stack.phone(name, client_id="nobody", return_result=True)
    if kind == 5:
        return stack.phone(name, client_id=POSTING, silent=True)

    def mute(protocol, event):
        if event == ("status", "READ_SOD"):
            protocol.mute = True

    def vanish(protocol, event):
        if event == ("status", "READ_SOD"):
            protocol.transport.abortConnection()

    def chat(protocol, event):
        if event == ("status", "READ_DG1"):
            protocol.sendMessage(b"{}", isBinary=False)

    if kind == 6:
        return stack.phone(name, client_id=POSTING, hook=mute)
    if kind == 7:
        return stack.phone(name, client_id=POSTING, hook=vanish)
    if kind == 8:
        return stack.phone(name, client_id=POSTING, validation_id=f"refuse-{i}")
    return stack.phone(name, client_id=POSTING, hook=chat)


def docval_calls(reactor):
    """Pending timers set by DocVal or by Autobahn on DocVal's behalf."""
    out = []
    from twisted.web.client import HTTPConnectionPool

    for call in reactor.getDelayedCalls():
        if isinstance(getattr(call.func, "__self__", None), HTTPConnectionPool):
            continue   # the Result Server connection cache (docval.quietpool): ends with the pool
        func = getattr(call.func, "__func__", call.func)
        module = getattr(func, "__module__", "") or ""
        owner = getattr(getattr(call.func, "__self__", None), "__class__", type(None)).__module__
        if module.startswith(("docval", "autobahn")) or owner.startswith(("docval", "autobahn", "tests.e2e")):
            out.append(call)
    return out


def live(cls):
    return [o for o in gc.get_objects() if isinstance(o, cls)]


_LOGGING_BEGUN = []


def begin_logging_like_twistd():
    """Until someone begins logging, twisted.logger keeps the last 64k events in memory,
    and their log_source is the protocol that logged: every session would look leaked.
    twistd begins logging at start-up; so does this test (once per process)."""
    if not _LOGGING_BEGUN:
        globalLogBeginner.beginLoggingTo([lambda event: None], discardBuffer=True,
                                         redirectStandardIO=False)
        _LOGGING_BEGUN.append(True)


@pytest_twisted.ensureDeferred
async def test_200_mixed_sessions_leave_nothing_behind(make_stack, reactor):
    begin_logging_like_twistd()
    readers_before, writers_before = set(reactor.getReaders()), set(reactor.getWriters())
    calls_before = set(reactor.getDelayedCalls())
    # Short enough to wait out, long enough for a loaded two-core machine doing 20 PACEs at once.
    stack = make_stack(timeouts={"start_message": 0.5, "apdu_response": 1.5})
    stack.results.decide = lambda body: 400 if body["client_validation_id"].startswith("refuse") else 200
    stack.results.keep_bodies = False     # the test's own memory must stay flat too
    listening = set(reactor.getReaders())

    closes = Counter()
    rss = []
    # Up to 20 sessions at a time; a slow one (waiting for a timeout) does not hold up others.
    pool = defer.DeferredSemaphore(CONCURRENT)

    def count(trace):
        # The close reason as the server's close message gave it (None: the phone left first).
        message = trace.record.close_message
        closes[message and message.get("close_reason", "OK")] += 1

    for first, last in ((0, WARM_UP), (WARM_UP, SESSIONS)):
        await defer.gatherResults([pool.run(session, stack, i).addCallback(count) for i in range(first, last)])
        await task.deferLater(reactor, 0.2, lambda: None)
        gc.collect()
        rss.append(rss_bytes())

    factory = stack.factory
    # The last close handshakes; then nothing may be left.
    await wait_until(reactor, lambda: not factory.sessions and not factory.posts
                     and not factory.countConnections)
    # No WebSocket connection left: only the listening ports and the Result Server's
    # pooled HTTP connections (closed when the service stops) are still registered.
    ws_port = stack.port
    leftover = [r for r in set(reactor.getReaders()) - listening
                if getattr(r, "getHost", None) and ws_port in (r.getHost().port, r.getPeer().port)]
    assert leftover == []
    assert set(reactor.getWriters()) <= writers_before | set(reactor.getReaders())
    assert docval_calls(reactor) == []
    gc.collect()
    assert live(ValidateServerProtocol) == [] and live(ApduRelay) == [] and live(Report) == []
    # Memory: what 160 more sessions added after the warm-up (about 3 MiB as the allocator
    # settles; flat from a few hundred sessions on), far from the size of what they read.
    assert rss[-1] - rss[0] < 12 * 1024 * 1024, (rss[0], rss[-1])

    assert closes == Counter({
        "OK": 60, "ACCESS_CONTROL_FAILED": 20, "INVALID_CLIENT_ID": 20,
        "TIMEOUT_WHILE_WAITING_FOR_START_MESSAGE": 20, "TIMEOUT_WHILE_WAITING_FOR_RESPONSE": 20,
        # The phone left: it saw no close from the server.
        None: 20, "POST_TO_RESULT_SERVER_FAILED": 20, "UNEXPECTED_MESSAGE": 20,
    }), closes
    posted = Counter(b["client_validation_id"].split("-")[0] for b in stack.results.bodies)
    assert posted == Counter({"soak": 20, "refuse": 20})

    await stack.stop()
    # Stopped: the listening ports and pooled HTTP connections close, and every timer
    # goes (Autobahn's 1 s close-handshake timers at the latest).
    # A leak never goes; closing connections on a loaded machine may take a while, so the
    # bound is generous and a failure names what is still registered.
    try:
        await wait_until(reactor, lambda: set(reactor.getReaders()) == readers_before
                         and set(reactor.getWriters()) == writers_before, timeout=30)
    except AssertionError:
        left = (set(reactor.getReaders()) - readers_before) | (set(reactor.getWriters()) - writers_before)
        raise AssertionError(f"still registered after stop: {sorted(map(repr, left))}") from None
    await wait_until(reactor, lambda: not set(reactor.getDelayedCalls()) - calls_before, timeout=3)
