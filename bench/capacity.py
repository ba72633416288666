"""Server capacity: CPU per session, sessions/s per core, memory per in-flight session,
and the latency the server adds per APDU while it holds N sessions.

    python bench/capacity.py [--sessions 1000] [--cpu-sessions 20] [--throughput-seconds 10]
                             [--concurrency 8] [--probes 10] [--rtt 50] [--chip-ms 10]
                             [--scenario android] [--json FILE]

The server is the real service (docval.tap.DocValService) in a child process of
its own, so its CPU time and memory are its own; it answers ``stats`` on stdin
with its process CPU time and RSS.  The phones run in this process.  To keep
them cheap enough that a 2-core machine measures the server and not the phones,
the server's random numbers come from a fixed seed (benchmark only): every
session then sends the same commands, and the phones replay one recorded
transcript of the reference chip instead of computing its side of PACE, CA, AA
and Secure Messaging.  The server still does all of its own work: key
agreement, Secure Messaging, parsing, Passive Authentication.

Phases: (1) CPU per completed session, sessions one at a time; (2) throughput
with ``--concurrency`` phones reading back to back; (3) ``--sessions`` phones
held mid-read (they stop answering at READ_DG2) for the memory per in-flight
session; (4) while they are held, ``--probes`` phones at ``--rtt``/``--chip-ms``
measure the server's turnaround per APDU (phone sends a response -> next command
arrives), against the same probes with nothing held; (5) the held sessions are
released at once and finish at full speed: the worst case, all N active.

``--scenario v2-android`` (or ``v2-ios``) measures WebSocket API v2 sessions on
/ws2/validate instead (:func:`measure_v2`): the same phases, but v2 phones read the
chip themselves, so they cannot replay a transcript: each one really runs PACE and
the chip's side of it in this process, which limits the throughput phase's wall
clock (not the server CPU figures).  Sessions are held right after ACCEPT, where a
v2 server waits for the phone to read; the probes time the server's turnaround in
the Chip Authentication relay (handover or APDU response -> next server message).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import REFERENCE_PROFILE, SCENARIOS, Scenario, print_report, start_server  # noqa: E402
from bench.machine import describe  # noqa: E402
from bench.v2 import V2_SCENARIOS, V2Scenario, start_phone_v2, v2_url, verified  # noqa: E402
from docval.sim.phone import PhoneFactory, PhoneProtocol  # noqa: E402

GATE_STATUS = "READ_DG2"
LAG_TICK = 0.01


def _lag_summary(lags: list[float]) -> dict[str, Any]:
    ordered = sorted(lags)
    if not ordered:
        return {"ticks": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"ticks": len(ordered), "p50_ms": 1000 * ordered[len(ordered) // 2],
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
            "max_ms": 1000 * ordered[-1]}


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# -- the server process ------------------------------------------------------------------


def serve() -> int:
    """Child mode: run the service, print its URL, answer ``stats`` lines, stop at EOF."""
    _raise_fd_limit()
    from twisted.internet import reactor, stdio
    from twisted.protocols.basic import LineReceiver

    from docval.config import Timeouts

    # Held sessions wait as long as the benchmark needs; nothing else changes.
    timeouts = Timeouts(start_message=600, apdu_response=600, max_session=1800, open_handshake=120)
    service, url, stats = start_server(reactor, seeded=True, max_connections=100000, timeouts=timeouts)

    # Event-loop lag: how late a 10 ms timer fires is how long something blocked the loop.
    lags: list[float] = []
    expected = [time.monotonic() + LAG_TICK]

    def tick() -> None:
        now = time.monotonic()
        lags.append(max(0.0, now - expected[0]))
        expected[0] = now + LAG_TICK
        reactor.callLater(LAG_TICK, tick)

    reactor.callLater(LAG_TICK, tick)

    class Control(LineReceiver):
        delimiter = b"\n"

        def connectionMade(self) -> None:
            self.sendLine(f"URL {url}".encode())

        def lineReceived(self, line: bytes) -> None:
            if line.strip() == b"gc":
                gc.collect()
            self.sendLine(json.dumps({
                "cpu": time.process_time(),
                "rss_kb": _rss_kb(),
                "open_sessions": len(service.factory.sessions),
                "sessions_started": len(stats.sessions),
                "loop_lag": _lag_summary(lags),
            }).encode())
            lags.clear()

        def connectionLost(self, reason: Any = None) -> None:
            if reactor.running:
                reactor.stop()

    stdio.StandardIO(Control())
    reactor.run()
    return 0


class ServerProcess:
    """The child server; ``stats()`` blocks briefly, so call it only at quiet moments."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, env=env)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("URL "):
            self.close()
            raise RuntimeError(f"server did not start: {line!r}")
        self.url = line[4:]

    def stats(self, collect: bool = False) -> dict[str, Any]:
        self.proc.stdin.write("gc\n" if collect else "stats\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- cheap phones ------------------------------------------------------------------------


class RecordingChip:
    def __init__(self, chip: Any):
        self.chip = chip
        self.transcript: dict[bytes, bytes] = {}

    def transmit(self, apdu: bytes) -> bytes:
        resp = self.chip.transmit(apdu)
        self.transcript[bytes(apdu)] = bytes(resp)
        return resp


class ReplayChip:
    """Answers the seeded server's commands from one recorded session."""

    def __init__(self, transcript: dict[bytes, bytes]):
        self.transcript = transcript

    def transmit(self, apdu: bytes) -> bytes:
        return self.transcript.get(bytes(apdu), b"\x6f\x00")


class Gate:
    """Phones hold their commands from GATE_STATUS on while the gate is closed."""

    def __init__(self, target: int):
        from twisted.internet import defer

        self.closed = True
        self.target = target
        self.held: list[Any] = []
        self.all_held: Any = defer.Deferred()

    def hold(self, phone: Any) -> None:
        self.held.append(phone)
        if len(self.held) >= self.target and not self.all_held.called:
            self.all_held.callback(len(self.held))

    def release(self) -> None:
        self.closed = False
        held, self.held = self.held, []
        for phone in held:
            phone.release()


class BenchPhoneProtocol(PhoneProtocol):
    """The virtual phone, timing the server's turnaround and obeying a gate."""

    def onOpen(self) -> None:
        self._outstanding = 0
        self._last_send: float | None = None
        self._stash: list[bytes] = []
        self._holding = False
        super().onOpen()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if isBinary:
            now = time.monotonic()
            if self._outstanding == 0 and self._last_send is not None and self.factory.samples is not None:
                self.factory.samples.append(now - self._last_send)
            self._outstanding += 1
        super().onMessage(payload, isBinary)

    def _arrived(self, apdu: bytes) -> None:
        gate = self.factory.gate
        if gate is not None and gate.closed and GATE_STATUS in self.record.statuses:
            self._stash.append(apdu)
            if not self._holding:
                self._holding = True
                gate.hold(self)
            return
        super()._arrived(apdu)

    def release(self) -> None:
        self._last_send = None    # the hold is not the server's latency
        stash, self._stash = self._stash, []
        for apdu in stash:
            super()._arrived(apdu)

    def _send_response(self, response: bytes) -> None:
        super()._send_response(response)
        self._outstanding -= 1
        if self._outstanding == 0:
            self._last_send = time.monotonic()


class BenchPhoneFactory(PhoneFactory):
    protocol = BenchPhoneProtocol

    def __init__(self, *args: Any, samples: list[float] | None = None, gate: Gate | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.samples = samples
        self.gate = gate


def start_phone(reactor: Any, url: str, chip: Any, options: Any, *, samples: list[float] | None = None,
                gate: Gate | None = None) -> Any:
    from urllib.parse import urlsplit

    factory = BenchPhoneFactory(url, chip, options, reactor=reactor, samples=samples, gate=gate)
    # A server busy with a thousand sessions answers handshakes late; that is measured, not failed.
    factory.setProtocolOptions(openHandshakeTimeout=300)
    parts = urlsplit(url)
    reactor.connectTCP(parts.hostname, parts.port, factory, timeout=60)
    return factory.done


def _succeeded(record: Any) -> bool:
    result = record.result or {}
    return bool(record.succeeded and result.get("passive_authentication") is True
                and result.get("chip_authentication_result") == "SUCCESS")


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _latency(samples: list[float]) -> dict[str, Any]:
    return {"apdus": len(samples),
            "p50_ms": None if not samples else 1000 * _pct(samples, 0.50),
            "p99_ms": None if not samples else 1000 * _pct(samples, 0.99),
            "max_ms": None if not samples else 1000 * max(samples)}


# -- the phases --------------------------------------------------------------------------


async def measure(reactor: Any, args: argparse.Namespace) -> dict[str, Any]:
    from twisted.internet import defer, task

    from docval.sim.profiles import get_profile

    profile = get_profile(REFERENCE_PROFILE)
    scenario: Scenario = args.scenario
    fast = scenario.options(profile, rtt=0.0, chip_time=0.0)
    paced = scenario.options(profile, rtt=args.rtt / 1000, chip_time=args.chip_ms / 1000)
    server = ServerProcess()
    report: dict[str, Any] = {"machine": describe(), "profile": REFERENCE_PROFILE, "scenario": scenario.name,
                              "args": {k: v for k, v in vars(args).items() if k not in ("scenario", "json")}}
    try:
        # A recorded transcript, then proof that replaying it verifies.
        recorder = RecordingChip(profile.chip())
        record = await start_phone(reactor, server.url, recorder, replace(fast))
        if not _succeeded(record):
            raise RuntimeError(f"recording session failed: {record!r}")
        transcript = recorder.transcript
        report["apdus_per_session"] = len(transcript)
        for _ in range(3):   # warm-up: imports, caches, allocator
            record = await start_phone(reactor, server.url, ReplayChip(transcript), replace(fast))
            if not _succeeded(record):
                raise RuntimeError(f"replayed session failed: {record!r}")

        async def settle() -> None:
            await task.deferLater(reactor, 0.05, lambda: None)

        # (1) CPU per completed session, one at a time.
        cpu_ms = []
        for _ in range(args.cpu_sessions):
            before = server.stats()["cpu"]
            record = await start_phone(reactor, server.url, ReplayChip(transcript), replace(fast))
            await settle()
            cpu_ms.append(1000 * (server.stats()["cpu"] - before))
            if not _succeeded(record):
                raise RuntimeError("session failed while measuring CPU")
        report["cpu_ms_per_session"] = {"median": statistics.median(cpu_ms), "min": min(cpu_ms),
                                        "max": max(cpu_ms), "n": len(cpu_ms)}

        # (2) Throughput: back-to-back sessions from several phones at once.
        done = {"ok": 0, "failed": 0}
        deadline = time.monotonic() + args.throughput_seconds

        async def loop() -> None:
            while time.monotonic() < deadline:
                rec = await start_phone(reactor, server.url, ReplayChip(transcript), replace(fast))
                done["ok" if _succeeded(rec) else "failed"] += 1

        s0, t0 = server.stats(), time.monotonic()
        await defer.gatherResults([defer.ensureDeferred(loop()) for _ in range(args.concurrency)])
        await settle()
        s1, t1 = server.stats(), time.monotonic()
        cpu = s1["cpu"] - s0["cpu"]
        report["throughput"] = {
            "concurrency": args.concurrency, "sessions": done["ok"], "failed": done["failed"],
            "wall_seconds": t1 - t0, "server_cpu_seconds": cpu,
            "sessions_per_second_wall": done["ok"] / (t1 - t0),
            "sessions_per_cpu_second": done["ok"] / cpu if cpu else None,
            "server_cpu_ms_per_session": 1000 * cpu / done["ok"] if done["ok"] else None,
        }

        # (4a) Probe latency with nothing held, for comparison.
        async def probes() -> tuple[list[float], int]:
            # Staggered like phones arriving at random: probes started in the same instant
            # would reach PACE's key agreement in the same instant and queue behind each other.
            samples: list[float] = []

            async def probe(i: int) -> Any:
                await task.deferLater(reactor, i * args.stagger, lambda: None)
                return await start_phone(reactor, server.url, ReplayChip(transcript), replace(paced),
                                         samples=samples)

            records = await defer.gatherResults([defer.ensureDeferred(probe(i)) for i in range(args.probes)])
            return samples, sum(1 for r in records if _succeeded(r))

        server.stats()
        idle_samples, idle_ok = await probes()
        report["latency_idle"] = {**_latency(idle_samples), "sessions": idle_ok, "rtt_ms": args.rtt,
                                  "chip_ms": args.chip_ms, "server_loop_lag": server.stats()["loop_lag"]}

        # (3) N sessions held mid-read: memory.
        base = server.stats(collect=True)
        gate = Gate(args.sessions)
        held_done: list[Any] = []
        t_hold = time.monotonic()
        for i in range(args.sessions):
            held_done.append(start_phone(reactor, server.url, ReplayChip(transcript), replace(fast), gate=gate))
            if i % 50 == 49:   # the listen backlog is finite: connect in waves
                await task.deferLater(reactor, 0.02, lambda: None)
        timeout = reactor.callLater(args.hold_timeout, lambda: gate.all_held.called or gate.all_held.callback(None))
        await gate.all_held
        if timeout.active():
            timeout.cancel()
        held = len(gate.held)
        held_at = server.stats(collect=True)
        report["held"] = {
            "sessions": held, "seconds_to_hold": time.monotonic() - t_hold,
            "server_open_sessions": held_at["open_sessions"],
            "rss_kb_before": base["rss_kb"], "rss_kb_held": held_at["rss_kb"],
            "kb_per_session": (held_at["rss_kb"] - base["rss_kb"]) / held if held else None,
        }

        # (4b) Probe latency while N sessions are held.
        server.stats()
        held_samples, held_ok = await probes()
        report["latency_while_held"] = {**_latency(held_samples), "sessions": held_ok, "held": held,
                                        "server_loop_lag": server.stats()["loop_lag"]}

        # (5) Release: all N finish at once, at full speed.
        release_samples: list[float] = []
        for phone in gate.held:
            phone.factory.samples = release_samples
        s0, t0 = server.stats(), time.monotonic()
        gate.release()
        records = await defer.gatherResults(held_done)
        await settle()
        s1, t1 = server.stats(), time.monotonic()
        ok = sum(1 for r in records if _succeeded(r))
        failures: dict[str, int] = {}
        for r in records:
            if not _succeeded(r):
                why = f"{r.close_code} {r.close_reason or ''} {(r.close_message or {}).get('close_reason', '')}".strip()
                failures[why] = failures.get(why, 0) + 1
        report["release"] = {
            "failures": failures,
            "sessions": len(records), "succeeded": ok, "wall_seconds": t1 - t0,
            "server_cpu_seconds": s1["cpu"] - s0["cpu"],
            "server_cpu_ms_per_session_rest": 1000 * (s1["cpu"] - s0["cpu"]) / max(1, ok),
            "latency_all_active": _latency(release_samples),
            "server_loop_lag": s1["loop_lag"],
        }
    finally:
        server.close()
    return report


async def measure_v2(reactor: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The phases of :func:`measure` for v2 phones (module docstring)."""
    from twisted.internet import defer, task

    from docval.sim.profiles import get_profile

    profile = get_profile(REFERENCE_PROFILE)
    scenario: V2Scenario = args.scenario
    fast = scenario.options(profile, rtt=0.0, chip_time=0.0)
    paced = scenario.options(profile, rtt=args.rtt / 1000, chip_time=args.chip_ms / 1000)
    server = ServerProcess()
    url = v2_url(server.url)
    report: dict[str, Any] = {"machine": describe(), "profile": REFERENCE_PROFILE, "scenario": scenario.name,
                              "gate": "ACCEPT",
                              "args": {k: v for k, v in vars(args).items() if k not in ("scenario", "json")}}

    def phone(options: Any, **kw: Any) -> Any:
        return start_phone_v2(reactor, url, profile.chip(), replace(options), **kw)

    async def settle() -> None:
        await task.deferLater(reactor, 0.05, lambda: None)

    try:
        for _ in range(3):   # warm-up: imports, caches, allocator
            record = await phone(fast)
            if not verified(record):
                raise RuntimeError(f"v2 session failed: {record!r}")
        report["apdus_per_session"] = record.apdus
        report["round_trips_per_session"] = record.round_trips

        # (1) CPU per completed session, one at a time.
        cpu_ms = []
        for _ in range(args.cpu_sessions):
            before = server.stats()["cpu"]
            record = await phone(fast)
            await settle()
            cpu_ms.append(1000 * (server.stats()["cpu"] - before))
            if not verified(record):
                raise RuntimeError("session failed while measuring CPU")
        report["cpu_ms_per_session"] = {"median": statistics.median(cpu_ms), "min": min(cpu_ms),
                                        "max": max(cpu_ms), "n": len(cpu_ms)}

        # (2) Throughput: back-to-back sessions from several phones at once.
        done = {"ok": 0, "failed": 0}
        deadline = time.monotonic() + args.throughput_seconds

        async def loop() -> None:
            while time.monotonic() < deadline:
                rec = await phone(fast)
                done["ok" if verified(rec) else "failed"] += 1

        s0, t0 = server.stats(), time.monotonic()
        await defer.gatherResults([defer.ensureDeferred(loop()) for _ in range(args.concurrency)])
        await settle()
        s1, t1 = server.stats(), time.monotonic()
        cpu = s1["cpu"] - s0["cpu"]
        report["throughput"] = {
            "concurrency": args.concurrency, "sessions": done["ok"], "failed": done["failed"],
            "wall_seconds": t1 - t0, "server_cpu_seconds": cpu,
            "sessions_per_second_wall": done["ok"] / (t1 - t0),
            "sessions_per_cpu_second": done["ok"] / cpu if cpu else None,
            "server_cpu_ms_per_session": 1000 * cpu / done["ok"] if done["ok"] else None,
        }

        async def probes() -> tuple[list[float], int]:
            samples: list[float] = []

            async def probe(i: int) -> Any:
                await task.deferLater(reactor, i * args.stagger, lambda: None)
                return await phone(paced, samples=samples)

            records = await defer.gatherResults([defer.ensureDeferred(probe(i)) for i in range(args.probes)])
            return samples, sum(1 for r in records if verified(r))

        # (4a) Probe latency with nothing held.
        server.stats()
        idle_samples, idle_ok = await probes()
        report["latency_idle"] = {**_latency(idle_samples), "sessions": idle_ok, "rtt_ms": args.rtt,
                                  "chip_ms": args.chip_ms, "server_loop_lag": server.stats()["loop_lag"]}

        # (3) N sessions held after ACCEPT: memory.
        base = server.stats(collect=True)
        gate = Gate(args.sessions)
        held_done: list[Any] = []
        t_hold = time.monotonic()
        for i in range(args.sessions):
            held_done.append(phone(fast, gate=gate))
            if i % 50 == 49:   # the listen backlog is finite: connect in waves
                await task.deferLater(reactor, 0.02, lambda: None)
        timeout = reactor.callLater(args.hold_timeout, lambda: gate.all_held.called or gate.all_held.callback(None))
        await gate.all_held
        if timeout.active():
            timeout.cancel()
        held = len(gate.held)
        held_at = server.stats(collect=True)
        report["held"] = {
            "sessions": held, "seconds_to_hold": time.monotonic() - t_hold,
            "server_open_sessions": held_at["open_sessions"],
            "rss_kb_before": base["rss_kb"], "rss_kb_held": held_at["rss_kb"],
            "kb_per_session": (held_at["rss_kb"] - base["rss_kb"]) / held if held else None,
        }

        # (4b) Probe latency while N sessions are held.
        server.stats()
        held_samples, held_ok = await probes()
        report["latency_while_held"] = {**_latency(held_samples), "sessions": held_ok, "held": held,
                                        "server_loop_lag": server.stats()["loop_lag"]}

        # (5) Release: all N read their chips and finish at once.
        release_samples: list[float] = []
        for held_phone in gate.held:
            held_phone.factory.samples = release_samples
        s0, t0 = server.stats(), time.monotonic()
        gate.release()
        records = await defer.gatherResults(held_done)
        await settle()
        s1, t1 = server.stats(), time.monotonic()
        ok = sum(1 for r in records if verified(r))
        failures: dict[str, int] = {}
        for r in records:
            if not verified(r):
                why = f"{r.close_code} {r.close_reason or ''} {r.phone_close or ''}".strip()
                failures[why] = failures.get(why, 0) + 1
        report["release"] = {
            "failures": failures,
            "sessions": len(records), "succeeded": ok, "wall_seconds": t1 - t0,
            "server_cpu_seconds": s1["cpu"] - s0["cpu"],
            "server_cpu_ms_per_session_rest": 1000 * (s1["cpu"] - s0["cpu"]) / max(1, ok),
            "latency_all_active": _latency(release_samples),
            "server_loop_lag": s1["loop_lag"],
        }
    finally:
        server.close()
    return report


def format_report(r: dict[str, Any]) -> str:
    def f(v: Any, spec: str = ".1f") -> str:
        return "-" if v is None else format(v, spec)

    cpu, tp, held = r["cpu_ms_per_session"], r["throughput"], r["held"]
    li, lh, rel = r["latency_idle"], r["latency_while_held"], r["release"]
    m = r["machine"]
    rows = [
        ("server CPU per completed session (median of %d)" % cpu["n"], f"{f(cpu['median'])} ms"),
        ("server CPU per session, %d phones back to back" % tp["concurrency"],
         f"{f(tp['server_cpu_ms_per_session'])} ms"),
        ("sessions per second per core (sessions / server CPU s)", f(tp["sessions_per_cpu_second"])),
        ("sessions per second, wall clock (phones on the same machine)", f(tp["sessions_per_second_wall"])),
        ("sessions held mid-read (at %s)" % r.get("gate", GATE_STATUS), f"{held['sessions']}"),
        ("memory per in-flight session (RSS delta / N)", f"{f(held['kb_per_session'])} KB"),
        ("server turnaround per APDU, nothing held: p50 / p99",
         f"{f(li['p50_ms'], '.2f')} / {f(li['p99_ms'], '.2f')} ms ({li['apdus']} APDUs)"),
        ("server turnaround per APDU, %d held: p50 / p99" % lh["held"],
         f"{f(lh['p50_ms'], '.2f')} / {f(lh['p99_ms'], '.2f')} ms ({lh['apdus']} APDUs)"),
        ("all %d released at once: p50 / p99 / max" % rel["sessions"],
         f"{f(rel['latency_all_active']['p50_ms'], '.1f')} / {f(rel['latency_all_active']['p99_ms'], '.1f')}"
         f" / {f(rel['latency_all_active']['max_ms'], '.1f')} ms"),
        ("server event-loop lag during the probes, nothing held / held: p99 / max",
         f"{f(li['server_loop_lag']['p99_ms'], '.1f')} / {f(li['server_loop_lag']['max_ms'], '.1f')} ms, "
         f"{f(lh['server_loop_lag']['p99_ms'], '.1f')} / {f(lh['server_loop_lag']['max_ms'], '.1f')} ms"),
        ("released sessions verified / wall time",
         f"{rel['succeeded']}/{rel['sessions']} in {f(rel['wall_seconds'])} s"),
    ]
    width = max(len(a) for a, _ in rows)
    lines = [f"{a:<{width}}  {b}" for a, b in rows]
    lines.append("")
    lines.append(f"scenario {r['scenario']} ({r['apdus_per_session']} APDUs/session); probes at "
                 f"{li['rtt_ms']:g} ms RTT + {li['chip_ms']:g} ms chip; {m['nproc']} x {m['cpu']}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--sessions", type=int, default=1000, help="sessions held at once (default 1000)")
    p.add_argument("--cpu-sessions", type=int, default=20, help="sequential sessions for CPU/session")
    p.add_argument("--throughput-seconds", type=float, default=10.0)
    p.add_argument("--concurrency", type=int, default=8, help="phones in the throughput phase")
    p.add_argument("--probes", type=int, default=30, help="latency probe phones")
    p.add_argument("--rtt", type=float, default=50.0, help="probe phones' RTT in ms")
    p.add_argument("--chip-ms", type=float, default=10.0, help="probe phones' chip time per APDU in ms")
    p.add_argument("--stagger", type=float, default=0.1, help="seconds between probe phones' starts")
    p.add_argument("--hold-timeout", type=float, default=300.0, help="seconds to wait for all sessions to be held")
    p.add_argument("--scenario", default="android",
                   help="phone scenario (default android: most APDUs; v2-android / v2-ios: API v2)")
    p.add_argument("--json", default=None, metavar="FILE")
    args = p.parse_args(argv)
    names = {s.name: s for s in SCENARIOS + V2_SCENARIOS if not s.classic}
    if not args.serve:
        if args.scenario not in names:
            p.error(f"--scenario is one of {', '.join(names)}")
        args.scenario = names[args.scenario]
        if min(args.sessions, args.cpu_sessions, args.concurrency, args.probes) < 1:
            p.error("counts must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        return serve()
    _raise_fd_limit()
    run = measure_v2 if isinstance(args.scenario, V2Scenario) else measure
    return print_report(run, format_report, args)


if __name__ == "__main__":
    sys.exit(main())
