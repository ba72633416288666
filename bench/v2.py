"""The WebSocket API v2 side of the benchmarks: v2 phone scenarios and sessions.

A v2 phone (docval.sim.phone_v2) reads the chip itself and talks to the server only
around Chip Authentication, so the server cannot count its round trips the way the
v1 relay does: the phone counts them.  A *network round trip* is one time the phone
waited for the server: a server message (or burst of messages, e.g. FILE dg1 +
CA_HANDBACK) that arrived after the phone had sent something.  For the reference
document that is START/ACCEPT, one per relayed APDU (MSE:Set AT, GENERAL
AUTHENTICATE, READ BINARY of DG1 ...), the handback, and FINISH/RESULT.  The phone's
own chip reads cost chip time but no network time, so they are not round trips.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from docval.sim.phone_v2 import PhoneV2Factory, PhoneV2Options, PhoneV2Protocol


@dataclass(frozen=True)
class V2Scenario:
    """A v2 phone: platform and what its NFC adapter claims."""

    name: str
    platform: str
    extended_length: bool
    classic = False      # never the classic v1 strategy (bench.harness.Scenario has it)

    def options(self, profile: Any, *, rtt: float, chip_time: float) -> PhoneV2Options:
        return PhoneV2Options(access_key=profile.access_key, platform=self.platform,
                              extended_length=self.extended_length, send_result=True,
                              delay=rtt / 2, chip_time=chip_time)


V2_SCENARIOS = (
    V2Scenario("v2-android", platform="android", extended_length=False),   # short APDUs, JMRTD-like reads
    V2Scenario("v2-android-ext", platform="android", extended_length=True),   # an adapter with extended length
    V2Scenario("v2-ios", platform="iOS", extended_length=True),
)


def v2_url(v1_url: str) -> str:
    """The /ws2/validate URL of the server listening at a /ws1/validate URL."""
    return v1_url.replace("/ws1/validate", "/ws2/validate")


def verified(record: Any) -> bool:
    """The v2 RESULT fully verifies: a fast read that reads wrongly is worth nothing."""
    result = record.result or {}
    return bool(record.close_code == 1000 and record.phone_close is None
                and result.get("passiveAuthentication") is True
                and result.get("chipAuthenticationResult") == "SUCCESS"
                and result.get("activeAuthenticationResult") == "SUCCESS"
                and not result.get("errors"))


class BenchV2Protocol(PhoneV2Protocol):
    """The v2 phone, timing the server's turnaround and obeying a gate.

    A sample is the time from the phone sending something the server must answer
    within the relay (CA_HANDOVER, an APDU response) to the server's next message.
    The gate holds the phone right after ACCEPT, before it reads: the server then
    holds a session waiting for the phone, as while an iOS user looks for the passport.
    """

    factory: "BenchV2Factory"
    # Hundreds of phones reading their chips in this one process are slow to serve their
    # own sockets: Android's 20 s handback limit would measure the benchmark, not the server.
    handback_timeout = 600.0

    def onOpen(self) -> None:
        self._last_send: float | None = None
        self._held_accept: Any = None
        super().onOpen()

    def _deliver(self, item: tuple[bytes, bool]) -> None:
        payload, binary = item
        super()._deliver(item)
        if (binary and payload[:1] == b"\x02") or payload.startswith(b'{"type": "CA_HANDOVER"'):
            self._last_send = time.monotonic()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self._last_send is not None and self.factory.samples is not None:
            self.factory.samples.append(time.monotonic() - self._last_send)
        self._last_send = None
        super().onMessage(payload, isBinary)

    def _on_accept(self, msg: dict[str, Any]) -> None:
        gate = self.factory.gate
        if gate is not None and gate.closed:
            self._held_accept = msg
            gate.hold(self)
            return
        super()._on_accept(msg)

    def release(self) -> None:
        msg, self._held_accept = self._held_accept, None
        if msg is not None and self._state != "closed":
            super()._on_accept(msg)


class BenchV2Factory(PhoneV2Factory):
    def __init__(self, *args: Any, samples: list[float] | None = None, gate: Any = None, **kwargs: Any):
        super().__init__(*args, protocol=BenchV2Protocol, **kwargs)
        self.samples = samples
        self.gate = gate


def start_phone_v2(reactor: Any, url: str, chip: Any, options: PhoneV2Options, *,
                   samples: list[float] | None = None, gate: Any = None) -> Any:
    """Deferred firing with the PhoneV2Record once the session is over."""
    from urllib.parse import urlsplit

    factory = BenchV2Factory(url, chip, options, reactor=reactor, samples=samples, gate=gate)
    factory.setProtocolOptions(openHandshakeTimeout=300)
    parts = urlsplit(url)
    reactor.connectTCP(parts.hostname, parts.port, factory, timeout=60)
    return factory.done
