"""In-memory WebSocket sessions: the real server protocol and a real Autobahn client,
wired with ``twisted.test.iosim`` and driven on one ``task.Clock``."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Callable

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import defer, task
from twisted.internet.address import IPv4Address
from twisted.test import iosim

from docval.config import ClientConfig, Config, Timeouts, TrustConfig
from docval.result import Report
from docval.sim.phone import PhoneFactory, PhoneOptions
from docval.ws.factory import ValidateServerFactory
from docval.ws.timers import ClockTimer

RESULT_URL = "http://results.invalid/docval"
POST_CLIENT = "client-with-result-server"
RETURN_CLIENT = "YOUR CLIENT ID"
CAN = {"can": "153036"}


def make_config(**timeouts: float) -> Config:
    return Config(
        timeouts=replace(Timeouts(), **timeouts),
        trust=TrustConfig(demo_csca=True),
        clients=(
            ClientConfig(client_id=RETURN_CLIENT),
            ClientConfig(client_id=POST_CLIENT, result_url=RESULT_URL),
        ),
    )


def start_message(**overrides: Any) -> dict[str, Any]:
    msg = {
        "client_id": RETURN_CLIENT,
        "validation_id": "cf847daa-a548-4509-bdeb-4edd51aee448",
        "access_key": dict(CAN),
        "nfc_adapter_supports_extended_length": True,
        "platform": "android",
    }
    msg.update(overrides)
    return msg


class RecordingMetrics:
    def __init__(self) -> None:
        self.started = 0
        self.protocols: list[str] = []
        self.finished: list[tuple[str, str | None]] = []
        self.finished_protocols: list[str] = []
        self.steps: list[str] = []
        self.round_trips: list[float] = []
        self.posts: list[bool] = []

    def session_started(self, protocol: str) -> None:
        self.started += 1
        self.protocols.append(protocol)

    def session_finished(self, outcome: str, close_reason: str | None, protocol: str) -> None:
        self.finished.append((outcome, close_reason))
        self.finished_protocols.append(protocol)

    def step_duration(self, step: str, seconds: float) -> None:
        self.steps.append(step)

    def apdu_round_trip(self, seconds: float) -> None:
        self.round_trips.append(seconds)

    def post_attempt(self, ok: bool) -> None:
        self.posts.append(ok)


class FakePoster:
    """Records posts; each answer is a Deferred the test fires (or a scripted outcome)."""

    def __init__(self, outcome: Callable[[], Any] | None = None):
        self.posts: list[tuple[str, dict, str]] = []
        self.deliveries: list[dict[str, Any]] = []   # session_id and client of each post
        self.pending: list[defer.Deferred] = []
        self._outcome = outcome

    def post(self, url: str, emrtd: dict, validation_id: str, **delivery: Any) -> defer.Deferred:
        self.posts.append((url, emrtd, validation_id))
        self.deliveries.append(delivery)
        if self._outcome is not None:
            return defer.maybeDeferred(self._outcome)
        d: defer.Deferred = defer.Deferred()
        self.pending.append(d)
        return d


DROP = object()   # an ``answer`` that makes the client drop the TCP connection
SELECT = bytes.fromhex("00A4040C07A0000002471001")


def chip_echo(apdu: bytes) -> bytes:
    """A stand-in chip: answers every command with its INS byte and 9000."""
    return apdu[1:2] + b"\x90\x00"


def scripted_reader(statuses=("ACCESS_CONTROL", "READ_SOD", "READ_DG1", "PASSIVE_AUTHENTICATION"),
                    apdus_per_step: int = 1, pipelined: int = 1, seen: list | None = None,
                    fail: BaseException | None = None, hold: defer.Deferred | None = None):
    """A fake ``read_document``: one status, then APDUs through the transport, per step."""

    async def read(transport: Any, params: Any, progress: Callable[[str], None]) -> Report:
        if seen is not None:
            seen.append(params)
        if hold is not None:
            await hold
        for status in statuses:
            progress(status)
            for _ in range(apdus_per_step):
                batch = [SELECT] * pipelined
                responses = await transport.transmit_many(batch)
                assert responses == [b"\xA4\x90\x00"] * pipelined, responses
        if fail is not None:
            raise fail
        report = Report()
        report.errors.append("fake report")
        report.access_control = "PACE"
        return report

    return read


class RawClient(WebSocketClientProtocol):
    """A client that records everything and answers binary messages with ``factory.answer``."""

    def onOpen(self) -> None:
        self.factory.opened = True
        if self.factory.first is not None:
            payload, binary = self.factory.first
            self.sendMessage(payload, isBinary=binary)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        f = self.factory
        f.messages.append((isBinary, payload))
        if isBinary and f.answer is not None:
            answer = f.answer(payload)
            if answer is DROP:
                self.transport.loseConnection()
            elif isinstance(answer, tuple):
                self.sendMessage(answer[0], isBinary=answer[1])
            elif answer is not None:
                self.sendMessage(answer, isBinary=True)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        self.factory.closed = (wasClean, code, reason)

    # Parsed views of what the server sent ------------------------------------------------

    def texts(self) -> list[dict]:
        return [json.loads(p) for b, p in self.factory.messages if not b]


class RawClientFactory(WebSocketClientFactory):
    protocol = RawClient

    def __init__(self, url: str, clock: task.Clock, first: tuple[bytes, bool] | None,
                 answer: Callable[[bytes], bytes | None] | None):
        super().__init__(url=url, reactor=clock)
        self._batched_timer = ClockTimer(clock)
        self.first = first
        self.answer = answer
        self.opened = False
        self.messages: list[tuple[bool, bytes]] = []
        self.closed: tuple | None = None


@dataclass
class Conn:
    server: Any
    client: Any
    pump: iosim.IOPump
    client_factory: Any

    def flush(self) -> None:
        self.pump.flush()

    @property
    def texts(self) -> list[dict]:
        return [json.loads(p) for b, p in self.client_factory.messages if not b]

    @property
    def binaries(self) -> list[bytes]:
        return [p for b, p in self.client_factory.messages if b]

    @property
    def statuses(self) -> list[str]:
        return [t["status"] for t in self.texts if "status" in t]

    @property
    def closed(self) -> tuple | None:
        return self.client_factory.closed


class Harness:
    def __init__(self, config: Config | None = None, read_document=None, poster=None, signer=None,
                 trust: Any = "trust-store", offload: Any = None, **timeouts: float):
        self.clock = task.Clock()
        self.metrics = RecordingMetrics()
        self.poster = poster if poster is not None else FakePoster()
        self.config = config or make_config(**timeouts)
        self.factory = ValidateServerFactory(
            self.config,
            clock=self.clock,
            reactor=self.clock,
            metrics=self.metrics,
            poster=self.poster,
            read_document=read_document or scripted_reader(),
            trust=lambda: trust,
            offload=offload,
            signer=signer,
        )

    def _wire(self, client_factory: Any) -> Conn:
        addr = IPv4Address("TCP", "127.0.0.1", 8080)
        peer = IPv4Address("TCP", "127.0.0.1", 40000)
        server = self.factory.buildProtocol(peer)
        client = client_factory.buildProtocol(addr)
        st = iosim.FakeTransport(server, isServer=True, hostAddress=addr, peerAddress=peer)
        ct = iosim.FakeTransport(client, isServer=False, hostAddress=peer, peerAddress=addr)
        pump = iosim.connect(server, st, client, ct, greet=False)
        conn = Conn(server, client, pump, client_factory)
        conn.flush()
        return conn

    def raw(self, first: Any = None, *, path: str = "/ws1/validate",
            answer: Callable[[bytes], bytes | None] | None = chip_echo) -> Conn:
        """``first`` is sent right after the handshake: a dict (as JSON text) or (bytes, is_binary)."""
        if isinstance(first, dict):
            first = (json.dumps(first).encode(), False)
        factory = RawClientFactory("ws://127.0.0.1:8080" + path, self.clock, first, answer)
        return self._wire(factory)

    def phone(self, chip: Any, options: PhoneOptions, path: str = "/ws1/validate") -> Conn:
        factory = PhoneFactory("ws://127.0.0.1:8080" + path, chip, options, reactor=self.clock,
                               clock=self.clock)
        return self._wire(factory)

    def phone_v2(self, chip: Any, options: Any, protocol: Any = None, query: str = "") -> Conn:
        """The v2 virtual phone (docval.sim.phone_v2), optionally a hostile subclass."""
        from docval.sim.phone_v2 import PhoneV2Factory

        url = "ws://127.0.0.1:8080/ws2/validate" + query
        factory = PhoneV2Factory(url, chip, options, reactor=self.clock, clock=self.clock, protocol=protocol)
        return self._wire(factory)

    def run(self, conn: Conn, seconds: float = 0.0, step: float = 0.05) -> None:
        """Pump data and advance the clock in small steps."""
        conn.flush()
        elapsed = 0.0
        while elapsed < seconds:
            self.clock.advance(step)
            elapsed += step
            conn.flush()
        conn.flush()

    def assert_clean(self) -> None:
        """No session, timer or post is left behind."""
        assert self.factory.sessions == set()
        assert self.factory.posts == set()
        assert self.clock.getDelayedCalls() == [], self.clock.getDelayedCalls()
