"""The pieces both benchmarks share: the real server in this process, counted.

The server is :class:`docval.tap.DocValService` — the object ``twistd docval``
runs — listening on an ephemeral loopback port with the built-in demo
configuration (the demo client, trusting the demo CSCA).  Only the reader is
wrapped, through the service's ``read_document`` hook, to count what crosses
the relay and, for the comparison, to switch the read strategy to the classic
one.  That switch is a benchmark option, not a configuration key.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Awaitable, Callable

if __package__ in (None, ""):   # imported by a script run as ``python bench/x.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docval.config import AdminConfig, ServerConfig, Timeouts, default_config  # noqa: E402
from docval.sim.phone import PhoneOptions, access_key_json, run_phone  # noqa: E402

REFERENCE_PROFILE = "pace-ecdh-gm-aes128"


@dataclass
class Counts:
    """What one session moved over the relay, seen from the server."""

    round_trips: int = 0
    apdus: int = 0
    bytes_to_phone: int = 0
    bytes_from_phone: int = 0


class CountingTransport:
    """Wraps the session's relay: one ``transmit_many`` call is one network round trip."""

    def __init__(self, inner: Any, counts: Counts):
        self._inner = inner
        self.counts = counts

    def transmit_many(self, apdus: list[bytes]) -> Awaitable[list[bytes]]:
        c = self.counts
        c.round_trips += 1
        c.apdus += len(apdus)
        c.bytes_to_phone += sum(len(a) for a in apdus)
        d = self._inner.transmit_many(apdus)

        def received(responses: list[bytes]) -> list[bytes]:
            c.bytes_from_phone += sum(len(r) for r in responses)
            return responses

        return d.addCallback(received)


@dataclass
class ServerStats:
    """Counts of every session the server ran, in start order."""

    sessions: list[Counts] = field(default_factory=list)
    reader_cpu: list[float] = field(default_factory=list)   # thread CPU seconds in the reader


class SeededRng:
    """A repeatable byte stream in place of os.urandom, for the capacity benchmark only:
    with it every session sends the same commands, so a phone can replay one recorded
    chip transcript instead of computing the chip's side (the server still does all
    of its own work).  Never used outside the benchmarks."""

    def __init__(self, seed: bytes = b"docval-bench"):
        self._seed = seed
        self._counter = 0

    def __call__(self, n: int) -> bytes:
        import hashlib

        out = b""
        while len(out) < n:
            out += hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
        return out[:n]


def counting_reader(stats: ServerStats, *, classic: bool = False,
                    seeded: bool = False) -> Callable[..., Awaitable[Any]]:
    """A ``read_document`` for the service: the real reader, counted, optionally classic."""
    from docval.prefetch import Scheduler
    from docval.reader import read_document

    from bench.classic import ClassicScheduler

    async def read(transport: Any, params: Any, progress: Callable[[str], None]) -> Any:
        counts = Counts()
        stats.sessions.append(counts)
        if len(stats.sessions) > 10000:   # long capacity runs: keep memory flat
            del stats.sessions[:5000]
        if seeded:
            params = replace(params, rng=SeededRng())
        return await read_document(CountingTransport(transport, counts), params, progress,
                                   scheduler=ClassicScheduler if classic else Scheduler)

    return read


def start_server(reactor: Any, *, classic: bool = False, stats: ServerStats | None = None,
                 max_connections: int = 1000, timeouts: Timeouts | None = None, seeded: bool = False) -> tuple[Any, str, ServerStats]:
    """The real service on 127.0.0.1:<ephemeral>; returns (service, ws URL, stats)."""
    from docval.tap import DocValService

    stats = stats if stats is not None else ServerStats()
    base = default_config()
    config = replace(
        base,
        server=ServerConfig(listen=("tcp:0:interface=127.0.0.1",), max_connections=max_connections),
        admin=AdminConfig(listen=()),
        trust=replace(base.trust, reload_interval=0),
        timeouts=timeouts or base.timeouts,
    )
    service = DocValService(config, reactor, read_document=counting_reader(stats, classic=classic, seeded=seeded))
    service.startService()
    port = service.listeners[0].port.getHost().port
    return service, f"ws://127.0.0.1:{port}/ws1/validate", stats


@dataclass(frozen=True)
class Scenario:
    """A phone's capabilities as its StartMessage declares them, and the server's strategy."""

    name: str
    extended_length: bool
    max_response_bytes: int | None = None
    max_pipelined_apdus: int | None = None
    classic: bool = False

    def options(self, profile: Any, *, rtt: float, chip_time: float) -> PhoneOptions:
        return PhoneOptions(
            access_key=access_key_json(profile.access_key),
            extended_length=self.extended_length,
            max_response_bytes=self.max_response_bytes,
            max_pipelined_apdus=self.max_pipelined_apdus,
            return_result=True,
            delay=rtt / 2,
            chip_time=chip_time,
        )


SCENARIOS = (
    Scenario("classic", extended_length=False, classic=True),
    Scenario("android", extended_length=False),
    Scenario("ios-1024", extended_length=True, max_response_bytes=1024),
    Scenario("ios-atr-info", extended_length=True),
    Scenario("android-pipe16", extended_length=False, max_pipelined_apdus=16),
    Scenario("ios-1024-pipe16", extended_length=True, max_response_bytes=1024, max_pipelined_apdus=16),
)


@dataclass
class PhoneRun:
    record: Any
    seconds_to_result: float | None   # from connecting to the DONE status


def phone_session(reactor: Any, url: str, chip: Any, options: PhoneOptions) -> Any:
    """Deferred firing with a :class:`PhoneRun` once the server closed the session."""
    t0 = time.monotonic()
    done_at: list[float] = []

    def on_status(status: str) -> None:
        if status == "DONE":
            done_at.append(time.monotonic())

    d = run_phone(url, chip, options, reactor=reactor, on_status=on_status)
    return d.addCallback(lambda record: PhoneRun(record, done_at[0] - t0 if done_at else None))


def print_report(measure: Callable[[Any, Any], Awaitable[dict]], format_report: Callable[[dict], str],
                 args: Any) -> int:
    """Runs ``measure`` on a fresh reactor, prints its report and writes ``--json`` if asked."""
    import json

    from twisted.internet import defer, task

    async def body(reactor: Any) -> None:
        report = await measure(reactor, args)
        print(format_report(report))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n")

    task.react(lambda reactor: defer.ensureDeferred(body(reactor)), [])
    return 0
